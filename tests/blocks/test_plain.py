"""conv_act / fc_act: exact layer names, activation choices, maxout widths, one-line errors."""

import keras
import numpy as np
import pytest

from kcnn.blocks import ACTIVATIONS, KERNEL_INITIALIZERS, conv_act, fc_act
from kcnn.blocks.plain import kernel_initializer_for


def _model(fn):
    inputs = keras.Input((8, 8, 3))
    return keras.Model(inputs, fn(inputs))


def test_conv_is_named_exactly_and_holds_the_activation():
    model = _model(lambda x: conv_act(x, 4, 3, activation="tanh", name="block1_conv1"))
    assert [layer.name for layer in model.layers[1:]] == ["block1_conv1"]
    conv = model.get_layer("block1_conv1")
    assert conv.activation is keras.activations.tanh and conv.use_bias


def test_batch_norm_follows_the_conv_and_precedes_the_activation():
    model = _model(lambda x: conv_act(x, 4, 3, batch_norm=True, name="c"))
    assert [layer.name for layer in model.layers[1:]] == ["c", "c_bn", "c_act"]
    assert model.get_layer("c").activation is keras.activations.linear
    assert model.get_layer("c_bn").epsilon == 1e-5


def test_maxout_widens_the_conv_and_keeps_the_maximum():
    model = _model(lambda x: conv_act(x, 4, 3, activation="maxout", maxout_pieces=3, name="c"))
    assert model.get_layer("c").filters == 12 and model.output.shape[-1] == 4
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype("float32")
    pre = keras.ops.convert_to_numpy(model.get_layer("c")(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), pre.reshape(1, 8, 8, 4, 3).max(-1), rtol=1e-6)


def test_integer_padding_is_caffe_zero_padding():
    model = _model(lambda x: conv_act(x, 4, 5, strides=2, padding=1, name="c"))
    assert model.get_layer("c_pad").output.shape[1:3] == (10, 10)
    assert model.output.shape[1:3] == (3, 3)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_choice_builds_a_fully_connected_layer(activation):
    inputs = keras.Input((6,))
    y = fc_act(inputs, 5, activation=activation, name="fc6")
    assert y.shape == (None, 5)
    dense = keras.Model(inputs, y).get_layer("fc6")
    assert dense.units == (10 if activation == "maxout" else 5)


def test_unknown_choices_are_one_line_errors_naming_the_argument():
    with pytest.raises(
        ValueError, match=r"^`activation` must be one of 'relu', 'sigmoid', .*'maxout'; Received: activation='swish'$"
    ):
        _model(lambda x: conv_act(x, 4, 3, activation="swish", name="c"))
    with pytest.raises(ValueError, match=r"^`kernel_initializer` must be one of 'paper', 'glorot_uniform'.*Received"):
        kernel_initializer_for("xavier", None)
    with pytest.raises(ValueError, match="maxout_pieces"):
        _model(lambda x: conv_act(x, 4, 3, activation="maxout", maxout_pieces=1, name="c"))


def test_kernel_initializer_choices():
    paper = keras.initializers.RandomNormal(0.0, 0.01)
    assert kernel_initializer_for("paper", paper) is paper
    for name in KERNEL_INITIALIZERS[1:]:
        assert isinstance(kernel_initializer_for(name, paper), keras.initializers.Initializer)
    custom = keras.initializers.Orthogonal()
    assert kernel_initializer_for(custom, paper) is custom
