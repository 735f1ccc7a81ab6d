"""Keras layers the CNN notes need and Keras lacks. Backend-agnostic (keras.ops only)."""

from kcnn.layers.lenet import LENET5_C3_TABLE, ConnectionTableConv2D, FanInUniform, Subsampling2D, scaled_tanh
from kcnn.layers.shortcut import ZeroPadShortcut

__all__ = ["ConnectionTableConv2D", "FanInUniform", "LENET5_C3_TABLE", "Subsampling2D", "scaled_tanh", "ZeroPadShortcut"]
