"""TFLite (LiteRT) files through Keras' ``model.export(format="litert", **converter)``.

The modes are rows of kcnn.export.formats' table (``float32``, ``float16``,
``dynamic_int8``, ``int8``, ``int8_io``); their ``converter`` dicts are TFLiteConverter
attributes, which Keras' LiteRT exporter sets on the converter it builds (including
``representative_dataset``, ``target_spec.supported_ops`` and
``inference_input_type`` / ``inference_output_type``), so nothing here converts by hand.

* ``uint8`` interface: the exported graph takes uint8 pixels (a Cast inside the graph)
  and returns float probabilities; for ``int8`` the converter puts a Quantize after the
  Cast and a Dequantize before the output, everything between runs on int8 kernels.
* ``int8`` interface (``int8_io``): the graph is exported from float pixels and the
  converter replaces its input and output by int8 tensors; the input's quantization
  comes from calibration (0..255 pixels: scale 1, zero point -128).

Full-integer modes are calibrated on ``calibration_images``: uint8 training images as the
dataset gives them, fitted and normalized by the graph itself, exactly as served.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kcnn.export.formats import ExportFormat
from kcnn.export.serving import Preprocessing, serving_model

__all__ = ["write_tflite"]


def write_tflite(
    model: keras.Model,
    path: str,
    fmt: ExportFormat,
    preprocessing: Preprocessing | None = None,
    calibration_images: np.ndarray | None = None,
) -> None:
    """Write ``model`` as the TFLite mode ``fmt`` at ``path``."""
    if fmt.kind != "tflite":
        raise ValueError(f"{fmt.name} is not a TFLite mode")
    dtype = "float32" if fmt.io == "int8" else "uint8"
    converter = dict(fmt.converter)
    if fmt.calibrate:
        if calibration_images is None or not len(calibration_images):
            raise ValueError(f"TFLite mode {fmt.name} needs calibration images (a representative dataset)")
        images = np.asarray(calibration_images, dtype=np.uint8)

        def representative_dataset():
            for image in images:
                yield [image[None].astype(dtype)]

        converter["representative_dataset"] = representative_dataset
    serving = serving_model(model, preprocessing, dtype=dtype)
    signature = [tf.TensorSpec((fmt.batch, *serving.input_shape[1:]), dtype, name="images")]
    serving.export(path, format="litert", verbose=False, input_signature=signature, **converter)
