"""Export a trained classifier to several formats at once, verify each artifact, and
move the whole export into place atomically.

After writing, every artifact is reloaded and run on sample images; its outputs are
compared with the Keras model's. An artifact outside its tolerance fails the export
loudly and nothing is left behind.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from kcnn.export.savedmodel import LABELS_FILE, load_savedmodel_fn, write_labels, write_savedmodel
from kcnn.export.tflite import tflite_fn, write_tflite
from kcnn.io import atomic_dir, atomic_write_json

__all__ = ["EXPORT_FORMATS", "ExportVerificationError", "export_model", "check_formats"]

# format -> (file name in the export directory, writer, loader, max abs difference allowed)
_FORMATS = {
    "savedmodel": ("savedmodel", write_savedmodel, load_savedmodel_fn, 1e-5),
    "tflite": ("model.tflite", lambda m, p, _names: write_tflite(m, p), tflite_fn, 1e-4),
}
EXPORT_FORMATS = tuple(_FORMATS)


class ExportVerificationError(RuntimeError):
    """An exported artifact does not reproduce the Keras model."""


def check_formats(formats) -> list[str]:
    unknown = [f for f in formats if f not in _FORMATS]
    if unknown:
        raise ValueError(f"unknown export format {unknown[0]!r}; choose from {', '.join(EXPORT_FORMATS)}")
    return list(dict.fromkeys(formats))


def export_model(
    model: keras.Model, directory, formats, *, class_names, sample_images: np.ndarray, overwrite: bool = False
) -> dict:
    """Write ``formats`` of ``model`` into ``directory`` (uint8 image inputs), verified.

    ``sample_images`` (uint8, N x H x W x C) are run through every artifact; the report
    (also written as ``export.json``) gives each file's path, size and max abs difference.
    """
    formats = check_formats(formats)
    sample_images = np.asarray(sample_images, dtype=np.uint8)
    reference = keras.ops.convert_to_numpy(model(sample_images.astype(np.float32), training=False)).astype(np.float32)
    directory = os.path.abspath(os.fspath(directory))
    report = {"model": model.name, "input_shape": list(model.input_shape[1:]), "artifacts": {}}
    with atomic_dir(directory, overwrite=overwrite) as tmp:
        for fmt in formats:
            filename, write, load, tolerance = _FORMATS[fmt]
            path = os.path.join(tmp, filename)
            write(model, path, class_names)
            got = load(path)(sample_images)
            diff = float(np.max(np.abs(got - reference)))
            agree = float(np.mean(got.argmax(-1) == reference.argmax(-1)))
            if not diff <= tolerance:
                raise ExportVerificationError(f"{fmt} export of {model.name} differs from the Keras model by {diff:.3g} "
                                              f"(allowed {tolerance:g}) on {len(sample_images)} images")  # fmt: skip
            report["artifacts"][fmt] = {
                "path": os.path.join(directory, filename),
                "bytes": _size(path),
                "max_abs_diff": diff,
                "top1_agreement": agree,
                "tolerance": tolerance,
                "verified_on": len(sample_images),
            }
        write_labels(os.path.join(tmp, LABELS_FILE), class_names)
        atomic_write_json(os.path.join(tmp, "export.json"), report)
    return report


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)
