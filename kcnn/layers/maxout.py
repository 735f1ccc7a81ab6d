"""Maxout (Goodfellow, Warde-Farley, Mirza, Courville & Bengio 2013, "Maxout networks").

A maxout unit is the maximum of k linear pieces, h_i(x) = max_{j in 1..k} z_ij. Placed
after a convolution or dense layer with ``units * pieces`` outputs, ``Maxout(pieces)``
returns ``units`` channels; unit i takes the maximum over the consecutive channels
``i * pieces ... i * pieces + pieces - 1`` (pylearn2's grouping, as in the paper's code).
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["Maxout"]


@keras.saving.register_keras_serializable(package="kcnn")
class Maxout(keras.layers.Layer):
    """Maximum over groups of ``pieces`` consecutive channels of the last axis.

    The number of channels must be a multiple of ``pieces``; the output has
    ``channels // pieces`` channels. No weights: the pieces are the preceding layer's outputs.
    """

    def __init__(self, pieces: int = 2, **kwargs):
        super().__init__(**kwargs)
        if int(pieces) != pieces or pieces < 1:
            raise ValueError(f"Maxout: pieces must be a positive integer; Received: pieces={pieces!r}")
        self.pieces = int(pieces)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.pieces:
            raise ValueError(f"{self.name}: the input's {channels} channels are not a multiple of pieces={self.pieces}")

    def call(self, x):
        # x[..., j::p][..., i] is channel i * p + j: the maximum over j groups consecutive channels.
        out = x[..., 0 :: self.pieces]
        for j in range(1, self.pieces):
            out = ops.maximum(out, x[..., j :: self.pieces])
        return out

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // self.pieces)

    def get_config(self):
        return {**super().get_config(), "pieces": self.pieces}
