"""kcnn.analysis.im2col_conv2d equals keras.layers.Conv2D for every stride, padding and dilation."""

import itertools

import keras
import numpy as np
import pytest

from kcnn.analysis import im2col, im2col_conv2d, patch_matrix_bytes

RNG = np.random.default_rng(0)


def _conv2d(x, kernel, strides, padding, dilation):
    layer = keras.layers.Conv2D(
        kernel.shape[-1], kernel.shape[:2], strides=strides, padding=padding, dilation_rate=dilation, use_bias=False
    )
    layer.build(x.shape)
    layer.set_weights([kernel])
    return keras.ops.convert_to_numpy(layer(x))


def _direct(x, kernel, strides, padding, dilation):
    """The definition, by loops over output pixels (for what Conv2D refuses: strides and dilation together)."""
    kh, kw, _, c_out = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation
    n, h, w, _ = x.shape
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if padding == "same":
        out_h, out_w = -(-h // sh), -(-w // sw)
        ph, pw = max((out_h - 1) * sh + span_h - h, 0), max((out_w - 1) * sw + span_w - w, 0)
        x = np.pad(x, [(0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)])
    else:
        out_h, out_w = (h - span_h) // sh + 1, (w - span_w) // sw + 1
    out = np.zeros((n, out_h, out_w, c_out))
    for i, j in itertools.product(range(out_h), range(out_w)):
        window = x[:, i * sh : i * sh + span_h : dh, j * sw : j * sw + span_w : dw, :]
        out[:, i, j] = np.einsum("nabc,abcf->nf", window, kernel)
    return out


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_equals_conv2d_for_every_stride_and_dilation(padding):
    x = RNG.normal(size=(2, 11, 10, 3)).astype("float32")
    cases = [
        (kernel_size, strides, dilation)
        for kernel_size in [(1, 1), (3, 3), (2, 3), (5, 5)]
        for strides in [(1, 1), (2, 2), (3, 2)]
        for dilation in [(1, 1), (2, 2), (1, 3)]
        if strides == (1, 1) or dilation == (1, 1)  # Conv2D refuses strides > 1 with dilation > 1
        if padding == "same" or dilation[1] * (kernel_size[1] - 1) < 10  # the kernel fits a valid convolution
    ]
    assert len(cases) >= 19
    for kernel_size, strides, dilation in cases:
        kernel = RNG.normal(size=(*kernel_size, 3, 4)).astype("float32")
        expected = _conv2d(x, kernel, strides, padding, dilation)
        got = keras.ops.convert_to_numpy(im2col_conv2d(x, kernel, strides, padding, dilation))
        assert got.shape == expected.shape, (kernel_size, strides, dilation)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4, err_msg=str((kernel_size, strides, dilation)))


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_strides_and_dilation_together_match_the_definition(padding):
    x = RNG.normal(size=(2, 13, 12, 2)).astype("float32")
    kernel = RNG.normal(size=(3, 2, 2, 3)).astype("float32")
    got = keras.ops.convert_to_numpy(im2col_conv2d(x, kernel, (2, 3), padding, (2, 2)))
    np.testing.assert_allclose(got, _direct(x, kernel, (2, 3), padding, (2, 2)), rtol=1e-4, atol=1e-4)


def test_patch_matrix_is_k_squared_times_the_input_at_stride_1():
    x = RNG.normal(size=(1, 8, 8, 3)).astype("float32")
    matrix, out_size = im2col(x, 3, padding="same")
    assert tuple(matrix.shape) == (64, 27) and out_size == (8, 8)
    # the centre tap of output pixel (2, 5) is input pixel (2, 5)
    row = keras.ops.convert_to_numpy(matrix)[2 * 8 + 5].reshape(3, 3, 3)
    np.testing.assert_array_equal(row[1, 1], x[0, 2, 5])
    assert patch_matrix_bytes((1, 8, 8, 3), 3, padding="same") == 9 * x.nbytes


def test_bad_arguments():
    x = np.zeros((1, 8, 8, 3), "float32")
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        im2col_conv2d(x, np.zeros((3, 3, 3, 1)), padding="full")
    with pytest.raises(ValueError, match="strides must be a positive integer"):
        im2col_conv2d(x, np.zeros((3, 3, 3, 1)), strides=0)
    with pytest.raises(ValueError, match="kernel expects C_in=2"):
        im2col_conv2d(x, np.zeros((3, 3, 2, 1)))
    with pytest.raises(ValueError, match="does not fit"):
        im2col_conv2d(x, np.zeros((9, 9, 3, 1)))
