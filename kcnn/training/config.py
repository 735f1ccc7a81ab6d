"""The experiment config: dataclasses, JSON round trip, dotted overrides, validation.

The config and the model stay apart: ``model_kwargs(config, info)`` is the one adapter
from config to builder arguments; builders never see a config object. A run saves its
resolved config as ``config.json`` in ``model_dir``.
"""

from __future__ import annotations

import dataclasses
import json
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
]


class ConfigError(ValueError):
    """A user mistake in the config; ``field`` is the dotted path (e.g. ``train.batch_size``)."""

    def __init__(self, field: str, message: str, others: tuple = ()):
        super().__init__(f"{', '.join((field, *others))}: {message}")
        self.field = field
        self.others = tuple(others)
        self.message = message


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
    image_size: list | None = None  # [height, width] the model takes; None: the dataset's
    resize: str = "pad"
    channels: int | None = None  # convert gray <-> RGB
    normalization: str = "mean"
    augment: list = field(default_factory=list)
    cache: bool = True


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
    lr_boundaries: list = field(default_factory=list)  # epochs where "step" multiplies by lr_decay_factor
    lr_decay_factor: float = 0.1
    warmup_epochs: float = 0.0  # linear warmup before "cosine"
    loss: str = "cross_entropy"  # cross_entropy | sparse_cross_entropy | mse | l1 | huber
    label_smoothing: float = 0.0
    ema: bool = False  # keep an exponential moving average of the weights; evaluate and export it
    ema_momentum: float = 0.999
    precision: str = "float32"  # float32 | mixed_float16 | mixed_bfloat16 | auto
    jit_compile: bool = False  # XLA
    strategy: str = "default"  # default | mirrored | multi_worker | tpu
    cluster_resolver: str = "tf_config"  # multi_worker: tf_config | slurm
    deterministic: bool = False  # seeds plus TensorFlow op determinism
    checkpoint_every: int = 0  # also checkpoint every N steps inside an epoch (0: at epoch ends only)
    best_metric: str = "val_accuracy"  # kept as best.keras: val_accuracy (max) or val_loss (min)
    seed: int = 42


@dataclass
class FinetuneConfig:
    weights: str | None = None  # a .weights.h5 file of the same network, or "imagenet"
    head_epochs: int = 0  # epochs training only the new head, the backbone frozen
    unfreeze: str = "all"  # then unfreeze "all" or the top K blocks ("3")
    lr_factor: float = 0.1  # learning rate of the unfrozen phase, relative to train.learning_rate


@dataclass
class ExportConfig:
    formats: list = field(default_factory=list)  # e.g. ["savedmodel", "tflite"]
    overwrite: bool = False


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
            return bool(value)
        if origin is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if origin is float:
            return float(value)
        if origin is str:
            return str(value)
        if origin is list:
            if isinstance(value, str):
                value = json.loads(value) if value.startswith("[") else [v for v in value.split(",") if v]
            return list(value)
        if origin is dict:
            return dict(json.loads(value) if isinstance(value, str) else value)
    except (TypeError, ValueError, json.JSONDecodeError):
        raise ConfigError(where, f"cannot read {value!r} as {getattr(origin, '__name__', origin)}") from None
    return value
