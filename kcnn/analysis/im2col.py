"""Convolution as im2col followed by one matrix product (the notes' "convolution as matrix
multiplication"), written with ``keras.ops`` so it runs under every backend.

A teaching and verification aid, not a fast path: the patch matrix holds every input
pixel once per kernel tap that covers it, ``k_h * k_w`` times the input at stride 1
(see :func:`patch_matrix_bytes`), and the product is one large matmul instead of the
backends' tuned convolution kernels. ``tools/benchmark.py --mode=im2col`` measures both.

Layout and padding follow ``keras.layers.Conv2D`` (channels_last, kernel
``(k_h, k_w, C_in, C_out)``, ``"same"`` padding with the extra pixel at the bottom/right).
"""

from __future__ import annotations

import math

from keras import ops

__all__ = ["im2col", "im2col_conv2d", "patch_matrix_bytes", "conv_output_size"]


def _pair(value, arg: str) -> tuple:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(not isinstance(v, int) or v < 1 for v in pair):
        raise ValueError(f"im2col: {arg} must be a positive integer or a pair of them; Received: {arg}={value!r}")
    return pair


def _padding(padding) -> str:
    if padding not in ("valid", "same"):
        raise ValueError(f"im2col: padding must be 'valid' or 'same' (as Conv2D); Received: padding={padding!r}")
    return padding


def conv_output_size(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> tuple:
    """``(output size, padding before, padding after)`` along one axis, as Keras computes them."""
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        return (size - span) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return out, total // 2, total - total // 2


def im2col(x, kernel_size, strides=1, padding="valid", dilation_rate=1):
    """The patch matrix of ``x`` (batch, H, W, C): shape ``(batch * H_out * W_out, k_h * k_w * C)``,
    row ``(n, i, j)`` holding the window under output pixel ``(i, j)`` of image ``n``, tap-major
    (the order of ``kernel.reshape(k_h * k_w * C, C_out)``). Returns ``(matrix, (H_out, W_out))``."""
    x = ops.convert_to_tensor(x)
    if len(x.shape) != 4 or None in x.shape[1:]:
        raise ValueError(f"im2col: x must be (batch, height, width, channels) with known sizes; Received: {x.shape}")
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size"), _pair(strides, "strides")
    dh, dw = _pair(dilation_rate, "dilation_rate")
    padding = _padding(padding)
    _, h, w, c = x.shape
    out_h, top, bottom = conv_output_size(h, kh, sh, padding, dh)
    out_w, left, right = conv_output_size(w, kw, sw, padding, dw)
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"im2col: a {kh}x{kw} kernel (dilation {dh}x{dw}) does not fit the {h}x{w} input with padding={padding!r}"
        )
    if top or bottom or left or right:
        x = ops.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
    taps = [
        x[:, i * dh : i * dh + sh * (out_h - 1) + 1 : sh, j * dw : j * dw + sw * (out_w - 1) + 1 : sw, :]
        for i in range(kh)
        for j in range(kw)
    ]
    patches = ops.stack(taps, axis=3)  # (batch, out_h, out_w, kh * kw, C)
    return ops.reshape(patches, (-1, kh * kw * c)), (out_h, out_w)


def im2col_conv2d(x, kernel, strides=1, padding="valid", dilation_rate=1):
    """``keras.layers.Conv2D`` without bias, computed as ``im2col(x) @ kernel.reshape(k_h*k_w*C_in, C_out)``.

    ``x``: (batch, H, W, C_in); ``kernel``: (k_h, k_w, C_in, C_out). Strides and dilation may
    be combined (Conv2D refuses that; the arithmetic is well defined).
    """
    kernel = ops.convert_to_tensor(kernel)
    x = ops.convert_to_tensor(x)
    if len(kernel.shape) != 4:
        raise ValueError(f"im2col_conv2d: kernel must be (k_h, k_w, C_in, C_out); Received shape {kernel.shape}")
    kh, kw, c_in, c_out = kernel.shape
    if len(x.shape) == 4 and x.shape[-1] != c_in:
        raise ValueError(f"im2col_conv2d: x has {x.shape[-1]} channels but the kernel expects C_in={c_in}")
    matrix, (out_h, out_w) = im2col(x, (kh, kw), strides, padding, dilation_rate)
    product = ops.matmul(matrix, ops.reshape(ops.cast(kernel, matrix.dtype), (kh * kw * c_in, c_out)))
    return ops.reshape(product, (-1, out_h, out_w, c_out))


def patch_matrix_bytes(input_shape, kernel_size, strides=1, padding="valid", dilation_rate=1, dtype_bytes=4) -> int:
    """Bytes of the patch matrix for ``input_shape`` (batch, H, W, C): ``batch * H_out * W_out * k_h * k_w * C``
    elements (the input itself is ``batch * H * W * C``)."""
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size"), _pair(strides, "strides")
    dh, dw = _pair(dilation_rate, "dilation_rate")
    n, h, w, c = input_shape
    out_h = conv_output_size(h, kh, sh, _padding(padding), dh)[0]
    out_w = conv_output_size(w, kw, sw, padding, dw)[0]
    return math.prod((n, out_h, out_w, kh, kw, c)) * dtype_bytes
