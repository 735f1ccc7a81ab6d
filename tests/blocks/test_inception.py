"""inception_module: Table 1's columns, names and parameter arithmetic."""

import keras
import numpy as np
import pytest

from kcnn.blocks import inception_module


def _module(channels=192, **kwargs):
    inputs = keras.Input((28, 28, channels))
    return keras.Model(inputs, inception_module(inputs, 64, 96, 128, 16, 32, 32, name="inception3a", **kwargs))


def test_inception3a_shape_names_and_parameters():
    model = _module()
    assert model.output.shape == (None, 28, 28, 64 + 128 + 32 + 32)
    names = {layer.name for layer in model.layers}
    for branch in ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj"):
        assert f"inception3a_{branch}_conv" in names and f"inception3a_{branch}_act" in names
    assert {"inception3a_pool", "inception3a_concat"} <= names
    weights = 192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 25 * 16 * 32 + 192 * 32
    biases = 64 + 96 + 128 + 16 + 32 + 32
    assert model.count_params() == weights + biases == 163_696
    assert model.get_layer("inception3a_5x5_conv").kernel_size == (5, 5)
    assert model.get_layer("inception3a_pool").strides == (1, 1)


def test_branch_order_in_the_concatenation():
    model = _module()
    x = np.random.default_rng(0).normal(size=(1, 28, 28, 192)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x))
    b1 = keras.ops.convert_to_numpy(keras.Model(model.input, model.get_layer("inception3a_1x1_act").output)(x))
    pp = keras.ops.convert_to_numpy(keras.Model(model.input, model.get_layer("inception3a_pool_proj_act").output)(x))
    np.testing.assert_allclose(y[..., :64], b1, rtol=1e-6)
    np.testing.assert_allclose(y[..., -32:], pp, rtol=1e-6)


def test_torchvision_flavour_has_bn_no_conv_bias_and_3x3_in_the_5x5_branch():
    model = _module(batch_norm=True, kernel5=3)
    conv = model.get_layer("inception3a_5x5_conv")
    assert conv.kernel_size == (3, 3) and not conv.use_bias
    assert model.get_layer("inception3a_5x5_bn").epsilon == pytest.approx(1e-3)
