import keras
import numpy as np
import pytest

from kcnn.models.notes import notes_residual_cnn
from kcnn.studies import finetune

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_finetune")]


def test_start_from_loads_the_backbone_and_keeps_a_fresh_head(tmp_path):
    keras.utils.set_random_seed(0)
    source = notes_residual_cnn(classes=5)
    path = str(tmp_path / "source.weights.h5")
    source.save_weights(path)
    keras.utils.set_random_seed(1)
    target = notes_residual_cnn(classes=5)
    head = target.get_layer("predictions").get_weights()
    finetune.start_from(path, target)
    for name in ("conv1", "block1_1_conv", "block2_2_conv", "conv2"):
        for a, b in zip(target.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(target.get_layer("predictions").get_weights(), head):
        np.testing.assert_array_equal(a, b)


def test_quick_run(tmp_path):
    result = finetune.run(quick=True, output_dir=tmp_path)
    accs = result["numbers"]["test_accuracy"]
    assert len(accs["finetune"]) == len(accs["scratch"]) == 1
    assert all(0.0 <= a <= 1.0 for v in accs.values() for a in v)
    assert (tmp_path / "finetune.json").exists()


@pytest.mark.parametrize(
    "finetuned, scratch, verdict",
    [([0.90, 0.91, 0.92], [0.80, 0.82, 0.81], "holds"), ([0.81, 0.85, 0.80], [0.80, 0.84, 0.81], "does not hold")],
)
def test_the_rule(finetuned, scratch, verdict):
    assert finetune.judge({"finetune": finetuned, "scratch": scratch})[0] == verdict
