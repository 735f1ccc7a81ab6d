"""``train(config)``: check everything, then train, evaluate, plot, save and export.

All checks run in :func:`plan` before any data is read or any file written: the config's
own (``ExperimentConfig.validate``), then the registry, the machine, the dataset (names,
splits, sizes, every image of a folder dataset), the model (it is built once to see that
it takes the images), the fine-tuning weights, the export formats' dependencies, and the
directories (writable; ``model_dir`` new, empty, or a kcnn run). Training runs kcnn's
``strategy.run`` loop (kcnn.training.run) one epoch at a time over a pipeline that is a
pure function of (seed, epoch, batch index), checkpointing atomically, so rerunning the
same command after a crash resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os

import keras

from kcnn import data as kdata
from kcnn.export import check_export_directory, check_export_formats
from kcnn.registry import create_model, model_info
from kcnn.training import finetune as ft
from kcnn.training.config import (
    LOSSES,
    SEGMENTATION_LOSSES,
    SOFT_TARGET_LOSSES,
    ConfigError,
    ExperimentConfig,
    blame,
)
from kcnn.training.distribute import check_strategy, make_strategy
from kcnn.training.precision import precision_warning, resolve_precision
from kcnn.training.run_dir import RunFiles, check_run_dir, finished_results

__all__ = ["Plan", "plan", "train"]

log = logging.getLogger("kcnn.training")


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the checks established."""

    dataset: kdata.DatasetInfo
    image_shape: tuple
    validation: str | float  # "none", "test" or the held-out fraction of the train split
    soft_labels: bool  # the augmentation mixes labels (mixup, cutmix)
    train_examples: int | None  # after the validation hold-out; None where unknown before reading
    aux_loss_weights: tuple  # loss weights of the auxiliary heads trained beside the main output
    run_dir: str  # what to do with model_dir: "new", "resume", "replace" or "reconfigure"
    task: str = "classification"  # or "segmentation": the model's registry tag
    ignore_label: int | None = None  # segmentation: train.ignore_label, else the dataset's


def _one_of(value, allowed, field: str):
    if value not in allowed:
        raise ConfigError(field, f"must be one of {', '.join(map(str, allowed))}; got {value!r}")


def _describe(config: ExperimentConfig) -> kdata.DatasetInfo:
    """Both splits described (names, sizes, every folder image checked); errors name their field."""
    d = config.data
    kwargs = {"skip_corrupt": d.skip_corrupt} if d.dataset == "folder" else {}
    split_field = "data.train_split"
    try:
        info = kdata.describe(d.dataset, d.train_split, data_dir=d.data_dir, **kwargs)
        split_field = "data.test_split"
        kdata.describe(d.dataset, d.test_split, data_dir=d.data_dir, **kwargs)
    except kdata.DataArgumentError as err:
        field = {"data_dir": "data.data_dir", "split": split_field}.get(err.argument, "data.dataset")
        raise ConfigError(field, str(err)) from None
    except ValueError as err:  # a corrupt IDX file and the like
        raise ConfigError("data.dataset", str(err)) from None
    if info.num_classes < 2:
        raise ConfigError("data.dataset", f"{d.dataset} has {info.num_classes} class; classification needs two or more")
    return info


SEGMENTATION_DATASETS = "fashion_scenes, mask_folder, oxford_iiit_pet"
# torchvision's recipe for its FCN / DeepLabV3 layouts: loss = out + 0.5 * aux
SEGMENTATION_AUX_WEIGHT = 0.5


