"""A short real run on a Fashion-MNIST subset: train, evaluate, plot, save, export with parity."""

import json
import os

import keras
import numpy as np
import pytest

from kcnn.training import ConfigError, ExperimentConfig, plan, train
from kcnn.training import run as run_module

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("trainer")]


def small_config(model_dir, **train) -> ExperimentConfig:
    config = ExperimentConfig.from_dict(
        {
            "model": {"name": "lenet5_modern"},
            "data": {
                "dataset": "fashion_mnist",
                "train_split": "train[:3000]",
                "test_split": "test[:1000]",
                "validation": "0.1",
                "normalization": "mean",
            },
            "train": {"epochs": 2, "batch_size": 64, "learning_rate": 0.002, "seed": 1, **train},
            "export": {"formats": ["savedmodel", "tflite"], "dir": str(os.path.join(model_dir, os.pardir, "exports"))},
            "model_dir": str(model_dir),
        }
    )
    return config


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, fashion_mnist_dir):
    model_dir = tmp_path_factory.mktemp("runs") / "lenet"
    config = small_config(model_dir)
    return config, train(config, verbose=0)


def test_the_run_learns(finished_run):
    _, results = finished_run
    assert results["test_examples"] == 1000
    assert results["test_accuracy"] > 0.65  # 10 classes: chance is 0.1


def test_the_run_writes_every_artifact(finished_run):
    config, results = finished_run
    root = config.model_dir
    for name in (
        "config.json",
        "history.json",
        "history.csv",
        "learning_curves.png",
        "confusion_matrix.png",
        "model.keras",
        "results.json",
        ".kcnn-run",
    ):
        assert os.path.isfile(os.path.join(root, name)), name
    export = results["artifacts"]["export"]
    assert export == os.path.abspath(os.path.join(config.export.dir, "lenet5_modern", "1"))
    for name in ("saved_model.pb", "model_float32.tflite", "labels.txt", "export.json", "report.md"):
        assert os.path.isfile(os.path.join(export, name)), name
        assert os.stat(os.path.join(export, name)).st_mode & 0o044 == 0o044, f"{name} is not readable by others"
    assert os.stat(export).st_mode & 0o055 == 0o055 and os.stat(os.path.join(root, "model.keras")).st_mode & 0o044
    with open(os.path.join(root, "config.json")) as f:
        assert json.load(f) == config.to_dict()
    with open(os.path.join(root, "history.json")) as f:
        history = json.load(f)
    assert history["epoch"] == [1, 2] and len(history["val_accuracy"]) == 2
    assert open(os.path.join(root, "history.csv")).readline().startswith("epoch,")
    assert [n for n in os.listdir(root) if n.startswith(".")] == [".kcnn-run"], "temporary files left behind"


def test_exports_match_the_keras_model(finished_run):
    _, results = finished_run
    assert results["exports"]["savedmodel"]["max_abs_diff"] <= 1e-5
    assert results["exports"]["float32"]["max_abs_diff"] <= 1e-4  # "tflite" is the float32 mode's old name
    assert results["exports"]["float32"]["top1_agreement"] == 1.0


def test_the_saved_model_holds_the_training_mean(finished_run):
    config, _ = finished_run
    model = keras.saving.load_model(os.path.join(config.model_dir, "model.keras"))
    norm = model.get_layer("normalization")
    mean = np.asarray(norm.mean).ravel()[0]
    assert 60 < mean < 85  # Fashion-MNIST's training mean is about 72.9 (on 0..255)


def test_rerunning_a_finished_run_returns_its_results(finished_run, monkeypatch):
    config, results = finished_run
    monkeypatch.setattr(run_module, "split_datasets", lambda *a: pytest.fail("trained again"))
    again = train(config, verbose=0)
    assert again["already_complete"] and again["test_accuracy"] == results["test_accuracy"]


def test_a_different_config_in_the_same_model_dir_is_refused(finished_run):
    config, _ = finished_run
    other = small_config(config.model_dir, epochs=3)
    with pytest.raises(ConfigError, match="different config"):
        train(other, verbose=0)


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path, monkeypatch, fashion_mnist_dir):
    from kcnn.training.checkpoint import Checkpointer

    config = small_config(tmp_path / "crash", epochs=2)
    config.export.formats = []
    save = Checkpointer.save

    def save_then_crash(self, epochs_done, steps_done):
        save(self, epochs_done, steps_done)
        raise KeyboardInterrupt("simulated crash after the first checkpoint")

    monkeypatch.setattr(Checkpointer, "save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(config, verbose=0)
    monkeypatch.setattr(Checkpointer, "save", save)
    results = train(config, verbose=0)
    with open(tmp_path / "crash" / "history.json") as f:
        assert json.load(f)["epoch"] == [1, 2]
    assert results["test_accuracy"] > 0.5


def test_plan_derives_the_input_shape(fashion_mnist_dir):
    config = small_config("unused")
    config.data.image_size = [32, 32]
    config.data.channels = 3
    p = plan(config)
    assert p.image_shape == (32, 32, 3) and p.validation == 0.1 and p.dataset.num_classes == 10


def test_train_leaves_keras_global_state_as_it_found_it(tmp_path, fashion_mnist_dir):
    """A notebook user's dtype policy and session survive a run that trained under another policy."""
    config = small_config(tmp_path / "policy", epochs=1)
    config.data.train_split, config.data.validation, config.export.formats = "train[:640]", "none", []
    config.train.precision = "mixed_bfloat16"
    keras.config.set_dtype_policy("float32")
    before = keras.layers.Dense(3)  # the session is fresh (conftest): the first "dense"
    results = train(config, verbose=0)
    assert results["precision"] == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    assert before.name == "dense" and keras.layers.Dense(3).name != "dense"  # names go on: no clear_session


def test_a_non_finite_loss_names_its_step_and_keeps_no_checkpoint_after_it(tmp_path, fashion_mnist_dir):
    from kcnn.training.loop import NonFiniteLoss

    config = small_config(tmp_path / "nan", epochs=1)
    config.data.train_split, config.data.validation, config.export.formats = "train[:1280]", "none", []
    config.train.optimizer, config.train.learning_rate, config.train.momentum = "sgd", 1e6, 0.0
    config.train.checkpoint_every, config.train.steps_per_execution = 4, 8
    with pytest.raises(NonFiniteLoss, match=r"at step \d+ of the epoch; stopped, the last good checkpoint"):
        train(config, verbose=0)
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(tmp_path / "nan" / "checkpoints" / "train"))
    if latest is not None:  # a checkpoint before the first non-finite step holds finite weights only
        reader = tf.train.load_checkpoint(latest)
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype.is_floating:
                assert np.all(np.isfinite(reader.get_tensor(name))), name
