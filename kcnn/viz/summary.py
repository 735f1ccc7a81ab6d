"""The first-layer filters and feature maps of a fixed image as TensorBoard images (TensorFlow only).

``write_model_images(writer, model, image, step)`` adds ``filters/<layer>`` (the first
convolution's filters as one tiled image) and ``feature_maps/<layer>`` (the strongest maps of
the first convolution and of Grad-CAM's default target layer, tiled) to a
``tf.summary`` file writer, e.g. kcnn-train's at the end of a run.
"""

from __future__ import annotations

import math

import numpy as np

from kcnn.viz.features import feature_maps
from kcnn.viz.filters import filter_images, first_conv_layer
from kcnn.viz.gradcam import default_target_layer

__all__ = ["tile", "write_model_images"]


def tile(images: np.ndarray, columns: int | None = None, border: int = 1) -> np.ndarray:
    """Images (N, H, W) or (N, H, W, 3) with values in [0, 1] tiled into one (rows*H, cols*W[, 3])
    array with ``border`` pixels of white between them."""
    n, h, w = images.shape[:3]
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.ones((rows * (h + border) - border, cols * (w + border) - border, *images.shape[3:]), np.float32)
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        out[r * (h + border) : r * (h + border) + h, c * (w + border) : c * (w + border) + w] = image
    return out


def _scaled(maps: np.ndarray) -> np.ndarray:
    lo = maps.min(axis=(1, 2), keepdims=True)
    hi = maps.max(axis=(1, 2), keepdims=True)
    return (maps - lo) / np.where(hi > lo, hi - lo, 1.0)


def write_model_images(writer, model, image, step: int, layers=None, max_maps: int = 16, upscale: int = 4) -> list:
    """Write the filter grid and feature maps of ``image`` (H, W, C) for ``layers`` (default: the first
    convolution and Grad-CAM's default target layer) to the ``tf.summary`` ``writer`` at ``step``.
    Returns the summary names written."""
    import tensorflow as tf

    first = first_conv_layer(model)
    if layers is None:
        layers = list(dict.fromkeys([first, default_target_layer(model, np.shape(image))]))
    _, filters = filter_images(model, first)
    names = [f"filters/{first}"]
    images = {names[0]: tile(filters)}
    for path, maps in feature_maps(model, image, layers).items():
        if maps.ndim != 3:
            continue
        order = np.argsort(-maps.mean(axis=(0, 1)))[:max_maps]
        name = f"feature_maps/{path}"
        images[name] = tile(_scaled(np.moveaxis(maps[..., order], -1, 0)))
        names.append(name)
    with writer.as_default(step=step):
        for name, picture in images.items():
            picture = np.repeat(np.repeat(picture, upscale, axis=0), upscale, axis=1)
            if picture.ndim == 2:
                picture = picture[..., None]
            tf.summary.image(name, picture[None], step=step)
    writer.flush()
    return names
