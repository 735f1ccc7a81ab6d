"""The experiment config: dataclasses, JSON round trip, dotted overrides and its own checks.

The config and the model stay apart: builders never see a config object; the trainer
passes ``config.model.kwargs`` to the registered builder as keyword arguments (an unknown
keyword is the builder's TypeError, reported against ``model.kwargs``). A run saves its
resolved config as ``config.json`` in ``model_dir``.

:meth:`ExperimentConfig.validate` checks every value the config can check by itself
(types, ranges, finite numbers, choices, contradictions between fields); the trainer's
``plan`` then checks it against the registry, the machine and the data. This module
imports neither TensorFlow nor Keras, so the command lines can show ``--help`` at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field

__all__ = [
    "ConfigError",
    "ModelConfig",
    "DataConfig",
    "TrainConfig",
    "FinetuneConfig",
    "ExportConfig",
    "ExperimentConfig",
    "blame",
    "OPTIMIZERS",
    "LOSSES",
    "SEGMENTATION_LOSSES",
    "SOFT_TARGET_LOSSES",
    "PRECISIONS",
    "SCHEDULES",
    "STRATEGIES",
    "RESOLVERS",
    "BEST_METRICS",
]

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
LOSSES = ("cross_entropy", "sparse_cross_entropy", "mse", "l1", "huber")  # classification
SEGMENTATION_LOSSES = ("cross_entropy", "focal", "dice")  # per pixel (kcnn.training.tasks)
SOFT_TARGET_LOSSES = ("cross_entropy", "mse", "l1", "huber")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "auto")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
RESOLVERS = ("tf_config", "slurm")
BEST_METRICS = {"val_accuracy": 1.0, "val_loss": -1.0, "val_mean_iou": 1.0}  # +1: higher is better


class ConfigError(ValueError):
    """A user mistake in the config; ``field`` is the dotted path (e.g. ``train.batch_size``)."""

    def __init__(self, field: str, message: str, others: tuple = ()):
        super().__init__(f"{', '.join((field, *others))}: {message}")
        self.field = field
        self.others = tuple(others)
        self.message = message


@contextlib.contextmanager
def blame(field: str, *others: str):
    """Turn a ValueError or TypeError raised in the block into a ConfigError naming ``field``."""
    try:
        yield
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(field, str(err), others) from None


@dataclass
class ModelConfig:
    name: str = "lenet5"
    kwargs: dict = field(default_factory=dict)  # extra builder arguments, e.g. {"groups": 2}


@dataclass
class DataConfig:
    dataset: str = "fashion_mnist"
    data_dir: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    validation: str = "0.1"  # a fraction of train held out (its tail), "test", or "none"
    image_size: list[int] | None = None  # [height, width] the model takes; None: the dataset's
    resize: str = "pad"
    channels: int | None = None  # convert gray <-> RGB
    normalization: str = "mean"
    augment: list[str] = field(default_factory=list)
    cache: bool = True
    skip_corrupt: bool = False  # folder datasets: skip (and count) unreadable images instead of stopping


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128  # global batch, split across replicas
    optimizer: str = "adam"  # sgd | adam | adamw | rmsprop
    learning_rate: float = 1e-3
    momentum: float = 0.9  # sgd and rmsprop
    nesterov: bool = False
    weight_decay: float = 0.0  # decoupled, as Keras optimizers apply it; biases and norms excluded
    l2: float = 0.0  # coupled L2 penalty, gradient += l2 * w, what the Caffe/Torch-era papers call weight decay
    clipnorm: float | None = None  # clip gradients by their global norm
    schedule: str = "constant"  # constant | step | cosine | onecycle
    lr_boundaries: list[float] = field(default_factory=list)  # epochs where "step" multiplies by lr_decay_factor
    lr_decay_factor: float = 0.1
    warmup_epochs: float = 0.0  # linear warmup before "cosine"
    loss: str = "cross_entropy"  # classification: cross_entropy | sparse_cross_entropy | mse | l1 | huber;
    # segmentation (the model's "segmentation" tag): cross_entropy | focal | dice, per pixel
    class_weights: list[float] = field(default_factory=list)  # segmentation: one weight per class (cross-entropy)
    ignore_label: int | None = None  # segmentation: mask value that counts nowhere; None: the dataset's (255 or none)
    label_smoothing: float = 0.0
    ema: bool = False  # keep an exponential moving average of the weights; evaluate and export it
    ema_momentum: float = 0.999
    recompute_bn: int = 0  # after each epoch, BN statistics recomputed in inference mode over this many
    # training images (kcnn.training.batchnorm; 0: off), for BN models whose inference lags their training
    precision: str = "float32"  # float32 | mixed_float16 | mixed_bfloat16 | auto
    jit_compile: bool = False  # XLA
    strategy: str = "default"  # default | mirrored | multi_worker | tpu
    cluster_resolver: str = "tf_config"  # multi_worker: tf_config | slurm
    deterministic: bool = False  # seeds plus TensorFlow op determinism
    checkpoint_every: int = 0  # also checkpoint every N steps inside an epoch (0: at epoch ends only)
    steps_per_execution: int = 20  # training steps per call into the graph; metrics read once per call
    aux_loss: bool = True  # train a model's auxiliary classifiers (GoogLeNet) with their loss weights
    best_metric: str = "val_accuracy"  # kept as best.keras: val_accuracy, val_mean_iou (max) or val_loss (min)
    seed: int = 42


@dataclass
class FinetuneConfig:
    weights: str | None = None  # a .weights.h5 file of the same network, or "imagenet"
    head_epochs: int = 0  # epochs training only the new head, the backbone frozen
    unfreeze: str = "all"  # then unfreeze "all" or the top K blocks ("3")
    lr_factor: float = 0.1  # learning rate of the unfrozen phase, relative to train.learning_rate


@dataclass
class ExportConfig:
    formats: list[str] = field(default_factory=list)  # e.g. ["savedmodel", "tflite"]
    dir: str = "saved_models"  # exports go to <dir>/<model name>/<next version>/


@dataclass
class ExperimentConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    model_dir: str = "runs/default"
    description: str = ""  # what the preset reproduces and how
    reference: str = ""  # the paper's (or benchmark's) result beside it

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentConfig:
        return _from_dict(cls, d, "")

    def override(self, dotted: str, value) -> None:
        """Set ``section.field`` (or a top-level field) to ``value``, coerced to the field's type."""
        *path, name = dotted.split(".")
        target = self
        for part in path:
            if not dataclasses.is_dataclass(target) or part not in _fields(type(target)):
                raise ConfigError(dotted, "no such config field")
            target = getattr(target, part)
        if not dataclasses.is_dataclass(target) or name not in _fields(type(target)):
            raise ConfigError(dotted, "no such config field")
        setattr(target, name, coerce(_fields(type(target))[name], value, dotted))

    def validate(self) -> ExperimentConfig:
        """Check every value the config can check by itself; ConfigError naming the field.

        Types, ranges, finite numbers, choices and contradictions between fields; what
        needs the registry, the data or the machine is checked by the trainer's ``plan``.
        """
        _validate_types(self, "")
        t, d, f = self.train, self.data, self.finetune
        for name in ("epochs", "batch_size", "steps_per_execution"):
            _at_least(getattr(t, name), 1, f"train.{name}")
        for where, value in (
            ("train.seed", t.seed),
            ("train.checkpoint_every", t.checkpoint_every),
            ("finetune.head_epochs", f.head_epochs),
        ):
            _at_least(value, 0, where)
        _positive(t.learning_rate, "train.learning_rate")
        _positive(t.lr_decay_factor, "train.lr_decay_factor")
        if t.clipnorm is not None:
            _positive(t.clipnorm, "train.clipnorm")
        for name in ("weight_decay", "l2", "warmup_epochs"):
            if getattr(t, name) < 0:
                raise ConfigError(f"train.{name}", f"must not be negative; got {getattr(t, name)}")
        for name in ("momentum", "label_smoothing"):
            if not 0 <= getattr(t, name) < 1:
                raise ConfigError(f"train.{name}", f"must be in [0, 1); got {getattr(t, name)}")
        if t.recompute_bn < 0:
            raise ConfigError("train.recompute_bn", f"must be a number of images, 0 or more; got {t.recompute_bn}")
        if not 0 < t.ema_momentum < 1:
            raise ConfigError("train.ema_momentum", f"must be in (0, 1); got {t.ema_momentum}")
        for name, allowed in (
            ("optimizer", OPTIMIZERS),
            ("loss", tuple(dict.fromkeys(LOSSES + SEGMENTATION_LOSSES))),
            ("precision", PRECISIONS),
            ("schedule", SCHEDULES),
            ("strategy", STRATEGIES),
            ("cluster_resolver", RESOLVERS),
            ("best_metric", tuple(BEST_METRICS)),
        ):
            _one_of(getattr(t, name), allowed, f"train.{name}")
        for w in t.class_weights:
            if not w >= 0:
                raise ConfigError("train.class_weights", f"weights must be non-negative numbers; got {w!r}")
        if t.class_weights and not any(t.class_weights):
            raise ConfigError("train.class_weights", "at least one weight must be positive")
        if t.ignore_label is not None and not 0 <= t.ignore_label <= 255:
            raise ConfigError("train.ignore_label", f"must be a mask value in [0, 255]; got {t.ignore_label}")
        if t.label_smoothing and t.loss != "cross_entropy":
            raise ConfigError("train.label_smoothing", f"needs train.loss=cross_entropy, not {t.loss!r}")
        _check_schedule(t)
        if d.image_size is not None and (
            len(d.image_size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in d.image_size)
        ):
            raise ConfigError("data.image_size", f"must be two positive integers (height, width); got {d.image_size!r}")
        if d.channels is not None and d.channels not in (1, 3):
            raise ConfigError("data.channels", f"must be 1 or 3; got {d.channels!r}")
        self.validation_split()
        if f.weights is None and f.head_epochs:
            raise ConfigError("finetune.head_epochs", "fine-tuning needs finetune.weights")
        if f.weights is not None:
            if f.unfreeze != "all" and not (f.unfreeze.isdigit() and int(f.unfreeze) > 0):
                raise ConfigError(
                    "finetune.unfreeze", f"must be 'all' or a positive number of top blocks; got {f.unfreeze!r}"
                )
            if not f.head_epochs < t.epochs:
                raise ConfigError(
                    "finetune.head_epochs", f"must be in [0, train.epochs={t.epochs}); got {f.head_epochs}"
                )
        if not self.model_dir:
            raise ConfigError("model_dir", "must name a directory")
        if not self.export.dir:
            raise ConfigError("export.dir", "must name a directory")
        return self

    def validation_split(self) -> str | float:
        """``data.validation`` read: "none", "test" or the held-out fraction of the train split."""
        value = self.data.validation
        if value in ("none", "test"):
            return value
        try:
            fraction = float(value)
        except ValueError:
            fraction = math.nan
        if not 0 < fraction < 1:
            raise ConfigError("data.validation", f"must be 'none', 'test' or a fraction in (0, 1); got {value!r}")
        return fraction


