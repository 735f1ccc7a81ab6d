"""The bilinear initializer, the crop and the broadcast layers."""

import keras
import numpy as np
import pytest

from kcnn.segmentation.layers import BilinearUpsampling, BroadcastToReference, CropToReference, bilinear_filter


def _np(t):
    return keras.ops.convert_to_numpy(t)


def test_bilinear_filter_by_hand():
    # factor 2, kernel 4, centre 1.5: 1 - |x - 1.5| / 2 = 0.25, 0.75, 0.75, 0.25
    np.testing.assert_allclose(bilinear_filter(4), np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25]))
    # odd size 3: factor 2, centre 1: 0.5, 1, 0.5
    np.testing.assert_allclose(bilinear_filter(3)[1], [0.5, 1.0, 0.5])
    # a factor-f kernel's taps at one phase sum to 1: interpolation preserves constants
    kernel = bilinear_filter(64)
    np.testing.assert_allclose(kernel[::32, ::32].sum(), 1.0)


def test_initializer_maps_each_channel_to_itself_only():
    kernel = _np(BilinearUpsampling()((4, 4, 3, 3)))
    for i in range(3):
        for j in range(3):
            np.testing.assert_allclose(kernel[:, :, i, j], bilinear_filter(4) if i == j else 0.0)
    with pytest.raises(ValueError, match="square kernel mapping each channel to itself"):
        BilinearUpsampling()((4, 4, 3, 2))


def test_transposed_convolution_with_it_is_bilinear_upsampling_in_the_interior():
    # Keras' UpSampling2D(bilinear) interpolates between pixel centres (align_corners=False);
    # the 4x4/2 'same' transposed convolution does the same except at the border pixels.
    x = np.random.default_rng(0).normal(size=(2, 6, 7, 3)).astype("float32")
    deconv = keras.layers.Conv2DTranspose(
        3, 4, strides=2, padding="same", use_bias=False, kernel_initializer=BilinearUpsampling()
    )
    got = _np(deconv(x))
    want = _np(keras.layers.UpSampling2D(2, interpolation="bilinear")(x))
    assert got.shape == want.shape == (2, 12, 14, 3)
    np.testing.assert_allclose(got[:, 1:-1, 1:-1], want[:, 1:-1, 1:-1], atol=1e-5)
    assert not np.allclose(got[:, 0], want[:, 0])  # the border: zero padding vs edge clamping


def test_initializer_serializes():
    layer = keras.layers.Conv2DTranspose(2, 4, strides=2, kernel_initializer=BilinearUpsampling())
    restored = keras.layers.Conv2DTranspose.from_config(layer.get_config())
    assert isinstance(restored.kernel_initializer, BilinearUpsampling)


def test_crop_to_reference_centre_and_offset():
    x = np.arange(7 * 9, dtype="float32").reshape(1, 7, 9, 1)
    ref = np.zeros((1, 3, 4, 5), "float32")
    np.testing.assert_array_equal(_np(CropToReference()([x, ref])), x[:, 2:5, 2:6])
    np.testing.assert_array_equal(_np(CropToReference((1, 3))([x, ref])), x[:, 1:4, 3:7])
    assert CropToReference(offset=5).get_config()["offset"] == (5, 5)
    with pytest.raises(ValueError, match="offset must be None"):
        CropToReference(offset=-1)


def test_broadcast_to_reference_spreads_a_1x1_map():
    x = np.array([[[[1.0, 2.0]]]], "float32")
    out = _np(BroadcastToReference()([x, np.zeros((1, 3, 5, 7), "float32")]))
    assert out.shape == (1, 3, 5, 2)
    np.testing.assert_array_equal(out[..., 1], 2.0)


def test_layers_work_on_dynamic_sizes_in_a_saved_model(tmp_path):
    inputs = keras.Input((None, None, 2))
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True)(inputs)
    spread = BroadcastToReference()([pooled, inputs])
    small = keras.layers.Cropping2D(1)(inputs)
    outputs = keras.layers.Add()([CropToReference()([spread, small]), small])
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).normal(size=(1, 5, 6, 2)).astype("float32")
    np.testing.assert_allclose(_np(restored(x)), _np(model(x)), rtol=1e-6)
    assert _np(model(x)).shape == (1, 3, 4, 2)
