"""Where images come from: IDX directories, tensorflow-datasets, image folders, synthetic.

``load(name, split)`` returns a ``tf.data.Dataset`` of ``(uint8 HxWxC image, int64 label)``
-- for segmentation datasets (``DatasetInfo.task == "segmentation"``) of ``(uint8 HxWxC
image, uint8 HxW mask)`` -- and, with ``with_info=True``, a :class:`DatasetInfo` beside it.

* MNIST-format names (``mnist``, ``fashion_mnist``, ``kmnist``, ``emnist_*``) are read from
  IDX files found in ``data_dir``, then ``$KCNN_DATA_DIR``, then ``/usr/share/datasets``;
  when none holds them, the loader says where it looked and falls back to tfds.
* ``folder``: a class-per-folder directory of images (``data_dir``; kcnn.data.folder).
* ``synthetic``: images of any shape and class count with a learnable rule.
* Segmentation: ``fashion_scenes`` (kcnn.data.scenes: 64x64 canvases composed of real
  Fashion-MNIST items, from the same IDX files, offline), ``mask_folder`` (images + PNG
  masks in ``data_dir``; kcnn.data.mask_folder) and tfds' ``oxford_iiit_pet`` (the
  dataset of Keras' segmentation tutorial; needs a network the first time).
* Any other name goes to ``tfds.load``. A dataset tfds has not prepared yet downloads on
  first use where a network exists; without one, the loader says at once which places it
  searched instead of letting the download retry for minutes.

Splits take tfds' slicing syntax for a contiguous part: ``train[:90%]``, ``train[54000:]``;
a split name the dataset does not have is refused, listing the ones it has. A ``data_dir``
that does not exist is refused too (never silently replaced by another place). Argument
errors are :class:`DataArgumentError` naming the argument.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import socket

import numpy as np
import tensorflow as tf

from kcnn.data.errors import DataArgumentError
from kcnn.data.folder import FOLDER_SPLITS, list_folder
from kcnn.data.idx import read_idx_header, read_idx_pair
from kcnn.data.info import DatasetInfo, check_split_name, parse_split, split_slice
from kcnn.data.mask_folder import IGNORE_LABEL, list_mask_folder, read_mask
from kcnn.data.scenes import SCENE_SPLITS, load_scenes, scenes_info

__all__ = ["DatasetInfo", "IdxDataset", "IDX_DATASETS", "load", "describe", "find_idx_dir", "SYSTEM_DATA_DIR"]

log = logging.getLogger("kcnn.data")
SYSTEM_DATA_DIR = "/usr/share/datasets"
IDX_SPLITS = ("train", "test")
SYNTHETIC_SPLITS = ("train", "validation", "test")
DOWNLOAD_HOST = ("storage.googleapis.com", 443)  # where tensorflow-datasets downloads from


@dataclasses.dataclass(frozen=True)
class IdxDataset:
    """An MNIST-format dataset: directory names to look for, file prefix, classes."""

    dir_names: tuple
    class_names: tuple
    tfds_name: str
    prefix: str = ""
    test_stem: tuple = ("t10k", "test")
    transpose: bool = False  # EMNIST stores images transposed
    label_offset: int = 0  # EMNIST letters label a..z as 1..26
    image_shape: tuple = (28, 28, 1)


_DIGITS = tuple(str(i) for i in range(10))
_LETTERS = tuple(chr(c) for c in range(ord("a"), ord("z") + 1))
IDX_DATASETS = {
    "mnist": IdxDataset(("mnist",), _DIGITS, "mnist"),
    "fashion_mnist": IdxDataset(
        ("fashion-mnist", "fashion_mnist"),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        "fashion_mnist",
    ),
    "kmnist": IdxDataset(("kmnist",), ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"), "kmnist"),
    "emnist_digits": IdxDataset(("emnist",), _DIGITS, "emnist/digits", "emnist-digits-", ("test",), True),
    "emnist_letters": IdxDataset(("emnist",), _LETTERS, "emnist/letters", "emnist-letters-", ("test",), True, -1),
    "emnist_balanced": IdxDataset(
        ("emnist",),
        _DIGITS + tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + tuple("abdefghnqrt"),
        "emnist/balanced",
        "emnist-balanced-",
        ("test",),
        True,
    ),
}


# --- IDX ------------------------------------------------------------------------------


def _idx_files(directory: str, spec: IdxDataset, base: str) -> tuple[str, str] | None:
    stems = ("train",) if base == "train" else spec.test_stem
    for stem in stems:
        for ext in (".gz", ""):
            images = os.path.join(directory, f"{spec.prefix}{stem}-images-idx3-ubyte{ext}")
            labels = os.path.join(directory, f"{spec.prefix}{stem}-labels-idx1-ubyte{ext}")
            if os.path.isfile(images) and os.path.isfile(labels):
                return images, labels
    return None


def idx_search_dirs(name: str, data_dir: str | None = None) -> list[str]:
    """The directories searched for ``name``'s IDX files, in order."""
    spec = IDX_DATASETS[name]
    roots = [r for r in (data_dir, os.environ.get("KCNN_DATA_DIR"), SYSTEM_DATA_DIR) if r]
    dirs = []
    for root in roots:
        for d in (root, *(os.path.join(root, n) for n in spec.dir_names)):
            if d not in dirs:
                dirs.append(d)
    return dirs


