"""DeepLab: atrous trunks, the v1 fc6 variants, ASPP rates by output stride, v3+'s decoder."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.segmentation import deeplabv2, deeplabv3, deeplabv3plus


def _dilation(model, name):
    return model.get_layer(name).get_config()["dilation_rate"][0]


def test_v1_largefov_trunk():
    model = kcnn.create_model("deeplabv1", input_shape=(64, 64, 3))
    assert [model.get_layer(f"block{b}_pool").strides[0] for b in range(1, 6)] == [2, 2, 2, 1, 1]
    assert [_dilation(model, f"block5_conv{c}") for c in (1, 2, 3)] == [2, 2, 2]
    fc6 = model.get_layer("fc6")
    assert (fc6.kernel_size[0], _dilation(model, "fc6"), fc6.filters) == (3, 12, 1024)
    assert model.get_layer("fc8").output.shape[1:3] == (8, 8)  # output stride 8
    assert model.output_shape == (None, 64, 64, 21)


@pytest.mark.slow
@pytest.mark.parametrize("fc6, params", [("7x7", 134_346_581), ("4x4", 65_140_565)])
def test_v1_table2_variants(fc6, params):
    """DeepLab v1 Table 2: DeepLab-CRF-7x7 134.3M, DeepLab-CRF-4x4 65.1M parameters."""
    assert kcnn.create_model("deeplabv1", fc6=fc6).count_params() == params


@pytest.mark.parametrize("output_stride, rates", [(16, (6, 12, 18)), (8, (12, 24, 36))])
def test_v3_aspp_rates_double_at_output_stride_8(output_stride, rates):
    model = deeplabv3(backbone="mobilenetv2", output_stride=output_stride, input_shape=(32, 32, 3), classes=3)
    assert tuple(_dilation(model, f"aspp_b{i}_conv") for i in (1, 2, 3)) == rates
    assert model.get_layer("aspp_b0_conv").input.shape[1:3] == (32 // output_stride,) * 2
    assert model.get_layer("aspp_pool_broadcast").output.shape[1:3] == (32 // output_stride,) * 2
    assert model.output_shape == (None, 32, 32, 3)


def test_v2_sums_four_atrous_branches_scoring_the_classes():
    model = deeplabv2(backbone="mobilenetv2", input_shape=(32, 32, 3), classes=3)
    assert [_dilation(model, f"aspp_c{i}") for i in range(4)] == [6, 12, 18, 24]
    assert [model.get_layer(f"aspp_c{i}").filters for i in range(4)] == [3] * 4
    assert isinstance(model.get_layer("aspp_sum"), keras.layers.Add)
    vgg = deeplabv2(backbone="vgg16", input_shape=(32, 32, 3), classes=3)
    assert vgg.get_layer("aspp_c3_fc6").filters == 1024 and _dilation(vgg, "aspp_c3_fc6") == 24


def test_v3plus_joins_stride_4_features_reduced_to_48_channels():
    model = deeplabv3plus(backbone="mobilenetv2", input_shape=(64, 64, 3), classes=3)
    low = model.get_layer("decoder_low_level_conv")
    assert low.filters == 48 and low.input.shape[1:3] == (16, 16)
    assert model.get_layer("decoder_concat").output.shape[1:] == (16, 16, 256 + 48)


def test_efficientnet_backbone_at_output_stride_16():
    model = deeplabv3plus(backbone="efficientnetb0", input_shape=(32, 32, 3), classes=3)
    assert model.get_layer("top_activation").output.shape[1:3] == (2, 2)
    assert model.get_layer("block6a_dwconv").get_config()["strides"] == (1, 1)
    assert model.get_layer("block6b_dwconv").get_config()["dilation_rate"] == (2, 2)
    y = model(np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype("float32"), training=False)
    y = keras.ops.convert_to_numpy(y)
    assert y.shape == (1, 32, 32, 3) and np.all(np.isfinite(y))


@pytest.mark.slow
def test_torchvision_layout_dilates_conv4_and_conv5_and_adds_the_aux_head():
    model = kcnn.create_model("deeplabv3_resnet50", input_shape=(32, 32, 3), classes=3)
    assert [_dilation(model, n) for n in ("conv4_block1_2_conv", "conv4_block2_2_conv")] == [1, 2]
    assert [_dilation(model, n) for n in ("conv5_block1_2_conv", "conv5_block3_2_conv")] == [2, 4]
    assert [_dilation(model, f"aspp_b{i}_conv") for i in (1, 2, 3)] == [12, 24, 36]
    assert model.get_layer("aux_head_conv").input.shape[1:] == (4, 4, 1024)
    assert [o.shape for o in model.outputs] == [(None, 32, 32, 3)] * 2
