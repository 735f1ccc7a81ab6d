"""Keras layers the CNN notes need and Keras lacks. Backend-agnostic (keras.ops only)."""

from kcnn.layers.atrous import AtrousConv2D
from kcnn.layers.constraints import MaxFilterRMS
from kcnn.layers.lenet import LENET5_C3_TABLE, ConnectionTableConv2D, FanInUniform, Subsampling2D, scaled_tanh
from kcnn.layers.maxout import Maxout
from kcnn.layers.normalization import LocalResponseNormalization
from kcnn.layers.pooling import CeilModeMaxPooling2D, StochasticPooling2D
from kcnn.layers.shortcut import ZeroPadShortcut
from kcnn.layers.unpooling import MaxPoolingWithArgmax2D, MaxUnpooling2D

__all__ = [
    "AtrousConv2D",
    "CeilModeMaxPooling2D",
    "ConnectionTableConv2D",
    "FanInUniform",
    "LENET5_C3_TABLE",
    "LocalResponseNormalization",
    "MaxFilterRMS",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "Maxout",
    "StochasticPooling2D",
    "Subsampling2D",
    "ZeroPadShortcut",
    "scaled_tanh",
]
