"""MaxPoolingWithArgmax2D and MaxUnpooling2D against hand-computed examples (ties, odd sizes)."""

import keras
import numpy as np
import pytest

from kcnn.layers import MaxPoolingWithArgmax2D, MaxUnpooling2D

# A 3x5 plane (odd both ways) with ties: the 2x2 window at rows 0-1, cols 0-1 holds 3 at (0,1)
# and (1,1); the 'same' window at rows 0-1, col 4 holds 2 at (0,4) and (1,4).
PLANE = np.array([[1, 3, 3, 0, 2], [2, 3, 1, 4, 2], [0, 5, 5, 1, 7]], "float32")
# Channel 1 is the negated plane: its ties fall elsewhere (-0 at (0,3) and (2,0) ...).
X = np.stack([PLANE, -PLANE], -1)[None]


def _np(t):
    return keras.ops.convert_to_numpy(t)


def test_same_pooling_values_and_indices_by_hand_first_of_ties_wins():
    pooled, indices = MaxPoolingWithArgmax2D(2, padding="same")(X)
    # Windows (rows 0-1 | row 2 + padding) x (cols 0-1 | 2-3 | 4 + padding); index = y * 5 + x.
    np.testing.assert_array_equal(_np(pooled)[0, ..., 0], [[3, 4, 2], [5, 5, 7]])
    # Ties: 3 at (0,1) beats (1,1) -> 1; 2 at (0,4) beats (1,4) -> 4 (first in row-major order).
    np.testing.assert_array_equal(_np(indices)[0, ..., 0], [[1, 8, 4], [11, 12, 14]])
    np.testing.assert_array_equal(_np(pooled)[0, ..., 1], [[-1, 0, -2], [0, -1, -7]])
    # Channel 1: -1 at (0,0); -0 at (0,3) (before -1 at (1,2)); -2 ties at (0,4),(1,4) -> 4;
    # row 2: 0 at (2,0), -1 at (2,3), -7 at (2,4).
    np.testing.assert_array_equal(_np(indices)[0, ..., 1], [[0, 3, 4], [10, 13, 14]])
    assert keras.backend.standardize_dtype(indices.dtype) == "int32"


def test_valid_pooling_drops_the_odd_row_and_column():
    pooled, indices = MaxPoolingWithArgmax2D(2)(X)
    np.testing.assert_array_equal(_np(pooled)[0, ..., 0], [[3, 4]])
    np.testing.assert_array_equal(_np(indices)[0, ..., 0], [[1, 8]])


def test_ties_are_deterministic_on_a_constant_input():
    pooled, indices = MaxPoolingWithArgmax2D(2)(np.ones((1, 4, 4, 1), "float32"))
    np.testing.assert_array_equal(_np(indices)[0, ..., 0], [[0, 2], [8, 10]])  # every window's top-left


def test_unpooling_puts_each_maximum_back_and_zeros_elsewhere_at_the_odd_size():
    pooled, indices = MaxPoolingWithArgmax2D(2, padding="same")(X)
    out = _np(MaxUnpooling2D(2)([pooled, indices, X]))
    assert out.shape == (1, 3, 5, 2)
    want = np.zeros((3, 5))
    want[0, 1], want[1, 3], want[0, 4], want[2, 1], want[2, 2], want[2, 4] = 3, 4, 2, 5, 5, 7
    np.testing.assert_array_equal(out[0, ..., 0], want)
    np.testing.assert_array_equal(out[0, ..., 1], [[-1, 0, 0, 0, -2], [0, 0, 0, 0, 0], [0, 0, 0, -1, -7]])


def test_unpooling_after_valid_pooling_pads_the_dropped_border_with_zeros():
    pooled, indices = MaxPoolingWithArgmax2D(2)(X)
    out = _np(MaxUnpooling2D(2)([pooled, indices, X]))[0, ..., 0]
    want = np.zeros((3, 5))
    want[0, 1], want[1, 3] = 3, 4
    np.testing.assert_array_equal(out, want)


def test_unpooling_without_reference_doubles_the_size():
    pooled, indices = MaxPoolingWithArgmax2D(2)(X[:, :2, :4])
    out = _np(MaxUnpooling2D(2)([pooled, indices]))
    assert out.shape == (1, 2, 4, 2)
    np.testing.assert_array_equal(out[0, ..., 0], [[0, 3, 0, 0], [0, 0, 0, 4]])


