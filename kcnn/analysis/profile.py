"""Per-layer parameters, multiply-accumulates and receptive fields of a Keras model.

``profile(model, input_shape)`` walks the model's layer graph (nested models expanded)
with symbolic shapes only: no weights are built or copied and nothing is executed, so
even EfficientNet-B7 profiles in about a second. What each layer costs is in
:mod:`kcnn.analysis.costs`.

Receptive fields are in input pixels per spatial axis: a sliding window of ``k`` taps
(dilation included) with stride ``s`` turns field ``r`` and jump ``j`` (the distance in
input pixels between neighbouring outputs, the effective stride) into ``r + (k - 1) j``
and ``j s``. Where branches merge (residual additions, Inception and DenseNet
concatenations) the largest field of the inputs is kept. After a global operation
(global pooling, flatten, a squeeze-and-excitation gate) every output sees the whole
image: the field is shown as ``global``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math

import keras
from keras import tree

from kcnn.analysis.costs import Cost, rule_for
from kcnn.analysis.graph import graph_of
from kcnn.io import atomic_write_text

__all__ = ["profile", "Profile", "LayerProfile", "CONVENTIONS"]

CONVENTIONS = {
    "macs": "multiply-accumulates of convolutions and dense layers (torchvision's count)",
    "notes": "the notes' FLOPs formula H*W*(k*k*C_in + 1)*C_out: MACs plus one bias add per output",
}


@dataclasses.dataclass(frozen=True)
class LayerProfile:
    """One layer call. ``macs`` follows the profile's convention; ``macs`` and ``ops`` are None for a
    layer type with no cost rule (uncounted). ``receptive_field`` and ``jump`` are per spatial axis
    in input pixels (None where the output has no spatial grid or the geometry is unknown);
    ``global_field``: the output depends on the whole input image."""

    name: str
    type: str
    output_shape: tuple
    params: int
    trainable_params: int
    macs: int | None
    ops: int | None
    receptive_field: tuple | None
    jump: tuple | None
    global_field: bool = False

    @property
    def counted(self) -> bool:
        return self.macs is not None


@dataclasses.dataclass(frozen=True)
class Profile:
    """The rows of :func:`profile` and their totals; ``print(profile)`` shows a summary table."""

    model_name: str
    input_shape: tuple
    convention: str
    rows: tuple

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def trainable_params(self) -> int:
        return sum(r.trainable_params for r in self.rows)

    @property
    def macs(self) -> int:
        """Total multiply-accumulates of the counted convolution and dense layers."""
        return sum(r.macs or 0 for r in self.rows)

    @property
    def ops(self) -> int:
        """Total of the other operations (normalization, activation, pooling, merges)."""
        return sum(r.ops or 0 for r in self.rows)

    @property
    def uncounted(self) -> tuple:
        """Names of the layers whose type has no cost rule."""
        return tuple(r.name for r in self.rows if not r.counted)

    def row(self, name: str) -> LayerProfile:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no layer {name!r} in the profile of {self.model_name!r}")

    def _cells(self) -> list:
        return [
            [
                f"{r.name} ({r.type})",
                _shape_text(r.output_shape),
                f"{r.params:,}",
                "uncounted" if r.macs is None else f"{r.macs:,}",
                "uncounted" if r.ops is None else f"{r.ops:,}",
                _field_text(r),
                "-" if r.jump is None else _axes_text(r.jump),
            ]
            for r in self.rows
        ]

    def _header(self) -> list:
        macs = "MACs" if self.convention == "macs" else "FLOPs (notes)"
        return ["Layer (type)", "Output Shape", "Param #", macs, "Other ops", "Receptive field", "Jump"]

    def _totals(self) -> list:
        what = CONVENTIONS[self.convention]
        uncounted = ", ".join(self.uncounted) or "none"
        return [
            f"Total params: {self.total_params:,} (trainable: {self.trainable_params:,})",
            f"Total {'MACs' if self.convention == 'macs' else 'FLOPs (notes)'}: {self.macs:,} "
            f"({self.macs / 1e9:.3f} G; {what})",
            f"Other operations: {self.ops:,} (normalization, activation, pooling, merges; not in the total above)",
            f"Uncounted layers: {uncounted}",
        ]

    def __str__(self) -> str:
        header, cells = self._header(), self._cells()
        widths = [max(len(str(c)) for c in col) for col in zip(header, *cells)]
        right = {2, 3, 4}

        def line(values):
            return "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths)))

        rule = "=" * len(line(header))
        title = f'Profile of "{self.model_name}" at input {_shape_text((None, *self.input_shape))}'
        return "\n".join([title, rule, line(header), rule, *map(line, cells), rule, *self._totals()])

    def to_markdown(self) -> str:
        header = self._header()
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---", "---", "---:", "---:", "---:", "---", "---"])]
        lines[-1] += "|"
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in self._cells()]
        return "\n".join(lines + [""] + [f"- {t}" for t in self._totals()]) + "\n"

    def to_csv(self, path=None) -> str:
        """The rows as CSV (one column per field, receptive field and jump as ``HxW``); written to
        ``path`` atomically when given. Returns the text."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        macs = "macs" if self.convention == "macs" else "flops_notes"
        writer.writerow(
            ["name", "type", "output_shape", "params", macs, "other_ops", "receptive_field", "jump", "global_field"]
        )
        for r in self.rows:
            writer.writerow(
                [
                    r.name,
                    r.type,
                    _shape_text(r.output_shape),
                    r.params,
                    "" if r.macs is None else r.macs,
                    "" if r.ops is None else r.ops,
                    "" if r.receptive_field is None else _axes_text(r.receptive_field),
                    "" if r.jump is None else _axes_text(r.jump),
                    int(r.global_field),
                ]
            )
        text = buf.getvalue()
        if path is not None:
            atomic_write_text(path, text)
        return text


def _axes_text(values) -> str:
    values = [int(v) if float(v).is_integer() else round(v, 3) for v in values]
    return str(values[0]) if len(set(values)) == 1 else "x".join(str(v) for v in values)


def _field_text(r: LayerProfile) -> str:
    if r.global_field:
        return "global"
    return "-" if r.receptive_field is None else _axes_text(r.receptive_field)


def _shape_text(shape) -> str:
    if shape and isinstance(shape[0], tuple):
        return ", ".join(_shape_text(s) for s in shape)
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


@dataclasses.dataclass(frozen=True)
class _Geometry:
    field: tuple
    jump: tuple | None  # None: no spatial grid (after a global operation)
    global_field: bool = False


def _merge(geos: list) -> _Geometry | None:
    geos = [g for g in geos if g is not None]
    if not geos:
        return None
    n = max(len(g.field) for g in geos)
    geos = [g for g in geos if len(g.field) == n]
    field = tuple(max(g.field[i] for g in geos) for i in range(n))
    grids = [g.jump for g in geos if g.jump is not None]
    jump = tuple(max(j[i] for j in grids) for i in range(n)) if grids else None
    return _Geometry(field, jump, any(g.global_field for g in geos))


def _advance(geo: _Geometry | None, cost: Cost, in_shape, out_shape) -> _Geometry | None:
    """The receptive field after a layer with ``cost.window``, from the merged input geometry."""
    if geo is None:
        return None
    window = cost.window
    n = len(geo.field)
    if window is None:
        if len(out_shape) == 2 or len(in_shape) == 2 or tuple(in_shape[1:-1]) == tuple(out_shape[1:-1]):
            return geo if len(out_shape) > 2 else _Geometry(geo.field, None, geo.global_field)
        return None  # the spatial grid changed in a way no rule describes
    if window.kind == "keep":
        return geo
    if window.kind == "global":
        if geo.jump is None:
            return geo
        field = tuple(r + (s - 1) * j for r, s, j in zip(geo.field, in_shape[1 : n + 1], geo.jump))
        return _Geometry(field, None, True)
    if geo.jump is None or len(window.kernel) != n:
        return geo
    if window.kind == "sliding":
        field = tuple(r + (k - 1) * j for r, k, j in zip(geo.field, window.kernel, geo.jump))
        return _Geometry(field, tuple(j * s for j, s in zip(geo.jump, window.strides)), geo.global_field)
    # transposed convolution / upsampling: the output grid is `strides` times finer; an output pixel
    # sees ceil(k / s) input pixels per axis (a transposed convolution) or `kernel` (interpolation).
    if window.kind == "transposed":
        taps = [math.ceil(k / s) for k, s in zip(window.kernel, window.strides)]
    else:
        taps = list(window.kernel)
    field = tuple(r + (t - 1) * j for r, t, j in zip(geo.field, taps, geo.jump))
    return _Geometry(field, tuple(j / s for j, s in zip(geo.jump, window.strides)), geo.global_field)


