"""Backbones for the decoders: the zoo's classifiers as feature extractors.

:func:`backbone_endpoints` is the one place the decoders get their features from: a
dict ``{"P1": tensor, ..., "P5": tensor}``, ``P{k}`` at stride 2**k (keras-hub's
``pyramid_outputs``), optionally with the last strides turned into dilation
(``output_stride`` 8 or 16, the atrous backbone of DeepLab and of torchvision's
segmentation models).

``P{k}`` is the last layer at stride 2**k, tapped by its keras name (never by index):
VGG ``block{k+1}_conv{n}`` and ``block5_pool``; ResNet ``conv1_relu``,
``conv2_block3_out``, ... (:func:`kcnn.models.resnet.resnet_endpoints`); MobileNetV2
``block_1/3/6/13_expand_relu``, ``out_relu``; EfficientNet ``block2a/3a/4a/6a_expand_activation``,
``top_activation``; DenseNet :func:`kcnn.models.densenet.densenet_endpoints`.

``output_stride`` rewrites a built backbone (``keras.models.clone_model``): the first
layer whose stride would take the network past it keeps the old dilation and loses its
stride; every later convolution is dilated by the strides removed so far. That is
TF-slim's ``output_stride`` and torchvision's ``replace_stride_with_dilation`` for any
backbone. The weights are copied, so ImageNet weights survive the rewrite.
"""

from __future__ import annotations

import re

import keras
from keras import layers

from kcnn.layers import AtrousConv2D
from kcnn.models.backbone import endpoints as recorded_endpoints
from kcnn.models.vgg import VGG_CONFIGS
from kcnn.registry import create_model, model_info

__all__ = ["ENDPOINT_FAMILIES", "endpoint_names", "backbone_endpoints", "dilate", "vgg_block", "load_vgg_conv_weights"]

ENDPOINT_FAMILIES = ("vgg", "resnet", "senet", "mobilenet", "efficientnet", "densenet")
OUTPUT_STRIDES = (8, 16, 32)
_VGG_CONFIG = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}
_MOBILENET_V2 = {
    "P1": "block_1_expand_relu",
    "P2": "block_3_expand_relu",
    "P3": "block_6_expand_relu",
    "P4": "block_13_expand_relu",
    "P5": "out_relu",
}
_MOBILENET_V1 = {f"P{k}": f"block{b}_pw_relu" for k, b in zip(range(1, 6), (1, 3, 5, 11, 13))}
_EFFICIENTNET = {
    "P1": "block2a_expand_activation",
    "P2": "block3a_expand_activation",
    "P3": "block4a_expand_activation",
    "P4": "block6a_expand_activation",
    "P5": "top_activation",
}


def _vgg_endpoints(config: str, batch_norm: bool) -> dict:
    blocks = VGG_CONFIGS[config].blocks
    act = "_act" if batch_norm else ""
    names = {f"P{b}": f"block{b + 1}_conv{len(convs)}{act}" for b, convs in enumerate(blocks)}
    return {**names, f"P{len(blocks)}": f"block{len(blocks)}_pool"}


def endpoint_names(backbone: str) -> dict:
    """``{"P1": layer name, ...}`` of a registered zoo network (``include_top=False``);
    a network without them raises a one-line ValueError naming ``backbone``."""
    info = model_info(backbone)
    if info.family == "vgg" and backbone.removesuffix("_bn") in _VGG_CONFIG:
        return _vgg_endpoints(_VGG_CONFIG[backbone.removesuffix("_bn")], backbone.endswith("_bn"))
    if info.family in ("resnet", "senet") and re.fullmatch(r"(?:se)?resnet(\d+)(v2)?", backbone):
        return recorded_endpoints(backbone)
    if info.family == "mobilenet":
        return _MOBILENET_V2 if backbone.startswith("mobilenetv2") else _MOBILENET_V1
    if info.family == "efficientnet":
        return _EFFICIENTNET
    if info.family == "densenet" and not backbone.endswith("_cifar"):
        return recorded_endpoints(backbone)
    raise ValueError(
        f"backbone={backbone!r} has no feature endpoints P1..P5 for a decoder; use an ImageNet-layout "
        f"network of the families {', '.join(ENDPOINT_FAMILIES)} (e.g. 'resnet50', 'mobilenetv2', 'vgg16')"
    )


def backbone_endpoints(
    backbone: str, inputs, *, levels, output_stride: int = 32, weights=None, backbone_kwargs=None
) -> dict:
    """``{level: tensor}`` for ``levels`` (e.g. ("P2", "P5")) of the zoo network ``backbone``
    built without its top on ``inputs`` (its layers become the segmentation model's own).

    ``weights``: the backbone's (None, "imagenet" or a file), ``backbone_kwargs``: more
    builder arguments (e.g. ``stride_on="3x3", use_bias=False`` for torchvision's ResNet).
    ``output_stride`` < 32 dilates the backbone (:func:`dilate`).
    """
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"`output_stride` must be one of {OUTPUT_STRIDES}; Received: output_stride={output_stride!r}")
    names = endpoint_names(backbone)
    missing = [level for level in levels if level not in names]
    if missing:
        raise ValueError(
            f"backbone={backbone!r} has no endpoint {', '.join(missing)} (it has {', '.join(names)}); "
            "the decoder needs it"
        )
    kwargs = dict(include_top=False, weights=weights, **(backbone_kwargs or {}))
    if output_stride == 32:
        model = create_model(backbone, input_tensor=inputs, **kwargs)
    else:
        model = dilate(create_model(backbone, input_shape=tuple(inputs.shape[1:]), **kwargs), output_stride, inputs)
    return {level: model.get_layer(names[level]).output for level in levels}


