"""Dense layers, blocks and transitions (DenseNet)."""

import keras
import numpy as np
import pytest

from kcnn.blocks import dense_block, dense_layer, dense_transition


def build(fn, input_shape=(8, 8, 24), **kwargs):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, fn(inputs, name="conv2", **kwargs))


def n_params(model):
    return sum(int(np.prod(w.shape)) for w in model.weights)  # BN moving statistics included


def test_bottleneck_layer_names_and_parameters():
    model = build(dense_layer, growth_rate=12)
    assert model.output.shape == (None, 8, 8, 36)
    assert [layer.name for layer in model.layers[1:]] == [
        "conv2_0_bn",
        "conv2_0_relu",
        "conv2_1_conv",
        "conv2_1_bn",
        "conv2_1_relu",
        "conv2_2_conv",
        "conv2_concat",
    ]
    assert model.get_layer("conv2_1_conv").filters == 48  # 4k
    # BN(24) + 1x1 24->48 + BN(48) + 3x3 48->12, no conv biases
    assert n_params(model) == 4 * 24 + 24 * 48 + 4 * 48 + 9 * 48 * 12


def test_plain_layer_has_no_bottleneck():
    model = build(dense_layer, growth_rate=12, bottleneck=False)
    assert "conv2_1_conv" not in {layer.name for layer in model.layers}
    assert n_params(model) == 4 * 24 + 9 * 24 * 12


def test_dense_layer_passes_its_input_through_unchanged():
    model = build(dense_layer, growth_rate=12)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 24)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x))[..., :24], x)


def test_dense_block_grows_by_num_layers_times_growth_rate():
    model = build(dense_block, num_layers=4, growth_rate=12)
    assert model.output.shape == (None, 8, 8, 24 + 4 * 12)
    assert [f"conv2_block{i}_concat" for i in range(1, 5)] == [
        l.name for l in model.layers if l.name.endswith("concat")
    ]


def test_dropout_follows_each_conv():
    model = build(dense_layer, growth_rate=12, dropout=0.2)
    assert {"conv2_1_drop", "conv2_2_drop"} <= {layer.name for layer in model.layers}


@pytest.mark.parametrize("compression,channels", [(0.5, 12), (1.0, 24), (0.3, 7)])
def test_transition_compresses_and_halves(compression, channels):
    model = build(dense_transition, input_shape=(9, 9, 24), compression=compression)
    assert model.output.shape == (None, 4, 4, channels)
    assert [layer.name for layer in model.layers[1:]] == ["conv2_bn", "conv2_relu", "conv2_conv", "conv2_pool"]


def test_transition_refuses_bad_compression():
    with pytest.raises(ValueError, match="compression must be in"):
        build(dense_transition, compression=0.0)
