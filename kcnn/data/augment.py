"""Batch augmentations for the training pipeline, built from Keras preprocessing layers.

``build_augmentation(names, seed)`` returns a function ``(images, labels) -> (images,
labels)`` for ``tf.data.Dataset.map`` over batches of float32 images in 0..255.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras
import tensorflow as tf

__all__ = ["AUGMENTATIONS", "build_augmentation"]


def _flip(seed):
    layer = keras.layers.RandomFlip("horizontal", seed=seed)
    return lambda x, y: (layer(x, training=True), y)


# name -> factory(seed) -> fn(images, labels)
AUGMENTATIONS: dict[str, Callable] = {
    "flip": _flip,
}


def build_augmentation(names: Sequence[str], seed: int | None = None) -> Callable:
    """Compose the named augmentations, in order, each with its own seed derived from ``seed``."""
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; choose from {', '.join(AUGMENTATIONS)}")
    fns = [AUGMENTATIONS[n](None if seed is None else seed + i) for i, n in enumerate(names)]

    @tf.autograph.experimental.do_not_convert
    def augment(images, labels):
        for fn in fns:
            images, labels = fn(images, labels)
        return images, labels

    return augment
