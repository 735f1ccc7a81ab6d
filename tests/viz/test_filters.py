"""kcnn.viz first-layer filter grids."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn import viz
from tests.viz.images import assert_not_blank


def test_first_layer_filters_of_a_gray_model(tmp_path):
    model = kcnn.create_model("lenet5_modern")
    name, images = viz.filter_images(model)
    assert name == "conv1" and images.shape == (6, 5, 5)
    assert images.min() == 0.0 and images.max() == 1.0
    path = tmp_path / "filters.png"
    assert viz.plot_filters(model, path) == "conv1"
    assert_not_blank(path)


def test_rgb_filters_and_another_layer(tmp_path):
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 5, name="first")(inputs)
    x = keras.layers.Conv2D(4, 3, name="second")(x)
    model = keras.Model(inputs, x)
    name, images = viz.filter_images(model)
    assert name == "first" and images.shape == (8, 5, 5, 3)
    kernel = keras.ops.convert_to_numpy(model.get_layer("first").kernel)[..., 2]
    np.testing.assert_allclose(images[2], (kernel - kernel.min()) / (kernel.max() - kernel.min()), rtol=1e-6)
    assert viz.filter_images(model, "second")[1].shape == (4, 3, 3)
    with pytest.raises(ValueError, match="nearest names"):
        viz.plot_filters(model, tmp_path / "x.png", layer="thrid")
    assert not (tmp_path / "x.png").exists()
