"""Item 6: two stacked 3x3 convolutions see a 5x5 window with 18 instead of 25 weights per
channel pair, three see 7x7 with 27 instead of 49, and (VGG's argument) do as well.

Four networks that differ only in one kind of block: a 3x3 stem (1 -> C) and 2x2 max
pooling, then twice [block C -> C, 2x2 max pooling], global average pooling and a dense
softmax layer. The block is one 5x5 or 7x7 convolution, or a stack of two or three 3x3
convolutions (ReLU after each convolution), so every compared convolution maps C channels
to C, the notes' "per channel pair". Parameters, MACs and the receptive field of the last
block come from :func:`kcnn.analysis.profile`; each net trains the same Adam steps on the
same images and is scored on held-out test images.

Verdict rule (fixed before the runs): for each field (5 and 7), (a) the stack's last layer
has the same receptive field as the single kernel's, (b) the stack's blocks have fewer
parameters and fewer MACs than the single kernel's, and (c) the stack's test accuracy (mean
over seeds) is at least the single kernel's minus one point. holds: (a), (b) and (c) for both
fields; partly: (a) and (b) for both; does not hold otherwise.
"""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

from kcnn.analysis import profile
from kcnn.studies._common import Timer, compile_model, evaluate, fashion_mnist, finish, train_tracked

ARMS = {"5x5": (5, 1), "3x3 x2": (3, 2), "7x7": (7, 1), "3x3 x3": (3, 3)}  # name: (kernel, convolutions)
PAIRS = (("3x3 x2", "5x5"), ("3x3 x3", "7x7"))  # (stack, single kernel) of the same field
FULL = dict(train=20_000, test=5_000, width=32, steps=400, seeds=2, learning_rate=1e-3)
QUICK = dict(train=512, test=256, width=8, steps=5, seeds=1, learning_rate=1e-3)


def kernel_net(kernel: int, convolutions: int, *, width: int, input_shape=(28, 28, 1), classes: int = 10):
    """The study's network with blocks of ``convolutions`` ``kernel`` x ``kernel`` convolutions
    (``block{b}_conv{i}``, C -> C, same padding, ReLU)."""
    x = inputs = keras.Input(input_shape, name="input")
    x = layers.Conv2D(width, 3, padding="same", activation="relu", name="stem")(x)
    x = layers.MaxPooling2D(2, name="stem_pool")(x)
    for b in (1, 2):
        for i in range(1, convolutions + 1):
            x = layers.Conv2D(width, kernel, padding="same", activation="relu", name=f"block{b}_conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=f"k{kernel}x{convolutions}_w{width}")


def block_costs(model: keras.Model, kernel: int, convolutions: int) -> dict:
    """The blocks' weights and MACs, weights per channel pair (kernel taps of one input to one
    output channel, summed over the stack), the first block's receptive field, and the net's totals."""
    p = profile(model)
    rows = [p.row(f"block{b}_conv{i}") for b in (1, 2) for i in range(1, convolutions + 1)]
    first_block = p.row(f"block1_conv{convolutions}")
    return {
        "block_params": sum(r.params for r in rows),
        "block_macs": sum(r.macs for r in rows),
        "weights_per_channel_pair": kernel * kernel * convolutions,
        "block1_receptive_field": list(first_block.receptive_field),
        "stem_receptive_field": list(p.row("stem_pool").receptive_field),
        "total_params": p.total_params,
        "total_macs": p.macs,
    }


def run(*, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    size = QUICK if quick else FULL
    with Timer() as timer:
        x, y = fashion_mnist("train", size["train"], seed=seed)
        test = fashion_mnist("test", size["test"], seed=seed)
        arms = {}
        for arm, (kernel, convolutions) in ARMS.items():
            costs = block_costs(kernel_net(kernel, convolutions, width=size["width"]), kernel, convolutions)
            accuracies, seconds = [], []
            for s in range(size["seeds"]):
                keras.utils.set_random_seed(seed + s)
                model = kernel_net(kernel, convolutions, width=size["width"])
                compile_model(model, keras.optimizers.Adam(size["learning_rate"]))
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
                accuracies.append(evaluate(model, *test)["accuracy"])
                seconds.append(history["seconds"][-1])
                keras.backend.clear_session()
            arms[arm] = {**costs, "test_accuracy": accuracies, "train_seconds": seconds}
    verdict, reason = judge(arms)
    return finish(
        "small_kernels",
        quick=quick,
        seed=seed,
        settings={**size, "optimizer": "Adam, batch 64"},
        numbers=arms,
        verdict=verdict,
        reason=reason,
        measured=(
            f"3x3 stem + two C->C blocks (C = {size['width']}) of one 5x5 / two 3x3 / one 7x7 / three 3x3: "
            f"receptive field, block parameters and MACs by kcnn.analysis.profile, test accuracy on "
            f"{size['test']:,} images after {size['steps']} Adam steps on {size['train']:,} ({size['seeds']} seeds)"
        ),
        timer=timer,
        figure=_plot(arms),
        output_dir=output_dir,
    )


def judge(arms: dict) -> tuple[str, str]:
    """The module's rule over ``arms`` ({arm: block_costs(...) plus "test_accuracy": [per seed]})."""
    counts_ok, accuracy_ok, parts = True, True, []
    for stack, single in PAIRS:
        a, b = arms[stack], arms[single]
        field = a["block1_receptive_field"] == b["block1_receptive_field"]
        cheaper = a["block_params"] < b["block_params"] and a["block_macs"] < b["block_macs"]
        gap = float(np.mean(a["test_accuracy"]) - np.mean(b["test_accuracy"]))
        counts_ok &= field and cheaper
        accuracy_ok &= gap >= -0.01
        parts.append(
            f"{stack} vs {single}: field {a['block1_receptive_field'][0]} vs {b['block1_receptive_field'][0]}, "
            f"{a['weights_per_channel_pair']} vs {b['weights_per_channel_pair']} weights per channel pair, "
            f"block params {a['block_params']:,} vs {b['block_params']:,}, MACs {a['block_macs']:,} vs "
            f"{b['block_macs']:,}, test accuracy {np.mean(a['test_accuracy']):.4f} vs {np.mean(b['test_accuracy']):.4f}"
        )
    verdict = "holds" if counts_ok and accuracy_ok else "partly" if counts_ok else "does not hold"
    return verdict, "; ".join(parts)


def _plot(arms):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(arms)
    ax1.bar(names, [arms[n]["block_params"] for n in names], color=[f"C{i}" for i in range(len(names))])
    ax1b = ax1.twinx()
    ax1b.plot(names, [arms[n]["block_macs"] / 1e6 for n in names], "ko-", label="block MACs")
    ax1.set(ylabel="block parameters (bars)", title="blocks: parameters and MACs")
    ax1b.set_ylabel("block MACs per image, millions (dots)")
    for i, n in enumerate(names):
        values = arms[n]["test_accuracy"]
        ax2.scatter([i] * len(values), values, color=f"C{i}")
        ax2.bar(i, np.mean(values), color=f"C{i}", alpha=0.3)
    ax2.set_xticks(range(len(names)), names)
    low = min(min(arms[n]["test_accuracy"]) for n in names)
    ax2.set_ylim(max(0.0, low - 0.05), 1.0)
    ax2.set(ylabel="test accuracy", title="same receptive field, same training")
    ax2.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
