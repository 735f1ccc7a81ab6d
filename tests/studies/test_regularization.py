import pytest

from kcnn.studies import regularization

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_regularization")]


def test_quick_run_measures_the_gap(tmp_path):
    result = regularization.run(quick=True, output_dir=tmp_path)
    final = result["numbers"]["final"]
    assert set(final) == {"none", "mirror"}
    for r in final.values():
        assert r["gap"] == pytest.approx(r["train_accuracy"] - r["test_accuracy"])
    assert (tmp_path / "regularization.json").exists()


def _final(gaps):
    return {arm: {"train_accuracy": 1.0, "test_accuracy": 1.0 - g, "gap": g} for arm, g in gaps.items()}


@pytest.mark.parametrize(
    "gaps, verdict",
    [
        ({"none": 0.2, "mirror": 0.15, "dropout": 0.1}, "holds"),
        ({"none": 0.2, "mirror": 0.195, "dropout": 0.1}, "partly"),
        ({"none": 0.2, "mirror": 0.21, "dropout": 0.2}, "does not hold"),
    ],
)
def test_the_rule(gaps, verdict):
    assert regularization.judge(_final(gaps))[0] == verdict
