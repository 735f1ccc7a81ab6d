"""Item 3: batch normalization lowers the dependence on initialization and tolerates higher
learning rates.

The same plain 3x3 network (:func:`kcnn.studies.nets.plain_cnn`, ReLU) with and without
BatchNorm before each nonlinearity, over a grid of the notes' initializations x SGD
learning rates (momentum 0.9, batch 64); each cell trains the same steps on the same
images and reports test accuracy (a run whose loss turns non-finite stops and scores what
its predictions score, usually chance). Each cell also records the standard deviation of
the last convolution's activations at initialization.

Verdict rule (fixed before the runs): (a) initialization: at every learning rate the
spread of test accuracy over the initializations (max - min) is no larger with BN than
without; (b) learning rate: at each of the two highest learning rates BN scores at least
no-BN's accuracy minus one point for every initialization. holds: (a) and (b); partly: one.
"""

from __future__ import annotations

import itertools

import keras
import matplotlib.pyplot as plt
import numpy as np

from kcnn.studies._common import Timer, compile_model, evaluate, fashion_mnist, finish, train_tracked
from kcnn.studies.nets import plain_cnn

FULL = dict(
    train=10_000,
    test=2_000,
    steps=200,
    depth=10,
    width=8,
    inits=("normal_0.01", "he", "normal_1"),
    learning_rates=(0.01, 0.1, 1.0),
)
QUICK = dict(train=512, test=256, steps=20, depth=4, width=8, inits=("normal_0.01", "he"), learning_rates=(0.1,))


def last_activation_std(model: keras.Model, x, depth: int) -> float:
    """Standard deviation of the last convolution's activations on ``x`` in training mode
    (BatchNorm normalizes with the batch's statistics, as it does while training)."""
    probe = keras.Model(model.inputs, model.get_layer(f"conv{depth}_act").output)
    return float(np.std(keras.ops.convert_to_numpy(probe(x, training=True))))


def run(*, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    size = QUICK if quick else FULL
    with Timer() as timer:
        x, y = fashion_mnist("train", size["train"], seed=seed)
        test = fashion_mnist("test", size["test"], seed=seed)
        cells = {}
        for bn, init, lr in itertools.product((False, True), size["inits"], size["learning_rates"]):
            keras.utils.set_random_seed(seed)
            model = plain_cnn(depth=size["depth"], width=size["width"], init=init, batch_norm=bn)
            init_std = last_activation_std(model, x[:256], size["depth"])
            compile_model(model, keras.optimizers.SGD(learning_rate=lr, momentum=0.9))
            history = train_tracked(
                model,
                x,
                y,
                steps=size["steps"],
                batch_size=64,
                eval_every=size["steps"] // 4,
                eval_sets={"train": (x[: size["test"]], y[: size["test"]])},
                seed=seed,
            )
            cells[_key(bn, init, lr)] = {
                **evaluate(model, *test),
                "train_loss": history["train_loss"],
                "last_activation_std_at_init": init_std,
            }
            keras.backend.clear_session()
    acc = {k: v["accuracy"] for k, v in cells.items()}
    verdict, reason, spreads = judge(acc, size["inits"], size["learning_rates"])
    figure = _plot(acc, size)
    return finish(
        "batchnorm",
        quick=quick,
        seed=seed,
        settings={**size, "optimizer": "SGD momentum 0.9, batch 64"},
        numbers={"test": cells, "spread_over_inits": spreads},
        verdict=verdict,
        reason=reason,
        measured=(
            f"{size['depth']}-layer plain 3x3 CNN (width {size['width']}) with/without BN, inits "
            f"{', '.join(size['inits'])} x SGD lr {', '.join(map(str, size['learning_rates']))}: test accuracy after "
            f"{size['steps']} steps on {size['train']:,} training images"
        ),
        timer=timer,
        figure=figure,
        output_dir=output_dir,
    )


def judge(acc: dict, inits, learning_rates) -> tuple[str, str, dict]:
    """The module's rule over ``acc`` ({_key(bn, init, lr): test accuracy}); returns
    (verdict, reason, spread of accuracy over the initializations per learning rate)."""
    spreads = {
        kind: {lr: _spread([acc[_key(kind == "bn", i, lr)] for i in inits]) for lr in learning_rates}
        for kind in ("bn", "no_bn")
    }
    init_ok = all(spreads["bn"][lr] <= spreads["no_bn"][lr] for lr in learning_rates)
    high = sorted(learning_rates)[-2:]
    lr_ok = all(acc[_key(True, i, lr)] >= acc[_key(False, i, lr)] - 0.01 for i in inits for lr in high)
    verdict = "holds" if init_ok and lr_ok else "partly" if init_ok or lr_ok else "does not hold"
    reason = (
        "spread of test accuracy over initializations per learning rate, BN vs no BN: "
        + ", ".join(f"lr {lr}: {spreads['bn'][lr]:.3f} vs {spreads['no_bn'][lr]:.3f}" for lr in learning_rates)
        + f" ({'no larger' if init_ok else 'larger somewhere'} with BN); at lr {', '.join(map(str, high))} BN "
        + ("matches or beats no-BN for every" if lr_ok else "falls more than a point below no-BN for some")
        + " initialization"
    )
    return verdict, reason, spreads


def _key(bn: bool, init: str, lr: float) -> str:
    return f"{'bn' if bn else 'no_bn'}/{init}/lr{lr}"


def _spread(values) -> float:
    return float(np.max(values) - np.min(values))


def _plot(acc, size):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, bn in zip(axes, (False, True)):
        grid = np.array([[acc[_key(bn, i, lr)] for lr in size["learning_rates"]] for i in size["inits"]])
        im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis")
        for (r, c), v in np.ndenumerate(grid):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", color="w" if v < 0.6 else "k")
        ax.set_xticks(range(len(size["learning_rates"])), [str(lr) for lr in size["learning_rates"]])
        ax.set_yticks(range(len(size["inits"])), size["inits"])
        ax.set(xlabel="learning rate", title="with BatchNorm" if bn else "without BatchNorm")
    fig.colorbar(im, ax=axes, label="test accuracy")
    return fig
