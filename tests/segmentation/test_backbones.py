"""The decoders' backbones: kcnn.models' endpoints on the segmentation model's input,
other layers where a published layout taps them, and one-line errors."""

import keras
import pytest

import kcnn
from kcnn.models import endpoints
from kcnn.segmentation.backbones import backbone_endpoints
from kcnn.segmentation.deeplab import DEEPLAB_MOBILENETV2_TAPS
from kcnn.segmentation.unet import UNET_MOBILENETV2_TAPS

SIZE = 64


@pytest.mark.parametrize("backbone", ["resnet18", "mobilenetv2", "vgg11_bn"])
def test_the_decoders_tap_kcnn_models_endpoints(backbone):
    inputs = keras.Input((SIZE, SIZE, 3))
    taps = backbone_endpoints(backbone, inputs, levels=("P5",))
    model = keras.Model(inputs, list(taps.values()))
    names = endpoints(backbone)
    assert list(taps) == list(names)
    for (level, tensor), layer_name in zip(taps.items(), names.values()):
        assert tensor is model.get_layer(layer_name).output, (level, layer_name)
        assert tensor.shape[1:3] in ((SIZE >> int(level[1:]),) * 2, (-(-SIZE >> int(level[1:])),) * 2)


def test_published_taps_replace_endpoints_at_the_same_stride():
    inputs = keras.Input((SIZE, SIZE, 3))
    taps = backbone_endpoints("mobilenetv2", inputs, levels=("P2",), taps={**UNET_MOBILENETV2_TAPS})
    model = keras.Model(inputs, list(taps.values()))
    named = endpoints("mobilenetv2")
    for level, layer_name in UNET_MOBILENETV2_TAPS.items():
        assert taps[level] is model.get_layer(layer_name).output
        assert taps[level].shape[1:3] == model.get_layer(named[level]).output.shape[1:3], level
    widths = [taps[level].shape[-1] for level in ("P1", "P2", "P3", "P4")]
    assert widths == [96, 144, 192, 576]  # the endpoints' 16, 24, 32, 96 channels expanded
    low = backbone_endpoints("mobilenetv2", keras.Input((SIZE, SIZE, 3)), levels=("P2",), taps=DEEPLAB_MOBILENETV2_TAPS)
    assert tuple(low["P2"].shape[1:]) == (SIZE // 4, SIZE // 4, 144)


def test_output_stride_keeps_the_levels_and_shares_the_segmentation_models_input():
    inputs = keras.Input((SIZE, SIZE, 3))
    taps = backbone_endpoints("mobilenetv2", inputs, levels=("P2", "P5"), output_stride=8)
    model = keras.Model(inputs, [taps["P2"], taps["P4"], taps["P5"]])
    assert [t.shape[1:3] for t in model.outputs] == [(16, 16), (8, 8), (8, 8)]
    # block_6 and block_13 lose their strides; each keeps the dilation before it, the layers after get 2, then 4
    rates = [model.get_layer(f"block_{b}_depthwise").get_config()["dilation_rate"][0] for b in (6, 7, 13, 14)]
    assert rates == [1, 2, 2, 4]


def test_backbones_without_endpoints_and_missing_levels_are_one_line_errors():
    with pytest.raises(ValueError, match="lenet5 has no backbone endpoints"):
        backbone_endpoints("lenet5", keras.Input((32, 32, 1)), levels=("P5",))
    with pytest.raises(ValueError, match="unknown model 'resnet51'"):
        backbone_endpoints("resnet51", keras.Input((64, 64, 3)), levels=("P5",))
    with pytest.raises(ValueError, match=r"backbone='resnet20' has no endpoint P5 \(it has P0, P1, P2\)"):
        backbone_endpoints("resnet20", keras.Input((32, 32, 3)), levels=("P5",))
    with pytest.raises(ValueError, match=r"`output_stride` must be one of \(8, 16, 32\)"):
        backbone_endpoints("resnet18", keras.Input((64, 64, 3)), levels=("P5",), output_stride=4)
    with pytest.raises(ValueError, match=r"backbone='resnet20' has no endpoint P5, P4, P3"):
        kcnn.segmentation.fcn("8s", backbone="resnet20", input_shape=(32, 32, 3), name="fcn8s_resnet20")