def find_idx_dir(name: str, data_dir: str | None = None, base: str = "train") -> tuple[str | None, list[str]]:
    """The first searched directory holding ``name``'s ``base`` split, and all directories searched."""
    searched = idx_search_dirs(name, data_dir)
    for d in searched:
        if _idx_files(d, IDX_DATASETS[name], base):
            return d, searched
    return None, searched


def _idx_info(name: str, directory: str, split: str) -> DatasetInfo:
    """What ``_load_idx`` would return as info, from the files' headers alone."""
    spec = IDX_DATASETS[name]
    images, labels = _idx_files(directory, spec, parse_split(split)[0])
    _, dims = read_idx_header(images)
    _, (count,) = read_idx_header(labels)
    shape = tuple(dims[1:]) + ((1,) if len(dims) == 3 else ())
    if spec.transpose:
        shape = (shape[1], shape[0], shape[2])
    part = split_slice(split, count)
    return DatasetInfo(
        name,
        shape,
        len(spec.class_names),
        spec.class_names,
        max(0, part.stop - part.start),
        f"IDX files in {directory}",
    )


def _load_idx(name: str, directory: str, split: str):
    spec = IDX_DATASETS[name]
    images, labels = read_idx_pair(*_idx_files(directory, spec, parse_split(split)[0]))
    if spec.transpose:
        images = np.ascontiguousarray(images.transpose(0, 2, 1, 3))
    labels = labels + spec.label_offset
    part = split_slice(split, len(labels))
    images, labels = images[part], labels[part]
    info = DatasetInfo(
        name, images.shape[1:], len(spec.class_names), spec.class_names, len(labels), f"IDX files in {directory}"
    )
    return tf.data.Dataset.from_tensor_slices((images, labels)), info


# --- image folders ----------------------------------------------------------------------


def _folder(data_dir, split: str, image_size=None, channels: int = 3, skip_corrupt: bool = False):
    """(paths, labels, DatasetInfo) of a folder split, every file checked (kcnn.data.folder)."""
    listing = list_folder(data_dir, parse_split(split)[0], skip_corrupt=skip_corrupt)
    part = split_slice(split, len(listing.paths))
    paths, labels = list(listing.paths[part]), listing.labels[part]
    if not paths:
        raise DataArgumentError("split", f"folder dataset {listing.directory}: split {split!r} selects no images")
    if image_size is None:
        from PIL import Image

        with Image.open(paths[0]) as first:
            image_size = (first.height, first.width)
    info = DatasetInfo(
        "folder",
        (*image_size, channels),
        len(listing.class_names),
        listing.class_names,
        len(paths),
        f"image folders in {listing.directory}",
    )
    return paths, labels, info


