"""Where an export comes from: a run directory's dataset, splits and ignore label."""

import json

import keras
import pytest

from kcnn.export.source import from_model_dir

pytestmark = pytest.mark.tf_only


@pytest.mark.parametrize("train, want", [({}, None), ({"ignore_label": 0}, 0)])
def test_a_run_directory_gives_the_ignore_label_it_trained_with(tmp_path, fashion_mnist_dir, train, want):
    inputs = keras.Input((64, 64, 1))
    keras.Model(inputs, keras.layers.Conv2D(11, 1, activation="softmax")(inputs)).save(tmp_path / "model.keras")
    data = {"dataset": "fashion_scenes", "train_split": "train", "test_split": "test[:10]", "resize": "pad"}
    (tmp_path / "config.json").write_text(json.dumps({"data": data, "train": train}))
    source = from_model_dir(str(tmp_path))
    assert source.ignore_label == want  # fashion_scenes labels every pixel: None unless the run set one
    assert source.test_split == "test[:10]" and len(source.class_names) == 11
