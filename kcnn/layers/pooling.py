"""Pooling layers Keras lacks.

* ``StochasticPooling2D`` - Zeiler & Fergus 2013, "Stochastic pooling for regularization
  of deep convolutional neural networks" (ICLR 2013).
* ``CeilModeMaxPooling2D`` - max pooling with Caffe's (and PyTorch's ``ceil_mode=True``)
  output size ``ceil((H - k) / s) + 1``, the convention behind the feature-map sizes
  printed in the AlexNet-era papers (e.g. ZFNet's Fig. 3: 110 -> 55 -> ... 13 -> 6).
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["StochasticPooling2D", "CeilModeMaxPooling2D"]


def _pair(value, arg: str, layer: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < 1 for v in pair):
        raise ValueError(f"{layer}: {arg} must be a positive integer or a pair of them; Received: {arg}={value!r}")
    return int(pair[0]), int(pair[1])


def _valid_size(n, k, s):
    return None if n is None else (n - k) // s + 1


@keras.saving.register_keras_serializable(package="kcnn")
class StochasticPooling2D(keras.layers.Layer):
    """Stochastic pooling over ``pool_size`` windows ('valid' padding, channels_last).

    In training each window R_j outputs one of its activations a_i, drawn with probability
    p_i = a_i / sum_{k in R_j} a_k (a multinomial sample, here by the Gumbel-max trick);
    at inference it outputs the probability-weighted average sum_i p_i a_i (the paper's
    "probabilistic weighting"). The method assumes non-negative inputs (after ReLU);
    negative activations are treated as 0. A window of zeros outputs 0.

    Sampling uses ``keras.random`` with the layer's ``SeedGenerator(seed)``, so it runs
    under every backend and is reproducible for a given seed.
    """

    def __init__(self, pool_size=2, strides=None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size", "StochasticPooling2D")
        self.strides = _pair(strides if strides is not None else pool_size, "strides", "StochasticPooling2D")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _windows(self, x):
        """(batch, out_h, out_w, channels, kh * kw): every window's activations, clipped at 0."""
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        shape = ops.shape(x)
        out_h = (shape[1] - kh) // sh + 1
        out_w = (shape[2] - kw) // sw + 1
        parts = [
            x[:, di : di + sh * (out_h - 1) + 1 : sh, dj : dj + sw * (out_w - 1) + 1 : sw, :]
            for di in range(kh)
            for dj in range(kw)
        ]
        return ops.relu(ops.stack(parts, axis=-1))

    def call(self, x, training=None):
        w = self._windows(ops.cast(x, "float32"))
        if training:
            tiny = 1e-30
            logits = ops.where(w > 0, ops.log(ops.maximum(w, tiny)), float("-inf"))
            u = keras.random.uniform(ops.shape(w), minval=tiny, maxval=1.0, seed=self.seed_generator)
            choice = ops.argmax(ops.stop_gradient(logits) - ops.log(-ops.log(u)), axis=-1)
            mask = ops.stop_gradient(ops.one_hot(choice, w.shape[-1], dtype=w.dtype))
            out = ops.sum(w * mask, axis=-1)
        else:
            total = ops.sum(w, axis=-1)
            out = ops.where(total > 0, ops.sum(w * w, axis=-1) / ops.where(total > 0, total, 1.0), 0.0)
        return ops.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        return (n, _valid_size(h, kh, sh), _valid_size(w, kw, sw), c)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kcnn")
class CeilModeMaxPooling2D(keras.layers.Layer):
    """Max pooling whose output size rounds up: ``ceil((H - k) / s) + 1`` (Caffe, PyTorch ``ceil_mode``).

    Implemented as ``s - 1`` rows and columns of -inf padding at the bottom and right
    followed by 'valid' max pooling; ``pool_size >= strides`` guarantees that every
    window holds at least one real activation.
    """

    def __init__(self, pool_size=3, strides=2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size", "CeilModeMaxPooling2D")
        self.strides = _pair(strides, "strides", "CeilModeMaxPooling2D")
        if any(k < s for k, s in zip(self.pool_size, self.strides)):
            raise ValueError(
                f"CeilModeMaxPooling2D: pool_size {self.pool_size} must be at least strides {self.strides}"
            )

    def call(self, x):
        (sh, sw) = self.strides
        x = ops.pad(x, [[0, 0], [0, sh - 1], [0, sw - 1], [0, 0]], constant_values=float("-inf"))
        return ops.max_pool(x, self.pool_size, strides=self.strides, padding="valid")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        return (
            n,
            _valid_size(None if h is None else h + sh - 1, kh, sh),
            _valid_size(None if w is None else w + sw - 1, kw, sw),
            c,
        )

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides}
