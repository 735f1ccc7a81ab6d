"""Crash-safe training state: weights, optimizer, random-number state and data position.

``tf.train.CheckpointManager`` writes each checkpoint under a new name and only then
updates its ``checkpoint`` index file atomically, so ``kill -9`` at any moment leaves
the previous checkpoint intact and the index pointing at it. A checkpoint holds the
model's variables, the optimizer's (moments, step counter, loss scale), the states of
the model's random seed generators (dropout, stochastic depth), and the position:
epochs done and steps done in the current epoch. With the data pipeline a pure
function of (seed, epoch) and the batch index, a resumed run continues exactly where
the last checkpoint left it.

Under MultiWorkerMirroredStrategy every worker saves (saving is collective); workers
other than the chief write to a scratch directory that is removed afterwards.
"""

from __future__ import annotations

import os
import shutil

import keras
import tensorflow as tf

from kcnn.training.distribute import is_chief, worker_index

__all__ = ["Checkpointer", "seed_generator_states"]


def seed_generator_states(model: keras.Model) -> list:
    """The state variables of every seed generator in ``model`` (Dropout, stochastic depth, ...)."""
    states = []
    for layer in model._flatten_layers(include_self=False):
        for generator in getattr(layer, "_seed_generators", ()):
            states.append(generator.state)
    return states


class Checkpointer:
    """Save and restore the training state of one run directory."""

    def __init__(
        self, directory: str, model: keras.Model, optimizer, strategy: tf.distribute.Strategy, max_to_keep: int = 2
    ):
        self.chief = is_chief(strategy)
        self.shared_directory = directory  # every worker restores from the chief's checkpoints
        self.directory = directory if self.chief else os.path.join(directory, f".worker-{worker_index(strategy)}")
        with strategy.scope():
            self.epochs_done = tf.Variable(0, dtype=tf.int64, trainable=False, name="epochs_done")
            self.steps_done = tf.Variable(0, dtype=tf.int64, trainable=False, name="steps_done")
        self.checkpoint = tf.train.Checkpoint(
            model=model,
            optimizer=optimizer,
            epochs_done=self.epochs_done,
            steps_done=self.steps_done,
            rng=seed_generator_states(model),
        )
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=max_to_keep)

    def restore(self) -> tuple[int, int] | None:
        """Restore the latest checkpoint; returns (epochs done, steps done in the next epoch) or None."""
        latest = tf.train.latest_checkpoint(self.shared_directory)
        if latest is None:
            return None
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return int(self.epochs_done.numpy()), int(self.steps_done.numpy())

    def save(self, epochs_done: int, steps_done: int) -> None:
        """Save the state after ``epochs_done`` whole epochs and ``steps_done`` steps of the next."""
        self.epochs_done.assign(epochs_done)
        self.steps_done.assign(steps_done)
        self.manager.save()
        if not self.chief:
            shutil.rmtree(self.directory, ignore_errors=True)
