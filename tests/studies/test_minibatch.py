import pytest

from kcnn.studies import minibatch

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_minibatch")]


def test_quick_run_counts_epochs_by_batch_size_and_stops_on_time(tmp_path):
    # How far each regime gets in its seconds depends on the machine; the bookkeeping does not.
    result = minibatch.run(quick=True, output_dir=tmp_path)
    h, n = result["numbers"]["histories"], minibatch.QUICK["train"]
    for regime, batch in result["settings"]["batch_sizes"].items():
        assert h[regime]["epoch"] == [s * batch / n for s in h[regime]["step"]]
        assert h[regime]["seconds"][-1] >= minibatch.QUICK["seconds"] or h[regime]["step"][-1] == 10**9
    assert (tmp_path / "minibatch.json").exists()


def _case(losses, accs):
    final = {r: {"train_loss": losses[r], "epochs": 1.0, "seconds": 10.0, "test_accuracy": accs[r]} for r in losses}
    histories = {r: {"seconds": [0.0, 10.0], "train_loss": [2.3, losses[r]]} for r in losses}
    return final, histories


@pytest.mark.parametrize(
    "losses, accs, verdict",
    [
        ({"batch": 1.0, "sgd": 1.5, "minibatch": 0.5}, {"batch": 0.70, "sgd": 0.80, "minibatch": 0.80}, "holds"),
        ({"batch": 1.0, "sgd": 0.8, "minibatch": 0.5}, {"batch": 0.70, "sgd": 0.80, "minibatch": 0.80}, "partly"),
        ({"batch": 1.0, "sgd": 0.8, "minibatch": 0.5}, {"batch": 0.80, "sgd": 0.70, "minibatch": 0.60}, "partly"),
        (
            {"batch": 0.5, "sgd": 0.4, "minibatch": 1.0},
            {"batch": 0.80, "sgd": 0.70, "minibatch": 0.60},
            "does not hold",
        ),
    ],
)
def test_the_rule(losses, accs, verdict):
    assert minibatch.judge(*_case(losses, accs))[0] == verdict
