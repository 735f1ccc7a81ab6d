"""Predict with an exported artifact: read image files, check them, rank the classes.

Images are read with Pillow and converted to the artifact's channels (``L`` for one,
``RGB`` for three); their height and width must be what the artifact takes (the
dataset's image size, kcnn.export.serving), or anything where it takes any size.
"""

from __future__ import annotations

import os

import numpy as np

from kcnn.export.runtime import Artifact

__all__ = ["read_image", "top_k", "describe_prediction", "mask_paths", "write_mask"]


class _WrongSize(Exception):
    pass


def read_image(path: str, artifact: Artifact) -> np.ndarray:
    """``path`` as a uint8 H x W x C array fit for ``artifact``; ValueError (saying what is wrong) otherwise."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise ValueError("no such file" if not os.path.exists(path) else "not a file")
    channels = artifact.image_shape[2]
    if channels not in (1, 3):
        raise ValueError(f"the model takes {channels}-channel images; only 1 (gray) or 3 (RGB) can be read from files")
    try:
        with Image.open(path) as img:
            if (problem := artifact.check_shape((img.height, img.width, channels))) is not None:  # before decoding
                raise _WrongSize(problem)
            img.load()
            array = np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except _WrongSize as err:
        raise ValueError(str(err)) from None
    except UnidentifiedImageError:
        raise ValueError("not an image file Pillow can read (PNG, JPEG, BMP, GIF, ...)") from None
    except Image.DecompressionBombError as err:
        raise ValueError(f"refused: {err}") from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated or damaged image data
        raise ValueError(f"cannot read the image: {str(err).replace(path, 'the file')}") from None
    if array.ndim == 2:
        array = array[..., None]
    if (problem := artifact.check_image(array)) is not None:
        raise ValueError(problem)
    return array


def top_k(probabilities: np.ndarray, k: int, class_names=None) -> list[tuple[str, float]]:
    """The ``k`` most probable classes of one image: ``[(name, probability), ...]``.

    Segmentation outputs (H x W x classes) rank the classes by the share of pixels they win.
    """
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim > 1:
        winners = probabilities.argmax(-1).ravel()
        probabilities = np.bincount(winners, minlength=probabilities.shape[-1]) / winners.size
    order = np.argsort(-probabilities, kind="stable")[:k]
    names = class_names if class_names is not None else [str(i) for i in range(len(probabilities))]
    return [(names[i] if i < len(names) else str(i), float(probabilities[i])) for i in order]


def describe_prediction(ranked: list[tuple[str, float]], segmentation: bool = False) -> str:
    if segmentation:
        return "pixels: " + ", ".join(f"{name} {100 * p:.1f}%" for name, p in ranked)
    return ", ".join(f"{name} {p:.4f}" for name, p in ranked)


def mask_paths(images, output_dir: str) -> dict:
    """``{image path: (mask PNG path, overlay PNG path)}`` in ``output_dir``, named after the image
    (``shoe.png`` -> ``shoe_mask.png``, ``shoe_overlay.png``); ValueError when two images share a name."""
    paths, seen = {}, {}
    for image in images:
        stem = os.path.splitext(os.path.basename(image))[0]
        if stem in seen and seen[stem] != image:
            raise ValueError(f"{seen[stem]} and {image} would both write {stem}_mask.png; predict them in two runs")
        seen[stem] = image
        paths[image] = tuple(os.path.join(output_dir, f"{stem}_{kind}.png") for kind in ("mask", "overlay"))
    return paths


def write_mask(probabilities: np.ndarray, image: np.ndarray, paths: tuple[str, str]) -> np.ndarray:
    """Write the class-index mask (8-bit PNG, value = class, as kcnn's mask folders store it) and
    the image with the classes' colours over it; returns the mask. Both files are written atomically."""
    from PIL import Image

    from kcnn.io import atomic_file
    from kcnn.viz.segmentation import overlay

    num_classes = probabilities.shape[-1]
    mask = np.asarray(probabilities).argmax(-1).astype(np.uint8)
    shown = mask
    if mask.shape != image.shape[:2]:  # the artifact resized the image: show the mask at the image's size
        shown = np.asarray(Image.fromarray(mask).resize((image.shape[1], image.shape[0]), Image.NEAREST))
    for path, array in zip(paths, (mask, overlay(image, shown, num_classes))):
        with atomic_file(path, suffix=".png") as tmp:
            Image.fromarray(array).save(tmp, format="PNG")
    return mask
