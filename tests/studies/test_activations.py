import math

import pytest

from kcnn.studies import activations

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_activations")]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("activations")
    return activations.run(quick=True, output_dir=out), out


def test_sigmoid_saturates_beyond_ten():
    d = activations.derivatives()
    assert d["sigmoid"][0] == pytest.approx(0.25)
    assert max(d["sigmoid"][1:]) < 1e-4 and d["tanh"][1] < 1e-7
    assert d["relu"][1] == 1.0 and d["relu"][2] == 0.0


def test_quick_run_relu_learns_while_sigmoid_sits_at_chance(quick):
    result, out = quick
    final = {a: h[0]["train_loss"][-1] for a, h in result["numbers"]["histories"].items()}
    assert final["sigmoid"] == pytest.approx(math.log(10), abs=0.05)
    assert final["relu"] < final["sigmoid"] - 0.2
    assert result["verdict"] == "not judged (quick run)"
    assert (out / "activations.png").exists() and (out / "activations.json").exists()


@pytest.mark.parametrize(
    "steps, verdict",
    [
        ({"sigmoid": [None], "tanh": [600], "relu": [100]}, "holds"),  # never reached: counts as the budget
        ({"sigmoid": [900], "tanh": [200], "relu": [100]}, "partly"),
        ({"sigmoid": [900], "tanh": [100], "relu": [100]}, "does not hold"),
    ],
)
def test_the_rule(steps, verdict):
    assert activations.judge(steps, 3000, (0.25, 4.5e-5, 4.5e-5))[0] == verdict