class _Walker:
    def __init__(self, convention: str):
        self.convention = convention
        self.rows: list[LayerProfile] = []
        self.geometry: dict = {}
        self.seen_params: set = set()

    def params_of(self, layer) -> tuple:
        """(all, trainable) weights of ``layer``, counted at its first call only."""
        if id(layer) in self.seen_params:
            return 0, 0
        self.seen_params.add(id(layer))
        total = trainable = 0
        for w in getattr(layer, "weights", None) or ():
            n = math.prod(w.shape)
            total += n
            trainable += n if w.trainable else 0
        return total, trainable

    def add_row(self, path, op, inputs, outputs):
        in_shapes = [tuple(t.shape) for t in inputs]
        out_shapes = [tuple(t.shape) for t in outputs]
        rule = rule_for(op)
        cost = rule(op, in_shapes, out_shapes[0]) if rule is not None else None
        if not inputs:  # an input layer: its output's geometry is set by the caller
            geo = self.geometry.get(id(outputs[0]))
        elif cost is None:
            geo = None
        else:
            geo = _advance(_merge([self.geometry.get(id(t)) for t in inputs]), cost, in_shapes[0], out_shapes[0])
        for t in outputs:
            self.geometry[id(t)] = geo
        params, trainable = self.params_of(op)
        macs = None
        if cost is not None:
            macs = cost.macs + (cost.bias_adds if self.convention == "notes" else 0)
        self.rows.append(
            LayerProfile(
                name=path,
                type=type(op).__name__,
                output_shape=out_shapes[0] if len(out_shapes) == 1 else tuple(out_shapes),
                params=params,
                trainable_params=trainable,
                macs=macs,
                ops=None if cost is None else cost.ops,
                receptive_field=None if geo is None else geo.field,
                jump=None if geo is None else geo.jump,
                global_field=bool(geo and geo.global_field),
            )
        )

    def walk(self, graph, inputs: list, prefix: str):
        def call_fn(op, *args, **kwargs):
            path = prefix + op.name
            nested = graph_of(op)
            flat_in = [t for t in tree.flatten((args, kwargs)) if isinstance(t, _Spec)]
            if nested is not None:
                self.params_of(op)  # the nested model's weights are counted on its layers' rows
                return self.walk(nested, flat_in, path + "/")
            outputs = _output_spec(op, args, kwargs)
            self.add_row(path, op, flat_in, tree.flatten(outputs))
            return outputs

        if not prefix:
            for x, ref in zip(inputs, graph.inputs):
                op = ref._keras_history.operation
                spatial = len(x.shape) - 2
                self.geometry[id(x)] = _Geometry((1,) * spatial, (1,) * spatial) if spatial > 0 else None
                if op is not None:
                    self.add_row(op.name, op, [], [x])
        outputs = graph._run_through_graph(inputs, call_fn=call_fn)
        return outputs


