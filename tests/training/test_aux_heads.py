"""A model with auxiliary classifiers (GoogLeNet) trains all its outputs, weighted; evaluation,
model.keras and exports are the inference model without them."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kcnn.training import ExperimentConfig, plan, train
from kcnn.training.loop import TrainLoop

pytestmark = pytest.mark.tf_only


def three_headed():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu", name="body")(inputs)
    outputs = [keras.layers.Dense(3, activation="softmax", name=n)(hidden) for n in ("main", "aux1", "aux2")]
    return keras.Model(inputs, outputs)


def test_the_loop_trains_every_output_on_the_weighted_loss():
    keras.utils.set_random_seed(0)
    model = three_headed()
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build(model.trainable_variables)
    loss = keras.losses.CategoricalCrossentropy(reduction=None)
    loop = TrainLoop(
        model,
        optimizer,
        loss,
        strategy=tf.distribute.get_strategy(),
        num_classes=3,
        global_batch_size=8,
        loss_weights=(1.0, 0.3, 0.3),
    )
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    y = np.arange(8) % 3
    targets = np.eye(3, dtype="float32")[y]
    expected = sum(w * float(np.mean(loss(targets, o))) for w, o in zip((1.0, 0.3, 0.3), model(x)))
    before = {w.path: w.numpy().copy() for w in model.trainable_variables}
    data = loop.distribute(lambda b: tf.data.Dataset.from_tensors((x, y)).repeat())
    result = loop.train_epoch(data, 1)
    assert result["loss"] == pytest.approx(expected, rel=1e-5)
    assert all(not np.array_equal(w.numpy(), before[w.path]) for w in model.trainable_variables)


def test_googlenet_trains_its_auxiliary_heads_and_exports_without_them(tmp_path, monkeypatch, fashion_mnist_dir):
    config = ExperimentConfig.from_dict(
        {
            "model": {"name": "googlenet_bn"},
            "data": {
                "train_split": "train[:256]",
                "test_split": "test[:64]",
                "validation": "none",
                "image_size": [32, 32],
                "channels": 3,
                "normalization": "scale",
            },
            "train": {"epochs": 1, "batch_size": 32, "optimizer": "sgd", "learning_rate": 0.01},
            "model_dir": str(tmp_path / "run"),
        }
    )
    assert plan(config).aux_loss_weights == (0.3, 0.3)
    from kcnn.training import run as run_module

    built = {}
    build = run_module.build_model

    def build_and_remember(*args):
        model = build(*args)
        built["model"] = model
        built["aux_before"] = [w.numpy().copy() for w in model.get_layer("aux1_predictions").weights]
        return model

    monkeypatch.setattr(run_module, "build_model", build_and_remember)
    captured = {}
    results = train(config, verbose=0, on_model=lambda m: captured.setdefault("model", m))
    assert len(built["model"].outputs) == 3  # the training model
    after = [w.numpy() for w in built["model"].get_layer("aux1_predictions").weights]
    assert all(not np.array_equal(a, b) for a, b in zip(after, built["aux_before"])), "aux1 did not train"
    inference = keras.saving.load_model(os.path.join(tmp_path, "run", "model.keras"))
    assert len(inference.outputs) == 1 and not [layer for layer in inference.layers if layer.name.startswith("aux")]
    assert len(captured["model"].outputs) == 1 and results["test_examples"] == 64
    config.train.aux_loss, config.model_dir = False, str(tmp_path / "without")
    assert plan(config).aux_loss_weights == ()
