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


def test_kcnn_train_writes_the_images_of_the_first_test_image_at_the_end(tmp_path, fashion_mnist_dir):
    import tensorflow as tf

    from kcnn.training import ExperimentConfig, train

    config = ExperimentConfig.from_dict(
        {
            "model": {"name": "lenet5_modern"},
            "data": {"dataset": "fashion_mnist", "train_split": "train[:256]", "test_split": "test[:64]"},
            "train": {"epochs": 1, "batch_size": 64, "seed": 1},
            "export": {"formats": []},
            "model_dir": str(tmp_path / "run"),
        }
    )
    results = train(config, verbose=0)
    tags = {}
    for path in glob.glob(f"{results['artifacts']['tensorboard']}/**/events.out.tfevents.*", recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag.startswith(("filters/", "feature_maps/")):
                    tags[value.tag] = (event.step, tf.io.decode_png(tf.make_ndarray(value.tensor)[2]).numpy())
    assert sorted(tags) == ["feature_maps/conv1", "feature_maps/pool2", "filters/conv1"]
    step, picture = tags["feature_maps/conv1"]
    assert step == 1 and picture.std() > 10  # a picture, not a blank
