"""``train(config)``: check everything, then train, evaluate, plot, save and export.

All checks run in :func:`plan` before any data is read or any file written. Training
runs kcnn's ``strategy.run`` loop (kcnn.training.loop) under the configured strategy and
precision, one epoch at a time over a pipeline that is a pure function of (seed, epoch,
batch index), checkpointing atomically at epoch ends (and every ``checkpoint_every``
steps), so rerunning the same command after a crash resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import time

import keras
import tensorflow as tf

from kcnn import data as kdata
from kcnn.export import Preprocessing, check_formats, export_model
from kcnn.io import atomic_file, atomic_write_json
from kcnn.registry import create_model, model_info
from kcnn.training import finetune as ft
from kcnn.training.checkpoint import Checkpointer
from kcnn.training.config import ConfigError, ExperimentConfig
from kcnn.training.distribute import check_strategy, is_chief, make_strategy
from kcnn.training.loop import NonFiniteLoss, TrainLoop
from kcnn.training.losses import LOSSES, SOFT_TARGET_LOSSES, make_loss
from kcnn.training.optimizers import OPTIMIZERS, make_optimizer
from kcnn.training.precision import PRECISIONS, precision_warning, resolve_precision
from kcnn.training.run_dir import RunFiles, finished_results, prepare_run_dir, read_history, write_history
from kcnn.training.schedules import check_schedule, make_schedule
from kcnn.viz import plot_confusion_matrix, plot_learning_curves

__all__ = ["Plan", "plan", "train", "build_model"]

log = logging.getLogger("kcnn.training")
BEST_METRICS = {"val_accuracy": 1.0, "val_loss": -1.0}  # +1: higher is better


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the checks established: the dataset, the model's input shape, the validation source."""

    dataset: kdata.DatasetInfo
    image_shape: tuple
    validation: str | float  # "none", "test" or the held-out fraction of the train split
    soft_labels: bool  # the augmentation mixes labels (mixup, cutmix)


def _positive(value, field: str, kind=int):
    if not isinstance(value, kind) or isinstance(value, bool) or value <= 0:
        raise ConfigError(field, f"must be a positive {kind.__name__}; got {value!r}")


def _one_of(value, allowed, field: str):
    if value not in allowed:
        raise ConfigError(field, f"must be one of {', '.join(map(str, allowed))}; got {value!r}")


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


def _check_train(config: ExperimentConfig) -> None:
    t, f = config.train, config.finetune
    _positive(t.epochs, "train.epochs")
    _positive(t.batch_size, "train.batch_size")
    _positive(float(t.learning_rate), "train.learning_rate", float)
    _one_of(t.optimizer, OPTIMIZERS, "train.optimizer")
    _one_of(t.loss, LOSSES, "train.loss")
    _one_of(t.precision, PRECISIONS, "train.precision")
    _one_of(t.best_metric, tuple(BEST_METRICS), "train.best_metric")
    if t.label_smoothing and t.loss != "cross_entropy":
        raise ConfigError("train.label_smoothing", f"needs train.loss=cross_entropy, not {t.loss!r}")
    if not 0 <= t.label_smoothing < 1:
        raise ConfigError("train.label_smoothing", f"must be in [0, 1); got {t.label_smoothing}")
    if t.weight_decay < 0 or t.l2 < 0:
        raise ConfigError("train.weight_decay" if t.weight_decay < 0 else "train.l2", "must not be negative")
    if t.clipnorm is not None and t.clipnorm <= 0:
        raise ConfigError("train.clipnorm", f"must be positive; got {t.clipnorm}")
    if t.checkpoint_every < 0:
        raise ConfigError(
            "train.checkpoint_every", f"must be 0 or a positive number of steps; got {t.checkpoint_every}"
        )
    check_schedule(t.schedule, epochs=t.epochs, boundaries=t.lr_boundaries, warmup_epochs=t.warmup_epochs)
    check_strategy(t.strategy, t.cluster_resolver)
    if f.weights is not None:
        if f.weights != "imagenet" and not os.path.isfile(f.weights):
            raise ConfigError("finetune.weights", f"{f.weights}: no such file (a .weights.h5 file or 'imagenet')")
        ft.check_unfreeze(f.unfreeze)
        if not 0 <= f.head_epochs < t.epochs:
            raise ConfigError("finetune.head_epochs", f"must be in [0, train.epochs={t.epochs}); got {f.head_epochs}")
    elif f.head_epochs:
        raise ConfigError("finetune.head_epochs", "fine-tuning needs finetune.weights")


