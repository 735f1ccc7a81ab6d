"""ONNX through Keras' ``model.export(format="onnx")``.

On the TensorFlow backend Keras traces the model and hands the function to tf2onnx
(``tf2onnx.convert.from_function``). The graph takes uint8 pixels like the other
artifacts; onnxruntime runs it (kcnn.export.runtime). Both come with the ``onnx``
extra: ``pip install 'kcnn[onnx]'`` (tf2onnx, onnx, onnxruntime).

One workaround: TensorFlow captures small eager tensors into a traced function as
constants but still lists them among the function's inputs, and tf2onnx 1.17 turns every
listed input into an ONNX graph input. Keras' Normalization layer (which holds the
training split's mean and variance, kcnn.data.normalization) keeps them as eager tensors,
so the ONNX graph would ask for them as extra inputs. While exporting, those two
attributes are held as numpy arrays, which the trace embeds as ordinary constants; they
are restored afterwards, and the parity check against Keras verifies the result.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

import keras
import numpy as np
import tensorflow as tf

from kcnn.export.serving import Preprocessing, serving_model

__all__ = ["write_onnx"]


@contextlib.contextmanager
def _constants_as_numpy(model: keras.Model):
    held = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Normalization) and layer.built:
            held.append((layer, layer.mean, layer.variance))
            layer.mean, layer.variance = np.asarray(layer.mean), np.asarray(layer.variance)
    try:
        yield
    finally:
        for layer, mean, variance in held:
            layer.mean, layer.variance = mean, variance


def write_onnx(
    model: keras.Model, path: str, preprocessing: Preprocessing | None = None, opset: int | None = None
) -> None:
    """Write ``model`` as ONNX at ``path`` (uint8 images in, probabilities out)."""
    wrapped = serving_model(model, preprocessing, dtype="uint8")
    # An explicit signature: Keras' ONNX export otherwise insists on a model that has been called.
    spec = tf.TensorSpec(wrapped.input_shape, tf.uint8, name="images")
    tf2onnx_log = logging.getLogger("tf2onnx")
    level = tf2onnx_log.level
    tf2onnx_log.setLevel(logging.ERROR)  # tf2onnx logs every rewrite pass at INFO
    try:
        with _constants_as_numpy(model), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*np.object", category=FutureWarning)  # Keras' tf2onnx patch
            wrapped.export(path, format="onnx", verbose=False, opset_version=opset, input_signature=[spec])
    finally:
        tf2onnx_log.setLevel(level)
    _check_inputs(path)


def _check_inputs(path: str) -> None:
    import onnx

    inputs = [i.name for i in onnx.load(path, load_external_data=False).graph.input]
    if inputs != ["images"]:
        raise RuntimeError(
            f"the ONNX graph asks for inputs {inputs}, not just 'images': a layer holds eager tensors "
            "that tf2onnx turned into graph inputs"
        )