def _load_folder(data_dir, split: str, **kwargs):
    paths, labels, info = _folder(data_dir, split, **kwargs)
    height, width = info.image_shape[:2]

    def read(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=info.image_shape[2], expand_animations=False)
        image = tf.image.resize(image, (height, width), antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    ds = tf.data.Dataset.from_tensor_slices((paths, labels)).map(read, num_parallel_calls=tf.data.AUTOTUNE)
    return ds, info


# --- synthetic --------------------------------------------------------------------------


def _load_synthetic(
    split: str, image_shape=(28, 28, 1), num_classes: int = 10, num_examples: int = 1024, seed: int = 0
):
    """Each class is a fixed random 8x8 pattern, upsampled, plus per-example noise: learnable, cheap."""
    height, width, channels = image_shape
    base = check_split_name(split, SYNTHETIC_SPLITS, "synthetic")
    prototypes = np.random.default_rng(seed).uniform(0, 255, (num_classes, 8, 8, channels)).astype("float32")
    prototypes = tf.image.resize(prototypes, (height, width), method="nearest")
    split_seed = sum(map(ord, base))
    part = split_slice(split, num_examples)

    def make(index):
        label = tf.cast(
            tf.random.stateless_uniform([], (seed, split_seed + index), maxval=num_classes, dtype=tf.int32), tf.int64
        )
        noise = tf.random.stateless_normal((height, width, channels), (seed + 1, split_seed + index), stddev=40.0)
        image = tf.clip_by_value(tf.gather(prototypes, label) + noise, 0, 255)
        return tf.cast(image, tf.uint8), label

    ds = tf.data.Dataset.range(part.start, part.stop).map(make, num_parallel_calls=tf.data.AUTOTUNE)
    names = tuple(f"class_{i}" for i in range(num_classes))
    return ds, DatasetInfo("synthetic", tuple(image_shape), num_classes, names, part.stop - part.start, "synthetic")


# --- tensorflow-datasets ----------------------------------------------------------------


def _network_reachable(timeout: float = 3.0) -> bool:
    """Whether tensorflow-datasets' download host answers (DNS and a TCP connection)."""
    try:
        socket.create_connection(DOWNLOAD_HOST, timeout=timeout).close()
    except OSError:
        return False
    return True


def _tfds_builder(name: str, data_dir: str | None, *, download: bool = True, searched=()):
    """The tfds builder of ``name``, its data on disk or downloadable now; DataArgumentError otherwise."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception:  # noqa: BLE001 - tfds raises several types for unknown names
        local = ["synthetic", "folder", "fashion_scenes", "mask_folder", *IDX_DATASETS]
        close = difflib.get_close_matches(name, local + list(tfds.list_builders()), n=4, cutoff=0.6)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise DataArgumentError(
            "name", f"unknown dataset {name!r}: not one of {', '.join(local)} nor a tensorflow-datasets name{hint}"
        ) from None
    if not builder.is_prepared():
        places = ", ".join((*searched, builder.data_dir))
        if not download:
            raise DataArgumentError("name", f"{name}: not prepared in {places} and download=False")
        if not _network_reachable():
            raise DataArgumentError(
                "name",
                f"{name}: not found in {places}, and there is no network to download "
                f"it ({DOWNLOAD_HOST[0]} unreachable); put the data there (tensorflow-datasets' "
                "layout) or run once where a network exists",
            )
    return builder


def _tfds_info(builder, name: str, split: str) -> DatasetInfo:
    keys = builder.info.supervised_keys
    if not keys:
        raise DataArgumentError(
            "name", f"dataset {name!r}: tensorflow-datasets defines no (image, label) supervised keys for it"
        )
    splits = builder.info.splits
    num_examples = None
    if splits:  # known once the data (or its metadata) is on disk
        check_split_name(split, list(splits), name)
        try:
            num_examples = splits[split].num_examples
        except (KeyError, ValueError):
            num_examples = None
    image, label = builder.info.features[keys[0]], builder.info.features[keys[1]]
    return DatasetInfo(
        name,
        tuple(image.shape),
        label.num_classes,
        tuple(label.names),
        num_examples,
        f"tensorflow-datasets {name} ({builder.data_dir})",
    )


def _load_tfds(name: str, split: str, data_dir: str | None, download: bool = True, searched=()):
    import tensorflow_datasets as tfds

    builder = _tfds_builder(name, data_dir, download=download, searched=searched)
    info = _tfds_info(builder, name, split)
    ds = tfds.load(name, split=split, data_dir=data_dir, as_supervised=True, download=download)
    ds = ds.map(lambda x, y: (tf.cast(x, tf.uint8), tf.cast(y, tf.int64)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds, info


# --- segmentation -----------------------------------------------------------------------


def _scene_files(split: str, data_dir: str | None) -> tuple[str, str]:
    """Fashion-MNIST's IDX files of ``split``'s base (fashion_scenes composes canvases of them)."""
    base = check_split_name(split, tuple(SCENE_SPLITS), "fashion_scenes")
    directory, searched = find_idx_dir("fashion_mnist", data_dir, base)
    if directory is None:
        raise DataArgumentError(
            "data_dir" if data_dir else "name",
            f"fashion_scenes is composed of Fashion-MNIST's IDX files; none in {', '.join(searched)} "
            "(apt-get install dataset-fashion-mnist, or give the directory that holds them)",
        )
    return _idx_files(directory, IDX_DATASETS["fashion_mnist"], base)


def _mask_folder(data_dir, split: str):
    """(images, masks, DatasetInfo) of a mask folder split, every pair checked (kcnn.data.mask_folder)."""
    listing = list_mask_folder(data_dir, parse_split(split)[0])
    part = split_slice(split, len(listing.images))
    images, masks = list(listing.images[part]), list(listing.masks[part])
    if not images:
        raise DataArgumentError("split", f"mask_folder dataset {listing.directory}: split {split!r} selects no images")
    info = DatasetInfo(
        "mask_folder",
        (*listing.image_size, 3),
        len(listing.class_names),
        listing.class_names,
        len(images),
        f"images and masks in {listing.directory}",
        task="segmentation",
        ignore_label=IGNORE_LABEL,
    )
    return images, masks, info


def _load_mask_folder(data_dir, split: str):
    images, masks, info = _mask_folder(data_dir, split)
    size = info.image_shape[:2]

    def read(image_path, mask_path):
        image = tf.io.decode_image(tf.io.read_file(image_path), channels=3, expand_animations=False)
        image = tf.image.resize(image, size, antialias=True)
        mask = tf.numpy_function(lambda p: read_mask(p.decode()), [mask_path], tf.uint8, stateful=False)
        mask = tf.image.resize(tf.ensure_shape(mask, (None, None))[..., None], size, method="nearest")[..., 0]
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), tf.cast(mask, tf.uint8)

    ds = tf.data.Dataset.from_tensor_slices((images, masks)).map(read, num_parallel_calls=tf.data.AUTOTUNE)
    return ds, info


# tfds segmentation datasets: image key, mask key, {stored value: class (255: ignored)}, class names, size
PET = {"image": "image", "mask": "segmentation_mask", "classes": ("background", "pet"), "size": (128, 128)}
PET_VALUES = (IGNORE_LABEL, 1, 0, IGNORE_LABEL)  # trimap 1 pet, 2 background, 3 border (unclassified: ignored)
TFDS_SEGMENTATION = {"oxford_iiit_pet": PET}


def _tfds_segmentation(name: str, split: str, data_dir: str | None, download: bool = True, read: bool = True):
    """Oxford-IIIT Pet as Keras' segmentation tutorial uses it, resized to 128x128; the
    trimap's border pixels get the ignore label. Needs a network the first time."""
    import tensorflow_datasets as tfds

    spec = TFDS_SEGMENTATION[name]
    builder = _tfds_builder(name, data_dir, download=download)
    check_split_name(split, list(builder.info.splits) or ["train", "test"], name)
    try:
        num_examples = builder.info.splits[split].num_examples
    except (KeyError, ValueError):
        num_examples = None
    info = DatasetInfo(
        name,
        (*spec["size"], 3),
        len(spec["classes"]),
        spec["classes"],
        num_examples,
        f"tensorflow-datasets {name} ({builder.data_dir}), resized to {spec['size'][0]}x{spec['size'][1]}",
        task="segmentation",
        ignore_label=IGNORE_LABEL,
    )
    if not read:
        return None, info
    values = tf.constant(PET_VALUES, tf.uint8)

    def fit(example):
        image = tf.image.resize(example[spec["image"]], spec["size"], antialias=True)
        mask = tf.image.resize(example[spec["mask"]], spec["size"], method="nearest")[..., 0]
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), tf.gather(values, tf.cast(mask, tf.int32))

    ds = tfds.load(name, split=split, data_dir=data_dir, download=download)
    return ds.map(fit, num_parallel_calls=tf.data.AUTOTUNE), info


