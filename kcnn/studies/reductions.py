"""Item 7: a 1x1 convolution in front of a large one cuts the computation about tenfold.

Two measurements. (1) The notes' worked example through :func:`kcnn.analysis.profile`: a
5x5 convolution 192 -> 32 channels on 28x28 (120,422,400 multiplications) against a 1x1
convolution 192 -> 16 followed by the 5x5 16 -> 32 (12,443,648; the notes print 12,433,648,
an arithmetic slip). (2) The notes' own Inception network
(:func:`kcnn.models.notes.notes_inception_cnn`) with and without the 1x1 layers in front of
its 5x5 and 3x3 branches, trained with the lecture's recipe (SGD lr 0.01, momentum 0.5,
batch 64, standardized inputs) for the same steps, in turns: parameters and MACs by the
profiler, test accuracy, training seconds. In that network the 1x1 layers map 10 or 20
channels to 16: they widen rather than reduce, so the example's saving need not carry over.

Verdict rule (fixed before the runs): (a) the profiler gives 120,422,400 and 12,443,648, a
ratio of at most 1/9 ("1/10"); (b) in the notes' network the version with the 1x1 layers
has fewer MACs than the version without, and (c) its test accuracy (mean over seeds) is at
least the other's minus one point. holds: (a), (b) and (c); partly: (a) without (b) or (c);
does not hold: not (a).
"""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

from kcnn.analysis import profile
from kcnn.models.notes import notes_inception_cnn
from kcnn.studies._common import Timer, compile_model, evaluate, fashion_mnist, finish, train_tracked

EXAMPLE = dict(size=28, channels=192, reduce_to=16, filters=32, kernel=5)
NOTES_PRINT = 12_433_648  # the notes' figure for the reduced cost
FULL = dict(train=60_000, test=10_000, steps=1_500, seeds=1)
QUICK = dict(train=512, test=256, steps=5, seeds=1)


def example_costs() -> dict:
    """MACs of the notes' example, direct and with the 1x1 reduction, by the profiler."""
    e = EXAMPLE
    shape = (e["size"], e["size"], e["channels"])

    def net(*stack):
        x = inputs = keras.Input(shape)
        for layer in stack:
            x = layer(x)
        return keras.Model(inputs, x)

    direct = net(layers.Conv2D(e["filters"], e["kernel"], padding="same", use_bias=False))
    reduced = net(
        layers.Conv2D(e["reduce_to"], 1, use_bias=False),
        layers.Conv2D(e["filters"], e["kernel"], padding="same", use_bias=False),
    )
    return {"direct_macs": profile(direct).macs, "reduced_macs": profile(reduced).macs, "notes_print": NOTES_PRINT}


def _standardize(x, mean, std):
    return ((x - mean) / std).astype("float32")


def run(*, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    size = QUICK if quick else FULL
    with Timer() as timer:
        example = example_costs()
        x, y = fashion_mnist("train", size["train"], seed=seed)
        xt, yt = fashion_mnist("test", size["test"], seed=seed)
        mean, std = float(x.mean()), float(x.std())
        x, xt = _standardize(x, mean, std), _standardize(xt, mean, std)
        arms = {}
        for reductions in (True, False):
            p = profile(notes_inception_cnn(reductions=reductions))
            arms[_arm(reductions)] = {
                "params": p.total_params,
                "macs": p.macs,
                "test_accuracy": [],
                "train_seconds": [],
            }
        for s in range(size["seeds"]):
            for reductions in (True, False):  # in turns, so both see the same machine load
                keras.utils.set_random_seed(seed + s)
                model = compile_model(
                    notes_inception_cnn(reductions=reductions), keras.optimizers.SGD(learning_rate=0.01, momentum=0.5)
                )
                history = train_tracked(
                    model,
                    x,
                    y,
                    steps=size["steps"],
                    batch_size=64,
                    eval_every=size["steps"],
                    eval_sets={},
                    seed=seed + s,
                )
                arm = arms[_arm(reductions)]
                arm["test_accuracy"].append(evaluate(model, xt, yt)["accuracy"])
                arm["train_seconds"].append(history["seconds"][-1])
                keras.backend.clear_session()
    verdict, reason = judge(example, arms)
    return finish(
        "reductions",
        quick=quick,
        seed=seed,
        settings={**size, "example": EXAMPLE, "optimizer": "SGD lr 0.01 momentum 0.5, batch 64, standardized"},
        numbers={"example": example, "notes_inception_cnn": arms},
        verdict=verdict,
        reason=reason,
        measured=(
            "the notes' 192->32 5x5 example with and without a 1x1 to 16 (MACs by kcnn.analysis.profile); "
            f"notes_inception_cnn with and without its 1x1 layers: MACs, {size['steps']} SGD steps on "
            f"{size['train']:,} training images, test accuracy on {size['test']:,}, training time "
            f"({size['seeds']} seed)"
        ),
        timer=timer,
        figure=_plot(example, arms),
        output_dir=output_dir,
    )


def judge(example: dict, arms: dict) -> tuple[str, str]:
    """The module's rule over the example's MACs and the two arms' MACs and accuracies."""
    ratio = example["reduced_macs"] / example["direct_macs"]
    example_ok = example["direct_macs"] == 120_422_400 and example["reduced_macs"] == 12_443_648 and ratio <= 1 / 9
    with_1x1, without = arms[_arm(True)], arms[_arm(False)]
    cheaper = with_1x1["macs"] < without["macs"]
    gap = float(np.mean(with_1x1["test_accuracy"]) - np.mean(without["test_accuracy"]))
    verdict = "holds" if example_ok and cheaper and gap >= -0.01 else "partly" if example_ok else "does not hold"
    t_with, t_without = np.mean(with_1x1["train_seconds"]), np.mean(without["train_seconds"])
    reason = (
        f"example: {example['direct_macs']:,} vs {example['reduced_macs']:,} MACs (ratio {ratio:.3f}; the notes print "
        f"{NOTES_PRINT:,}); notes_inception_cnn with vs without its 1x1 layers: {with_1x1['macs']:,} vs "
        f"{without['macs']:,} MACs ({with_1x1['macs'] / without['macs']:.2f}x), {with_1x1['params']:,} vs "
        f"{without['params']:,} parameters, test accuracy {np.mean(with_1x1['test_accuracy']):.4f} vs "
        f"{np.mean(without['test_accuracy']):.4f}, training {t_with:.0f} s vs {t_without:.0f} s "
        f"({t_with / max(t_without, 1e-9):.2f}x)"
        + ("" if cheaper else "; there the 1x1 layers widen 10 or 20 channels to 16, so they add computation")
    )
    return verdict, reason


def _arm(reductions: bool) -> str:
    return "with 1x1" if reductions else "without 1x1"


def _plot(example, arms):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.bar(
        ["5x5 direct", "1x1 then 5x5"],
        [example["direct_macs"] / 1e6, example["reduced_macs"] / 1e6],
        color=["C0", "C1"],
    )
    ax1.set(ylabel="MACs, millions", title="the notes' example: 192x28x28 -> 32x28x28")
    names = list(arms)
    macs = [arms[n]["macs"] / 1e6 for n in names]
    acc = [np.mean(arms[n]["test_accuracy"]) for n in names]
    ax2.bar(names, macs, color=["C2", "C3"])
    for i, (m, a) in enumerate(zip(macs, acc)):
        ax2.text(i, m, f"test acc {a:.3f}", ha="center", va="bottom")
    ax2.set(ylabel="MACs per image, millions", title="notes_inception_cnn")
    fig.tight_layout()
    return fig
