"""Backbones for the decoders: the zoo's classifiers as feature extractors.

:func:`backbone_endpoints` is the one place the decoders get their features from: the
zoo network's endpoints (:func:`kcnn.models.endpoints`, ``{"P1": ..., "P5": ...}``, ``P{k}``
the stage that ends at stride 2**k, keras-hub's ``pyramid_outputs``) built on the decoder's
input by :func:`kcnn.models.backbone`, optionally at ``output_stride`` 8 or 16 (the atrous
backbone of DeepLab and of torchvision's segmentation models; the builder's own dilation for
ResNets and VGG, the clone rewrite :func:`kcnn.models.backbone.dilate` for the others).

A decoder whose published layout taps other layers than the endpoints names them in
``taps`` (e.g. the TensorFlow segmentation tutorial's MobileNetV2 ``block_{1,3,6,13}_expand_relu``
for U-Net, the official DeepLab v3+'s stride-4 ``block_2_depthwise_relu``); those are
layer names of the same network, at the same strides as the endpoints they replace.
"""

from __future__ import annotations

import keras
from keras import layers

from kcnn.blocks.conv import conv_class
from kcnn.models.backbone import backbone as build_backbone
from kcnn.models.vgg import VGG_CONFIGS
from kcnn.registry import create_model, model_info

__all__ = ["OUTPUT_STRIDES", "backbone_endpoints", "backbone_min_size", "vgg_block", "load_vgg_conv_weights"]

OUTPUT_STRIDES = (8, 16, 32)
_VGG_CONFIG = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}


def backbone_min_size(backbone: str) -> int:
    """The smallest input side the registered network ``backbone`` takes with its defaults."""
    min_input = model_info(backbone).min_input
    return min_input[0] if min_input else 1


def backbone_endpoints(
    backbone: str, inputs, *, levels, output_stride: int = 32, weights=None, backbone_kwargs=None, taps=None
) -> dict:
    """``{level: tensor}`` of every endpoint of the zoo network ``backbone`` built without its
    top on ``inputs`` (its layers become the segmentation model's own); a level of ``levels``
    it lacks raises a one-line ValueError naming ``backbone``.

    ``weights``: the backbone's (None, "imagenet" or a file), ``backbone_kwargs``: more
    builder arguments (e.g. ``stride_on="3x3", use_bias=False`` for torchvision's ResNet).
    ``output_stride`` 8 or 16 dilates the backbone (32: as built). ``taps``: ``{level: layer
    name}`` replacing endpoints (see the module docstring).
    """
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"`output_stride` must be one of {OUTPUT_STRIDES}; Received: output_stride={output_stride!r}")
    features = build_backbone(
        backbone,
        input_tensor=inputs,
        output_stride=None if output_stride == 32 else output_stride,
        weights=weights,
        **(backbone_kwargs or {}),
    )
    names = {**features._kcnn_endpoints, **(taps or {})}
    missing = [level for level in levels if level not in names]
    if missing:
        raise ValueError(
            f"backbone={backbone!r} has no endpoint {', '.join(missing)} (it has {', '.join(names)}); "
            "the decoder needs it"
        )
    return {level: features.get_layer(layer).output for level, layer in names.items()}


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
        x = conv_class(dilation_rate)(
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
