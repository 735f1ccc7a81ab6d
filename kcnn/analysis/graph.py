"""Walking a Keras model's layer graph, nested models included.

Functional and Sequential models are graphs of layer calls; a nested model is a layer of
its parent. Here every layer is named by its *path*: ``conv1`` at the top level,
``backbone/conv1`` inside a nested model called ``backbone``. ``run_graph`` executes a
model call by call (any backend), so callers can read (``capture``) or replace
(``overrides``) the output of any layer, inside nested models too, which a
``keras.Model(inputs, layer.output)`` cannot do for a nested layer.
"""

from __future__ import annotations

import difflib

import keras

__all__ = ["graph_of", "layer_paths", "find_layer", "run_graph", "spatial_layers"]


def graph_of(model):
    """The functional graph of a Functional or (built) Sequential model; None for any other layer."""
    if isinstance(model, keras.Sequential):
        if getattr(model, "_functional", None) is None:
            return None
        return model._functional
    if isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth") and hasattr(model, "_run_through_graph"):
        return model
    return None


def _ordered_operations(graph) -> list:
    """The graph's operations in execution order (deepest nodes first, as Keras runs them)."""
    seen, ordered = set(), []
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            op = node.operation
            if op is not None and id(op) not in seen:
                seen.add(id(op))
                ordered.append(op)
    return ordered


def layer_paths(model, prefix: str = "") -> dict:
    """``{path: layer}`` for every operation of ``model``'s graph, nested models expanded (their
    own path is listed too), in execution order."""
    graph = graph_of(model)
    if graph is None:
        raise ValueError(
            f"model {getattr(model, 'name', model)!r} is not a Functional or built Sequential model: "
            "its layer graph cannot be read (build it, or wrap it in a functional model)"
        )
    out = {}
    for op in _ordered_operations(graph):
        path = prefix + op.name
        if isinstance(op, keras.layers.InputLayer):
            if prefix:
                continue
        out[path] = op
        if graph_of(op) is not None and op is not model:
            out.update(layer_paths(op, prefix=path + "/"))
    return out


def find_layer(model, name: str, what: str = "layer"):
    """The layer at path ``name`` (a plain name also matches a unique nested layer); an unknown name
    raises ValueError listing the nearest names."""
    paths = layer_paths(model)
    if name in paths:
        return name, paths[name]
    tails = [p for p in paths if p.rsplit("/", 1)[-1] == name]
    if len(tails) == 1:
        return tails[0], paths[tails[0]]
    if len(tails) > 1:
        raise ValueError(f"{what} {name!r} is ambiguous in model {model.name!r}: give the path, one of {tails}")
    close = difflib.get_close_matches(name, list(paths), n=5, cutoff=0.5) or difflib.get_close_matches(
        name, list(paths), n=5, cutoff=0.0
    )
    raise ValueError(f"{what} {name!r} is not in model {model.name!r}; nearest names: {', '.join(close)}")


def spatial_layers(model) -> list:
    """Paths of the layers whose (first) output is a feature map (batch, height, width, channels) with
    height and width both above 1, in execution order; nested models' own paths excluded."""
    out = []
    for path, layer in layer_paths(model).items():
        if graph_of(layer) is not None or isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # a shared layer has several outputs
            continue
        if len(shape) == 4 and all(s is None or s > 1 for s in shape[1:3]):
            out.append(path)
    return out


def run_graph(model, inputs, capture=(), overrides=None, replace_calls=None):
    """Run ``model`` on ``inputs`` one layer call at a time (inference mode).

    ``capture``: layer paths whose outputs are returned in a dict (a layer called more than
    once: its last call). ``overrides``: ``{path: tensor}`` used as that layer's output instead
    of calling it (what depends on it is computed from the given tensor: the way to take
    gradients with respect to an inner activation under any backend). ``replace_calls``:
    ``{path: fn(layer, *args, **kwargs)}`` calls ``fn`` in place of the layer.
    Returns ``(outputs, captured)``.
    """
    graph = graph_of(model)
    if graph is None:
        raise ValueError(f"model {getattr(model, 'name', model)!r} has no functional graph to run")
    captured: dict = {}
    wanted = set(capture)
    _run(graph, inputs, "", wanted, overrides or {}, replace_calls or {}, captured)
    missing = wanted - set(captured)
    if missing:
        raise ValueError(f"layers {sorted(missing)} were not reached while running model {model.name!r}")
    return captured.pop("\0outputs"), captured


def _run(graph, inputs, prefix, wanted, overrides, replace_calls, captured):
    def operation_fn(op):
        path = prefix + op.name

        def call(*args, **kwargs):
            if path in overrides:
                out = overrides[path]
            elif path in replace_calls:
                out = replace_calls[path](op, *args, **kwargs)
            elif graph_of(op) is not None:
                nested_inputs = args[0] if len(args) == 1 else list(args)
                out = _run(graph_of(op), nested_inputs, path + "/", wanted, overrides, replace_calls, captured)
            else:
                out = op(*args, **kwargs)
            if path in wanted:
                captured[path] = out
            return out

        return call

    out = graph._run_through_graph(inputs, operation_fn=operation_fn)
    if not prefix:
        captured["\0outputs"] = out
    return out
