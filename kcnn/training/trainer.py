"""``train(config)``: check everything, then train, evaluate, plot, save and export.

All checks run in :func:`plan` before any data is read or any file written. Training
runs one ``model.fit`` call per epoch over a pipeline seeded by ``(seed, epoch)``, and
after each epoch writes an atomic checkpoint (model with optimizer state, plus the
history), so rerunning the same command after a crash resumes from the last epoch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time

import keras
import numpy as np

from kcnn import data as kdata
from kcnn.export import check_formats, export_model
from kcnn.io import atomic_dir, atomic_file, atomic_write_json, atomic_write_text
from kcnn.registry import create_model, model_info
from kcnn.training.config import ConfigError, ExperimentConfig
from kcnn.training.optimizers import OPTIMIZERS, make_optimizer
from kcnn.training.schedules import check_schedule, make_schedule
from kcnn.viz import confusion_matrix, plot_confusion_matrix, plot_learning_curves

__all__ = ["Plan", "plan", "train", "RunFiles"]


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the checks established: the dataset, the model's input shape, the validation source."""

    dataset: kdata.DatasetInfo
    image_shape: tuple
    validation: str | float  # "none", "test" or the held-out fraction of the train split


class RunFiles:
    """Where a run writes, inside ``model_dir``."""

    def __init__(self, root: str):
        self.root = root
        self.config = os.path.join(root, "config.json")
        self.history_json = os.path.join(root, "history.json")
        self.history_csv = os.path.join(root, "history.csv")
        self.curves = os.path.join(root, "learning_curves.png")
        self.confusion = os.path.join(root, "confusion_matrix.png")
        self.model = os.path.join(root, "model.keras")
        self.results = os.path.join(root, "results.json")
        self.checkpoints = os.path.join(root, "checkpoints")
        self.export = os.path.join(root, "export")


def _positive(value, field: str, kind=int):
    if not isinstance(value, kind) or isinstance(value, bool) or value <= 0:
        raise ConfigError(field, f"must be a positive {kind.__name__}; got {value!r}")


def _validation(value: str):
    if value in ("none", "test"):
        return value
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0 < fraction < 1:
        raise ConfigError("data.validation", f"must be 'none', 'test' or a fraction in (0, 1); got {value!r}")
    return fraction


def plan(config: ExperimentConfig) -> Plan:
    """Check the config against the registry, the dataset and the model; raise ConfigError naming the field."""
    t, d = config.train, config.data
    _positive(t.epochs, "train.epochs")
    _positive(t.batch_size, "train.batch_size")
    _positive(float(t.learning_rate), "train.learning_rate", float)
    if t.optimizer not in OPTIMIZERS:
        raise ConfigError("train.optimizer", f"must be one of {', '.join(OPTIMIZERS)}; got {t.optimizer!r}")
    check_schedule(t.schedule, epochs=t.epochs, boundaries=t.lr_boundaries, warmup_epochs=t.warmup_epochs)
    try:
        model_info(config.model.name)
    except ValueError as err:
        raise ConfigError("model.name", str(err)) from None
    if d.normalization not in kdata.NORMALIZATIONS:
        raise ConfigError("data.normalization", f"must be one of {', '.join(kdata.NORMALIZATIONS)}; got {d.normalization!r}")
    if d.resize not in kdata.pipeline.RESIZE_MODES:
        raise ConfigError("data.resize", f"must be one of {', '.join(kdata.pipeline.RESIZE_MODES)}; got {d.resize!r}")
    bad = [a for a in d.augment if a not in kdata.AUGMENTATIONS]
    if bad:
        raise ConfigError("data.augment", f"unknown augmentation {bad[0]!r}; choose from {', '.join(kdata.AUGMENTATIONS)}")
    if d.image_size is not None and (len(d.image_size) != 2 or any(int(s) <= 0 for s in d.image_size)):
        raise ConfigError("data.image_size", f"must be two positive integers (height, width); got {d.image_size!r}")
    if d.channels is not None and d.channels not in (1, 3):
        raise ConfigError("data.channels", f"must be 1 or 3; got {d.channels!r}")
    validation = _validation(d.validation)
    try:
        check_formats(config.export.formats)
    except ValueError as err:
        raise ConfigError("export.formats", str(err)) from None
    try:
        info = kdata.describe(d.dataset, d.train_split, data_dir=d.data_dir)
        if validation == "test" or d.test_split:
            kdata.sources.parse_split(d.test_split)
    except ValueError as err:
        raise ConfigError("data.dataset", str(err)) from None
    height, width = d.image_size or info.image_shape[:2]
    image_shape = (int(height), int(width), int(d.channels or info.image_shape[2]))
    try:
        create_model(config.model.name, input_shape=image_shape, classes=info.num_classes, **config.model.kwargs)
    except (ValueError, TypeError) as err:
        raise ConfigError("model.name", f"{config.model.name} cannot take {d.dataset} images of shape "
                          f"{image_shape}: {err}") from None  # fmt: skip
    finally:
        keras.backend.clear_session()
    return Plan(info, image_shape, validation)


