"""Backbone endpoints of every family: named feature maps by stride, atrous ResNets and VGG."""

import math

import keras
import numpy as np
import pytest

import kcnn
from kcnn.models import backbone, endpoints
from tests.models.test_zoo import HEAVY

SIDE = 72  # not a power of 2: 72 / 32 = 2.25, so ceil and floor differ at P5
# Unpadded 11x11 / 7x7 convolutions: their maps are smaller than H / 2**k (e.g. 55 at 227 / 4);
# they are checked at their default input size by the nearest power of 2.
VALID_CONV_FAMILIES = ("alexnet", "zfnet")


def _cases():
    cases = []
    for name in kcnn.list_models():
        info = kcnn.model_info(name)
        if info.family == "lenet" or "heavy" in info.tags:
            continue
        marks = [pytest.mark.slow] if (info.params or 0) > HEAVY else []
        cases.append(pytest.param(name, marks=marks))
    return cases


@pytest.mark.parametrize("name", _cases())
def test_every_family_exposes_its_endpoints_at_their_strides(name):
    info = kcnn.model_info(name)
    side = info.input_shape[0] if info.family in VALID_CONV_FAMILIES else max(SIDE, info.min_input[0])
    model = kcnn.create_model(name, include_top=False, input_shape=(side, side, info.input_shape[2]))
    named = endpoints(model)
    levels = [int(level[1:]) for level in named]
    assert levels == list(range(levels[0], levels[-1] + 1)), f"{name}: levels {list(named)} not contiguous"
    assert levels[-1] <= 5 and named[f"P{levels[-1]}"] == model.layers[-1].name, f"{name}: deepest endpoint"
    for level, layer_name in named.items():
        k = int(level[1:])
        height, width = model.get_layer(layer_name).output.shape[1:3]
        assert height == width, f"{name}: {layer_name} is {height}x{width}"
        if info.family in VALID_CONV_FAMILIES:
            assert round(math.log2(side / height)) == k, f"{name}: {level} {layer_name} is {height} at {side}"
        else:
            assert height in (side // 2**k, -(-side // 2**k)), f"{name}: {level} {layer_name} is {height} at {side}"


def test_endpoint_names_are_keras_layer_names():
    assert endpoints("resnet50") == {
        "P1": "conv1_relu",
        "P2": "conv2_block3_out",
        "P3": "conv3_block4_out",
        "P4": "conv4_block6_out",
        "P5": "conv5_block3_out",
    }
    assert endpoints("resnet50v2") == {
        "P1": "conv1_conv",
        "P2": "conv2_block2_out",  # keras' ResNetV2 strides in the last block of a stage
        "P3": "conv3_block3_out",
        "P4": "conv4_block5_out",
        "P5": "post_relu",
    }
    assert endpoints("vgg16")["P3"] == "block4_conv3" and endpoints("vgg16")["P5"] == "block5_pool"
    assert list(endpoints("densenet121").values()) == ["conv1_relu", "pool2_relu", "pool3_relu", "pool4_relu", "relu"]
    assert endpoints("resnet18", stem="cifar") == {
        "P0": "conv2_block2_out",
        "P1": "conv3_block2_out",
        "P2": "conv4_block2_out",
        "P3": "conv5_block2_out",
    }


def test_lenet_has_none_and_a_backbone_has_no_top():
    with pytest.raises(ValueError, match="lenet5 has no backbone endpoints"):
        endpoints("lenet5")
    with pytest.raises(ValueError, match="'pooling' does not apply"):
        backbone("resnet18", pooling="avg")


def test_backbone_is_a_model_with_a_dict_of_feature_maps():
    features = backbone("resnet18", input_shape=(64, 64, 3))
    maps = features.predict(np.zeros((2, 64, 64, 3), "float32"), verbose=0)
    assert {k: v.shape for k, v in maps.items()} == {
        "P1": (2, 32, 32, 64),
        "P2": (2, 16, 16, 64),
        "P3": (2, 8, 8, 128),
        "P4": (2, 4, 4, 256),
        "P5": (2, 2, 2, 512),
    }
    assert endpoints(features) == endpoints("resnet18")


@pytest.mark.parametrize(
    "name,kwargs,deepest",
    [
        ("resnet50", {}, "conv5_block3_out"),
        ("resnet18", {}, "conv5_block2_out"),
        ("resnet50v2", {}, "post_relu"),
        ("vgg16", {}, "block5_pool"),
    ],
)
@pytest.mark.parametrize("output_stride", [16, 8])
def test_output_stride_turns_the_last_strides_into_dilation(name, kwargs, deepest, output_stride):
    plain = backbone(name, input_shape=(64, 64, 3), **kwargs)
    atrous = backbone(name, input_shape=(64, 64, 3), output_stride=output_stride, **kwargs)
    level = f"P{int(math.log2(output_stride))}"
    assert list(atrous.output) == [k for k in plain.output if int(k[1:]) <= int(level[1:])]
    assert endpoints(atrous)[level] == deepest
    assert tuple(atrous.output[level].shape[1:3]) == (64 // output_stride,) * 2
    assert atrous.count_params() == plain.count_params()


def test_dilation_follows_torchvision_and_runs():
    # torchvision's layout (stride on the 3x3): the block that would stride keeps the previous dilation.
    tv = backbone("resnet50", input_shape=(64, 64, 3), output_stride=8, stride_on="3x3", use_bias=False)
    rates = {b: tv.get_layer(f"{b}_2_conv").dilation_rate for b in ("conv4_block1", "conv4_block2", "conv5_block1")}
    assert rates == {"conv4_block1": (1, 1), "conv4_block2": (2, 2), "conv5_block1": (2, 2)}
    assert tv.get_layer("conv5_block3_2_conv").dilation_rate == (4, 4)
    # keras' layout (stride on the 1x1): the 3x3 ran after the stride point, so it takes the new rate.
    keras_layout = backbone("resnet50", input_shape=(64, 64, 3), output_stride=16)
    assert keras_layout.get_layer("conv5_block1_2_conv").dilation_rate == (2, 2)
    assert keras_layout.get_layer("conv5_block1_1_conv").strides == (1, 1)
    vgg = backbone("vgg16", input_shape=(64, 64, 3), output_stride=8)
    assert vgg.get_layer("block5_conv1").dilation_rate == (2, 2) and vgg.get_layer("block4_pool").strides == (1, 1)
    maps = vgg.predict(np.ones((1, 64, 64, 3), "float32"), verbose=0)
    assert maps["P3"].shape == (1, 8, 8, 512) and np.all(np.isfinite(maps["P3"]))


def test_output_stride_errors_name_the_argument():
    with pytest.raises(ValueError, match="output_stride must be one of"):
        backbone("resnet18", output_stride=4)
    with pytest.raises(TypeError, match="mobilenetv2: unknown keyword argument 'output_stride'"):
        backbone("mobilenetv2", output_stride=16)
    with pytest.raises(ValueError, match="output_stride=16 needs include_top=False"):
        kcnn.create_model("vgg16", output_stride=16)
    assert isinstance(kcnn.create_model("resnet18", output_stride=16, input_shape=(64, 64, 3)), keras.Model)
