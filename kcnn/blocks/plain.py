"""Layers of the plain (AlexNet / ZFNet / VGG era) networks with a choice of activation.

``conv_act`` and ``fc_act`` name their weighted layer exactly ``name`` (``conv1``,
``block1_conv1``, ``fc6``), as keras.applications' VGG does, so weights transfer by name.
``activation`` is one of :data:`ACTIVATIONS`; "maxout" (Goodfellow et al. 2013) makes the
layer produce ``pieces x units`` channels and keeps the maximum of each ``pieces``.
"""

from __future__ import annotations

import keras
from keras import layers

from kcnn.blocks.conv import conv_class
from kcnn.layers import Maxout

__all__ = [
    "ACTIVATIONS",
    "KERNEL_INITIALIZERS",
    "check_choice",
    "check_activation",
    "kernel_initializer_for",
    "conv_act",
    "fc_act",
]

ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "maxout")
# "paper": the family's own initialization (its builder says which); the others are Keras names.
KERNEL_INITIALIZERS = (
    "paper",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
)


def check_choice(value, allowed, arg: str) -> None:
    """One-line ValueError naming ``arg`` and the allowed values when ``value`` is not one of them."""
    if value not in allowed:
        raise ValueError(f"`{arg}` must be one of {', '.join(repr(a) for a in allowed)}; Received: {arg}={value!r}")


def check_activation(activation) -> None:
    check_choice(activation, ACTIVATIONS, "activation")


def kernel_initializer_for(choice, paper):
    """The kernel initializer for ``choice``: ``paper`` (an Initializer) for "paper", a Keras
    initializer for the other :data:`KERNEL_INITIALIZERS`, or ``choice`` itself if it is an Initializer."""
    if isinstance(choice, keras.initializers.Initializer):
        return choice
    check_choice(choice, KERNEL_INITIALIZERS, "kernel_initializer")
    return paper if choice == "paper" else keras.initializers.get(choice)


def _pieces(activation, maxout_pieces: int) -> int:
    check_activation(activation)
    if activation != "maxout":
        return 1
    if int(maxout_pieces) != maxout_pieces or maxout_pieces < 2:
        raise ValueError(f"`maxout_pieces` must be an integer >= 2; Received: maxout_pieces={maxout_pieces!r}")
    return int(maxout_pieces)


def conv_act(
    x,
    filters: int,
    kernel_size,
    *,
    strides=1,
    padding="same",
    activation="relu",
    maxout_pieces: int = 2,
    batch_norm: bool = False,
    bn_epsilon: float = 1e-5,
    bn_momentum: float = 0.9,
    groups: int = 1,
    dilation_rate=1,
    kernel_initializer="glorot_uniform",
    bias_initializer="zeros",
    kernel_constraint=None,
    name: str,
):
    """Conv2D ``name`` -> [BatchNorm ``{name}_bn``] -> activation.

    ``padding`` is "same", "valid" or an int p of symmetric zero padding (``{name}_pad``),
    as in the Caffe definitions (AlexNet conv2 pad 2). Without BatchNorm the activation
    sits inside the convolution (keras.applications' VGG layout); with it, it follows the
    BatchNorm as ``{name}_act`` (torchvision's vgg*_bn order: conv with bias, BN, ReLU;
    BN defaults are torchvision's eps 1e-5 and momentum 0.1, i.e. Keras momentum 0.9).
    "maxout" ends in ``{name}_maxout``.
    """
    pieces = _pieces(activation, maxout_pieces)
    if isinstance(padding, int):
        if padding:
            x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
        padding = "valid"
    inline = not batch_norm and pieces == 1
    x = conv_class(dilation_rate)(
        filters * pieces,
        kernel_size,
        strides=strides,
        padding=padding,
        groups=groups,
        dilation_rate=dilation_rate,
        activation=activation if inline else None,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        kernel_constraint=kernel_constraint,
        name=name,
    )(x)
    if batch_norm:
        x = layers.BatchNormalization(epsilon=bn_epsilon, momentum=bn_momentum, name=f"{name}_bn")(x)
    if pieces > 1:
        x = Maxout(pieces, name=f"{name}_maxout")(x)
    elif not inline:
        x = layers.Activation(activation, name=f"{name}_act")(x)
    return x


def fc_act(
    x,
    units: int,
    *,
    activation="relu",
    maxout_pieces: int = 2,
    kernel_initializer="glorot_uniform",
    bias_initializer="zeros",
    name: str,
):
    """Dense ``name`` with ``activation`` inside; "maxout" gives ``pieces x units`` outputs then ``{name}_maxout``."""
    pieces = _pieces(activation, maxout_pieces)
    x = layers.Dense(
        units * pieces,
        activation=None if pieces > 1 else activation,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        name=name,
    )(x)
    return Maxout(pieces, name=f"{name}_maxout")(x) if pieces > 1 else x