# --- data -------------------------------------------------------------------------------


def _split_datasets(config: ExperimentConfig, p: Plan):
    d = config.data
    train = kdata.load(d.dataset, d.train_split, data_dir=d.data_dir)
    test = kdata.load(d.dataset, d.test_split, data_dir=d.data_dir)
    val = None
    if p.validation == "test":
        val = test
    elif isinstance(p.validation, float):
        n = int(train.cardinality())
        if n < 0:
            raise ConfigError("data.validation", f"{d.dataset} {d.train_split} has no known size to hold out a fraction of; "
                              "use 'test', 'none' or an explicit split")  # fmt: skip
        n_val = max(1, round(n * p.validation))
        train, val = train.take(n - n_val), train.skip(n - n_val)
    return train, val, test


def _pipeline(config: ExperimentConfig, p: Plan, ds, *, training: bool, epoch: int = 0):
    d, t = config.data, config.train
    return kdata.make_pipeline(
        ds, batch_size=t.batch_size, training=training, seed=t.seed, epoch=epoch, cache=d.cache,
        image_size=p.image_shape[:2], resize=d.resize, channels=p.image_shape[2], augment=d.augment,
    )  # fmt: skip


def build_model(config: ExperimentConfig, p: Plan, normalizer) -> keras.Model:
    """The registered network behind an ``image`` input and the fitted normalization layer."""
    image = keras.Input(p.image_shape, name="image")
    return create_model(
        config.model.name, input_tensor=normalizer(image), classes=p.dataset.num_classes, **config.model.kwargs
    )


