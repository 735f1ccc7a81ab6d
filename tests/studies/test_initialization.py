import pytest

from kcnn.studies import initialization

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_initialization")]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("initialization")
    return initialization.run(quick=True, output_dir=out), out


def test_std_001_vanishes_and_xavier_loses_scale_under_relu_faster_than_he(quick):
    result, out = quick
    cells = result["numbers"]
    for activation in ("tanh", "relu"):
        stds = cells[f"{activation}/normal_0.01"]["layer_std_at_init"]
        assert len(stds) == 10 and stds[-1] < 1e-3 * stds[0]
    assert cells["relu/xavier"]["scale_kept"] < cells["relu/he"]["scale_kept"]
    assert result["verdict"] == "not judged (quick run)"
    assert (out / "initialization.png").exists() and (out / "initialization.json").exists()


def _cells(**overrides):
    cells = {
        f"{a}/{i}": {"scale_kept": 1.0, "test_accuracy": 0.8}
        for a in ("tanh", "relu")
        for i in ("normal_0.01", "xavier", "he")
    }
    for a in ("tanh", "relu"):
        cells[f"{a}/normal_0.01"] = {"scale_kept": 1e-9, "test_accuracy": 0.1}
    cells["relu/xavier"]["scale_kept"] = 0.05
    for key, value in overrides.items():
        cells[key.replace("__", "/")] = value
    return cells


@pytest.mark.parametrize(
    "overrides, verdict",
    [
        ({}, "holds"),
        ({"relu__xavier": {"scale_kept": 2.0, "test_accuracy": 0.8}}, "partly"),  # Xavier keeps ReLU's scale
        ({"relu__he": {"scale_kept": 1.0, "test_accuracy": 0.2}}, "partly"),  # He-ReLU does not train
        (
            {
                "relu__he": {"scale_kept": 1.0, "test_accuracy": 0.2},
                "tanh__normal_0.01": {"scale_kept": 1e-9, "test_accuracy": 0.6},
            },
            "does not hold",
        ),
    ],
)
def test_the_rule(overrides, verdict):
    assert initialization.judge(_cells(**overrides))[0] == verdict
