"""Backbone endpoints of every family: named feature maps by stride, atrous ResNets and VGG."""

import math

import keras
import numpy as np
import pytest

import kcnn
from kcnn.layers import AtrousConv2D
from kcnn.models import backbone, endpoints
from kcnn.models.backbone import OUTPUT_STRIDE_FAMILIES, dilate
from tests import harness
from tests.models.test_zoo import HEAVY

SIDE = 72  # not a power of 2: 72 / 32 = 2.25, so ceil and floor differ at P5
# Unpadded 11x11 / 7x7 convolutions: their maps are smaller than H / 2**k (e.g. 55 at 227 / 4);
# they are checked at their default input size by the nearest power of 2.
VALID_CONV_FAMILIES = ("alexnet", "zfnet")


def _cases():
    cases = []
    for name in kcnn.list_models():
        info = kcnn.model_info(name)
        if info.family in ("lenet", "notes") or "heavy" in info.tags or "segmentation" in info.tags:
            continue  # no endpoints: whole small classifiers, and decoders (tests/segmentation)
        cases.append(pytest.param(name, marks=harness.tier_marks(name, HEAVY)))
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
        ("mobilenetv2", {}, "out_relu"),  # no builder option: the clone rewrite
    ],
)
@pytest.mark.parametrize("output_stride", [16, 8])
def test_output_stride_turns_the_last_strides_into_dilation(name, kwargs, deepest, output_stride):
    plain = backbone(name, input_shape=(64, 64, 3), **kwargs)
    atrous = backbone(name, input_shape=(64, 64, 3), output_stride=output_stride, **kwargs)
    # The same endpoints name the same stages; the maps stop shrinking at the output stride.
    assert endpoints(atrous) == endpoints(plain) and endpoints(atrous)["P5"] == deepest
    for level, tensor in atrous.output.items():
        side = 64 // min(2 ** int(level[1:]), output_stride)
        assert tuple(tensor.shape[1:3]) == (side, side), (level, tensor.shape)
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
    assert maps["P5"].shape == (1, 8, 8, 512) and np.all(np.isfinite(maps["P5"]))


def test_dilated_builders_use_the_fast_atrous_convolution():
    """Dilated 3x3 convolutions are AtrousConv2D (TensorFlow's CPU gradient of a dilated Conv2D
    is many times slower, kcnn.layers.atrous); undilated ones stay plain Conv2D."""
    resnet = backbone("resnet50", input_shape=(64, 64, 3), output_stride=16)
    assert type(resnet.get_layer("conv5_block3_2_conv")) is AtrousConv2D
    assert type(resnet.get_layer("conv4_block6_2_conv")) is keras.layers.Conv2D
    vgg = backbone("vgg16", input_shape=(64, 64, 3), output_stride=8)  # at 16 only pool5 loses its stride
    assert type(vgg.get_layer("block5_conv3")) is AtrousConv2D
    assert type(vgg.get_layer("block4_conv3")) is keras.layers.Conv2D
    assert not any(isinstance(layer, AtrousConv2D) for layer in backbone("resnet50", input_shape=(64, 64, 3)).layers)


def test_builder_dilation_and_the_clone_rewrite_compute_the_same_network():
    """The two ways an output stride is carried out agree: ResNet-18's builder at 8 and
    :func:`dilate` of the plain ResNet-18, given the same weights, give the same maps."""
    keras.utils.set_random_seed(0)
    plain = kcnn.create_model("resnet18", include_top=False, input_shape=(64, 64, 3))
    built = kcnn.create_model("resnet18", include_top=False, input_shape=(64, 64, 3), output_stride=8)
    cloned = dilate(plain, 8)
    for layer in cloned.layers:
        if layer.weights:
            built.get_layer(layer.name).set_weights(layer.get_weights())
            assert built.get_layer(layer.name).get_config().get("dilation_rate") == layer.get_config().get(
                "dilation_rate"
            ), layer.name
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(built(x)), keras.ops.convert_to_numpy(cloned(x)), rtol=1e-4, atol=1e-4
    )
    assert endpoints(cloned) == endpoints(plain)


