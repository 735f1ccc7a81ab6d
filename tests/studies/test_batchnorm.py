import pytest

from kcnn.studies import batchnorm

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_batchnorm")]


def test_quick_run_bn_removes_the_initialization_scale_from_the_deep_activations(tmp_path):
    result = batchnorm.run(quick=True, output_dir=tmp_path)
    std = {k: v["last_activation_std_at_init"] for k, v in result["numbers"]["test"].items()}
    # Without BN, randn*0.01 shrinks the signal about 16x per layer against He's rule; BN undoes it.
    assert std["no_bn/normal_0.01/lr0.1"] < 1e-3 * std["no_bn/he/lr0.1"]
    assert 0.5 < std["bn/normal_0.01/lr0.1"] / std["bn/he/lr0.1"] < 2.0
    assert all(0.0 <= v["accuracy"] <= 1.0 for v in result["numbers"]["test"].values())
    assert (tmp_path / "batchnorm.json").exists()


def _grid(no_bn, bn):
    acc = {}
    for i, init in enumerate(("a", "b")):
        for j, lr in enumerate((0.01, 0.1, 1.0)):
            acc[batchnorm._key(False, init, lr)] = no_bn[i][j]
            acc[batchnorm._key(True, init, lr)] = bn[i][j]
    return acc


@pytest.mark.parametrize(
    "no_bn, bn, verdict",
    [
        ([[0.8, 0.8, 0.1], [0.1, 0.8, 0.1]], [[0.85, 0.85, 0.8], [0.85, 0.85, 0.8]], "holds"),
        ([[0.8, 0.8, 0.8], [0.8, 0.8, 0.8]], [[0.9, 0.5, 0.8], [0.5, 0.9, 0.8]], "does not hold"),
        ([[0.8, 0.8, 0.8], [0.8, 0.8, 0.8]], [[0.8, 0.8, 0.5], [0.8, 0.8, 0.5]], "partly"),
    ],
)
def test_the_rule(no_bn, bn, verdict):
    assert batchnorm.judge(_grid(no_bn, bn), ("a", "b"), (0.01, 0.1, 1.0))[0] == verdict
