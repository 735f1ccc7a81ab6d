"""Training: the experiment config, its checks, and the trainer.

``kcnn.training.train(config)`` runs a whole experiment; ``kcnn-train`` (kcnn.cli.train) is
the command line over it. The config (kcnn.training.config) imports neither TensorFlow nor
Keras; the trainer is imported on first use of ``plan`` / ``train`` / ``Plan``.
"""

from kcnn.training.config import (
    ConfigError,
    DataConfig,
    ExperimentConfig,
    ExportConfig,
    FinetuneConfig,
    ModelConfig,
    TrainConfig,
)

__all__ = [
    "ConfigError",
    "DataConfig",
    "ExperimentConfig",
    "ExportConfig",
    "FinetuneConfig",
    "ModelConfig",
    "Plan",
    "TrainConfig",
    "plan",
    "train",
]

_TRAINER = ("Plan", "plan", "train")


def __getattr__(name):
    if name in _TRAINER:
        from kcnn.training import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'kcnn.training' has no attribute {name!r}")