def test_a_weights_file_loads_into_a_dilated_builder_by_layer_name(tmp_path):
    keras.utils.set_random_seed(0)
    plain = kcnn.create_model("resnet18", include_top=False, input_shape=(64, 64, 3))
    path = tmp_path / "resnet18.weights.h5"
    plain.save_weights(path)
    atrous = kcnn.create_model("resnet18", include_top=False, input_shape=(64, 64, 3), output_stride=8, weights=path)
    assert type(atrous.get_layer("conv5_block2_2_conv")) is AtrousConv2D
    for layer in plain.layers:
        if layer.weights:
            for w, v in zip(layer.get_weights(), atrous.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(w, v)


def test_the_families_with_a_builder_output_stride_are_the_listed_ones():
    """:data:`OUTPUT_STRIDE_FAMILIES` is data: each family's builder takes output_stride exactly
    when listed (the unknown keyword is refused before any layer is built)."""
    cheapest = {}
    for name in kcnn.list_models():
        info = kcnn.model_info(name)
        if "segmentation" not in info.tags and info.family not in ("lenet", "notes"):
            cheapest.setdefault(info.family, min((n for n in kcnn.list_models(family=info.family)), key=_params))
    for family, name in sorted(cheapest.items()):
        shape = (64, 64, 3) if family != "vgg" or name != "vgg_mini" else (16, 16, 1)
        if family in OUTPUT_STRIDE_FAMILIES:
            kcnn.create_model(name, include_top=False, input_shape=shape, output_stride=8)
        else:
            with pytest.raises(TypeError, match=f"{name}: unknown keyword argument 'output_stride'"):
                kcnn.create_model(name, include_top=False, output_stride=8)


def _params(name):
    return kcnn.model_info(name).params or 0


def test_dilating_mobilenetv2_replaces_its_explicit_padding():
    model = kcnn.create_model("mobilenetv2", include_top=False, input_shape=(64, 64, 3))
    dilated = dilate(model, 16)
    config = {name: dilated.get_layer(name).get_config() for name in ("block_13_depthwise", "block_14_depthwise")}
    assert config["block_13_depthwise"]["strides"] == (1, 1) and config["block_13_depthwise"]["padding"] == "same"
    assert dilated.get_layer("block_13_pad").get_config()["padding"] == ((0, 0), (0, 0))
    assert config["block_14_depthwise"]["dilation_rate"] == (2, 2)
    assert dilated.get_layer("block_6_depthwise").get_config()["strides"] == (2, 2)
    assert dilated.get_layer("out_relu").output.shape[1:3] == (4, 4)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 3)).astype("float32")
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(dilated(x))))
    inputs = keras.Input((64, 64, 1))
    x = inputs
    for i in range(4):
        x = keras.layers.Conv2D(2, 3, strides=2, padding="same", name=f"down{i}")(x)
    shrinking = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="valid", name="valid3x3")(x), name="tiny")
    with pytest.raises(ValueError, match="cannot dilate layer 'valid3x3' of tiny: it pads 'valid'"):
        dilate(shrinking, 8)


def test_a_dilated_clone_builds_on_a_tensor_that_is_not_an_input():
    """kcnn-train builds every model on its Normalization layer's output: a backbone dilated by
    the clone rewrite (MobileNetV2 at output stride 16, DeepLab v3+'s) must hang from that tensor."""
    inputs = keras.Input((64, 64, 3))
    features = backbone("mobilenetv2", alpha=0.35, input_tensor=keras.layers.Rescaling(0.5)(inputs), output_stride=16)
    plain = backbone("mobilenetv2", alpha=0.35, input_shape=(64, 64, 3), output_stride=16)
    plain.set_weights(features.get_weights())
    x = np.random.default_rng(0).uniform(0, 2, (1, 64, 64, 3)).astype("float32")
    got, want = features(x)["P5"], plain(x * 0.5)["P5"]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-5)


def test_output_stride_errors_name_the_argument():
    with pytest.raises(ValueError, match="output_stride must be one of"):
        backbone("resnet18", output_stride=4)
    with pytest.raises(ValueError, match="output_stride must be one of"):
        backbone("mobilenetv2", output_stride=4)
    with pytest.raises(TypeError, match="mobilenetv2: unknown keyword argument 'output_stride'"):
        kcnn.create_model("mobilenetv2", output_stride=16)
    with pytest.raises(ValueError, match="output_stride=16 needs include_top=False"):
        kcnn.create_model("vgg16", output_stride=16)
    assert isinstance(kcnn.create_model("resnet18", output_stride=16, input_shape=(64, 64, 3)), keras.Model)
