"""AtrousConv2D computes exactly Conv2D's dilated convolution, with the same gradients."""

import keras
import numpy as np
import pytest

from kcnn.layers import AtrousConv2D


def _pair(rate, kernel=3, **kwargs):
    ref = keras.layers.Conv2D(4, kernel, padding="same", dilation_rate=rate, **kwargs)
    fast = AtrousConv2D(4, kernel, padding="same", dilation_rate=rate, **kwargs)
    return ref, fast


@pytest.mark.parametrize(
    "size, rate",
    [
        ((4, 4), 12),  # every tap but the centre reads padding: a 1x1 convolution
        ((8, 8), 6),  # all taps live
        ((9, 13), 2),  # odd sizes
        ((7, 4), 4),  # three taps down, one across
        ((6, 3), 3),  # width 3 < rate: a 3x1 column
        ((6, 6), (2, 3)),  # different rates per axis
    ],
)
def test_same_outputs_as_conv2d(size, rate):
    x = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")
    ref, fast = _pair(rate)
    ref.build(x.shape)
    fast.build(x.shape)
    fast.set_weights([np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in ref.get_weights()])
    ref.set_weights(fast.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fast(x)), keras.ops.convert_to_numpy(ref(x)), atol=1e-5)


def test_same_training_step_as_conv2d():
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(4, 8, 8, 4)).astype("float32")
    weights = None
    trained = []
    for cls in (keras.layers.Conv2D, AtrousConv2D):
        inputs = keras.Input((8, 8, 3))
        model = keras.Model(inputs, cls(4, 3, padding="same", dilation_rate=3, activation="relu")(inputs))
        weights = weights or model.get_weights()
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True)
        model.train_on_batch(x, y)
        trained.append(model.get_weights())
    for a, b in zip(*trained):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_unknown_sizes_strides_and_valid_padding_fall_back_to_conv2d(tmp_path):
    inputs = keras.Input((None, None, 3))
    outputs = AtrousConv2D(2, 3, padding="same", dilation_rate=2, name="atrous")(inputs)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).normal(size=(1, 10, 7, 3)).astype("float32")
    ref = keras.layers.Conv2D(2, 3, padding="same", dilation_rate=2)
    ref.build(x.shape)
    ref.set_weights(model.get_layer("atrous").get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(ref(x)), atol=1e-5)
    model.save(tmp_path / "atrous.keras")
    restored = keras.saving.load_model(tmp_path / "atrous.keras")
    assert isinstance(restored.get_layer("atrous"), AtrousConv2D)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6)
    valid = AtrousConv2D(2, 3, padding="valid", dilation_rate=2)
    assert keras.ops.convert_to_numpy(valid(x)).shape == (1, 6, 3, 2)