def _validate_types(obj, prefix: str) -> None:
    """Every field holds a value of its declared type (configs built in Python skip ``coerce``)."""
    for name, t in _fields(type(obj)).items():
        value = getattr(obj, name)
        if dataclasses.is_dataclass(t):
            _validate_types(value, f"{prefix}{name}.")
            continue
        setattr(obj, name, coerce(t, value, prefix + name))


def _at_least(value: int, minimum: int, where: str) -> None:
    if value < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ConfigError(where, f"must be a {kind} integer; got {value!r}")


def _positive(value: float, where: str) -> None:
    if not value > 0:  # also refuses NaN
        raise ConfigError(where, f"must be a positive number; got {value!r}")


def _one_of(value, allowed, where: str) -> None:
    if value not in allowed:
        raise ConfigError(where, f"must be one of {', '.join(map(str, allowed))}; got {value!r}")


def _check_schedule(t: TrainConfig) -> None:
    """Boundaries matter to the step schedule only; warmup to step and cosine."""
    if t.schedule == "step":
        if not t.lr_boundaries:
            raise ConfigError("train.lr_boundaries", "the step schedule needs boundary epochs")
        for b in t.lr_boundaries:
            if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b):
                raise ConfigError("train.lr_boundaries", f"boundaries are epochs (numbers); got {b!r}")
        beyond = [b for b in t.lr_boundaries if not t.warmup_epochs < b < t.epochs]
        if beyond:
            scaled = [round(b * t.epochs / max(t.lr_boundaries) * 0.75, 2) for b in t.lr_boundaries]
            raise ConfigError(
                "train.lr_boundaries",
                f"boundary at epoch {beyond[0]:g} is beyond the run's {t.epochs} "
                f"epochs (after a warmup of {t.warmup_epochs:g}); give boundaries inside the run, e.g. "
                f"--set=train.lr_boundaries={json.dumps(scaled)}",
            )
    if t.schedule in ("step", "cosine") and not t.warmup_epochs < t.epochs:
        raise ConfigError(
            "train.warmup_epochs", f"a warmup of {t.warmup_epochs:g} epochs does not fit the run's {t.epochs} epochs"
        )


