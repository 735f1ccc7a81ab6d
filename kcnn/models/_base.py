"""The keras.applications-style scaffold shared by every classifier builder.

A family builder describes only its body (``features``) and, where it differs from
global-average-pool + dense, its ``top``; ``build_classifier`` does the rest the way
keras.applications does: argument checks, input resolution, pooling, the classifier,
and weights. Only ``keras`` is used here, so every network builds under any backend.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import re
from collections.abc import Callable

import keras
from keras import layers

__all__ = [
    "build_classifier",
    "check_weights_argument",
    "dilated_with_file_weights",
    "family_builder",
    "tap",
    "resolve_input_shape",
    "load_weights_file",
    "dense_top",
]

POOLINGS = (None, "avg", "max")


def family_builder(builder: Callable) -> Callable:
    """Mark ``builder`` as a family builder, the one function every variant of a family calls.

    Its keyword arguments are the family's knobs; an unknown one raises, before any work,
    one TypeError that names the keyword, the model (its ``name``) and the knobs there are.
    Variants are one line over it (timm's style)::

        def resnet50(**kwargs):
            return resnet(50, **{**_KERAS_V1, "name": "resnet50", **kwargs})
    """
    params = inspect.signature(builder).parameters
    accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    @functools.wraps(builder)
    def checked(*args, **kwargs):
        unknown = [k for k in kwargs if k not in accepted]
        if unknown:
            model = kwargs.get("name") or builder.__name__
            raise TypeError(
                f"{model}: unknown keyword argument {unknown[0]!r}; {builder.__name__}() takes {', '.join(accepted)}"
            )
        return builder(*args, **kwargs)

    return checked


def dilated_with_file_weights(builder: Callable, args: dict) -> keras.Model:
    """``builder(**args)`` with an ``output_stride`` and a ``weights`` file: the file holds the
    undilated network's layers (plain Conv2D where the dilated one has AtrousConv2D, which a
    ``.weights.h5`` file tells apart), so it loads there and is copied by layer name."""
    kwargs = {k: args[k] for k in inspect.signature(builder).parameters if k in args}
    source = builder(**{**kwargs, "output_stride": None})
    model = builder(**{**kwargs, "weights": None})
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    return model


def check_weights_argument(weights, include_top: bool, classes: int, classifier_activation, imagenet: bool):
    """keras.applications' checks of ``weights``, ``classes`` and ``classifier_activation``."""
    if not (weights in (None, "imagenet") or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), 'imagenet' "
            "(pre-training on ImageNet), or the path to the weights file to be loaded.  "
            f"Received: weights={weights}"
        )
    if weights == "imagenet" and not imagenet:
        raise ValueError(
            "weights='imagenet' is not available for this network (keras.applications ships no "
            "ImageNet weights for it); use weights=None or a path to a .weights.h5 file"
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            "If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  "
            f"Received classes={classes}"
        )
    if weights is not None and include_top:
        act = keras.activations.get(classifier_activation)
        if act not in (keras.activations.get("softmax"), keras.activations.get(None)):
            raise ValueError(
                "Only `None` and `softmax` activations are allowed for the `classifier_activation` "
                "argument when using pretrained weights, with `include_top=True`; Received: "
                f"classifier_activation={classifier_activation}"
            )
    if not isinstance(classes, int) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer; Received: classes={classes!r}")


def check_input_layout(input_shape) -> tuple | None:
    """channels_last, and ``input_shape`` (if given) three sides: the checks every builder makes."""
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "kcnn builds channels_last models only; set keras.config.set_image_data_format('channels_last')"
        )
    if input_shape is None:
        return None
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            "`input_shape` must be a tuple of three integers (height, width, channels); "
            f"Received: input_shape={input_shape}"
        )
    return input_shape


