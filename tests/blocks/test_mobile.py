"""kcnn.blocks.mobile: depthwise-separable conv, inverted residual, MBConv, stochastic depth."""

import keras
import numpy as np
import pytest
from keras import layers

from kcnn.blocks import (
    depthwise_separable_conv,
    inverted_residual,
    make_divisible,
    mbconv,
    stochastic_depth,
    stride2_padding,
)


def _block_model(block, shape=(8, 8, 16), **kwargs):
    inputs = keras.Input(shape)
    return keras.Model(inputs, block(inputs, **kwargs))


def _names(model):
    return [layer.name for layer in model.layers[1:]]


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_make_divisible_matches_the_reference_rounding():
    # MobileNetV2 alpha 0.35 stem, alpha 1.4 head, EfficientNet-B2/B7 widths (keras.applications' values).
    assert make_divisible(32 * 0.35) == 16  # 8 would drop more than 10%
    assert make_divisible(1280 * 1.4) == 1792
    assert make_divisible(32 * 1.1) == 32 and make_divisible(1280 * 1.1) == 1408
    assert make_divisible(320 * 2.0) == 640 and make_divisible(16 * 0.35) == 8
    for v in np.linspace(1, 500, 97):
        r = make_divisible(v)
        assert r % 8 == 0 and r >= 0.9 * v


@pytest.mark.parametrize(
    "size,kernel,want",
    [(32, 3, ((0, 1), (0, 1))), (33, 3, ((1, 1), (1, 1))), (32, 5, ((1, 2), (1, 2))), (None, 3, ((0, 1), (0, 1)))],
)
def test_stride2_padding_values(size, kernel, want):
    assert stride2_padding(keras.KerasTensor((None, size, size, 4)), kernel) == want


