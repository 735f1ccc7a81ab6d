import pytest

from kcnn.studies import depth

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_depth")]


def test_quick_run_compares_plain_and_residual_nets_of_equal_size(tmp_path):
    result = depth.run(quick=True, output_dir=tmp_path)
    final = result["numbers"]["final"]
    assert final["plain8"]["params"] == final["resnet8"]["params"]  # option-A shortcuts have no weights
    assert all(0.0 <= r["train_error"] <= 1.0 for r in final.values())
    assert (tmp_path / "depth.png").exists()


@pytest.mark.parametrize(
    "errors, verdict",
    [
        ((0.10, 0.10, 0.20, 0.09), "holds"),
        ((0.10, 0.10, 0.20, 0.20), "partly"),
        ((0.10, 0.10, 0.10, 0.20), "does not hold"),
    ],
)
def test_the_rule(errors, verdict):
    names = ("plain20", "resnet20", "plain56", "resnet56")
    final = {n: {"train_error": e, "test_error": e} for n, e in zip(names, errors)}
    assert depth.judge(final, (20, 56))[0] == verdict
