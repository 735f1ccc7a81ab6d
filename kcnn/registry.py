"""One registry of model builders: ``register_model``, ``get_model``, ``list_models``,
``create_model`` and ``model_info``.

Each entry carries the facts the tests and the model table need (family, paper,
default input shape, the published parameter count and how it is counted), so one
harness can check every registered network against its source.

The built-in families register themselves when ``kcnn.models`` is imported; the
registry imports it before any lookup, so nothing depends on a caller remembering to.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import re
from collections.abc import Callable

__all__ = ["ModelInfo", "register_model", "get_model", "list_models", "create_model", "model_info"]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What is known about a registered model.

    ``params`` is the published parameter count for the default arguments, counted as
    ``params_convention`` says: ``"total"`` (``model.count_params()``, BatchNorm moving
    statistics included, as keras.applications counts) or ``"trainable"`` (as
    torchvision and timm count). ``params_tolerance`` is 0 for exact counts and a
    relative tolerance where the source rounds (e.g. "0.27M"). ``aux_loss_weights``: the
    loss weights of the auxiliary classifiers the builder adds with ``aux_logits=True``
    (GoogLeNet's 0.3, 0.3), which kcnn-train trains beside the main output.
    """

    name: str
    builder: Callable
    family: str
    paper: str
    input_shape: tuple
    params: int | None = None
    params_source: str = ""
    params_convention: str = "total"
    params_tolerance: float = 0.0
    small_input: tuple | None = None
    tags: tuple = ()
    aux_loss_weights: tuple = ()


_REGISTRY: dict[str, ModelInfo] = {}
_BUILTIN_LOADED = False


def register_model(
    name: str,
    *,
    family: str,
    paper: str,
    input_shape: tuple,
    params: int | None = None,
    params_source: str = "",
    params_convention: str = "total",
    params_tolerance: float = 0.0,
    small_input: tuple | None = None,
    tags: tuple = (),
    aux_loss_weights: tuple = (),
):
    """Decorator registering ``builder`` under ``name``; registering a name twice raises.

    ``small_input`` is the smallest input shape the tests use for a cheap forward pass
    (``None``: the default ``input_shape``).
    """
    if params_convention not in ("total", "trainable"):
        raise ValueError(f"params_convention must be 'total' or 'trainable', got {params_convention!r}")

    def decorator(builder: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered (by {_REGISTRY[name].builder.__module__})")
        _REGISTRY[name] = ModelInfo(
            name=name,
            builder=builder,
            family=family,
            paper=paper,
            input_shape=tuple(input_shape),
            params=params,
            params_source=params_source,
            params_convention=params_convention,
            params_tolerance=params_tolerance,
            small_input=tuple(small_input) if small_input else None,
            tags=tuple(tags),
            aux_loss_weights=tuple(aux_loss_weights),
        )
        return builder

    return decorator


def _load_builtin() -> None:
    global _BUILTIN_LOADED
    if not _BUILTIN_LOADED:
        _BUILTIN_LOADED = True
        importlib.import_module("kcnn.models")


def model_info(name: str) -> ModelInfo:
    """The registry entry for ``name``; an unknown name raises ValueError listing the closest names."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = closest_names(name, _REGISTRY)
        hint = f"closest: {', '.join(close)}" if close else f"available: {', '.join(sorted(_REGISTRY))}"
        raise ValueError(f"unknown model {name!r}; {hint}") from None


def closest_names(name: str, names, n: int = 5) -> list[str]:
    """The names most like ``name``: those of its family (the same leading letters, "lenet6" ->
    lenet5, lenet5_modern) first, then others by similarity."""
    names = list(names)
    stem = re.match(r"[a-z]*", str(name).lower()).group()
    similar = difflib.get_close_matches(name, names, n=len(names), cutoff=0.4)
    family = [m for m in similar if len(stem) >= 3 and m.startswith(stem)]
    return (family or similar)[:n]


def get_model(name: str) -> Callable:
    """The builder function registered under ``name``."""
    return model_info(name).builder


def list_models(family: str | None = None, tag: str | None = None) -> list[str]:
    """Sorted names of registered models, optionally of one family or carrying one tag."""
    _load_builtin()
    return sorted(
        n for n, i in _REGISTRY.items() if (family is None or i.family == family) and (tag is None or tag in i.tags)
    )


def create_model(model_name: str, /, **kwargs):
    """Build the model registered under ``model_name`` with the builder's keyword arguments
    (including ``name``, the Keras model name)."""
    return get_model(model_name)(**kwargs)
