"""LocalResponseNormalization against a direct numpy transcription of Krizhevsky et al. 2012, §3.3."""

import keras
import numpy as np
import pytest

from kcnn.layers import LocalResponseNormalization

pytestmark = pytest.mark.jax  # tests/layers runs under KERAS_BACKEND=jax too (make test)


def lrn_reference(a, n=5, k=2.0, alpha=1e-4, beta=0.75, divide_alpha_by_size=False):
    """b[i] = a[i] / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} a[j]^2)^beta, channel by channel."""
    a = a.astype("float64")
    channels = a.shape[-1]
    scale = alpha / n if divide_alpha_by_size else alpha
    out = np.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        out[..., i] = a[..., i] / (k + scale * np.sum(a[..., lo : hi + 1] ** 2, axis=-1)) ** beta
    return out


def _inputs(shape=(2, 4, 3, 11), scale=40.0):
    # Large activations so that alpha * sum is comparable to k and the normalization matters.
    return np.random.default_rng(0).uniform(-scale, scale, size=shape).astype("float32")


@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_matches_the_paper_formula(size):
    x = _inputs()
    y = keras.ops.convert_to_numpy(LocalResponseNormalization(size=size)(x))
    ref = lrn_reference(x, n=size)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ref, x / 2.0**0.75), "the test input must make the sum term matter"


def test_paper_defaults_and_alpha_not_divided_by_n():
    layer = LocalResponseNormalization()
    assert (layer.size, layer.k, layer.alpha, layer.beta, layer.divide_alpha_by_size) == (5, 2.0, 1e-4, 0.75, False)
    x = _inputs()
    paper = keras.ops.convert_to_numpy(layer(x))
    caffe = keras.ops.convert_to_numpy(LocalResponseNormalization(divide_alpha_by_size=True)(x))
    np.testing.assert_allclose(caffe, lrn_reference(x, divide_alpha_by_size=True), rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(paper - caffe)) > 1e-2


def test_other_constants():
    x = _inputs(scale=5.0)
    y = keras.ops.convert_to_numpy(LocalResponseNormalization(size=3, k=1.0, alpha=1e-2, beta=0.5)(x))
    np.testing.assert_allclose(y, lrn_reference(x, n=3, k=1.0, alpha=1e-2, beta=0.5), rtol=1e-5, atol=1e-6)


@pytest.mark.tf_only
def test_equals_tensorflow_lrn_which_uses_the_paper_convention():
    import tensorflow as tf

    x = _inputs()
    ours = keras.ops.convert_to_numpy(LocalResponseNormalization()(x))
    theirs = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_divided_alpha_equals_torch_local_response_norm():
    torch = pytest.importorskip("torch")
    x = _inputs()
    ours = keras.ops.convert_to_numpy(LocalResponseNormalization(size=5, k=1.0, divide_alpha_by_size=True)(x))
    lrn = torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
    theirs = lrn(torch.tensor(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_even_or_bad_size_is_a_clear_error():
    with pytest.raises(ValueError, match="size must be a positive odd integer"):
        LocalResponseNormalization(size=4)


def test_mixed_bfloat16_keeps_the_denominator_precise():
    x = _inputs(scale=3.0)  # alpha * sum is ~5e-3 of k: lost if computed in bfloat16
    layer = LocalResponseNormalization(dtype="mixed_bfloat16")
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    xb = keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.cast(x, "bfloat16"), "float32"))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.ops.cast(y, "float32")), lrn_reference(xb), rtol=1e-2, atol=1e-2
    )


def test_config_round_trip_and_model_save(tmp_path):
    layer = LocalResponseNormalization(size=3, alpha=2e-4, beta=0.5, k=1.5, divide_alpha_by_size=True, name="lrn")
    clone = LocalResponseNormalization.from_config(layer.get_config())
    assert [getattr(clone, a) for a in ("size", "alpha", "beta", "k", "divide_alpha_by_size", "name")] == [
        3,
        2e-4,
        0.5,
        1.5,
        True,
        "lrn",
    ]
    inputs = keras.Input((4, 4, 6))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "lrn.keras")
    x = _inputs((1, 4, 4, 6))
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "lrn.keras")(x), model(x), rtol=1e-6)
