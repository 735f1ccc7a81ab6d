"""kcnn's training loop: ``strategy.run`` over a Keras 3 model, for every strategy.

Keras 3's ``model.fit`` does not run under MultiWorkerMirroredStrategy
(keras-team/keras#20585); a custom loop does, and one loop for every strategy keeps
single-device, mirrored and multi-worker runs numerically the same computation:
per-replica losses are averaged over the *global* batch and Keras' optimizer
all-reduces (sums) the gradients.

Loss scaling for mixed_float16 goes through ``optimizer.scale_loss`` (a
``keras.optimizers.LossScaleOptimizer`` scales, unscales and skips non-finite steps);
a non-finite loss stops the run with :class:`NonFiniteLoss`. ``l2`` adds the coupled
penalty ``l2/2 * sum(w**2)`` over kernels (gradient += l2 * w), the papers' weight decay.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

__all__ = ["TrainLoop", "NonFiniteLoss", "EpochResult"]


NO_L2 = ("bias", "gamma", "beta")  # the coupled L2 penalty covers kernels, not biases or normalization


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite."""


class EpochResult(dict):
    """Metrics of one pass: ``loss``, ``accuracy`` (and ``confusion`` for evaluation)."""


class TrainLoop:
    """Train and evaluate ``model`` under ``strategy`` (the model and optimizer built in its scope).

    ``loss`` is a Keras loss with ``reduction=None`` taking probabilities; labels are
    turned into one-hot targets unless ``sparse_labels`` (labels that already are
    one-hot or soft, e.g. from mixup, pass through).
    """

    def __init__(
        self,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        loss: keras.losses.Loss,
        *,
        strategy: tf.distribute.Strategy,
        num_classes: int,
        global_batch_size: int,
        sparse_labels: bool = False,
        jit_compile: bool = False,
        l2: float = 0.0,
    ):
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.strategy = strategy
        self.num_classes = num_classes
        self.global_batch_size = global_batch_size
        self.sparse_labels = sparse_labels
        self.l2 = l2
        self._decayed = [v for v in model.trainable_variables if not v.path.endswith(NO_L2)]
        replica_train = tf.function(self._replica_train, jit_compile=jit_compile)
        replica_eval = tf.function(self._replica_eval, jit_compile=jit_compile)
        self._train_step = tf.function(
            lambda it: self._reduce(strategy.run(replica_train, args=next(it))), reduce_retracing=True
        )
        self._eval_step = tf.function(
            lambda batch: self._reduce(strategy.run(replica_eval, args=batch)), reduce_retracing=True
        )

    # --- per replica ------------------------------------------------------------------

    def _targets(self, labels):
        if self.sparse_labels or labels.shape.rank == 2:
            return labels
        return tf.one_hot(tf.cast(labels, tf.int32), self.num_classes)

    def _correct(self, labels, probs):
        truth = labels if labels.shape.rank == 1 else tf.argmax(labels, axis=-1)
        return tf.reduce_sum(tf.cast(tf.equal(tf.cast(truth, tf.int64), tf.argmax(probs, axis=-1)), tf.float32))

    def _replica_train(self, images, labels):
        targets = self._targets(labels)
        with tf.GradientTape() as tape:
            probs = tf.cast(self.model(images, training=True), tf.float32)
            loss = tf.nn.compute_average_loss(self.loss(targets, probs), global_batch_size=self.global_batch_size)
            penalties = [tf.cast(v, tf.float32) for v in self.model.losses]
            if self.l2 and self._decayed:
                penalties.append(
                    0.5 * self.l2 * tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in self._decayed])
                )
            if penalties:
                loss += tf.nn.scale_regularization_loss(tf.add_n(penalties))
            scaled = self.optimizer.scale_loss(loss)
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        batch = tf.cast(tf.shape(images)[0], tf.float32)
        return {"loss_sum": loss * self.global_batch_size, "correct": self._correct(labels, probs), "count": batch}

    def _replica_eval(self, images, labels):
        targets = self._targets(labels)
        probs = tf.cast(self.model(images, training=False), tf.float32)
        truth = labels if labels.shape.rank == 1 else tf.argmax(labels, axis=-1)
        confusion = tf.math.confusion_matrix(
            tf.cast(truth, tf.int64), tf.argmax(probs, axis=-1), num_classes=self.num_classes, dtype=tf.float32
        )
        return {
            "loss_sum": tf.reduce_sum(self.loss(targets, probs)),
            "correct": self._correct(labels, probs),
            "count": tf.cast(tf.shape(images)[0], tf.float32),
            "confusion": confusion,
        }

    def _reduce(self, per_replica: dict) -> dict:
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}

    # --- passes -----------------------------------------------------------------------

    def distribute(self, make_dataset: Callable) -> tf.distribute.DistributedDataset:
        """Distribute ``make_dataset(batch_size, input_context)`` (per-replica batches).

        Every input pipeline builds the same order of per-replica batches and keeps its
        shard of them, so a global step consumes the same examples as one device with
        the global batch would.
        """

        def fn(ctx: tf.distribute.InputContext):
            ds = make_dataset(ctx.get_per_replica_batch_size(self.global_batch_size))
            if ctx.num_input_pipelines > 1:
                ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
            return ds

        return self.strategy.distribute_datasets_from_function(fn)

    def train_epoch(
        self,
        dataset,
        steps: int,
        *,
        first_step: int = 0,
        on_step: Callable | None = None,
        progress: keras.utils.Progbar | None = None,
    ) -> EpochResult:
        """Run ``steps - first_step`` training steps over the distributed ``dataset``.

        ``on_step(step)`` runs after each step (checkpoints); a NaN/inf loss raises
        NonFiniteLoss before ``on_step`` sees that step.
        """
        iterator = iter(dataset)
        loss_sum = correct = count = 0.0
        for step in range(first_step, steps):
            out = self._train_step(iterator)
            step_loss = float(out["loss_sum"]) / max(float(out["count"]), 1.0)
            if not math.isfinite(step_loss):
                raise NonFiniteLoss(f"training loss is {step_loss} at step {step + 1} of the epoch")
            loss_sum += float(out["loss_sum"])
            correct += float(out["correct"])
            count += float(out["count"])
            if progress is not None:
                progress.update(step + 1, [("loss", loss_sum / count), ("accuracy", correct / count)])
            if on_step is not None:
                on_step(step + 1)
        count = max(count, 1.0)
        return EpochResult(loss=loss_sum / count, accuracy=correct / count)

    def evaluate(self, dataset) -> EpochResult:
        """Loss, accuracy and confusion matrix over a distributed dataset."""
        totals = None
        for batch in dataset:
            out = {k: v.numpy() for k, v in self._eval_step(batch).items()}
            totals = out if totals is None else {k: totals[k] + out[k] for k in totals}
        if totals is None:
            raise ValueError("evaluation dataset is empty")
        n = max(float(totals["count"]), 1.0)
        return EpochResult(
            loss=float(totals["loss_sum"]) / n,
            accuracy=float(totals["correct"]) / n,
            confusion=np.rint(totals["confusion"]).astype(np.int64),
        )
