"""kcnn.analysis.runs: models and batches from run directories, .keras files and the registry."""

import json

import keras
import numpy as np
import pytest

import kcnn
from kcnn.analysis import runs

pytestmark = pytest.mark.tf_only


@pytest.fixture
def run_dir(tmp_path, fashion_mnist_dir):
    model = kcnn.create_model("lenet5_modern")
    model.save(tmp_path / "model.keras")
    config = {
        "model": {"name": "lenet5_modern"},
        "data": {"dataset": "fashion_mnist", "train_split": "train[:300]", "test_split": "test[:100]", "resize": "pad"},
        "train": {"loss": "cross_entropy", "label_smoothing": 0.0},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_run_directory_batches_are_fitted_and_one_hot(run_dir):
    source = runs.from_model_dir(run_dir)
    assert source.dataset == "fashion_mnist" and source.one_hot
    batches = source.batches(source.train_split, batch_size=128, count=2)
    (x, y), _ = batches
    assert x.shape == (128, 28, 28, 1) and x.dtype == np.float32 and x.max() > 1.0  # the 0-255 scale
    assert y.shape == (128, 10) and np.all(y.sum(axis=1) == 1)
    assert len(source.batches(source.train_split, batch_size=128, count=3)[2][0]) == 300 - 256  # the remainder
    with pytest.raises(ValueError, match="fewer than 4 batches of 128"):
        source.batches(source.train_split, batch_size=128, count=4)


def test_keras_file_and_registry(run_dir):
    source = runs.from_keras(str(run_dir / "model.keras"), dataset="fashion_mnist")
    x, y = source.batches("test[:10]", batch_size=10, count=1)[0]
    assert x.shape == (10, 28, 28, 1) and y.shape == (10,)
    wide = runs.from_registry("resnet20", dataset="fashion_mnist")
    assert wide.image_shape == (None, None, 3)
    assert wide.batches("test[:4]", batch_size=4, count=1)[0][0].shape == (4, 28, 28, 3)


def test_bad_sources(tmp_path, run_dir):
    with pytest.raises(ValueError, match="no such directory"):
        runs.from_model_dir(tmp_path / "missing")
    (run_dir / "config.json").unlink()
    with pytest.raises(ValueError, match="has no config.json: not a finished kcnn-train run"):
        runs.from_model_dir(run_dir)
    with pytest.raises(ValueError, match="a file, not a run directory"):
        runs.from_model_dir(__file__)
    with pytest.raises(ValueError, match="not a .keras file"):
        runs.from_keras(__file__)
    (tmp_path / "random.keras").write_bytes(b"not a zip archive" * 100)
    with pytest.raises(ValueError, match="random.keras: not a .keras archive"):
        runs.from_keras(str(tmp_path / "random.keras"))
    with pytest.raises(ValueError, match="unknown model 'resnet21'"):
        runs.from_registry("resnet21")
    with pytest.raises(ValueError, match="no dataset is known"):
        runs.from_keras(str(run_dir / "model.keras")).batches("train", 8, 1)
    assert isinstance(runs.from_keras(str(run_dir / "model.keras")).model, keras.Model)