class _Spec:
    """A symbolic tensor reduced to its shape and dtype: what the walk passes from layer to layer
    (creating a KerasTensor per layer costs more than the rest of the walk)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), dtype


def _is_shape(shape) -> bool:
    return isinstance(shape, (tuple, list)) and all(d is None or isinstance(d, int) for d in shape)


def _output_spec(op, args, kwargs):
    """The output ``_Spec`` (or structure of them) of ``op`` on ``args``: through the layer's own
    ``compute_output_shape`` when it is called on one tensor or one list of them, else through
    ``compute_output_spec`` on KerasTensors."""
    own_shape_fn = type(op).compute_output_shape is not keras.layers.Layer.compute_output_shape
    if isinstance(op, keras.layers.Layer) and own_shape_fn and len(args) == 1:
        arg = args[0]
        shape = None
        if any(isinstance(v, _Spec) for v in tree.flatten(kwargs)):
            pass
        elif isinstance(arg, _Spec):
            shape = op.compute_output_shape(arg.shape)
        elif isinstance(arg, (list, tuple)) and all(isinstance(a, _Spec) for a in arg):
            shape = op.compute_output_shape([a.shape for a in arg])
        if _is_shape(shape):
            return _Spec(shape, op.compute_dtype)
        if isinstance(shape, (tuple, list)) and shape and all(_is_shape(s) for s in shape):
            return [_Spec(s, op.compute_dtype) for s in shape]

    def symbolic(t):
        return keras.KerasTensor(t.shape, dtype=t.dtype, record_history=False) if isinstance(t, _Spec) else t

    args, kwargs = tree.map_structure(symbolic, (args, kwargs))
    outputs = op.compute_output_spec(*args, **kwargs)
    return tree.map_structure(lambda t: _Spec(t.shape, t.dtype), outputs)


def _input_specs(model, input_shape) -> list:
    refs = graph_of(model).inputs
    if input_shape is None:
        shapes = [tuple(r.shape[1:]) for r in refs]
        if any(s is None for shape in shapes for s in shape):
            raise ValueError(
                f"profile: model {model.name!r} has input shape {', '.join(_shape_text(r.shape) for r in refs)} "
                "with unknown sizes; pass input_shape=(height, width, channels), e.g. (224, 224, 3)"
            )
    else:
        shapes = (
            [tuple(input_shape)] if not isinstance(input_shape[0], (tuple, list)) else list(map(tuple, input_shape))
        )
        if len(shapes) != len(refs) or any(
            len(s) != len(r.shape) - 1
            or any(not isinstance(d, int) or d < 1 for d in s)
            or any(rd is not None and rd != d for rd, d in zip(r.shape[1:], s))
            for s, r in zip(shapes, refs)
        ):
            raise ValueError(
                f"profile: input_shape={input_shape!r} does not fit model {model.name!r}, whose input is "
                f"{', '.join(_shape_text(r.shape) for r in refs)}; give positive sizes without the batch axis "
                "matching its fixed sizes"
            )
    return [_Spec((None, *s), r.dtype) for s, r in zip(shapes, refs)]


def profile(model, input_shape=None, convention: str = "macs") -> Profile:
    """Per-layer parameters, MACs, other operations and receptive fields of ``model``.

    Args:
        model: a built Functional or Sequential Keras model (nested models are expanded).
        input_shape: ``(height, width, channels)`` without the batch axis (a list of them for
            several inputs); None: the model's own, which must be fully known.
        convention: ``"macs"`` (default; multiply-accumulates of convolutions and dense layers,
            comparable with torchvision's published counts) or ``"notes"`` (the notes' FLOPs
            formula, which adds one bias addition per output of those layers).

    Parameters are the layers' weights (``model.count_params()``: BatchNorm moving statistics
    included); a shared layer is counted once. Layers of a type with no rule in
    :data:`kcnn.analysis.costs.RULES` are listed in ``Profile.uncounted``.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"profile: convention must be one of {sorted(CONVENTIONS)}; Received: {convention!r}")
    if graph_of(model) is None:
        raise ValueError(
            f"profile: {getattr(model, 'name', model)!r} is not a built Functional or Sequential Keras model; "
            "call it once on an input (or give the Sequential an Input) so that its layer graph exists"
        )
    specs = _input_specs(model, input_shape)
    walker = _Walker(convention)
    walker.walk(graph_of(model), specs, "")
    shapes = tuple(tuple(s.shape[1:]) for s in specs)
    return Profile(model.name, shapes[0] if len(shapes) == 1 else shapes, convention, tuple(walker.rows))
