"""Dense blocks and transitions (Huang et al. 2017, "Densely connected convolutional
networks"). Pre-activation throughout (BN - ReLU - conv), as in the paper.

Layer names follow keras.applications' DenseNet: a dense layer ``{name}`` has
``{name}_0_bn``, ``_0_relu``, ``_1_conv``, ``_1_bn``, ``_1_relu`` (the bottleneck),
``_2_conv`` and ``{name}_concat``; a transition ``{name}`` has ``{name}_bn``, ``_relu``,
``_conv`` and ``_pool``.
"""

from __future__ import annotations

from keras import layers

from kcnn.blocks.conv import BN_EPSILON

__all__ = ["dense_layer", "dense_block", "dense_transition"]


def _bn_relu(x, name):
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _conv(x, filters, kernel_size, name, dropout):
    x = layers.Conv2D(
        filters, kernel_size, padding="same", use_bias=False, kernel_initializer="he_normal", name=f"{name}_conv"
    )(x)
    return layers.Dropout(dropout, name=f"{name}_drop")(x) if dropout else x


def dense_layer(
    x, growth_rate: int, *, bottleneck: bool = True, bottleneck_width: int = 4, dropout: float = 0.0, name: str
):
    """One layer of a dense block: [BN - ReLU - 1x1 conv to ``bottleneck_width * growth_rate``
    (the "B" of DenseNet-B)] - BN - ReLU - 3x3 conv to ``growth_rate``, concatenated to
    its input. ``dropout`` follows each conv (the paper uses 0.2 without augmentation)."""
    y = _bn_relu(x, f"{name}_0")
    if bottleneck:
        y = _conv(y, bottleneck_width * growth_rate, 1, f"{name}_1", dropout)
        y = _bn_relu(y, f"{name}_1")
    y = _conv(y, growth_rate, 3, f"{name}_2", dropout)
    return layers.Concatenate(name=f"{name}_concat")([x, y])


def dense_block(
    x,
    num_layers: int,
    growth_rate: int,
    *,
    bottleneck: bool = True,
    bottleneck_width: int = 4,
    dropout: float = 0.0,
    name: str,
):
    """``num_layers`` dense layers ``{name}_block1`` ... ``{name}_block{num_layers}``; adds
    ``num_layers * growth_rate`` channels."""
    for i in range(1, num_layers + 1):
        x = dense_layer(
            x,
            growth_rate,
            bottleneck=bottleneck,
            bottleneck_width=bottleneck_width,
            dropout=dropout,
            name=f"{name}_block{i}",
        )
    return x


def dense_transition(x, *, compression: float = 0.5, dropout: float = 0.0, name: str):
    """Transition layer: BN - ReLU - 1x1 conv to ``floor(compression * channels)`` - 2x2
    average pool, stride 2. ``compression < 1`` is the "C" of DenseNet-BC (theta = 0.5)."""
    if not 0 < compression <= 1:
        raise ValueError(f"compression must be in (0, 1]; Received: compression={compression!r}")
    x = _bn_relu(x, name)
    x = _conv(x, int(x.shape[-1] * compression), 1, name, dropout)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)
