"""kcnn.viz feature maps and activation statistics."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn import viz
from tests.viz.images import assert_not_blank

RNG = np.random.default_rng(0)


def _tanh_net(initializer, depth=10, width=256):
    inputs = keras.Input((width,))
    x = inputs
    for i in range(depth):
        x = keras.layers.Dense(width, activation="tanh", kernel_initializer=initializer, name=f"tanh{i + 1}")(x)
    return keras.Model(inputs, x)


def test_std_001_tanh_activations_collapse_while_xavier_keeps_their_scale():
    x = RNG.standard_normal((256, 256)).astype("float32")
    keras.utils.set_random_seed(0)
    small = [s.std for s in viz.activation_statistics(_tanh_net(keras.initializers.RandomNormal(stddev=0.01)), x)]
    xavier = [s.std for s in viz.activation_statistics(_tanh_net(keras.initializers.GlorotNormal()), x)]
    assert len(small) == len(xavier) == 10
    # each layer multiplies the scale by about 0.01 * sqrt(256) = 0.16
    assert all(b < 0.3 * a for a, b in zip(small, small[1:]))
    assert small[-1] < 1e-6
    assert min(xavier) > 0.1 and max(xavier) / min(xavier) < 3


def test_activation_statistics_fields_and_relu_zeros():
    inputs = keras.Input((8,))
    h = keras.layers.Dense(64, name="dense")(inputs)
    out = keras.layers.ReLU(name="relu")(h)
    stats = viz.activation_statistics(keras.Model(inputs, out), RNG.standard_normal((128, 8)).astype("float32"))
    assert [s.layer for s in stats] == ["dense", "relu"]
    assert stats[0].zero_fraction == 0.0 and 0.3 < stats[1].zero_fraction < 0.7
    assert stats[1].type == "ReLU" and stats[1].shape == (64,)
    assert stats[1].mean > 0


def test_feature_maps_of_nested_layers_and_name_suggestions(tmp_path):
    backbone = keras.Sequential(
        [keras.Input((16, 16, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")],
        name="backbone",
    )
    inputs = keras.Input((16, 16, 1))
    x = backbone(inputs)
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv_b")(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    image = RNG.uniform(size=(16, 16, 1)).astype("float32")
    maps = viz.feature_maps(model, image, ["backbone/conv_a", "conv_b"])
    assert maps["backbone/conv_a"].shape == (16, 16, 4) and maps["conv_b"].shape == (16, 16, 3)
    expected = keras.ops.convert_to_numpy(backbone(image[None]))[0]
    np.testing.assert_allclose(maps["backbone/conv_a"], expected, rtol=1e-5, atol=1e-6)
    assert viz.feature_maps(model, image, "conv_a")["backbone/conv_a"].shape == (16, 16, 4)  # a unique plain name
    with pytest.raises(ValueError, match="'conv_c' is not in model .*nearest names: conv_b"):
        viz.feature_maps(model, image, ["conv_c"])
    path = tmp_path / "maps.png"
    viz.plot_feature_maps(model, image, ["conv_a", "conv_b"], path)
    assert_not_blank(path)


def test_images_of_the_wrong_size_are_refused_or_resized():
    model = kcnn.create_model("lenet5_modern")
    with pytest.raises(ValueError, match="the image is 32x30, but model 'lenet5_modern' takes 28x28; resize"):
        viz.feature_maps(model, np.zeros((32, 30, 1)), "conv1")
    with pytest.raises(ValueError, match="the image has 3 channels, but model 'lenet5_modern' takes 1"):
        viz.feature_maps(model, np.zeros((28, 28, 3)), "conv1")
    assert viz.prepare_image(model, np.ones((56, 56)), resize=True).shape == (1, 28, 28, 1)


def test_activation_statistics_plot(tmp_path):
    model = kcnn.create_model("lenet5_modern")
    stats = viz.activation_statistics(model, RNG.uniform(size=(16, 28, 28, 1)).astype("float32"))
    assert [s.layer for s in stats[:2]] == ["pad", "conv1"] and stats[-1].layer == "predictions"
    path = tmp_path / "stats.png"
    viz.plot_activation_statistics(stats, path)
    assert_not_blank(path)
