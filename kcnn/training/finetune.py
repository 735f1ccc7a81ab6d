"""Fine-tuning as Keras' transfer-learning guide describes it.

Start from given weights, train the new head with the backbone frozen, then unfreeze
the whole network (or its top K blocks) at a lower learning rate. BatchNormalization
layers stay frozen throughout - in Keras 3 a non-trainable BatchNormalization runs in
inference mode, so the pretrained statistics are not overwritten by small batches.
"""

from __future__ import annotations

import os
import re

import keras

from kcnn.training.config import ConfigError

__all__ = [
    "HEAD_LAYERS",
    "block_of",
    "blocks",
    "freeze_backbone",
    "unfreeze",
    "load_backbone_weights",
    "check_backbone_weights",
    "check_unfreeze",
]

HEAD_LAYERS = ("predictions",)
_BLOCK = re.compile(r"^(conv\d+_block\d+|block_?\d+[a-z]?|inception\d[a-z]|mixed\d+|stage\d+_unit\d+|[a-z]+\d+)")


def block_of(layer_name: str) -> str:
    """The block a layer belongs to, read off kcnn's (keras-style) layer names:
    ``conv4_block2_1_conv`` -> ``conv4_block2``, ``block3a_expand_conv`` -> ``block3a``,
    ``block_5_project`` -> ``block_5``, ``inception4c_1x1_conv`` -> ``inception4c``, ``fc6`` -> ``fc6``."""
    match = _BLOCK.match(layer_name)
    return match.group(1) if match else layer_name


def blocks(model: keras.Model) -> list[str]:
    """Blocks holding weights, bottom to top, excluding the head."""
    order = []
    for layer in model.layers:
        if layer.weights and layer.name not in HEAD_LAYERS:
            name = block_of(layer.name)
            if name in order:
                order.remove(name)
            order.append(name)
    return order


def _is_norm(layer) -> bool:
    return isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Normalization))


def freeze_backbone(model: keras.Model) -> None:
    """Only the head trains."""
    for layer in model.layers:
        layer.trainable = layer.name in HEAD_LAYERS and not _is_norm(layer)


def check_unfreeze(value: str) -> None:
    if value != "all" and not (value.isdigit() and int(value) > 0):
        raise ConfigError("finetune.unfreeze", f"must be 'all' or a positive number of top blocks; got {value!r}")


def unfreeze(model: keras.Model, which: str = "all") -> list[str]:
    """Unfreeze all blocks or the top ``which`` of them (plus the head); BatchNorm stays frozen.

    Returns the names of the blocks now training.
    """
    check_unfreeze(which)
    order = blocks(model)
    chosen = set(order if which == "all" else order[-int(which) :])
    for layer in model.layers:
        trainable = layer.name in HEAD_LAYERS or block_of(layer.name) in chosen
        layer.trainable = trainable and not _is_norm(layer)
    return [b for b in order if b in chosen]


def check_backbone_weights(model: keras.Model, path: str) -> None:
    """ValueError unless the ``.weights.h5`` file at ``path`` holds weights for every layer of
    ``model`` but the head (a head of another class count is what fine-tuning replaces)."""
    from kcnn.models._base import first_mismatch

    if not os.path.isfile(path) or not path.endswith(".weights.h5"):
        raise ValueError(f"{path}: expected an existing .weights.h5 file or 'imagenet'")
    if (mismatch := first_mismatch(model, path, skip=HEAD_LAYERS)) is not None:
        raise ValueError(f"{path} does not cover the {model.name} backbone: {mismatch}")


def load_backbone_weights(model: keras.Model, path: str) -> None:
    """Load a ``.weights.h5`` file of the same network, checked by :func:`check_backbone_weights`
    first (ConfigError naming finetune.weights); the head is skipped when its size differs."""
    try:
        check_backbone_weights(model, path)
    except ValueError as err:
        raise ConfigError("finetune.weights", str(err)) from None
    model.load_weights(path, skip_mismatch=True)