# --- entry point ------------------------------------------------------------------------


def _check_data_dir(data_dir) -> None:
    if data_dir is not None and not os.path.isdir(data_dir):
        what = "is not a directory" if os.path.exists(data_dir) else "does not exist"
        raise DataArgumentError(
            "data_dir",
            f"{data_dir} {what} (give the directory that holds the dataset, or "
            "leave data_dir out to search the default places)",
        )


def _idx_source(name: str, split: str, data_dir: str | None) -> tuple[str | None, list[str]]:
    base = check_split_name(split, IDX_SPLITS, name)
    return find_idx_dir(name, data_dir, base)


def describe(name: str, split: str = "train", *, data_dir: str | None = None, **kwargs) -> DatasetInfo:
    """The DatasetInfo of ``load(name, split, ...)`` reading headers and listings, not the data
    (for argument checks): DataArgumentError for an unknown name, split or data_dir, a folder
    that cannot be used, or a tfds dataset that is neither on disk nor downloadable now.
    ``num_examples`` is None where it is not known before reading.
    """
    _check_data_dir(data_dir)
    if name == "synthetic":
        return _load_synthetic(split, **kwargs)[1]
    if name == "folder":
        return _folder(data_dir, split, **kwargs)[2]
    if name == "fashion_scenes":
        return scenes_info(split, _scene_files(split, data_dir), **kwargs)
    if name == "mask_folder":
        return _mask_folder(data_dir, split)[2]
    if name in TFDS_SEGMENTATION:
        return _tfds_segmentation(name, split, data_dir, read=False, **kwargs)[1]
    if name in IDX_DATASETS:
        directory, searched = _idx_source(name, split, data_dir)
        if directory is not None:
            return _idx_info(name, directory, split)
        name, kwargs = IDX_DATASETS[name].tfds_name, {**kwargs, "searched": searched}
    builder = _tfds_builder(name, data_dir, download=kwargs.get("download", True), searched=kwargs.get("searched", ()))
    return _tfds_info(builder, name, split)


