"""Local response normalization across feature maps (Krizhevsky, Sutskever & Hinton 2012, §3.3).

    b[i] = a[i] / (k + alpha * sum_{j = max(0, i - n//2)}^{min(N - 1, i + n//2)} a[j]^2) ^ beta

over the channels at each spatial position, with the paper's k = 2, n = 5, alpha = 1e-4,
beta = 0.75. The paper's alpha multiplies the sum directly, as does TensorFlow's
``tf.nn.local_response_normalization``; Caffe's LRN layer and PyTorch's
``nn.LocalResponseNorm`` divide alpha by n (``divide_alpha_by_size=True``), so Caffe's
"alpha: 0.0001" in bvlc_alexnet / bvlc_googlenet means 2e-5 in the paper's formula.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["LocalResponseNormalization"]


@keras.saving.register_keras_serializable(package="kcnn")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization over ``size`` adjacent channels (channels_last).

    Args:
        size: n, the (odd) number of adjacent channels in the sum, the channel itself included.
        alpha, beta, k: the constants of the formula above (paper defaults).
        divide_alpha_by_size: False (default): the paper's ``alpha * sum``; True: Caffe's
            and PyTorch's ``alpha / n * sum``.

    The denominator is computed in float32 (under mixed precision ``k + alpha * sum``
    would otherwise round to ``k`` in bfloat16); the output has the layer's compute dtype.
    The layer has no weights.
    """

    def __init__(
        self,
        size: int = 5,
        alpha: float = 1e-4,
        beta: float = 0.75,
        k: float = 2.0,
        divide_alpha_by_size: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(size) != size or size < 1 or size % 2 == 0:
            raise ValueError(
                f"LocalResponseNormalization: size must be a positive odd integer; Received: size={size!r}"
            )
        self.size = int(size)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.k = float(k)
        self.divide_alpha_by_size = bool(divide_alpha_by_size)

    def call(self, x):
        half = self.size // 2
        channels = x.shape[-1]
        sq = ops.square(ops.cast(x, "float32"))
        padded = ops.pad(sq, [[0, 0]] * (len(x.shape) - 1) + [[half, half]])
        window = padded[..., 0:channels]
        for d in range(1, self.size):
            window = window + padded[..., d : d + channels]
        alpha = self.alpha / self.size if self.divide_alpha_by_size else self.alpha
        denom = ops.power(self.k + alpha * window, self.beta)
        return ops.cast(ops.cast(x, "float32") / denom, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "alpha": self.alpha,
            "beta": self.beta,
            "k": self.k,
            "divide_alpha_by_size": self.divide_alpha_by_size,
        }