def _compile(model: keras.Model, config: ExperimentConfig, steps_per_epoch: int) -> None:
    t = config.train
    learning_rate = make_schedule(
        t.schedule, t.learning_rate, steps_per_epoch=steps_per_epoch, epochs=t.epochs,
        boundaries=t.lr_boundaries, decay_factor=t.lr_decay_factor, warmup_epochs=t.warmup_epochs,
    )  # fmt: skip
    model.compile(
        optimizer=make_optimizer(t.optimizer, learning_rate, momentum=t.momentum),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


# --- checkpoints ------------------------------------------------------------------------


def _latest_checkpoint(files: RunFiles):
    pointer = os.path.join(files.checkpoints, "LATEST")
    if not os.path.exists(pointer):
        return None
    with open(pointer, encoding="utf-8") as f:
        name = f.read().strip()
    path = os.path.join(files.checkpoints, name)
    with open(os.path.join(path, "state.json"), encoding="utf-8") as f:
        return path, json.load(f)


def _save_checkpoint(files: RunFiles, model: keras.Model, state: dict) -> None:
    """Write ``checkpoints/epoch-NNNN`` atomically, then point LATEST at it, then drop older ones."""
    name = f"epoch-{state['epochs_done']:04d}"
    with atomic_dir(os.path.join(files.checkpoints, name), overwrite=True) as tmp:
        model.save(os.path.join(tmp, "model.keras"))
        atomic_write_json(os.path.join(tmp, "state.json"), state)
    atomic_write_text(os.path.join(files.checkpoints, "LATEST"), name + "\n")
    for old in os.listdir(files.checkpoints):
        if old.startswith("epoch-") and old != name:
            shutil.rmtree(os.path.join(files.checkpoints, old), ignore_errors=True)


def _write_history(files: RunFiles, history: dict) -> None:
    atomic_write_json(files.history_json, history)
    keys = list(history)
    rows = [",".join(keys)] + [",".join(repr(history[k][i]) for k in keys) for i in range(len(history["epoch"]))]
    atomic_write_text(files.history_csv, "\n".join(rows) + "\n")


def _prepare_model_dir(config: ExperimentConfig, files: RunFiles, overwrite: bool):
    """Return the checkpoint to resume from (or None); refuse a model_dir holding a different run."""
    if overwrite and os.path.exists(files.root):
        shutil.rmtree(files.root)
    if os.path.exists(files.config):
        with open(files.config, encoding="utf-8") as f:
            previous = json.load(f)
        if previous != json.loads(config.to_json()):
            raise ConfigError("model_dir", f"{files.root} holds a run with a different config; choose another "
                              "model_dir or pass overwrite to start afresh")  # fmt: skip
        return _latest_checkpoint(files)
    if os.path.isdir(files.root) and os.listdir(files.root):
        raise ConfigError("model_dir", f"{files.root} exists and is not a kcnn run directory")
    os.makedirs(files.root, exist_ok=True)
    atomic_write_text(files.config, config.to_json())
    return None


# --- the run ----------------------------------------------------------------------------


def train(config: ExperimentConfig, *, overwrite: bool = False, verbose=None) -> dict:
    """Train ``config``'s model on its dataset, evaluate on the test split, save and export.

    Returns the results dict also written to ``model_dir/results.json``. Rerunning a run
    that stopped resumes from its last checkpoint; rerunning a finished one returns its
    results. ``overwrite`` discards an existing run in ``model_dir`` (and its exports).
    """
    p = plan(config)
    files = RunFiles(os.path.abspath(config.model_dir))
    if not overwrite and os.path.exists(files.results) and os.path.exists(files.config):
        with open(files.config, encoding="utf-8") as f:
            if json.load(f) == json.loads(config.to_json()):
                with open(files.results, encoding="utf-8") as r:
                    return {**json.load(r), "already_complete": True}
    resume = _prepare_model_dir(config, files, overwrite)
    t = config.train
    verbose = verbose if verbose is not None else (1 if sys.stdout.isatty() else 2)
    keras.utils.set_random_seed(t.seed)
    train_raw, val_raw, test_raw = _split_datasets(config, p)

    if resume:
        path, state = resume
        model = keras.saving.load_model(os.path.join(path, "model.keras"))
        history, stats, start = state["history"], state["normalization"], state["epochs_done"]
        print(f"kcnn: resuming {files.root} after epoch {start}", flush=True)
    else:
        normalizer, stats = kdata.fit_normalization(config.data.normalization, train_raw, p.image_shape[2])
        model = build_model(config, p, normalizer)
        _compile(model, config, steps_per_epoch=-(-int(train_raw.cardinality()) // t.batch_size))
        history, start = {"epoch": []}, 0

    val = _pipeline(config, p, val_raw, training=False) if val_raw is not None else None
    began = time.time()
    for epoch in range(start, t.epochs):
        tic = time.time()
        fit = model.fit(
            _pipeline(config, p, train_raw, training=True, epoch=epoch), validation_data=val, initial_epoch=epoch,
            epochs=t.epochs, verbose=verbose, shuffle=False, callbacks=[_StopAfterOneEpoch()],
        )  # fmt: skip
        history["epoch"].append(epoch + 1)
        for k, v in fit.history.items():
            history.setdefault(k, []).append(float(v[-1]))
        history.setdefault("time", []).append(round(time.time() - tic, 3))
        _write_history(files, history)
        _save_checkpoint(files, model, {"epochs_done": epoch + 1, "history": history, "normalization": _jsonable(stats)})
    train_seconds = time.time() - began

    test = _pipeline(config, p, test_raw, training=False)
    test_loss, test_accuracy = model.evaluate(test, verbose=0)
    labels = np.concatenate([y for _, y in test.as_numpy_iterator()])
    predicted = model.predict(test, verbose=0).argmax(-1)
    matrix = confusion_matrix(labels, predicted, p.dataset.num_classes)
    title = f"{config.model.name} on {config.data.dataset}"
    plot_learning_curves(history, files.curves, title=title)
    plot_confusion_matrix(matrix, p.dataset.class_names, files.confusion, title=f"{title}: test accuracy {test_accuracy:.4f}")
    with atomic_file(files.model, suffix=".keras") as tmp:
        model.save(tmp)

    results = {
        "model": config.model.name, "dataset": config.data.dataset, "epochs": t.epochs,
        "test_accuracy": float(test_accuracy), "test_loss": float(test_loss), "test_examples": int(len(labels)),
        "train_seconds_this_session": round(train_seconds, 1), "params": int(model.count_params()),
        "artifacts": {"model_dir": files.root, "config": files.config, "history_json": files.history_json,
                      "history_csv": files.history_csv, "learning_curves": files.curves,
                      "confusion_matrix": files.confusion, "keras_model": files.model},
    }  # fmt: skip
    if config.export.formats:
        samples = np.concatenate([x for x, _ in test.take(1).as_numpy_iterator()])[:32]
        report = export_model(
            model, files.export, config.export.formats, class_names=p.dataset.class_names,
            sample_images=np.clip(samples, 0, 255).astype(np.uint8), overwrite=True,
        )  # fmt: skip
        results["exports"] = report["artifacts"]
    atomic_write_json(files.results, results)
    return results


class _StopAfterOneEpoch(keras.callbacks.Callback):
    """Each fit call trains one epoch (on that epoch's seeded pipeline) yet reports 'Epoch k/N'."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


def _jsonable(stats: dict) -> dict:
    return {k: (None if v is None else np.asarray(v).tolist()) for k, v in stats.items()}