def plan(config: ExperimentConfig) -> Plan:
    """Check the config against the registry, the machine, the dataset and the model.

    Raises ConfigError naming the field; reads no data and writes nothing.
    """
    d = config.data
    _check_train(config)
    try:
        model_info(config.model.name)
    except ValueError as err:
        raise ConfigError("model.name", str(err)) from None
    _one_of(d.normalization, kdata.NORMALIZATIONS, "data.normalization")
    _one_of(d.resize, kdata.pipeline.RESIZE_MODES, "data.resize")
    try:
        soft = kdata.makes_soft_labels(d.augment)
    except ValueError as err:
        raise ConfigError("data.augment", str(err)) from None
    if soft and config.train.loss not in SOFT_TARGET_LOSSES:
        raise ConfigError(
            "train.loss",
            f"{config.train.loss} cannot take the soft labels data.augment="
            f"{','.join(d.augment)} makes; use one of {', '.join(SOFT_TARGET_LOSSES)}",
            others=("data.augment",),
        )
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
        kdata.sources.parse_split(d.test_split)
    except ValueError as err:
        raise ConfigError("data.dataset", str(err)) from None
    height, width = d.image_size or info.image_shape[:2]
    image_shape = (int(height), int(width), int(d.channels or info.image_shape[2]))
    try:
        create_model(config.model.name, input_shape=image_shape, classes=info.num_classes, **config.model.kwargs)
    except (ValueError, TypeError) as err:
        raise ConfigError(
            "model.name", f"{config.model.name} cannot take {d.dataset} images of shape {image_shape}: {err}"
        ) from None
    finally:
        keras.backend.clear_session()
    return Plan(info, image_shape, validation, soft)


# --- data and model -----------------------------------------------------------------------


def _split_datasets(config: ExperimentConfig, p: Plan):
    d = config.data
    train = kdata.load(d.dataset, d.train_split, data_dir=d.data_dir)
    test = kdata.load(d.dataset, d.test_split, data_dir=d.data_dir)
    n = int(train.cardinality())
    val = None
    if p.validation == "test":
        val = test
    elif isinstance(p.validation, float):
        if n < 0:
            raise ConfigError(
                "data.validation",
                f"{d.dataset} {d.train_split} has no known size to hold out a fraction "
                "of; use 'test', 'none' or explicit splits",
            )
        n_val = max(1, round(n * p.validation))
        train, val, n = train.take(n - n_val), train.skip(n - n_val), n - n_val
    if 0 <= n < config.train.batch_size:
        raise ConfigError("train.batch_size", f"{config.train.batch_size} exceeds the {n} training examples")
    return train, val, test, n


def _pipeline(
    config: ExperimentConfig, p: Plan, ds, batch_size: int, *, training: bool, epoch: int = 0, skip_batches: int = 0
):
    d = config.data
    return kdata.make_pipeline(
        ds,
        batch_size=batch_size,
        training=training,
        seed=config.train.seed,
        epoch=epoch,
        cache=d.cache,
        image_size=p.image_shape[:2],
        resize=d.resize,
        channels=p.image_shape[2],
        augment=d.augment,
        num_classes=None if config.train.loss == "sparse_cross_entropy" else p.dataset.num_classes,
        drop_remainder=training,
        skip_batches=skip_batches,
    )


