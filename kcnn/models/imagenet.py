"""ImageNet weights by transfer from keras.applications.

kcnn does not host weights. For the families keras.applications also ships, the
builder constructs the keras.applications model with its ImageNet weights (downloaded
by Keras on first use, cached in ~/.keras/models) and copies them layer by layer into
the kcnn model, matching layers by name through the family's name map.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras

__all__ = ["ImagenetSource", "transfer_weights"]


def transfer_weights(source: keras.Model, target: keras.Model, name_map: Callable[[str], str] | None = None) -> int:
    """Copy every weighted layer of ``target`` from the ``source`` layer ``name_map(name)``.

    Both models must hold the same weighted layers (after mapping) with the same
    shapes; the first difference raises ValueError naming the layer. Returns the
    number of layers copied.
    """
    name_map = name_map or (lambda n: n)
    src_layers = {layer.name: layer for layer in _weighted_layers(source)}
    used = set()
    for layer in _weighted_layers(target):
        src_name = name_map(layer.name)
        src = src_layers.get(src_name)
        if src is None:
            raise ValueError(
                f"weight transfer {source.name} -> {target.name}: layer {layer.name!r} "
                f"(looked up as {src_name!r}) is not in {source.name}"
            )
        want = [tuple(w.shape) for w in layer.weights]
        have = [tuple(w.shape) for w in src.weights]
        if want != have:
            raise ValueError(
                f"weight transfer {source.name} -> {target.name}: layer {layer.name!r} has "
                f"weights {want}, {source.name}'s {src_name!r} has {have}"
            )
        layer.set_weights(src.get_weights())
        if hasattr(layer, "finalize_state"):  # e.g. Normalization caches its mean and variance
            layer.finalize_state()
        used.add(src_name)
    left = [n for n in src_layers if n not in used]
    if left:
        raise ValueError(
            f"weight transfer {source.name} -> {target.name}: {len(left)} weighted layers of "
            f"{source.name} have no counterpart, first {left[0]!r}"
        )
    return len(used)


def _weighted_layers(model: keras.Model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _weighted_layers(layer)
        elif layer.weights:
            yield layer


@dataclasses.dataclass(frozen=True)
class ImagenetSource:
    """Where a family's ImageNet weights come from: a keras.applications constructor
    (by attribute name, e.g. "ResNet50") and the map from kcnn layer names to its names."""

    application: str
    name_map: Callable[[str], str] | None = None

    def source_model(self, *, include_top: bool, input_shape, weights="imagenet") -> keras.Model:
        build = getattr(keras.applications, self.application)
        return build(include_top=include_top, weights=weights, input_shape=tuple(input_shape))

    def load(self, model: keras.Model, include_top: bool, weights="imagenet") -> None:
        """Fill ``model`` with the weights of the matching keras.applications model."""
        try:
            source = self.source_model(include_top=include_top, input_shape=model.input_shape[1:], weights=weights)
        except Exception as err:  # noqa: BLE001 - typically no network for the download
            raise RuntimeError(
                f"could not obtain keras.applications.{self.application} ImageNet weights "
                f"(a download on first use, cached in ~/.keras/models): {err}"
            ) from err
        transfer_weights(source, model, self.name_map)
