"""Maxout (Goodfellow et al. 2013) against numpy."""

import keras
import numpy as np
import pytest

from kcnn.layers import Maxout

pytestmark = pytest.mark.jax  # tests/layers runs under KERAS_BACKEND=jax too (make test)


def maxout_reference(x, pieces):
    return x.reshape(*x.shape[:-1], x.shape[-1] // pieces, pieces).max(axis=-1)


@pytest.mark.parametrize("shape,pieces", [((3, 12), 2), ((3, 12), 3), ((2, 5, 4, 8), 4), ((2, 3, 3, 6), 1)])
def test_max_over_consecutive_groups(shape, pieces):
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    y = keras.ops.convert_to_numpy(Maxout(pieces)(x))
    assert y.shape == (*shape[:-1], shape[-1] // pieces)
    np.testing.assert_array_equal(y, maxout_reference(x, pieces))


def test_groups_are_consecutive_channels():
    x = np.array([[1.0, 5.0, 2.0, 0.0, -1.0, -3.0]], dtype="float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(Maxout(2)(x)), [[5.0, 2.0, -1.0]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(Maxout(3)(x)), [[5.0, 0.0]])


def test_gradient_reaches_only_the_maximum():
    x = np.array([[1.0, 5.0, 2.0, 0.0]], dtype="float32")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        v = tf.Variable(x)
        with tf.GradientTape() as tape:
            y = keras.ops.sum(Maxout(2)(v))
        grad = tape.gradient(y, v).numpy()
    elif keras.backend.backend() == "torch":
        import torch

        v = torch.tensor(x, requires_grad=True)
        keras.ops.sum(Maxout(2)(v)).backward()
        grad = v.grad.numpy()
    else:
        import jax

        grad = np.asarray(jax.grad(lambda v: keras.ops.sum(Maxout(2)(v)))(x))
    np.testing.assert_array_equal(grad, [[0.0, 1.0, 1.0, 0.0]])


def test_channels_not_a_multiple_of_pieces_is_a_clear_error():
    with pytest.raises(ValueError, match="not a multiple of pieces=3"):
        Maxout(3)(keras.Input((4, 4, 8)))
    with pytest.raises(ValueError, match="pieces must be a positive integer"):
        Maxout(0)


def test_symbolic_shape_config_and_save(tmp_path):
    inputs = keras.Input((None, None, 12))
    layer = Maxout(3, name="mo")
    assert layer(inputs).shape == (None, None, None, 4)
    assert Maxout.from_config(layer.get_config()).pieces == 3
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(2).normal(size=(1, 3, 3, 12)).astype("float32")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "m.keras")(x), model(x))