def model_input(input_tensor, input_shape: tuple):
    """``(tensor the body takes, the model's inputs)`` for keras.applications' ``input_tensor``."""
    if input_tensor is None:
        img_input = layers.Input(shape=input_shape, name="input")
        return img_input, img_input
    if keras.backend.is_keras_tensor(input_tensor):
        sources = keras.utils.get_source_inputs(input_tensor)
        return input_tensor, sources[0] if len(sources) == 1 else sources
    img_input = layers.Input(tensor=input_tensor, shape=input_shape, name="input")
    return img_input, img_input


def resolve_input_shape(
    input_shape, *, default_shape: tuple, min_size: int, fixed_size: bool, weights=None, name: str = "model"
) -> tuple:
    """Validate ``input_shape`` (channels_last) and fill in the default.

    ``fixed_size`` is true for networks whose classifier flattens a feature map (VGG,
    AlexNet, LeNet): their include_top model needs a static height and width.
    """
    if input_shape is None:
        check_input_layout(None)
        if fixed_size or weights == "imagenet":
            return tuple(default_shape)
        return (None, None, default_shape[-1])
    input_shape = check_input_layout(input_shape)
    if weights == "imagenet" and input_shape[-1] != 3:
        raise ValueError(f"The input must have 3 channels; Received `input_shape={input_shape}`")
    if weights == "imagenet" and fixed_size and input_shape != tuple(default_shape):
        raise ValueError(
            "When setting `include_top=True` and loading `imagenet` weights, "
            f"`input_shape` should be {tuple(default_shape)}.  Received: input_shape={input_shape}"
        )
    for side in input_shape[:2]:
        if side is not None and side < min_size:
            raise ValueError(
                f"{name}: input size must be at least {min_size}x{min_size} for its downsampling; "
                f"Received: input_shape={input_shape}"
            )
    if fixed_size and None in input_shape[:2]:
        raise ValueError(
            f"If `include_top` is True, {name} needs a static `input_shape`. Received: input_shape={input_shape}"
        )
    return input_shape


def tap(endpoints: dict, x, stride: int):
    """Record ``x`` (a Keras tensor, or a layer's name) as the latest feature map at ``stride``
    in ``endpoints`` and return ``x``: a body taps each block's output, so the last block at
    each stride becomes endpoint ``P{log2(stride)}`` (see :mod:`kcnn.models.backbone`)."""
    endpoints[int(stride)] = x if isinstance(x, str) else x._keras_history.operation.name
    return x


def _endpoint_names(endpoints: dict) -> dict:
    named = {}
    for stride, layer_name in sorted(endpoints.items()):
        level = int(round(math.log2(stride)))
        if 2**level != stride:
            raise AssertionError(f"endpoint {layer_name!r} at stride {stride}, not a power of 2")  # pragma: no cover
        named[f"P{level}"] = layer_name
    return named


def dense_top(x, *, classes: int, classifier_activation, dropout: float = 0.0, pooling: str = "avg"):
    """Global pooling, optional dropout and the ``predictions`` dense layer (computed in float32)."""
    x = _global_pool(x, pooling)
    if dropout:
        x = layers.Dropout(dropout, name="top_dropout")(x)
    return predictions(x, classes=classes, classifier_activation=classifier_activation)


def predictions(x, *, classes: int, classifier_activation, **dense_kwargs):
    """The final dense layer, named ``predictions`` and kept in float32 under mixed precision."""
    return layers.Dense(classes, activation=classifier_activation, dtype="float32", name="predictions", **dense_kwargs)(
        x
    )


