"""Residual blocks: shapes, keras.applications layer names, shortcuts, attention."""

import keras
import numpy as np
import pytest

from kcnn.blocks import residual_basic, residual_bottleneck, residual_preact_bottleneck
from kcnn.layers import ZeroPadShortcut


def block_model(block, input_shape=(8, 8, 16), **kwargs):
    inputs = keras.Input(input_shape, name="x")
    return keras.Model(inputs, block(inputs, name="conv2_block1", **kwargs))


def producers(model, layer_name):
    """Names of the layers whose outputs feed ``layer_name``."""
    inputs = model.get_layer(layer_name).input
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    return {t._keras_history.operation.name for t in inputs}


def n_params(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_basic_block_shapes_and_names():
    model = block_model(residual_basic, filters=32, strides=2)
    assert model.output.shape == (None, 4, 4, 32)
    names = {layer.name for layer in model.layers}
    assert {
        "conv2_block1_1_pad",
        "conv2_block1_1_conv",
        "conv2_block1_1_bn",
        "conv2_block1_1_relu",
        "conv2_block1_2_conv",
        "conv2_block1_2_bn",
        "conv2_block1_0_conv",
        "conv2_block1_0_bn",
        "conv2_block1_add",
        "conv2_block1_out",
    } <= names
    assert "conv2_block1_2_relu" not in names  # no ReLU before the addition
    assert model.get_layer("conv2_block1_1_conv").strides == (2, 2)
    assert model.get_layer("conv2_block1_1_conv").use_bias is False


def test_basic_block_identity_shortcut_has_no_projection():
    model = block_model(residual_basic, filters=16)
    assert not any(layer.name.startswith("conv2_block1_0") for layer in model.layers)
    assert producers(model, "conv2_block1_add") == {"x", "conv2_block1_2_bn"}
    # 2 x (3x3x16x16 conv + BN gamma/beta)
    assert n_params(model) == 2 * (9 * 16 * 16 + 2 * 16)


@pytest.mark.parametrize("stride_on,strided", [("1x1", "conv2_block1_1_conv"), ("3x3", "conv2_block1_2_conv")])
def test_bottleneck_expands_by_four_and_strides_where_asked(stride_on, strided):
    model = block_model(residual_bottleneck, filters=8, strides=2, stride_on=stride_on)
    assert model.output.shape == (None, 4, 4, 32)
    convs = [f"conv2_block1_{i}_conv" for i in (1, 2, 3)]
    assert [model.get_layer(n).strides for n in convs] == [(2, 2) if n == strided else (1, 1) for n in convs]
    assert model.get_layer("conv2_block1_3_conv").filters == 32


def test_bottleneck_use_bias_adds_one_bias_per_conv_filter():
    plain = n_params(block_model(residual_bottleneck, filters=8))
    biased = block_model(residual_bottleneck, filters=8, use_bias=True)
    assert all(layer.use_bias for layer in biased.layers if isinstance(layer, keras.layers.Conv2D))
    assert n_params(biased) - plain == 8 + 8 + 32 + 32  # 1_conv, 2_conv, 3_conv, 0_conv (projection)


@pytest.mark.parametrize(
    "block,kwargs,channels",
    [
        (residual_basic, {}, 32),
        (residual_bottleneck, {}, 128),
        (residual_preact_bottleneck, {}, 128),
    ],
)
def test_se_adds_exactly_its_two_1x1_convs_before_the_addition(block, kwargs, channels):
    plain = block_model(block, input_shape=(8, 8, channels), filters=32, **kwargs)
    se = block_model(block, input_shape=(8, 8, channels), filters=32, attention="se", **kwargs)
    reduced = channels // 16
    assert n_params(se) - n_params(plain) == channels * reduced + reduced + reduced * channels + channels
    add = "conv2_block1_out" if block is residual_preact_bottleneck else "conv2_block1_add"
    assert "conv2_block1_se_excite" in producers(se, add)
    assert se.get_layer("conv2_block1_se_reduce").filters == reduced


def test_option_a_shortcut_is_parameter_free_and_pads_zeros():
    a = block_model(residual_basic, filters=32, strides=2, shortcut="A")
    b = block_model(residual_basic, filters=32, strides=2, shortcut="B")
    shortcut = a.get_layer("conv2_block1_0_shortcut")
    assert isinstance(shortcut, ZeroPadShortcut) and not shortcut.weights
    assert n_params(b) - n_params(a) == 16 * 32 + 2 * 32  # B's projection conv and its BN
    # With the residual branch silenced, the block outputs relu(shortcut): the input's
    # every other pixel in channels 8..23 and zeros in the 16 padded channels.
    for layer in a.layers:
        if layer.weights:
            layer.set_weights([np.zeros(w.shape, "float32") for w in layer.weights])
    bn = a.get_layer("conv2_block1_2_bn")
    bn.set_weights([np.ones(bn.gamma.shape), np.zeros(bn.beta.shape), np.zeros(bn.beta.shape), np.ones(bn.beta.shape)])
    x = np.abs(np.random.default_rng(0).normal(size=(2, 8, 8, 16))).astype("float32")
    y = keras.ops.convert_to_numpy(a(x))
    np.testing.assert_allclose(y[..., 8:24], x[:, ::2, ::2, :], rtol=1e-6)
    assert not y[..., :8].any() and not y[..., 24:].any()


def test_option_c_projects_even_when_shapes_match():
    model = block_model(residual_basic, filters=16, shortcut="C")
    assert model.get_layer("conv2_block1_0_conv").kernel.shape == (1, 1, 16, 16)


def test_preact_bottleneck_matches_keras_resnet_v2_layout():
    model = block_model(residual_preact_bottleneck, input_shape=(8, 8, 16), filters=8)
    names = {layer.name for layer in model.layers}
    assert {
        "conv2_block1_preact_bn",
        "conv2_block1_preact_relu",
        "conv2_block1_0_conv",
        "conv2_block1_1_conv",
        "conv2_block1_2_conv",
        "conv2_block1_3_conv",
        "conv2_block1_out",
    } <= names
    assert "conv2_block1_0_bn" not in names and "conv2_block1_3_bn" not in names
    assert [model.get_layer(f"conv2_block1_{i}_conv").use_bias for i in range(4)] == [True, False, False, True]
    assert producers(model, "conv2_block1_0_conv") == {"conv2_block1_preact_relu"}  # projection of the pre-activation


def test_preact_strided_block_with_same_channels_subsamples_without_parameters():
    # keras' ResNetV2 downsamples in a stage's last block through a strided identity.
    model = block_model(residual_preact_bottleneck, input_shape=(8, 8, 32), filters=8, strides=2)
    assert model.output.shape == (None, 4, 4, 32)
    assert model.get_layer("conv2_block1_2_conv").strides == (2, 2)
    assert not model.get_layer("conv2_block1_0_shortcut").weights


def test_bad_shortcut_and_stride_on_are_refused():
    with pytest.raises(ValueError, match="shortcut must be one of"):
        block_model(residual_basic, filters=16, shortcut="D")
    with pytest.raises(ValueError, match="stride_on must be one of"):
        block_model(residual_bottleneck, filters=16, stride_on="5x5")
    with pytest.raises(ValueError, match="attention must be None, .se. or a callable"):
        block_model(residual_basic, filters=16, attention="cbam")


@pytest.mark.parametrize("block", [residual_basic, residual_bottleneck, residual_preact_bottleneck])
def test_a_callable_attention_is_applied_like_in_mobile_blocks(block):
    seen = []

    def gate(x, *, name):
        seen.append(name)
        return keras.layers.Activation("sigmoid", name=name)(x)

    model = block_model(block, input_shape=(8, 8, 32), filters=8, attention=gate)
    assert seen == ["conv2_block1_attention"]
    add = "conv2_block1_out" if block is residual_preact_bottleneck else "conv2_block1_add"
    assert "conv2_block1_attention" in producers(model, add)
