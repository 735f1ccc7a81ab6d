"""EfficientNet B0..B7 (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks"), layer for layer as keras.applications builds them, so its
ImageNet weights transfer.

Input range: float pixels in [0, 255]. As in keras.applications the model starts with
``rescaling`` (x / 255) and ``normalization`` (a Normalization layer: mean 0, variance 1,
i.e. the identity, when built with ``weights=None``; ImageNet's channel mean and standard
deviation with ``weights="imagenet"``). keras' weight files store the standard deviation
where Normalization expects the variance (tensorflow/tensorflow#49930), so with
``weights="imagenet"`` a third layer ``rescaling_1`` divides once more by sqrt(std), making
the stem exactly (x / 255 - mean) / std, as keras does.

Endpoints (:func:`kcnn.models.endpoints`), the last block's output at each stride (B0):
``block1a_project_bn`` (P1), ``block2b_add`` (P2), ``block3b_add`` (P3), ``block5c_add``
(P4), ``top_activation`` (P5); the deeper variants' last blocks of the same stages.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import keras
from keras import layers

from kcnn.blocks.mobile import EFFICIENTNET_CONV_INITIALIZER, make_divisible, mbconv, stride2_padding
from kcnn.models._base import build_classifier, family_builder, predictions, tap
from kcnn.models.imagenet import ImagenetSource, transfer_weights
from kcnn.registry import register_model

__all__ = ["DEFAULT_BLOCKS_ARGS", "EFFICIENTNET_VARIANTS", "IMAGENET_MEAN_RGB", "IMAGENET_STDDEV_RGB", "efficientnet"]
__all__ += [f"efficientnetb{i}" for i in range(8)]

_PAPER = "Tan & Le 2019, EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks"

# Table 1 of Tan & Le (the B0 baseline, stages 2-8), as keras.applications' DEFAULT_BLOCKS_ARGS
# (whose ``expand_ratio`` is ``expansion`` here, kcnn.blocks' name for it).
DEFAULT_BLOCKS_ARGS = (
    dict(kernel_size=3, repeats=1, filters_in=32, filters_out=16, expansion=1, strides=1, se_ratio=0.25),
    dict(kernel_size=3, repeats=2, filters_in=16, filters_out=24, expansion=6, strides=2, se_ratio=0.25),
    dict(kernel_size=5, repeats=2, filters_in=24, filters_out=40, expansion=6, strides=2, se_ratio=0.25),
    dict(kernel_size=3, repeats=3, filters_in=40, filters_out=80, expansion=6, strides=2, se_ratio=0.25),
    dict(kernel_size=5, repeats=3, filters_in=80, filters_out=112, expansion=6, strides=1, se_ratio=0.25),
    dict(kernel_size=5, repeats=4, filters_in=112, filters_out=192, expansion=6, strides=2, se_ratio=0.25),
    dict(kernel_size=3, repeats=1, filters_in=192, filters_out=320, expansion=6, strides=1, se_ratio=0.25),
)

# Compound scaling (width, depth, resolution) and top dropout per variant, keras.applications'
# and the reference code's table (the paper gives the method; the coefficients are the code's).
EFFICIENTNET_VARIANTS = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)

_DENSE_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"},
}


@dataclasses.dataclass(frozen=True)
class _EfficientNetSource(ImagenetSource):
    """keras.applications.EfficientNetB*: identical names except the auto-named preprocessing
    layers, whose one weighted layer (Normalization) is matched by type."""

    def load(self, model: keras.Model, include_top: bool, weights="imagenet") -> None:
        try:
            source = self.source_model(include_top=include_top, input_shape=model.input_shape[1:], weights=weights)
        except Exception as err:  # noqa: BLE001 - typically no network for the download
            raise RuntimeError(
                f"could not obtain keras.applications.{self.application} ImageNet weights "
                f"(a download on first use, cached in ~/.keras/models): {err}"
            ) from err
        norm = next(layer.name for layer in source.layers if isinstance(layer, layers.Normalization))
        transfer_weights(source, model, lambda name: norm if name == "normalization" else name)


def round_filters(filters: int, width_coefficient: float, divisor: int = 8) -> int:
    """Channels scaled by the width coefficient, rounded to a multiple of ``divisor``."""
    return make_divisible(filters * width_coefficient, divisor)


def round_repeats(repeats: int, depth_coefficient: float) -> int:
    """Blocks per stage scaled by the depth coefficient, rounded up."""
    return int(math.ceil(depth_coefficient * repeats))


@family_builder
def efficientnet(
    variant="b0",
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
    width_coefficient=None,
    depth_coefficient=None,
    default_size=None,
    dropout_rate=None,
    drop_connect_rate=0.2,
    depth_divisor=8,
    activation="swish",
    attention="se",
    blocks_args=DEFAULT_BLOCKS_ARGS,
):
    """EfficientNet (Tan & Le 2019): a 3x3 stride-2 stem, MBConv stages (``blocks_args``, scaled
    by ``width_coefficient`` and ``depth_coefficient``), a 1x1 convolution to 1280 scaled
    channels, global average pooling, dropout and a dense classifier. Every variant is one
    line over it.

    keras.applications' arguments: ``include_top``, ``weights`` (None, "imagenet", or a
    ``.weights.h5`` path), ``input_tensor``, ``input_shape`` (at least 32x32), ``pooling``,
    ``classes``, ``classifier_activation``, ``name``.

    ``variant`` ("b0".."b7") supplies the width, depth, default input size and top
    ``dropout_rate`` of :data:`EFFICIENTNET_VARIANTS`; any of them may be overridden.
    ``drop_connect_rate`` is the stochastic depth rate, raised linearly from 0 at the first
    block to ``drop_connect_rate * (n - 1) / n`` at the last (the reference code's and keras'
    schedule; the paper only says "survival probability 0.8"). ``attention``: "se"
    (squeeze-and-excitation with each stage's ``se_ratio``), None or a callable, see
    :func:`kcnn.blocks.mbconv`. BatchNorm epsilon 1e-3, momentum 0.99, swish and the reference
    initializers (except the SE convolutions, which keep Keras' default: ``squeeze_excite``
    takes no initializer). Inputs are pixels in [0, 255] (see the module docstring); at least
    32x32. ``weights="imagenet"`` needs the variant's architecture (every knob but the
    training-only ``dropout_rate`` and ``drop_connect_rate``).
    """
    if variant not in EFFICIENTNET_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(EFFICIENTNET_VARIANTS)}; Received: variant={variant!r}")
    defaults = EFFICIENTNET_VARIANTS[variant]
    width = defaults[0] if width_coefficient is None else width_coefficient
    depth = defaults[1] if depth_coefficient is None else depth_coefficient
    size = defaults[2] if default_size is None else default_size
    dropout = defaults[3] if dropout_rate is None else dropout_rate
    name = name or f"efficientnet{variant}"
    if weights == "imagenet":
        trained = dict(
            width_coefficient=defaults[0],
            depth_coefficient=defaults[1],
            default_size=defaults[2],
            depth_divisor=8,
            activation="swish",
            attention="se",
            blocks_args=DEFAULT_BLOCKS_ARGS,
        )
        given = dict(
            width_coefficient=width,
            depth_coefficient=depth,
            default_size=size,
            depth_divisor=depth_divisor,
            activation=activation,
            attention=attention,
            blocks_args=tuple(blocks_args),
        )
        for arg, value in given.items():
            if value != trained[arg]:
                raise ValueError(
                    f"{name}: weights='imagenet' need {arg}={trained[arg]!r} (the trained network); "
                    f"Received: {arg}={value!r}"
                )

    endpoints = {}

    def features(x):
        x = layers.Rescaling(1.0 / 255.0, name="rescaling")(x)
        x = layers.Normalization(axis=-1, name="normalization")(x)
        if weights == "imagenet":
            x = layers.Rescaling([1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB], name="rescaling_1")(x)
        x = layers.ZeroPadding2D(stride2_padding(x, 3), name="stem_conv_pad")(x)
        x = layers.Conv2D(
            round_filters(32, width, depth_divisor),
            3,
            strides=2,
            padding="valid",
            use_bias=False,
            kernel_initializer=EFFICIENTNET_CONV_INITIALIZER,
            name="stem_conv",
        )(x)
        x = layers.BatchNormalization(name="stem_bn")(x)
        x = tap(endpoints, layers.Activation(activation, name="stem_activation")(x), 2)
        stride = 2

        specs = copy.deepcopy(list(blocks_args))
        total = float(sum(round_repeats(spec["repeats"], depth) for spec in specs))
        b = 0
        for i, spec in enumerate(specs):
            if spec["repeats"] <= 0:
                raise ValueError(f"{name}: every stage needs repeats > 0; Received: blocks_args[{i}]={spec}")
            filters = round_filters(spec["filters_out"], width, depth_divisor)
            for j in range(round_repeats(spec["repeats"], depth)):
                x = mbconv(
                    x,
                    filters,
                    expansion=spec["expansion"],
                    kernel_size=spec["kernel_size"],
                    strides=spec["strides"] if j == 0 else 1,
                    attention=attention if spec.get("se_ratio") else None,
                    se_ratio=spec.get("se_ratio", 0.0),
                    activation=activation,
                    drop_rate=drop_connect_rate * b / total,
                    id_skip=spec.get("id_skip", True),
                    name=f"block{i + 1}{chr(j + 97)}",
                )
                b += 1
                stride *= spec["strides"] if j == 0 else 1
                tap(endpoints, x, stride)

        x = layers.Conv2D(
            round_filters(1280, width, depth_divisor),
            1,
            use_bias=False,
            kernel_initializer=EFFICIENTNET_CONV_INITIALIZER,
            name="top_conv",
        )(x)
        x = layers.BatchNormalization(name="top_bn")(x)
        return tap(endpoints, layers.Activation(activation, name="top_activation")(x), stride)

    def top(x, *, classes, classifier_activation):
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name="top_dropout")(x)
        return predictions(
            x,
            classes=classes,
            classifier_activation=classifier_activation,
            kernel_initializer=_DENSE_KERNEL_INITIALIZER,
        )

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
        default_shape=(size, size, 3),
        min_size=32,
        fixed_size=weights == "imagenet",
        imagenet=_EfficientNetSource(f"EfficientNet{variant.upper()}"),
        endpoints=endpoints,
    )


def _register(variant: str, params: int):
    size = EFFICIENTNET_VARIANTS[variant][2]
    return register_model(
        f"efficientnet{variant}",
        family="efficientnet",
        paper=_PAPER,
        input_shape=(size, size, 3),
        min_input=(32, 32, 3),
        params=params,
        params_source=f"keras.applications EfficientNet{variant.upper()}",
    )


@_register("b0", 5_330_571)
def efficientnetb0(**kwargs):
    """EfficientNet-B0: width 1.0, depth 1.0, 224x224 inputs, dropout 0.2."""
    return efficientnet("b0", **{"name": "efficientnetb0", **kwargs})


@_register("b1", 7_856_239)
def efficientnetb1(**kwargs):
    """EfficientNet-B1: width 1.0, depth 1.1, 240x240 inputs, dropout 0.2."""
    return efficientnet("b1", **{"name": "efficientnetb1", **kwargs})


@_register("b2", 9_177_569)
def efficientnetb2(**kwargs):
    """EfficientNet-B2: width 1.1, depth 1.2, 260x260 inputs, dropout 0.3."""
    return efficientnet("b2", **{"name": "efficientnetb2", **kwargs})


@_register("b3", 12_320_535)
def efficientnetb3(**kwargs):
    """EfficientNet-B3: width 1.2, depth 1.4, 300x300 inputs, dropout 0.3."""
    return efficientnet("b3", **{"name": "efficientnetb3", **kwargs})


@_register("b4", 19_466_823)
def efficientnetb4(**kwargs):
    """EfficientNet-B4: width 1.4, depth 1.8, 380x380 inputs, dropout 0.4."""
    return efficientnet("b4", **{"name": "efficientnetb4", **kwargs})


@_register("b5", 30_562_527)
def efficientnetb5(**kwargs):
    """EfficientNet-B5: width 1.6, depth 2.2, 456x456 inputs, dropout 0.4."""
    return efficientnet("b5", **{"name": "efficientnetb5", **kwargs})


@_register("b6", 43_265_143)
def efficientnetb6(**kwargs):
    """EfficientNet-B6: width 1.8, depth 2.6, 528x528 inputs, dropout 0.5."""
    return efficientnet("b6", **{"name": "efficientnetb6", **kwargs})


@_register("b7", 66_658_687)
def efficientnetb7(**kwargs):
    """EfficientNet-B7: width 2.0, depth 3.1, 600x600 inputs, dropout 0.5."""
    return efficientnet("b7", **{"name": "efficientnetb7", **kwargs})
