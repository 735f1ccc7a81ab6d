"""What every study shares: Fashion-MNIST as arrays, seeded training with the error tracked
by steps and seconds, and the result files (``<name>.json`` and ``<name>.png``)."""

from __future__ import annotations

import functools
import logging
import os
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from kcnn import data
from kcnn.io import atomic_file, atomic_write_json
from kcnn.studies.catalog import study

log = logging.getLogger(__name__)

VERDICTS = ("holds", "partly", "does not hold")
QUICK_VERDICT = "not judged (quick run)"

__all__ = [
    "fashion_mnist",
    "class_subset",
    "compile_model",
    "train_tracked",
    "evaluate",
    "first_step_below",
    "plot_arms",
    "finish",
    "Timer",
]


@functools.lru_cache(maxsize=4)
def _arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    ds = data.load("fashion_mnist", split)
    images, labels = next(iter(ds.batch(1 << 20).as_numpy_iterator()))
    return images, labels.astype("int64")


def fashion_mnist(split: str = "train", n: int | None = None, *, seed: int = 0, scale: bool = True):
    """Real Fashion-MNIST (offline IDX files) as ``(x, y)``: x float32 NHWC in [0, 1] (or raw
    0..255 when not ``scale``), ``n`` examples drawn without replacement by ``seed`` (all if None)."""
    images, labels = _arrays(split)
    if n is not None and n < len(labels):
        pick = np.sort(np.random.default_rng(seed).choice(len(labels), n, replace=False))
        images, labels = images[pick], labels[pick]
    x = images.astype("float32")
    return (x / 255.0 if scale else x), labels


def class_subset(x, y, classes, n: int | None = None, seed: int = 0):
    """The examples of ``classes`` relabelled 0..len(classes)-1; ``n`` of them if given (balanced)."""
    classes = list(classes)
    keep = np.isin(y, classes)
    x, y = x[keep], np.searchsorted(classes, y[keep])
    if n is None:
        return x, y
    rng = np.random.default_rng(seed)
    per = n // len(classes)
    pick = np.sort(
        np.concatenate([rng.choice(np.flatnonzero(y == c), per, replace=False) for c in range(len(classes))])
    )
    return x[pick], y[pick]


def compile_model(model: keras.Model, optimizer) -> keras.Model:
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def evaluate(model: keras.Model, x, y, batch_size: int = 1000) -> dict:
    """Loss and accuracy in inference mode (no dropout, BN moving statistics); NaN loss stays NaN."""
    out = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    return {"loss": float(out["loss"]), "accuracy": float(out["accuracy"])}


def _stream(x, y, batch_size: int, seed: int, augment=None) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    ds = ds.repeat().batch(batch_size)
    if augment is not None:
        ds = ds.map(lambda a, b: (augment(a, training=True), b), num_parallel_calls=2)
    return ds.prefetch(2)


class _Tracker(keras.callbacks.Callback):
    def __init__(self, every: int, eval_sets: dict, stop_below: float | None, max_seconds: float | None):
        super().__init__()
        self.every, self.eval_sets, self.stop_below, self.max_seconds = every, eval_sets, stop_below, max_seconds
        self.history: dict = {"step": [], "seconds": []}
        self._train_seconds = 0.0

    def record(self, step: int) -> None:
        self.history["step"].append(step)
        self.history["seconds"].append(self._train_seconds)
        for name, (x, y) in self.eval_sets.items():
            for k, v in evaluate(self.model, x, y).items():
                self.history.setdefault(f"{name}_{k}", []).append(v)

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self._train_seconds += time.perf_counter() - self._t0
        self.record((epoch + 1) * self.every)
        loss = self.history.get("train_loss", [0.0])[-1]
        if not np.isfinite(loss):
            self.model.stop_training = True  # diverged: nothing more to learn from it
        if self.stop_below is not None and 1.0 - self.history["train_accuracy"][-1] <= self.stop_below:
            self.model.stop_training = True
        if self.max_seconds is not None and self._train_seconds >= self.max_seconds:
            self.model.stop_training = True


