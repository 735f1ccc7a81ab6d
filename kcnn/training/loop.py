"""kcnn's training loop: ``strategy.run`` over a Keras 3 model, for every strategy.

Keras 3's ``model.fit`` does not run under MultiWorkerMirroredStrategy
(keras-team/keras#20585); a custom loop does, and one loop for every strategy keeps
single-device, mirrored and multi-worker runs numerically the same computation:
per-replica losses are averaged over the *global* batch and Keras' optimizer
all-reduces (sums) the gradients.

``steps_per_execution`` training steps run inside one graph call (as Keras' own
``fit(steps_per_execution=...)``): the metrics are summed on the device and read by the
host once per call, since a host read after every step is what limits small models on a
GPU. The call stops at the first step whose loss is not finite, so a NaN or inf loss
still raises :class:`NonFiniteLoss` naming that step, before any checkpoint after it.

The task (kcnn.training.tasks) says what a unit is: an example for classification, a pixel
for segmentation (accuracy and the confusion matrix count units; the loss is per example).

A model with auxiliary classifiers (GoogLeNet's training model: outputs ``[main, aux1,
aux2]``) trains on the weighted sum of the outputs' losses (``loss_weights``); accuracy is
the main output's. Evaluation masks padding examples (an all-zero one-hot label, or a
negative sparse label), so every replica of every worker can be given full batches.

Loss scaling for mixed_float16 goes through ``optimizer.scale_loss`` (a
``keras.optimizers.LossScaleOptimizer`` scales, unscales and skips non-finite steps).
``l2`` adds the coupled penalty ``l2/2 * sum(w**2)`` over kernels (gradient += l2 * w),
the papers' weight decay.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from kcnn.training.tasks import Classification

__all__ = ["TrainLoop", "NonFiniteLoss", "EpochResult", "PAD_LABEL"]

NO_L2 = ("bias", "gamma", "beta")  # the coupled L2 penalty covers kernels, not biases or normalization
PAD_LABEL = -1  # the label of the examples evaluation pads with; masked out of every metric


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite."""


class EpochResult(dict):
    """Metrics of one pass: ``loss`` (per example), ``accuracy`` (per unit: example or pixel) and,
    for evaluation, ``confusion`` (units)."""


