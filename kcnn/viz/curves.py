"""Learning curves and confusion matrices as PNG files (matplotlib, Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kcnn.io import atomic_file  # noqa: E402

__all__ = ["plot_learning_curves", "plot_confusion_matrix", "confusion_matrix"]


def plot_learning_curves(history: dict, path, title: str = "") -> None:
    """One panel per metric (loss, accuracy, ...), training and validation curves together."""
    metrics = [k for k in history if not k.startswith("val_") and k not in ("epoch", "learning_rate", "time")]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    epochs = np.arange(1, len(history[metrics[0]]) + 1)
    for ax, m in zip(axes[0], metrics):
        ax.plot(epochs, history[m], marker="o", label=f"train {m}")
        if f"val_{m}" in history:
            ax.plot(epochs, history[f"val_{m}"], marker="o", label=f"validation {m}")
        ax.set_xlabel("epoch")
        ax.set_title(m)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_file(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """Counts[i, j] = examples of true class i predicted as class j."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(labels), np.asarray(predictions)), 1)
    return m


def plot_confusion_matrix(matrix: np.ndarray, class_names, path, title: str = "") -> None:
    """A row-normalised confusion matrix with the counts written in each cell."""
    n = len(class_names)
    rates = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * n, 0.8 + 0.6 * n))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                str(matrix[i, j]),
                ha="center",
                va="center",
                fontsize=6,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    with atomic_file(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