def _check_task(config: ExperimentConfig, task: str, dataset: kdata.DatasetInfo) -> int | None:
    """The model's task against the dataset's and the task's own settings; the ignore label."""
    from kcnn.registry import list_models

    t, d = config.train, config.data
    if dataset.task != task:
        if task == "segmentation":
            message = (
                f"{config.model.name} is a segmentation model (a class per pixel) but {d.dataset} gives a "
                f"label per image; use a segmentation dataset ({SEGMENTATION_DATASETS})"
            )
        else:
            models = ", ".join(list_models(tag="segmentation")[:6])
            message = (
                f"{config.model.name} is a classification model but {d.dataset} gives a mask per image; "
                f"use a segmentation model ({models}, ...)"
            )
        raise ConfigError("model.name", message, others=("data.dataset",))
    segmentation = task == "segmentation"
    losses = SEGMENTATION_LOSSES if segmentation else LOSSES
    if t.loss not in losses:
        raise ConfigError("train.loss", f"a {task} model trains with {', '.join(losses)}; got {t.loss!r}")
    if not segmentation:
        for name in ("class_weights", "ignore_label"):
            if getattr(t, name) not in (None, []):
                raise ConfigError(f"train.{name}", "applies to segmentation models only")
        if t.best_metric == "val_mean_iou":
            raise ConfigError("train.best_metric", "val_mean_iou applies to segmentation models only")
        return None
    if t.label_smoothing:
        raise ConfigError("train.label_smoothing", "segmentation losses take no label smoothing")
    if config.finetune.weights == "imagenet":
        raise ConfigError(
            "finetune.weights",
            "'imagenet' replaces a classifier's head; a segmentation model takes its backbone's weights "
            "through model.kwargs (e.g. backbone_weights)",
        )
    with blame("data.augment"):
        kdata.check_mask_augmentations(d.augment)
    if t.class_weights:
        if t.loss == "dice":
            raise ConfigError("train.class_weights", "weight cross_entropy or focal; the dice loss takes no weights")
        if len(t.class_weights) != dataset.num_classes:
            raise ConfigError(
                "train.class_weights",
                f"{len(t.class_weights)} weights for the {dataset.num_classes} classes of {d.dataset}",
            )
    return dataset.ignore_label if t.ignore_label is None else t.ignore_label


def _train_examples(config: ExperimentConfig, info: kdata.DatasetInfo, validation, replicas: int) -> int | None:
    t = config.train
    if t.batch_size % replicas:
        raise ConfigError(
            "train.batch_size",
            f"{t.batch_size} does not divide among the {replicas} replicas; give a multiple of {replicas}",
        )
    n = info.num_examples
    if n is None:
        return None
    if isinstance(validation, float):
        n -= max(1, round(n * validation))
    if n < t.batch_size:
        held = " after the validation hold-out" if isinstance(validation, float) else ""
        raise ConfigError(
            "train.batch_size",
            f"{t.batch_size} exceeds the {n} training examples{held} of "
            f"{config.data.dataset} {config.data.train_split}",
        )
    return n


def model_kwargs(config: ExperimentConfig, task: str, aux: tuple) -> dict:
    """The builder's keyword arguments: ``model.kwargs`` and the auxiliary heads' switch."""
    kwargs = dict(config.model.kwargs)
    if task == "segmentation":  # "aux_output" models have aux_head=True by default
        if not aux and "aux_head" not in kwargs and "aux_output" in model_info(config.model.name).tags:
            kwargs["aux_head"] = False
    elif aux:
        kwargs["aux_logits"] = True
    return kwargs


def _check_model(config: ExperimentConfig, info, image_shape: tuple, aux: tuple, task: str) -> None:
    """Build the network once on these images; check fine-tuning weights against it."""
    name, kwargs = config.model.name, model_kwargs(config, task, aux)
    try:
        model = create_model(name, input_shape=image_shape, classes=info.num_classes, **kwargs)
    except TypeError as err:
        raise ConfigError("model.kwargs", f"{name}: {err}") from None
    except ValueError as err:
        if any(str(k) in str(err) for k in config.model.kwargs):
            raise ConfigError("model.kwargs", f"{name}: {err}") from None
        hint = "; --set=train.aux_loss=false trains without the auxiliary heads" if aux and "aux" in str(err) else ""
        raise ConfigError(
            "model.name", f"{name} cannot take {config.data.dataset} images of shape {image_shape}: {err}{hint}"
        ) from None
    weights = config.finetune.weights
    if weights is not None and weights != "imagenet":
        with blame("finetune.weights"):
            ft.check_backbone_weights(model, weights)


