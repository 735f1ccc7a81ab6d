"""Export a trained model to several formats at once, verify each artifact, and move the
whole export into place atomically.

:func:`export_model` writes one export directory: the SavedModel (``saved_model.pb``,
``variables/``, ``assets/labels.txt``) at its root, so the directory is a TensorFlow
Serving version directory, beside it the TFLite and ONNX files of the requested
formats, ``labels.txt``, ``export.json`` (the verification report and what the export
takes) and ``report.md`` (the report as a Markdown table).

:func:`export_version` puts it at ``<output>/<name>/<version>/`` with the next free
integer version unless one is given; an existing version is never replaced unless
``overwrite``. Everything is built in a hidden temporary sibling (which TensorFlow
Serving ignores: it loads only all-digit directory names) and renamed into place.

Every artifact is reloaded and measured (kcnn.export.verify). An artifact outside its
format's hard tolerance (``max_abs_diff`` in kcnn.export.formats) fails the export and
nothing is left behind; the other targets are reported as met or not met.
"""

from __future__ import annotations

import json
import os
import re
import time
import zipfile

import keras
import numpy as np

from kcnn.export import verify
from kcnn.export.formats import FORMATS, check_formats, missing_requirements
from kcnn.export.onnx import write_onnx
from kcnn.export.runtime import LABELS_FILE, load_artifact, write_labels
from kcnn.export.savedmodel import write_savedmodel
from kcnn.export.serving import Preprocessing, serving_model
from kcnn.export.tflite import write_tflite
from kcnn.io import atomic_dir, atomic_write_json, atomic_write_text, check_writable_dir

__all__ = [
    "check_export_formats",
    "check_export_directory",
    "is_kcnn_export",
    "ExportVerificationError",
    "export_model",
    "export_version",
    "next_version",
    "check_export",
    "check_name",
    "load_keras_model",
    "take_examples",
]

REPORT_JSON, REPORT_MD = "export.json", "report.md"


class ExportVerificationError(RuntimeError):
    """An exported artifact does not reproduce the Keras model."""


def load_keras_model(path) -> keras.Model:
    """Load a ``.keras`` file with Keras' safe_mode on: a file that would run arbitrary Python
    code on loading (a Lambda layer's pickled function) is refused with ValueError."""
    import kcnn.layers  # noqa: F401 - kcnn's registered layers, activations and initializers
    from kcnn.registry import _load_builtin

    _load_builtin()  # kcnn.models and kcnn.segmentation (its unpooling layers, bilinear initializer)

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    if not path.endswith(".keras"):
        raise ValueError(f"{path}: not a .keras file")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a .keras archive (a .keras file is a zip archive holding config.json and "
            "model.weights.h5; this one is truncated or another kind of file)"
        )
    with zipfile.ZipFile(path) as archive:
        if "config.json" not in archive.namelist():
            raise ValueError(f"{path}: not a .keras archive (no config.json inside)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except ValueError as err:
        if "safe_mode" in str(err) or "Lambda" in str(err):
            raise ValueError(
                f"{path}: refused: it holds Python code (a Lambda layer) that would run on loading; "
                "kcnn loads .keras files with Keras' safe_mode on"
            ) from None
        raise ValueError(f"{path}: cannot load: {_first_line(err)}") from None
    except Exception as err:  # noqa: BLE001 - zip, h5 and JSON errors all mean a corrupt or foreign file
        raise ValueError(f"{path}: cannot load: {type(err).__name__}: {_first_line(err)}") from None


def _first_line(err) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def next_version(base: str) -> int:
    """One more than the largest all-digit directory name in ``base`` (1 when there is none)."""
    versions = [int(n) for n in (os.listdir(base) if os.path.isdir(base) else []) if re.fullmatch(r"\d+", n)]
    return max(versions, default=0) + 1


def take_examples(data, n: int | None = None, *, shuffle_seed: int | None = None):
    """``(uint8 images, labels)`` of at most ``n`` examples (all when None) from a ``tf.data.Dataset``
    of ``(image, label)`` pairs or of images, an ``(images, labels)`` tuple or an array of images
    (labels None where there are none).

    ``shuffle_seed``: a seeded random draw instead of the first ``n`` (a dataset is shuffled
    with a 10,000-example buffer, so large splits are not read whole).
    """
    if data is None:
        return None, None
    labels = None
    if isinstance(data, (tuple, list)):
        images, labels = np.asarray(data[0]), None if data[1] is None else np.asarray(data[1])
    elif isinstance(data, np.ndarray):
        images = data
    else:
        ds = data if shuffle_seed is None else data.shuffle(10_000, seed=shuffle_seed)
        batches = list((ds if n is None else ds.take(n)).batch(1024).as_numpy_iterator())
        paired = isinstance(data.element_spec, tuple)
        images = np.concatenate([b[0] if paired else b for b in batches]) if batches else np.zeros((0,), np.uint8)
        labels = np.concatenate([b[1] for b in batches]) if paired and batches else None
        shuffle_seed = None  # drawn already
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(images))
        images, labels = images[order], None if labels is None else labels[order]
    if n is not None:
        images, labels = images[:n], None if labels is None else labels[:n]
    return np.asarray(images).clip(0, 255).astype(np.uint8), labels


