"""The small pieces the segmentation decoders need and Keras lacks: a bilinear initializer
for transposed convolutions (FCN), a crop to another tensor's size (FCN's and U-Net's
alignment) and the image-level feature broadcast of DeepLab v3's ASPP. keras.ops only.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["BilinearUpsampling", "CropToReference", "BroadcastToReference"]


def bilinear_filter(size: int) -> np.ndarray:
    """The (size, size) bilinear interpolation kernel of FCN's ``surgery.upsample_filt``:
    upsampling by ``factor = (size + 1) // 2`` with a transposed convolution of stride
    ``factor`` (size 2 * factor, padding factor / 2 for interpolation between pixel centres)."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.arange(size, dtype="float64")
    line = 1 - np.abs(og - center) / factor
    return np.outer(line, line)


@keras.saving.register_keras_serializable(package="kcnn")
class BilinearUpsampling(keras.initializers.Initializer):
    """Kernel of a ``Conv2DTranspose`` that upsamples each channel by bilinear interpolation
    (Long et al. 2015, §3.3: "we initialize the 2x upsampling to bilinear interpolation").

    For a kernel of shape (k, k, filters, in_channels) with filters == in_channels, channel
    i maps to channel i through :func:`bilinear_filter` (k) and to no other channel, as
    FCN's ``surgery.interp``. Square kernels only.
    """

    def __call__(self, shape, dtype=None):
        kh, kw, filters, channels = shape
        if kh != kw or filters != channels:
            raise ValueError(
                "BilinearUpsampling: needs a square kernel mapping each channel to itself, shape "
                f"(k, k, c, c); Received: shape={tuple(shape)}"
            )
        kernel = np.zeros(shape, dtype="float64")
        kernel[:, :, range(filters), range(filters)] = bilinear_filter(kh)[:, :, None]
        return ops.convert_to_tensor(kernel, dtype=dtype or keras.config.floatx())

    def get_config(self):
        return {}


@keras.saving.register_keras_serializable(package="kcnn")
class CropToReference(keras.layers.Layer):
    """``[x, reference] -> x[:, oy:oy + H, ox:ox + W]`` with (H, W) the reference's size.

    ``offset``: (oy, ox), an int for both, or None for the centre crop (U-Net's "cropping
    ... due to the loss of border pixels in every convolution"). FCN's Caffe models crop
    at fixed offsets (19 for FCN-32s, ...). Works on dynamic sizes.
    """

    def __init__(self, offset=None, **kwargs):
        super().__init__(**kwargs)
        if offset is not None:
            offset = (offset, offset) if isinstance(offset, int) else tuple(int(o) for o in offset)
            if len(offset) != 2 or min(offset) < 0:
                raise ValueError(f"CropToReference: offset must be None, an int >= 0 or a pair; Received: {offset!r}")
        self.offset = offset

    def call(self, inputs):
        x, reference = inputs
        height, width = ops.shape(reference)[1:3]
        if self.offset is None:
            size = ops.shape(x)
            oy, ox = (size[1] - height) // 2, (size[2] - width) // 2
        else:
            oy, ox = self.offset
        return x[:, oy : oy + height, ox : ox + width, :]

    def compute_output_shape(self, input_shapes):
        x_shape, reference_shape = input_shapes
        return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[3])

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}


@keras.saving.register_keras_serializable(package="kcnn")
class BroadcastToReference(keras.layers.Layer):
    """``[x, reference]`` with x of shape (batch, 1, 1, C) -> (batch, H, W, C): the constant
    map a 1x1 feature spreads to (DeepLab v3's image pooling; bilinear upsampling of a 1x1
    map gives the same). Works on dynamic sizes."""

    def call(self, inputs):
        x, reference = inputs
        return x * ops.ones_like(reference[..., :1], dtype=x.dtype)

    def compute_output_shape(self, input_shapes):
        x_shape, reference_shape = input_shapes
        return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[3])
