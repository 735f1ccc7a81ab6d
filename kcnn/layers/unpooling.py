"""Max pooling that remembers where each maximum came from, and the unpooling that puts
values back there: SegNet's decoder (Badrinarayanan, Kendall & Cipolla 2017, §3).

Backend-agnostic (``keras.ops`` only): no ``tf.nn.max_pool_with_argmax``, so both layers
build and train under TensorFlow, JAX and torch.

Index convention (PyTorch's ``max_pool2d(return_indices=True)``): for every output
position and channel, the flat position ``y * W + x`` of the winning input pixel in its
own (H, W) channel plane, as int32. Ties go to the first pixel of the window in row-major
order (top-left before top-right before bottom-left); this is computed explicitly, so it
is the same under every backend and deterministic. TensorFlow's
``max_pool_with_argmax(include_batch_in_index=False)`` flattens ``(y * W + x) * C + c``
instead: multiply ours by C and add the channel to compare.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["MaxPoolingWithArgmax2D", "MaxUnpooling2D"]

PADDINGS = ("valid", "same")


def _pair(value, arg: str, layer: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < 1 for v in pair):
        raise ValueError(f"{layer}: {arg} must be a positive integer or a pair of them; Received: {arg}={value!r}")
    return int(pair[0]), int(pair[1])


def _pooled_size(n, k, s, padding):
    if n is None:
        return None
    return -(-n // s) if padding == "same" else (n - k) // s + 1


def _at_least_zero(n):
    """max(n, 0), in Python where the size is static (torch's pad takes only ints)."""
    return max(n, 0) if isinstance(n, int) else ops.maximum(n, 0)


def _same_padding(n, out, k, s):
    """Keras/TensorFlow 'same' padding of one axis: (before, after), the odd pixel after."""
    total = _at_least_zero((out - 1) * s + k - n)
    return total // 2, total - total // 2


@keras.saving.register_keras_serializable(package="kcnn")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """Max pooling returning ``[pooled, indices]`` (channels_last).

    ``indices`` (int32, the shape of ``pooled``) holds, per output value, the flat index
    ``y * W + x`` of its source pixel in the input's (H, W) plane; ties go to the first
    pixel of the window in row-major order (see the module docstring). ``padding`` is
    Keras': "valid" drops the last rows/columns that do not fill a window, "same" pads
    (with -inf, so padding never wins) to ``ceil(H / strides)`` outputs, the odd pixel at
    the bottom/right, which for 2x2/2 windows is Caffe's ceil-mode pooling of SegNet.
    The gradient of ``pooled`` flows to the winning pixel only.
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size", "MaxPoolingWithArgmax2D")
        self.strides = _pair(strides if strides is not None else pool_size, "strides", "MaxPoolingWithArgmax2D")
        if padding not in PADDINGS:
            raise ValueError(
                f"MaxPoolingWithArgmax2D: padding must be one of {PADDINGS}; Received: padding={padding!r}"
            )
        self.padding = padding

    def call(self, x):
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        shape = ops.shape(x)
        height, width = shape[1], shape[2]
        out_h = _pooled_size(height, kh, sh, self.padding)
        out_w = _pooled_size(width, kw, sw, self.padding)
        top = left = 0
        if self.padding == "same":
            top, bottom = _same_padding(height, out_h, kh, sh)
            left, right = _same_padding(width, out_w, kw, sw)
            x = ops.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], constant_values=float("-inf"))
        windows = ops.stack(
            [
                x[:, di : di + sh * (out_h - 1) + 1 : sh, dj : dj + sw * (out_w - 1) + 1 : sw, :]
                for di in range(kh)
                for dj in range(kw)
            ],
            axis=-1,
        )  # (batch, out_h, out_w, channels, kh * kw), window positions in row-major order
        size = kh * kw
        best = ops.max(windows, axis=-1, keepdims=True)
        position = ops.arange(size, dtype="int32")
        # The first maximal position (not ops.argmax, whose tie-breaking is the backend's).
        local = ops.min(ops.where(windows == best, position, size), axis=-1)
        local = ops.minimum(local, size - 1)  # a window of NaNs: keep the index in range
        pooled = ops.squeeze(ops.take_along_axis(windows, ops.expand_dims(local, -1), axis=-1), -1)
        rows = ops.reshape(ops.arange(out_h, dtype="int32") * sh, (1, -1, 1, 1)) + local // kw - top
        cols = ops.reshape(ops.arange(out_w, dtype="int32") * sw, (1, 1, -1, 1)) + local % kw - left
        indices = rows * ops.cast(width, "int32") + cols
        return [pooled, indices]

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        shape = (n, _pooled_size(h, kh, sh, self.padding), _pooled_size(w, kw, sw, self.padding), c)
        return [shape, shape]

    def compute_output_spec(self, x):
        shape, _ = self.compute_output_shape(x.shape)
        return [keras.KerasTensor(shape, dtype=self.compute_dtype), keras.KerasTensor(shape, dtype="int32")]

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}


@keras.saving.register_keras_serializable(package="kcnn")
class MaxUnpooling2D(keras.layers.Layer):
    """The inverse placement of :class:`MaxPoolingWithArgmax2D` for non-overlapping windows.

    Called on ``[values, indices]`` or ``[values, indices, reference]``: each value goes
    back to the input pixel its index names, every other pixel is 0. The output has the
    height and width of ``reference`` (the tensor that was pooled: needed when it was odd),
    or ``pool_size`` times the input's without one. ``pool_size`` must be the pooling's
    (with strides equal to it); indices from a pooling of another geometry are undefined.
    The gradient flows to ``values`` (the decoder's path back to the encoder); indices
    carry none.
    """

    def __init__(self, pool_size=2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size", "MaxUnpooling2D")

    def _unpack(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(
                "MaxUnpooling2D is called on [values, indices] or [values, indices, reference]; "
                f"Received: {type(inputs).__name__} of {len(inputs) if isinstance(inputs, (list, tuple)) else 1}"
            )
        return inputs[0], inputs[1], inputs[2] if len(inputs) == 3 else None

    def call(self, inputs):
        values, indices, reference = self._unpack(inputs)
        kh, kw = self.pool_size
        shape = ops.shape(values)
        h, w, channels = shape[1], shape[2], shape[3]
        grid_h, grid_w = h * kh, w * kw
        height, width = (grid_h, grid_w) if reference is None else ops.shape(reference)[1:3]
        # Where 'same' pooling padded the top/left (windows larger than 2), the grid starts before row 0.
        top = _at_least_zero(grid_h - height) // 2
        left = _at_least_zero(grid_w - width) // 2
        indices = ops.cast(indices, "int32")
        width_i = ops.cast(width, "int32")
        local = ((indices // width_i + top) % kh) * kw + (indices % width_i + left) % kw
        # A comparison and a select, not one_hot(local) * values: TFLite's full-integer converter
        # gives one_hot the values' int8 quantization, under which its 0 is no longer 0.
        chosen = ops.expand_dims(local, -1) == ops.arange(kh * kw, dtype="int32")
        spread = ops.where(chosen, ops.expand_dims(values, -1), ops.zeros((), dtype=values.dtype))
        spread = ops.reshape(spread, (-1, h, w, channels, kh, kw))
        grid = ops.reshape(ops.transpose(spread, (0, 1, 4, 2, 5, 3)), (-1, grid_h, grid_w, channels))
        grid = grid[:, top : top + height, left : left + width, :]
        if reference is not None:  # 'valid' pooling dropped the last rows/columns: they are zeros
            pad_h, pad_w = _at_least_zero(height - grid_h), _at_least_zero(width - grid_w)
            grid = ops.pad(grid, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
        return grid

    def compute_output_shape(self, input_shapes):
        values_shape = input_shapes[0]
        n, h, w, c = values_shape
        if len(input_shapes) == 3:
            return (n, input_shapes[2][1], input_shapes[2][2], c)
        kh, kw = self.pool_size
        return (n, None if h is None else h * kh, None if w is None else w * kw, c)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}
