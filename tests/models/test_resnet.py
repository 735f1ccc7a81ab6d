"""ResNet v1 / v2 and SE-ResNet: layouts, conventions, ImageNet weight transfer (endpoints: test_backbone)."""

import math

import keras
import numpy as np
import pytest

from kcnn.models.resnet import (
    resnet,
    resnet18,
    resnet50,
    resnet50v2,
    resnet152,
    resnet152v2,
    seresnet50,
)
from tests.models.transfer import assert_transfer_reproduces


def trainable(model):
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def test_resnet50_transfers_from_keras_applications_with_top():
    model = resnet50(input_shape=(64, 64, 3))
    assert_transfer_reproduces("ResNet50", model, include_top=True)


def test_resnet50v2_transfers_from_keras_applications_without_top():
    model = resnet50v2(include_top=False, input_shape=(64, 64, 3))
    assert model.output.shape == (None, 2, 2, 2048)
    assert_transfer_reproduces("ResNet50V2", model, include_top=False)


@pytest.mark.slow
@pytest.mark.heavy  # deeper variants of the ResNet-50 transfers above (harness.DEEPER_VARIANTS)
@pytest.mark.parametrize("builder,application", [(resnet152, "ResNet152"), (resnet152v2, "ResNet152V2")])
def test_deeper_resnets_transfer_layer_for_layer(builder, application):
    # 101 differs from 152 only in RESNET_SPECS' block counts, checked by the exact parameter counts.
    assert_transfer_reproduces(
        application, builder(include_top=False, input_shape=(32, 32, 3)), include_top=False, compare=False
    )


def test_imagenet_weights_need_1000_classes_with_top():
    with pytest.raises(ValueError, match="`classes` should be 1000"):
        resnet50(weights="imagenet", classes=10)


def test_imagenet_weights_need_keras_layout():
    with pytest.raises(ValueError, match=r"stride_on='1x1'.*Received: stride_on='3x3'"):
        resnet50(weights="imagenet", stride_on="3x3")
    with pytest.raises(ValueError, match="not available"):
        resnet18(weights="imagenet")


@pytest.mark.parametrize(
    "builder,kwargs,minimum",
    [
        (resnet50, {}, 32),
        (resnet50v2, {}, 32),
        (resnet18, {"stem": "cifar"}, 8),
    ],
)
def test_too_small_input_names_the_minimum(builder, kwargs, minimum):
    with pytest.raises(ValueError, match=f"at least {minimum}x{minimum}"):
        builder(include_top=False, input_shape=(minimum - 1, minimum, 3), **kwargs)


def test_stride_on_3x3_is_torchvision_v1_5():
    v15 = resnet50(stride_on="3x3", use_bias=False)
    assert trainable(v15) == 25_557_032  # torchvision resnet50
    assert v15.get_layer("conv3_block1_2_conv").strides == (2, 2)
    assert v15.get_layer("conv3_block1_1_conv").strides == (1, 1)
    keras_layout = resnet50()
    assert keras_layout.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert keras_layout.get_layer("conv3_block1_1_conv").use_bias


def test_se_resnet50_is_resnet50_plus_se_modules():
    base, se = resnet50(use_bias=False), seresnet50()
    # one SE module (two biased 1x1 convs, reduction 16) per block, on C = 256, 512, 1024, 2048
    expected = sum(n * (2 * c * (c // 16) + c // 16 + c) for n, c in zip((3, 4, 6, 3), (256, 512, 1024, 2048)))
    assert trainable(se) - trainable(base) == expected == 2_530_992
    assert {layer.name for layer in base.layers} < {layer.name for layer in se.layers}
    assert se.get_layer("conv5_block3_se_reduce").filters == 128


def test_resnet18_cifar_stem_trains_on_28x28_and_32x32():
    for shape in [(28, 28, 1), (32, 32, 3)]:
        keras.backend.clear_session()
        model = resnet18(stem="cifar", input_shape=shape, classes=10)
        names = {layer.name for layer in model.layers}
        assert "pool1_pool" not in names and model.get_layer("conv1_conv").kernel.shape[:2] == (3, 3)
        assert model.get_layer("conv5_block2_out").output.shape[1:3] == (math.ceil(shape[0] / 8),) * 2
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(0).uniform(size=(2, *shape)).astype("float32")
        loss = model.train_on_batch(x, np.array([3, 7]))
        assert np.isfinite(loss)


def test_option_a_shortcuts_remove_the_projections():
    a, b = resnet18(shortcut="A"), resnet18()
    assert trainable(b) - trainable(a) == sum(c * 2 * c + 2 * 2 * c for c in (64, 128, 256))
    assert not a.get_layer("conv3_block1_0_shortcut").weights


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"depth": 18, "version": 2}, "bottlenecks"),
        ({"depth": 26}, "depth must be one of"),
        ({"depth": 50, "stem": "tiny"}, "stem must be one of"),
        ({"depth": 50, "downsample": "middle"}, "downsample must be one of"),
        ({"depth": 50, "version": 2, "use_bias": True}, "version=1 only"),
    ],
)
def test_bad_knobs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resnet(kwargs.pop("depth"), **kwargs)
