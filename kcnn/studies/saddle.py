"""Item 11: the Hessian's eigenvalues tell a critical point's kind (all positive: a local
minimum; mixed signs: a saddle point), and gradient descent escapes a saddle but looks
converged at it.

A tiny network on a class-balanced set of real training images: flatten - dense ``hidden``
tanh - dense 10 softmax, no biases. (1) The constructed saddle: every weight zero. There
the output is uniform, the gradient is exactly zero (the hidden activations are tanh(0) = 0
and the output weights are 0), and the Hessian has only the blocks coupling the two layers,
so its eigenvalues come in +- pairs. (2) The end of training: the same network from Glorot
initialization after full-batch Adam steps. At both points :func:`kcnn.analysis.hessian.analyze`
gives the extreme eigenvalues (Lanczos) and the verdict. Its power-iteration "top eigenvalues"
are in the JSON but not used: at the origin the dominant eigenvalues are a +- pair, on which
power iteration does not converge. (3) Escape: full-batch gradient descent from the
exact origin, from the origin plus a 1e-3 Gaussian perturbation, and from the trained point plus
the same perturbation.

Verdict rule (fixed before the runs): (a) at the origin the gradient norm is at most 1e-6
and the verdict is "saddle point"; (b) gradient descent from the exact origin leaves the loss
within 1e-6 of ln 10 (looks converged) while from the perturbed origin it falls at least 0.1
below ln 10 (escapes); (c) at the end of training the verdict is "local minimum". holds: (a),
(b) and (c); partly: (a) and (b); does not hold otherwise.
"""

from __future__ import annotations

import math

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

from kcnn.analysis.hessian import analyze
from kcnn.studies._common import Timer, class_subset, compile_model, fashion_mnist, finish, train_tracked

FULL = dict(examples=2_000, hidden=32, train_steps=2_000, escape_steps=300, escape_lr=1.0, lanczos_steps=60)
QUICK = dict(examples=200, hidden=8, train_steps=50, escape_steps=60, escape_lr=1.0, lanczos_steps=20)
PERTURBATION = 1e-3


def tiny_net(hidden: int, input_shape=(28, 28, 1), classes: int = 10) -> keras.Model:
    x = inputs = keras.Input(input_shape, name="input")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(hidden, activation="tanh", use_bias=False, name="hidden")(x)
    x = layers.Dense(classes, activation="softmax", use_bias=False, name="predictions")(x)
    return keras.Model(inputs, x, name=f"tiny_tanh{hidden}")


def _set_weights(model, weights, noise: float, rng) -> None:
    model.set_weights([w + noise * rng.standard_normal(w.shape).astype("float32") for w in weights])