def _fields(cls) -> dict:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _from_dict(cls, d: dict, prefix: str):
    if not isinstance(d, dict):
        raise ConfigError(prefix.rstrip(".") or "config", f"expected an object, got {type(d).__name__}")
    fields = _fields(cls)
    unknown = [k for k in d if k not in fields]
    if unknown:
        raise ConfigError(prefix + unknown[0], f"no such config field (known: {', '.join(fields)})")
    kwargs = {}
    for k, v in d.items():
        t = fields[k]
        kwargs[k] = _from_dict(t, v, f"{prefix}{k}.") if dataclasses.is_dataclass(t) else coerce(t, v, prefix + k)
    return cls(**kwargs)


def coerce(t, value, where: str):
    """Convert ``value`` (often a flag string) to type ``t``; a bad value raises ConfigError naming ``where``."""
    args = typing.get_args(t)
    if type(None) in args:
        if value is None or (isinstance(value, str) and value.lower() in ("", "none", "null")):
            return None
        t = next(a for a in args if a is not type(None))
    origin = typing.get_origin(t) or t
    try:
        if origin is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            if value not in (True, False):  # 0 and 1 compare equal to False and True
                raise ValueError(value)
            return bool(value)
        if origin is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if origin is float:
            if isinstance(value, bool) or not math.isfinite(float(value)):
                raise ConfigError(where, f"must be a finite number; got {value!r}")
            return float(value)
        if origin is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError(value)
            return str(value)
        if origin is list:
            if isinstance(value, str):
                value = json.loads(value) if value.startswith("[") else [v for v in value.split(",") if v]
            if not isinstance(value, (list, tuple)):
                raise ValueError(value)
            (item,) = typing.get_args(t) or (None,)
            return [coerce(item, v, where) for v in value] if item is not None else list(value)
        if origin is dict:
            value = json.loads(value) if isinstance(value, str) else value
            if not isinstance(value, dict):
                raise ValueError(value)
            return dict(value)
    except ConfigError:
        raise
    except (TypeError, ValueError, json.JSONDecodeError):
        raise ConfigError(where, f"cannot read {value!r} as {getattr(origin, '__name__', origin)}") from None
    return value
