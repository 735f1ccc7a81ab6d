"""Checks every registered network must pass; tests/models/test_zoo.py runs them over list_models()."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

import kcnn

# The same builder at greater depth or width as a member checked in full by default: their exact
# parameter counts are tested by default, everything else (forward, gradients, round trip,
# bfloat16, min_input, endpoints) with KCNN_HEAVY_TESTS=1, which keeps `make test` in budget.
DEEPER_VARIANTS = frozenset(
    [f"efficientnetb{k}" for k in range(1, 8)]
    + ["resnet101", "resnet152", "resnet101v2", "resnet152v2", "seresnet101", "densenet169", "densenet201"]
    + ["resnet34", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202"]
    + ["vgg13", "vgg13_bn", "vgg19", "vgg19_bn", "mobilenet_050", "mobilenetv2_035", "mobilenetv2_140"]
    + ["deeplabv3_resnet101", "fcn_resnet101"]
)


def tier_marks(name: str, heavy_above: int = 20_000_000) -> list:
    """pytest marks of a model's full checks: ``heavy`` for a deeper variant, ``slow`` above
    ``heavy_above`` parameters."""
    params = kcnn.model_info(name).params or 0
    return [
        m for m, on in ((pytest.mark.heavy, name in DEEPER_VARIANTS), (pytest.mark.slow, params > heavy_above)) if on
    ]


def count_params(model: keras.Model, convention: str) -> int:
    if convention == "trainable":
        return int(sum(math.prod(w.shape) for w in model.trainable_weights))
    return int(model.count_params())


def assert_published_params(name: str) -> None:
    info = kcnn.model_info(name)
    assert info.params is not None, f"{name}: no published parameter count registered"
    got = count_params(kcnn.create_model(name), info.params_convention)
    if info.params_tolerance:
        assert abs(got - info.params) <= info.params_tolerance * info.params, (
            f"{name}: {got:,} {info.params_convention} params, published {info.params:,} "
            f"(+-{info.params_tolerance:.0%}, {info.params_source})"
        )
    else:
        assert got == info.params, (
            f"{name}: {got:,} {info.params_convention} params, published {info.params:,} ({info.params_source})"
        )


def small_shape(name: str) -> tuple:
    """The cheapest input the model takes: its registered minimum."""
    info = kcnn.model_info(name)
    return info.min_input or info.input_shape


def assert_min_input_is_the_builders_minimum(name: str, built: keras.Model | None = None) -> None:
    """The model builds at ``model_info(name).min_input``; one pixel less is the builder's ValueError.

    ``built``: the model already built there (with ``classes=3``), to save building it twice.
    """
    info = kcnn.model_info(name)
    assert info.min_input is not None, f"{name}: no min_input registered"
    height, width, channels = info.min_input
    model = built or kcnn.create_model(name, input_shape=(height, width, channels), classes=3)
    assert model.input_shape[1:] == (height, width, channels)
    if built is None:
        keras.backend.clear_session()
    try:
        kcnn.create_model(name, input_shape=(height - 1, width, channels), classes=3)
    except ValueError as err:
        assert f"{height}x{width}" in str(err), f"{name}: {err} does not state the minimum"
    else:
        raise AssertionError(f"{name}: builds at {height - 1}x{width}, below its registered min_input {info.min_input}")


def sample_batch(shape: tuple, batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(batch, *shape)).astype("float32")


# TensorFlow and torch run the checks eagerly: tracing a graph of an ImageNet-size network costs
# more than the one step it runs. JAX compiles every primitive it dispatches eagerly, once per
# shape, so one jit-compiled function per check is the cheaper way there.
EAGER = keras.backend.backend() != "jax"


def _predict(model: keras.Model, x):
    return keras.ops.convert_to_numpy(model(x, training=False) if EAGER else model.predict_on_batch(x))


def assert_forward_gradients_and_round_trip(name: str, tmp_path, classes: int = 5) -> None:
    """Forward shape and finiteness; one SGD step changes every trainable weight; .keras round trip."""
    keras.utils.set_random_seed(0)  # stochastic depth drops whole examples: keep the draw reproducible
    shape = small_shape(name)
    model = kcnn.create_model(name, input_shape=shape, classes=classes)
    x = sample_batch(shape, batch=8)
    y = _predict(model, x)
    assert y.shape == (8, classes), f"{name}: output shape {y.shape}"
    assert np.all(np.isfinite(y)), f"{name}: non-finite outputs"

    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", run_eagerly=EAGER)
    loss = model.train_on_batch(x, np.arange(8) % classes)
    assert np.isfinite(loss), f"{name}: non-finite training loss"
    still = [
        w.path for w, b in zip(model.trainable_weights, before) if np.array_equal(keras.ops.convert_to_numpy(w), b)
    ]
    assert not still, f"{name}: no gradient reached {still[:5]}"

    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(
        _predict(restored, x),
        _predict(model, x),
        rtol=1e-5,
        atol=1e-6,
        err_msg=f"{name}: .keras round trip changed the outputs",
    )


def assert_mixed_bfloat16_outputs_float32(name: str, classes: int = 5) -> None:
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        shape = small_shape(name)
        model = kcnn.create_model(name, input_shape=shape, classes=classes)
        y = model(sample_batch(shape), training=False) if EAGER else model.predict_on_batch(sample_batch(shape))
        assert keras.backend.standardize_dtype(y.dtype) == "float32", f"{name}: outputs {y.dtype} under mixed_bfloat16"
        # Integer bookkeeping (Normalization's sample count) is not subject to the dtype policy.
        assert all(w.dtype == "float32" for w in model.weights if "float" in w.dtype), f"{name}: variables not float32"
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(y)))
    finally:
        keras.config.set_dtype_policy("float32")
