"""Item 5: mirror augmentation and dropout reduce overfitting (the train/test gap).

Note 004's network (``notes_tf1_cnn``: 6.5M parameters, dropout after its 1,024-unit
layer) with its recipe (Adam lr 1e-4, batch 50, inputs in [0, 1]) on a small training
set, four ways: neither, horizontal mirror flips (each training image flipped with
probability 1/2, keras.layers.RandomFlip), the note's dropout (rate 0.75: TF1 keep_prob
0.25), both. The gap is accuracy on the training images (inference mode, unflipped)
minus test accuracy.

Verdict rule (fixed before the runs): holds if flips alone and dropout alone each shrink
the gap of the plain run by more than one point; partly if one of them does.
"""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt

from kcnn.models.notes import notes_tf1_cnn
from kcnn.studies._common import Timer, compile_model, fashion_mnist, finish, train_tracked

ARMS = {"none": (False, 0.0), "mirror": (True, 0.0), "dropout": (False, 0.75), "mirror+dropout": (True, 0.75)}
FULL = dict(train=2_000, test=5_000, epochs=15, eval_every_epochs=5, arms=tuple(ARMS))
QUICK = dict(train=128, test=256, epochs=2, eval_every_epochs=1, arms=("none", "mirror"))


def run(*, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    size = QUICK if quick else FULL
    with Timer() as timer:
        x, y = fashion_mnist("train", size["train"], seed=seed)
        test = fashion_mnist("test", size["test"], seed=seed)
        steps_per_epoch = len(y) // 50
        results, histories = {}, {}
        for arm in size["arms"]:
            flip, rate = ARMS[arm]
            keras.utils.set_random_seed(seed)
            model = compile_model(notes_tf1_cnn(dropout_rate=rate), keras.optimizers.Adam(learning_rate=1e-4))
            augment = keras.layers.RandomFlip("horizontal", seed=seed) if flip else None
            histories[arm] = train_tracked(
                model,
                x,
                y,
                steps=size["epochs"] * steps_per_epoch,
                batch_size=50,
                eval_every=steps_per_epoch * size["eval_every_epochs"],
                eval_sets={"train": (x, y), "test": test},
                seed=seed,
                augment=augment,
            )
            train_acc, test_acc = histories[arm]["train_accuracy"][-1], histories[arm]["test_accuracy"][-1]
            results[arm] = {"train_accuracy": train_acc, "test_accuracy": test_acc, "gap": train_acc - test_acc}
            keras.backend.clear_session()
    verdict, reason = judge(results)
    return finish(
        "regularization",
        quick=quick,
        seed=seed,
        settings={**size, "model": "notes_tf1_cnn", "optimizer": "Adam 1e-4, batch 50", "dropout_rate": 0.75},
        numbers={"final": results, "histories": histories},
        verdict=verdict,
        reason=reason,
        measured=(
            f"notes_tf1_cnn, {size['epochs']} epochs on {size['train']:,} training images, with/without mirror "
            f"flips and its dropout: training minus test accuracy ({size['test']:,} test images)"
        ),
        timer=timer,
        figure=_plot(histories, steps_per_epoch),
        output_dir=output_dir,
    )


def judge(results):
    text = "; ".join(
        f"{arm}: train {r['train_accuracy']:.3f}, test {r['test_accuracy']:.3f}, gap {r['gap']:.3f}"
        for arm, r in results.items()
    )
    if not {"none", "mirror", "dropout"} <= set(results):
        return "partly", text
    base = results["none"]["gap"]
    shrinks = {arm: base - results[arm]["gap"] > 0.01 for arm in ("mirror", "dropout")}
    verdict = "holds" if all(shrinks.values()) else "partly" if any(shrinks.values()) else "does not hold"
    return verdict, text + "; " + ", ".join(
        f"{a} {'shrinks' if s else 'does not shrink'} the gap" for a, s in shrinks.items()
    )


def _plot(histories, steps_per_epoch):
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (arm, h) in enumerate(histories.items()):
        epochs = [step / steps_per_epoch for step in h["step"]]
        axes[0].plot(epochs, h["train_accuracy"], color=f"C{i}", label=f"{arm} train")
        axes[0].plot(epochs, h["test_accuracy"], color=f"C{i}", ls="--", label=f"{arm} test")
        gap = [a - b for a, b in zip(h["train_accuracy"], h["test_accuracy"])]
        axes[1].plot(epochs, gap, color=f"C{i}", label=arm)
    axes[0].set(xlabel="epoch", ylabel="accuracy", title="notes_tf1_cnn: train (solid) and test (dashed)")
    axes[1].set(xlabel="epoch", ylabel="train - test accuracy", title="generalization gap")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