class TrainLoop:
    """Train and evaluate ``model`` under ``strategy`` (the model and optimizer built in its scope).

    ``loss`` is a Keras loss with ``reduction=None`` taking probabilities; labels are
    turned into one-hot targets unless ``sparse_labels`` (labels that already are
    one-hot or soft, e.g. from mixup, pass through). ``task`` replaces that classification
    task by another (kcnn.training.tasks.Segmentation). ``loss_weights``: one weight per
    model output (default: a single output, weight 1).
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
        loss_weights: tuple = (1.0,),
        steps_per_execution: int = 1,
        task=None,
    ):
        self.model = model
        self.optimizer = optimizer
        self.task = task or Classification(loss, num_classes, sparse_labels=sparse_labels)
        self.strategy = strategy
        self.num_classes = num_classes
        self.global_batch_size = global_batch_size
        self.l2 = l2
        self.loss_weights = tuple(float(w) for w in loss_weights)
        self.steps_per_execution = int(steps_per_execution)
        self._decayed = [v for v in model.trainable_variables if not v.path.endswith(NO_L2)]
        replica_train = tf.function(self._replica_train, jit_compile=jit_compile)
        replica_eval = tf.function(self._replica_eval, jit_compile=jit_compile)

        def train_steps(iterator, steps):
            """Up to ``steps`` steps; stops after the first non-finite loss. Returns the sums and steps run."""
            totals = {k: tf.constant(0.0) for k in ("loss_sum", "correct", "count", "units")}
            done, finite = tf.constant(0), tf.constant(True)
            while tf.logical_and(done < steps, finite):  # no branch around strategy.run: merge_call forbids it
                out = self._reduce(strategy.run(replica_train, args=next(iterator)))
                finite = tf.math.is_finite(out["loss_sum"])
                totals = {k: totals[k] + out[k] for k in totals}
                done += 1
            return {**totals, "steps": done, "finite": finite}

        self._train_steps = tf.function(train_steps, reduce_retracing=True)
        self._eval_step = tf.function(
            lambda batch: self._reduce(strategy.run(replica_eval, args=batch)), reduce_retracing=True
        )

    # --- per replica ------------------------------------------------------------------

    def _outputs(self, images, training: bool) -> list:
        outputs = self.model(images, training=training)
        return [tf.cast(o, tf.float32) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]

    def _replica_train(self, images, labels):
        with tf.GradientTape() as tape:
            outputs = self._outputs(images, training=True)
            loss = tf.add_n(
                [
                    w
                    * tf.nn.compute_average_loss(
                        self.task.example_loss(labels, o), global_batch_size=self.global_batch_size
                    )
                    for w, o in zip(self.loss_weights, outputs)
                ]
            )
            penalties = [tf.cast(v, tf.float32) for v in self.model.losses]
            if self.l2 and self._decayed:
                squares = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in self._decayed])
                penalties.append(0.5 * self.l2 * squares)
            if penalties:
                loss += tf.nn.scale_regularization_loss(tf.add_n(penalties))
            scaled = self.optimizer.scale_loss(loss)
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        truth, valid = self.task.units(labels)
        correct = tf.reduce_sum(tf.cast(tf.equal(truth, tf.argmax(outputs[0], axis=-1)), tf.float32) * valid)
        batch = tf.cast(tf.shape(images)[0], tf.float32)
        return {
            "loss_sum": loss * self.global_batch_size,
            "correct": correct,
            "count": batch,
            "units": tf.reduce_sum(valid),
        }

    def _replica_eval(self, images, labels):
        probs = self._outputs(images, training=False)[0]
        (truth, valid), predicted = self.task.units(labels), tf.argmax(probs, axis=-1)
        confusion = tf.math.confusion_matrix(
            tf.reshape(truth, [-1]),
            tf.reshape(predicted, [-1]),
            num_classes=self.num_classes,
            weights=tf.reshape(valid, [-1]),
            dtype=tf.float32,
        )
        examples = self.task.example_valid(labels)
        return {
            "loss_sum": tf.reduce_sum(self.task.example_loss(labels, probs) * examples),
            "correct": tf.reduce_sum(tf.cast(tf.equal(truth, predicted), tf.float32) * valid),
            "count": tf.reduce_sum(examples),
            "units": tf.reduce_sum(valid),
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
        sync_every: int = 0,
        progress: keras.utils.Progbar | None = None,
    ) -> EpochResult:
        """Run ``steps - first_step`` training steps over the distributed ``dataset``.

        Steps run ``steps_per_execution`` at a time; a call also ends at every multiple of
        ``sync_every`` (checkpoint steps), where ``on_step(step)`` runs once the steps up to
        it are known to be finite. A NaN/inf loss raises NonFiniteLoss naming its step.
        """
        iterator = iter(dataset)
        loss_sum = correct = count = units = 0.0
        step = first_step
        while step < steps:
            chunk = min(self.steps_per_execution, steps - step)
            if sync_every:
                chunk = min(chunk, sync_every - step % sync_every)
            out = {k: v.numpy() for k, v in self._train_steps(iterator, tf.constant(chunk)).items()}
            step += int(out["steps"])
            if not out["finite"]:
                step_loss = float(out["loss_sum"])
                raise NonFiniteLoss(
                    f"training loss is {step_loss if math.isnan(step_loss) else 'infinite'} at step {step} of the epoch"
                )
            loss_sum += float(out["loss_sum"])
            correct += float(out["correct"])
            count += float(out["count"])
            units += float(out["units"])
            if progress is not None:
                progress.update(step, [("loss", loss_sum / count), ("accuracy", correct / max(units, 1.0))])
            if on_step is not None:
                on_step(step)
        return EpochResult(loss=loss_sum / max(count, 1.0), accuracy=correct / max(units, 1.0))

    def evaluate(self, dataset) -> EpochResult:
        """Loss, accuracy and confusion matrix over a distributed dataset (padding masked out)."""
        totals = None
        for batch in dataset:
            out = {k: v.numpy() for k, v in self._eval_step(batch).items()}
            totals = out if totals is None else {k: totals[k] + out[k] for k in totals}
        if totals is None or not totals["count"]:
            raise ValueError("evaluation dataset is empty")
        return EpochResult(
            loss=float(totals["loss_sum"]) / float(totals["count"]),
            accuracy=float(totals["correct"]) / max(float(totals["units"]), 1.0),
            confusion=np.rint(totals["confusion"]).astype(np.int64),
        )
