"""MobileNet v1 (Howard et al. 2017, "MobileNets: Efficient Convolutional Neural Networks for
Mobile Vision Applications") and MobileNet v2 (Sandler et al. 2018, "MobileNetV2: Inverted
Residuals and Linear Bottlenecks"), layer for layer as keras.applications builds them, so
its ImageNet weights transfer.

Both expect inputs scaled to [-1, 1] (``keras.applications.mobilenet.preprocess_input``,
"tf" mode: x / 127.5 - 1).

Endpoints (:func:`kcnn.models.endpoints`), the last block's output at each stride: v1
``conv1_relu`` (P1), ``block3_pw_relu`` (P2), ``block5_pw_relu`` (P3), ``block11_pw_relu``
(P4), ``block13_pw_relu`` (P5); v2 ``expanded_conv_project_BN`` (P1), ``block_2_add`` (P2),
``block_5_add`` (P3), ``block_12_add`` (P4), ``out_relu`` (P5) (with
``small_input_strides``: P0 to P3).
"""

from __future__ import annotations

import dataclasses
import re

import keras
from keras import layers

from kcnn.blocks.mobile import depthwise_separable_conv, inverted_residual, make_divisible
from kcnn.models._base import build_classifier, family_builder, tap
from kcnn.models.imagenet import ImagenetSource
from kcnn.registry import register_model

__all__ = [
    "MOBILENET_V1_LAYERS",
    "MOBILENET_V2_LAYERS",
    "mobilenet",
    "mobilenetv2",
    "mobilenet_050",
    "mobilenetv2_035",
    "mobilenetv2_140",
]

_V1_PAPER = "Howard et al. 2017, MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications"
_V2_PAPER = "Sandler et al. 2018, MobileNetV2: Inverted Residuals and Linear Bottlenecks"

# Table 1 of Howard et al.: (pointwise filters, stride) of the 13 depthwise-separable layers
# after the 32-filter stride-2 stem.
MOBILENET_V1_LAYERS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)

# Table 2 of Sandler et al.: (expansion t, channels c, repeats n, first stride s) per stage.
MOBILENET_V2_LAYERS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)

V1_IMAGENET_ALPHAS = (0.25, 0.50, 0.75, 1.0)
V2_IMAGENET_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
V1_IMAGENET_SIZES = (128, 160, 192, 224)
V2_IMAGENET_SIZES = (96, 128, 160, 192, 224)


@dataclasses.dataclass(frozen=True)
class _MobileNetSource(ImagenetSource):
    """keras.applications' MobileNet / MobileNetV2 at a width ``alpha``, built at the input
    size whose weights keras would load (it ships one set per size; 224 for other sizes)."""

    alpha: float = 1.0
    sizes: tuple = ()

    def source_model(self, *, include_top: bool, input_shape, weights="imagenet") -> keras.Model:
        rows, cols = tuple(input_shape)[:2]
        if not include_top and not (rows == cols and rows in self.sizes):
            input_shape = (224, 224, 3)  # keras loads the 224 weights then; they fit any size
        build = getattr(keras.applications, self.application)
        return build(include_top=include_top, weights=weights, input_shape=tuple(input_shape), alpha=self.alpha)


def _v1_keras_name(name: str) -> str:
    """kcnn's prefix names to keras': ``block3_dw_bn`` -> ``conv_dw_3_bn``, ``block3_pw`` -> ``conv_pw_3``."""
    m = re.fullmatch(r"block(\d+)_(dw|pw)(.*)", name)
    return f"conv_{m[2]}_{m[1]}{m[3]}" if m else name


def _spatial(input_shape, input_tensor):
    if input_shape is not None:
        return tuple(input_shape)[:2]
    if input_tensor is not None:
        return tuple(input_tensor.shape)[1:3]
    return (None, None)


def _check_imagenet(family, *, alpha, alphas, sizes, include_top, input_shape, input_tensor, fixed: dict):
    """keras.applications' conditions on ImageNet weights, as errors before any work."""
    if alpha not in alphas:
        raise ValueError(f"{family}: weights='imagenet' exist for alpha in {alphas} only; Received: alpha={alpha}")
    for arg, (value, default) in fixed.items():
        if value != default:
            raise ValueError(
                f"{family}: weights='imagenet' need {arg}={default!r} (the trained network); Received: {arg}={value!r}"
            )
    rows, cols = _spatial(input_shape, input_tensor)
    if include_top and (input_shape is not None or input_tensor is not None) and not (rows == cols and rows in sizes):
        raise ValueError(
            f"{family}: with include_top=True and weights='imagenet' the input must be square with "
            f"a side in {sizes}; Received: input size {rows}x{cols}"
        )


