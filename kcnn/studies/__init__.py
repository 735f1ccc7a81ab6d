"""The CNN notes' claims as experiments (issue 13): one module per claim, each with
``run(quick=False, output_dir=None, seed=0) -> dict`` that trains on real Fashion-MNIST,
judges the claim by a rule stated in its docstring before the runs, and writes
``<name>.json`` and ``<name>.png``. :mod:`kcnn.studies.catalog` lists them with the notes'
words; :func:`run_study` runs one by name. Plots use matplotlib's Agg backend.
"""

from __future__ import annotations

import importlib

import matplotlib

from kcnn.studies.catalog import STUDIES, Study, study, study_names

matplotlib.use("Agg")

__all__ = ["STUDIES", "Study", "study", "study_names", "run_study", "markdown_row"]


def markdown_row(result: dict) -> str:
    """The study's row of experiments/RESULTS.md: claim, source, measured, command, wall time, verdict."""
    load = result.get("load_average")
    wall = f"{result['wall_seconds'] / 60:.1f} min ({result['cpu_seconds'] / 60:.1f} CPU-min"
    wall += f", load {load[0]:.1f})" if load else ")"
    cells = (
        f"{result['issue_item']}. {result['claim']}",
        f"{result['source']}: \u201c{result['quote']}\u201d",
        f"{result['measured']}: {result['reason']}",
        f"`{result['command']}`",
        wall,
        f"**{result['verdict']}**",
    )
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def run_study(name: str, *, quick: bool = False, output_dir=None, seed: int = 0) -> dict:
    """Run the study ``name`` (see :data:`STUDIES`); an unknown name raises ValueError naming the closest."""
    entry = study(name)
    module = importlib.import_module(f"kcnn.studies.{entry.module}")
    return module.run(quick=quick, output_dir=output_dir, seed=seed)