def check_export(
    model: keras.Model,
    formats,
    *,
    class_names,
    calibration: bool,
    verification: bool,
    directory=None,
    overwrite: bool = False,
) -> list[str]:
    """Everything :func:`export_model` would refuse, checked before any work: ValueError (or
    FileExistsError for an existing ``directory``) naming the problem. Returns the formats.

    ``overwrite`` replaces only a directory that is a kcnn export (it holds kcnn's export.json).
    """
    formats = check_export_formats(formats)
    for name in formats:
        fmt = FORMATS[name]
        if fmt.calibrate and not calibration:
            raise ValueError(
                f"export format {name} needs calibration images from the training split (a representative dataset)"
            )
    if not verification:
        raise ValueError("export needs images to verify the artifacts on (sample_images or test_data)")
    classes = model.output_shape[-1]
    if len(class_names) != classes:
        raise ValueError(f"{len(class_names)} class names for a model with {classes} outputs")
    if directory is not None:
        check_export_directory(directory, overwrite=overwrite)
    return formats


def check_export_formats(formats) -> list[str]:
    """The canonical names of ``formats``; ValueError for an unknown one or one whose extra is not installed."""
    formats = check_formats(formats)
    for name in formats:
        fmt = FORMATS[name]
        if missing := missing_requirements(fmt):
            raise ValueError(f"export format {name} needs {', '.join(missing)}: pip install 'kcnn[{fmt.extra}]'")
    return formats


def is_kcnn_export(directory) -> bool:
    """Whether ``directory`` is an export kcnn wrote (its export.json report names its artifacts)."""
    try:
        with open(os.path.join(directory, REPORT_JSON), encoding="utf-8") as f:
            return isinstance(json.load(f).get("artifacts"), dict)
    except (OSError, ValueError, AttributeError):
        return False


def check_export_directory(directory, *, overwrite: bool = False) -> None:
    """ValueError when ``directory`` cannot take a new export: not writable, or existing and not
    a kcnn export ``overwrite`` may replace (FileExistsError for an existing one without it)."""
    directory = os.path.abspath(os.fspath(directory))
    check_writable_dir(directory)
    if not os.path.exists(directory):
        return
    if not overwrite:
        raise FileExistsError(f"{directory} exists; pass overwrite to replace it")
    if not is_kcnn_export(directory):
        raise ValueError(
            f"{directory} exists and is not a kcnn export (no export.json report); overwrite replaces "
            "only kcnn's own exports, never other files: choose another version or output"
        )


def _write(fmt, model, path, class_names, preprocessing, calibration_images):
    if fmt.kind == "savedmodel":
        write_savedmodel(model, path, class_names, preprocessing)
    elif fmt.kind == "tflite":
        write_tflite(model, path, fmt, preprocessing, calibration_images)
    else:
        write_onnx(model, path, preprocessing)


def export_model(
    model: keras.Model,
    directory,
    formats,
    *,
    class_names,
    sample_images: np.ndarray | None = None,
    preprocessing: Preprocessing | None = None,
    calibration_data=None,
    test_data=None,
    calibration_examples: int = 500,
    verify_examples: int = 1000,
    test_examples: int | None = None,
    latency_runs: int = 50,
    ignore_label: int | None = None,
    overwrite: bool = False,
    metadata: dict | None = None,
    log=None,
) -> dict:
    """Write ``formats`` of ``model`` into ``directory`` (a new directory), each verified.

    ``preprocessing``: the images the artifacts take (default: the model's input size).
    ``calibration_data``: training images for the full-integer modes (a ``tf.data.Dataset`` of
    ``(image, label)`` or a uint8 array), ``calibration_examples`` of them drawn at random (seed 0).
    ``test_data``: the test split (dataset or ``(images, labels)``): the first
    ``verify_examples`` are the parity images, the first ``test_examples`` (all when None)
    measure accuracy (segmentation: pixel accuracy and mean IoU over the pixels whose mask
    value is not ``ignore_label``). ``sample_images`` (uint8 N x H x W x C): parity images when there is
    no test data. ``log``: a callable given one line per artifact as it is measured.
    Returns the report, also written as ``export.json`` (and ``report.md``).
    """
    directory = os.path.abspath(os.fspath(directory))
    formats = check_export(
        model,
        formats,
        class_names=class_names,
        calibration=calibration_data is not None,
        verification=sample_images is not None or test_data is not None,
        directory=directory,
        overwrite=overwrite,
    )
    formats = [name for name in FORMATS if name in formats]  # table order: the SavedModel first, float32 before int8
    preprocessing = preprocessing or Preprocessing.for_model(model)
    test_images, test_labels = take_examples(test_data, test_examples)
    parity = np.asarray(sample_images, np.uint8) if sample_images is not None else test_images[:verify_examples]
    calibration_images = None
    if any(FORMATS[f].calibrate for f in formats):
        calibration_images, _ = take_examples(calibration_data, calibration_examples, shuffle_seed=0)
    reference = verify.keras_reference(
        serving_model(model, preprocessing),
        parity,
        test_images,
        test_labels,
        ignore_label=ignore_label,
        latency_runs=latency_runs,
    )
    routed = verify.routes_by_indices(model)
    report = {
        "model": model.name,
        "params": int(model.count_params()),
        "input": {**preprocessing.to_dict(), "dtype": "uint8", "model_input_shape": list(model.input_shape[1:])},
        "class_names": [str(c) for c in class_names],
        "verified_on": int(len(parity)),
        "hard_check": "top1_agreement" if routed else "max_abs_diff",
        "test_examples": None if test_images is None else int(len(test_images)),
        "calibration_examples": None if calibration_images is None else int(len(calibration_images)),
        "latency": {"batch": 1, "runs": latency_runs, "warmup": 5, "statistic": "median", "unit": "ms"},
        "keras": {k: reference[k] for k in ("accuracy", "mean_iou", "latency_ms")},
        "versions": {"keras": keras.__version__, "tensorflow": _tf_version()},
        **(metadata or {}),
        "artifacts": {},
    }
    with atomic_dir(directory, overwrite=overwrite) as tmp:
        for name in formats:
            fmt = FORMATS[name]
            path = os.path.join(tmp, fmt.filename) if fmt.filename else tmp  # the SavedModel is the directory (first)
            tic = time.time()
            _write(fmt, model, path, class_names, preprocessing, calibration_images)
            seconds = time.time() - tic
            entry = verify.measure(
                load_artifact(path),
                reference,
                parity,
                test_images,
                test_labels,
                ignore_label=ignore_label,
                latency_runs=latency_runs,
            )
            entry["path"] = os.path.join(directory, fmt.filename) if fmt.filename else directory
            entry["export_seconds"] = round(seconds, 2)
            if (failure := verify.hard_check_failure(fmt, entry, routed=routed)) is not None:
                raise ExportVerificationError(f"{name} export of {model.name} {failure} on {len(parity)} images")
            report["artifacts"][name] = entry
            if log is not None:
                log(_log_line(name, entry))
        _finish_report(report)
        write_labels(os.path.join(tmp, LABELS_FILE), class_names)
        atomic_write_json(os.path.join(tmp, REPORT_JSON), report)
        atomic_write_text(os.path.join(tmp, REPORT_MD), verify.to_markdown(report))
    return report


def _finish_report(report: dict) -> None:
    """Size ratios to the float32 TFLite file, then every artifact's targets."""
    float32 = report["artifacts"].get("float32")
    for name, entry in report["artifacts"].items():
        entry["size_ratio"] = entry["bytes"] / float32["bytes"] if float32 and FORMATS[name].kind == "tflite" else None
        entry["targets"] = verify.evaluate_targets(FORMATS[name], entry)
        entry["targets_met"] = all(t["met"] is not False for t in entry["targets"].values())


def _log_line(name: str, e: dict) -> str:
    acc = "" if e["accuracy"] is None else f", test accuracy {e['accuracy']:.4f}"
    acc += "" if e.get("mean_iou") is None else f", test mIoU {e['mean_iou']:.4f}"
    return (
        f"{name:12s} {e['bytes']:>10,} bytes, max |diff| {e['max_abs_diff']:.2g}, top-1 agreement "
        f"{e['top1_agreement']:.4f}{acc}, {e['latency_ms']:.3f} ms"
    )


def _tf_version() -> str:
    import tensorflow as tf

    return tf.__version__


def check_name(name: str) -> str:
    """An export name is one path component: letters, digits, '.', '_' and '-'."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name or ""):
        raise ValueError(f"an export name must be letters, digits, '.', '_' or '-'; got {name!r}")
    return name


def export_version(
    model: keras.Model, output, name: str, formats, *, version: int | None = None, overwrite: bool = False, **kwargs
) -> dict:
    """:func:`export_model` into ``<output>/<name>/<version>/`` (TensorFlow Serving's layout).

    ``version`` None: the next integer after the existing versions. An existing version is
    refused (FileExistsError) unless ``overwrite``.
    """
    check_name(name)
    base = os.path.join(os.path.abspath(os.fspath(output)), name)
    version = next_version(base) if version is None else int(version)
    if version < 0:
        raise ValueError(f"version must be a non-negative integer; got {version}")
    metadata = {"name": name, "version": version, **(kwargs.pop("metadata", None) or {})}
    return export_model(
        model, os.path.join(base, str(version)), formats, overwrite=overwrite, metadata=metadata, **kwargs
    )
