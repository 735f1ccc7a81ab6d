import pytest

from kcnn.studies import reductions

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_reductions")]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("reductions")
    return reductions.run(quick=True, output_dir=out), out


def test_profiler_figures_of_the_example_and_of_the_notes_network(quick):
    result, out = quick
    example = result["numbers"]["example"]
    assert example["direct_macs"] == 5 * 5 * 32 * 192 * 28 * 28 == 120_422_400
    assert example["reduced_macs"] == 28 * 28 * 192 * 16 + 5 * 5 * 28 * 28 * 16 * 32 == 12_443_648
    arms = result["numbers"]["notes_inception_cnn"]
    assert arms["with 1x1"]["params"] == 97_298 and arms["without 1x1"]["params"] == 94_642
    # the network's 1x1 layers widen 10 (then 20) channels to 16: 1x1 MACs on 12x12 and 4x4 maps, and the
    # 5x5 / first 3x3 read 16 channels instead of C_in
    extra = sum(hw * (2 * c * 16 + 25 * (16 - c) * 24 + 9 * (16 - c) * 24) for hw, c in ((144, 10), (16, 20)))
    assert arms["with 1x1"]["macs"] - arms["without 1x1"]["macs"] == extra
    assert result["verdict"] == "not judged (quick run)"
    assert (out / "reductions.png").exists() and (out / "reductions.json").exists()


def _arms(macs_with=1, accuracy_with=0.9):
    return {
        "with 1x1": {"macs": macs_with, "params": 1, "test_accuracy": [accuracy_with], "train_seconds": [1.0]},
        "without 1x1": {"macs": 2, "params": 1, "test_accuracy": [0.9], "train_seconds": [1.0]},
    }


@pytest.mark.parametrize(
    "example, arms, verdict",
    [
        ({"direct_macs": 120_422_400, "reduced_macs": 12_443_648}, _arms(), "holds"),
        ({"direct_macs": 120_422_400, "reduced_macs": 12_443_648}, _arms(macs_with=3), "partly"),
        ({"direct_macs": 120_422_400, "reduced_macs": 12_443_648}, _arms(accuracy_with=0.8), "partly"),
        ({"direct_macs": 120_422_400, "reduced_macs": 12_433_648}, _arms(), "does not hold"),
    ],
)
def test_the_rule(example, arms, verdict):
    assert reductions.judge(example, arms)[0] == verdict
