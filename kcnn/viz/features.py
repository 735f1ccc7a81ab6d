"""What a network computes on an input: feature maps of chosen layers (the ZFNet view) and
activation statistics per layer (mean, standard deviation, fraction of zeros).

Layers are named by path (``conv1``, or ``backbone/conv1`` inside a nested model, see
:mod:`kcnn.analysis.graph`); an unknown name is an error listing the nearest names.
Any Keras backend; the model runs in inference mode.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import keras
import numpy as np

from kcnn.analysis.graph import find_layer, graph_of, layer_paths, run_graph
from kcnn.viz._plot import plt, save_figure

__all__ = [
    "prepare_image",
    "feature_maps",
    "plot_feature_maps",
    "ActivationStatistics",
    "activation_statistics",
    "plot_activation_statistics",
]

log = logging.getLogger(__name__)


def prepare_image(model, image, resize: bool = False) -> np.ndarray:
    """``image`` (H, W, C) or (1, H, W, C) as a float32 batch of one fitting ``model``'s input.

    A size that differs from the model's fixed input size is refused with a message, or
    resized (bilinear) with ``resize=True``; it is never cropped. A channel mismatch is refused.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"the image must be (height, width, channels), got an array of shape {image.shape}")
    want = tuple(graph_of(model).inputs[0].shape[1:])
    if want[-1] is not None and image.shape[-1] != want[-1]:
        raise ValueError(f"the image has {image.shape[-1]} channels, but model {model.name!r} takes {want[-1]}")
    size = tuple(s for s in want[:2])
    if None not in size and image.shape[:2] != size:
        if not resize:
            raise ValueError(
                f"the image is {image.shape[0]}x{image.shape[1]}, but model {model.name!r} takes {size[0]}x{size[1]}; "
                "resize it (resize=True / --resize) or give an image of that size"
            )
        log.warning("resizing the %dx%d image to %dx%d", image.shape[0], image.shape[1], *size)
        image = keras.ops.convert_to_numpy(keras.ops.image.resize(image, size, interpolation="bilinear"))
    return image[None]


def _check_layers(model, layers) -> list:
    if isinstance(layers, str):
        layers = [layers]
    return [find_layer(model, name)[0] for name in layers]


def _first(out):
    return out[0] if isinstance(out, (list, tuple)) else out


def feature_maps(model, image, layers, resize: bool = False) -> dict:
    """``{path: array (height, width, channels)}``: the outputs of ``layers`` for one image."""
    paths = _check_layers(model, layers)
    _, captured = run_graph(model, prepare_image(model, image, resize), capture=paths)
    return {p: keras.ops.convert_to_numpy(_first(captured[p]))[0] for p in paths}


def plot_feature_maps(model, image, layers, path, max_maps: int = 16, resize: bool = False, columns: int = 8) -> dict:
    """The input image, then for each layer its ``max_maps`` strongest maps (largest mean activation),
    each scaled to its own range, ``columns`` per row. Returns ``{path: the maps shown}``."""
    maps = feature_maps(model, image, layers, resize)
    spatial = {p: m for p, m in maps.items() if m.ndim == 3}
    if not spatial:
        raise ValueError(f"layers {list(maps)}: none has a spatial output (height, width, channels) to show")
    shown = {p: m[..., np.argsort(-m.mean(axis=(0, 1)))[:max_maps]] for p, m in spatial.items()}
    cols = min(columns, max(m.shape[-1] for m in shown.values()))
    rows = [math.ceil(m.shape[-1] / cols) for m in shown.values()]
    fig, axes = plt.subplots(1 + sum(rows), cols, figsize=(1.6 * cols, 1.7 * (1 + sum(rows))), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(_displayable(prepare_image(model, image, resize)[0]), cmap="gray")
    axes[0, 0].set_title("input", fontsize=8)
    row = 1
    for (name, m), n_rows in zip(shown.items(), rows):
        order = np.argsort(-spatial[name].mean(axis=(0, 1)))[:max_maps]
        for k, channel in enumerate(order):
            ax = axes[row + k // cols, k % cols]
            ax.imshow(m[..., k], cmap="viridis")
            ax.set_title(f"{name} #{channel}" if k == 0 else f"#{channel}", fontsize=7, loc="left")
        row += n_rows
    fig.suptitle(f"{model.name}: feature maps (strongest {max_maps} per layer)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    return shown


def _displayable(image: np.ndarray) -> np.ndarray:
    image = image.astype(np.float64)
    lo, hi = image.min(), image.max()
    image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    return image[..., 0] if image.shape[-1] == 1 else image[..., :3]


@dataclasses.dataclass(frozen=True)
class ActivationStatistics:
    """Statistics of one layer's output over a batch: ``zero_fraction`` counts exact zeros."""

    layer: str
    type: str
    shape: tuple
    mean: float
    std: float
    zero_fraction: float


def activation_statistics(model, x, layers=None) -> list:
    """Mean, standard deviation and fraction of exact zeros of every layer's output (or of
    ``layers``) on the batch ``x``, in execution order (inference mode).

    With std-0.01 Gaussian weights the activations of a deep tanh net shrink toward zero
    layer after layer; Xavier (Glorot) initialization keeps their scale (the notes' point)."""
    if layers is None:
        paths = [
            p
            for p, layer in layer_paths(model).items()
            if graph_of(layer) is None and not isinstance(layer, keras.layers.InputLayer)
        ]
    else:
        paths = _check_layers(model, layers)
    if int(keras.ops.shape(x)[0]) == 0:
        raise ValueError("activation_statistics: x is an empty batch")
    _, captured = run_graph(model, x, capture=paths)
    stats = []
    types = layer_paths(model)
    for p in paths:
        a = keras.ops.convert_to_numpy(_first(captured[p])).astype(np.float64)
        stats.append(
            ActivationStatistics(
                layer=p,
                type=type(types[p]).__name__,
                shape=tuple(a.shape[1:]),
                mean=float(a.mean()),
                std=float(a.std()),
                zero_fraction=float(np.mean(a == 0)),
            )
        )
    return stats


def plot_activation_statistics(stats, path, title: str = "") -> None:
    """Standard deviation (with the mean) and fraction of zeros per layer."""
    names = [s.layer for s in stats]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6, 0.35 * len(stats) + 2), 6), sharex=True)
    ax1.plot(names, [s.std for s in stats], marker="o", label="std")
    ax1.plot(names, [s.mean for s in stats], marker=".", label="mean")
    ax1.set_yscale("symlog", linthresh=1e-4)
    ax1.grid(alpha=0.3)
    ax1.legend()
    ax1.set_title(title or "activations per layer")
    ax2.bar(names, [s.zero_fraction for s in stats])
    ax2.set_ylabel("fraction of zeros")
    ax2.set_ylim(0, 1)
    ax2.tick_params(axis="x", rotation=70, labelsize=7)
    fig.tight_layout()
    save_figure(fig, path)