def _global_pool(x, pooling):
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def build_classifier(
    *,
    name: str,
    features: Callable,
    include_top: bool,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes: int,
    classifier_activation,
    default_shape: tuple,
    min_size: int,
    top: Callable | None = None,
    fixed_size: bool = False,
    imagenet=None,
    endpoints: dict | None = None,
) -> keras.Model:
    """Assemble a classifier the keras.applications way.

    ``features(x) -> x`` is the body; ``top(x, classes=, classifier_activation=) -> x``
    the classifier when include_top (default: global average pool + ``predictions``).
    ``fixed_size`` marks a flattening top. ``imagenet`` is the family's
    :class:`kcnn.models.imagenet.ImagenetSource` (None: no ImageNet weights exist).
    ``endpoints``: the dict ``features`` fills through :func:`tap`; the model carries it
    as ``{"P1": layer name, ...}`` for :func:`kcnn.models.backbone.endpoints`.
    """
    check_weights_argument(weights, include_top, classes, classifier_activation, imagenet is not None)
    if pooling not in POOLINGS:
        raise ValueError(f"`pooling` must be one of None, 'avg', 'max'; Received: pooling={pooling!r}")
    if input_tensor is not None and input_shape is None:
        input_shape = tuple(input_tensor.shape[1:])
    input_shape = resolve_input_shape(
        input_shape,
        default_shape=default_shape,
        min_size=min_size,
        fixed_size=fixed_size and include_top,
        weights=weights,
        name=name,
    )
    img_input, inputs = model_input(input_tensor, input_shape)

    x = features(img_input)
    if include_top:
        x = (top or dense_top)(x, classes=classes, classifier_activation=classifier_activation)
    else:
        x = _global_pool(x, pooling)
    model = keras.Model(inputs, x, name=name)
    if endpoints:
        model._kcnn_endpoints = _endpoint_names(endpoints)

    if weights == "imagenet":
        imagenet.load(model, include_top)
    elif weights is not None:
        load_weights_file(model, weights)
    return model


def load_weights_file(model: keras.Model, path) -> None:
    """Load a ``.weights.h5`` file; an architecture mismatch names the first layer that differs."""
    path = os.fspath(path)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"weights file {path}: expected a Keras '.weights.h5' file")
    if (mismatch := first_mismatch(model, path)) is not None:
        raise ValueError(f"weights file {path} does not fit model {model.name!r}: {mismatch}")
    try:
        model.load_weights(path)
    except Exception as err:  # noqa: BLE001 - re-raised with the layer that differs
        raise ValueError(
            f"weights file {path} does not fit model {model.name!r}: {first_mismatch(model, path) or err}"
        ) from err


def first_mismatch(model: keras.Model, path: str, skip=()) -> str | None:
    """Pair the model's layers with the file's groups and describe the first layer whose weights
    differ (None when they all fit); layers named in ``skip`` may differ.

    Keras 3's ``.weights.h5`` names a model's layers by class, not by ``layer.name``
    (``layers/conv2d``, ``layers/conv2d_1``, ... in ``model.layers`` order), so the groups
    are paired with the layers by the same rule.
    """
    import h5py  # a Keras dependency

    if not h5py.is_hdf5(path):
        raise ValueError(f"weights file {path}: not an HDF5 file (a Keras .weights.h5 file was expected)")
    stored = {}
    with h5py.File(path, "r") as f:
        if "layers" in f:
            for group_name, group in f["layers"].items():
                shapes = []
                group.visititems(
                    lambda k, v, shapes=shapes: shapes.append(tuple(v.shape)) if isinstance(v, h5py.Dataset) else None
                )
                stored[group_name] = sorted(shapes)
    used: dict = {}
    paired = set()
    for layer in model.layers:
        group = _unique_name(_snake_case(type(layer).__name__), used)
        paired.add(group)
        want = sorted(tuple(w.shape) for w in layer.weights)
        have = stored.get(group)
        if (not want and not have) or layer.name in skip:
            continue
        if have is None:
            return f"first mismatching layer {layer.name!r}: not in the file (no group {group!r})"
        if have != want:
            return f"first mismatching layer {layer.name!r}: model has weights {want}, the file's {group!r} has {have}"
    extra = [g for g, shapes in stored.items() if shapes and g not in paired]
    return f"the file has weighted layers the model lacks, first {extra[0]!r}" if extra else None


def _snake_case(name: str) -> str:
    """keras.src.utils.naming.to_snake_case, which names the groups of a .weights.h5 file."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique_name(name: str, used: dict) -> str:
    """keras.src.saving.saving_lib._get_unique_name: ``conv2d``, ``conv2d_1``, ..."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name
