"""Verification of exported artifacts: parity with Keras, test accuracy, size, CPU latency.

For every artifact the report gives:

* ``bytes`` (a SavedModel: all its files) and ``size_ratio`` to the float32 TFLite file;
* ``max_abs_diff`` (of the probabilities) and ``top1_agreement`` with the Keras model on
  the parity images (the first N test images);
* ``accuracy`` on the test images and ``accuracy_drop`` = Keras accuracy - artifact accuracy;
* ``latency_ms``: median wall time of ``latency_runs`` single-image calls (batch 1) after
  ``warmup`` calls, on this machine's CPU (TFLite and onnxruntime single-threaded);
* ``targets``: each of the format's targets (kcnn.export.formats) with its value and
  whether it is met.

Segmentation models are measured per pixel (agreement over all pixels; accuracy and
``mean_iou`` over the labelled pixels, when the labels are masks of the output's size:
pixels with the run's ignore label count nowhere, as in training's evaluation), with
``mean_iou_drop`` = Keras mIoU - artifact mIoU.

The hard check (:func:`hard_check_failure`) is the format's ``max_abs_diff``, except for
models that route values by max-pooling indices (SegNet's :class:`MaxUnpooling2D`): where
two inputs of a pooling window are within float32 rounding of each other, TFLite's kernels
may pick the other one, which moves a value to a neighbouring pixel and changes the
probabilities downstream. Measured on the trained SegNet preset over 1,000 test canvases:
15 of 31 million indices differed, every one a near tie (the two values 2.9e-6 apart at
most in Keras, less than the pooled inputs' own Keras-TFLite difference of 7.6e-6 to 1.3e-5),
9 canvases were touched, the probabilities moved by up to 2.3e-2 and 3 pixels of 4.1 million
changed class. Such models are checked by their pixel top-1 agreement instead
(:data:`ROUTED_TOP1_AGREEMENT`); the max difference is reported as measured.
"""

from __future__ import annotations

import os
import statistics
import time

import keras
import numpy as np

from kcnn.export.formats import FORMATS, ExportFormat
from kcnn.export.runtime import Artifact
from kcnn.layers import MaxUnpooling2D
from kcnn.training.metrics import segmentation_metrics

__all__ = [
    "ROUTED_TOP1_AGREEMENT",
    "keras_reference",
    "measure",
    "evaluate_targets",
    "hard_check_failure",
    "routes_by_indices",
    "to_markdown",
    "directory_size",
    "scores",
]
# At most one pixel in 1,000 may change class through near-tied pooling indices (measured: 3 in 4.1 million).
ROUTED_TOP1_AGREEMENT = 0.999


def directory_size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def scores(probabilities, labels, ignore_label: int | None = None) -> dict:
    """``{"accuracy": top-1 accuracy (per labelled pixel for segmentation), "mean_iou": the
    mean IoU (segmentation only, else None)}``; both None when the labels do not fit the
    outputs. A mask value outside [0, classes) other than ``ignore_label`` is a ValueError."""
    none = {"accuracy": None, "mean_iou": None}
    if labels is None:
        return none
    probabilities = np.asarray(probabilities)
    predicted = probabilities.argmax(-1)
    labels = np.asarray(labels)
    if labels.shape != predicted.shape:
        return none
    if predicted.ndim == 1:
        return {"accuracy": float(np.mean(predicted == labels)), "mean_iou": None}
    classes = probabilities.shape[-1]
    labelled = labels != ignore_label if ignore_label is not None else np.ones(labels.shape, bool)
    truth, predicted = labels[labelled].astype(np.int64), predicted[labelled]
    bad = (truth < 0) | (truth >= classes)
    if bad.any():
        raise ValueError(
            f"mask value {int(truth[bad][0])} is outside [0, {classes}) and is not the ignore label ({ignore_label})"
        )
    confusion = np.bincount(truth * classes + predicted, minlength=classes * classes).reshape(classes, classes)
    metrics = segmentation_metrics(confusion, range(classes))
    return {"accuracy": metrics["pixel_accuracy"], "mean_iou": metrics["mean_iou"]}


