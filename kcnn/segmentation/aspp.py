"""Atrous spatial pyramid pooling, DeepLab's multi-scale context module, in its two forms.

* :func:`aspp_sum` - DeepLab v2 (Chen et al. 2017, "DeepLab: semantic image segmentation
  with deep convolutional nets, atrous convolution, and fully connected CRFs", §3.3,
  Fig. 4): parallel atrous branches at rates 6, 12, 18, 24 ("ASPP-L"), each scoring the
  classes, their scores summed.
* :func:`aspp` - DeepLab v3 (Chen et al. 2017, "Rethinking atrous convolution for
  semantic image segmentation", §3.3): a 1x1 convolution, three 3x3 atrous convolutions
  (rates 6, 12, 18 at output stride 16, doubled at 8) and image-level features (global
  average pooling, 1x1 convolution, spread back over the map), all 256 filters with
  BatchNorm and ReLU, concatenated and projected by a 1x1 convolution (256, BN, ReLU).

Layer names ``{name}_...``; keras.layers only. (Lives here rather than in kcnn/blocks
while that package is being refactored; it can move there unchanged.)
"""

from __future__ import annotations

from keras import layers

from kcnn.blocks.conv import conv_class
from kcnn.layers import AtrousConv2D
from kcnn.segmentation.layers import BroadcastToReference

__all__ = ["aspp", "aspp_sum", "conv_bn_relu"]

BN = dict(epsilon=1e-5, momentum=0.9)  # torchvision's eps 1e-5, momentum 0.1


def conv_bn_relu(x, filters: int, kernel_size: int = 1, *, dilation_rate: int = 1, name: str):
    """``{name}_conv`` (no bias; :class:`kcnn.layers.AtrousConv2D` when dilated) - ``{name}_bn`` - ``{name}_relu``."""
    x = conv_class(dilation_rate)(
        filters, kernel_size, padding="same", dilation_rate=dilation_rate, use_bias=False, name=f"{name}_conv"
    )(x)
    x = layers.BatchNormalization(**BN, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def aspp_sum(x, classes: int, rates=(6, 12, 18, 24), *, branch_filters: int | None = None, dropout=0.5, name="aspp"):
    """DeepLab v2's ASPP: one branch per rate, summed (``{name}_sum``).

    ``branch_filters=None``: each branch is one 3x3 convolution of its rate straight to
    the classes (``{name}_c{i}``, the ResNet-101 model). An int: each branch is fc6 (3x3 of
    its rate, ``branch_filters``, ReLU, dropout) - fc7 (1x1, ReLU, dropout) - fc8 (1x1 to
    the classes), the VGG-16 model (1024 filters).
    """
    scores = []
    for i, rate in enumerate(rates):
        branch = f"{name}_c{i}"
        y = x
        if branch_filters:
            for fc, kernel, dilation in (("fc6", 3, rate), ("fc7", 1, 1)):
                y = AtrousConv2D(
                    branch_filters,
                    kernel,
                    padding="same",
                    dilation_rate=dilation,
                    activation="relu",
                    name=f"{branch}_{fc}",
                )(y)
                y = layers.Dropout(dropout, name=f"{branch}_{fc}_dropout")(y)
            scores.append(layers.Conv2D(classes, 1, name=f"{branch}_fc8")(y))
        else:
            scores.append(AtrousConv2D(classes, 3, padding="same", dilation_rate=rate, name=branch)(y))
    return layers.Add(name=f"{name}_sum")(scores)


def aspp(x, filters: int = 256, rates=(6, 12, 18), *, image_pooling: bool = True, dropout=0.5, name="aspp"):
    """DeepLab v3's ASPP: ``{name}_b0`` (1x1), ``{name}_b1..3`` (3x3 at ``rates``),
    ``{name}_pool`` (image features), concatenated, ``{name}_project`` (1x1), dropout."""
    branches = [conv_bn_relu(x, filters, 1, name=f"{name}_b0")]
    for i, rate in enumerate(rates, 1):
        branches.append(conv_bn_relu(x, filters, 3, dilation_rate=rate, name=f"{name}_b{i}"))
    if image_pooling:
        pooled = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool_gap")(x)
        pooled = conv_bn_relu(pooled, filters, 1, name=f"{name}_pool")
        branches.append(BroadcastToReference(name=f"{name}_pool_broadcast")([pooled, x]))
    x = layers.Concatenate(name=f"{name}_concat")(branches)
    x = conv_bn_relu(x, filters, 1, name=f"{name}_project")
    return layers.Dropout(dropout, name=f"{name}_dropout")(x) if dropout else x
