"""Item 9: full-batch gradient descent vs per-example SGD vs mini-batches (note 002's three regimes).

The notes' basic CNN (``notes_cnn``) trained by plain SGD (learning rate 0.01, the
lecture's, no momentum) on the same training images with three batch sizes: all of them
(batch gradient descent), 1 (per-example SGD) and 64 (mini-batches), each for the same
budget of training seconds, in turns in one process. Training loss on all the training
images is recorded against epochs and against seconds; test accuracy at the end.

Verdict rule (fixed before the runs), at the shared time budget, each part of the note's
claim on its own: (a) BGD converges slowly: its training loss is above the mini-batches';
(b) per-example SGD converges slower still: its loss is above BGD's; (c) per-example SGD
trains the better model: its test accuracy is above BGD's; (d) mini-batches combine both:
the lowest loss of the three and a test accuracy at least per-example SGD's minus a point.
holds: all four; does not hold: none; partly otherwise.
"""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt

from kcnn.models.notes import notes_cnn
from kcnn.studies._common import Timer, compile_model, evaluate, fashion_mnist, finish, train_tracked

FULL = dict(train=2_000, test=5_000, seconds=90.0, evals_per_epoch={"batch": 0.2, "sgd": 4, "minibatch": 1})
QUICK = dict(train=256, test=256, seconds=2.0, evals_per_epoch={"batch": 1, "sgd": 2, "minibatch": 2})
LEARNING_RATE = 0.01


def run(*, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    size = QUICK if quick else FULL
    n = size["train"]
    batches = {"batch": n, "sgd": 1, "minibatch": 64}
    with Timer() as timer:
        x, y = fashion_mnist("train", n, seed=seed)
        test = fashion_mnist("test", size["test"], seed=seed)
        histories, final = {}, {}
        for regime, batch in batches.items():
            keras.utils.set_random_seed(seed)
            model = compile_model(notes_cnn(), keras.optimizers.SGD(learning_rate=LEARNING_RATE))
            steps_per_epoch = -(-n // batch)
            every = max(1, round(steps_per_epoch / size["evals_per_epoch"][regime]))
            h = train_tracked(
                model,
                x,
                y,
                steps=10**9,
                batch_size=batch,
                eval_every=every,
                eval_sets={"train": (x, y)},
                seed=seed,
                max_seconds=size["seconds"],
            )
            h["epoch"] = [s * batch / n for s in h["step"]]
            histories[regime] = h
            final[regime] = {
                "train_loss": h["train_loss"][-1],
                "epochs": h["epoch"][-1],
                "seconds": h["seconds"][-1],
                "test_accuracy": evaluate(model, *test)["accuracy"],
            }
            keras.backend.clear_session()
    verdict, reason, parts = judge(final, histories)
    return finish(
        "minibatch",
        quick=quick,
        seed=seed,
        settings={**size, "batch_sizes": batches, "optimizer": f"SGD lr {LEARNING_RATE}, no momentum"},
        numbers={"final": final, "parts": parts, "histories": histories},
        verdict=verdict,
        reason=reason,
        measured=(
            f"notes_cnn by SGD lr {LEARNING_RATE} with batch {n:,} (all), 1 and 64 on {n:,} images, "
            f"{size['seconds']:.0f} s of training each: training loss against epochs and seconds, test accuracy"
        ),
        timer=timer,
        figure=_plot(histories),
        output_dir=output_dir,
    )


def _loss_at(history: dict, seconds: float) -> float:
    """The last training loss recorded at or before ``seconds`` of training."""
    return [v for t, v in zip(history["seconds"], history["train_loss"]) if t <= seconds][-1]


def judge(final, histories):
    shared = min(f["seconds"] for f in final.values())
    loss = {r: _loss_at(h, shared) for r, h in histories.items()}
    acc = {r: f["test_accuracy"] for r, f in final.items()}
    parts = {
        "bgd_slower_than_minibatch": loss["batch"] > loss["minibatch"],
        "sgd_slower_than_bgd": loss["sgd"] > loss["batch"],
        "sgd_better_model_than_bgd": acc["sgd"] > acc["batch"],
        "minibatch_best_of_both": loss["minibatch"] <= min(loss.values()) and acc["minibatch"] >= acc["sgd"] - 0.01,
    }
    held = sum(parts.values())
    verdict = "holds" if held == len(parts) else "does not hold" if held == 0 else "partly"
    text = "; ".join(
        f"{r}: loss {f['train_loss']:.3f} after {f['epochs']:.1f} epochs in {f['seconds']:.0f} s, test accuracy "
        f"{f['test_accuracy']:.3f}"
        for r, f in final.items()
    )
    at = ", ".join(f"{r} {v:.3f}" for r, v in loss.items())
    verdict_parts = ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in parts.items())
    return verdict, f"{text}; loss at the shared {shared:.0f} s: {at}; {verdict_parts}", parts


def _plot(histories):
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for regime, h in histories.items():
        axes[0].plot(h["epoch"], h["train_loss"], marker=".", label=regime)
        axes[1].plot(h["seconds"], h["train_loss"], marker=".", label=regime)
    axes[0].set(xlabel="epoch", ylabel="training loss", xscale="symlog", title="loss against epochs")
    axes[1].set(xlabel="training seconds", title="loss against time")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig
