import keras
import numpy as np
import pytest

import kcnn
from kcnn.models.notes import inception_a, residual_block


def _layer_params(model, names):
    return {n: model.get_layer(n).count_params() for n in names}


def test_notes_cnn_has_8490_parameters_layer_by_layer():
    model = kcnn.create_model("notes_cnn")
    assert _layer_params(model, ["conv1", "conv2", "predictions"]) == {
        "conv1": 260,
        "conv2": 5_020,
        "predictions": 3_210,
    }
    assert model.count_params() == 8_490
    assert model.get_layer("flatten").output.shape[1:] == (320,)


@pytest.mark.parametrize("channels, params", [(10, 19_104), (20, 19_824)])
def test_inception_a_has_72_per_input_channel_plus_18384_and_88_outputs(channels, params):
    x = keras.Input((12, 12, channels))
    model = keras.Model(x, inception_a(x, init="paper", name="m"))
    assert model.count_params() == params == 72 * channels + 18_384
    assert model.output_shape == (None, 12, 12, 88)


def test_notes_inception_cnn_has_97298_parameters():
    model = kcnn.create_model("notes_inception_cnn")
    assert model.count_params() == 97_298 == 260 + 19_104 + 44_020 + 19_824 + 14_090
    assert model.get_layer("flatten").output.shape[1:] == (1_408,)


def test_notes_inception_cnn_without_reductions_has_94642_parameters():
    model = kcnn.create_model("notes_inception_cnn", reductions=False)
    assert model.count_params() == 94_642 == 260 + (856 * 10 + 5_296) + 44_020 + (856 * 20 + 5_296) + 14_090
    names = {layer.name for layer in model.layers}
    assert "inception1_5x5_reduce" not in names and "inception1_3x3_reduce" not in names
    assert model.get_layer("inception1_concat").output.shape[-1] == 88


def test_notes_residual_cnn_has_41514_parameters():
    model = kcnn.create_model("notes_residual_cnn")
    assert model.count_params() == 41_514 == 416 + 4_640 + 12_832 + 18_496 + 5_130
    assert model.get_layer("flatten").output.shape[1:] == (512,)


def test_residual_block_adds_its_input_before_the_last_relu():
    x = keras.Input((4, 4, 3))
    model = keras.Model(x, residual_block(x, init="paper", name="b"))
    model.get_layer("b_2_conv").set_weights([np.zeros((3, 3, 3, 3), "float32"), np.zeros(3, "float32")])
    v = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(v)), np.maximum(v, 0), atol=1e-6)
    assert model.count_params() == 2 * (9 * 3 * 3 + 3)


def test_notes_tf1_cnn_has_6508298_parameters_and_drops_three_quarters():
    model = kcnn.create_model("notes_tf1_cnn")
    counts = _layer_params(model, ["conv1", "conv2", "fc1", "predictions"])
    assert counts == {"conv1": 640, "conv2": 73_856, "fc1": 6_423_552, "predictions": 10_250}
    assert model.count_params() == 6_508_298
    assert model.get_layer("fc1_dropout").rate == 0.75


def test_inception_pool_branch_averages_zero_padding_like_torch():
    # F.avg_pool2d(kernel 3, stride 1, padding 1) divides by 9 at the border too.
    model = kcnn.create_model("notes_inception_cnn")
    pool = keras.Sequential([model.get_layer("inception1_pool_pad"), model.get_layer("inception1_pool")])
    out = keras.ops.convert_to_numpy(pool(np.ones((1, 3, 3, 1), "float32")))[0, :, :, 0]
    np.testing.assert_allclose(out, [[4 / 9, 6 / 9, 4 / 9], [6 / 9, 1, 6 / 9], [4 / 9, 6 / 9, 4 / 9]], rtol=1e-6)


def test_paper_initialization_is_torchs_default_uniform_bound():
    keras.utils.set_random_seed(0)
    model = kcnn.create_model("notes_cnn")
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in model.get_layer("conv2").weights)
    bound = 1 / np.sqrt(10 * 5 * 5)
    for w in (kernel, bias):
        assert np.abs(w).max() <= bound
    assert np.abs(kernel).max() > 0.9 * bound  # uniform over the whole range, not a narrower rule
    assert np.abs(bias).max() > 0.5 * bound


def test_tf1_paper_initialization_is_standard_normal_and_the_default_glorot_with_zero_biases():
    keras.utils.set_random_seed(0)
    paper = kcnn.create_model("notes_tf1_cnn", kernel_initializer="paper").get_layer("conv2")
    assert 0.95 < keras.ops.convert_to_numpy(paper.kernel).std() < 1.05
    assert 0.5 < keras.ops.convert_to_numpy(paper.bias).std() < 1.5
    glorot = kcnn.create_model("notes_tf1_cnn").get_layer("conv2")
    assert keras.ops.convert_to_numpy(glorot.kernel).std() < 0.1
    assert not np.any(keras.ops.convert_to_numpy(glorot.bias))


def test_maxout_doubles_the_filters_and_keeps_the_output_width():
    model = kcnn.create_model("notes_cnn", activation="maxout")
    assert model.get_layer("conv1").filters == 20 and model.get_layer("conv1_act").output.shape[-1] == 10
    assert model.count_params() == 13_770 == (1 * 20 * 25 + 20) + (10 * 40 * 25 + 40) + 3_210


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"activation": "swish"}, "activation"),
        ({"kernel_initializer": "orthogonal_ish"}, "kernel_initializer"),
        ({"input_shape": (12, 12, 1)}, "at least 16x16"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kcnn.create_model("notes_cnn", **kwargs)
