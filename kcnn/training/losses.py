"""Training losses by name: Keras' own, per example (reduction=None).

``cross_entropy`` (with label smoothing) and the regression criteria take one-hot or
soft targets (so mixup and cutmix work with them); ``sparse_cross_entropy`` takes integer
labels and cannot take soft targets. ``mse`` is LeNet-5's original criterion family
(squared distance to a target code), here against the one-hot target.
"""

from __future__ import annotations

import keras

from kcnn.training.config import LOSSES, SOFT_TARGET_LOSSES

__all__ = ["LOSSES", "SOFT_TARGET_LOSSES", "make_loss"]


def make_loss(name: str, *, label_smoothing: float = 0.0, huber_delta: float = 1.0) -> keras.losses.Loss:
    """A Keras loss computing one value per example from probabilities."""
    if name not in LOSSES:
        raise ValueError(f"must be one of {', '.join(LOSSES)}; got {name!r}")
    if label_smoothing and name != "cross_entropy":
        raise ValueError(f"label smoothing needs the cross_entropy loss, not {name!r}")
    return {
        "cross_entropy": lambda: keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing, reduction=None),
        "sparse_cross_entropy": lambda: keras.losses.SparseCategoricalCrossentropy(reduction=None),
        "mse": lambda: keras.losses.MeanSquaredError(reduction=None),
        "l1": lambda: keras.losses.MeanAbsoluteError(reduction=None),
        "huber": lambda: keras.losses.Huber(delta=huber_delta, reduction=None),
    }[name]()
