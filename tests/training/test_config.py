"""The config's own checks: types, ranges, finite numbers, choices, contradictions (no TensorFlow needed)."""

import math

import pytest

from kcnn.training.config import ConfigError, ExperimentConfig, blame


def config(**sections) -> ExperimentConfig:
    return ExperimentConfig.from_dict(sections)


@pytest.mark.parametrize(
    "sections, field, words",
    [
        ({"train": {"epochs": 0}}, "train.epochs", "positive integer"),
        ({"train": {"batch_size": -8}}, "train.batch_size", "positive integer"),
        ({"train": {"steps_per_execution": 0}}, "train.steps_per_execution", "positive integer"),
        ({"train": {"seed": -1}}, "train.seed", "non-negative integer"),
        ({"train": {"learning_rate": 0}}, "train.learning_rate", "positive number"),
        ({"train": {"learning_rate": math.nan}}, "train.learning_rate", "finite number"),
        ({"train": {"learning_rate": math.inf}}, "train.learning_rate", "finite number"),
        ({"train": {"momentum": 1.5}}, "train.momentum", "in [0, 1)"),
        ({"train": {"weight_decay": -1e-4}}, "train.weight_decay", "must not be negative"),
        ({"train": {"optimizer": "adagrad"}}, "train.optimizer", "must be one of sgd, adam, adamw, rmsprop"),
        ({"train": {"label_smoothing": 0.1, "loss": "mse"}}, "train.label_smoothing", "cross_entropy"),
        ({"train": {"schedule": "linear"}}, "train.schedule", "must be one of constant"),
        ({"train": {"schedule": "step"}}, "train.lr_boundaries", "needs boundary epochs"),
        ({"train": {"schedule": "step", "epochs": 5, "lr_boundaries": [6]}}, "train.lr_boundaries", "beyond"),
        ({"train": {"schedule": "cosine", "epochs": 5, "warmup_epochs": 5}}, "train.warmup_epochs", "does not fit"),
        ({"data": {"image_size": [32]}}, "data.image_size", "two positive integers"),
        ({"data": {"image_size": ["a", "b"]}}, "data.image_size", "cannot read 'a' as int"),
        ({"data": {"channels": 2}}, "data.channels", "must be 1 or 3"),
        ({"data": {"validation": "2"}}, "data.validation", "fraction in (0, 1)"),
        ({"finetune": {"head_epochs": 2}}, "finetune.head_epochs", "needs finetune.weights"),
        ({"finetune": {"weights": "x.weights.h5", "unfreeze": "top"}}, "finetune.unfreeze", "'all' or a positive"),
        ({"model": {"kwargs": [1]}}, "model.kwargs", "cannot read"),
        ({"train": {"epochs": True}}, "train.epochs", "cannot read True as int"),
    ],
)
def test_validate_names_the_field(sections, field, words):
    with pytest.raises(ConfigError) as err:
        config(**sections).validate()
    assert err.value.field == field and words in err.value.message, err.value


def test_boundaries_matter_only_to_the_step_schedule():
    cfg = config(train={"epochs": 1, "lr_boundaries": [82, 123], "schedule": "constant"})
    assert cfg.validate() is cfg


def test_a_boundary_beyond_the_run_says_how_to_set_one_inside_it():
    with pytest.raises(ConfigError) as err:
        config(train={"epochs": 4, "schedule": "step", "lr_boundaries": [82, 123]}).validate()
    assert "--set=train.lr_boundaries=[" in err.value.message


def test_strings_from_flags_are_coerced_once():
    cfg = ExperimentConfig()
    cfg.override("data.image_size", "32,32")
    cfg.override("train.lr_boundaries", "[1, 2.5]")
    assert cfg.data.image_size == [32, 32] and cfg.train.lr_boundaries == [1.0, 2.5]


def test_blame_names_the_field_of_a_library_error():
    with pytest.raises(ConfigError) as err, blame("data.augment"):
        raise ValueError("unknown augmentation 'flop'")
    assert str(err.value) == "data.augment: unknown augmentation 'flop'"


def test_the_config_module_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, kcnn.training.config; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
