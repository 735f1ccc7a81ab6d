"""Residual blocks: basic and bottleneck (He et al. 2015, "Deep residual learning for
image recognition"), pre-activation bottleneck (He et al. 2016, "Identity mappings in
deep residual networks"), each with pluggable channel attention on the residual branch
before the addition (``attention``: None, "se" - Hu et al. 2018's squeeze-and-excitation
with reduction 16 - or a callable; :func:`kcnn.blocks.apply_attention`).

Layer names follow keras.applications' ResNet: ``{name}_0_conv`` / ``_0_bn`` (projection
shortcut), ``{name}_1_conv``, ``_1_bn``, ``_1_relu``, ``_2_...``, ``_3_...``,
``{name}_se_...`` (attention), ``{name}_add`` and ``{name}_out`` (the block's output).

``dilation_rate`` dilates a block's 3x3 convolutions, ``first_dilation_rate`` (default: the
same) the one that runs before the block's stride point (timm's ``first_dilation``): a
backbone that trades its last strides for dilation (DeepLab; torchvision's
``replace_stride_with_dilation``) gives the block that would have strided the previous
dilation there and the new one after it, so every convolution sees the grid it saw before.

Shortcuts are the paper's options (§3.3): ``"A"`` identity, and a parameter-free
subsample-and-zero-pad (:class:`kcnn.layers.ZeroPadShortcut`) where the shape changes;
``"B"`` a 1x1 projection where the channel count changes, otherwise the identity (or,
where only the resolution changes, a strided subsampling: keras' ResNetV2, the paper's
Torch code); ``"C"`` a projection in every block.
"""

from __future__ import annotations

import keras
from keras import layers

from kcnn.blocks.attention import apply_attention
from kcnn.blocks.conv import BN_EPSILON, conv_bn_act
from kcnn.layers.shortcut import ZeroPadShortcut

__all__ = ["SHORTCUTS", "residual_shortcut", "residual_basic", "residual_bottleneck", "residual_preact_bottleneck"]

SHORTCUTS = ("A", "B", "C")
STRIDE_ON = ("1x1", "3x3")


def _check(shortcut, stride_on="1x1"):
    if shortcut not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {SHORTCUTS} (He et al. 2015 §3.3); Received: shortcut={shortcut!r}")
    if stride_on not in STRIDE_ON:
        raise ValueError(f"stride_on must be one of {STRIDE_ON}; Received: stride_on={stride_on!r}")


