"""TFLite (LiteRT) export through Keras' ``model.export(format="litert")``.

The exported graph takes uint8 images like the SavedModel's serving signature: a thin
Keras wrapper casts them to float before the trained model (whose first layer holds the
normalization). Runs through ai_edge_litert's interpreter when installed, else tf.lite's.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["write_tflite", "tflite_fn", "uint8_model"]


def uint8_model(model: keras.Model) -> keras.Model:
    """``model`` behind a uint8 image input."""
    images = keras.Input(model.input_shape[1:], dtype="uint8", name="images")
    return keras.Model(images, model(keras.ops.cast(images, "float32")), name=f"{model.name}_uint8")


def write_tflite(model: keras.Model, path: str, **converter_kwargs) -> None:
    """Write a float32 TFLite flatbuffer with a uint8 input at ``path``."""
    uint8_model(model).export(path, format="litert", verbose=False, **converter_kwargs)


def _interpreter(path: str):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import warnings

        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tf.lite.Interpreter(model_path=path)
    return Interpreter(model_path=path)


def tflite_fn(path: str):
    """A numpy function images -> outputs running the TFLite file (resizing the batch as needed)."""
    interpreter = _interpreter(path)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]

    def run(images: np.ndarray) -> np.ndarray:
        interpreter.resize_tensor_input(inp["index"], images.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], images.astype(inp["dtype"]))
        interpreter.invoke()
        return interpreter.get_tensor(out["index"]).astype(np.float32)

    return run
