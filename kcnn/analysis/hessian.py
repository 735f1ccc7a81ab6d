"""The Hessian of a model's loss without forming it: eigenvalues, trace, spectral density and the
notes' verdict (all eigenvalues > 0: a local minimum; mixed signs: a saddle point).

Everything is built on Hessian-vector products (:mod:`kcnn.analysis.hvp`, double backprop
under TensorFlow, torch and JAX), with BatchNorm in inference mode. Memory is O(parameters):
power iteration holds ``k + 2`` vectors, Lanczos ``steps`` vectors (float32), never the
``n x n`` matrix.

    op = HessianOperator(model, (x, y))              # one batch, or a list of batches
    top = top_eigenvalues(op, k=2)                   # power iteration with deflation
    low = extreme_eigenvalues(op, steps=30)          # Lanczos: the most negative and the largest
    tr = hutchinson_trace(op, samples=50)
    report = analyze(model, (x, y), top_k=2)         # all of it and the verdict
    print(report)

Any object with ``num_params`` and ``matvec(v)`` (a float64 vector) works as an operator,
e.g. :class:`MatrixOperator` over an explicit symmetric matrix.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import keras
import numpy as np

from kcnn.analysis.hvp import make_functions

__all__ = [
    "HessianOperator",
    "MatrixOperator",
    "top_eigenvalues",
    "extreme_eigenvalues",
    "hutchinson_trace",
    "spectral_density",
    "SpectralDensity",
    "verdict",
    "analyze",
    "HessianReport",
]

log = logging.getLogger(__name__)


def _batches(data) -> list:
    """``(x, y)`` or an iterable of ``(x, y)`` batches -> a list of (x, y) pairs, checked."""
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple):
        data = [data]
    batches = []
    for i, batch in enumerate(data):
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise ValueError(
                f"hessian: data must be (x, y) or an iterable of (x, y) batches; batch {i} is {type(batch)}"
            )
        x, y = batch
        n = int(keras.ops.shape(x)[0])
        if n == 0:
            raise ValueError(f"hessian: batch {i} is empty; give at least one example per batch")
        if int(keras.ops.shape(y)[0]) != n:
            raise ValueError(f"hessian: batch {i} has {n} inputs but {int(keras.ops.shape(y)[0])} labels")
        batches.append((keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y), n))
    if not batches:
        raise ValueError("hessian: data holds no batches; give (x, y) or a non-empty list of (x, y) batches")
    return batches


def _mean(values):
    """The mean of per-example losses (or a scalar loss as it is). Not ``keras.ops.mean``: under torch
    it averages float64 in float32 (keras 3.15)."""
    return keras.ops.sum(values) / keras.ops.cast(keras.ops.size(values), values.dtype)


class HessianOperator:
    """``H v`` for the mean loss of ``model`` over ``data`` (one ``(x, y)`` batch or a list of them,
    each weighted by its size), with respect to ``model.trainable_weights``.

    ``loss``: a Keras loss name or object, or a callable ``(y_true, y_pred)`` returning the batch's
    mean loss or the per-example losses, which are averaged (default: sparse categorical
    cross-entropy from probabilities). Regularization losses (``model.losses``) are not
    included, as in PyHessian.
    """

    def __init__(self, model, data, loss="sparse_categorical_crossentropy"):
        if not model.trainable_weights:
            raise ValueError(
                f"hessian: model {model.name!r} has no trainable weights; the Hessian is taken with respect to them"
            )
        self.model = model
        raw_loss = keras.losses.get(loss) if isinstance(loss, str) else loss
        self.loss_fn = lambda y_true, y_pred: _mean(raw_loss(y_true, y_pred))
        self.batches = _batches(data)
        self.num_examples = sum(n for _, _, n in self.batches)
        self.shapes = [tuple(w.shape) for w in model.trainable_weights]
        self.dtypes = [w.dtype for w in model.trainable_weights]
        self.sizes = [math.prod(s) for s in self.shapes]
        self.num_params = sum(self.sizes)
        self.matvecs = 0
        self._loss_and_grad, self._hvp = make_functions(model, self.loss_fn)

    def _split(self, v: np.ndarray) -> list:
        parts = np.split(np.asarray(v), np.cumsum(self.sizes)[:-1])
        return [keras.ops.convert_to_tensor(p.reshape(s), dtype=d) for p, s, d in zip(parts, self.shapes, self.dtypes)]

    def _flat(self, tensors) -> np.ndarray:
        return np.concatenate([keras.ops.convert_to_numpy(t).reshape(-1).astype(np.float64) for t in tensors])

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """``H v`` for a flat vector ``v`` of ``num_params`` entries (float64 in and out)."""
        if np.shape(v) != (self.num_params,):
            raise ValueError(f"hessian: vector of shape {np.shape(v)}, expected ({self.num_params},)")
        vectors = self._split(v)
        total = np.zeros(self.num_params)
        for x, y, n in self.batches:
            total += (n / self.num_examples) * self._flat(self._hvp(x, y, vectors))
        self.matvecs += 1
        return total

    def loss_and_gradient(self) -> tuple:
        """The mean loss and its flat gradient over the data."""
        loss, grad = 0.0, np.zeros(self.num_params)
        for x, y, n in self.batches:
            value, grads = self._loss_and_grad(x, y)
            loss += (n / self.num_examples) * float(keras.ops.convert_to_numpy(value))
            grad += (n / self.num_examples) * self._flat(grads)
        return loss, grad


class MatrixOperator:
    """An explicit symmetric matrix as an operator (for tests and small problems)."""

    def __init__(self, matrix):
        self.matrix = np.asarray(matrix, dtype=np.float64)
        self.num_params = self.matrix.shape[0]
        self.matvecs = 0

    def matvec(self, v):
        self.matvecs += 1
        return self.matrix @ v


def _rng(seed):
    return np.random.default_rng(seed)


def top_eigenvalues(op, k: int = 1, max_iters: int = 100, tol: float = 1e-3, seed: int = 0) -> tuple:
    """The ``k`` eigenvalues of largest magnitude by power iteration with deflation (PyHessian's method):
    each new vector is kept orthogonal to the eigenvectors already found. Stops when the Rayleigh
    quotient changes by less than ``tol`` relative. Returns ``(eigenvalues, eigenvectors)``."""
    if k < 1 or k > op.num_params:
        raise ValueError(f"top_eigenvalues: k must be between 1 and the {op.num_params} parameters; Received: k={k}")
    rng = _rng(seed)
    values, vectors = [], []
    for _ in range(k):
        v = rng.standard_normal(op.num_params)
        value = None
        for _ in range(max_iters):
            for u in vectors:
                v -= (u @ v) * u
            v /= np.linalg.norm(v)
            hv = op.matvec(v)
            new = float(v @ hv)
            converged = value is not None and abs(new - value) <= tol * (abs(value) + 1e-12)
            value, v = new, hv
            if converged:
                break
        for u in vectors:
            v -= (u @ v) * u
        v /= np.linalg.norm(v)
        values.append(value)
        vectors.append(v)
    return values, vectors


def lanczos(op, steps: int, seed: int = 0, start=None) -> tuple:
    """``steps`` Lanczos iterations with full reorthogonalization (basis stored in float32).

    Returns ``(alphas, betas)``, the tridiagonal matrix's diagonal and off-diagonal (``betas``
    one longer: its last entry is the residual norm), fewer if an invariant subspace is found.
    """
    steps = min(steps, op.num_params)
    v = _rng(seed).standard_normal(op.num_params) if start is None else np.asarray(start, dtype=np.float64)
    v /= np.linalg.norm(v)
    basis = np.zeros((steps, op.num_params), dtype=np.float32)
    alphas, betas = [], []
    for j in range(steps):
        basis[j] = v
        w = op.matvec(v)
        alpha = float(w @ v)
        w -= alpha * v + (betas[-1] * basis[j - 1] if j else 0.0)
        for _ in range(2):  # twice is enough (Parlett's "twice is enough")
            w -= basis[: j + 1].T.astype(np.float64) @ (basis[: j + 1].astype(np.float64) @ w)
        beta = float(np.linalg.norm(w))
        alphas.append(alpha)
        betas.append(beta)
        if beta < 1e-10 * max(abs(alpha), 1.0):
            break
        v = w / beta
    return np.array(alphas), np.array(betas)


def _ritz(alphas, betas) -> tuple:
    t = np.diag(alphas) + np.diag(betas[: len(alphas) - 1], 1) + np.diag(betas[: len(alphas) - 1], -1)
    theta, s = np.linalg.eigh(t)
    return theta, s


def extreme_eigenvalues(op, steps: int = 30, seed: int = 0) -> dict:
    """The smallest (most negative) and largest eigenvalues by Lanczos, with residual bounds: for each
    Ritz value there is an eigenvalue of H within ``residual`` of it (``beta_m * |s_m|``). The Ritz
    values lie inside the spectrum, so the true extremes are at least as far out."""
    alphas, betas = lanczos(op, steps, seed)
    theta, s = _ritz(alphas, betas)
    residuals = abs(betas[-1] * s[-1, :])
    return {
        "min": float(theta[0]),
        "min_residual": float(residuals[0]),
        "max": float(theta[-1]),
        "max_residual": float(residuals[-1]),
        "steps": len(alphas),
    }


def hutchinson_trace(op, samples: int = 50, seed: int = 0, rtol: float = 0.0) -> tuple:
    """Hutchinson's estimator ``E[v^T H v]`` over Rademacher vectors ``v``. Returns ``(mean, standard
    error, samples used)``; with ``rtol`` > 0 it stops early once the standard error is below
    ``rtol * |mean|`` (after at least 10 samples)."""
    if samples < 2:
        raise ValueError(f"hutchinson_trace: samples must be at least 2; Received: samples={samples}")
    rng = _rng(seed)
    draws = []
    for i in range(samples):
        v = rng.choice((-1.0, 1.0), size=op.num_params)
        draws.append(float(v @ op.matvec(v)))
        if rtol and i >= 9 and np.std(draws, ddof=1) / math.sqrt(len(draws)) < rtol * abs(np.mean(draws)):
            break
    return float(np.mean(draws)), float(np.std(draws, ddof=1) / math.sqrt(len(draws))), len(draws)


@dataclasses.dataclass(frozen=True)
class SpectralDensity:
    """Stochastic Lanczos quadrature: per run, Ritz values (``nodes``) and their weights (summing to 1)."""

    nodes: tuple
    weights: tuple

    def on_grid(self, grid, sigma: float) -> np.ndarray:
        """The density smoothed by Gaussians of width ``sigma``, averaged over runs, on ``grid``."""
        grid = np.asarray(grid, dtype=np.float64)
        density = np.zeros_like(grid)
        for nodes, weights in zip(self.nodes, self.weights):
            density += np.exp(-((grid[:, None] - nodes[None, :]) ** 2) / (2 * sigma**2)) @ weights
        return density / (len(self.nodes) * sigma * math.sqrt(2 * math.pi))


def spectral_density(op, runs: int = 1, steps: int = 50, seed: int = 0) -> SpectralDensity:
    """The Hessian's eigenvalue density by stochastic Lanczos quadrature (Ghorbani et al. 2019), from
    ``runs`` Rademacher starting vectors of ``steps`` Lanczos iterations each."""
    rng = _rng(seed)
    nodes, weights = [], []
    for _ in range(runs):
        start = rng.choice((-1.0, 1.0), size=op.num_params)
        theta, s = _ritz(*lanczos(op, steps, start=start))
        nodes.append(theta)
        weights.append(s[0, :] ** 2)
    return SpectralDensity(tuple(nodes), tuple(weights))


def verdict(min_eigenvalue: float, max_eigenvalue: float, tolerance: float) -> str:
    """The notes' criterion with a tolerance: every eigenvalue above ``tolerance``: "local minimum";
    some below ``-tolerance`` and some above ``tolerance``: "saddle point"; every one below
    ``-tolerance``: "local maximum"; otherwise (an eigenvalue within the tolerance of 0):
    "inconclusive"."""
    if min_eigenvalue > tolerance:
        return "local minimum"
    if min_eigenvalue < -tolerance and max_eigenvalue > tolerance:
        return "saddle point"
    if max_eigenvalue < -tolerance:
        return "local maximum"
    return "inconclusive"


@dataclasses.dataclass(frozen=True)
class HessianReport:
    """What :func:`analyze` measured. ``tolerance`` is ``max(atol, rtol * |largest eigenvalue|)``; the
    smallest eigenvalue counts as negative only when it lies below ``-tolerance`` by more than its
    Lanczos residual, as positive only when above ``tolerance`` by more than it."""

    verdict: str
    top_eigenvalues: tuple
    min_eigenvalue: float
    min_eigenvalue_residual: float
    max_eigenvalue: float
    trace: float | None
    trace_stderr: float | None
    loss: float
    gradient_norm: float
    tolerance: float
    num_params: int
    num_examples: int
    matvecs: int
    seconds: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        top = ", ".join(f"{v:.6g}" for v in self.top_eigenvalues)
        trace = "not computed" if self.trace is None else f"{self.trace:.6g} +- {self.trace_stderr:.2g} (std. error)"
        return "\n".join(
            [
                f"verdict: {self.verdict} (tolerance {self.tolerance:.3g}; the criterion applies at a critical "
                f"point: gradient norm {self.gradient_norm:.3g})",
                f"top eigenvalues (power iteration): {top}",
                f"smallest eigenvalue (Lanczos): {self.min_eigenvalue:.6g} +- {self.min_eigenvalue_residual:.2g}",
                f"largest eigenvalue (Lanczos): {self.max_eigenvalue:.6g}",
                f"trace (Hutchinson): {trace}",
                f"loss {self.loss:.6g} over {self.num_examples} examples; {self.num_params:,} parameters; "
                f"{self.matvecs} Hessian-vector products in {self.seconds:.1f} s",
            ]
        )


def analyze(
    model,
    data,
    *,
    loss="sparse_categorical_crossentropy",
    top_k: int = 1,
    lanczos_steps: int = 30,
    trace_samples: int = 30,
    max_iters: int = 100,
    power_tol: float = 1e-3,
    rtol: float = 1e-3,
    atol: float = 1e-6,
    seed: int = 0,
) -> HessianReport:
    """Top-k eigenvalues, the extremes, the trace (``trace_samples=0``: skipped) and the verdict for
    ``model``'s loss on ``data`` (see :class:`HessianOperator`)."""
    tic = time.perf_counter()
    op = HessianOperator(model, data, loss=loss)
    loss_value, grad = op.loss_and_gradient()
    top, _ = top_eigenvalues(op, k=top_k, max_iters=max_iters, tol=power_tol, seed=seed)
    ext = extreme_eigenvalues(op, steps=lanczos_steps, seed=seed + 1)
    largest = max(max(top), ext["max"])
    tolerance = max(atol, rtol * max(abs(largest), abs(ext["min"])))
    low, res = ext["min"], ext["min_residual"]
    # the smallest Ritz value is an upper bound on the smallest eigenvalue; widen by its residual
    shifted = low + res if low < 0 else low - res
    trace = stderr = None
    if trace_samples:
        trace, stderr, _ = hutchinson_trace(op, samples=trace_samples, seed=seed + 2)
    report = HessianReport(
        verdict=verdict(shifted, largest, tolerance),
        top_eigenvalues=tuple(top),
        min_eigenvalue=low,
        min_eigenvalue_residual=res,
        max_eigenvalue=ext["max"],
        trace=trace,
        trace_stderr=stderr,
        loss=loss_value,
        gradient_norm=float(np.linalg.norm(grad)),
        tolerance=tolerance,
        num_params=op.num_params,
        num_examples=op.num_examples,
        matvecs=op.matvecs,
        seconds=time.perf_counter() - tic,
    )
    log.debug("Hessian of %s: %s", model.name, report.verdict)
    return report
