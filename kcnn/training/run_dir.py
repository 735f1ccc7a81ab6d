"""A run directory: what a run writes into ``model_dir``, and when it may reuse one."""

from __future__ import annotations

import json
import os
import shutil

from kcnn.io import atomic_write_json, atomic_write_text
from kcnn.training.config import ConfigError, ExperimentConfig

__all__ = ["RunFiles", "prepare_run_dir", "finished_results", "write_history"]


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
        self.best = os.path.join(root, "best.keras")
        self.results = os.path.join(root, "results.json")
        self.checkpoints = os.path.join(root, "checkpoints")
        self.tensorboard = os.path.join(root, "tensorboard")
        self.export = os.path.join(root, "export")


def _same_config(files: RunFiles, config: ExperimentConfig) -> bool:
    with open(files.config, encoding="utf-8") as f:
        return json.load(f) == json.loads(config.to_json())


def finished_results(files: RunFiles, config: ExperimentConfig) -> dict | None:
    """The results of a finished run of the same config in this directory, if there is one."""
    if os.path.exists(files.results) and os.path.exists(files.config) and _same_config(files, config):
        with open(files.results, encoding="utf-8") as f:
            return json.load(f)
    return None


def prepare_run_dir(files: RunFiles, config: ExperimentConfig, *, overwrite: bool, chief: bool) -> None:
    """Start a run directory, or accept one holding an unfinished run of the same config.

    A directory holding a different config, or something that is not a kcnn run, is
    refused unless ``overwrite``, which deletes it first. Only the chief writes.
    """
    if overwrite and os.path.exists(files.root) and chief:
        shutil.rmtree(files.root)
    if os.path.exists(files.config):
        if not _same_config(files, config):
            raise ConfigError(
                "model_dir",
                f"{files.root} holds a run with a different config; choose another "
                "model_dir or pass overwrite to start afresh",
            )
        return
    if os.path.isdir(files.root) and [n for n in os.listdir(files.root) if not n.startswith(".")] and chief:
        raise ConfigError("model_dir", f"{files.root} exists and is not a kcnn run directory")
    if chief:
        os.makedirs(files.root, exist_ok=True)
        atomic_write_text(files.config, config.to_json())


def read_history(files: RunFiles, epochs_done: int) -> dict:
    """The history of the first ``epochs_done`` epochs (a resumed run drops what came after its checkpoint)."""
    if not os.path.exists(files.history_json):
        return {"epoch": []}
    with open(files.history_json, encoding="utf-8") as f:
        history = json.load(f)
    return {k: v[:epochs_done] for k, v in history.items()}


def write_history(files: RunFiles, history: dict) -> None:
    atomic_write_json(files.history_json, history)
    keys = list(history)
    rows = [",".join(keys)] + [",".join(repr(history[k][i]) for k in keys) for i in range(len(history["epoch"]))]
    atomic_write_text(files.history_csv, "\n".join(rows) + "\n")
