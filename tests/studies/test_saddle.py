import math

import pytest

from kcnn.studies import saddle

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_saddle")]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("saddle")
    return saddle.run(quick=True, output_dir=out), out


def test_all_zero_weights_are_a_critical_saddle_that_gradient_descent_leaves_only_when_perturbed(quick):
    result, out = quick
    origin, escape = result["numbers"]["origin"], result["numbers"]["escape"]
    assert origin["gradient_norm"] == 0.0 and origin["loss"] == pytest.approx(math.log(10), abs=1e-5)
    assert origin["verdict"] == "saddle point"
    # only the blocks coupling the two layers are non-zero: the spectrum is symmetric about 0
    assert origin["min_eigenvalue"] == pytest.approx(-origin["max_eigenvalue"], rel=0.05)
    assert escape["exact origin"]["loss"][-1] == pytest.approx(math.log(10), abs=1e-5)
    assert escape["origin + 1e-3 noise"]["loss"][-1] < math.log(10) - 0.1
    assert result["verdict"] == "not judged (quick run)"
    assert (out / "saddle.png").exists() and (out / "saddle.json").exists()


def _numbers(origin_verdict="saddle point", end_verdict="local minimum", escaped=1.0):
    return {
        "origin": {"gradient_norm": 0.0, "verdict": origin_verdict, "min_eigenvalue": -1.0, "max_eigenvalue": 1.0},
        "end_of_training": {
            "verdict": end_verdict,
            "loss": 0.1,
            "gradient_norm": 1e-3,
            "min_eigenvalue": 0.01,
            "min_eigenvalue_residual": 1e-3,
            "max_eigenvalue": 5.0,
            "tolerance": 5e-3,
        },
        "escape": {
            "exact origin": {"loss": [math.log(10)]},
            "origin + 1e-3 noise": {"loss": [escaped]},
            "trained + 1e-3 noise": {"loss": [0.1]},
        },
    }


@pytest.mark.parametrize(
    "numbers, verdict",
    [
        (_numbers(), "holds"),
        (_numbers(end_verdict="saddle point"), "partly"),
        (_numbers(escaped=2.3), "does not hold"),
        (_numbers(origin_verdict="inconclusive"), "does not hold"),
    ],
)
def test_the_rule(numbers, verdict):
    assert saddle.judge(numbers)[0] == verdict
