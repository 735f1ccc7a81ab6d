"""Crash safety: kill -9 mid-run, rerun the same command, and end with the same weights
as an uninterrupted run (--deterministic); non-finite losses; the best checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from kcnn.training import ExperimentConfig, train
from kcnn.training.checkpoint import Checkpointer
from kcnn.training.loop import NonFiniteLoss

pytestmark = pytest.mark.tf_only
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def command(model_dir):
    return [
        sys.executable,
        "-m",
        "kcnn.cli.train",
        "--model=lenet5_modern",
        "--dataset=fashion_mnist",
        "--set=data.train_split=train[:3200]",
        "--set=data.test_split=test[:500]",
        "--validation=0.1",
        "--epochs=3",
        "--batch_size=64",
        "--optimizer=sgd",
        "--learning_rate=0.05",
        "--schedule=cosine",
        "--augment=flip,crop:2",
        "--deterministic=true",
        "--set=train.checkpoint_every=7",
        f"--model_dir={model_dir}",
    ]


def run(model_dir, **kw):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        command(model_dir), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw
    )


def final_weights(model_dir):
    model = keras.saving.load_model(os.path.join(model_dir, "model.keras"))
    return [np.asarray(w.numpy()) for w in model.weights]


def latest_checkpoint_number(model_dir) -> int:
    latest = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints", "train"))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def test_kill_minus_nine_then_rerun_ends_with_the_uninterrupted_weights(tmp_path, fashion_mnist_dir):
    reference = run(tmp_path / "straight")
    out, _ = reference.communicate(timeout=600)
    assert reference.returncode == 0, out[-2000:]

    victim = run(tmp_path / "killed")
    deadline = time.time() + 600
    while latest_checkpoint_number(tmp_path / "killed") < 6:  # mid-epoch 2: 45 steps per epoch, a checkpoint every 7
        assert victim.poll() is None and time.time() < deadline, "run ended before it could be killed"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL

    resumed = run(tmp_path / "killed")
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out[-2000:]
    assert "kcnn-train: resuming" in out
    for a, b in zip(final_weights(tmp_path / "straight"), final_weights(tmp_path / "killed")):
        np.testing.assert_array_equal(a, b)
    history = json.loads((tmp_path / "killed" / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3]


def test_random_state_of_dropout_survives_a_checkpoint(tmp_path):
    def model_and_opt():
        keras.utils.set_random_seed(1)
        m = keras.Sequential([keras.Input((8,)), keras.layers.Dropout(0.5), keras.layers.Dense(2)])
        opt = keras.optimizers.SGD(0.1)
        opt.build(m.trainable_variables)
        return m, opt

    strategy = tf.distribute.get_strategy()
    model, opt = model_and_opt()
    ones = np.ones((4, 8), "float32")
    model(ones, training=True)  # advance the dropout generator
    saver = Checkpointer(str(tmp_path), model, opt, strategy)
    saver.save(2, 5)
    expected = model(ones, training=True).numpy()

    fresh, fresh_opt = model_and_opt()
    fresh.set_weights([np.zeros_like(w) for w in fresh.get_weights()])
    assert Checkpointer(str(tmp_path), fresh, fresh_opt, strategy).restore() == (2, 5)
    np.testing.assert_array_equal(fresh(ones, training=True).numpy(), expected)


def small(model_dir, **train_fields):
    return ExperimentConfig.from_dict(
        {
            "model": {"name": "lenet5_modern"},
            "data": {
                "dataset": "fashion_mnist",
                "train_split": "train[:1024]",
                "test_split": "test[:256]",
                "validation": "0.25",
            },
            "train": {"epochs": 2, "batch_size": 64, "optimizer": "sgd", "learning_rate": 0.05, **train_fields},
            "model_dir": str(model_dir),
        }
    )


def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, fashion_mnist_dir):
    # Epoch 1 trains normally; the step schedule then multiplies the learning rate by 1e30.
    config = small(tmp_path / "nan", schedule="step", lr_boundaries=[1], lr_decay_factor=1e30)
    with pytest.raises(NonFiniteLoss, match=r"training loss is (nan|inf) .*last good checkpoint is kept"):
        train(config, verbose=0)
    assert tf.train.latest_checkpoint(str(tmp_path / "nan" / "checkpoints" / "train")).endswith("-1")
    assert json.loads((tmp_path / "nan" / "history.json").read_text())["epoch"] == [1]
    assert not (tmp_path / "nan" / "model.keras").exists()


def test_the_best_checkpoint_is_the_best_validation_epoch(tmp_path, fashion_mnist_dir):
    results = train(small(tmp_path / "best", epochs=3), verbose=0)
    history = json.loads((tmp_path / "best" / "history.json").read_text())
    best = keras.saving.load_model(results["artifacts"]["best_model"])
    from kcnn import data as kdata

    val = kdata.load("fashion_mnist", "train[:1024]").skip(768)
    x = np.stack([e[0] for e in val.as_numpy_iterator()]).astype("float32")
    y = np.array([e[1] for e in val.as_numpy_iterator()])
    accuracy = float((best.predict(x, verbose=0).argmax(-1) == y).mean())
    assert accuracy == pytest.approx(max(history["val_accuracy"]), abs=1e-6)