def _default_shape(input_shape, input_tensor, sizes):
    rows, cols = _spatial(input_shape, input_tensor)
    side = rows if rows == cols and rows in sizes else 224
    return (side, side, 3)


@register_model(
    "mobilenet",
    family="mobilenet",
    paper=_V1_PAPER,
    input_shape=(224, 224, 3),
    min_input=(32, 32, 3),
    params=4_253_864,
    params_source="keras.applications MobileNet (alpha 1.0)",
)
@family_builder
def mobilenet(
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="mobilenet",
    alpha=1.0,
    depth_multiplier=1,
    dropout=1e-3,
    activation="relu6",
    layer_specs=MOBILENET_V1_LAYERS,
):
    """MobileNet v1 (Howard et al. 2017): a 3x3 stride-2 convolution and 13 depthwise-separable
    convolutions (``layer_specs``, Table 1), global average pooling and a 1x1-conv classifier.

    ``alpha`` is the paper's width multiplier (every layer gets ``int(filters * alpha)``
    channels); ``depth_multiplier`` the depthwise convolutions' channel multiplier (keras
    calls it the "resolution multiplier"; the paper's resolution multiplier is simply the
    input size). ``activation`` "relu6" and the ``dropout`` of 1e-3 before the classifier
    are the TF-slim / keras implementation's; the paper says ReLU ("relu") and no dropout.
    Inputs in [-1, 1]. The family builder of the v1 variants (registered itself as "mobilenet").

    keras.applications' arguments: ``include_top``, ``weights`` (None, "imagenet" for keras'
    alphas and sizes, or a ``.weights.h5`` path), ``input_tensor``, ``input_shape`` (at least
    32x32: 32x downsampling), ``pooling``, ``classes``, ``classifier_activation``, ``name``. The classifier is keras':
    ``conv_preds`` (1x1 conv) and ``predictions`` (activation), so ImageNet weights transfer
    (kcnn's block names ``block{i}_dw`` map to keras' ``conv_dw_{i}``).
    """
    if weights == "imagenet":
        _check_imagenet(
            "mobilenet",
            alpha=alpha,
            alphas=V1_IMAGENET_ALPHAS,
            sizes=V1_IMAGENET_SIZES,
            include_top=include_top,
            input_shape=input_shape,
            input_tensor=input_tensor,
            fixed=dict(
                depth_multiplier=(depth_multiplier, 1),
                activation=(activation, "relu6"),
                layer_specs=(tuple(layer_specs), MOBILENET_V1_LAYERS),
            ),
        )

    endpoints = {}

    def features(x):
        x = layers.Conv2D(int(32 * alpha), 3, strides=2, padding="same", use_bias=False, name="conv1")(x)
        x = layers.BatchNormalization(name="conv1_bn")(x)
        x = tap(endpoints, layers.Activation(activation, name="conv1_relu")(x), 2)
        stride = 2
        for i, (filters, strides) in enumerate(layer_specs, start=1):
            x = depthwise_separable_conv(
                x,
                int(filters * alpha),
                strides=strides,
                depth_multiplier=depth_multiplier,
                activation=activation,
                name=f"block{i}",
            )
            stride *= strides
            tap(endpoints, x, stride)
        return x

    def top(x, *, classes, classifier_activation):
        x = layers.GlobalAveragePooling2D(keepdims=True, name="avg_pool")(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, 1, dtype="float32", name="conv_preds")(x)
        x = layers.Reshape((classes,), dtype="float32", name="reshape_2")(x)
        return layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)

    return build_classifier(
        name=name,
        features=features,
        top=top,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=_default_shape(input_shape, input_tensor, V1_IMAGENET_SIZES),
        min_size=32,
        imagenet=_MobileNetSource("MobileNet", _v1_keras_name, alpha=alpha, sizes=V1_IMAGENET_SIZES),
        endpoints=endpoints,
    )


