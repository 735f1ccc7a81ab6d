"""First-layer filters as an image grid (the view of AlexNet's Figure 3 and ZFNet's Figure 6)."""

from __future__ import annotations

import math

import keras
import numpy as np

from kcnn.analysis.graph import find_layer, layer_paths
from kcnn.viz._plot import plt, save_figure

__all__ = ["first_conv_layer", "filter_images", "plot_filters"]


def first_conv_layer(model) -> str:
    """Path of the first layer (in execution order) with a 2-D convolution kernel (k_h, k_w, C_in, C_out)."""
    for path, layer in layer_paths(model).items():
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) == 4 and isinstance(layer, keras.layers.Layer):
            return path
    raise ValueError(f"model {model.name!r} has no layer with a 2-D convolution kernel")


def filter_images(model, layer: str | None = None) -> tuple:
    """``(path, images)``: one image per filter of ``layer`` (default: the first convolution), shape
    (C_out, k_h, k_w, 3) for RGB inputs and (C_out, k_h, k_w) otherwise (a filter's mean over its
    input channels), each scaled to [0, 1] by its own range."""
    path = first_conv_layer(model) if layer is None else find_layer(model, layer)[0]
    kernel = getattr(layer_paths(model)[path], "kernel", None)
    if kernel is None or len(kernel.shape) != 4:
        raise ValueError(f"layer {path!r} has no 2-D convolution kernel (k_h, k_w, C_in, C_out) to show")
    w = np.moveaxis(keras.ops.convert_to_numpy(kernel).astype(np.float64), -1, 0)  # (C_out, k_h, k_w, C_in)
    if w.shape[-1] != 3:
        w = w.mean(axis=-1)
    axes = tuple(range(1, w.ndim))
    lo, hi = w.min(axis=axes, keepdims=True), w.max(axis=axes, keepdims=True)
    return path, (w - lo) / np.where(hi > lo, hi - lo, 1.0)


def plot_filters(model, path, layer: str | None = None, max_filters: int = 96) -> str:
    """A grid of the first ``max_filters`` filters of ``layer`` (default: the first convolution).
    Returns the layer's path."""
    name, images = filter_images(model, layer)
    images = images[:max_filters]
    cols = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(0.9 * cols + 0.5, 0.9 * rows + 0.6), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image in zip(axes.ravel(), images):
        ax.imshow(image, cmap=None if image.ndim == 3 else "gray", interpolation="nearest")
    k = images.shape[1:3]
    fig.suptitle(f"{model.name} {name}: {len(images)} filters {k[0]}x{k[1]}", fontsize=9)
    save_figure(fig, path)
    return name
