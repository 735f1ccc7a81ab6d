"""Item 10: fine-tuning a network pretrained on related data beats training from scratch on
a small set.

Note 002's residual network (``notes_residual_cnn``) is pretrained on Fashion-MNIST's
first five classes (T-shirt, trouser, pullover, dress, coat). For each seed, 500 training
images of the other five (sandal, shirt, sneaker, bag, ankle boot; 100 each) are drawn;
the network is trained on them twice with the same recipe (Adam lr 1e-3, batch 32): from
the pretrained weights with a new 5-way ``predictions`` layer (every layer trained), and
from scratch. Test accuracy on all test images of those five classes.

Verdict rule (fixed before the runs): holds if fine-tuning's mean test accuracy is above
scratch's by more than two standard errors of the difference; does not hold if it is not
above by more than that (and partly is not used).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import keras
import numpy as np

from kcnn.models.notes import notes_residual_cnn
from kcnn.studies._common import (
    Timer,
    class_subset,
    compile_model,
    evaluate,
    fashion_mnist,
    finish,
    plot_arms,
    train_tracked,
)
from kcnn.training.finetune import load_backbone_weights

SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
FULL = dict(pretrain_epochs=2, target=500, epochs=30, seeds=3, test=None)
QUICK = dict(pretrain_epochs=1, target=100, epochs=2, seeds=1, test=500, pretrain_limit=512)


def start_from(pretrained_weights: str, model: keras.Model) -> None:
    """Load every layer but the head from ``pretrained_weights`` (kcnn.training's
    load_backbone_weights) and keep ``model``'s own fresh ``predictions`` layer."""
    head = model.get_layer("predictions").get_weights()
    load_backbone_weights(model, pretrained_weights)
    model.get_layer("predictions").set_weights(head)


def _fit(model, x, y, epochs: int, batch: int, seed: int):
    steps_per_epoch = -(-len(y) // batch)
    compile_model(model, keras.optimizers.Adam(learning_rate=1e-3))
    return train_tracked(
        model,
        x,
        y,
        steps=epochs * steps_per_epoch,
        batch_size=batch,
        eval_every=steps_per_epoch,
        eval_sets={},
        seed=seed,
    )


def run(*, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    size = QUICK if quick else FULL
    with Timer() as timer:
        x_all, y_all = fashion_mnist("train")
        xt_all, yt_all = fashion_mnist("test")
        x_src, y_src = class_subset(x_all, y_all, SOURCE)
        if "pretrain_limit" in size:
            x_src, y_src = x_src[: size["pretrain_limit"]], y_src[: size["pretrain_limit"]]
        test = class_subset(xt_all, yt_all, TARGET)
        if size["test"]:
            test = (test[0][: size["test"]], test[1][: size["test"]])
        keras.utils.set_random_seed(seed)
        pretrained = notes_residual_cnn(classes=len(SOURCE))
        _fit(pretrained, x_src, y_src, size["pretrain_epochs"], 64, seed)
        source_test = evaluate(pretrained, *class_subset(xt_all, yt_all, SOURCE))["accuracy"]
        scratch_dir = tempfile.mkdtemp(prefix="kcnn-finetune-")
        weights_path = os.path.join(scratch_dir, "pretrained.weights.h5")
        pretrained.save_weights(weights_path)
        results = {"finetune": [], "scratch": []}
        for s in range(size["seeds"]):
            x_tgt, y_tgt = class_subset(x_all, y_all, TARGET, n=size["target"], seed=seed + s)
            for arm in results:
                keras.utils.set_random_seed(seed + s)
                model = notes_residual_cnn(classes=len(TARGET))
                if arm == "finetune":
                    start_from(weights_path, model)
                _fit(model, x_tgt, y_tgt, size["epochs"], 32, seed + s)
                results[arm].append(evaluate(model, *test)["accuracy"])
        shutil.rmtree(scratch_dir, ignore_errors=True)
    verdict, reason, diff, se = judge(results)
    reason += f"; the pretrained network scores {source_test:.4f} on its own five classes"
    return finish(
        "finetune",
        quick=quick,
        seed=seed,
        settings={**size, "model": "notes_residual_cnn", "optimizer": "Adam 1e-3", "source": SOURCE, "target": TARGET},
        numbers={"test_accuracy": results, "difference": diff, "standard_error": se, "pretrain_test": source_test},
        verdict=verdict,
        reason=reason,
        measured=(
            f"notes_residual_cnn pretrained on classes 0-4, then {size['epochs']} epochs on {size['target']} images "
            f"of classes 5-9, fine-tuned vs from scratch ({size['seeds']} draws)"
        ),
        timer=timer,
        figure=plot_arms(
            results,
            ylabel="test accuracy (classes 5-9)",
            title=f"{size['target']} images: fine-tuning vs scratch",
            labels=["fine-tuned", "from scratch"],
        ),
        output_dir=output_dir,
    )


def judge(results: dict) -> tuple[str, str, float, float]:
    """The module's rule over {"finetune": [...], "scratch": [...]} test accuracies; returns
    (verdict, reason, difference of means, its standard error)."""
    ft, sc = np.asarray(results["finetune"]), np.asarray(results["scratch"])
    diff = float(ft.mean() - sc.mean())
    se = float(np.sqrt(ft.var(ddof=1) / len(ft) + sc.var(ddof=1) / len(sc))) if len(ft) > 1 else float("nan")
    verdict = "holds" if len(ft) > 1 and diff > 2 * se else "does not hold"
    reason = (
        f"test accuracy on the five held-out classes, fine-tuned {_list(ft)} (mean {ft.mean():.4f}) vs scratch "
        f"{_list(sc)} (mean {sc.mean():.4f}): difference {diff:+.4f}, 2 s.e. {2 * se:.4f}"
    )
    return verdict, reason, diff, se


def _list(values) -> str:
    return "/".join(f"{v:.3f}" for v in values)
