"""What the training loop needs to know about a task: the loss of each example, and the units
accuracy and the confusion matrix count (examples for classification, pixels for segmentation).

* :class:`Classification` - labels are integers (or one-hot / soft rows, e.g. from mixup);
  the loss is a Keras loss on one-hot targets; a negative label (evaluation padding) is masked.
* :class:`Segmentation` - labels are integer masks (H x W); the outputs per-pixel
  probabilities. The loss is per pixel (cross-entropy with optional class weights, Keras'
  focal cross-entropy, or Keras' Dice on one-hot pixels), averaged over the valid pixels
  of each example; pixels with the ignore label (and every pixel of a padding example,
  which is all ignore label) count nowhere.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from kcnn.training.config import SEGMENTATION_LOSSES

__all__ = ["Classification", "Segmentation", "SEGMENTATION_LOSSES"]


class Classification:
    """Integer (or one-hot / soft) labels, ``(batch, classes)`` probabilities."""

    name = "classification"

    def __init__(self, loss: keras.losses.Loss, num_classes: int, *, sparse_labels: bool = False):
        self.loss, self.num_classes, self.sparse_labels = loss, num_classes, sparse_labels

    def _targets(self, labels):
        if self.sparse_labels or labels.shape.rank == 2:
            return labels
        return tf.one_hot(tf.cast(labels, tf.int32), self.num_classes)

    def example_loss(self, labels, probs):
        """The loss of each example, ``(batch,)``; padding examples give a finite value (masked later)."""
        return self.loss(self._targets(tf.maximum(labels, 0) if labels.shape.rank == 1 else labels), probs)

    def units(self, labels):
        """(truth, valid): the true class of each unit counted by accuracy and the confusion matrix,
        and 1.0 for real units, 0.0 for evaluation padding (a negative label, an all-zero target row)."""
        if labels.shape.rank == 1:
            return tf.cast(tf.maximum(labels, 0), tf.int64), tf.cast(labels >= 0, tf.float32)
        valid = tf.cast(tf.reduce_sum(tf.cast(labels, tf.float32), axis=-1) > 0, tf.float32)
        return tf.argmax(labels, axis=-1), valid

    def example_valid(self, labels):
        return self.units(labels)[1]


class Segmentation:
    """Integer masks ``(batch, H, W)``, ``(batch, H, W, classes)`` probabilities."""

    name = "segmentation"

    def __init__(self, loss: str, num_classes: int, *, ignore_label: int | None = None, class_weights=None):
        if loss not in SEGMENTATION_LOSSES:
            raise ValueError(f"segmentation loss must be one of {', '.join(SEGMENTATION_LOSSES)}; got {loss!r}")
        if class_weights and len(class_weights) != num_classes:
            raise ValueError(f"{len(class_weights)} class weights for {num_classes} classes")
        self.loss_name, self.num_classes, self.ignore_label = loss, num_classes, ignore_label
        self.class_weights = tf.constant(class_weights, tf.float32) if class_weights else None
        self._focal = keras.losses.CategoricalFocalCrossentropy(reduction=None)

    def units(self, labels):
        labels = tf.cast(labels, tf.int64)
        valid = tf.logical_and(labels >= 0, labels < self.num_classes)
        if self.ignore_label is not None:
            valid = tf.logical_and(valid, labels != self.ignore_label)
        return tf.where(valid, labels, tf.zeros_like(labels)), tf.cast(valid, tf.float32)

    def example_valid(self, labels):
        return tf.cast(tf.reduce_sum(self.units(labels)[1], axis=[1, 2]) > 0, tf.float32)

    def example_loss(self, labels, probs):
        truth, valid = self.units(labels)
        onehot = tf.one_hot(truth, self.num_classes)
        if self.loss_name == "dice":  # Keras' Dice on the valid pixels' one-hot targets, one value per example
            keep = valid[..., None]
            return keras.losses.Dice(reduction=None, axis=(1, 2, 3))(onehot * keep, probs * keep)
        if self.loss_name == "focal":
            pixel = self._focal(onehot, probs)
        else:
            pixel = keras.losses.sparse_categorical_crossentropy(truth, probs)
        if self.class_weights is not None:
            pixel *= tf.gather(self.class_weights, truth)
        return tf.reduce_sum(pixel * valid, axis=[1, 2]) / tf.maximum(tf.reduce_sum(valid, axis=[1, 2]), 1.0)
