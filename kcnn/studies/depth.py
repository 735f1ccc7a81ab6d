"""Item 8: deeper plain networks train worse; with shortcuts depth no longer hurts
(He et al. 2015, Figures 1 and 6).

He et al.'s CIFAR networks (:func:`kcnn.studies.nets.cifar_net`: 3x3 conv, three stages of
n two-conv blocks with BatchNorm, global average pooling) at depth 20 and 56, plain and
with option-A identity shortcuts, trained alike (SGD lr 0.1 momentum 0.9, batch 128, as the
paper; no weight decay, no augmentation) on the same Fashion-MNIST images. Training error is
measured on a fixed sample of the training images (inference mode) as training goes; test
error at the end. Shrunk to fit the CPU budget: width 8 (the paper's 16), and the full mode's
images 2x2 average-pooled to 14x14 (a quarter of the computation; at 28x28 the four nets
took over 20 CPU-minutes for 200 steps), which buys 500 steps instead of 200.

Verdict rule (fixed before the runs), on the final training error: (a) plain-56 is worse
than plain-20 by more than a point; (b) ResNet-56 is no worse than ResNet-20 plus a point.
holds: (a) and (b); partly: one of them.
"""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt

from kcnn.studies._common import Timer, compile_model, evaluate, fashion_mnist, finish, train_tracked
from kcnn.studies.nets import cifar_net

FULL = dict(train=20_000, track=1_000, test=2_000, steps=500, eval_every=50, width=8, depths=(20, 56), pool=2)
QUICK = dict(train=512, track=256, test=256, steps=8, eval_every=4, width=4, depths=(8,), pool=2)


def average_pool(x, factor: int):
    """NHWC images average-pooled by ``factor`` (sides must divide)."""
    if factor == 1:
        return x
    n, h, w, c = x.shape
    return x.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def run(*, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    size = QUICK if quick else FULL
    with Timer() as timer:
        x, y = fashion_mnist("train", size["train"], seed=seed)
        x = average_pool(x, size["pool"])
        test_x, test_y = fashion_mnist("test", size["test"], seed=seed)
        test = average_pool(test_x, size["pool"]), test_y
        histories, final = {}, {}
        for depth in size["depths"]:
            for residual in (False, True):
                name = f"{'resnet' if residual else 'plain'}{depth}"
                keras.utils.set_random_seed(seed)
                model = cifar_net(depth, residual=residual, width=size["width"], input_shape=x.shape[1:])
                compile_model(model, keras.optimizers.SGD(learning_rate=0.1, momentum=0.9))
                histories[name] = train_tracked(
                    model,
                    x,
                    y,
                    steps=size["steps"],
                    batch_size=128,
                    eval_every=size["eval_every"],
                    eval_sets={"train": (x[: size["track"]], y[: size["track"]])},
                    seed=seed,
                )
                final[name] = {
                    "train_error": 1 - histories[name]["train_accuracy"][-1],
                    "test_error": 1 - evaluate(model, *test)["accuracy"],
                    "params": model.count_params(),
                    "train_seconds": histories[name]["seconds"][-1],
                }
                keras.backend.clear_session()
    verdict, reason = judge(final, size["depths"])
    return finish(
        "depth",
        quick=quick,
        seed=seed,
        settings={**size, "optimizer": "SGD lr 0.1 momentum 0.9, batch 128"},
        numbers={"final": final, "histories": histories},
        verdict=verdict,
        reason=reason,
        measured=(
            f"plain and residual nets of depth {' and '.join(map(str, size['depths']))} (width {size['width']}, "
            f"{size['steps']} steps of 128 on {size['train']:,} images pooled to {x.shape[1]}x{x.shape[2]}): "
            f"training error on {size['track']:,} of them"
        ),
        timer=timer,
        figure=_plot(histories),
        output_dir=output_dir,
    )


def judge(final, depths):
    text = "; ".join(
        f"{n}: train error {r['train_error']:.3f}, test error {r['test_error']:.3f}" for n, r in final.items()
    )
    if len(depths) < 2:
        return "partly", text
    shallow, deep = depths
    plain_worse = final[f"plain{deep}"]["train_error"] > final[f"plain{shallow}"]["train_error"] + 0.01
    resnet_fine = final[f"resnet{deep}"]["train_error"] <= final[f"resnet{shallow}"]["train_error"] + 0.01
    verdict = "holds" if plain_worse and resnet_fine else "partly" if plain_worse or resnet_fine else "does not hold"
    return verdict, (
        f"{text}; plain-{deep} {'trains worse than' if plain_worse else 'does not train worse than'} plain-{shallow}; "
        f"ResNet-{deep} {'is no worse than' if resnet_fine else 'trains worse than'} ResNet-{shallow}"
    )


def _plot(histories):
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, h in histories.items():
        style = "-" if name.startswith("resnet") else "--"
        ax.plot(h["step"], [1 - a for a in h["train_accuracy"]], style, label=name)
    ax.set(xlabel="SGD step (batch 128)", ylabel="training error", title="plain (dashed) vs residual (solid)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