def plan(config: ExperimentConfig, *, overwrite: bool = False, replicas: int = 1) -> Plan:
    """Check the config against itself, the registry, the machine, the dataset, the model and
    the directories; ConfigError naming the field. Reads no training data and writes nothing."""
    config.validate()
    t, d, f = config.train, config.data, config.finetune
    check_strategy(t.strategy, t.cluster_resolver)
    with blame("model.name"):
        info = model_info(config.model.name)
    _one_of(d.normalization, kdata.NORMALIZATIONS, "data.normalization")
    _one_of(d.resize, kdata.pipeline.RESIZE_MODES, "data.resize")
    with blame("data.augment"):
        soft = kdata.makes_soft_labels(d.augment)
    if soft and t.loss not in SOFT_TARGET_LOSSES:
        raise ConfigError(
            "train.loss",
            f"{t.loss} cannot take the soft labels data.augment={','.join(d.augment)} "
            f"makes; use one of {', '.join(SOFT_TARGET_LOSSES)}",
            others=("data.augment",),
        )
    if f.weights is not None and f.weights != "imagenet" and not os.path.isfile(f.weights):
        raise ConfigError("finetune.weights", f"{f.weights}: no such file (a .weights.h5 file or 'imagenet')")
    if config.export.formats:
        with blame("export.formats"):
            check_export_formats(config.export.formats)
        with blame("export.dir"):
            check_export_directory(os.path.join(config.export.dir, config.model.name, "new"))
    validation = config.validation_split()
    dataset = _describe(config)
    task = "segmentation" if "segmentation" in info.tags else "classification"
    ignore_label = _check_task(config, task, dataset)
    n_train = _train_examples(config, dataset, validation, replicas)
    height, width = d.image_size or dataset.image_shape[:2]
    image_shape = (int(height), int(width), int(d.channels or dataset.image_shape[2]))
    aux = info.aux_loss_weights if t.aux_loss and f.weights != "imagenet" else ()
    if task == "segmentation" and t.aux_loss and "aux_output" in info.tags:
        aux = (SEGMENTATION_AUX_WEIGHT,)
    _check_model(config, dataset, image_shape, aux, task)
    action = check_run_dir(RunFiles(os.path.abspath(config.model_dir)), config, overwrite=overwrite)
    return Plan(dataset, image_shape, validation, soft, n_train, tuple(aux), action, task, ignore_label)


@contextlib.contextmanager
def _global_state(policy: str, seed: int, deterministic: bool):
    """Set the dtype policy, the global seeds and op determinism for the run; put the policy
    and op determinism back afterwards (the seeded global generators stay seeded)."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    previous_policy = keras.config.dtype_policy()
    was_deterministic = tf_config.is_op_determinism_enabled()
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous_policy)
        if deterministic and not was_deterministic:
            tf_config.disable_op_determinism()


def train(config: ExperimentConfig, *, overwrite: bool = False, verbose=None, on_model=None) -> dict:
    """Train ``config``'s model on its dataset, evaluate on the test split, save and export.

    Returns the results dict also written to ``model_dir/results.json``. Rerunning a run
    that stopped resumes from its last checkpoint; rerunning a finished one returns its
    results. ``overwrite`` first removes the files of an earlier kcnn run in ``model_dir``
    (never anything else). ``on_model(model)`` is called on every worker with the trained
    inference model (averaged weights when ``train.ema``) before the outputs are written.

    Global state: the run sets Keras' dtype policy (``train.precision``) and TensorFlow's op
    determinism (``train.deterministic``) and puts both back when it returns; it seeds the
    global random generators (``keras.utils.set_random_seed(train.seed)``) as Keras does.
    Keras' session is left alone. Progress goes to stdout when ``verbose`` (default: one
    line per epoch, a progress bar on a terminal); other messages go to the ``kcnn`` logger.
    """
    from kcnn.training.run import run_training

    t = config.train
    config.validate()
    # MultiWorkerMirroredStrategy must exist before any TensorFlow op runs (plan builds a model).
    strategy = make_strategy(t.strategy, t.cluster_resolver)
    p = plan(config, overwrite=overwrite, replicas=strategy.num_replicas_in_sync)
    files = RunFiles(os.path.abspath(config.model_dir))
    if not overwrite and (done := finished_results(files, config)) is not None:
        return {**done, "already_complete": True}
    policy = resolve_precision(t.precision, t.strategy)
    if (warning := precision_warning(policy)) is not None:
        log.warning(warning)
    with _global_state(policy, t.seed, t.deterministic):
        return run_training(config, p, files, strategy, verbose=verbose, on_model=on_model)