@register_model(
    "mobilenetv2",
    family="mobilenet",
    paper=_V2_PAPER,
    input_shape=(224, 224, 3),
    min_input=(32, 32, 3),
    params=3_538_984,
    params_source="keras.applications MobileNetV2 (alpha 1.0)",
)
@family_builder
def mobilenetv2(
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="mobilenetv2",
    alpha=1.0,
    activation="relu6",
    small_input_strides=False,
    layer_specs=MOBILENET_V2_LAYERS,
):
    """MobileNet v2 (Sandler et al. 2018): a 3x3 stride-2 convolution, 17 inverted residuals with
    linear bottlenecks (``layer_specs``, Table 2: expansion, channels, repeats, stride), a
    1x1 convolution to 1280 channels, global average pooling and a dense classifier.

    ``alpha`` is the width multiplier: every layer's channels ``make_divisible(c * alpha, 8)``;
    the last convolution keeps 1280 unless ``alpha`` > 1 (paper and keras). BatchNorm
    epsilon 1e-3, momentum 0.999, ReLU6, as keras. Inputs in [-1, 1]. The family builder of
    the v2 variants (registered itself as "mobilenetv2").

    keras.applications' arguments: ``include_top``, ``weights`` (None, "imagenet" for keras'
    alphas and sizes, or a ``.weights.h5`` path), ``input_tensor``, ``input_shape`` (at least
    32x32), ``pooling``, ``classes``, ``classifier_activation``, ``name``.

    ``small_input_strides=True`` is *not in the paper*: the CIFAR variant of common
    reimplementations (kuangliu/pytorch-cifar) with stride 1 in the stem and in the second
    stage, so 32x32 inputs end at 4x4 rather than 1x1 (8x downsampling; at least 8x8,
    so 28x28 Fashion-MNIST builds too). Same layers and parameters; ImageNet weights still
    load (for fine-tuning) but the network then differs from the one they were trained in.
    """
    if weights == "imagenet":
        _check_imagenet(
            "mobilenetv2",
            alpha=alpha,
            alphas=V2_IMAGENET_ALPHAS,
            sizes=V2_IMAGENET_SIZES,
            include_top=include_top,
            input_shape=input_shape,
            input_tensor=input_tensor,
            fixed=dict(activation=(activation, "relu6"), layer_specs=(tuple(layer_specs), MOBILENET_V2_LAYERS)),
        )
    bn = dict(epsilon=1e-3, momentum=0.999)
    endpoints = {}

    def features(x):
        stem_strides = 1 if small_input_strides else 2
        x = layers.Conv2D(
            make_divisible(32 * alpha, 8), 3, strides=stem_strides, padding="same", use_bias=False, name="Conv1"
        )(x)
        x = layers.BatchNormalization(**bn, name="bn_Conv1")(x)
        x = tap(endpoints, layers.Activation(activation, name="Conv1_relu")(x), stem_strides)
        stride = stem_strides
        block_id = 0
        for stage, (t, c, n, s) in enumerate(layer_specs):
            if small_input_strides and stage == 1:
                s = 1
            for i in range(n):
                x = inverted_residual(
                    x,
                    make_divisible(int(c * alpha), 8),
                    expansion=t,
                    strides=s if i == 0 else 1,
                    activation=activation,
                    name=f"block_{block_id}" if block_id else "expanded_conv",
                )
                stride *= s if i == 0 else 1
                tap(endpoints, x, stride)
                block_id += 1
        last = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
        x = layers.Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
        x = layers.BatchNormalization(**bn, name="Conv_1_bn")(x)
        return tap(endpoints, layers.Activation(activation, name="out_relu")(x), stride)

    return build_classifier(
        name=name,
        features=features,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=_default_shape(input_shape, input_tensor, V2_IMAGENET_SIZES),
        min_size=8 if small_input_strides else 32,
        imagenet=_MobileNetSource("MobileNetV2", alpha=alpha, sizes=V2_IMAGENET_SIZES),
        endpoints=endpoints,
    )


# Representative width-multiplier variants (keras.applications ships ImageNet weights for them; every
# alpha in V1/V2_IMAGENET_ALPHAS builds through ``alpha=``). Counts are keras.applications'
# MobileNet(V2)(alpha=...).count_params(), checked against keras in tests/models/test_mobilenet.py.


@register_model(
    "mobilenet_050",
    family="mobilenet",
    paper=_V1_PAPER,
    input_shape=(224, 224, 3),
    min_input=(32, 32, 3),
    params=1_342_536,
    params_source="keras.applications MobileNet(alpha=0.5)",
)
def mobilenet_050(**kwargs):
    """MobileNet v1 at width multiplier 0.5."""
    return mobilenet(**{"alpha": 0.5, "name": "mobilenet_050", **kwargs})


@register_model(
    "mobilenetv2_035",
    family="mobilenet",
    paper=_V2_PAPER,
    input_shape=(224, 224, 3),
    min_input=(32, 32, 3),
    params=1_691_208,
    params_source="keras.applications MobileNetV2(alpha=0.35)",
)
def mobilenetv2_035(**kwargs):
    """MobileNet v2 at width multiplier 0.35."""
    return mobilenetv2(**{"alpha": 0.35, "name": "mobilenetv2_035", **kwargs})


@register_model(
    "mobilenetv2_140",
    family="mobilenet",
    paper=_V2_PAPER,
    input_shape=(224, 224, 3),
    min_input=(32, 32, 3),
    params=6_156_712,
    params_source="keras.applications MobileNetV2(alpha=1.4)",
)
def mobilenetv2_140(**kwargs):
    """MobileNet v2 at width multiplier 1.4."""
    return mobilenetv2(**{"alpha": 1.4, "name": "mobilenetv2_140", **kwargs})
