"""kcnn.analysis.hessian: against quadratics with known eigenvalues and a dense Hessian of a tiny model."""

import keras
import numpy as np
import pytest

from kcnn.analysis import hessian as H

RNG = np.random.default_rng(0)


def _quadratic(eigenvalues):
    q, _ = np.linalg.qr(RNG.standard_normal((len(eigenvalues), len(eigenvalues))))
    return q, q.T @ np.diag(eigenvalues) @ q


def test_power_iteration_lanczos_and_trace_on_a_known_spectrum():
    eigenvalues = np.array([10.0, 4.0, 1.0, 0.5, 0.25, -3.0, 0.1, 0.05])
    _, a = _quadratic(eigenvalues)
    op = H.MatrixOperator(a)
    top, vectors = H.top_eigenvalues(op, k=3, tol=1e-8, max_iters=500)
    np.testing.assert_allclose(top, [10.0, 4.0, -3.0], rtol=1e-4)  # largest magnitudes, in order
    np.testing.assert_allclose(abs(vectors[0] @ np.linalg.eigh(a)[1][:, -1]), 1.0, rtol=1e-4)
    ext = H.extreme_eigenvalues(op, steps=8)
    assert ext["min"] == pytest.approx(-3.0, rel=1e-8) and ext["max"] == pytest.approx(10.0, rel=1e-8)
    trace, stderr, _ = H.hutchinson_trace(op, samples=2000, seed=1)
    assert abs(trace - eigenvalues.sum()) < 4 * stderr


def test_spectral_density_recovers_the_eigenvalues():
    eigenvalues = np.array([-1.0, 0.5, 2.0, 3.0, 7.0])
    _, a = _quadratic(eigenvalues)
    density = H.spectral_density(H.MatrixOperator(a), runs=3, steps=5)
    for nodes, weights in zip(density.nodes, density.weights):
        np.testing.assert_allclose(np.sort(nodes), eigenvalues, atol=1e-8)
        assert weights.sum() == pytest.approx(1.0)
    grid = np.linspace(-3, 9, 2001)
    assert np.trapezoid(density.on_grid(grid, sigma=0.1), grid) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    "low, high, expected",
    [
        (0.5, 3.0, "local minimum"),
        (-0.5, 3.0, "saddle point"),
        (-3.0, -0.5, "local maximum"),
        (1e-5, 3.0, "inconclusive"),
    ],
)
def test_verdict(low, high, expected):
    assert H.verdict(low, high, tolerance=1e-3) == expected


def _quadratic_model(eigenvalues):
    """loss(w) = 1/2 sum_i d_i (q_i . w)^2: Hessian Q^T diag(d) Q, eigenvalues d."""
    q, a = _quadratic(eigenvalues)
    inputs = keras.Input((len(eigenvalues),))
    model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False)(inputs))

    def loss(d, z):
        return 0.5 * keras.ops.sum(d * keras.ops.square(z[:, 0]))

    return model, (q.astype("float32"), np.asarray(eigenvalues, "float32")), loss, a


@pytest.mark.parametrize(
    "eigenvalues, expected", [([3.0, 1.0, 0.5, 2.0], "local minimum"), ([3.0, -1.0, 0.5, 2.0], "saddle point")]
)
def test_model_quadratic(eigenvalues, expected):
    model, data, loss, a = _quadratic_model(eigenvalues)
    op = H.HessianOperator(model, data, loss=loss)
    dense = np.stack([op.matvec(e) for e in np.eye(op.num_params)], axis=1)
    np.testing.assert_allclose(dense, a, atol=1e-5)
    report = H.analyze(model, data, loss=loss, top_k=2, lanczos_steps=4, trace_samples=0)
    assert report.verdict == expected
    assert report.min_eigenvalue == pytest.approx(min(eigenvalues), abs=1e-4)
    assert report.top_eigenvalues[0] == pytest.approx(3.0, rel=1e-3)
    assert expected in str(report)


def _nll(y, p):
    """Cross-entropy in the model's own precision."""
    return -keras.ops.log(keras.ops.take_along_axis(p, keras.ops.expand_dims(keras.ops.cast(y, "int32"), -1), axis=-1))


@pytest.fixture
def float64():
    """float64 inputs and weights (TensorFlow computes every op of the tiny model in float64)."""
    floatx = keras.config.floatx()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(floatx)


def _tiny_cnn():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((5, 5, 1))
    x = keras.layers.Conv2D(2, 3, activation="tanh")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    bn = model.layers[2]
    bn.moving_mean.assign(np.array([0.3, -0.2]))  # inference mode must use these, not batch statistics
    bn.moving_variance.assign(np.array([2.0, 0.5]))
    x = RNG.normal(size=(6, 5, 5, 1)).astype(keras.config.floatx())
    y = np.array([0, 1, 2, 0, 1, 2])
    return model, (x, y)


