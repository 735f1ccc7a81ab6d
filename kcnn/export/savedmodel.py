"""SavedModel export through Keras' ExportArchive, with uint8 serving signatures.

``serving_default`` takes a batch of uint8 images (any batch size) and returns
``probabilities`` and the top ``classes``; the model's own first layers (the
Normalization stored at training time) do the preprocessing inside the graph.
Class names are written to ``assets/labels.txt``.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

__all__ = ["write_savedmodel", "load_savedmodel_fn", "write_labels", "read_labels", "LABELS_FILE"]

LABELS_FILE = "labels.txt"


def write_labels(path, class_names) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{c}\n" for c in class_names))


def read_labels(path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def write_savedmodel(model: keras.Model, path: str, class_names) -> None:
    """Write ``model`` as a SavedModel at ``path`` (a new directory) with uint8 and float signatures."""
    shape = (None, *model.input_shape[1:])
    archive = keras.export.ExportArchive()
    archive.track(model)

    def outputs(images):
        probs = tf.cast(model(images, training=False), tf.float32)
        return {"probabilities": probs, "classes": tf.argmax(probs, axis=-1)}

    archive.add_endpoint(
        "serving_default",
        lambda images: outputs(tf.cast(images, tf.float32)),
        input_signature=[tf.TensorSpec(shape, tf.uint8, name="images")],
    )
    archive.add_endpoint(
        "serving_float", outputs, input_signature=[tf.TensorSpec(shape, tf.float32, name="images")]
    )
    archive.write_out(path, verbose=False)
    os.makedirs(os.path.join(path, "assets"), exist_ok=True)
    write_labels(os.path.join(path, "assets", LABELS_FILE), class_names)


def load_savedmodel_fn(path: str):
    """A numpy function uint8 images -> probabilities, from the SavedModel's serving_default."""
    fn = tf.saved_model.load(path).signatures["serving_default"]
    return lambda images: fn(images=tf.constant(images, tf.uint8))["probabilities"].numpy().astype(np.float32)
