"""Image folders: one sub-directory per class, with ``train/`` and ``test/`` (or ``val/``)
sub-directories when the data has them.

Every file is checked when a split is first listed (Pillow verifies its structure and
decodes it; the result is cached per file, size and modification time): a corrupt,
truncated or decompression-bomb image stops the run before training with its path, or,
with ``skip_corrupt=True``, is left out and counted. A class directory without images,
or fewer than two classes, is an error naming the directory.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os

import numpy as np

from kcnn.data.errors import DataArgumentError

__all__ = ["FolderListing", "FOLDER_SPLITS", "IMAGE_EXTENSIONS", "list_folder", "check_image_file"]

log = logging.getLogger("kcnn.data")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# split name -> the sub-directories that hold it, in order of preference
FOLDER_SPLITS = {"train": ("train",), "test": ("test", "val", "validation"), "validation": ("val", "validation")}
_SPLIT_DIR_NAMES = {d for dirs in FOLDER_SPLITS.values() for d in dirs}


@dataclasses.dataclass(frozen=True)
class FolderListing:
    """The readable images of one split: paths, integer labels, class names, files left out."""

    directory: str
    paths: tuple
    labels: np.ndarray
    class_names: tuple
    skipped: tuple  # (path, reason) of unreadable files left out with skip_corrupt


def split_directory(root: str, base: str) -> str:
    """The directory holding split ``base`` of the folder dataset at ``root``."""
    if base not in FOLDER_SPLITS:
        raise DataArgumentError("split", f"folder dataset: unknown split {base!r}; splits: {', '.join(FOLDER_SPLITS)}")
    for sub in FOLDER_SPLITS[base]:
        if os.path.isdir(os.path.join(root, sub)):
            return os.path.join(root, sub)
    if base == "train":
        return root
    wanted = " or ".join(f"{d}/" for d in FOLDER_SPLITS[base])
    raise DataArgumentError("split", f"folder dataset {root}: no {base!r} split (expected a {wanted} sub-directory)")


@functools.cache
def _check_cached(path: str, size: int, mtime_ns: int) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()  # structure and checksums
        with Image.open(path) as image:
            image.load()  # the pixel data decodes to the end
    except UnidentifiedImageError:
        return "not an image Pillow or TensorFlow can read"
    except Image.DecompressionBombError as err:
        return f"refused as a decompression bomb ({err})"
    except (OSError, SyntaxError, ValueError) as err:
        return f"corrupt or truncated image ({err})"
    return None


def check_image_file(path: str) -> str | None:
    """Why the image file at ``path`` cannot be used, or None when it reads and decodes."""
    stat = os.stat(path)
    return _check_cached(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)


def list_folder(root: str, base: str, *, skip_corrupt: bool = False) -> FolderListing:
    """List and check split ``base`` of the folder dataset at ``root`` (DataArgumentError when unusable)."""
    if not root or not os.path.isdir(root):
        raise DataArgumentError(
            "data_dir", f"folder dataset: data_dir must be a directory of class sub-directories; got {root!r}"
        )
    directory = split_directory(root, base)
    class_names = sorted(
        d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)) and d not in _SPLIT_DIR_NAMES
    )
    if len(class_names) < 2:
        found = f": {', '.join(class_names)}" if class_names else ""
        raise DataArgumentError(
            "data_dir",
            f"folder dataset {directory}: needs at least two class sub-directories; found {len(class_names)}{found}",
        )
    paths, labels, skipped = [], [], []
    for label, cls in enumerate(class_names):
        files = [
            os.path.join(walk_root, f)
            for walk_root, _, names in sorted(os.walk(os.path.join(directory, cls)))
            for f in sorted(names)
            if f.lower().endswith(IMAGE_EXTENSIONS)
        ]
        if not files:
            raise DataArgumentError(
                "data_dir",
                f"folder dataset: class directory {os.path.join(directory, cls)} holds "
                f"no images ({', '.join(IMAGE_EXTENSIONS)})",
            )
        kept = 0
        for path in files:
            if (reason := check_image_file(path)) is not None:
                skipped.append((path, reason))
                continue
            paths.append(path)
            labels.append(label)
            kept += 1
        if skipped and not skip_corrupt:
            path, reason = skipped[0]
            raise DataArgumentError(
                "data_dir",
                f"{path}: {reason} (set data.skip_corrupt=true to leave unreadable images out and count them)",
            )
        if not kept:
            raise DataArgumentError(
                "data_dir", f"folder dataset: class directory {os.path.join(directory, cls)} holds no readable images"
            )
    if skipped:
        log.warning("%s: left out %d unreadable images (first: %s: %s)", directory, len(skipped), *skipped[0])
    return FolderListing(directory, tuple(paths), np.asarray(labels, np.int64), tuple(class_names), tuple(skipped))
