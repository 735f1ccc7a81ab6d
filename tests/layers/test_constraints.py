"""MaxFilterRMS: ZFNet's renormalization of convolution filters to RMS at most 0.1."""

import keras
import numpy as np
import pytest

from kcnn.layers import MaxFilterRMS

pytestmark = pytest.mark.jax  # tests/layers runs under KERAS_BACKEND=jax too (make test)


def _rms(w):
    return np.sqrt(np.mean(np.square(w), axis=tuple(range(w.ndim - 1))))


def test_filters_above_the_radius_are_rescaled_and_the_rest_kept():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 4, 5)).astype("float32")
    w *= np.array([0.5, 0.05, 0.1, 2.0, 0.01], dtype="float32") / _rms(w)
    out = keras.ops.convert_to_numpy(MaxFilterRMS(0.1)(keras.ops.convert_to_tensor(w)))
    np.testing.assert_allclose(_rms(out), [0.1, 0.05, 0.1, 0.1, 0.01], rtol=1e-5)
    np.testing.assert_allclose(out[..., [1, 2, 4]], w[..., [1, 2, 4]], rtol=1e-6)
    # rescaling keeps each filter's direction
    np.testing.assert_allclose(out[..., 0] / _rms(out)[0], w[..., 0] / _rms(w)[0], rtol=1e-5)


def test_applied_after_each_update_and_serializable(tmp_path):
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, kernel_constraint=MaxFilterRMS(0.1), name="c")
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(conv(inputs)))
    model.compile(optimizer=keras.optimizers.SGD(100.0), loss="mse")
    x = np.random.default_rng(1).normal(size=(4, 8, 8, 3)).astype("float32")
    model.train_on_batch(x, np.full((4, 4), 10.0, "float32"))
    assert np.all(_rms(keras.ops.convert_to_numpy(conv.kernel)) <= 0.1 + 1e-6)
    model.save(tmp_path / "c.keras")
    restored = keras.saving.load_model(tmp_path / "c.keras")
    assert restored.get_layer("c").kernel_constraint.radius == 0.1


def test_non_positive_radius_is_an_error():
    with pytest.raises(ValueError, match="radius must be positive"):
        MaxFilterRMS(0)