def build_model(config: ExperimentConfig, p: Plan, normalizer) -> keras.Model:
    """The registered network behind an ``image`` input and the fitted normalization layer
    (with ``finetune.weights="imagenet"``: the ImageNet backbone and a new ``predictions`` head)."""
    image = keras.Input(p.image_shape, name="image")
    name, kwargs = config.model.name, dict(config.model.kwargs)
    if config.finetune.weights == "imagenet":
        backbone = create_model(
            name, include_top=False, weights="imagenet", pooling="avg", input_tensor=normalizer(image), **kwargs
        )
        head = keras.layers.Dense(p.dataset.num_classes, activation="softmax", dtype="float32", name="predictions")
        return keras.Model(image, head(backbone.output), name=name)
    model = create_model(name, input_tensor=normalizer(image), classes=p.dataset.num_classes, **kwargs)
    if config.finetune.weights is not None:
        ft.load_backbone_weights(model, config.finetune.weights)
    return model


def _optimizer(config: ExperimentConfig, steps_per_epoch: int, *, epochs: int, lr_scale: float = 1.0):
    t = config.train
    learning_rate = make_schedule(
        t.schedule,
        t.learning_rate * lr_scale,
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        boundaries=t.lr_boundaries,
        decay_factor=t.lr_decay_factor,
        warmup_epochs=t.warmup_epochs,
    )
    optimizer = make_optimizer(
        t.optimizer,
        learning_rate,
        momentum=t.momentum,
        nesterov=t.nesterov,
        weight_decay=t.weight_decay,
        clipnorm=t.clipnorm,
        ema_momentum=t.ema_momentum if t.ema else None,
    )
    if keras.config.dtype_policy().name == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


@contextlib.contextmanager
def averaged_weights(model: keras.Model):
    """Evaluate with the moving average of the weights when the optimizer keeps one.

    The optimizer's public ``finalize_variable_values`` writes the averages into the
    model; the training weights are copied first and put back exactly afterwards.
    """
    optimizer = model.optimizer
    if not getattr(getattr(optimizer, "inner_optimizer", optimizer), "use_ema", False):
        yield
        return
    variables = model.trainable_variables
    saved = [v.numpy() for v in variables]
    optimizer.finalize_variable_values(variables)
    try:
        yield
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)


# --- the run ------------------------------------------------------------------------------


