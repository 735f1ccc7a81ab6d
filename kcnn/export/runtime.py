"""Run an exported artifact: a SavedModel directory, a ``.tflite`` file or a ``.onnx`` file.

:func:`load_artifact` returns an :class:`Artifact`: call it with a batch of uint8 images
(N x H x W x C) and it returns float32 probabilities, whatever the artifact's interface
(int8 inputs and outputs are quantized and dequantized with the scale and zero point the
file stores). The verification report and ``kcnn-predict`` both run artifacts through it.

TFLite files run on LiteRT's interpreter (``ai-edge-litert``) when it is installed, else
on ``tf.lite.Interpreter`` (deprecated in TF 2.21 but still working); ONNX files on
onnxruntime (``pip install 'kcnn[onnx]'``). TFLite and onnxruntime run single-threaded,
as on a phone core; the SavedModel runs with TensorFlow's default thread pools.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

__all__ = ["Artifact", "load_artifact", "artifact_kind", "read_labels", "write_labels", "verify_tflite", "LABELS_FILE"]

LABELS_FILE = "labels.txt"
_CHUNK = 256  # images per call into a runtime


def write_labels(path, class_names) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{c}\n" for c in class_names))


def read_labels(path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def artifact_kind(path) -> str:
    """``savedmodel``, ``tflite`` or ``onnx`` from the path, or ValueError saying what was expected."""
    path = os.fspath(path)
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            return "savedmodel"
        raise ValueError(f"{path}: a directory without saved_model.pb (expected a SavedModel directory)")
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file or directory")
    ext = os.path.splitext(path)[1].lower()
    if ext in (".tflite", ".onnx"):
        return ext[1:]
    raise ValueError(f"{path}: not a SavedModel directory, .tflite or .onnx file")


class Artifact:
    """A loaded artifact: ``artifact(uint8 images) -> float32 probabilities``.

    ``image_shape`` is (height, width, channels) it takes, None where any size goes;
    ``class_names`` come from the labels.txt stored with it (None when there is none).
    """

    kind = ""

    def __init__(self, path: str, image_shape: tuple, class_names):
        self.path, self.image_shape, self.class_names = path, image_shape, class_names

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise TypeError(f"images must be uint8; got {images.dtype}")
        if len(images) <= _CHUNK:
            return self._run(images)
        return np.concatenate([self._run(images[i : i + _CHUNK]) for i in range(0, len(images), _CHUNK)])

    def _run(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def check_image(self, image: np.ndarray) -> str | None:
        """Why ``image`` (H x W x C) cannot go in, or None."""
        return self.check_shape(image.shape)

    def check_shape(self, shape) -> str | None:
        """Why an image of ``shape`` (H x W x C) cannot go in, or None."""
        want = self.image_shape
        got = tuple(shape)
        if len(got) != 3 or got[2] != want[2] or any(w is not None and w != g for w, g in zip(want[:2], got[:2])):
            size = "x".join("any" if s is None else str(s) for s in want)
            return f"image is {'x'.join(map(str, got))} (height x width x channels); the model takes {size}"
        return None


def _labels_beside(path: str, *candidates: str):
    for candidate in candidates:
        if os.path.isfile(candidate):
            return read_labels(candidate)
    return None


class SavedModelArtifact(Artifact):
    kind = "savedmodel"

    def __init__(self, path: str):
        import tensorflow as tf

        self._fn = tf.saved_model.load(path).signatures["serving_default"]
        spec = self._fn.structured_input_signature[1]["images"]
        super().__init__(path, tuple(spec.shape[1:]), _labels_beside(path, os.path.join(path, "assets", LABELS_FILE)))

    def _run(self, images):
        import tensorflow as tf

        return self._fn(images=tf.constant(images, tf.uint8))["probabilities"].numpy().astype(np.float32)


def _tflite_schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated


def verify_tflite(path: str) -> None:
    """ValueError unless ``path`` is a whole TFLite flatbuffer, checked before the interpreter
    (which does not bounds-check a damaged file and can crash the process) reads it.

    The file identifier must be ``TFL3``; the whole model is then unpacked through the
    flatbuffer schema in Python, whose reads are bounds-checked, and buffers stored after
    the flatbuffer (offset / size) must lie inside the file.
    """
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ValueError(f"{path}: not a TFLite model (no TFL3 file identifier)")
    try:
        model = _tflite_schema().ModelT.InitFromPackedBuf(buf, 0)
        if not model.subgraphs:
            raise ValueError("no subgraphs")
        for buffer in model.buffers or ():
            if (buffer.offset or 0) > 1 and buffer.offset + (buffer.size or 0) > len(buf):
                raise ValueError("a buffer lies past the end of the file")
    except Exception as err:  # noqa: BLE001 - any failure to unpack means a damaged file
        raise ValueError(
            f"{path}: not a valid TFLite model: truncated or corrupt ({type(err).__name__}: {err})"
        ) from None


def tflite_interpreter(path: str, num_threads: int = 1):
    """LiteRT's interpreter (TF's deprecated one without ai-edge-litert). ``KCNN_TFLITE_REFERENCE_KERNELS=1``
    runs the reference kernels instead of the optimized ones and XNNPACK: the same arithmetic on every
    CPU, to find thresholds that hold only on some (AVX-512 VNNI int8 kernels round differently)."""
    reference = os.environ.get("KCNN_TFLITE_REFERENCE_KERNELS") == "1"
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        import tensorflow as tf

        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Interpreter(model_path=path, num_threads=num_threads, experimental_op_resolver_type=resolver)


def _quantization(detail) -> tuple[float, int] | None:
    scale, zero_point = detail["quantization"]
    return (float(scale), int(zero_point)) if scale else None


class TFLiteArtifact(Artifact):
    kind = "tflite"

    def __init__(self, path: str):
        verify_tflite(path)
        self.interpreter = tflite_interpreter(path)
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        signature = self._in["shape_signature"]
        shape = tuple(None if s < 0 else int(s) for s in signature[1:])
        self.static_batch = int(signature[0]) if signature[0] > 0 else None  # e.g. 1 for microcontrollers
        super().__init__(path, shape, _labels_beside(path, os.path.join(os.path.dirname(path), LABELS_FILE)))
        self.interpreter.allocate_tensors()  # here, so that the delegate's start-up line comes while loading
        self._shape = tuple(self._in["shape"])
        self.input_quantization = _quantization(self._in)  # int8 interface: pixel = scale * (q - zero_point)
        self.output_quantization = _quantization(self._out)

    def _run(self, images):
        if self.static_batch is not None and len(images) != self.static_batch:
            n = self.static_batch
            if len(images) % n:
                raise ValueError(f"{self.path} takes batches of exactly {n} images; got {len(images)}")
            return np.concatenate([self._run(images[i : i + n]) for i in range(0, len(images), n)])
        if self._shape != images.shape:
            self.interpreter.resize_tensor_input(self._in["index"], images.shape)
            self.interpreter.allocate_tensors()
            self._shape = images.shape
        x = images
        if self.input_quantization is not None:
            scale, zero_point = self.input_quantization
            info = np.iinfo(self._in["dtype"])
            x = np.clip(np.round(images / scale + zero_point), info.min, info.max)
        self.interpreter.set_tensor(self._in["index"], x.astype(self._in["dtype"]))
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(self._out["index"]).astype(np.float32)
        if self.output_quantization is not None:
            scale, zero_point = self.output_quantization
            y = (y - zero_point) * scale
        return y


class OnnxArtifact(Artifact):
    kind = "onnx"

    def __init__(self, path: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        shape = tuple(s if isinstance(s, int) else None for s in inp.shape[1:])
        super().__init__(path, shape, _labels_beside(path, os.path.join(os.path.dirname(path), LABELS_FILE)))

    def _run(self, images):
        return self.session.run(None, {self._input: images})[0].astype(np.float32)


_KINDS = {"savedmodel": SavedModelArtifact, "tflite": TFLiteArtifact, "onnx": OnnxArtifact}


def load_artifact(path) -> Artifact:
    """The artifact at ``path`` ready to run (ValueError when ``path`` is not one)."""
    path = os.fspath(path)
    return _KINDS[artifact_kind(path)](path)
