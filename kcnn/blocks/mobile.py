"""Mobile blocks: the depthwise-separable convolution of MobileNet v1 (Howard et al. 2017,
"MobileNets"), the inverted residual with linear bottleneck of MobileNet v2 (Sandler et
al. 2018, "MobileNetV2") and MBConv with squeeze-and-excitation and stochastic depth of
EfficientNet (Tan & Le 2019, after MnasNet).

Layer names follow keras.applications' names for the same networks, so its ImageNet
weights transfer by name: ``inverted_residual(..., name="block_1")`` makes
``block_1_expand``, ``block_1_depthwise_BN``, ...; ``mbconv(..., name="block2a")`` makes
``block2a_expand_conv``, ``block2a_se_reduce``, ``block2a_drop``, ... Backend-agnostic:
keras.layers only.
"""

from __future__ import annotations

from keras import layers

from kcnn.blocks.attention import apply_attention, check_attention

__all__ = [
    "make_divisible",
    "stride2_padding",
    "stochastic_depth",
    "depthwise_separable_conv",
    "inverted_residual",
    "mbconv",
    "EFFICIENTNET_CONV_INITIALIZER",
]

# keras.applications' EfficientNet initializer (the reference TPU code's conv_kernel_initializer).
EFFICIENTNET_CONV_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` channels to the nearest multiple of ``divisor``, never dropping more than
    10% (the rounding of the MobileNet v2 and EfficientNet reference code)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return int(rounded)


def stride2_padding(x, kernel_size: int) -> tuple:
    """Zero padding that makes a stride-2 "valid" convolution match TensorFlow's "same"
    (keras.applications' ``correct_pad``): ((k//2 - 1, k//2), ...) for even or unknown
    sizes, symmetric for odd sizes."""
    k = kernel_size // 2
    height, width = x.shape[1:3]
    adjust = (1, 1) if height is None else (1 - height % 2, 1 - (width if width is not None else 0) % 2)
    return ((k - adjust[0], k), (k - adjust[1], k))


def stochastic_depth(x, rate: float, *, name: str):
    """Drop the whole residual branch of an example with probability ``rate`` in training
    (Huang et al. 2016), scaling survivors by 1 / (1 - rate) so inference is the identity.

    This is the "drop connect" of the EfficientNet reference code and keras.applications:
    ``Dropout`` with ``noise_shape=(None, 1, 1, 1)``. (Huang et al. instead scale by the
    survival probability at inference; the two agree in expectation.)
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"stochastic depth rate must be in [0, 1); Received: rate={rate}")
    return layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=name)(x)


def _bn(x, eps, momentum, name):
    return layers.BatchNormalization(epsilon=eps, momentum=momentum, name=name)(x)


def depthwise_separable_conv(
    x,
    filters: int,
    *,
    strides: int = 1,
    depth_multiplier: int = 1,
    activation="relu6",
    bn_epsilon: float = 1e-3,
    bn_momentum: float = 0.99,
    kernel_initializer="glorot_uniform",
    name: str,
):
    """MobileNet v1's depthwise-separable convolution (Howard et al. 2017, Fig. 3):
    3x3 depthwise conv - BN - act - 1x1 pointwise conv to ``filters`` - BN - act.

    Layers ``{name}_pad`` (stride 2 only), ``{name}_dw``, ``{name}_dw_bn``, ``{name}_dw_relu``,
    ``{name}_pw``, ``{name}_pw_bn``, ``{name}_pw_relu``. A stride-2 block pads bottom/right
    by one and convolves "valid", as keras.applications does. ``activation`` is "relu6"
    as in the TF-slim and keras implementations; the paper says ReLU ("relu").
    """
    if strides != 1:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
    x = layers.DepthwiseConv2D(
        3,
        strides=strides,
        padding="same" if strides == 1 else "valid",
        depth_multiplier=depth_multiplier,
        use_bias=False,
        depthwise_initializer=kernel_initializer,
        name=f"{name}_dw",
    )(x)
    x = _bn(x, bn_epsilon, bn_momentum, f"{name}_dw_bn")
    x = layers.Activation(activation, name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=kernel_initializer, name=f"{name}_pw")(x)
    x = _bn(x, bn_epsilon, bn_momentum, f"{name}_pw_bn")
    return layers.Activation(activation, name=f"{name}_pw_relu")(x)


# Suffixes of the two keras.applications namings of the same inverted bottleneck.
_V2_NAMES = dict(
    expand="expand",
    expand_bn="expand_BN",
    expand_act="expand_relu",
    pad="pad",
    dw="depthwise",
    dw_bn="depthwise_BN",
    dw_act="depthwise_relu",
    project="project",
    project_bn="project_BN",
)
_MBCONV_NAMES = dict(
    expand="expand_conv",
    expand_bn="expand_bn",
    expand_act="expand_activation",
    pad="dwconv_pad",
    dw="dwconv",
    dw_bn="bn",
    dw_act="activation",
    project="project_conv",
    project_bn="project_bn",
)


def _inverted_bottleneck(
    x,
    filters,
    *,
    expansion,
    kernel_size,
    strides,
    activation,
    attention,
    se_filters,
    drop_rate,
    id_skip,
    bn_epsilon,
    bn_momentum,
    kernel_initializer,
    suffix,
    name,
):
    """Expand (1x1) - depthwise (kxk) - [attention] - project (1x1, linear) - [drop] - [add]."""
    inputs = x
    filters_in = x.shape[-1]
    n = {k: f"{name}_{v}" for k, v in suffix.items()}
    if expansion != 1:
        x = layers.Conv2D(
            filters_in * expansion, 1, use_bias=False, kernel_initializer=kernel_initializer, name=n["expand"]
        )(x)
        x = _bn(x, bn_epsilon, bn_momentum, n["expand_bn"])
        x = layers.Activation(activation, name=n["expand_act"])(x)
    if strides != 1:
        x = layers.ZeroPadding2D(stride2_padding(x, kernel_size), name=n["pad"])(x)
    x = layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding="same" if strides == 1 else "valid",
        use_bias=False,
        depthwise_initializer=kernel_initializer,
        name=n["dw"],
    )(x)
    x = _bn(x, bn_epsilon, bn_momentum, n["dw_bn"])
    x = layers.Activation(activation, name=n["dw_act"])(x)
    x = apply_attention(x, attention, reduced_filters=se_filters, activation=activation, name=name)
    x = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=kernel_initializer, name=n["project"])(x)
    x = _bn(x, bn_epsilon, bn_momentum, n["project_bn"])  # linear bottleneck: no activation
    if id_skip and strides == 1 and filters_in == filters:
        if drop_rate > 0:
            x = stochastic_depth(x, drop_rate, name=f"{name}_drop")
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def inverted_residual(
    x,
    filters: int,
    *,
    expansion: int = 6,
    strides: int = 1,
    kernel_size: int = 3,
    activation="relu6",
    drop_rate: float = 0.0,
    bn_epsilon: float = 1e-3,
    bn_momentum: float = 0.999,
    kernel_initializer="glorot_uniform",
    name: str,
):
    """MobileNet v2's inverted residual with linear bottleneck (Sandler et al. 2018, Table 1):
    1x1 expansion to ``expansion`` x input channels - BN - ReLU6 (left out when
    ``expansion`` is 1), 3x3 depthwise - BN - ReLU6, 1x1 linear projection to ``filters``
    - BN, and an identity shortcut when the stride is 1 and the channels match.

    keras.applications' names: ``{name}_expand``, ``{name}_expand_BN``, ``{name}_expand_relu``,
    ``{name}_pad``, ``{name}_depthwise``, ``{name}_depthwise_BN``, ``{name}_depthwise_relu``,
    ``{name}_project``, ``{name}_project_BN``, ``{name}_add`` (and ``{name}_drop`` when
    ``drop_rate`` > 0, stochastic depth, which the paper does not use).
    """
    return _inverted_bottleneck(
        x,
        filters,
        expansion=expansion,
        kernel_size=kernel_size,
        strides=strides,
        activation=activation,
        attention=None,
        se_filters=None,
        drop_rate=drop_rate,
        id_skip=True,
        bn_epsilon=bn_epsilon,
        bn_momentum=bn_momentum,
        kernel_initializer=kernel_initializer,
        suffix=_V2_NAMES,
        name=name,
    )


def mbconv(
    x,
    filters: int,
    *,
    expansion: int = 6,
    kernel_size: int = 3,
    strides: int = 1,
    attention="se",
    se_ratio: float = 0.25,
    activation="swish",
    drop_rate: float = 0.0,
    id_skip: bool = True,
    bn_epsilon: float = 1e-3,
    bn_momentum: float = 0.99,
    kernel_initializer=EFFICIENTNET_CONV_INITIALIZER,
    name: str,
):
    """MBConv, EfficientNet's block (Tan & Le 2019; Tan et al. 2019, MnasNet): the inverted
    bottleneck with swish, channel attention after the depthwise convolution and
    stochastic depth on the residual branch.

    ``expansion``: the expanded channels' multiple of the input channels (EfficientNet's
    ``expand_ratio``). ``attention``: None, "se" (squeeze-and-excitation to
    ``max(1, int(filters_in * se_ratio))`` channels with the block's activation and a sigmoid
    gate, as the reference code), or a callable ``f(x, name=...) -> x`` (see
    :func:`kcnn.blocks.apply_attention`). ``drop_rate``: stochastic depth rate (see
    :func:`stochastic_depth`), applied only when the shortcut exists (``id_skip``, stride
    1, equal channels). Layer names are keras.applications': ``{name}_expand_conv``,
    ``{name}_expand_bn``, ``{name}_expand_activation``, ``{name}_dwconv_pad``,
    ``{name}_dwconv``, ``{name}_bn``, ``{name}_activation``, ``{name}_se_*``,
    ``{name}_project_conv``, ``{name}_project_bn``, ``{name}_drop``, ``{name}_add``.
    """
    check_attention(attention)
    if attention == "se" and not 0 < se_ratio <= 1:
        raise ValueError(f"{name}: se_ratio must be in (0, 1] with attention='se'; Received: se_ratio={se_ratio}")
    return _inverted_bottleneck(
        x,
        filters,
        expansion=expansion,
        kernel_size=kernel_size,
        strides=strides,
        activation=activation,
        attention=attention,
        se_filters=max(1, int(x.shape[-1] * se_ratio)),
        drop_rate=drop_rate,
        id_skip=id_skip,
        bn_epsilon=bn_epsilon,
        bn_momentum=bn_momentum,
        kernel_initializer=kernel_initializer,
        suffix=_MBCONV_NAMES,
        name=name,
    )
