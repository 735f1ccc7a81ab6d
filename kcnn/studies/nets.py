"""The small networks the studies compare (not papers' networks, so not registered): a plain
3x3 stack with a choice of initialization and BatchNorm, and He et al.'s CIFAR plain and
residual networks at a chosen width. Built from kcnn's blocks with keras.layers only."""

from __future__ import annotations

import keras
from keras import layers

from kcnn.blocks.conv import conv_bn_act
from kcnn.blocks.residual import residual_basic
from kcnn.models._base import predictions

__all__ = ["INITIALIZERS", "initializer", "plain_cnn", "cifar_net"]

# The notes' three rules (000): W = randn * 0.01; Xavier W = randn / sqrt(fan_in); He W = randn / sqrt(fan_in / 2).
INITIALIZERS = {
    "normal_0.01": lambda: keras.initializers.RandomNormal(stddev=0.01),
    "xavier": lambda: keras.initializers.VarianceScaling(1.0, "fan_in", "untruncated_normal"),
    "he": lambda: keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal"),
    "normal_1": lambda: keras.initializers.RandomNormal(stddev=1.0),
}


def initializer(name: str) -> keras.initializers.Initializer:
    if name not in INITIALIZERS:
        raise ValueError(f"initializer must be one of {', '.join(INITIALIZERS)}; Received: {name!r}")
    return INITIALIZERS[name]()


def plain_cnn(
    *,
    depth: int = 10,
    width: int = 16,
    activation: str = "relu",
    init: str = "he",
    batch_norm: bool = False,
    input_shape=(28, 28, 1),
    classes: int = 10,
    name: str = "plain_cnn",
) -> keras.Model:
    """``depth`` 3x3 convolutions of ``width`` filters (doubling after each 2x2 max pooling,
    which follow the first and second third of the stack), each followed by [BatchNorm
    before the nonlinearity, as the notes place it] and ``activation``; global average
    pooling; a dense softmax layer. Layers ``conv{i}_conv`` / ``_bn`` / ``_act``.
    """
    x = inputs = keras.Input(input_shape, name="input")
    pools = {depth // 3, 2 * depth // 3}
    filters = width
    for i in range(1, depth + 1):
        x = conv_bn_act(
            x,
            filters,
            3,
            activation=activation,
            use_bn=batch_norm,
            kernel_initializer=initializer(init),
            name=f"conv{i}",
        )
        if i in pools:
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
            filters *= 2
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = predictions(x, classes=classes, classifier_activation="softmax", kernel_initializer=initializer(init))
    return keras.Model(inputs, x, name=name)


def _plain_basic(x, filters: int, *, stride: int, name: str):
    """residual_basic without its shortcut, layer for layer (a strided conv pads one pixel
    on every side, as residual_basic's does): He et al.'s plain counterpart."""
    padding = "same"
    if stride > 1:
        x = layers.ZeroPadding2D(1, name=f"{name}_1_pad")(x)
        padding = "valid"
    x = conv_bn_act(x, filters, 3, strides=stride, padding=padding, name=f"{name}_1")
    x = conv_bn_act(x, filters, 3, activation=None, name=f"{name}_2")
    return layers.Activation("relu", name=f"{name}_out")(x)


def cifar_net(
    depth: int, *, residual: bool, width: int = 16, input_shape=(28, 28, 1), classes: int = 10
) -> keras.Model:
    """He et al. 2015 §4.2's network of depth 6n+2: a 3x3 conv, three stages of n two-conv
    blocks with ``width``, 2x and 4x filters (stride 2 entering stages 2 and 3), global
    average pooling, dense. ``residual`` adds the option-A identity shortcuts
    (:func:`kcnn.blocks.residual.residual_basic`); without them it is the paper's plain net.
    """
    if (depth - 2) % 6 or depth < 8:
        raise ValueError(f"depth must be 6n+2; Received: depth={depth}")
    n = (depth - 2) // 6
    x = inputs = keras.Input(input_shape, name="input")
    x = conv_bn_act(x, width, 3, name="conv1")
    for stage in range(3):
        for block in range(n):
            stride = 2 if stage and not block else 1
            name = f"conv{stage + 2}_block{block + 1}"
            filters = width * 2**stage
            if residual:
                x = residual_basic(x, filters, strides=stride, shortcut="A", name=name)
            else:
                x = _plain_basic(x, filters, stride=stride, name=name)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = predictions(x, classes=classes, classifier_activation="softmax")
    kind = "resnet" if residual else "plain"
    return keras.Model(inputs, x, name=f"{kind}{depth}_w{width}")
