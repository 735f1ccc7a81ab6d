"""Item 4: subtract the training mean; do not standardize or PCA-whiten images.

The notes' basic CNN (``notes_cnn``, the lecture's SGD lr 0.01 momentum 0.5, batch 64)
trained the same way on inputs prepared four ways, each fitted on the training images
only: "scale" (x / 255, no centring: the baseline), "mean" (minus the training mean,
kcnn.data's per-channel ``mean``), "standardize" (per-channel mean and standard deviation)
and "whiten" (PCA whitening rotated back to pixel space (ZCA) so that a CNN still sees an
image, epsilon 1e-5 as in CS231n's notes, the notes' source). Test accuracy over seeds.

Verdict rule (fixed before the runs), with d the difference of mean test accuracy and s
its standard error over seeds: (a) centring helps: mean - scale > 2s; (b) standardizing
and whitening do not help: each - mean <= 2s. holds: (a) and (b); partly: one of them.
"""

from __future__ import annotations

import keras
import numpy as np

from kcnn.data import normalization_layer
from kcnn.models.notes import notes_cnn
from kcnn.studies._common import Timer, compile_model, evaluate, fashion_mnist, finish, plot_arms, train_tracked

METHODS = ("scale", "mean", "standardize", "whiten")
WHITEN_EPSILON = 1e-5
FULL = dict(train=30_000, test=10_000, epochs=2, seeds=3, methods=METHODS)
QUICK = dict(train=1_000, test=1_000, epochs=1, seeds=1, methods=("mean", "whiten"))


def zca_matrix(x: np.ndarray, epsilon: float = WHITEN_EPSILON) -> tuple[np.ndarray, np.ndarray]:
    """Mean image and ZCA whitening matrix W (x_white = (x - mean) @ W) of flattened images."""
    flat = x.reshape(len(x), -1).astype("float64")
    mean = flat.mean(0)
    cov = (flat - mean).T @ (flat - mean) / len(flat)
    u, s, _ = np.linalg.svd(cov)
    return mean, (u / np.sqrt(s + epsilon)) @ u.T


def prepare(method: str, x_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """``x_train`` and ``others`` (float in [0, 1]) prepared by ``method`` with statistics of ``x_train``."""
    if method == "whiten":
        mean, w = zca_matrix(x_train)
        return [((x.reshape(len(x), -1) - mean) @ w).astype("float32").reshape(x.shape) for x in (x_train, *others)]
    raw = x_train * 255.0
    layer = normalization_layer(method, 1, mean=raw.mean(), std=raw.std())
    return [keras.ops.convert_to_numpy(layer(x * 255.0)).astype("float32") for x in (x_train, *others)]


def run(*, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    size = QUICK if quick else FULL
    with Timer() as timer:
        x, y = fashion_mnist("train", size["train"], seed=seed)
        x_test, y_test = fashion_mnist("test", size["test"], seed=seed)
        steps = size["epochs"] * len(y) // 64
        results = {m: [] for m in size["methods"]}
        for method in size["methods"]:
            xp, xtp = prepare(method, x, x_test)
            for s in range(size["seeds"]):
                keras.utils.set_random_seed(seed + s)
                model = compile_model(notes_cnn(), keras.optimizers.SGD(learning_rate=0.01, momentum=0.5))
                train_tracked(model, xp, y, steps=steps, batch_size=64, eval_every=steps, eval_sets={}, seed=seed + s)
                results[method].append(evaluate(model, xtp, y_test)["accuracy"])
                keras.backend.clear_session()
    mean = {m: float(np.mean(v)) for m, v in results.items()}
    verdict, reason = judge(results) if set(METHODS) <= set(results) else ("partly", _summary(mean))
    return finish(
        "preprocessing",
        quick=quick,
        seed=seed,
        settings={**size, "whiten_epsilon": WHITEN_EPSILON, "model": "notes_cnn", "optimizer": "SGD 0.01 m 0.5"},
        numbers={"test_accuracy": results, "mean_test_accuracy": mean},
        verdict=verdict,
        reason=reason,
        measured=(
            f"notes_cnn, {size['epochs']} epochs on {size['train']:,} images, inputs {', '.join(size['methods'])}: "
            f"test accuracy on {size['test']:,} ({size['seeds']} seeds)"
        ),
        timer=timer,
        figure=plot_arms(results, ylabel="test accuracy", title="notes_cnn: input preprocessing"),
        output_dir=output_dir,
    )


def _diff(a, b) -> tuple[float, float]:
    """Difference of means and its standard error (Welch)."""
    a, b = np.asarray(a), np.asarray(b)
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)) if len(a) > 1 else 0.0
    return float(a.mean() - b.mean()), float(se)


def _summary(mean: dict) -> str:
    return "mean test accuracy " + ", ".join(f"{m} {v:.4f}" for m, v in mean.items())


def judge(results: dict) -> tuple[str, str]:
    """The module's rule over ``results`` ({method: [test accuracy per seed]})."""
    d_center, s_center = _diff(results["mean"], results["scale"])
    centring = d_center > 2 * s_center
    others = {m: _diff(results[m], results["mean"]) for m in ("standardize", "whiten")}
    no_better = all(d <= 2 * s for d, s in others.values())
    verdict = "holds" if centring and no_better else "partly" if centring or no_better else "does not hold"
    reason = (
        _summary({m: float(np.mean(v)) for m, v in results.items()}) + f"; mean - scale = {d_center:+.4f} (2 s.e. "
        f"{2 * s_center:.4f}): centring {'helps' if centring else 'does not measurably help'}; "
        + "; ".join(
            f"{m} - mean = {d:+.4f} (2 s.e. {2 * s:.4f}): {'better' if d > 2 * s else 'not better'}"
            for m, (d, s) in others.items()
        )
    )
    return verdict, reason
