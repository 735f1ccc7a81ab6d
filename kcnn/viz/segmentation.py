"""Masks as pictures: class colours, coloured masks, overlays, and panels image | truth | prediction."""

from __future__ import annotations

import numpy as np

from kcnn.viz._plot import plt, save_figure

__all__ = ["class_colors", "colorize", "overlay", "panel_grid", "plot_segmentation_panels"]

IGNORED_COLOR = (255, 255, 255)


def class_colors(num_classes: int) -> np.ndarray:
    """(num_classes, 3) uint8 colours: class 0 (background) black, the others from matplotlib's
    tab10 (up to 10 of them) or tab20."""
    cmap = plt.get_cmap("tab10" if num_classes <= 11 else "tab20")
    colors = [(0, 0, 0)] + [tuple(int(255 * c) for c in cmap(i % cmap.N)[:3]) for i in range(num_classes - 1)]
    return np.asarray(colors, np.uint8)


def colorize(mask: np.ndarray, num_classes: int) -> np.ndarray:
    """An (H, W) mask of class indices as (H, W, 3) uint8 colours; values >= num_classes (ignored) white."""
    mask = np.asarray(mask)
    palette = np.concatenate([class_colors(num_classes), np.asarray([IGNORED_COLOR], np.uint8)])
    return palette[np.minimum(mask.astype(np.int64), num_classes)]


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, np.float64)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return np.clip(image, 0, 255)


def overlay(image: np.ndarray, mask: np.ndarray, num_classes: int, alpha: float = 0.5) -> np.ndarray:
    """The image (H, W, 1 or 3) with the mask's colours blended in where the class is not background."""
    rgb = _rgb(image)
    colored = colorize(mask, num_classes).astype(np.float64)
    blend = np.where((np.asarray(mask) > 0)[..., None], (1 - alpha) * rgb + alpha * colored, rgb)
    return np.round(blend).astype(np.uint8)


def panel_grid(images, truth, predicted, num_classes: int) -> np.ndarray:
    """Rows of image | truth | prediction as one uint8 RGB array (for TensorBoard)."""
    rows = [
        np.concatenate([_rgb(x).astype(np.uint8), colorize(t, num_classes), colorize(p, num_classes)], axis=1)
        for x, t, p in zip(images, truth, predicted)
    ]
    return np.concatenate(rows, axis=0)


def plot_segmentation_panels(images, truth, predicted, class_names, path, title: str = "") -> None:
    """One row per image: the image, the true mask, the predicted mask, with a legend of the classes."""
    n, k = len(images), len(class_names)
    fig, axes = plt.subplots(n, 3, figsize=(7.5, 2.4 * n + 0.8), squeeze=False)
    for row, (x, t, p) in enumerate(zip(images, truth, predicted)):
        accuracy = float(np.mean(np.asarray(t) == np.asarray(p)))
        for ax, picture, name in zip(
            axes[row],
            (_rgb(x).astype(np.uint8), colorize(t, k), colorize(p, k)),
            ("image", "truth", f"prediction ({100 * accuracy:.0f}% pixels)"),
        ):
            ax.imshow(picture, interpolation="nearest")
            ax.set_title(name, fontsize=8)
            ax.axis("off")
    colors = class_colors(k) / 255.0
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[i]) for i in range(k)]
    fig.legend(handles, class_names, loc="lower center", ncol=min(k, 6), fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    save_figure(fig, path)
