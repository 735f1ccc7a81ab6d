"""A run directory: what a run writes into ``model_dir``, and when it may reuse or clear one.

kcnn marks every run directory it creates with a ``.kcnn-run`` file. A directory is a kcnn
run when it holds that marker, or holds nothing but the files a run writes (runs made
before the marker existed). :func:`check_run_dir` decides, without writing anything, what a
new run may do with ``model_dir``; :func:`prepare_run_dir` does it once every check passed.
``overwrite`` removes only the files a run writes - never anything else, and never a
directory that is not a kcnn run.
"""

from __future__ import annotations

import json
import os
import re
import shutil

from kcnn.io import atomic_write_json, atomic_write_text, check_writable_dir
from kcnn.training.config import ConfigError, ExperimentConfig

__all__ = ["RunFiles", "check_run_dir", "prepare_run_dir", "finished_results", "read_history", "write_history"]

MARKER = ".kcnn-run"


class RunFiles:
    """Where a run writes, inside ``model_dir``."""

    def __init__(self, root: str):
        self.root = root
        self.marker = os.path.join(root, MARKER)
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
        self.predictions = os.path.join(root, "predictions.png")

    def known_names(self) -> set[str]:
        """The entries a run writes (``export`` is where runs of earlier versions exported)."""
        return {os.path.basename(p) for p in vars(self).values() if p != self.root} | {"export"}

    def written_by_kcnn(self, name: str) -> bool:
        """A known entry, or a temporary sibling one of kcnn's atomic writes left behind
        (``.config.json.x8k.tmp``)."""
        known = self.known_names()
        temporary = (re.fullmatch(rf"\.{re.escape(k)}\.\w+(\.tmp|\.old|\.keras|\.png)", name) for k in known)
        return name in known or any(temporary)


def _is_run(files: RunFiles, entries: list[str]) -> bool:
    return os.path.exists(files.marker) or all(files.written_by_kcnn(n) for n in entries)


def _same_config(files: RunFiles, config: ExperimentConfig) -> bool:
    try:
        with open(files.config, encoding="utf-8") as f:
            return json.load(f) == json.loads(config.to_json())
    except (OSError, ValueError):
        return False


def _has_progress(files: RunFiles) -> bool:
    return any(os.path.exists(p) for p in (files.checkpoints, files.history_json, files.results, files.model))


def check_run_dir(files: RunFiles, config: ExperimentConfig, *, overwrite: bool) -> str:
    """What a new run may do with ``files.root``, checked without writing; ConfigError naming model_dir.

    Returns ``"new"`` (absent or empty: create it), ``"resume"`` (a run of the same config),
    ``"replace"`` (``overwrite`` of a kcnn run: its files go first) or ``"reconfigure"``
    (a run that never got past writing its config: a new config may replace it).
    """
    try:
        check_writable_dir(files.root)
    except ValueError as err:
        raise ConfigError("model_dir", str(err)) from None
    if not os.path.isdir(files.root):
        return "new"
    entries = sorted(os.listdir(files.root))
    if not entries:
        return "new"
    if not _is_run(files, entries):
        foreign = [n for n in entries if not files.written_by_kcnn(n)]
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ConfigError(
            "model_dir",
            f"{files.root} is not a kcnn run directory (it holds {shown}); kcnn-train "
            "writes only into a new or empty directory or one of its own runs, and --overwrite never "
            "deletes what kcnn did not write: choose another --model_dir",
        )
    if overwrite:
        return "replace"
    if not os.path.exists(files.config) or _same_config(files, config):
        return "resume" if os.path.exists(files.config) else "new"
    if not _has_progress(files):
        return "reconfigure"
    raise ConfigError(
        "model_dir",
        f"{files.root} holds a run with a different config; choose another model_dir "
        "or pass --overwrite to start afresh (it removes only the run's own files)",
    )


def prepare_run_dir(files: RunFiles, config: ExperimentConfig, action: str, *, chief: bool) -> None:
    """Carry out :func:`check_run_dir`'s ``action``. Only the chief writes."""
    if not chief:
        return
    if action == "replace":
        for name in os.listdir(files.root):
            if files.written_by_kcnn(name):
                path = os.path.join(files.root, name)
                shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
    os.makedirs(files.root, exist_ok=True)
    if not os.path.exists(files.marker):
        atomic_write_json(files.marker, {"kcnn": "run directory", "model": config.model.name})
    if action != "resume":
        atomic_write_text(files.config, config.to_json())


def finished_results(files: RunFiles, config: ExperimentConfig) -> dict | None:
    """The results of a finished run of the same config in this directory, if there is one."""
    if os.path.exists(files.results) and os.path.exists(files.config) and _same_config(files, config):
        with open(files.results, encoding="utf-8") as f:
            return json.load(f)
    return None


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
