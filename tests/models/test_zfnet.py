"""ZFNet: the layer sizes of Zeiler & Fergus 2013's Fig. 3, its normalization order and filter renormalization."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.layers import CeilModeMaxPooling2D, LocalResponseNormalization, MaxFilterRMS
from kcnn.models.zfnet import ZFNET_MIN_SIZE


def test_fig3_feature_map_sizes_and_order():
    model = kcnn.create_model("zfnet", include_top=False, input_shape=(224, 224, 3))
    sizes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert sizes["conv1"] == (110, 110, 96) and sizes["pool1"] == (55, 55, 96)
    assert sizes["conv2"] == (26, 26, 256) and sizes["pool2"] == (13, 13, 256)
    assert sizes["conv3"] == (13, 13, 384) and sizes["conv4"] == (13, 13, 384) and sizes["conv5"] == (13, 13, 256)
    assert sizes["pool5"] == (6, 6, 256)
    order = [layer.name for layer in model.layers]
    # Fig. 3 caption: rectify, pool, then contrast-normalize across feature maps
    assert order[1:] == [
        "conv1_pad",
        "conv1",
        "pool1",
        "norm1",
        "conv2",
        "pool2",
        "norm2",
        "conv3",
        "conv4",
        "conv5",
        "pool5",
    ]
    assert all(isinstance(model.get_layer(f"pool{i}"), CeilModeMaxPooling2D) for i in (1, 2, 5))
    assert isinstance(model.get_layer("norm2"), LocalResponseNormalization)
    assert model.get_layer("conv1").strides == (2, 2) and model.get_layer("conv2").strides == (2, 2)


@pytest.mark.slow
def test_per_layer_parameters_by_arithmetic():
    model = kcnn.create_model("zfnet")
    per_layer = {layer.name: layer.count_params() for layer in model.layers if layer.weights}
    assert per_layer == {
        "conv1": 7 * 7 * 3 * 96 + 96,
        "conv2": 5 * 5 * 96 * 256 + 256,
        "conv3": 3 * 3 * 256 * 384 + 384,
        "conv4": 3 * 3 * 384 * 384 + 384,
        "conv5": 3 * 3 * 384 * 256 + 256,
        "fc6": 6 * 6 * 256 * 4096 + 4096,
        "fc7": 4096 * 4096 + 4096,
        "predictions": 4096 * 1000 + 1000,
    }
    assert sum(per_layer.values()) == kcnn.model_info("zfnet").params == 62_357_608


def test_paper_initialization_and_dropout():
    keras.utils.set_random_seed(0)
    model = kcnn.create_model("zfnet", input_shape=(47, 47, 3))
    kernel = keras.ops.convert_to_numpy(model.get_layer("fc7").kernel)
    assert abs(kernel.std() - 0.01) < 2e-4
    assert not any(np.any(keras.ops.convert_to_numpy(layer.bias)) for layer in model.layers if hasattr(layer, "bias"))
    assert model.get_layer("fc6_dropout").rate == 0.5 and model.get_layer("fc7_dropout").rate == 0.5


def test_filters_are_renormalized_to_rms_0_1_after_updates():
    keras.utils.set_random_seed(0)
    # He initialization starts conv1's filters above the radius (std sqrt(2 / 147) = 0.117)
    model = kcnn.create_model("zfnet", input_shape=(47, 47, 3), classes=3, kernel_initializer="he_normal")
    assert isinstance(model.get_layer("conv1").kernel_constraint, MaxFilterRMS)
    k1 = keras.ops.convert_to_numpy(model.get_layer("conv1").kernel)
    assert np.all(np.sqrt(np.mean(k1**2, axis=(0, 1, 2))) > 0.1)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 1, (4, 47, 47, 3)).astype("float32")
    model.train_on_batch(x, np.array([0, 1, 2, 0]))
    rms = {}
    for i in range(1, 6):
        k = keras.ops.convert_to_numpy(model.get_layer(f"conv{i}").kernel)
        rms[i] = np.sqrt(np.mean(k**2, axis=(0, 1, 2)))
    assert all(np.all(r <= 0.1 + 1e-6) for r in rms.values())
    np.testing.assert_allclose(rms[1], 0.1, rtol=1e-5)
    unconstrained = kcnn.create_model("zfnet", input_shape=(47, 47, 3), filter_rms_radius=None)
    assert unconstrained.get_layer("conv1").kernel_constraint is None


def test_min_size_and_small_inputs():
    assert ZFNET_MIN_SIZE == 47
    assert kcnn.create_model("zfnet", include_top=False, input_shape=(47, 47, 3)).output_shape == (None, 1, 1, 256)
    for shape in ((46, 46, 3), (32, 32, 3), (28, 28, 1)):
        with pytest.raises(ValueError, match="at least 47x47"):
            kcnn.create_model("zfnet", input_shape=shape)


def test_maxout_and_errors():
    model = kcnn.create_model("zfnet", input_shape=(47, 47, 3), activation="maxout", maxout_pieces=3, classes=2)
    assert model.get_layer("conv2").filters == 768 and model.get_layer("conv2_maxout").output.shape[-1] == 256
    with pytest.raises(ValueError, match="^`activation` must be one of"):
        kcnn.create_model("zfnet", activation="softplus")
