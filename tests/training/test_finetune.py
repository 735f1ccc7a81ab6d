"""Fine-tuning: head first with the backbone frozen, then the top blocks, BatchNorm frozen."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.training import ConfigError, ExperimentConfig, train
from kcnn.training import finetune as ft

pytestmark = pytest.mark.tf_only


@pytest.mark.parametrize(
    "layer, block",
    [
        ("conv4_block2_1_conv", "conv4_block2"),
        ("block3a_expand_conv", "block3a"),
        ("block_5_project", "block_5"),
        ("block1_conv2", "block1"),
        ("inception4c_1x1_conv", "inception4c"),
        ("fc6", "fc6"),
        ("c3", "c3"),
    ],
)
def test_block_names(layer, block):
    assert ft.block_of(layer) == block


def test_freeze_then_unfreeze_the_top_blocks_keeps_batchnorm_frozen():
    model = kcnn.create_model("vgg11_bn", input_shape=(32, 32, 3), classes=10)
    assert ft.blocks(model) == ["block1", "block2", "block3", "block4", "block5", "fc1", "fc2"]
    ft.freeze_backbone(model)
    assert [layer.name for layer in model.layers if layer.trainable and layer.weights] == ["predictions"]
    assert ft.unfreeze(model, "2") == ["fc1", "fc2"]
    assert {layer.name for layer in model.layers if layer.trainable and layer.weights} == {"fc1", "fc2", "predictions"}
    ft.unfreeze(model, "all")
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and not any(layer.trainable for layer in norms)
    assert model.get_layer("block1_conv1").trainable


def test_bad_unfreeze_value():
    with pytest.raises(ConfigError, match="'all' or a positive number"):
        ft.check_unfreeze("top")


def test_finetune_run_trains_the_head_then_only_the_top_block(tmp_path, fashion_mnist_dir):
    source = ExperimentConfig.from_dict(
        {
            "model": {"name": "lenet5_modern"},
            "data": {"dataset": "synthetic", "train_split": "train", "test_split": "test", "validation": "none"},
            "train": {"epochs": 1, "batch_size": 64},
            "model_dir": str(tmp_path / "source"),
        }
    )
    train(source, verbose=0)
    pretrained = keras.saving.load_model(tmp_path / "source" / "model.keras")
    weights_file = str(tmp_path / "pretrained.weights.h5")
    pretrained.save_weights(weights_file)

    config = ExperimentConfig.from_dict(
        {
            "model": {"name": "lenet5_modern"},
            "data": {
                "dataset": "fashion_mnist",
                "train_split": "train[:1024]",
                "test_split": "test[:256]",
                "validation": "none",
            },
            "train": {"epochs": 2, "batch_size": 64, "optimizer": "sgd", "learning_rate": 0.05},
            "finetune": {"weights": weights_file, "head_epochs": 1, "unfreeze": "1", "lr_factor": 0.1},
            "model_dir": str(tmp_path / "tuned"),
        }
    )
    captured = {}
    train(config, verbose=0, on_model=lambda m: captured.update({w.path: w.numpy() for w in m.weights}))
    before = {w.path: w.numpy() for w in pretrained.weights}
    for path in ("conv1/kernel", "conv2/kernel", "fc1/kernel"):  # frozen throughout
        key = next(k for k in captured if k.endswith(path))
        np.testing.assert_array_equal(captured[key], before[next(k for k in before if k.endswith(path))])
    changed = next(k for k in captured if k.endswith("fc2/kernel"))  # the top block, unfrozen in phase 2
    assert not np.array_equal(captured[changed], before[next(k for k in before if k.endswith("fc2/kernel"))])
    assert captured[next(k for k in captured if k.endswith("predictions/kernel"))].shape == (84, 10)


def test_finetune_needs_weights():
    config = ExperimentConfig()
    config.finetune.head_epochs = 1
    with pytest.raises(ConfigError, match="needs finetune.weights"):
        from kcnn.training import plan

        plan(config)
