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
    features.output  # {"P1": ..., "P4": <(None, 32, 32, 1024)>, "P5": <(None, 32, 32, 2048)>}

Per family (each module docstring names its layers): ResNet v1/v2/SE P1-P5 (P0-P3 with
``stem="cifar"``), CIFAR ResNets P0-P2, DenseNet P1-P5 (CIFAR P0-P2), VGG P0-P5,
MobileNet v1/v2 P1-P5, EfficientNet P1-P5, GoogLeNet P1-P5, AlexNet P2-P5 and ZFNet
P1-P5. A map at stride 2**k has ceil or floor(H / 2**k) rows, except in AlexNet and
ZFNet, whose unpadded convolutions make them smaller (AlexNet 55, 27, 13, 6 at 227).
LeNet-5 has none: its layers are fixed to a 32x32 field and end in C5's 1x1 map.

``output_stride`` 8 or 16 turns the strides past it into dilation, the atrous backbone of
DeepLab (torchvision's ``replace_stride_with_dilation``, TF-slim's ``output_stride``). The
parameters do not change and neither do the endpoints: ``P{k}`` still names the stage that
ends at stride 2**k in the network's own layout (as TF-slim keys its end points by block),
only its map stops shrinking at the output stride (ResNet-50 at 16: P4 ``conv4_block6_out``
and P5 ``conv5_block3_out`` are both at stride 16). There is one way to ask for it,
``output_stride=``, and two ways it is carried out:

* ResNets (v1, v2, SE) and VGG take ``output_stride`` in their builder
  (:data:`OUTPUT_STRIDE_FAMILIES`): the blocks are built dilated, their dilated 3x3
  convolutions as :class:`kcnn.layers.AtrousConv2D` (TensorFlow's CPU gradient of a dilated
  ``Conv2D`` is many times slower; the module docstring of kcnn.layers.atrous has figures).
* Every other family is built as usual and rewritten by :func:`dilate`
  (``keras.models.clone_model``, weights copied; tested on MobileNet v1/v2 and EfficientNet,
  and against the ResNet builder's own dilation; a dilated layer that pads "valid" raises).
  Their builders do not take ``output_stride``: it goes through :func:`backbone`. Their
  dilated depthwise convolutions stay ``DepthwiseConv2D``: AtrousConv2D covers Conv2D only.
"""

from __future__ import annotations

import keras
from keras import layers

from kcnn.layers import AtrousConv2D
from kcnn.registry import create_model, model_info

__all__ = ["OUTPUT_STRIDE_FAMILIES", "OUTPUT_STRIDES", "backbone", "dilate", "endpoints"]

OUTPUT_STRIDES = (8, 16)
# Families whose builder takes output_stride (tests/models/test_backbone.py checks the list).
OUTPUT_STRIDE_FAMILIES = ("resnet", "senet", "vgg")
_TOP_ARGUMENTS = ("include_top", "pooling", "classes", "classifier_activation")


def _recorded(model: keras.Model, name: str) -> dict:
    recorded = getattr(model, "_kcnn_endpoints", None)
    if not recorded:
        raise ValueError(
            f"{name} has no backbone endpoints: its builder records none (LeNet-5's and the notes' small "
            "networks are whole classifiers, not encoders; a segmentation network is no backbone)"
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
    knobs: e.g. ``endpoints("resnet18", stem="cifar")``) or a model a kcnn builder (or
    :func:`backbone`) returned.
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
    (None: the network's own) trades the strides past it for dilation (module docstring).
    Built on a Keras tensor ``input_tensor``, the backbone's layers join its graph, so a
    decoder can use ``backbone(...).output`` and build one model from the same input.
    """
    if output_stride is not None and output_stride not in OUTPUT_STRIDES:
        raise ValueError(
            f"output_stride must be one of {(None, *OUTPUT_STRIDES)} (None: the network's own); "
            f"Received: output_stride={output_stride!r}"
        )
    rewrite = output_stride is not None and model_info(name).family not in OUTPUT_STRIDE_FAMILIES
    if output_stride is not None and not rewrite:
        kwargs["output_stride"] = output_stride
    if rewrite:
        # The plain network is built on its own input and cloned, dilated, onto input_tensor.
        if input_tensor is not None and input_shape is None:
            input_shape = tuple(input_tensor.shape[1:])
        model = _features_model(name, dict(kwargs, input_shape=input_shape))
        model = dilate(model, output_stride, input_tensor)
    else:
        model = _features_model(name, dict(kwargs, input_shape=input_shape, input_tensor=input_tensor))
    named = _recorded(model, name)
    outputs = {level: model.get_layer(layer).output for level, layer in named.items()}
    # On a given tensor the graph starts at that tensor's Input: a dilated clone's own input is
    # a stand-in Keras makes when the tensor is not an Input (e.g. a Normalization layer's output).
    inputs = keras.utils.get_source_inputs(input_tensor) if input_tensor is not None else model.inputs
    features = keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs, name=model.name)
    features._kcnn_endpoints = named
    return features


def _input_layers(layer) -> list:
    node = layer._inbound_nodes[0]
    return [t._keras_history.operation for t in node.input_tensors]


def _kernel(layer) -> int:
    size = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None) or (1,)
    return max(size)


def dilate(model: keras.Model, output_stride: int, inputs=None) -> keras.Model:
    """``model`` (built by a family without a builder ``output_stride``) with its total stride
    capped at ``output_stride`` by dilation, built on ``inputs`` (a new Input when None), the
    weights copied and the endpoints kept.

    The first layer whose stride would take the network past ``output_stride`` keeps the
    old dilation and loses its stride; every later convolution is dilated by the strides
    removed so far (TF-slim's ``output_stride``; torchvision's ``replace_stride_with_dilation``).
    A layer that loses its stride pads "same" (an explicit ZeroPadding2D before it is
    dropped to zero); a dilated layer that pads "valid" raises, since it would shrink.
    Dilated Conv2D layers become :class:`kcnn.layers.AtrousConv2D` (same weights and outputs).
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
    if hasattr(model, "_kcnn_endpoints"):
        dilated._kcnn_endpoints = dict(model._kcnn_endpoints)
    return dilated
