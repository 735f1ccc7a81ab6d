"""AlexNet: Krizhevsky et al. 2012's layer sizes, grouping, LRN placement, initialization and choices."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.blocks import ACTIVATIONS
from kcnn.layers import LocalResponseNormalization

PAPER_PARAMS = {  # weights + biases per layer, 1000 classes
    "conv1": 11 * 11 * 3 * 96 + 96,
    "conv2": 5 * 5 * 96 * 256 + 256,
    "conv3": 3 * 3 * 256 * 384 + 384,
    "conv4": 3 * 3 * 384 * 384 + 384,
    "conv5": 3 * 3 * 384 * 256 + 256,
    "fc6": 6 * 6 * 256 * 4096 + 4096,
    "fc7": 4096 * 4096 + 4096,
    "predictions": 4096 * 1000 + 1000,
}
GROUPED = {"conv2": 5 * 5 * 48 * 256 + 256, "conv4": 3 * 3 * 192 * 384 + 384, "conv5": 3 * 3 * 192 * 256 + 256}


def _per_layer(model):
    return {layer.name: layer.count_params() for layer in model.layers if layer.weights}


@pytest.mark.slow
@pytest.mark.parametrize("name,groups", [("alexnet", 1), ("alexnet_grouped", 2)])
def test_per_layer_parameters(name, groups):
    expected = {**PAPER_PARAMS, **(GROUPED if groups == 2 else {})}
    assert _per_layer(kcnn.create_model(name)) == expected
    assert sum(expected.values()) == kcnn.model_info(name).params


def test_feature_map_sizes_at_227_and_layer_order():
    model = kcnn.create_model("alexnet", include_top=False)
    assert model.input_shape == (None, None, None, 3)
    model = kcnn.create_model("alexnet", include_top=False, input_shape=(227, 227, 3))
    sizes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert sizes["conv1"] == (55, 55, 96) and sizes["pool1"] == (27, 27, 96)
    assert sizes["conv2"] == (27, 27, 256) and sizes["pool2"] == (13, 13, 256)
    assert sizes["conv3"] == (13, 13, 384) and sizes["conv4"] == (13, 13, 384) and sizes["conv5"] == (13, 13, 256)
    assert sizes["pool5"] == (6, 6, 256)
    order = [layer.name for layer in model.layers]
    # §3.3: normalization after the ReLU of conv1 and conv2, before their (overlapping 3x3/2) pooling
    assert order[1:] == ["conv1", "norm1", "pool1", "conv2", "norm2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    assert model.get_layer("conv1").activation is keras.activations.relu
    pool = model.get_layer("pool1")
    assert pool.pool_size == (3, 3) and pool.strides == (2, 2)
    lrn = model.get_layer("norm1")
    assert isinstance(lrn, LocalResponseNormalization)
    assert (lrn.size, lrn.k, lrn.alpha, lrn.beta, lrn.divide_alpha_by_size) == (5, 2.0, 1e-4, 0.75, False)


def test_grouping_only_in_conv2_conv4_conv5():
    model = kcnn.create_model("alexnet_grouped", include_top=False, input_shape=(67, 67, 3))
    assert {n: model.get_layer(n).groups for n in ("conv1", "conv2", "conv3", "conv4", "conv5")} == {
        "conv1": 1,
        "conv2": 2,
        "conv3": 1,
        "conv4": 2,
        "conv5": 2,
    }
    with pytest.raises(ValueError, match=r"^`groups` must be one of 1, 2; Received: groups=4$"):
        kcnn.create_model("alexnet", groups=4)


def test_top_dropout_after_fc6_and_fc7():
    model = kcnn.create_model("alexnet", input_shape=(67, 67, 3), classes=10)
    order = [layer.name for layer in model.layers]
    assert order[order.index("flatten") :] == ["flatten", "fc6", "fc6_dropout", "fc7", "fc7_dropout", "predictions"]
    assert model.get_layer("fc6_dropout").rate == 0.5
    assert model.get_layer("predictions").activation is keras.activations.softmax


def test_paper_initialization():
    keras.utils.set_random_seed(0)
    model = kcnn.create_model("alexnet", input_shape=(67, 67, 3))
    ones = {"conv2", "conv4", "conv5", "fc6", "fc7"}
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            bias = keras.ops.convert_to_numpy(layer.bias)
            np.testing.assert_array_equal(bias, np.full_like(bias, 1.0 if layer.name in ones else 0.0))
    kernel = keras.ops.convert_to_numpy(model.get_layer("fc7").kernel)
    assert abs(kernel.std() - 0.01) < 2e-4 and abs(kernel.mean()) < 2e-4


@pytest.mark.parametrize("init", ["glorot_uniform", "he_normal"])
def test_other_initializers_use_zero_biases(init):
    keras.utils.set_random_seed(0)
    model = kcnn.create_model("alexnet", include_top=False, input_shape=(67, 67, 3), kernel_initializer=init)
    conv3 = model.get_layer("conv3")
    assert not np.any(keras.ops.convert_to_numpy(model.get_layer("conv2").bias))
    std = keras.ops.convert_to_numpy(conv3.kernel).std()
    fan_in, fan_out = 9 * 256, 9 * 384
    want = np.sqrt(2 / (fan_in + fan_out)) if init == "glorot_uniform" else np.sqrt(2 / fan_in)
    assert abs(std - want) < 0.05 * want


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_choices(activation):
    model = kcnn.create_model("alexnet", input_shape=(67, 67, 3), classes=4, activation=activation)
    y = keras.ops.convert_to_numpy(model(np.random.default_rng(0).uniform(0, 1, (2, 67, 67, 3)).astype("float32")))
    assert y.shape == (2, 4) and np.all(np.isfinite(y))
    if activation == "maxout":
        assert model.get_layer("conv1").filters == 192 and model.get_layer("conv1_maxout").output.shape[-1] == 96
        assert model.get_layer("fc6").units == 8192 and model.get_layer("fc6_maxout").output.shape[-1] == 4096
    else:
        assert model.get_layer("conv1").activation is keras.activations.get(activation)


def test_unknown_choices_are_clear_errors():
    with pytest.raises(ValueError, match="^`activation` must be one of .*Received: activation='gelu'$"):
        kcnn.create_model("alexnet", activation="gelu")
    with pytest.raises(
        ValueError, match="^`kernel_initializer` must be one of 'paper', .*Received: kernel_initializer='xavier'$"
    ):
        kcnn.create_model("alexnet", kernel_initializer="xavier")


def test_small_inputs_are_rejected_with_the_minimum():
    assert kcnn.create_model("alexnet", input_shape=(67, 67, 3), include_top=False).output_shape == (None, 1, 1, 256)
    for shape in ((66, 66, 3), (32, 32, 3), (28, 28, 1)):
        with pytest.raises(ValueError, match="at least 67x67"):
            kcnn.create_model("alexnet", input_shape=shape)
    with pytest.raises(ValueError, match="at least 63x63"):
        kcnn.create_model("alexnet_torchvision", input_shape=(32, 32, 3))


def test_without_local_response_normalization():
    model = kcnn.create_model("alexnet", include_top=False, input_shape=(67, 67, 3), local_response_norm=False)
    assert not any(isinstance(layer, LocalResponseNormalization) for layer in model.layers)


def test_torchvision_variant_layout():
    model = kcnn.create_model("alexnet_torchvision", include_top=False, input_shape=(224, 224, 3))
    sizes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert sizes["conv1"] == (55, 55, 64) and sizes["conv2"] == (27, 27, 192) and sizes["pool5"] == (6, 6, 256)
    assert not any(isinstance(layer, LocalResponseNormalization) for layer in model.layers)
    top = kcnn.create_model("alexnet_torchvision", input_shape=(63, 63, 3), classes=3)
    order = [layer.name for layer in top.layers]
    assert order[order.index("flatten") :] == ["flatten", "fc6_dropout", "fc6", "fc7_dropout", "fc7", "predictions"]


def test_no_imagenet_weights():
    with pytest.raises(ValueError, match="weights='imagenet' is not available"):
        kcnn.create_model("alexnet", weights="imagenet")
