"""SavedModel for TensorFlow Serving, through Keras' ExportArchive.

Written as the version directory of TensorFlow Serving's layout
(``saved_models/<name>/<version>/saved_model.pb``, ``variables/``, ``assets/labels.txt``).
Signatures, both for any batch size:

* ``serving_default``: ``images`` uint8 (batch, H, W, C) -> ``probabilities`` float32,
  ``classes`` int64 (the top class; per pixel for segmentation models) and, for
  classifiers, ``class_names`` (string, the top class's name).
* ``serving_float``: the same from float32 pixel values (0..255).

H x W x C are the dataset's image size (kcnn.export.serving): images are fitted to the
model's input inside the graph, and the model's first layer applies the training
split's normalization, so a client sends raw pixels.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from kcnn.export.runtime import LABELS_FILE, write_labels
from kcnn.export.serving import FitImages, Preprocessing

__all__ = ["write_savedmodel", "SIGNATURES"]

SIGNATURES = ("serving_default", "serving_float")


def write_savedmodel(model: keras.Model, path: str, class_names, preprocessing: Preprocessing | None = None) -> None:
    """Write ``model`` with the serving signatures as a SavedModel at ``path``."""
    preprocessing = preprocessing or Preprocessing.for_model(model)
    target = tuple(model.input_shape[1:])
    fit = None
    if preprocessing.image_shape != target:
        fit = FitImages(target[:2], preprocessing.resize, target[2], name="fit_images")
    names = tf.constant([str(c) for c in class_names])
    shape = (None, *preprocessing.image_shape)

    def outputs(images):
        x = tf.cast(images, tf.float32)
        probs = tf.cast(model(fit(x) if fit is not None else x, training=False), tf.float32)
        out = {"probabilities": probs, "classes": tf.argmax(probs, axis=-1)}
        if probs.shape.rank == 2:
            out["class_names"] = tf.gather(names, out["classes"])
        return out

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", outputs, input_signature=[tf.TensorSpec(shape, tf.uint8, name="images")])
    archive.add_endpoint("serving_float", outputs, input_signature=[tf.TensorSpec(shape, tf.float32, name="images")])
    archive.write_out(path, verbose=False)
    os.makedirs(os.path.join(path, "assets"), exist_ok=True)
    write_labels(os.path.join(path, "assets", LABELS_FILE), class_names)
