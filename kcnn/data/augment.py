"""Batch augmentations for the training pipeline, built from Keras preprocessing layers.

``build_augmentation(names, seed)`` returns ``fn(images, labels, batch_index)`` for a
``tf.data`` map over enumerated batches of float32 images in 0..255. Randomness is
stateless: every augmentation draws from the seed pair ``(seed + k, batch_index)``, so
batches are reproducible whatever the map's parallelism (a stateful seed generator
shared by parallel calls is not), and a resumed run sees the same augmentations.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras
import tensorflow as tf

__all__ = ["AUGMENTATIONS", "StatelessSeed", "build_augmentation", "keras_layer_augmentation"]


class StatelessSeed(keras.random.SeedGenerator):
    """A seed 'generator' that always yields one given (2,) int32 seed tensor.

    Keras' random functions take an int or a SeedGenerator; this lets a preprocessing
    layer draw from a seed computed inside the tf.data graph (stateless randomness)
    without the shared state variable a real SeedGenerator updates.
    """

    def __init__(self, seed_tensor):  # no super().__init__: there is no state to create
        self._seed_tensor = seed_tensor

    def next(self, ordered=True):
        return self._seed_tensor


def keras_layer_augmentation(layer: keras.layers.Layer) -> Callable:
    """Apply a Keras image preprocessing layer with an explicit stateless seed."""

    def apply(images, labels, seed):
        transformation = layer.get_random_transformation(images, training=True, seed=StatelessSeed(seed))
        return layer.transform_images(images, transformation, training=True), labels

    return apply


# name -> factory() -> fn(images, labels, seed_pair)
AUGMENTATIONS: dict[str, Callable] = {
    "flip": lambda: keras_layer_augmentation(keras.layers.RandomFlip("horizontal")),
}


def build_augmentation(names: Sequence[str], seed: int | None = None) -> Callable:
    """Compose the named augmentations, in order; augmentation ``k`` draws from ``(seed + k, batch_index)``."""
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; choose from {', '.join(AUGMENTATIONS)}")
    fns = [AUGMENTATIONS[n]() for n in names]

    @tf.autograph.experimental.do_not_convert
    def augment(images, labels, batch_index):
        base = tf.random.uniform([], maxval=2**30, dtype=tf.int32) if seed is None else tf.constant(seed % 2**30, tf.int32)
        for k, fn in enumerate(fns):
            images, labels = fn(images, labels, tf.stack([base + k, tf.cast(batch_index, tf.int32)]))
        return images, labels

    return augment