def _descend(model, x, y, steps: int, lr: float, seed: int) -> dict:
    """Full-batch gradient descent (plain SGD on all of ``x``), loss recorded every steps // 10."""
    compile_model(model, keras.optimizers.SGD(learning_rate=lr))
    every = max(1, steps // 10)
    history = train_tracked(
        model, x, y, steps=steps, batch_size=len(y), eval_every=every, eval_sets={"train": (x, y)}, seed=seed
    )
    return {"step": history["step"], "loss": history["train_loss"]}


def _report(model, x, y, size, seed) -> dict:
    r = analyze(model, (x, y), top_k=2, lanczos_steps=size["lanczos_steps"], trace_samples=10, seed=seed)
    return r.to_dict()


def run(*, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    size = QUICK if quick else FULL
    rng = np.random.default_rng(seed)
    with Timer() as timer:
        x, y = fashion_mnist("train", None)
        x, y = class_subset(x, y, range(10), n=size["examples"], seed=seed)
        keras.utils.set_random_seed(seed)
        model = tiny_net(size["hidden"])
        zeros = [np.zeros_like(w) for w in model.get_weights()]
        model.set_weights(zeros)
        at_origin = _report(model, x, y, size, seed)
        escape = {"exact origin": _descend(model, x, y, size["escape_steps"], size["escape_lr"], seed)}
        _set_weights(model, zeros, PERTURBATION, rng)
        escape["origin + 1e-3 noise"] = _descend(model, x, y, size["escape_steps"], size["escape_lr"], seed)
        keras.backend.clear_session()

        keras.utils.set_random_seed(seed)
        model = compile_model(tiny_net(size["hidden"]), keras.optimizers.Adam(1e-3))
        trained_history = train_tracked(
            model,
            x,
            y,
            steps=size["train_steps"],
            batch_size=len(y),
            eval_every=max(1, size["train_steps"] // 20),
            eval_sets={"train": (x, y)},
            seed=seed,
        )
        at_end = _report(model, x, y, size, seed)
        trained = model.get_weights()
        _set_weights(model, trained, PERTURBATION, rng)
        escape["trained + 1e-3 noise"] = _descend(model, x, y, size["escape_steps"], size["escape_lr"], seed)
        keras.backend.clear_session()
    numbers = {
        "origin": at_origin,
        "end_of_training": at_end,
        "training_loss": trained_history["train_loss"],
        "escape": escape,
    }
    verdict, reason = judge(numbers)
    return finish(
        "saddle",
        quick=quick,
        seed=seed,
        settings={**size, "perturbation": PERTURBATION, "training": "full-batch Adam lr 1e-3"},
        numbers=numbers,
        verdict=verdict,
        reason=reason,
        measured=(
            f"784-{size['hidden']}-10 tanh net without biases on {size['examples']:,} balanced training images: "
            f"Hessian extremes and verdict (Lanczos {size['lanczos_steps']} steps) at the all-zero weights and after "
            f"{size['train_steps']:,} full-batch Adam steps; {size['escape_steps']} full-batch GD steps "
            f"(lr {size['escape_lr']}) from each, exact and perturbed by {PERTURBATION:g}"
        ),
        timer=timer,
        figure=_plot(numbers),
        output_dir=output_dir,
    )


def judge(numbers: dict) -> tuple[str, str]:
    """The module's rule over the two Hessian reports and the escape runs."""
    origin, end, escape = numbers["origin"], numbers["end_of_training"], numbers["escape"]
    chance = math.log(10)
    saddle_ok = origin["gradient_norm"] <= 1e-6 and origin["verdict"] == "saddle point"
    stays = abs(escape["exact origin"]["loss"][-1] - chance) <= 1e-6
    escapes = escape["origin + 1e-3 noise"]["loss"][-1] <= chance - 0.1
    minimum = end["verdict"] == "local minimum"
    verdict = (
        "holds"
        if saddle_ok and stays and escapes and minimum
        else "partly"
        if saddle_ok and stays and escapes
        else "does not hold"
    )
    reason = (
        f"all-zero weights: gradient norm {origin['gradient_norm']:.1e}, eigenvalues from "
        f"{origin['min_eigenvalue']:.3g} to {origin['max_eigenvalue']:.3g}: {origin['verdict']}; "
        "GD from there keeps the loss at "
        f"{escape['exact origin']['loss'][-1]:.6f} (ln 10 = {chance:.6f}), from 1e-3 away reaches "
        f"{escape['origin + 1e-3 noise']['loss'][-1]:.4f}; after training (loss {end['loss']:.4f}, gradient norm "
        f"{end['gradient_norm']:.2e}): eigenvalues from {end['min_eigenvalue']:.3g} "
        f"(+- {end['min_eigenvalue_residual']:.1g}) "
        f"to {end['max_eigenvalue']:.3g}, tolerance {end['tolerance']:.2g}: {end['verdict']}"
    )
    return verdict, reason


def _plot(numbers):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for i, key in enumerate(("origin", "end_of_training")):
        r = numbers[key]
        ax1.plot([i, i], [r["min_eigenvalue"], r["max_eigenvalue"]], color=f"C{i}", lw=6, alpha=0.5)
        ax1.scatter([i, i], [r["min_eigenvalue"], r["max_eigenvalue"]], color=f"C{i}", marker="o")
    ax1.axhline(0, color="gray", lw=1)
    ax1.set_yscale("symlog", linthresh=1e-3)
    ax1.set_xticks(
        [0, 1],
        [
            f"{name}\n({numbers[key]['verdict']})"
            for name, key in (("all-zero weights", "origin"), ("end of training", "end_of_training"))
        ],
    )
    ax1.set(xlim=(-0.6, 1.6), ylabel="Hessian eigenvalue", title="smallest to largest eigenvalue (Lanczos)")
    for i, (name, h) in enumerate(numbers["escape"].items()):
        ax2.plot(h["step"], h["loss"], marker="o", color=f"C{i + 2}", label=name)
    ax2.axhline(math.log(10), color="gray", ls="--", lw=1)
    ax2.set(xlabel="full-batch GD step", ylabel="training loss", title="gradient descent from each point")
    ax2.legend()
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig
