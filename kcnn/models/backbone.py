"""Backbone endpoints: a classifier's feature maps by stride, for decoders (FCN, U-Net,
SegNet, DeepLab) that take any backbone, as keras-hub's ``pyramid_outputs``.

Each family's body records, while it is built, the output of its last block at each
stride 2**k of the input as endpoint ``"P{k}"`` (P0 = stride 1 where a network has
stride-1 stages, P1 = stride 2, ..., P5 = stride 32; only the strides the network has).
Endpoints are layer names, never layer indices::

    kcnn.models.endpoints("resnet50")
    # {"P1": "conv1_relu", "P2": "conv2_block3_out", "P3": "conv3_block4_out",
    #  "P4": "conv4_block6_out", "P5": "conv5_block3_out"}
    features = kcnn.models.backbone("resnet50", input_shape=(512, 512, 3), output_stride=16)
    features.output  # {"P1": ..., "P2": ..., "P3": ..., "P4": <KerasTensor (None, 32, 32, 2048)>}

Per family (each module docstring names its layers): ResNet v1/v2/SE P1-P5 (P0-P3 with
``stem="cifar"``), CIFAR ResNets P0-P2, DenseNet P1-P5 (CIFAR P0-P2), VGG P0-P5,
MobileNet v1/v2 P1-P5, EfficientNet P1-P5, GoogLeNet P1-P5, AlexNet P2-P5 and ZFNet
P1-P5. A map at stride 2**k has ceil or floor(H / 2**k) rows, except in AlexNet and
ZFNet, whose unpadded convolutions make them smaller (AlexNet 55, 27, 13, 6 at 227).
LeNet-5 has none: its layers are fixed to a 32x32 field and end in C5's 1x1 map.

``output_stride`` 8 or 16 (ResNets and VGG) turns the last strides into dilation, the
atrous backbone of DeepLab (torchvision's ``replace_stride_with_dilation``): the maps stop
at that stride, the parameters do not change, and the deepest endpoint is the stride's
(ResNet-50 at 16: P1-P4, P4 = ``conv5_block3_out``).
"""

from __future__ import annotations

import keras

from kcnn.registry import create_model

__all__ = ["backbone", "endpoints"]

_TOP_ARGUMENTS = ("include_top", "pooling", "classes", "classifier_activation")


def _recorded(model: keras.Model, name: str) -> dict:
    recorded = getattr(model, "_kcnn_endpoints", None)
    if not recorded:
        raise ValueError(
            f"{name} has no backbone endpoints: its builder records none (LeNet-5's layers are fixed "
            "to a 32x32 field and end in a 1x1 map)"
        )
    return dict(recorded)


def _features_model(name: str, kwargs: dict) -> keras.Model:
    given = [arg for arg in _TOP_ARGUMENTS if arg in kwargs]
    if given:
        raise ValueError(f"{name} backbone: {given[0]!r} does not apply, a backbone has no top (include_top=False)")
    return create_model(name, include_top=False, pooling=None, **kwargs)


def endpoints(model, **kwargs) -> dict:
    """``{"P1": layer name, ...}`` of a registered model's endpoints.

    ``model`` is a registered name (built without its top with ``kwargs``, the builder's
    knobs: e.g. ``endpoints("resnet18", stem="cifar")``) or a model a kcnn builder returned.
    """
    if isinstance(model, keras.Model):
        if kwargs:
            raise ValueError(f"endpoints of a built model take no keyword arguments; Received: {sorted(kwargs)}")
        return _recorded(model, model.name)
    return _recorded(_features_model(model, kwargs), model)


def backbone(name: str, *, input_shape=None, input_tensor=None, output_stride=None, **kwargs) -> keras.Model:
    """The registered model ``name`` without its top, as a keras.Model whose outputs are the
    dict ``{"P1": tensor, ...}`` of its endpoints (same layers, names and weights).

    ``input_shape`` / ``input_tensor`` / ``weights`` and the family's knobs are the builder's
    (``weights="imagenet"`` where keras.applications has them). ``output_stride`` 8 or 16
    (ResNets and VGG; None: the network's own) trades the last strides for dilation.
    """
    if output_stride is not None:
        kwargs["output_stride"] = output_stride
    model = _features_model(name, dict(kwargs, input_shape=input_shape, input_tensor=input_tensor))
    outputs = {level: model.get_layer(layer).output for level, layer in _recorded(model, name).items()}
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    features = keras.Model(inputs, outputs, name=model.name)
    features._kcnn_endpoints = _recorded(model, name)
    return features
