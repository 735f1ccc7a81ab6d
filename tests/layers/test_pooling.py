"""StochasticPooling2D (Zeiler & Fergus 2013) and CeilModeMaxPooling2D against numpy references."""

import keras
import numpy as np
import pytest

from kcnn.layers import CeilModeMaxPooling2D, StochasticPooling2D

pytestmark = pytest.mark.jax  # tests/layers runs under KERAS_BACKEND=jax too (make test)


def windows(x, k, s):
    """(batch, out_h, out_w, channels, k*k) windows of a 'valid' k x k, stride s pooling."""
    n, h, w, c = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.empty((n, oh, ow, c, k * k), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = x[:, i * s : i * s + k, j * s : j * s + k].reshape(n, k * k, c).transpose(0, 2, 1)
    return out


def probability_weighted_reference(x, k, s):
    w = windows(x.astype("float64"), k, s)
    total = w.sum(-1)
    return np.where(total > 0, (w * w).sum(-1) / np.where(total > 0, total, 1.0), 0.0)


def _relu_inputs(shape=(2, 7, 7, 3), seed=0):
    x = np.random.default_rng(seed).normal(size=shape).astype("float32")
    return np.maximum(x, 0.0)  # stochastic pooling works on rectified activations; many exact zeros


@pytest.mark.parametrize("k,s", [(2, 2), (3, 2), (3, 1)])
def test_inference_is_the_probability_weighted_average(k, s):
    x = _relu_inputs()
    x[0, :3, :3, 0] = 0.0  # an all-zero window gives 0
    y = keras.ops.convert_to_numpy(StochasticPooling2D(k, s)(x, training=False))
    np.testing.assert_allclose(y, probability_weighted_reference(x, k, s), rtol=1e-5, atol=1e-7)
    assert y[0, 0, 0, 0] == 0.0


@pytest.mark.parametrize("k,s", [(2, 2), (3, 2)])
def test_training_output_is_always_one_of_the_windows_values(k, s):
    x = _relu_inputs(seed=1)
    layer = StochasticPooling2D(k, s, seed=3)
    w = windows(x, k, s)
    for _ in range(5):
        y = keras.ops.convert_to_numpy(layer(x, training=True))
        assert y.shape == w.shape[:-1]
        assert np.all(np.any(y[..., None] == w, axis=-1))
        positive = w.max(-1) > 0
        assert np.all(y[positive] > 0), "a window with a positive value must never yield one of its zeros"


def test_window_with_one_nonzero_value_always_yields_it():
    rng = np.random.default_rng(2)
    x = np.zeros((3, 6, 6, 4), "float32")
    for b in range(3):
        for i in range(3):
            for j in range(3):
                for c in range(4):
                    x[b, 2 * i + rng.integers(2), 2 * j + rng.integers(2), c] = rng.uniform(0.1, 5.0)
    layer = StochasticPooling2D(2, seed=0)
    expected = windows(x, 2, 2).max(-1)
    for _ in range(5):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=True)), expected)


def test_samples_in_proportion_to_the_activations():
    # 20,000 windows holding 1 and 3: 3 should be picked with probability 3/4.
    x = np.tile(np.array([1.0, 3.0], "float32").reshape(1, 1, 2, 1), (1, 100, 100, 4)).reshape(1, 100, 200, 4)
    y = keras.ops.convert_to_numpy(StochasticPooling2D((1, 2), seed=7)(x, training=True))
    assert set(np.unique(y)) <= {1.0, 3.0}
    assert abs(np.mean(y == 3.0) - 0.75) < 0.02


def test_same_seed_reproduces_the_samples():
    x = _relu_inputs(seed=4)
    a = keras.ops.convert_to_numpy(StochasticPooling2D(2, seed=11)(x, training=True))
    b = keras.ops.convert_to_numpy(StochasticPooling2D(2, seed=11)(x, training=True))
    np.testing.assert_array_equal(a, b)


def test_in_a_model_fit_uses_sampling_and_predict_the_average(tmp_path):
    inputs = keras.Input((None, None, 3))
    layer = StochasticPooling2D(3, 2, seed=1, name="sp")
    assert layer(inputs).shape == (None, None, None, 3)
    model = keras.Model(inputs, layer(inputs))
    x = _relu_inputs(seed=5)
    np.testing.assert_allclose(model.predict(x, verbose=0), probability_weighted_reference(x, 3, 2), rtol=1e-5)
    config = layer.get_config()
    assert (config["pool_size"], config["strides"], config["seed"]) == ((3, 3), (2, 2), 1)
    model.save(tmp_path / "sp.keras")
    restored = keras.saving.load_model(tmp_path / "sp.keras")
    np.testing.assert_allclose(restored(x, training=False), model(x, training=False), rtol=1e-6)


def test_bad_pool_size_is_a_clear_error():
    with pytest.raises(ValueError, match="pool_size must be a positive integer"):
        StochasticPooling2D(0)


def ceil_max_pool_reference(x, k, s):
    n, h, w, c = x.shape
    oh, ow = -(-(h - k) // s) + 1, -(-(w - k) // s) + 1
    out = np.empty((n, oh, ow, c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = x[:, i * s : min(i * s + k, h), j * s : min(j * s + k, w)].max(axis=(1, 2))
    return out


@pytest.mark.parametrize("size", [13, 26, 110, 7, 8])
def test_ceil_mode_max_pooling(size):
    x = (
        np.random.default_rng(size).normal(size=(2, size, size + 1, 3)).astype("float32") - 3.0
    )  # negatives: no zero padding
    y = keras.ops.convert_to_numpy(CeilModeMaxPooling2D(3, 2)(x))
    np.testing.assert_array_equal(y, ceil_max_pool_reference(x, 3, 2))
    assert y.shape[1] == -(-(size - 3) // 2) + 1


def test_ceil_mode_equals_torch_ceil_mode():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(1, 110, 13, 2)).astype("float32")
    ours = keras.ops.convert_to_numpy(CeilModeMaxPooling2D(3, 2)(x))
    theirs = torch.nn.functional.max_pool2d(torch.tensor(x).permute(0, 3, 1, 2), 3, 2, ceil_mode=True)
    np.testing.assert_array_equal(ours, theirs.permute(0, 2, 3, 1).numpy())
    assert ours.shape[1:3] == (55, 6)


def test_ceil_mode_rejects_windows_smaller_than_strides():
    with pytest.raises(ValueError, match="must be at least strides"):
        CeilModeMaxPooling2D(2, 3)
