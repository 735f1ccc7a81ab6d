"""The keras.applications-style scaffold shared by every segmentation builder.

A builder describes its ``body(inputs) -> logits`` (per-pixel class scores at the input
resolution, or ``[logits, aux_logits]`` with an auxiliary head); :func:`build_segmenter`
checks the arguments, resolves the input, adds the per-pixel ``classifier_activation``
(layers ``predictions`` and ``aux_predictions``, float32 under mixed precision) and loads
``weights``. Only ``keras`` is used, so every network builds under any backend.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import keras
from keras import layers

from kcnn.models._base import check_input_layout, load_weights_file, model_input

__all__ = ["SizeRule", "at_least", "multiple_of", "build_segmenter", "check_choice"]


@dataclasses.dataclass(frozen=True)
class SizeRule:
    """Which input heights/widths a decoder takes: ``accepts(n)`` and the words for the error."""

    accepts: Callable[[int], bool]
    says: str


def multiple_of(n: int, why: str = "", *, minimum: int = 1) -> SizeRule:
    """Sides that are multiples of ``n`` and at least ``minimum`` (rounded up to a multiple):
    the error states the smallest, as registry ``min_input`` promises."""
    least = max(n, -(-minimum // n) * n)
    examples = ", ".join(str(n * k) for k in (2, 7, 8, 16) if n * k >= max(32, least))
    return SizeRule(
        lambda size: size % n == 0 and size >= least,
        f"multiples of {n}{why}, at least {least}x{least} (e.g. {examples})",
    )


def at_least(n: int) -> SizeRule:
    """Any side of ``n`` pixels or more."""
    return SizeRule(lambda size: size >= n, f"at least {n}x{n}")


def check_choice(value, allowed, arg: str) -> None:
    if value not in allowed:
        raise ValueError(f"`{arg}` must be one of {', '.join(repr(a) for a in allowed)}; Received: {arg}={value!r}")


def _check_arguments(weights, classes, classifier_activation):
    if weights == "imagenet":
        raise ValueError(
            "weights='imagenet' does not exist for a segmentation network; use weights=None or a path to a "
            ".weights.h5 file, and backbone_weights='imagenet' for an ImageNet-pretrained encoder"
        )
    if not (weights is None or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization) or the path to the "
            f"weights file to be loaded.  Received: weights={weights}"
        )
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer; Received: classes={classes!r}")
    keras.activations.get(classifier_activation)  # raises on an unknown name


def _resolve_input_shape(input_shape, channels: int, rule: SizeRule | None, name: str) -> tuple:
    input_shape = check_input_layout(input_shape)
    if input_shape is None:
        return (None, None, channels)
    if rule is not None and not all(side is None or rule.accepts(side) for side in input_shape[:2]):
        raise ValueError(f"{name}: input height and width must be {rule.says}; Received: input_shape={input_shape}")
    return input_shape


def build_segmenter(
    *,
    name: str,
    body: Callable,
    weights,
    input_tensor,
    input_shape,
    classes: int,
    classifier_activation,
    channels: int = 3,
    size_rule: SizeRule | None = None,
) -> keras.Model:
    """Assemble a segmentation model: ``body(inputs)`` gives the logits (or ``[logits, aux]``)
    at the input resolution; the model outputs per-pixel ``classifier_activation`` of them,
    shape (batch, H, W, classes). ``size_rule``: the input sizes the body takes, checked
    where the input shape is static; ``channels``: the default input channels."""
    _check_arguments(weights, classes, classifier_activation)
    if input_tensor is not None and input_shape is None:
        input_shape = tuple(input_tensor.shape[1:])
    input_shape = _resolve_input_shape(input_shape, channels, size_rule, name)
    img_input, inputs = model_input(input_tensor, input_shape)

    logits = body(img_input)
    heads = logits if isinstance(logits, (list, tuple)) else [logits]
    outputs = [
        layers.Activation(classifier_activation, dtype="float32", name=out_name)(head)
        for head, out_name in zip(heads, ("predictions", "aux_predictions"))
    ]
    model = keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=name)
    if weights is not None:
        load_weights_file(model, weights)
    return model
