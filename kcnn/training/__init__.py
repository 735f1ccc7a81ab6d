"""Training: the experiment config, its checks, and the trainer.

``kcnn.training.train(config)`` runs a whole experiment; ``experiments/train.py`` is the
command line over it.
"""

from kcnn.training.config import ConfigError, DataConfig, ExperimentConfig, ExportConfig, ModelConfig, TrainConfig
from kcnn.training.trainer import Plan, plan, train

__all__ = [
    "ConfigError",
    "DataConfig",
    "ExperimentConfig",
    "ExportConfig",
    "ModelConfig",
    "Plan",
    "TrainConfig",
    "plan",
    "train",
]