class _Run:
    """One training run: the objects that live from the first epoch to the export."""

    def __init__(self, config: ExperimentConfig, p: Plan, files: RunFiles, strategy, verbose: int):
        self.config, self.p, self.files, self.verbose = config, p, files, verbose
        t = config.train
        self.strategy = strategy
        self.chief = is_chief(strategy)
        self.train_raw, self.val_raw, self.test_raw, n_train = _split_datasets(config, p)
        self.steps_per_epoch = n_train // t.batch_size
        normalizer, self.stats = kdata.fit_normalization(config.data.normalization, self.train_raw, p.image_shape[2])
        with self.strategy.scope():
            self.model = build_model(config, p, normalizer)
        self.phase = None
        self.writer = tf.summary.create_file_writer(files.tensorboard) if self.chief else None

    def phase_of(self, epoch: int) -> str:
        f = self.config.finetune
        return "train" if f.weights is None else ("head" if epoch < f.head_epochs else "unfrozen")

    def resume(self) -> tuple[int, int]:
        """Restore the latest checkpoint of the latest phase that has one: (epochs done, steps done)."""
        for epoch in (self.config.finetune.head_epochs, 0):
            if tf.train.latest_checkpoint(os.path.join(self.files.checkpoints, self.phase_of(epoch))):
                self.set_phase(epoch)
                return self.checkpointer.restore()
        self.set_phase(0)
        return 0, 0

    def set_phase(self, epoch: int) -> None:
        """(Re)build optimizer, loop and checkpointer for the fine-tuning phase ``epoch`` is in."""
        t, f = self.config.train, self.config.finetune
        phase = self.phase_of(epoch)
        if phase == self.phase:
            return
        self.phase = phase
        if phase == "head":
            ft.freeze_backbone(self.model)
        elif phase == "unfrozen":
            trained = ft.unfreeze(self.model, f.unfreeze)
            print(f"kcnn: fine-tuning {len(trained)} blocks at learning rate x{f.lr_factor}", flush=True)
        epochs = {"head": f.head_epochs, "unfrozen": t.epochs - f.head_epochs}.get(phase, t.epochs)
        with self.strategy.scope():
            optimizer = _optimizer(
                self.config, self.steps_per_epoch, epochs=epochs, lr_scale=f.lr_factor if phase == "unfrozen" else 1.0
            )
            self.model.compile(optimizer=optimizer, loss=make_loss(t.loss, label_smoothing=t.label_smoothing))
            optimizer.build(self.model.trainable_variables)
        self.loop = TrainLoop(
            self.model,
            optimizer,
            self.model.loss,
            strategy=self.strategy,
            num_classes=self.p.dataset.num_classes,
            global_batch_size=t.batch_size,
            sparse_labels=t.loss == "sparse_cross_entropy",
            jit_compile=t.jit_compile,
            l2=t.l2,
        )
        self.checkpointer = Checkpointer(
            os.path.join(self.files.checkpoints, phase), self.model, optimizer, self.strategy
        )

    def dataset(self, raw, *, training: bool, epoch: int = 0, skip_batches: int = 0):
        return self.loop.distribute(
            lambda b: _pipeline(self.config, self.p, raw, b, training=training, epoch=epoch, skip_batches=skip_batches)
        )

    def log_epoch(self, history: dict, epoch: int, seconds: float) -> None:
        line = " - ".join(f"{k}: {v[-1]:.4f}" for k, v in history.items() if k not in ("epoch", "time"))
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.config.train.epochs} - {seconds:.0f}s - {line}", flush=True)
        if self.writer is not None:
            with self.writer.as_default(step=epoch + 1):
                for k, v in history.items():
                    if k not in ("epoch",):
                        tf.summary.scalar(k, v[-1])
            self.writer.flush()


def train(config: ExperimentConfig, *, overwrite: bool = False, verbose=None, on_model=None) -> dict:
    """Train ``config``'s model on its dataset, evaluate on the test split, save and export.

    Returns the results dict also written to ``model_dir/results.json``. Rerunning a run
    that stopped resumes from its last checkpoint; rerunning a finished one returns its
    results. ``overwrite`` discards an existing run in ``model_dir`` (and its exports).
    ``on_model(model)`` is called on every worker with the trained model (averaged weights
    when ``train.ema``) before the outputs are written - e.g. to compare workers.
    """
    t = config.train
    # MultiWorkerMirroredStrategy must exist before any TensorFlow op runs (plan builds a model).
    strategy = make_strategy(t.strategy, t.cluster_resolver)
    p = plan(config)
    files = RunFiles(os.path.abspath(config.model_dir))
    if not overwrite and (done := finished_results(files, config)) is not None:
        return {**done, "already_complete": True}
    policy = resolve_precision(t.precision, t.strategy)
    if (warning := precision_warning(policy)) is not None:
        print(f"kcnn: warning: {warning}", file=sys.stderr, flush=True)
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(t.seed)
    if t.deterministic:
        tf.config.experimental.enable_op_determinism()
    interactive = 1 if verbose is None and sys.stdout.isatty() else 0
    verbose = 2 if verbose is None else verbose

    prepare_run_dir(files, config, overwrite=overwrite, chief=is_chief(strategy))
    run = _Run(config, p, files, strategy, verbose)
    start_epoch, start_step = run.resume()
    if start_epoch or start_step:
        print(f"kcnn: resuming {files.root} at epoch {start_epoch + 1}, step {start_step}", flush=True)
    history = read_history(files, start_epoch)
    sign = BEST_METRICS[t.best_metric]
    best = max((sign * v for v in history.get(t.best_metric, [])), default=None)
    val = run.dataset(run.val_raw, training=False) if run.val_raw is not None else None

    began = time.time()
    for epoch in range(start_epoch, t.epochs):
        run.set_phase(epoch)
        tic = time.time()
        save_every = t.checkpoint_every

        def on_step(step, epoch=epoch, save_every=save_every):
            if save_every and step % save_every == 0 and step < run.steps_per_epoch:
                run.checkpointer.save(epoch, step)

        progress = keras.utils.Progbar(run.steps_per_epoch, verbose=1) if interactive else None
        try:
            result = run.loop.train_epoch(
                run.dataset(run.train_raw, training=True, epoch=epoch, skip_batches=start_step),
                run.steps_per_epoch,
                first_step=start_step,
                on_step=on_step,
                progress=progress,
            )
        except NonFiniteLoss as err:
            raise NonFiniteLoss(f"{err}; stopped, the last good checkpoint is kept in {files.checkpoints}") from None
        start_step = 0
        history["epoch"].append(epoch + 1)
        history.setdefault("loss", []).append(result["loss"])
        history.setdefault("accuracy", []).append(result["accuracy"])
        if val is not None:
            with averaged_weights(run.model):
                v = run.loop.evaluate(val)
            history.setdefault("val_loss", []).append(v["loss"])
            history.setdefault("val_accuracy", []).append(v["accuracy"])
        history.setdefault("learning_rate", []).append(
            float(keras.ops.convert_to_numpy(run.loop.optimizer.learning_rate))
        )
        history.setdefault("time", []).append(round(time.time() - tic, 3))
        if run.chief:  # history first: a checkpoint never gets ahead of the history a resume truncates
            write_history(files, history)
            run.log_epoch(history, epoch, time.time() - tic)
        run.checkpointer.save(epoch + 1, 0)
        if run.chief:
            if val is not None and (best is None or sign * history[t.best_metric][-1] > best):
                best = sign * history[t.best_metric][-1]
                with averaged_weights(run.model), atomic_file(files.best, suffix=".keras") as tmp:
                    run.model.save(tmp)
    train_seconds = time.time() - began
    run.loop.optimizer.finalize_variable_values(run.model.trainable_variables)
    if on_model is not None:
        on_model(run.model)
    return _finish(run, history, train_seconds)


