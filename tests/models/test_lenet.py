import keras
import numpy as np
import pytest

import kcnn
from kcnn.layers import LENET5_C3_TABLE, ConnectionTableConv2D, FanInUniform, Subsampling2D, scaled_tanh

PAPER_LAYER_PARAMS = {"c1": 156, "s2": 12, "c3": 1_516, "s4": 32, "c5": 48_120, "f6": 10_164}


def test_lenet5_has_the_papers_parameters_layer_by_layer():
    model = kcnn.create_model("lenet5")
    got = {layer.name: layer.count_params() for layer in model.layers if layer.name in PAPER_LAYER_PARAMS}
    assert got == PAPER_LAYER_PARAMS
    assert sum(got.values()) == 60_000
    assert model.get_layer("predictions").count_params() == 84 * 10 + 10


def test_lenet5_modern_has_61706_parameters():
    assert kcnn.create_model("lenet5_modern").count_params() == 61_706


@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern"])
def test_28x28_is_padded_to_the_papers_32x32_and_32x32_is_taken_as_is(name):
    padded = kcnn.create_model(name, input_shape=(28, 28, 1))
    assert padded.get_layer("pad").output.shape[1:3] == (32, 32)
    plain = kcnn.create_model(name, input_shape=(32, 32, 1))
    assert "pad" not in [layer.name for layer in plain.layers]
    assert plain.count_params() == padded.count_params()


@pytest.mark.parametrize("shape", [(24, 24, 1), (64, 64, 1)])
def test_other_sizes_are_rejected_with_the_sizes_it_takes(shape):
    with pytest.raises(ValueError, match=r"28x28"):
        kcnn.create_model("lenet5", input_shape=shape)


def test_include_top_false_returns_c5_maps():
    model = kcnn.create_model("lenet5", include_top=False)
    assert model.output_shape == (None, 1, 1, 120)
    assert kcnn.create_model("lenet5", include_top=False, pooling="avg").output_shape == (None, 120)


def test_scaled_tanh_maps_plus_minus_one_to_themselves():
    y = keras.ops.convert_to_numpy(scaled_tanh(keras.ops.convert_to_tensor([-1.0, 0.0, 1.0])))
    np.testing.assert_allclose(y, [-1.0, 0.0, 1.0], atol=2e-4)
    assert float(scaled_tanh(keras.ops.convert_to_tensor(100.0))) == pytest.approx(1.7159, rel=1e-6)


def test_subsampling_is_coefficient_times_window_sum_plus_bias():
    layer = Subsampling2D(2)
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 2)).astype("float32")
    layer.build(x.shape)
    layer.set_weights([np.array([0.5, -2.0], "float32"), np.array([0.1, 0.2], "float32")])
    want = x.reshape(1, 2, 2, 2, 2, 2).sum(axis=(2, 4)) * [0.5, -2.0] + [0.1, 0.2]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), want, rtol=1e-5, atol=1e-5)


def test_c3_output_maps_see_only_the_maps_of_table_1():
    layer = ConnectionTableConv2D(LENET5_C3_TABLE, 5)
    base = np.random.default_rng(1).normal(size=(1, 14, 14, 6)).astype("float32")
    out0 = keras.ops.convert_to_numpy(layer(base))
    for i in range(6):
        bumped = base.copy()
        bumped[..., i] += 1.0
        changed = np.abs(keras.ops.convert_to_numpy(layer(bumped)) - out0).max(axis=(0, 1, 2)) > 1e-6
        assert [bool(c) for c in changed] == [i in row for row in LENET5_C3_TABLE], f"input map {i}"


def test_papers_initialization_bounds_weights_by_2_4_over_fan_in():
    model = kcnn.create_model("lenet5")
    c1 = keras.ops.convert_to_numpy(model.get_layer("c1").kernel)
    assert np.abs(c1).max() <= 2.4 / 25 and np.abs(c1).max() > 0.5 * 2.4 / 25
    c3 = keras.ops.convert_to_numpy(model.get_layer("c3").kernel)
    assert np.abs(c3).max() <= 2.4 / 75  # the largest limit: maps fed by 3 inputs
    init = FanInUniform(2.4, seed=3)
    assert init.get_config() == {"scale": 2.4, "fan_in": None, "seed": 3}


def test_a_weights_file_from_another_network_names_the_first_mismatching_layer(tmp_path):
    path = tmp_path / "modern.weights.h5"
    kcnn.create_model("lenet5_modern").save_weights(path)
    # c1 has the same shape in both networks; LeNet-5's trainable subsampling S2 is the first difference.
    with pytest.raises(ValueError, match=r"first mismatching layer 's2': not in the file"):
        kcnn.create_model("lenet5", weights=str(path))


def test_a_matching_weights_file_loads(tmp_path):
    source = kcnn.create_model("lenet5")
    path = tmp_path / "lenet5.weights.h5"
    source.save_weights(path)
    loaded = kcnn.create_model("lenet5", weights=str(path))
    x = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(source(x)))


def test_imagenet_weights_are_refused_for_lenet():
    with pytest.raises(ValueError, match="not available"):
        kcnn.create_model("lenet5", weights="imagenet")


def test_a_missing_weights_path_gets_keras_applications_message():
    with pytest.raises(ValueError, match="The `weights` argument should be either"):
        kcnn.create_model("lenet5", weights="/nonexistent/file.weights.h5")