def dataset_splits(name: str) -> tuple[str, ...] | None:
    """The split names of a kcnn source (None for tensorflow-datasets names: tfds knows them)."""
    if name in IDX_DATASETS:
        return IDX_SPLITS
    return {
        "synthetic": SYNTHETIC_SPLITS,
        "folder": tuple(FOLDER_SPLITS),
        "mask_folder": tuple(FOLDER_SPLITS),
        "fashion_scenes": tuple(SCENE_SPLITS),
    }.get(name)


def load(name: str, split: str = "train", *, data_dir: str | None = None, with_info: bool = False, **kwargs):
    """A ``tf.data.Dataset`` of ``(uint8 image HxWxC, int64 label)`` (and its DatasetInfo).

    ``kwargs`` go to the source: ``image_size``/``channels``/``skip_corrupt`` for ``folder``;
    ``image_shape``/``num_classes``/``num_examples``/``seed`` for ``synthetic``;
    ``num_examples``/``seed`` for ``fashion_scenes``; ``download`` for tfds names.
    """
    _check_data_dir(data_dir)
    if name == "synthetic":
        ds, info = _load_synthetic(split, **kwargs)
    elif name == "folder":
        ds, info = _load_folder(data_dir, split, **kwargs)
    elif name == "fashion_scenes":
        ds, info = load_scenes(split, _scene_files(split, data_dir), **kwargs)
    elif name == "mask_folder":
        ds, info = _load_mask_folder(data_dir, split)
    elif name in TFDS_SEGMENTATION:
        ds, info = _tfds_segmentation(name, split, data_dir, **kwargs)
    elif name in IDX_DATASETS:
        directory, searched = _idx_source(name, split, data_dir)
        if directory is not None:
            ds, info = _load_idx(name, directory, split)
        else:
            tfds_name = IDX_DATASETS[name].tfds_name
            log.warning(
                "%s: no IDX files in %s; falling back to tensorflow-datasets %r", name, ", ".join(searched), tfds_name
            )
            ds, info = _load_tfds(tfds_name, split, data_dir, searched=searched, **kwargs)
    else:
        ds, info = _load_tfds(name, split, data_dir, **kwargs)
    return (ds, info) if with_info else ds