@pytest.mark.parametrize("size,kernel", [(8, 3), (9, 3), (8, 5), (9, 5)])
def test_stride2_padding_then_valid_equals_same_convolution(size, kernel):
    x = np.random.default_rng(0).normal(size=(1, size, size, 2)).astype("float32")
    same = layers.DepthwiseConv2D(kernel, strides=2, padding="same", use_bias=False)
    valid = layers.DepthwiseConv2D(kernel, strides=2, padding="valid", use_bias=False)
    same.build(x.shape), valid.build((1, None, None, 2))
    valid.set_weights(same.get_weights())
    padded = layers.ZeroPadding2D(stride2_padding(keras.KerasTensor(x.shape), kernel))(x)
    np.testing.assert_allclose(_np(valid(padded)), _np(same(x)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("strides,out_size", [(1, 8), (2, 4)])
def test_depthwise_separable_conv_shapes_names_params(strides, out_size):
    m = _block_model(depthwise_separable_conv, filters=32, strides=strides, depth_multiplier=2, name="b1")
    assert m.output_shape == (None, out_size, out_size, 32)
    want = ["b1_dw", "b1_dw_bn", "b1_dw_relu", "b1_pw", "b1_pw_bn", "b1_pw_relu"]
    assert _names(m) == (["b1_pad"] + want if strides == 2 else want)
    dw = 16 * 2  # depthwise channels
    assert m.count_params() == 9 * dw + 4 * dw + dw * 32 + 4 * 32
    y = _np(m(np.random.default_rng(0).normal(0, 10, size=(2, 8, 8, 16)).astype("float32")))
    assert y.min() >= 0 and y.max() <= 6 and y.max() > 0  # ReLU6


def test_depthwise_separable_conv_paper_relu_is_unbounded():
    m = _block_model(depthwise_separable_conv, filters=8, activation="relu", name="b")
    y = _np(m(np.random.default_rng(0).normal(0, 100, size=(2, 8, 8, 16)).astype("float32")))
    assert y.min() >= 0 and y.max() > 6


@pytest.mark.parametrize("filters,strides,residual", [(16, 1, True), (24, 1, False), (16, 2, False)])
def test_inverted_residual_shortcut_only_when_shapes_allow(filters, strides, residual):
    m = _block_model(inverted_residual, filters=filters, strides=strides, name="block_1")
    assert m.output_shape == (None, 8 // strides, 8 // strides, filters)
    assert ("block_1_add" in _names(m)) == residual
    assert m.get_layer("block_1_expand").kernel.shape == (1, 1, 16, 96)


def test_inverted_residual_names_and_linear_bottleneck():
    m = _block_model(inverted_residual, filters=24, strides=2, name="block_1")
    assert _names(m) == [
        "block_1_expand",
        "block_1_expand_BN",
        "block_1_expand_relu",
        "block_1_pad",
        "block_1_depthwise",
        "block_1_depthwise_BN",
        "block_1_depthwise_relu",
        "block_1_project",
        "block_1_project_BN",
    ]
    # Linear bottleneck: the block ends at the projection's BatchNorm, no activation, so it goes negative.
    assert isinstance(m.layers[-1], layers.BatchNormalization)
    y = _np(m(np.random.default_rng(0).normal(size=(4, 8, 8, 16)).astype("float32"), training=True))
    assert y.min() < 0
    one = _block_model(inverted_residual, filters=16, expansion=1, name="expanded_conv")
    assert not any("expand" in n.removeprefix("expanded_conv") for n in _names(one))


def test_mbconv_names_se_width_and_attention_choices():
    m = _block_model(mbconv, shape=(8, 8, 24), filters=24, expansion=6, kernel_size=5, drop_rate=0.1, name="block2b")
    assert _names(m) == [
        "block2b_expand_conv",
        "block2b_expand_bn",
        "block2b_expand_activation",
        "block2b_dwconv",
        "block2b_bn",
        "block2b_activation",
        "block2b_se_squeeze",
        "block2b_se_reshape",
        "block2b_se_reduce",
        "block2b_se_expand",
        "block2b_se_excite",
        "block2b_project_conv",
        "block2b_project_bn",
        "block2b_drop",
        "block2b_add",
    ]
    # SE squeezes to se_ratio x the block's *input* channels (reference code), not the expanded 144.
    assert m.get_layer("block2b_se_reduce").kernel.shape == (1, 1, 144, 6)
    assert m.get_layer("block2b_dwconv").kernel.shape[:2] == (5, 5)
    assert m.get_layer("block2b_expand_activation").activation is keras.activations.swish

    plain = _block_model(mbconv, filters=16, attention=None, name="b")
    assert not any("_se_" in n for n in _names(plain))
    seen = []

    def custom(x, *, name):
        seen.append(name)
        return layers.Activation("sigmoid", name=name)(x)

    _block_model(mbconv, filters=16, attention=custom, name="b")
    assert seen == ["b_attention"]
    with pytest.raises(ValueError, match="attention must be None, 'se' or a callable"):
        _block_model(mbconv, filters=16, attention="cbam", name="b")
    with pytest.raises(ValueError, match="se_ratio"):
        _block_model(mbconv, filters=16, se_ratio=0.0, name="b")


def test_mbconv_stride2_no_shortcut_no_drop():
    m = _block_model(mbconv, filters=24, strides=2, drop_rate=0.2, name="b")
    assert m.output_shape == (None, 4, 4, 24)
    assert "b_dwconv_pad" in _names(m) and "b_add" not in _names(m) and "b_drop" not in _names(m)


def _branch_and_output(drop_rate, x, training):
    """The residual branch (projection BN output) and the block output from one call."""
    inputs = keras.Input(x.shape[1:])
    out = mbconv(inputs, x.shape[-1], drop_rate=drop_rate, name="b")
    branch = keras.Model(inputs, out).get_layer("b_project_bn").output
    branch, out = keras.Model(inputs, [branch, out])(x, training=training)
    return _np(branch), _np(out)


def test_stochastic_depth_is_identity_at_inference():
    x = np.random.default_rng(0).normal(size=(4, 6, 6, 16)).astype("float32")
    branch, out = _branch_and_output(0.5, x, training=False)
    np.testing.assert_allclose(out, x + branch, rtol=1e-5, atol=1e-5)


def test_stochastic_depth_drops_whole_examples_in_training():
    keras.utils.set_random_seed(1)
    rate = 0.5
    x = np.random.default_rng(0).normal(size=(16, 6, 6, 16)).astype("float32")
    branch, out = _branch_and_output(rate, x, training=True)  # BN in training mode: batch statistics, deterministic
    kept = []
    for i in range(len(x)):
        residual = out[i] - x[i]
        if np.allclose(residual, 0, atol=1e-6):
            kept.append(False)
        else:
            np.testing.assert_allclose(residual, branch[i] / (1 - rate), rtol=1e-4, atol=1e-5)
            kept.append(True)
    assert 0 < sum(kept) < len(x), kept  # some examples dropped entirely, others kept entirely


def test_stochastic_depth_rate_is_validated():
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        stochastic_depth(keras.Input((4, 4, 2)), 1.0, name="d")