def _finish(run: _Run, history: dict, train_seconds: float) -> dict:
    """Evaluate on the test split; on the chief write plots, the model, exports and results."""
    config, p, files = run.config, run.p, run.files
    test = run.loop.evaluate(run.dataset(run.test_raw, training=False))
    results = {
        "model": config.model.name,
        "dataset": config.data.dataset,
        "epochs": config.train.epochs,
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "test_examples": int(test["confusion"].sum()),
        "train_seconds_this_session": round(train_seconds, 1),
        "params": int(run.model.count_params()),
        "precision": keras.config.dtype_policy().name,
        "strategy": config.train.strategy,
        "replicas": run.strategy.num_replicas_in_sync,
        "artifacts": {
            "model_dir": files.root,
            "config": files.config,
            "history_json": files.history_json,
            "history_csv": files.history_csv,
            "learning_curves": files.curves,
            "confusion_matrix": files.confusion,
            "keras_model": files.model,
            "tensorboard": files.tensorboard,
        },
    }
    if not run.chief:
        return results
    if os.path.exists(files.best):
        results["artifacts"]["best_model"] = files.best
    title = f"{config.model.name} on {config.data.dataset}"
    plot_learning_curves(history, files.curves, title=title)
    plot_confusion_matrix(
        test["confusion"],
        p.dataset.class_names,
        files.confusion,
        title=f"{title}: test accuracy {test['accuracy']:.4f}",
    )
    with atomic_file(files.model, suffix=".keras") as tmp:
        run.model.save(tmp)
    if config.export.formats:
        report = export_model(
            run.model,
            files.export,
            config.export.formats,
            class_names=p.dataset.class_names,
            preprocessing=Preprocessing(p.dataset.image_shape, config.data.resize),
            calibration_data=run.train_raw,
            test_data=run.test_raw,
            overwrite=True,
        )
        results["exports"] = report["artifacts"]
    atomic_write_json(files.results, results)
    return results