def _conv(x, filters, kernel_size, *, strides=1, dilation_rate=1, relu=True, use_bias=False, gamma_init=1.0, name):
    """conv -> BN (-> ReLU), layers ``{name}_conv``, ``{name}_bn``, ``{name}_relu``; the
    BN's gamma starts at ``gamma_init``.

    A strided 3x3 convolution pads one pixel on every side first (``{name}_pad``), as
    PyTorch and the paper's Caffe/Torch models do, instead of TensorFlow's asymmetric
    "same" padding.
    """
    padding = "same"
    if strides > 1:
        if kernel_size > 1:
            x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = conv_bn_act(
        x,
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        dilation_rate=dilation_rate,
        activation=None,
        use_bn=False,
        use_bias=use_bias,
        name=name,
    )
    gamma = "ones" if gamma_init == 1 else keras.initializers.Constant(float(gamma_init))
    x = layers.BatchNormalization(epsilon=BN_EPSILON, gamma_initializer=gamma, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def _needs_projection(x, filters, shortcut) -> bool:
    return shortcut == "C" or (shortcut == "B" and x.shape[-1] != filters)


def residual_shortcut(
    x, filters: int, *, strides: int = 1, shortcut: str = "B", use_bias: bool = False, use_bn: bool = True, name: str
):
    """The shortcut branch of a block whose residual branch ends with ``filters`` channels
    at ``strides``: the identity, option A's ``{name}_0_shortcut`` (no parameters), or a 1x1
    projection ``{name}_0_conv`` (+ ``{name}_0_bn`` unless ``use_bn=False``)."""
    _check(shortcut)
    if _needs_projection(x, filters, shortcut):
        return conv_bn_act(
            x,
            filters,
            1,
            strides=strides,
            padding="valid",
            activation=None,
            use_bn=use_bn,
            use_bias=use_bias,
            name=f"{name}_0",
        )
    if strides == 1 and x.shape[-1] == filters:
        return x
    return ZeroPadShortcut(filters, strides, name=f"{name}_0_shortcut")(x)


def residual_basic(
    x,
    filters: int,
    *,
    strides: int = 1,
    shortcut: str = "B",
    attention=None,
    use_bias: bool = False,
    last_gamma_init: float = 1.0,
    dilation_rate: int = 1,
    first_dilation_rate: int | None = None,
    name: str,
):
    """Basic block (He et al. 2015, Fig. 2 left; ResNet-18/34 and the CIFAR ResNets):
    3x3 conv (stride ``strides``) - BN - ReLU - 3x3 conv - BN [- attention], plus the
    shortcut, then ReLU. Output ``filters`` channels, layer ``{name}_out``.

    ``last_gamma_init``: the initial gamma of the branch's last BN: 1 as in the paper;
    0 is Goyal et al. 2017's zero-gamma (torchvision ``zero_init_residual``, timm
    ``zero_init_last``), which starts every block as an identity.
    """
    _check(shortcut)
    first = first_dilation_rate or dilation_rate
    residual = _conv(x, filters, 3, strides=strides, dilation_rate=first, use_bias=use_bias, name=f"{name}_1")
    residual = _conv(
        residual,
        filters,
        3,
        dilation_rate=dilation_rate,
        relu=False,
        use_bias=use_bias,
        gamma_init=last_gamma_init,
        name=f"{name}_2",
    )
    residual = apply_attention(residual, attention, name=name)
    identity = residual_shortcut(x, filters, strides=strides, shortcut=shortcut, use_bias=use_bias, name=name)
    x = layers.Add(name=f"{name}_add")([identity, residual])
    return layers.Activation("relu", name=f"{name}_out")(x)


def residual_bottleneck(
    x,
    filters: int,
    *,
    strides: int = 1,
    expansion: int = 4,
    stride_on: str = "1x1",
    shortcut: str = "B",
    attention=None,
    use_bias: bool = False,
    last_gamma_init: float = 1.0,
    dilation_rate: int = 1,
    first_dilation_rate: int | None = None,
    name: str,
):
    """Bottleneck block (He et al. 2015, Fig. 5 right; ResNet-50/101/152): 1x1 conv to
    ``filters`` - 3x3 conv - 1x1 conv to ``expansion * filters``, each followed by BN and
    all but the last by ReLU [- attention], plus the shortcut, then ReLU.

    ``stride_on="1x1"`` strides the first 1x1 conv, as the paper's original Caffe models,
    keras.applications and SENet's reference code do; ``"3x3"`` strides the 3x3 conv
    (torchvision's "ResNet v1.5", about 0.5% better top-1). ``use_bias=True`` adds the
    (redundant) conv biases of keras.applications' ResNet50. ``last_gamma_init`` as in
    :func:`residual_basic`.
    """
    _check(shortcut, stride_on)
    s1, s3 = (strides, 1) if stride_on == "1x1" else (1, strides)
    d3 = dilation_rate if stride_on == "1x1" else (first_dilation_rate or dilation_rate)
    residual = _conv(x, filters, 1, strides=s1, use_bias=use_bias, name=f"{name}_1")
    residual = _conv(residual, filters, 3, strides=s3, dilation_rate=d3, use_bias=use_bias, name=f"{name}_2")
    residual = _conv(
        residual, expansion * filters, 1, relu=False, use_bias=use_bias, gamma_init=last_gamma_init, name=f"{name}_3"
    )
    residual = apply_attention(residual, attention, name=name)
    identity = residual_shortcut(
        x, expansion * filters, strides=strides, shortcut=shortcut, use_bias=use_bias, name=name
    )
    x = layers.Add(name=f"{name}_add")([identity, residual])
    return layers.Activation("relu", name=f"{name}_out")(x)


def residual_preact_bottleneck(
    x,
    filters: int,
    *,
    strides: int = 1,
    expansion: int = 4,
    stride_on: str = "3x3",
    shortcut: str = "B",
    attention=None,
    dilation_rate: int = 1,
    first_dilation_rate: int | None = None,
    name: str,
):
    """Pre-activation bottleneck (He et al. 2016, Fig. 4e; ResNet v2): BN - ReLU
    (``{name}_preact_bn``, ``_preact_relu``), then 1x1 conv - BN - ReLU - 3x3 conv - BN -
    ReLU - 1x1 conv to ``expansion * filters`` [- attention], added to the shortcut with
    no activation after the addition (``{name}_out``).

    As in keras.applications' ResNet50V2: a projection shortcut is a biased 1x1 conv
    (no BN) on the pre-activated input, an identity or option-A shortcut takes the raw
    input; convs followed by BN have no bias, the last 1x1 has one. ``stride_on="3x3"``
    (keras, the paper's Torch code) or ``"1x1"``.
    """
    _check(shortcut, stride_on)
    out = expansion * filters
    preact = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_preact_bn")(x)
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if _needs_projection(x, out, shortcut):
        identity = layers.Conv2D(out, 1, strides=strides, kernel_initializer="he_normal", name=f"{name}_0_conv")(preact)
    else:
        identity = residual_shortcut(x, out, strides=strides, shortcut=shortcut, name=name)
    s1, s3 = (strides, 1) if stride_on == "1x1" else (1, strides)
    d3 = dilation_rate if stride_on == "1x1" else (first_dilation_rate or dilation_rate)
    residual = _conv(preact, filters, 1, strides=s1, name=f"{name}_1")
    residual = _conv(residual, filters, 3, strides=s3, dilation_rate=d3, name=f"{name}_2")
    residual = layers.Conv2D(out, 1, kernel_initializer="he_normal", name=f"{name}_3_conv")(residual)
    residual = apply_attention(residual, attention, name=name)
    return layers.Add(name=f"{name}_out")([identity, residual])
