"""Input normalization computed once from the training split and stored with the model.

Every choice is one ``keras.layers.Normalization`` layer with fixed per-channel
``mean`` and ``variance`` taking raw pixel values (0..255): it is saved inside the
model, so evaluation and serving apply exactly the values training used.

* ``none``        x
* ``scale``       x / 255
* ``mean``        (x - mean_c) / 255            the CNN notes' mean subtraction
* ``standardize`` (x - mean_c) / std_c          per-channel standardization
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

__all__ = ["NORMALIZATIONS", "channel_stats", "normalization_layer", "fit_normalization"]

NORMALIZATIONS = ("none", "scale", "mean", "standardize")


def channel_stats(ds: tf.data.Dataset, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of the images of ``(image, label)`` examples (float64)."""
    total = total_sq = None
    count = 0
    for images, _ in ds.batch(batch_size).as_numpy_iterator():
        x = images.astype(np.float64).reshape(-1, images.shape[-1])
        s, sq = x.sum(0), np.square(x).sum(0)
        total, total_sq = (s, sq) if total is None else (total + s, total_sq + sq)
        count += x.shape[0]
    if not count:
        raise ValueError("channel_stats: the dataset is empty")
    mean = total / count
    return mean, np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))


def normalization_layer(kind: str, channels: int, mean=None, std=None, name: str = "normalization"):
    """The Normalization layer for ``kind`` with the given per-channel statistics."""
    if kind not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}; got {kind!r}")
    zeros, ones = np.zeros(channels), np.ones(channels)
    if kind in ("mean", "standardize") and mean is None:
        raise ValueError(f"normalization {kind!r} needs the training split's per-channel mean")
    if kind == "standardize" and std is None:
        raise ValueError("normalization 'standardize' needs the training split's per-channel std")
    mean_v, var_v = {
        "none": (zeros, ones),
        "scale": (zeros, ones * 255.0**2),
        "mean": (mean, ones * 255.0**2),
        "standardize": (mean, np.square(np.maximum(np.asarray(std if std is not None else ones, float), 1e-3))),
    }[kind]
    return keras.layers.Normalization(
        mean=[float(v) for v in np.broadcast_to(mean_v, channels)],
        variance=[float(v) for v in np.broadcast_to(var_v, channels)],
        name=name,
    )


def fit_normalization(kind: str, train_ds: tf.data.Dataset, channels: int, name: str = "normalization"):
    """Compute what ``kind`` needs from the training split and return its layer (and the stats)."""
    mean = std = None
    if kind in ("mean", "standardize"):
        mean, std = channel_stats(train_ds)
    return normalization_layer(kind, channels, mean, std, name=name), {"mean": mean, "std": std}
