"""Named experiment presets: JSON files in experiments/configs, one per recipe."""

from __future__ import annotations

import json
import os

from kcnn.training import ConfigError, ExperimentConfig

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


def list_presets() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(CONFIG_DIR) if f.endswith(".json"))


def load_preset(name_or_path: str) -> ExperimentConfig:
    """A preset by name (experiments/configs/<name>.json) or a path to a config JSON file."""
    path = name_or_path if name_or_path.endswith(".json") else os.path.join(CONFIG_DIR, f"{name_or_path}.json")
    if not os.path.isfile(path):
        raise ConfigError("config", f"no preset {name_or_path!r}; presets: {', '.join(list_presets())}")
    try:
        with open(path, encoding="utf-8") as f:
            return ExperimentConfig.from_dict(json.load(f))
    except json.JSONDecodeError as err:
        raise ConfigError("config", f"{path} is not valid JSON: {err}") from None
