"""Item 1: sigmoid saturates; ReLU converges several times faster than saturating units.

The notes' own basic CNN (``notes_cnn``, PyTorch's default initialization, the lecture's
SGD lr 0.01 momentum 0.5, batch 64) with each activation in turn; the training error is
measured on a fixed sample of training images every ``eval_every`` steps. Convergence speed
is the number of steps to a training error of 25% (AlexNet's Figure 1 threshold), and the
ratio of a saturating unit's steps to ReLU's. The saturation half is the derivative of each
activation by automatic differentiation at 0 and at |x| = 10.

Verdict rule (fixed before the runs): holds if ReLU needs at most a third of the steps of
both tanh and sigmoid in every seed ("several times", the notes' 6x within a factor of 2);
partly if it is faster than both (ratio >= 1.2) but not 3x; does not hold otherwise. A unit
that never reaches the threshold counts with the step budget (its ratio a lower bound).
"""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt
import numpy as np

from kcnn.models.notes import notes_cnn
from kcnn.studies._common import (
    Timer,
    compile_model,
    fashion_mnist,
    finish,
    first_step_below,
    train_tracked,
)

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "maxout")
THRESHOLD = 0.25  # training error, AlexNet Figure 1; a run stops when it gets there
FULL = dict(train=60_000, track=2_000, steps=3_000, eval_every=50, seeds=3, activations=ACTIVATIONS)
QUICK = dict(train=2_000, track=500, steps=100, eval_every=25, seeds=1, activations=("sigmoid", "relu"))


def derivatives(points=(0.0, 10.0, -10.0)) -> dict:
    """d/dx of each (elementwise) activation at ``points``, by automatic differentiation."""
    import tensorflow as tf

    x = tf.constant(points, dtype="float32")
    out = {}
    for name in ("sigmoid", "tanh", "relu", "leaky_relu", "elu"):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = keras.activations.get(name)(x)
        out[name] = [float(v) for v in tape.gradient(y, x).numpy()]
    return out


def run(*, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    size = QUICK if quick else FULL
    with Timer() as timer:
        x, y = fashion_mnist("train", size["train"], seed=seed)
        track = (x[: size["track"]], y[: size["track"]])
        histories = {a: [] for a in size["activations"]}
        for s in range(size["seeds"]):
            for activation in size["activations"]:
                keras.utils.set_random_seed(seed + s)
                model = compile_model(
                    notes_cnn(activation=activation), keras.optimizers.SGD(learning_rate=0.01, momentum=0.5)
                )
                histories[activation].append(
                    train_tracked(
                        model,
                        x,
                        y,
                        steps=size["steps"],
                        batch_size=64,
                        eval_every=size["eval_every"],
                        eval_sets={"train": track},
                        seed=seed + s,
                        stop_below_error=THRESHOLD,
                    )
                )
                keras.backend.clear_session()
        grads = derivatives()
    budget = size["steps"]
    steps = {a: [first_step_below(h, THRESHOLD) for h in hs] for a, hs in histories.items()}
    verdict, reason, ratios = judge(steps, budget, grads["sigmoid"])
    numbers = {
        "steps_to_threshold": steps,
        "ratio_over_relu": ratios,
        "derivatives_at_0_10_minus10": grads,
        "histories": histories,
    }
    figure = _plot(histories, grads)
    return finish(
        "activations",
        quick=quick,
        seed=seed,
        settings={**size, "threshold": THRESHOLD, "model": "notes_cnn", "optimizer": "SGD lr 0.01 momentum 0.5"},
        numbers=numbers,
        verdict=verdict,
        reason=reason,
        measured=(
            f"notes_cnn with each of {', '.join(size['activations'])}: steps to {THRESHOLD:.0%} error on "
            f"{size['track']:,} training images ({size['seeds']} seeds, <= {budget:,} steps of 64); "
            "derivatives at 0 and +-10"
        ),
        timer=timer,
        figure=figure,
        output_dir=output_dir,
    )


def judge(steps: dict, budget: int, sigmoid_derivative) -> tuple[str, str, dict]:
    """The module's rule over ``steps`` ({activation: [steps to the threshold per seed, None
    if never]}) and sigmoid's derivative at (0, 10, -10); returns (verdict, reason, ratios)."""
    saturating = [a for a in ("tanh", "sigmoid") if a in steps]
    # A unit that never reached the threshold counts with the whole budget: a lower bound of its ratio.
    ratios = {a: [(u or budget) / (r or budget) for u, r in zip(steps[a], steps["relu"])] for a in saturating}
    worst = min(v for a in saturating for v in ratios[a])
    verdict = "holds" if worst >= 3.0 else "partly" if worst >= 1.2 else "does not hold"
    at0, at10, at_minus10 = sigmoid_derivative
    if max(at10, at_minus10) >= 1e-3 * at0 and verdict == "holds":
        verdict = "partly"  # the saturation half failed
    reason = (
        f"steps to {THRESHOLD:.0%} training error (per seed): "
        + ", ".join(f"{a} {_fmt(v, budget)}" for a, v in steps.items())
        + "; "
        + ", ".join(f"{a}/ReLU {_ratios(ratios[a], steps[a], steps['relu'])}" for a in saturating)
        + f"; sigmoid'(+-10) = {max(at10, at_minus10):.2e} against sigmoid'(0) = {at0:.2f}"
    )
    return verdict, reason, ratios


def _fmt(values, budget) -> str:
    return "/".join(str(v) if v is not None else f">{budget}" for v in values)


def _ratios(values, unit_steps, relu_steps) -> str:
    """Ratios per seed; ">=" where the unit never got there (a lower bound), "<=" where ReLU never did."""
    out = []
    for v, u, r in zip(values, unit_steps, relu_steps):
        out.append(f"{v:.1f}" if u is not None and r is not None else f">={v:.1f}" if r is not None else f"<={v:.1f}")
    return "/".join(out)


def _plot(histories, grads):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (activation, hs) in enumerate(histories.items()):
        for j, h in enumerate(hs):
            error = 1 - np.asarray(h["train_accuracy"])
            ax1.plot(
                h["step"], error, color=f"C{i}", alpha=1.0 if j == 0 else 0.4, label=activation if j == 0 else None
            )
    ax1.axhline(THRESHOLD, color="gray", ls="--", lw=1)
    ax1.set(xlabel="SGD step (batch 64)", ylabel="training error", title="notes_cnn: training error by activation")
    ax1.legend()
    ax1.grid(alpha=0.3)
    xs = np.linspace(-15, 15, 301)
    for name in ("sigmoid", "tanh", "relu", "elu"):
        import tensorflow as tf

        t = tf.constant(xs, "float32")
        with tf.GradientTape() as tape:
            tape.watch(t)
            v = keras.activations.get(name)(t)
        ax2.plot(xs, tape.gradient(v, t).numpy(), label=name)
    ax2.axvline(10, color="gray", ls="--", lw=1)
    ax2.axvline(-10, color="gray", ls="--", lw=1)
    ax2.set(xlabel="x", ylabel="f'(x)", title=f"derivatives (sigmoid'(10) = {grads['sigmoid'][1]:.1e})")
    ax2.legend()
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig
