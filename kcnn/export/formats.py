"""The export formats as data: one table, read by the exporter, the runners, the trainer and the tests.

Each :class:`ExportFormat` names an artifact (a SavedModel, a TFLite flatbuffer in one of
the LiteRT modes, an ONNX graph), the converter options that make it, what it needs
(calibration images), and what it must achieve:

* ``max_abs_diff`` — a hard check: an artifact further than this from the Keras model
  (max abs difference of the probabilities) is a conversion bug, and the export fails
  leaving nothing behind. Only the formats that should reproduce float32 exactly have one.
* ``targets`` — what the verification report checks and marks met / not met:
  ``max_abs_diff`` and ``top1_agreement`` against the Keras model, ``accuracy_drop``
  (Keras test accuracy minus the artifact's, a fraction), ``size_ratio`` (file size
  over the float32 TFLite file's, when both are exported together).

The TFLite modes follow TF Model Garden's serving modes (default | fp16 | int8 |
int8_full); their ``converter`` dicts are ``tf.lite.TFLiteConverter`` attributes, passed
through Keras' ``model.export(format="litert", **converter)``.

Interfaces (``io``): ``"uint8"`` artifacts take uint8 pixels and return float
probabilities; ``"int8"`` artifacts (microcontrollers) take and return int8 tensors
quantized with the scale and zero point stored in the file (pixel = scale * (q - zero_point)).
The full-integer modes have a static batch of 1 (``batch=1``), as integer accelerators
and TFLite Micro want: the Edge TPU compiler and TFLite Micro (which plans memory ahead)
take only static shapes, and the graph loses the ops that compute shapes at run time (a
Flatten reshape to ``[batch, -1]`` becomes a constant reshape). The float and
dynamic-range modes keep any batch size; kcnn's runtime feeds batch-1 files one image at a time.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import tensorflow as tf

__all__ = [
    "ExportFormat",
    "FORMATS",
    "ALIASES",
    "DEFAULT_FORMATS",
    "EXPORT_FORMATS",
    "TFLITE_MODES",
    "get_format",
    "check_formats",
]


@dataclasses.dataclass(frozen=True)
class ExportFormat:
    name: str
    kind: str  # "savedmodel" | "tflite" | "onnx"
    filename: str  # inside the export (version) directory; "" for the SavedModel, which is the directory itself
    description: str
    converter: dict = dataclasses.field(default_factory=dict)  # TFLiteConverter attributes (tflite)
    calibrate: bool = False  # needs a representative dataset (training images)
    io: str = "uint8"  # "uint8": uint8 pixels in, float probabilities out; "int8": quantized int8 in and out
    max_abs_diff: float | None = None  # hard check against the Keras model; None: none
    targets: dict = dataclasses.field(default_factory=dict)
    batch: int | None = None  # a static batch size of the TFLite input; None: any batch size
    requires: tuple = ()  # Python modules the format needs, and the extra that installs them
    extra: str = ""


_INT8_OPS = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]}
# Dense layers are quantized per tensor, convolutions per output channel. Per-channel
# dense quantization (the converter's default in TF 2.21) stores a float32 scale and an
# int64 zero point per output unit, for the weights and again for the bias: in LeNet-5's
# int8 file that is 2.2 KB of 78 KB (0.304x the float32 file instead of 0.295x), for no
# accuracy gain on Fashion-MNIST (83.15% per channel, 83.30% per tensor on test[:2000],
# Keras 83.00%).
# The attribute is the converter's own (underscored in TF 2.21); Keras' LiteRT exporter
# sets it like any other converter attribute.
_PER_TENSOR_DENSE = {"_experimental_disable_per_channel_quantization_for_dense_layers": True}
_INT8_TARGETS = {"accuracy_drop": 0.01, "size_ratio": 0.30}

_TABLE = (
    ExportFormat(
        "savedmodel",
        "savedmodel",
        "",
        "SavedModel in TensorFlow Serving layout: serving_default (uint8) and serving_float signatures",
        max_abs_diff=1e-5,
        targets={"max_abs_diff": 1e-5},
    ),
    ExportFormat(
        "float32",
        "tflite",
        "model_float32.tflite",
        "TFLite, float32 weights and activations",
        max_abs_diff=1e-4,
        targets={"max_abs_diff": 1e-4},
    ),
    ExportFormat(
        "float16",
        "tflite",
        "model_float16.tflite",
        "TFLite, float16 weights (dequantized at load), float32 compute",
        converter={"optimizations": [tf.lite.Optimize.DEFAULT], "target_spec": {"supported_types": [tf.float16]}},
        targets={"max_abs_diff": 1e-2, "top1_agreement": 0.995},
    ),
    ExportFormat(
        "dynamic_int8",
        "tflite",
        "model_dynamic_int8.tflite",
        "TFLite, dynamic-range quantization: int8 weights, activations quantized on the fly",
        converter={"optimizations": [tf.lite.Optimize.DEFAULT]},
        targets={"accuracy_drop": 0.01},
    ),
    ExportFormat(
        "int8",
        "tflite",
        "model_int8.tflite",
        "TFLite, full-integer int8 (calibrated on training images), static batch of 1; uint8 pixels in, float "
        "probabilities out",
        converter={"optimizations": [tf.lite.Optimize.DEFAULT], "target_spec": _INT8_OPS, **_PER_TENSOR_DENSE},
        calibrate=True,
        batch=1,
        targets=_INT8_TARGETS,
    ),
    ExportFormat(
        "int8_io",
        "tflite",
        "model_int8_io.tflite",
        "TFLite, full-integer int8 with int8 input and output and a static batch of 1 (microcontrollers)",
        converter={
            "optimizations": [tf.lite.Optimize.DEFAULT],
            "target_spec": _INT8_OPS,
            **_PER_TENSOR_DENSE,
            "inference_input_type": tf.int8,
            "inference_output_type": tf.int8,
        },
        calibrate=True,
        io="int8",
        batch=1,
        targets=_INT8_TARGETS,
    ),
    ExportFormat(
        "onnx",
        "onnx",
        "model.onnx",
        "ONNX through Keras' tf2onnx export, run with onnxruntime",
        max_abs_diff=1e-4,
        targets={"max_abs_diff": 1e-4},
        requires=("tf2onnx", "onnx", "onnxruntime"),
        extra="onnx",
    ),
)

FORMATS = {f.name: f for f in _TABLE}
ALIASES = {"tflite": "float32"}  # the first cut's name, kept for --export=savedmodel,tflite
EXPORT_FORMATS = tuple(FORMATS)
TFLITE_MODES = tuple(f.name for f in _TABLE if f.kind == "tflite")
DEFAULT_FORMATS = ("savedmodel", "float32", "float16", "dynamic_int8", "int8")


def get_format(name: str) -> ExportFormat:
    return FORMATS[ALIASES.get(name, name)]


def check_formats(formats) -> list[str]:
    """The canonical names of ``formats`` (aliases resolved, duplicates dropped); ValueError names an unknown one."""
    if isinstance(formats, str):
        formats = [f for f in formats.split(",") if f]
    unknown = [f for f in formats if ALIASES.get(f, f) not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format {unknown[0]!r}; choose from {', '.join(EXPORT_FORMATS)}")
    return list(dict.fromkeys(ALIASES.get(f, f) for f in formats))


def missing_requirements(fmt: ExportFormat) -> list[str]:
    """The modules ``fmt`` needs that are not installed."""
    return [m for m in fmt.requires if importlib.util.find_spec(m) is None]
