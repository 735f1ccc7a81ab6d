"""kcnn.viz.summary: filters and feature maps as TensorBoard images."""

import glob

import numpy as np
import pytest

import kcnn
from kcnn.viz.summary import tile, write_model_images

pytestmark = pytest.mark.tf_only


def test_tile():
    images = np.zeros((5, 2, 3))
    out = tile(images, columns=3)
    assert out.shape == (2 * 2 + 1, 3 * 3 + 2)
    assert out[2].min() == 1.0 and out[0, 3] == 1.0  # white borders
    assert out[0, 0] == 0.0 and out[-1, -1] == 1.0  # the sixth cell is empty


def test_write_model_images(tmp_path):
    import tensorflow as tf

    model = kcnn.create_model("lenet5_modern")
    image = np.random.default_rng(0).uniform(0, 255, (28, 28, 1)).astype("float32")
    writer = tf.summary.create_file_writer(str(tmp_path))
    names = write_model_images(writer, model, image, step=3)
    assert names == ["filters/conv1", "feature_maps/conv1", "feature_maps/pool2"]
    seen = {}
    for path in glob.glob(str(tmp_path / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                png = tf.make_ndarray(value.tensor)[2]
                seen[value.tag] = (event.step, tf.io.decode_png(png).numpy())
    assert sorted(seen) == sorted(names)
    step, picture = seen["filters/conv1"]
    assert step == 3 and picture.shape[0] > 20 and picture.std() > 10