def test_3x3_windows_with_same_padding_round_trip_every_maximum():
    x = np.random.default_rng(0).normal(size=(2, 5, 7, 3)).astype("float32")
    pooled, indices = MaxPoolingWithArgmax2D(3, padding="same")(x)
    out = _np(MaxUnpooling2D(3)([pooled, indices, x]))
    flat_x = x.transpose(0, 3, 1, 2).reshape(2, 3, -1)
    flat_out = out.transpose(0, 3, 1, 2).reshape(2, 3, -1)
    idx = _np(indices).transpose(0, 3, 1, 2).reshape(2, 3, -1)
    np.testing.assert_array_equal(
        np.take_along_axis(flat_x, idx, -1), _np(pooled).transpose(0, 3, 1, 2).reshape(2, 3, -1)
    )
    kept = np.zeros_like(flat_out, bool)
    np.put_along_axis(kept, idx, True, -1)
    np.testing.assert_array_equal(flat_out[kept], flat_x[kept])
    assert not flat_out[~kept].any()


def test_matches_torch_max_pool2d_return_indices_without_ties():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).normal(size=(2, 7, 9, 3)).astype("float32")
    pooled, indices = MaxPoolingWithArgmax2D(2)(x)
    ref, ref_idx = torch.nn.functional.max_pool2d(torch.from_numpy(x.transpose(0, 3, 1, 2)), 2, return_indices=True)
    np.testing.assert_array_equal(_np(pooled), ref.numpy().transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(_np(indices), ref_idx.numpy().transpose(0, 2, 3, 1))


def test_gradient_reaches_the_encoder_through_the_unpooling():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    encoded = keras.layers.Conv2D(2, 3, padding="same", name="encoder")(inputs)
    pooled, indices = MaxPoolingWithArgmax2D(2)(encoded)
    x = MaxUnpooling2D(2)([pooled, indices, encoded])
    outputs = keras.layers.Conv2D(1, 3, padding="same", name="decoder")(x)
    model = keras.Model(inputs, outputs)
    before = _np(model.get_layer("encoder").kernel).copy()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True)
    model.train_on_batch(np.random.default_rng(0).normal(size=(4, 6, 6, 1)), np.ones((4, 6, 6, 1)))
    assert not np.allclose(_np(model.get_layer("encoder").kernel), before)


def test_gradient_goes_to_the_winning_pixel_only():
    x = X[..., :1]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            pooled, _ = MaxPoolingWithArgmax2D(2, padding="same")(xt)
            loss = tf.reduce_sum(pooled)
        grad = tape.gradient(loss, xt).numpy()
    elif keras.backend.backend() == "torch":
        import torch

        xt = torch.tensor(x, requires_grad=True)
        pooled, _ = MaxPoolingWithArgmax2D(2, padding="same")(xt)
        pooled.sum().backward()
        grad = xt.grad.numpy()
    else:
        import jax

        grad = np.asarray(jax.grad(lambda t: MaxPoolingWithArgmax2D(2, padding="same")(t)[0].sum())(x))
    want = np.zeros((3, 5))
    want[0, 1] = want[1, 3] = want[0, 4] = want[2, 1] = want[2, 2] = want[2, 4] = 1  # not (1,1) or (1,4): ties
    np.testing.assert_array_equal(grad[0, ..., 0], want)


def test_keras_round_trip_and_config(tmp_path):
    inputs = keras.Input((None, None, 2))
    pooled, indices = MaxPoolingWithArgmax2D(2, padding="same", name="pool")(inputs)
    outputs = MaxUnpooling2D(2, name="unpool")([pooled, indices, inputs])
    model = keras.Model(inputs, outputs)
    assert model.get_layer("pool").get_config()["padding"] == "same"
    assert model.get_layer("unpool").get_config()["pool_size"] == (2, 2)
    path = tmp_path / "unpool.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(_np(restored(X)), _np(model(X)))
    assert model.output_shape == (None, None, None, 2)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="padding must be one of"):
        MaxPoolingWithArgmax2D(2, padding="full")
    with pytest.raises(ValueError, match="pool_size must be a positive integer"):
        MaxUnpooling2D(0)
    with pytest.raises(ValueError, match=r"called on \[values, indices\]"):
        MaxUnpooling2D(2)(X)


@pytest.mark.tf_only
def test_full_integer_int8_tflite_keeps_the_unpooled_zeros():
    """Converted to full-integer int8 TFLite, pool -> unpool still puts each maximum back and
    zeros elsewhere (an earlier one_hot(indices) * values became non-zero everywhere there:
    the converter gave one_hot the values' quantization, under which its 0 was not 0)."""
    import tensorflow as tf

    inputs = keras.Input((8, 8, 2))
    pooled, indices = MaxPoolingWithArgmax2D(2)(inputs)
    model = keras.Model(inputs, MaxUnpooling2D(2)([pooled, indices, inputs]))
    # Distinct values 1..128, 0.5 apart after quantization to 255 steps: no ties appear in int8.
    x = np.random.default_rng(0).permutation(np.arange(1, 129, dtype="float32")).reshape(1, 8, 8, 2)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.representative_dataset = lambda: iter([[x]])
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    want = _np(model(x))
    np.testing.assert_array_equal(got != 0, want != 0)
    np.testing.assert_allclose(got, want, atol=0.51)