def _exact_dense_hessian(model, x, y):
    """The dense Hessian by each backend's own exact machinery (not Hessian-vector products)."""
    backend = keras.backend.backend()
    weights = [w.value for w in model.trainable_weights]
    sizes = [int(np.prod(w.shape)) for w in weights]
    n = sum(sizes)
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape(persistent=True) as outer:
            with tf.GradientTape() as inner:
                loss = tf.reduce_mean(_nll(y, model(x, training=False)))
            grad = tf.concat([tf.reshape(g, [-1]) for g in inner.gradient(loss, model.trainable_weights)], 0)
        jac = outer.jacobian(grad, model.trainable_weights)
        return np.concatenate([tf.reshape(j, [n, -1]).numpy() for j in jac], axis=1)

    non_trainable = [w.value for w in model.non_trainable_weights]

    def loss_of(flat, split, reshape):
        parts = [reshape(p, w.shape) for p, w in zip(split(flat), weights)]
        y_pred, _ = model.stateless_call(parts, non_trainable, x, training=False)
        return keras.ops.sum(_nll(y, y_pred)) / len(y)

    flat = np.concatenate([keras.ops.convert_to_numpy(w).ravel() for w in weights])
    if backend == "torch":
        import torch

        def split(t):
            return torch.split(t, sizes)

        h = torch.autograd.functional.hessian(lambda f: loss_of(f, split, torch.reshape), torch.tensor(flat))
        return h.numpy()
    import jax
    import jax.numpy as jnp

    def split_jax(t):
        return jnp.split(t, np.cumsum(sizes)[:-1])

    return np.asarray(jax.hessian(lambda f: loss_of(f, split_jax, jnp.reshape))(jnp.asarray(flat)))


def test_dense_hessian_of_a_tiny_model():
    """Against the backend's exact dense Hessian, in float32: max relative error below 1e-5."""
    model, (x, y) = _tiny_cnn()
    op = H.HessianOperator(model, (x, y), loss=_nll)
    assert op.num_params == 2 * 9 + 2 + 2 * 2 + 18 * 3 + 3
    hvp = np.stack([op.matvec(e) for e in np.eye(op.num_params)], axis=1)
    exact = _exact_dense_hessian(model, x, y)
    assert np.abs(hvp - exact).max() / np.abs(exact).max() < 1e-5
    np.testing.assert_allclose(
        H.top_eigenvalues(op, k=1, tol=1e-7, max_iters=1000)[0][0], np.linalg.eigvalsh(exact)[-1], rtol=1e-3
    )


@pytest.mark.tf_only
def test_dense_hessian_in_float64_against_jacobian_and_finite_differences(float64):
    model, data = _tiny_cnn()
    op = H.HessianOperator(model, data, loss=_nll)
    n = op.num_params
    hvp = np.stack([op.matvec(e) for e in np.eye(n)], axis=1)
    exact = _exact_dense_hessian(model, *data)
    assert np.abs(hvp - exact).max() / np.abs(exact).max() < 1e-12
    flat = np.concatenate([keras.ops.convert_to_numpy(w).ravel() for w in model.trainable_weights])

    def gradient(at):
        for w, part in zip(model.trainable_weights, np.split(at, np.cumsum(op.sizes)[:-1])):
            w.assign(part.reshape(w.shape))
        return op.loss_and_gradient()[1]

    eps = 1e-5
    fd = np.stack([(gradient(flat + eps * e) - gradient(flat - eps * e)) / (2 * eps) for e in np.eye(n)], axis=1)
    gradient(flat)
    assert np.abs(hvp - fd).max() / np.abs(fd).max() < 1e-7
    # BatchNorm in inference mode: the loss is the one of model(x, training=False)
    expected = keras.ops.sum(_nll(data[1], model(data[0], training=False))) / len(data[1])
    assert op.loss_and_gradient()[0] == pytest.approx(float(expected), rel=1e-12)


def test_batches_are_weighted_by_size():
    model, (x, y) = _tiny_cnn()
    whole = H.HessianOperator(model, (x, y), loss=_nll)
    parts = H.HessianOperator(model, [(x[:4], y[:4]), (x[4:], y[4:])], loss=_nll)
    v = RNG.standard_normal(whole.num_params)
    np.testing.assert_allclose(parts.matvec(v), whole.matvec(v), rtol=1e-4, atol=1e-6)


def test_bad_input():
    model, (x, y) = _tiny_cnn()
    with pytest.raises(ValueError, match="batch 1 is empty"):
        H.HessianOperator(model, [(x, y), (x[:0], y[:0])])
    with pytest.raises(ValueError, match="no batches"):
        H.HessianOperator(model, [])
    with pytest.raises(ValueError, match="6 inputs but 5 labels"):
        H.HessianOperator(model, (x, y[:5]))
    model.trainable = False
    with pytest.raises(ValueError, match="no trainable weights"):
        H.HessianOperator(model, (x, y))
