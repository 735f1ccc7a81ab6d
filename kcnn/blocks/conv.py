"""Convolution, BatchNorm, activation: the unit most networks are made of."""

from __future__ import annotations

from keras import layers

__all__ = ["conv_bn_act", "BN_EPSILON"]

BN_EPSILON = 1.001e-5  # keras.applications' ResNet/DenseNet value


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
    """
    if use_bias is None:
        use_bias = not use_bn
    x = layers.Conv2D(
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
