"""Short real training runs on Fashion-MNIST shared by the export and runner tests.

Each run is trained once per test session into the session's temporary directory; a
second request of the same run finds it finished there (kcnn-train resumes finished runs
as "already complete"), so tests/export and tests/cli share one training each.
"""

from __future__ import annotations

import pytest

import kcnn
from kcnn.training import ExperimentConfig, train

# name -> config overrides; one epoch each, test accuracy on test[:2000]
RUNS = {
    "lenet5": {
        "model": {"name": "lenet5"},
        "data": {"train_split": "train[:38400]"},  # 600 steps: about 83% in half a minute
        "train": {"learning_rate": 0.002},
    },
    "resnet20": {
        "model": {"name": "resnet20"},
        "data": {"train_split": "train[:16384]"},  # 256 steps: about 84% in 2-3 minutes on 2 cores
        "train": {"learning_rate": 0.002, "schedule": "cosine"},
    },
}
INT8_SIZE_RATIO = {"lenet5": 0.30, "resnet20": 0.35}  # full-integer int8 file over float32 file, the targets


def run_config(name: str, model_dir) -> ExperimentConfig:
    spec = RUNS[name]
    return ExperimentConfig.from_dict(
        {
            "model": spec["model"],
            "data": {
                "dataset": "fashion_mnist",
                "test_split": "test[:2000]",
                "validation": "none",
                "normalization": "standardize",
                **spec["data"],
            },
            "train": {"epochs": 1, "batch_size": 64, "seed": 1, **spec["train"]},
            "model_dir": str(model_dir),
        }
    )


def trained_run(tmp_path_factory, name: str) -> str:
    """The model_dir of ``name``'s short run, trained on first use in this session."""
    if name not in kcnn.list_models():
        pytest.skip(f"{name} is not registered on this branch yet")
    model_dir = tmp_path_factory.getbasetemp() / "export_runs" / name
    results = train(run_config(name, model_dir), verbose=0)
    assert results["test_accuracy"] > 0.80, f"{name} trained to only {results['test_accuracy']:.3f}"
    return str(model_dir)
