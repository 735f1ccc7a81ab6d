"""The parameter-free residual shortcut of He et al. 2015 ("option A")."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["ZeroPadShortcut"]


@keras.saving.register_keras_serializable(package="kcnn")
class ZeroPadShortcut(keras.layers.Layer):
    """Identity shortcut for a change of shape without parameters (He et al. 2015, §3.3
    and §4.2, option A): keep every ``strides``-th pixel and pad the channels with zeros
    up to ``filters``.

    The extra channels are split evenly before and after the input's (the placement the
    common CIFAR implementations use; the paper only says "extra zero entries padded").
    ``filters=None`` keeps the channel count (pure subsampling).
    """

    def __init__(self, filters: int | None = None, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters = None if filters is None else int(filters)
        self.strides = int(strides)
        if self.strides < 1:
            raise ValueError(f"ZeroPadShortcut: strides must be >= 1; Received: strides={strides!r}")

    def _padding(self, channels: int) -> tuple[int, int]:
        extra = (self.filters or channels) - channels
        if extra < 0:
            raise ValueError(
                f"ZeroPadShortcut {self.name}: cannot reduce {channels} channels to {self.filters} "
                "without parameters; use a projection shortcut"
            )
        return extra // 2, extra - extra // 2

    def build(self, input_shape):
        self._padding(input_shape[-1])

    def call(self, x):
        if self.strides > 1:
            x = x[:, :: self.strides, :: self.strides, :]
        before, after = self._padding(x.shape[-1])
        if before or after:
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [before, after]])
        return x

    def compute_output_shape(self, input_shape):
        def sub(n):
            return None if n is None else -(-n // self.strides)

        return (input_shape[0], sub(input_shape[1]), sub(input_shape[2]), self.filters or input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}
