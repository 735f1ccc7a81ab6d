"""Optimizers by name (Keras' own)."""

from __future__ import annotations

import keras

__all__ = ["OPTIMIZERS", "make_optimizer"]

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")


def make_optimizer(name: str, learning_rate, *, momentum: float = 0.9) -> keras.optimizers.Optimizer:
    """``sgd`` (with ``momentum``), ``adam``, ``adamw`` or ``rmsprop`` at ``learning_rate``."""
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=momentum)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {name!r}")
