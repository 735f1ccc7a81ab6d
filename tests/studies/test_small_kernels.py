import pytest

from kcnn.studies import small_kernels

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_small_kernels")]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("small_kernels")
    return small_kernels.run(quick=True, output_dir=out), out


def test_stacks_match_the_field_with_the_notes_weights_per_channel_pair(quick):
    result, out = quick
    arms = result["numbers"]
    assert {n: a["weights_per_channel_pair"] for n, a in arms.items()} == {
        "5x5": 25,
        "3x3 x2": 18,
        "7x7": 49,
        "3x3 x3": 27,
    }
    c = small_kernels.QUICK["width"]
    # two C->C blocks; each convolution k*k*C*C weights plus C biases
    assert arms["3x3 x2"]["block_params"] == 2 * 2 * (9 * c * c + c)
    assert arms["7x7"]["block_params"] == 2 * (49 * c * c + c)
    for stack, single in small_kernels.PAIRS:
        assert arms[stack]["block1_receptive_field"] == arms[single]["block1_receptive_field"]
        assert arms[stack]["block_macs"] < arms[single]["block_macs"]
    assert arms["5x5"]["block1_receptive_field"] == [12, 12] and arms["7x7"]["block1_receptive_field"] == [16, 16]
    assert result["verdict"] == "not judged (quick run)"
    assert (out / "small_kernels.png").exists() and (out / "small_kernels.json").exists()


def _arms(stack_accuracy=0.9, stack_macs=1):
    arms = {}
    for name in small_kernels.ARMS:
        stack = " x" in name
        arms[name] = {
            "block1_receptive_field": [12, 12] if name in ("5x5", "3x3 x2") else [16, 16],
            "block_params": 10 if stack else 20,
            "block_macs": stack_macs if stack else 2,
            "weights_per_channel_pair": 18,
            "test_accuracy": [stack_accuracy] if stack else [0.9],
        }
    return arms


@pytest.mark.parametrize(
    "arms, verdict",
    [(_arms(), "holds"), (_arms(stack_accuracy=0.85), "partly"), (_arms(stack_macs=3), "does not hold")],
)
def test_the_rule(arms, verdict):
    assert small_kernels.judge(arms)[0] == verdict
