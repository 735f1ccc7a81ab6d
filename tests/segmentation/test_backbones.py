"""Backbone endpoints by name and the dilation rewrite (output stride 8 / 16)."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.segmentation.backbones import backbone_endpoints, dilate, endpoint_names

SIZE = 64


@pytest.mark.parametrize(
    "backbone", ["vgg16_bn", "resnet18", "resnet50v2", "mobilenet", "mobilenetv2", "efficientnetb0", "densenet121"]
)
def test_each_endpoint_is_the_named_layer_at_its_stride(backbone):
    model = kcnn.create_model(backbone, include_top=False, input_shape=(SIZE, SIZE, 3))
    for level, layer_name in endpoint_names(backbone).items():
        stride = 2 ** int(level[1:])
        assert model.get_layer(layer_name).output.shape[1:3] == (SIZE // stride, SIZE // stride), (level, layer_name)


def test_backbones_without_endpoints_and_missing_levels_are_one_line_errors():
    with pytest.raises(ValueError, match=r"backbone='googlenet' has no feature endpoints P1..P5"):
        endpoint_names("googlenet")
    with pytest.raises(ValueError, match="unknown model 'resnet51'"):
        endpoint_names("resnet51")
    with pytest.raises(ValueError, match=r"backbone='resnet18' has no endpoint P0 \(it has P1, P2, P3, P4, P5\)"):
        backbone_endpoints("resnet18", keras.Input((64, 64, 3)), levels=("P0", "P5"))
    with pytest.raises(ValueError, match=r"`output_stride` must be one of \(8, 16, 32\)"):
        backbone_endpoints("resnet18", keras.Input((64, 64, 3)), levels=("P5",), output_stride=4)


def _config(model, name):
    return model.get_layer(name).get_config()


def test_output_stride_8_is_torchvisions_replace_stride_with_dilation():
    """torchvision's ResNet (stride on the 3x3): the block that loses its stride keeps the old
    dilation, the blocks after it use the new one (layer3: 1, 2, 2, ...; layer4: 2, 4, 4)."""
    keras.utils.set_random_seed(0)
    model = kcnn.create_model("resnet50", include_top=False, input_shape=(SIZE, SIZE, 3), stride_on="3x3")
    dilated = dilate(model, 8)
    expect = {
        "conv3_block1_2_conv": (2, 1),
        "conv4_block1_2_conv": (1, 1),
        "conv4_block2_2_conv": (1, 2),
        "conv4_block6_2_conv": (1, 2),
        "conv5_block1_2_conv": (1, 2),
        "conv5_block3_2_conv": (1, 4),
        "conv4_block1_0_conv": (1, 1),
        "conv5_block1_0_conv": (1, 1),
    }
    for name, (strides, rate) in expect.items():
        config = _config(dilated, name)
        assert (config["strides"][0], config["dilation_rate"][0]) == (strides, rate), name
    assert _config(dilated, "conv4_block1_2_conv")["padding"] == "same"
    assert _config(dilated, "conv4_block1_2_pad")["padding"] == ((0, 0), (0, 0))
    assert dilated.get_layer("conv5_block3_out").output.shape[1:3] == (8, 8)
    assert dilated.count_params() == model.count_params()
    for layer in model.layers:  # weights copied, not redrawn
        for w, v in zip(layer.get_weights(), dilated.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(w, v)


def test_stride_on_the_1x1_dilates_the_whole_stage_as_deeplab_v2():
    model = kcnn.create_model("resnet50", include_top=False, input_shape=(SIZE, SIZE, 3))
    dilated = dilate(model, 16)
    assert _config(dilated, "conv4_block1_1_conv")["strides"] == (2, 2)
    assert _config(dilated, "conv5_block1_1_conv")["strides"] == (1, 1)
    assert _config(dilated, "conv5_block1_2_conv")["dilation_rate"] == (2, 2)
    assert dilated.get_layer("conv5_block3_out").output.shape[1:3] == (4, 4)


def test_dilating_mobilenetv2_replaces_its_explicit_padding():
    model = kcnn.create_model("mobilenetv2", include_top=False, input_shape=(SIZE, SIZE, 3))
    dilated = dilate(model, 16)
    assert _config(dilated, "block_13_depthwise")["strides"] == (1, 1)
    assert _config(dilated, "block_13_depthwise")["padding"] == "same"
    assert _config(dilated, "block_13_pad")["padding"] == ((0, 0), (0, 0))
    assert _config(dilated, "block_14_depthwise")["dilation_rate"] == (2, 2)
    assert _config(dilated, "block_6_depthwise")["strides"] == (2, 2)
    assert dilated.get_layer("out_relu").output.shape[1:3] == (4, 4)
    x = np.random.default_rng(0).uniform(-1, 1, (1, SIZE, SIZE, 3)).astype("float32")
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(dilated(x))))


def test_endpoints_share_the_segmentation_models_input():
    inputs = keras.Input((SIZE, SIZE, 3))
    taps = backbone_endpoints("mobilenetv2", inputs, levels=("P2", "P5"), output_stride=8)
    model = keras.Model(inputs, [taps["P2"], taps["P5"]])
    assert [t.shape[1:3] for t in model.outputs] == [(16, 16), (8, 8)]
    # block_6 and block_13 lose their strides; each keeps the dilation before it, the layers after get 2, then 4
    rates = [model.get_layer(f"block_{b}_depthwise").get_config()["dilation_rate"][0] for b in (6, 7, 13, 14)]
    assert rates == [1, 2, 2, 4]
