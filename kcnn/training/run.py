"""One training run, after :func:`kcnn.training.trainer.plan` passed: data, model, epochs,
checkpoints, evaluation, plots, the saved model and the export.

The datasets: the train split (its tail held out when ``data.validation`` is a fraction),
the validation source, and the test split. Evaluation datasets are padded with masked
examples to whole global batches under several replicas, so every replica of every
worker runs the same number of full steps (a ragged last batch left one worker with an
empty batch and ended multi-worker runs in the final evaluation).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time

import keras
import tensorflow as tf

from kcnn import data as kdata
from kcnn.export import Preprocessing, export_version
from kcnn.io import atomic_file, atomic_write_json
from kcnn.registry import create_model
from kcnn.training import batchnorm
from kcnn.training import finetune as ft
from kcnn.training.checkpoint import Checkpointer
from kcnn.training.config import BEST_METRICS, ConfigError, ExperimentConfig
from kcnn.training.distribute import is_chief
from kcnn.training.loop import PAD_LABEL, NonFiniteLoss, TrainLoop
from kcnn.training.losses import make_loss
from kcnn.training.metrics import segmentation_metrics
from kcnn.training.optimizers import make_optimizer
from kcnn.training.run_dir import RunFiles, prepare_run_dir, read_history, write_history
from kcnn.training.schedules import make_schedule
from kcnn.training.tasks import Segmentation
from kcnn.training.trainer import model_kwargs
from kcnn.viz import panel_grid, plot_confusion_matrix, plot_learning_curves, plot_segmentation_panels
from kcnn.viz.summary import write_model_images

__all__ = ["run_training", "build_model", "averaged_weights"]

log = logging.getLogger("kcnn.training")


def split_datasets(config: ExperimentConfig, p):
    """(train, validation or None, test, training examples) as raw ``(image, label)`` datasets."""
    d = config.data
    kwargs = {"skip_corrupt": d.skip_corrupt} if d.dataset == "folder" else {}
    train = kdata.load(d.dataset, d.train_split, data_dir=d.data_dir, **kwargs)
    test = kdata.load(d.dataset, d.test_split, data_dir=d.data_dir, **kwargs)
    n = int(train.cardinality())
    val = None
    if p.validation == "test":
        val = test
    elif isinstance(p.validation, float):
        if n < 0:
            raise ConfigError(
                "data.validation",
                f"{d.dataset} {d.train_split} has no known size to hold out a "
                "fraction of; use 'test', 'none' or explicit splits",
            )
        n_val = max(1, round(n * p.validation))
        train, val, n = train.take(n - n_val), train.skip(n - n_val), n - n_val
    if 0 <= n < config.train.batch_size:  # sizes tfds did not know before reading
        raise ConfigError("train.batch_size", f"{config.train.batch_size} exceeds the {n} training examples")
    return train, val, test, n


def pad_to_batches(ds: tf.data.Dataset, global_batch: int) -> tf.data.Dataset:
    """``ds`` followed by masked examples (label PAD_LABEL, zero image; a mask of PAD_LABEL, which
    wraps to 255 in uint8 and is out of every class range) up to a whole number of global batches."""
    missing = -_count(ds) % global_batch
    if not missing:
        return ds
    image_spec, label_spec = ds.element_spec
    pad = tf.data.Dataset.from_tensors(
        (tf.zeros(image_spec.shape, image_spec.dtype), tf.cast(tf.fill(label_spec.shape, PAD_LABEL), label_spec.dtype))
    ).repeat(missing)
    return ds.concatenate(pad)


def build_model(config: ExperimentConfig, p, normalizer) -> keras.Model:
    """The registered network behind an ``image`` input and the fitted normalization layer
    (with ``finetune.weights="imagenet"``: the ImageNet backbone and a new ``predictions`` head;
    with auxiliary heads: the training model, whose first output is the inference model's)."""
    image = keras.Input(p.image_shape, name="image")
    name, kwargs = config.model.name, model_kwargs(config, p.task, p.aux_loss_weights)
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


def inference_model(model: keras.Model) -> keras.Model:
    """The model without its auxiliary outputs (itself when it has one output); layers shared."""
    if len(model.outputs) == 1:
        return model
    return keras.Model(model.inputs, model.outputs[0], name=model.name)


@contextlib.contextmanager
def averaged_weights(model: keras.Model, optimizer):
    """Evaluate with the moving average of the weights when the optimizer keeps one.

    The optimizer's public ``finalize_variable_values`` writes the averages into the
    model; the training weights are copied first and put back exactly afterwards.
    """
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


class _Run:
    """One training run: the objects that live from the first epoch to the export."""

    def __init__(self, config: ExperimentConfig, p, files: RunFiles, strategy, verbose: int):
        self.config, self.p, self.files, self.verbose = config, p, files, verbose
        self.strategy = strategy
        self.chief = is_chief(strategy)
        self.train_raw, self.val_raw, self.test_raw, n_train = split_datasets(config, p)
        self.steps_per_epoch = n_train // config.train.batch_size
        normalizer, self.stats = kdata.fit_normalization(config.data.normalization, self.train_raw, p.image_shape[2])
        with strategy.scope():
            self.training_model = build_model(config, p, normalizer)
        self.model = inference_model(self.training_model)
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
            ft.freeze_backbone(self.training_model)
        elif phase == "unfrozen":
            trained = ft.unfreeze(self.training_model, f.unfreeze)
            log.info("fine-tuning %d blocks at learning rate x%g", len(trained), f.lr_factor)
        epochs = {"head": f.head_epochs, "unfrozen": t.epochs - f.head_epochs}.get(phase, t.epochs)
        lr_scale = f.lr_factor if phase == "unfrozen" else 1.0
        with self.strategy.scope():
            learning_rate = make_schedule(
                t.schedule,
                t.learning_rate * lr_scale,
                steps_per_epoch=self.steps_per_epoch,
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
            optimizer.build(self.training_model.trainable_variables)
        self.optimizer = optimizer
        self.loop = TrainLoop(
            self.training_model,
            optimizer,
            make_loss(t.loss, label_smoothing=t.label_smoothing),
            strategy=self.strategy,
            num_classes=self.p.dataset.num_classes,
            global_batch_size=t.batch_size,
            sparse_labels=t.loss == "sparse_cross_entropy",
            jit_compile=t.jit_compile,
            l2=t.l2,
            loss_weights=(1.0, *self.p.aux_loss_weights),
            steps_per_execution=t.steps_per_execution,
            task=self.task(),
        )
        self.checkpointer = Checkpointer(
            os.path.join(self.files.checkpoints, phase), self.training_model, optimizer, self.strategy
        )

    def task(self):
        """The loop's task: None (classification from the loss) or a per-pixel Segmentation."""
        if self.p.task != "segmentation":
            return None
        t = self.config.train
        return Segmentation(
            t.loss, self.p.dataset.num_classes, ignore_label=self.p.ignore_label, class_weights=t.class_weights or None
        )

    def dataset(self, raw, *, training: bool, epoch: int = 0, skip_batches: int = 0):
        d, t = self.config.data, self.config.train
        if not training and self.strategy.num_replicas_in_sync > 1:
            raw = pad_to_batches(raw, t.batch_size)

        def make(batch_size):
            return kdata.make_pipeline(
                raw,
                batch_size=batch_size,
                training=training,
                seed=t.seed,
                epoch=epoch,
                cache=d.cache,
                image_size=self.p.image_shape[:2],
                resize=d.resize,
                channels=self.p.image_shape[2],
                augment=d.augment,
                num_classes=None
                if self.p.task == "segmentation" or t.loss == "sparse_cross_entropy"
                else self.p.dataset.num_classes,
                drop_remainder=training,
                skip_batches=skip_batches,
            )

        return self.loop.distribute(make)

    def evaluate(self, raw):
        with averaged_weights(self.training_model, self.optimizer):
            return self.loop.evaluate(self.dataset(raw, training=False))

    def recompute_batch_norm(self) -> None:
        """BN statistics of the (averaged) weights over the first ``train.recompute_bn`` training
        images, unaugmented (kcnn.training.batchnorm)."""
        t = self.config.train
        images = kdata.make_pipeline(
            self.train_raw.take(t.recompute_bn),
            batch_size=t.batch_size,
            training=False,
            cache=False,
            image_size=self.p.image_shape[:2],
            resize=self.config.data.resize,
            channels=self.p.image_shape[2],
        )
        with averaged_weights(self.training_model, self.optimizer):
            batchnorm.recompute_batch_norm(self.training_model, images)

    def log_epoch(self, history: dict, epoch: int, seconds: float) -> None:
        line = " - ".join(f"{k}: {v[-1]:.4f}" for k, v in history.items() if k not in ("epoch", "time"))
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.config.train.epochs} - {seconds:.0f}s - {line}", flush=True)
        if self.writer is not None:
            with self.writer.as_default(step=epoch + 1):
                for k, v in history.items():
                    if k != "epoch":
                        tf.summary.scalar(k, v[-1])
            self.writer.flush()


def run_training(config: ExperimentConfig, p, files: RunFiles, strategy, *, verbose=None, on_model=None) -> dict:
    """Train, evaluate, save and export (``train``'s work once the plan passed)."""
    t = config.train
    interactive = 1 if verbose is None and sys.stdout.isatty() else 0
    verbose = 2 if verbose is None else verbose
    prepare_run_dir(files, config, p.run_dir, chief=is_chief(strategy))
    run = _Run(config, p, files, strategy, verbose)
    start_epoch, start_step = run.resume()
    if start_epoch or start_step:
        log.info("resuming %s at epoch %d, step %d", files.root, start_epoch + 1, start_step)
    history = read_history(files, start_epoch)
    sign = BEST_METRICS[t.best_metric]
    best = max((sign * v for v in history.get(t.best_metric, [])), default=None)

    began = time.time()
    for epoch in range(start_epoch, t.epochs):
        run.set_phase(epoch)
        tic = time.time()

        def on_step(step, epoch=epoch):
            if t.checkpoint_every and step % t.checkpoint_every == 0 and step < run.steps_per_epoch:
                run.checkpointer.save(epoch, step)

        progress = keras.utils.Progbar(run.steps_per_epoch, verbose=1) if interactive else None
        try:
            result = run.loop.train_epoch(
                run.dataset(run.train_raw, training=True, epoch=epoch, skip_batches=start_step),
                run.steps_per_epoch,
                first_step=start_step,
                on_step=on_step,
                sync_every=t.checkpoint_every,
                progress=progress,
            )
        except NonFiniteLoss as err:
            raise NonFiniteLoss(f"{err}; stopped, the last good checkpoint is kept in {files.checkpoints}") from None
        start_step = 0
        history["epoch"].append(epoch + 1)
        history.setdefault("loss", []).append(result["loss"])
        history.setdefault("accuracy", []).append(result["accuracy"])
        if t.recompute_bn:
            run.recompute_batch_norm()
        if run.val_raw is not None:
            v = run.evaluate(run.val_raw)
            history.setdefault("val_loss", []).append(v["loss"])
            history.setdefault("val_accuracy", []).append(v["accuracy"])
            if p.task == "segmentation":
                miou = segmentation_metrics(v["confusion"], p.dataset.class_names)["mean_iou"]
                history.setdefault("val_mean_iou", []).append(miou)
        lr = float(keras.ops.convert_to_numpy(run.optimizer.learning_rate))
        history.setdefault("learning_rate", []).append(lr)
        history.setdefault("time", []).append(round(time.time() - tic, 3))
        if run.chief:  # history first: a checkpoint never gets ahead of the history a resume truncates
            write_history(files, history)
            run.log_epoch(history, epoch, time.time() - tic)
        run.checkpointer.save(epoch + 1, 0)
        if run.chief and run.val_raw is not None and (best is None or sign * history[t.best_metric][-1] > best):
            best = sign * history[t.best_metric][-1]
            with averaged_weights(run.training_model, run.optimizer), atomic_file(files.best, suffix=".keras") as tmp:
                run.model.save(tmp)
    train_seconds = time.time() - began
    run.optimizer.finalize_variable_values(run.training_model.trainable_variables)
    if on_model is not None:
        on_model(run.model)
    return _finish(run, history, train_seconds)


def first_test_image(run: _Run):
    """The test split's first image as the model takes it (the fixed image of the TensorBoard pictures)."""
    batch = kdata.make_pipeline(
        run.test_raw.take(1),
        batch_size=1,
        cache=False,
        image_size=run.p.image_shape[:2],
        resize=run.config.data.resize,
        channels=run.p.image_shape[2],
    )
    return next(iter(batch))[0][0].numpy()


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
        "test_examples": int(test["confusion"].sum()) if p.task != "segmentation" else _count(run.test_raw),
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
    if p.task == "segmentation":
        metrics = segmentation_metrics(test["confusion"], p.dataset.class_names)
        results.update(
            task="segmentation",
            test_pixel_accuracy=metrics["pixel_accuracy"],
            test_mean_iou=metrics["mean_iou"],
            test_iou=metrics["iou"],
            test_pixels=int(test["confusion"].sum()),
        )
        results["artifacts"]["predictions"] = files.predictions
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
    if p.task == "segmentation":
        _plot_panels(run, f"{title}: test mIoU {results['test_mean_iou']:.3f}")
    with atomic_file(files.model, suffix=".keras") as tmp:
        run.model.save(tmp)
    write_model_images(run.writer, run.model, first_test_image(run), step=config.train.epochs)
    # Written before the export and again after it: an export that fails verification
    # (ExportVerificationError) must not lose the finished run's results.
    atomic_write_json(files.results, results)
    if config.export.formats:
        report = export_version(
            run.model,
            config.export.dir,
            config.model.name,
            config.export.formats,
            class_names=p.dataset.class_names,
            preprocessing=Preprocessing(p.dataset.image_shape, config.data.resize),
            calibration_data=run.train_raw,
            test_data=run.test_raw,
            ignore_label=p.ignore_label,
            metadata={"source": files.root},
        )
        results["artifacts"]["export"] = os.path.join(
            os.path.abspath(config.export.dir), config.model.name, str(report["version"])
        )
        results["exports"] = report["artifacts"]
        atomic_write_json(files.results, results)
    return results


def _count(ds) -> int:
    """The number of examples of ``ds`` (counted by reading it where tf.data does not know)."""
    n = int(ds.cardinality())
    return n if n >= 0 else int(ds.reduce(0, lambda count, _: count + 1))


def _plot_panels(run: _Run, title: str, n: int = 6) -> None:
    """image | truth | prediction for the first ``n`` test images: a PNG and a TensorBoard image."""
    p = run.p
    fit = kdata.fit_images(p.image_shape[:2], run.config.data.resize, p.image_shape[2])
    images, masks = fit(*next(iter(run.test_raw.batch(n))))
    predicted = keras.ops.convert_to_numpy(keras.ops.argmax(run.model(images, training=False), axis=-1))
    shown = images.numpy() if p.image_shape[2] in (1, 3) else images.numpy()[..., :1]
    plot_segmentation_panels(shown, masks.numpy(), predicted, p.dataset.class_names, run.files.predictions, title)
    if run.writer is not None:
        grid = panel_grid(shown, masks.numpy(), predicted, p.dataset.num_classes)
        with run.writer.as_default(step=run.config.train.epochs):
            tf.summary.image("test_predictions (image | truth | prediction)", grid[None], max_outputs=1)
        run.writer.flush()
