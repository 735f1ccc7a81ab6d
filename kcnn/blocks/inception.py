"""The Inception module of GoogLeNet (Szegedy et al. 2014, "Going deeper with convolutions", Fig. 2b).

Four parallel branches over the same input, concatenated along channels:
1x1 convolution; 1x1 reduction then 3x3; 1x1 reduction then 5x5; 3x3/1 max pooling then
a 1x1 projection. Every convolution is followed by ReLU ("all convolutions, including
those inside the Inception modules, use rectified linear activation").
"""

from __future__ import annotations

from keras import layers

from kcnn.blocks.conv import conv_bn_act

__all__ = ["inception_module"]


def inception_module(
    x,
    f1: int,
    f3r: int,
    f3: int,
    f5r: int,
    f5: int,
    pool_proj: int,
    *,
    name: str,
    kernel5: int = 5,
    batch_norm: bool = False,
    bn_epsilon: float = 1e-3,
    activation="relu",
    kernel_initializer="glorot_uniform",
):
    """One Inception module with Table 1's columns: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.

    Output channels: ``f1 + f3 + f5 + pool_proj``. Layers (``name`` = "inception3a"):
    ``inception3a_1x1_conv``, ``_3x3_reduce_conv``, ``_3x3_conv``, ``_5x5_reduce_conv``,
    ``_5x5_conv``, ``_pool``, ``_pool_proj_conv``, ``_concat``, each convolution followed
    by ``..._act`` (and ``..._bn`` before it when ``batch_norm``).

    The paper's module has biased convolutions and no BatchNorm (the default).
    ``batch_norm=True`` gives torchvision's BasicConv2d (conv without bias, BN with
    ``bn_epsilon`` 1e-3, ReLU); ``kernel5=3`` reproduces torchvision's GoogLeNet, whose
    "5x5" branch uses 3x3 kernels (kept there for its pretrained weights).
    """
    unit = dict(use_bn=batch_norm, bn_epsilon=bn_epsilon, activation=activation, kernel_initializer=kernel_initializer)
    b1 = conv_bn_act(x, f1, 1, name=f"{name}_1x1", **unit)
    b3 = conv_bn_act(x, f3r, 1, name=f"{name}_3x3_reduce", **unit)
    b3 = conv_bn_act(b3, f3, 3, name=f"{name}_3x3", **unit)
    b5 = conv_bn_act(x, f5r, 1, name=f"{name}_5x5_reduce", **unit)
    b5 = conv_bn_act(b5, f5, kernel5, name=f"{name}_5x5", **unit)
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn_act(bp, pool_proj, 1, name=f"{name}_pool_proj", **unit)
    return layers.Concatenate(name=f"{name}_concat")([b1, b3, b5, bp])