def train_tracked(
    model: keras.Model,
    x,
    y,
    *,
    steps: int,
    batch_size: int,
    eval_every: int,
    eval_sets: dict,
    seed: int,
    augment=None,
    stop_below_error: float | None = None,
    max_seconds: float | None = None,
) -> dict:
    """Train ``steps`` SGD steps of ``batch_size`` examples drawn (shuffled, repeating) from
    ``x, y``, evaluating ``eval_sets`` ({"train": (x, y), "test": ...}) at step 0 and every
    ``eval_every`` steps. Returns {"step", "seconds" (training time only), "<set>_loss",
    "<set>_accuracy"}. ``stop_below_error`` ends training once the "train" set's error is at
    most that; a non-finite "train" loss ends it too; so does ``max_seconds`` of training
    (checked at each evaluation).
    """
    tracker = _Tracker(eval_every, eval_sets, stop_below_error, max_seconds)
    tracker.set_model(model)
    tracker.record(0)
    model.fit(
        _stream(x, y, batch_size, seed, augment),
        epochs=max(1, steps // eval_every),
        steps_per_epoch=eval_every,
        callbacks=[tracker],
        shuffle=False,  # the stream shuffles, seeded
        verbose=0,
    )
    return tracker.history


def first_step_below(history: dict, error: float, key: str = "train_accuracy"):
    """The first recorded step whose error (1 - accuracy) is at most ``error``; None if never."""
    for step, acc in zip(history["step"], history[key]):
        if 1.0 - acc <= error + 1e-6:  # accuracies are float32 fractions
            return step
    return None


def plot_arms(results: dict, *, ylabel: str, title: str, labels=None):
    """One column per arm: each run's value as a dot over a bar at their mean."""
    fig, ax = plt.subplots(figsize=(1.5 * len(results) + 3, 3.8))
    for i, values in enumerate(results.values()):
        ax.scatter([i] * len(values), values, color=f"C{i}")
        ax.bar(i, np.mean(values), color=f"C{i}", alpha=0.3)
    ax.set_xticks(range(len(results)), labels or list(results))
    low = min(min(v) for v in results.values())
    ax.set_ylim(max(0.0, low - 0.05), min(1.0, max(max(v) for v in results.values()) + 0.02))
    ax.set(ylabel=ylabel, title=title)
    ax.grid(alpha=0.3, axis="y")
    return fig


class Timer:
    """Wall-clock ``seconds`` and this process's ``cpu_seconds`` (all threads) of a block: on a
    shared machine the CPU time says what the wall time would be on an idle one."""

    def __enter__(self):
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.cpu_start


def _load_average() -> list | None:
    """The 1, 5 and 15-minute load averages at the end (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def finish(
    name: str,
    *,
    quick: bool,
    seed: int,
    settings: dict,
    numbers: dict,
    verdict: str,
    reason: str,
    measured: str,
    timer: Timer,
    figure,
    output_dir,
) -> dict:
    """The study's result dict; with ``output_dir`` also ``<name>.json`` and ``<name>.png`` there.

    A quick run is too small to judge the claim: its verdict is "not judged (quick run)"
    whatever the rule says at that size.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}; got {verdict!r}")
    if quick:
        verdict = QUICK_VERDICT
    entry = study(name)
    result = {
        "study": name,
        "issue_item": entry.item,
        "claim": entry.claim,
        "source": entry.source,
        "quote": entry.quote,
        "measured": measured,
        "quick": quick,
        "seed": seed,
        "settings": settings,
        "numbers": numbers,
        "verdict": verdict,
        "reason": reason,
        "wall_seconds": round(timer.seconds, 1),
        "cpu_seconds": round(timer.cpu_seconds, 1),
        "load_average": _load_average(),
        "command": f"kcnn-study {name}" + (" --quick" if quick else "") + (f" --seed={seed}" if seed else ""),
        "files": {},
    }
    if output_dir is not None:
        os.makedirs(output_dir, exist_ok=True)
        png = os.path.join(output_dir, f"{name}.png")
        with atomic_file(png, suffix=".png") as tmp:
            figure.savefig(tmp, dpi=100)
        result["files"] = {"png": png, "json": os.path.join(output_dir, f"{name}.json")}
        atomic_write_json(result["files"]["json"], result)
        log.info("%s: wrote %s and %s", name, png, result["files"]["json"])
    plt.close(figure)
    return result
