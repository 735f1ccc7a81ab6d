"""matplotlib with the Agg backend (no display needed) and atomic PNG writes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kcnn.io import atomic_file  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig, path, dpi: int = 100) -> None:
    """Write ``fig`` to ``path`` as PNG (atomically) and close it."""
    try:
        with atomic_file(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
