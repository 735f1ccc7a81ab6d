"""Named experiment presets: the JSON files in kcnn/training/configs (package data), one per recipe.

``experiments/configs`` in the repository is the same directory. Imports neither TensorFlow
nor Keras (the command line lists the presets in ``--help``).
"""

from __future__ import annotations

import difflib
import json
import os

from kcnn.training.config import ConfigError, ExperimentConfig

__all__ = ["CONFIG_DIR", "list_presets", "load_preset"]

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


def list_presets() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(CONFIG_DIR) if f.endswith(".json"))


def load_preset(name_or_path: str) -> ExperimentConfig:
    """A preset by name (kcnn/training/configs/<name>.json) or a path to a config JSON file."""
    is_path = name_or_path.endswith(".json") or os.sep in name_or_path
    path = name_or_path if is_path else os.path.join(CONFIG_DIR, f"{name_or_path}.json")
    presets = ", ".join(list_presets())
    if is_path and not os.path.isfile(path):
        what = "is a directory" if os.path.isdir(path) else "does not exist"
        raise ConfigError("config", f"{name_or_path} {what}; give a config JSON file or a preset: {presets}")
    if not is_path and not os.path.isfile(path):
        close = difflib.get_close_matches(name_or_path, list_presets(), n=3, cutoff=0.5)
        hint = f"closest: {', '.join(close)}; " if close else ""
        raise ConfigError("config", f"no preset {name_or_path!r}; {hint}presets: {presets} (or a config JSON path)")
    try:
        with open(path, encoding="utf-8") as f:
            return ExperimentConfig.from_dict(json.load(f))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError("config", f"{path}: cannot read it ({err})") from None
    except json.JSONDecodeError as err:
        raise ConfigError("config", f"{path} is not valid JSON: {err}") from None
