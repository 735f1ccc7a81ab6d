"""``mask_folder``: users' own segmentation data, a folder of images and PNG masks.

Layout (``data_dir``)::

    classes.txt              one class name a line: line k names mask value k
    train/images/a.png ...   the images (PNG, JPEG, BMP, GIF)
    train/masks/a.png ...    one PNG mask per image, the same file name with .png
    test/images/, test/masks/ (or val/, validation/)

``images/`` and ``masks/`` straight under ``data_dir`` also serve as the train split. A
mask is a single-channel PNG (8-bit gray or palette: the stored index is the class) of
its image's height and width; every value lies in [0, classes) or is ``IGNORE_LABEL``
(255), which marks pixels that count nowhere (loss, accuracy, IoU). Every image and mask
is checked when a split is listed, before any training: an unreadable image, a missing
mask, a size mismatch or a value out of range is a :class:`DataArgumentError` naming the
file. Images of another size than the split's first are resized to it (masks with
nearest neighbour).
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np

from kcnn.data.errors import DataArgumentError
from kcnn.data.folder import IMAGE_EXTENSIONS, check_image_file, split_directory

__all__ = ["IGNORE_LABEL", "MaskListing", "list_mask_folder", "read_mask"]

IGNORE_LABEL = 255
CLASSES_FILE = "classes.txt"


@dataclasses.dataclass(frozen=True)
class MaskListing:
    """The checked (image, mask) pairs of one split and the class names."""

    directory: str
    images: tuple
    masks: tuple
    class_names: tuple
    image_size: tuple  # (height, width) of the first image


def read_class_names(root: str) -> tuple:
    path = os.path.join(root, CLASSES_FILE)
    if not os.path.isfile(path):
        raise DataArgumentError(
            "data_dir", f"mask_folder dataset {root}: no {CLASSES_FILE} (one class name a line; line k names value k)"
        )
    with open(path, encoding="utf-8") as f:
        names = tuple(line.strip() for line in f if line.strip())
    if not 2 <= len(names) <= IGNORE_LABEL:
        raise DataArgumentError("data_dir", f"{path}: lists {len(names)} classes; give 2 to {IGNORE_LABEL}")
    return names


def read_mask(path: str) -> np.ndarray:
    """The class indices of a mask PNG, (H, W) uint8; ValueError saying what is wrong."""
    from PIL import Image

    with Image.open(path) as mask:
        if mask.mode not in ("L", "P"):
            raise ValueError(
                f"a mask must be a single-channel PNG of class indices (mode L or P); got mode {mask.mode}"
            )
        return np.asarray(mask, dtype=np.uint8)


@functools.cache
def _check_pair(image: str, mask: str, classes: int, stamp: tuple) -> tuple[str, str, tuple] | None:
    """(file, reason, size): why the pair cannot be used, else (None, None, image size)."""
    from PIL import Image

    if (reason := check_image_file(image)) is not None:
        return image, reason, ()
    if (reason := check_image_file(mask)) is not None:
        return mask, reason, ()
    with Image.open(image) as img:
        size = (img.height, img.width)
    try:
        values = read_mask(mask)
    except ValueError as err:
        return mask, str(err), ()
    if values.shape != size:
        return mask, f"mask is {values.shape[0]}x{values.shape[1]} but its image {image} is {size[0]}x{size[1]}", ()
    bad = np.unique(values[(values >= classes) & (values != IGNORE_LABEL)])
    if bad.size:
        return (
            mask,
            (
                f"mask value {int(bad[0])} is outside [0, {classes}) ({CLASSES_FILE} lists {classes} classes; "
                f"{IGNORE_LABEL} marks ignored pixels)"
            ),
            (),
        )
    return None, None, size


def list_mask_folder(root: str, base: str) -> MaskListing:
    """List and check split ``base`` of the mask folder at ``root`` (DataArgumentError naming the file)."""
    if not root or not os.path.isdir(root):
        raise DataArgumentError("data_dir", f"mask_folder dataset: data_dir must be a directory; got {root!r}")
    class_names = read_class_names(root)
    directory = split_directory(root, base)
    image_dir, mask_dir = os.path.join(directory, "images"), os.path.join(directory, "masks")
    for d in (image_dir, mask_dir):
        if not os.path.isdir(d):
            raise DataArgumentError("data_dir", f"mask_folder dataset: no directory {d} (expected images/ and masks/)")
    names = sorted(n for n in os.listdir(image_dir) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise DataArgumentError("data_dir", f"mask_folder dataset: {image_dir} holds no images")
    images, masks, first = [], [], None
    for name in names:
        image = os.path.join(image_dir, name)
        mask = os.path.join(mask_dir, os.path.splitext(name)[0] + ".png")
        if not os.path.isfile(mask):
            raise DataArgumentError("data_dir", f"{image}: no mask {mask} (every image needs a PNG mask of its name)")
        stamp = tuple((s.st_size, s.st_mtime_ns) for s in (os.stat(image), os.stat(mask)))
        culprit, reason, size = _check_pair(os.path.abspath(image), os.path.abspath(mask), len(class_names), stamp)
        if culprit is not None:
            raise DataArgumentError("data_dir", f"{culprit}: {reason}")
        first = first or size
        images.append(image)
        masks.append(mask)
    return MaskListing(directory, tuple(images), tuple(masks), class_names, first)