def _input_layers(layer) -> list:
    node = layer._inbound_nodes[0]
    return [t._keras_history.operation for t in node.input_tensors]


def _kernel(layer) -> int:
    size = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None) or (1,)
    return max(size)


def dilate(model: keras.Model, output_stride: int, inputs=None) -> keras.Model:
    """``model`` with its total stride capped at ``output_stride`` by dilation, built on
    ``inputs`` (a new Input when None), the weights copied (see the module docstring).

    A layer that loses its stride pads "same" (an explicit ZeroPadding2D before it is
    dropped to zero); a dilated convolution that pads "valid" raises, since it would shrink.
    Dilated Conv2D layers become :class:`kcnn.layers.AtrousConv2D` (same weights and
    outputs; TensorFlow's CPU gradient of a dilated Conv2D is many times slower).
    """
    changes, seen = {}, {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            seen[layer.name] = (1, 1)
            continue
        parents = [seen[p.name] for p in _input_layers(layer)]
        stride, rate = max(p[0] for p in parents), max(p[1] for p in parents)
        layer_stride = max(getattr(layer, "strides", None) or (1,))
        dilatable = hasattr(layer, "dilation_rate") and _kernel(layer) > 1
        config = {}
        if layer_stride > 1 and stride * layer_stride > output_stride:
            config["strides"] = 1
            if getattr(layer, "padding", "same") == "valid" and _kernel(layer) > 1:
                config["padding"] = "same"
                for parent in _input_layers(layer):
                    if isinstance(parent, layers.ZeroPadding2D):
                        changes[parent.name] = {"padding": ((0, 0), (0, 0))}
            seen[layer.name] = (stride, rate * layer_stride)
        else:
            seen[layer.name] = (stride * layer_stride, rate)
        if dilatable and rate > 1:
            if config.get("padding", layer.padding) == "valid":
                raise ValueError(f"cannot dilate layer {layer.name!r} of {model.name}: it pads 'valid'")
            config["dilation_rate"] = rate
        if config:
            changes[layer.name] = config

    def clone(layer):
        config = {**layer.get_config(), **changes.get(layer.name, {})}
        if layer.weights:  # overwritten below: skip drawing random numbers for them
            config.update({k: "zeros" for k in config if k.endswith("_initializer")})
        dilated_conv = type(layer) is layers.Conv2D and changes.get(layer.name, {}).get("dilation_rate", 1) > 1
        return (AtrousConv2D if dilated_conv else layer.__class__).from_config(config)

    if inputs is None:
        inputs = layers.Input(shape=model.input_shape[1:], name=model.layers[0].name)
    dilated = keras.models.clone_model(model, input_tensors=inputs, clone_function=clone)
    for layer in model.layers:
        if layer.weights:
            dilated.get_layer(layer.name).set_weights(layer.get_weights())
    return dilated


def vgg_block(
    x,
    block: int,
    *,
    config: str = "D",
    batch_norm: bool = False,
    dilation_rate: int = 1,
    first_padding: int | None = None,
    kernel_initializer="glorot_uniform",
):
    """The 3x3 convolutions of VGG block ``block`` (1-based) of ``VGG_CONFIGS[config]`` with
    the zoo's layer names and layout (``block{b}_conv{c}`` with the ReLU inside, or conv -
    ``_bn`` - ``_act`` with ``batch_norm``, as torchvision's vgg*_bn), so the zoo's VGG
    weights load by name; the pooling after it is the caller's (FCN, SegNet and DeepLab
    pool differently). ``first_padding``: zero padding of that many pixels before the
    block's first convolution, which then pads "valid" (FCN's conv1_1 pad 100)."""
    for c, filters in enumerate(VGG_CONFIGS[config].blocks[block - 1], 1):
        name = f"block{block}_conv{c}"
        padding = "same"
        if c == 1 and first_padding:
            x = layers.ZeroPadding2D(first_padding, name=f"{name}_pad")(x)
            padding = "valid"
        x = (AtrousConv2D if dilation_rate > 1 else layers.Conv2D)(
            filters,
            3,
            padding=padding,
            dilation_rate=dilation_rate,
            activation=None if batch_norm else "relu",
            kernel_initializer=kernel_initializer,
            name=name,
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
            x = layers.Activation("relu", name=f"{name}_act")(x)
    return x


def load_vgg_conv_weights(model: keras.Model, weights, *, config: str = "D", include_top: bool = False) -> keras.Model:
    """Copy the convolutions of the zoo's VGG (``config``) with ``weights`` ("imagenet" or a
    file) into ``model``'s layers of the same names (``block{b}_conv{c}``); returns the VGG."""
    names = {v: k for k, v in _VGG_CONFIG.items()}
    if config not in names:
        raise ValueError(
            f"backbone_weights: no zoo VGG for config={config!r}; configurations {', '.join(names)} have one"
        )
    vgg = create_model(names[config], weights=weights, include_top=include_top)
    for layer in vgg.layers:
        if layer.name.startswith("block") and layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    return vgg
