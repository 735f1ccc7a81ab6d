"""Item 2: weights drawn as randn * 0.01 make deep activations vanish; Xavier (randn /
sqrt(fan_in)) suits tanh, He (randn / sqrt(fan_in / 2)) suits ReLU.

A 10-layer plain 3x3 network (:func:`kcnn.studies.nets.plain_cnn`, no BatchNorm, biases
zero) under tanh and under ReLU with each of the notes' three initializations. At
initialization, :func:`kcnn.viz.activation_statistics` gives each layer's activation
standard deviation on a batch of real images; the scale kept is the last convolution's
std over the first's. Then each of the six nets trains the same SGD steps (momentum 0.9,
batch 64) and is scored on held-out test images; it "trains" if it reaches at least 50%
test accuracy (chance is 10%).

Verdict rule (fixed before the runs): (a) at std 0.01 the last layer's std is below 1e-3
of the first's under both activations and neither net trains; (b) Xavier under tanh and He
under ReLU keep the scale (last/first std within [0.1, 10]) and train; (c) under ReLU
Xavier's scale falls further than He's (its last/first ratio is lower). holds: all three;
partly: (a) or (b); does not hold otherwise.
"""

from __future__ import annotations

import itertools

import keras
import matplotlib.pyplot as plt
import numpy as np

from kcnn.studies._common import Timer, compile_model, evaluate, fashion_mnist, finish, train_tracked
from kcnn.studies.nets import plain_cnn
from kcnn.viz import activation_statistics

INITS = ("normal_0.01", "xavier", "he")
ACTIVATIONS = ("tanh", "relu")
SUITED = {"tanh": "xavier", "relu": "he"}
TRAINS = 0.5  # test accuracy that counts as training (chance: 0.1)
FULL = dict(train=10_000, test=2_000, probe=256, steps=300, depth=10, width=16, learning_rate=0.01)
QUICK = dict(train=512, test=256, probe=64, steps=4, depth=10, width=8, learning_rate=0.01)


def layer_stds(model: keras.Model, x, depth: int) -> list[float]:
    """The standard deviation of each convolution's activation (``conv{i}_act``) on ``x``."""
    stats = activation_statistics(model, x, layers=[f"conv{i}_act" for i in range(1, depth + 1)])
    return [s.std for s in stats]


def run(*, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    size = QUICK if quick else FULL
    with Timer() as timer:
        x, y = fashion_mnist("train", size["train"], seed=seed)
        test = fashion_mnist("test", size["test"], seed=seed)
        cells = {}
        for activation, init in itertools.product(ACTIVATIONS, INITS):
            keras.utils.set_random_seed(seed)
            model = plain_cnn(depth=size["depth"], width=size["width"], activation=activation, init=init)
            stds = layer_stds(model, x[: size["probe"]], size["depth"])
            compile_model(model, keras.optimizers.SGD(learning_rate=size["learning_rate"], momentum=0.9))
            history = train_tracked(
                model, x, y, steps=size["steps"], batch_size=64, eval_every=size["steps"], eval_sets={}, seed=seed
            )
            cells[_key(activation, init)] = {
                "layer_std_at_init": stds,
                "scale_kept": stds[-1] / stds[0] if stds[0] > 0 else float("nan"),
                "train_seconds": history["seconds"][-1],
                **{f"test_{k}": v for k, v in evaluate(model, *test).items()},
            }
            keras.backend.clear_session()
    verdict, reason = judge(cells)
    return finish(
        "initialization",
        quick=quick,
        seed=seed,
        settings={**size, "optimizer": "SGD momentum 0.9, batch 64", "trains_at": TRAINS},
        numbers=cells,
        verdict=verdict,
        reason=reason,
        measured=(
            f"{size['depth']}-layer plain 3x3 CNN (width {size['width']}, no BN) under tanh and ReLU with std 0.01 / "
            f"Xavier / He: per-layer activation std at init on {size['probe']} images, test accuracy after "
            f"{size['steps']} SGD steps (lr {size['learning_rate']}) on {size['train']:,} training images"
        ),
        timer=timer,
        figure=_plot(cells, size),
        output_dir=output_dir,
    )


def judge(cells: dict) -> tuple[str, str]:
    """The module's rule over ``cells`` ({_key(activation, init): {"scale_kept", "test_accuracy"}})."""
    scale = {k: v["scale_kept"] for k, v in cells.items()}
    acc = {k: v["test_accuracy"] for k, v in cells.items()}
    small = [_key(a, "normal_0.01") for a in ACTIVATIONS]
    suited = [_key(a, SUITED[a]) for a in ACTIVATIONS]
    vanish = all(scale[k] < 1e-3 and acc[k] < TRAINS for k in small)
    keep = all(0.1 <= scale[k] <= 10 and acc[k] >= TRAINS for k in suited)
    relu_order = scale[_key("relu", "xavier")] < scale[_key("relu", "he")]
    verdict = "holds" if vanish and keep and relu_order else "partly" if vanish or keep else "does not hold"
    reason = (
        "last/first activation std at init and test accuracy: "
        + "; ".join(f"{k} {scale[k]:.2g}, {acc[k]:.3f}" for k in cells)
        + f" (std 0.01 {'vanishes and does not train' if vanish else 'does not both vanish and fail'}; "
        + f"Xavier-tanh and He-ReLU {'keep the scale and train' if keep else 'do not both keep the scale and train'}; "
        + f"under ReLU Xavier's scale {'falls below' if relu_order else 'does not fall below'} He's)"
    )
    return verdict, reason


def _key(activation: str, init: str) -> str:
    return f"{activation}/{init}"


def _plot(cells, size):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    layers = np.arange(1, size["depth"] + 1)
    for ax, activation in zip(axes, ACTIVATIONS):
        for i, init in enumerate(INITS):
            cell = cells[_key(activation, init)]
            ax.semilogy(
                layers,
                np.maximum(cell["layer_std_at_init"], 1e-30),
                marker="o",
                color=f"C{i}",
                label=f"{init} (test acc {cell['test_accuracy']:.2f})",
            )
        ax.set(xlabel="layer", title=f"{activation}: activation std at initialization", xticks=layers)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("std of the layer's output")
    fig.tight_layout()
    return fig
