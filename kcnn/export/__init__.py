"""Export: SavedModel (TensorFlow Serving layout), TFLite / LiteRT modes, ONNX, each verified.

The formats are one table (:data:`FORMATS`, kcnn.export.formats); :func:`export_model`
writes and verifies an export directory, :func:`export_version` one version of TensorFlow
Serving's ``<output>/<name>/<version>/`` layout; :func:`load_artifact` runs any artifact.
"""

from kcnn.export.exporter import (
    ExportVerificationError,
    check_export,
    check_export_directory,
    check_export_formats,
    check_name,
    export_model,
    export_version,
    is_kcnn_export,
    load_keras_model,
    next_version,
    take_examples,
)
from kcnn.export.formats import (
    ALIASES,
    DEFAULT_FORMATS,
    EXPORT_FORMATS,
    FORMATS,
    TFLITE_MODES,
    ExportFormat,
    check_formats,
    get_format,
)
from kcnn.export.runtime import Artifact, load_artifact, read_labels
from kcnn.export.serving import Preprocessing, serving_model

__all__ = [
    "ALIASES",
    "Artifact",
    "DEFAULT_FORMATS",
    "EXPORT_FORMATS",
    "ExportFormat",
    "ExportVerificationError",
    "FORMATS",
    "Preprocessing",
    "TFLITE_MODES",
    "check_export",
    "check_export_directory",
    "check_export_formats",
    "is_kcnn_export",
    "check_formats",
    "check_name",
    "export_model",
    "export_version",
    "get_format",
    "load_artifact",
    "load_keras_model",
    "next_version",
    "read_labels",
    "serving_model",
    "take_examples",
]
