"""ZeroPadShortcut: He et al.'s parameter-free option-A shortcut."""

import keras
import numpy as np
import pytest

from kcnn.layers import ZeroPadShortcut

pytestmark = pytest.mark.jax  # tests/layers runs under KERAS_BACKEND=jax too (make test)


def test_subsamples_and_pads_channels_with_zeros_evenly():
    x = np.random.default_rng(0).normal(size=(2, 7, 7, 16)).astype("float32")
    layer = ZeroPadShortcut(32, 2)
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == (2, 4, 4, 32)
    np.testing.assert_array_equal(y[..., 8:24], x[:, ::2, ::2, :])
    assert not y[..., :8].any() and not y[..., 24:].any()
    assert layer.weights == []
    assert layer.compute_output_shape((None, 7, 7, 16)) == (None, 4, 4, 32)


def test_pure_subsampling_when_filters_is_none():
    x = np.arange(2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3)
    y = keras.ops.convert_to_numpy(ZeroPadShortcut(None, 2)(x))
    np.testing.assert_array_equal(y, x[:, ::2, ::2, :])


def test_cannot_reduce_channels():
    with pytest.raises(ValueError, match="projection"):
        ZeroPadShortcut(8, 1)(np.zeros((1, 4, 4, 16), "float32"))


def test_round_trips_through_config():
    layer = ZeroPadShortcut(24, 2, name="sc")
    clone = ZeroPadShortcut.from_config(layer.get_config())
    assert (clone.filters, clone.strides, clone.name) == (24, 2, "sc")
