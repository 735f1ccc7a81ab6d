"""Convolution, BatchNorm, activation: the unit most networks are made of."""

from __future__ import annotations

from keras import layers

from kcnn.layers import AtrousConv2D

__all__ = ["conv_bn_act", "conv_class", "BN_EPSILON"]

BN_EPSILON = 1.001e-5  # keras.applications' ResNet/DenseNet value


def conv_class(dilation_rate=1) -> type:
    """``keras.layers.Conv2D``, or :class:`kcnn.layers.AtrousConv2D` (a Conv2D with the same
    weights and outputs whose dilated convolution trains many times faster on TensorFlow's
    CPU kernels) where ``dilation_rate`` > 1."""
    rates = dilation_rate if isinstance(dilation_rate, (tuple, list)) else (dilation_rate,)
    return AtrousConv2D if max(rates) > 1 else layers.Conv2D


def conv_bn_act(
    x,
    filters: int,
    kernel_size=3,
    *,
    strides=1,
    padding: str = "same",
    activation="relu",
    use_bn: bool = True,
    use_bias: bool | None = None,
    kernel_initializer="he_normal",
    bn_epsilon: float = BN_EPSILON,
    bn_momentum: float = 0.99,
    groups: int = 1,
    dilation_rate=1,
    name: str,
):
    """``{name}_conv`` -> ``{name}_bn`` -> ``{name}_act``.

    ``use_bias`` defaults to ``not use_bn`` (a bias before BatchNorm is redundant);
    ``activation=None`` leaves the activation out, ``use_bn=False`` the BatchNorm.
    A dilated convolution is :class:`kcnn.layers.AtrousConv2D` (see :func:`conv_class`).
    """
    if use_bias is None:
        use_bias = not use_bn
    x = conv_class(dilation_rate)(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        groups=groups,
        dilation_rate=dilation_rate,
        kernel_initializer=kernel_initializer,
        name=f"{name}_conv",
    )(x)
    if use_bn:
        x = layers.BatchNormalization(epsilon=bn_epsilon, momentum=bn_momentum, name=f"{name}_bn")(x)
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_act")(x)
    return x