def _latency_ms(run, image: np.ndarray, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        run(image)
    times = []
    for _ in range(runs):
        tic = time.perf_counter()
        run(image)
        times.append(time.perf_counter() - tic)
    return 1000.0 * statistics.median(times)


def keras_reference(
    serving: keras.Model,
    parity_images,
    test_images=None,
    test_labels=None,
    *,
    ignore_label: int | None = None,
    latency_runs: int = 50,
    warmup: int = 5,
) -> dict:
    """The Keras model's outputs on the parity images, its test scores (:func:`scores`) and
    batch-1 latency (the serving model behind a ``tf.function``, as a TensorFlow program would call it)."""
    import tensorflow as tf

    def predict(images):
        return serving.predict(images, batch_size=256, verbose=0).astype(np.float32)

    parity = predict(parity_images)
    test = predict(test_images) if test_images is not None and len(test_images) else None
    call = tf.function(lambda x: serving(x, training=False))
    latency = _latency_ms(lambda x: call(tf.constant(x)).numpy(), np.asarray(parity_images[:1]), latency_runs, warmup)
    test_scores = scores(test, test_labels, ignore_label) if test is not None else scores(None, None)
    return {"parity_outputs": parity, **test_scores, "latency_ms": latency}


def measure(
    artifact: Artifact,
    reference: dict,
    parity_images,
    test_images=None,
    test_labels=None,
    *,
    ignore_label: int | None = None,
    latency_runs: int = 50,
    warmup: int = 5,
) -> dict:
    """Measure ``artifact`` against the Keras ``reference`` (:func:`keras_reference`)."""
    got = artifact(np.asarray(parity_images, np.uint8))
    want = reference["parity_outputs"]
    entry = {
        "path": artifact.path,
        "bytes": directory_size(artifact.path),
        "max_abs_diff": float(np.max(np.abs(got - want))),
        "top1_agreement": float(np.mean(got.argmax(-1) == want.argmax(-1))),
        "verified_on": int(len(parity_images)),
        "accuracy": None,
        "accuracy_drop": None,
        "mean_iou": None,
        "mean_iou_drop": None,
    }
    if test_images is not None and len(test_images):
        entry.update(scores(artifact(np.asarray(test_images, np.uint8)), test_labels, ignore_label))
        for name in ("accuracy", "mean_iou"):
            if entry[name] is not None and reference.get(name) is not None:
                entry[f"{name}_drop"] = reference[name] - entry[name]
    entry["latency_ms"] = _latency_ms(artifact, np.asarray(parity_images[:1], np.uint8), latency_runs, warmup)
    return entry


_TARGET_SENSE = {"max_abs_diff": "<=", "top1_agreement": ">=", "accuracy_drop": "<=", "size_ratio": "<="}


def evaluate_targets(fmt: ExportFormat, entry: dict, targets: dict | None = None) -> dict:
    """``{target: {"target": t, "value": v, "met": bool | None}}`` (None: not measured)."""
    out = {}
    for name, target in (fmt.targets if targets is None else targets).items():
        value = entry.get(name)
        met = None
        if value is not None:
            met = bool(value <= target + 1e-12) if _TARGET_SENSE[name] == "<=" else bool(value >= target - 1e-12)
        out[name] = {"target": target, "value": value, "met": met}
    return out


def routes_by_indices(model) -> bool:
    """Whether ``model`` (or a model nested in it) unpools by stored max-pooling indices."""
    return any(isinstance(layer, MaxUnpooling2D) for layer in model._flatten_layers())


def hard_check_failure(fmt: ExportFormat, entry: dict, *, routed: bool) -> str | None:
    """Why the measured ``entry`` fails ``fmt``'s hard check, or None when it passes: the
    max |diff| within ``fmt.max_abs_diff``, or for a model that ``routed`` values by pooling
    indices the pixel top-1 agreement of at least :data:`ROUTED_TOP1_AGREEMENT` (module docstring)."""
    if fmt.max_abs_diff is None:
        return None
    if routed:
        if entry["top1_agreement"] >= ROUTED_TOP1_AGREEMENT:
            return None
        return (
            f"agrees with the Keras model's class on {entry['top1_agreement']:.4%} of pixels (needed "
            f"{ROUTED_TOP1_AGREEMENT:.1%} for a model unpooling by max-pooling indices; max |diff| "
            f"{entry['max_abs_diff']:.3g})"
        )
    if entry["max_abs_diff"] <= fmt.max_abs_diff:
        return None
    return f"differs from the Keras model by {entry['max_abs_diff']:.3g} (allowed {fmt.max_abs_diff:g})"


def _fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _target_text(targets: dict) -> str:
    parts = []
    for name, t in targets.items():
        mark = {True: "met", False: "**NOT MET**", None: "not measured"}[t["met"]]
        parts.append(f"{name} {_TARGET_SENSE[name]} {t['target']:g}: {mark}")
    return "; ".join(parts) or "—"


def to_markdown(report: dict) -> str:
    """The report as a Markdown table, one row per artifact and one for the Keras model
    (segmentation models: a test mIoU column beside the pixel accuracy)."""
    k = report.get("keras", {})
    miou = k.get("mean_iou") is not None
    lines = [
        f"**{report['model']}** — parity on {report.get('verified_on', '?')} test images, accuracy on "
        f"{report.get('test_examples') or 0} test images, latency: median of {report['latency']['runs']} batch-1 "
        f"calls after {report['latency']['warmup']} warm-up calls",
        "",
        "| format | file | size | vs float32 | max abs diff | top-1 agreement | test accuracy | "
        + ("test mIoU | " if miou else "")
        + "latency (ms) | targets |",
        "|---|---|---:|---:|---:|---:|---:|" + ("---:|" if miou else "") + "---:|---|",
        f"| keras | model.keras | — | — | — | — | {_fmt(k.get('accuracy'), '.4f')} | "
        + (f"{_fmt(k.get('mean_iou'), '.4f')} | " if miou else "")
        + f"{_fmt(k.get('latency_ms'), '.3f')} | — |",
    ]
    for name, a in report["artifacts"].items():
        file = os.path.basename(a["path"]) + ("/" if FORMATS[name].kind == "savedmodel" else "")
        lines.append(
            f"| {name} | {file} | {a['bytes']:,} | {_fmt(a.get('size_ratio'), '.3f')} | {a['max_abs_diff']:.2e} | "
            f"{a['top1_agreement']:.4f} | {_fmt(a.get('accuracy'), '.4f')} | "
            + (f"{_fmt(a.get('mean_iou'), '.4f')} | " if miou else "")
            + f"{a['latency_ms']:.3f} | {_target_text(a.get('targets', {}))} |"
        )
    if report.get("hard_check") == "top1_agreement":
        lines += [
            "",
            f"The model unpools by max-pooling indices: the formats that should reproduce it (SavedModel, "
            f"float32 TFLite, ONNX) are checked by top-1 agreement >= {ROUTED_TOP1_AGREEMENT} (near-tied pooling "
            "windows may route a value to a neighbouring pixel), not by the max abs diff.",
        ]
    return "\n".join(lines) + "\n"
