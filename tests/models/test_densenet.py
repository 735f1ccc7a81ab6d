"""DenseNet: ImageNet DenseNet-BC in keras' layout, the CIFAR DenseNets, transfer (endpoints: test_backbone)."""

import math

import keras
import pytest

from kcnn.models.densenet import (
    densenet40_cifar,
    densenet121,
    densenet201,
    densenet_bc100_cifar,
    densenet_cifar,
)
from tests.models.transfer import assert_transfer_reproduces


def weighted_depth(model):
    return len([l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))])


def test_densenet121_transfers_from_keras_applications():
    model = densenet121(include_top=False, input_shape=(64, 64, 3))
    assert model.output.shape == (None, 2, 2, 1024)
    assert_transfer_reproduces("DenseNet121", model, include_top=False)


@pytest.mark.slow
@pytest.mark.heavy  # a deeper variant of the DenseNet-121 transfer (harness.DEEPER_VARIANTS)
def test_densenet201_transfers_with_top():
    # 169 differs from 201 only in DENSENET_SPECS' block counts, checked by the exact parameter counts.
    assert_transfer_reproduces("DenseNet201", densenet201(input_shape=(32, 32, 3)), include_top=True, compare=False)


def test_imagenet_weights_errors():
    with pytest.raises(ValueError, match="`classes` should be 1000"):
        densenet121(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="not available"):
        densenet_bc100_cifar(weights="imagenet")
    with pytest.raises(ValueError, match="at least 32x32"):
        densenet121(include_top=False, input_shape=(31, 31, 3))
    with pytest.raises(ValueError, match="at least 4x4"):
        densenet_bc100_cifar(input_shape=(3, 32, 3))


def test_densenet_bc100_follows_the_paper():
    model = densenet_bc100_cifar(input_shape=(32, 32, 3))
    assert weighted_depth(model) == 100  # L: stem + 3 x 16 x 2 convs + 2 transitions + classifier
    assert model.get_layer("conv1_conv").filters == 24  # 2k
    assert len([l for l in model.layers if l.name.endswith("_concat")]) == 48
    assert model.get_layer("conv2_block1_1_conv").filters == 48  # bottleneck 4k
    # compression 0.5: (24 + 16*12) -> 108, (108 + 192) -> 150, and 150 + 192 = 342 at the end
    assert [model.get_layer(n).filters for n in ("pool2_conv", "pool3_conv")] == [108, 150]
    assert model.get_layer("relu").output.shape[1:] == (8, 8, 342)
    assert sum(math.prod(w.shape) for w in model.trainable_weights) == 769_162


def test_densenet40_is_plain_densenet():
    model = densenet40_cifar()
    assert weighted_depth(model) == 40
    assert "conv2_block1_1_conv" not in {layer.name for layer in model.layers}
    assert model.get_layer("pool2_conv").filters == 16 + 12 * 12  # no compression


def test_cifar_depth_must_fit():
    with pytest.raises(ValueError, match="4 \\+ 6n"):
        densenet_cifar(99)
