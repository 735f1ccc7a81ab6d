"""Where images come from: IDX directories, tensorflow-datasets, image folders, synthetic.

``load(name, split)`` returns a ``tf.data.Dataset`` of ``(uint8 HxWxC image, int64 label)``
and, with ``with_info=True``, a :class:`DatasetInfo` beside it.

* MNIST-format names (``mnist``, ``fashion_mnist``, ``kmnist``, ``emnist_*``) are read from
  IDX files found in ``data_dir``, then ``$KCNN_DATA_DIR``, then ``/usr/share/datasets``;
  when none holds them, the loader says where it looked and falls back to tfds.
* ``folder``: a class-per-folder directory of images (``data_dir``), with ``train/`` and
  ``test/`` (or ``val/``) sub-directories when the data has them.
* ``synthetic``: images of any shape and class count with a learnable rule.
* Any other name goes to ``tfds.load`` (downloads on first use where a network exists).

Splits take tfds' slicing syntax for a contiguous part: ``train[:90%]``, ``train[54000:]``.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import re

import numpy as np
import tensorflow as tf

from kcnn.data.idx import read_idx_pair

__all__ = ["DatasetInfo", "IdxDataset", "IDX_DATASETS", "load", "describe", "find_idx_dir", "SYSTEM_DATA_DIR"]

log = logging.getLogger("kcnn.data")
SYSTEM_DATA_DIR = "/usr/share/datasets"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset."""

    name: str
    image_shape: tuple
    num_classes: int
    class_names: tuple
    num_examples: int | None
    source: str


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


# --- splits ---------------------------------------------------------------------------

_SPLIT = re.compile(r"^(\w+)(?:\[(-?\d+%?)?:(-?\d+%?)?\])?$")


def parse_split(split: str) -> tuple[str, str | None, str | None]:
    """'train[:90%]' -> ('train', None, '90%')."""
    m = _SPLIT.match(split.replace(" ", ""))
    if not m:
        raise ValueError(f"split {split!r}: expected NAME or NAME[start:stop] (e.g. 'train[:90%]')")
    return m.group(1), m.group(2), m.group(3)


def _bound(value: str | None, n: int, default: int) -> int:
    if value is None:
        return default
    k = round(n * int(value[:-1]) / 100) if value.endswith("%") else int(value)
    return max(0, min(n, k + n if k < 0 else k))


def _slice(split: str, n: int) -> slice:
    _, start, stop = parse_split(split)
    return slice(_bound(start, n, 0), _bound(stop, n, n))


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


def _load_idx(name: str, directory: str, split: str):
    spec = IDX_DATASETS[name]
    base = parse_split(split)[0]
    files = _idx_files(directory, spec, base)
    if files is None:
        raise ValueError(f"{name}: no {base!r} split in {directory} (IDX datasets have 'train' and 'test')")
    images, labels = read_idx_pair(*files)
    if spec.transpose:
        images = np.ascontiguousarray(images.transpose(0, 2, 1, 3))
    labels = labels + spec.label_offset
    part = _slice(split, len(labels))
    images, labels = images[part], labels[part]
    info = DatasetInfo(
        name, images.shape[1:], len(spec.class_names), spec.class_names, len(labels), f"IDX files in {directory}"
    )
    return tf.data.Dataset.from_tensor_slices((images, labels)), info


# --- image folders ----------------------------------------------------------------------


def _folder_split_dir(root: str, base: str) -> str:
    for sub in {"train": ("train",), "test": ("test", "val", "validation"), "validation": ("val", "validation")}.get(
        base, (base,)
    ):
        if os.path.isdir(os.path.join(root, sub)):
            return os.path.join(root, sub)
    if base == "train":
        return root
    raise ValueError(f"folder dataset {root}: no {base!r} split (expected a {base}/ sub-directory)")


def _load_folder(data_dir: str | None, split: str, image_size=None, channels: int = 3):
    if not data_dir or not os.path.isdir(data_dir):
        raise ValueError(f"folder dataset: data_dir must be a directory of class sub-directories; got {data_dir!r}")
    directory = _folder_split_dir(data_dir, parse_split(split)[0])
    class_names = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
    class_names = [c for c in class_names if c not in ("train", "test", "val", "validation")]
    if not class_names:
        raise ValueError(f"folder dataset {directory}: no class sub-directories")
    paths, labels = [], []
    for label, cls in enumerate(class_names):
        for root, _, files in sorted(os.walk(os.path.join(directory, cls))):
            for f in sorted(files):
                if f.lower().endswith(IMAGE_EXTENSIONS):
                    paths.append(os.path.join(root, f))
                    labels.append(label)
    if not paths:
        raise ValueError(f"folder dataset {directory}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    part = _slice(split, len(paths))
    paths, labels = paths[part], np.asarray(labels[part], np.int64)
    if image_size is None:
        first = tf.io.decode_image(tf.io.read_file(paths[0]), channels=channels, expand_animations=False)
        image_size = tuple(first.shape[:2])
    height, width = image_size

    def read(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        image = tf.image.resize(image, (height, width), antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    ds = tf.data.Dataset.from_tensor_slices((paths, labels)).map(read, num_parallel_calls=tf.data.AUTOTUNE)
    info = DatasetInfo(
        "folder",
        (height, width, channels),
        len(class_names),
        tuple(class_names),
        len(paths),
        f"image folders in {directory}",
    )
    return ds, info


# --- synthetic --------------------------------------------------------------------------


def _load_synthetic(
    split: str, image_shape=(28, 28, 1), num_classes: int = 10, num_examples: int = 1024, seed: int = 0
):
    """Each class is a fixed random 8x8 pattern, upsampled, plus per-example noise: learnable, cheap."""
    height, width, channels = image_shape
    base = parse_split(split)[0]
    prototypes = np.random.default_rng(seed).uniform(0, 255, (num_classes, 8, 8, channels)).astype("float32")
    prototypes = tf.image.resize(prototypes, (height, width), method="nearest")
    split_seed = sum(map(ord, base))
    part = _slice(split, num_examples)

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


def _load_tfds(name: str, split: str, data_dir: str | None, download: bool = True):
    import tensorflow_datasets as tfds

    ds, tinfo = tfds.load(name, split=split, data_dir=data_dir, as_supervised=True, with_info=True, download=download)
    label = tinfo.features[tinfo.supervised_keys[1]]
    image = tinfo.features[tinfo.supervised_keys[0]]
    ds = ds.map(lambda x, y: (tf.cast(x, tf.uint8), tf.cast(y, tf.int64)), num_parallel_calls=tf.data.AUTOTUNE)
    try:
        num_examples = tinfo.splits[split].num_examples
    except (KeyError, ValueError):
        num_examples = None
    info = DatasetInfo(
        name,
        tuple(image.shape),
        label.num_classes,
        tuple(label.names),
        num_examples,
        f"tensorflow-datasets {name} ({data_dir or tfds.core.constants.DATA_DIR})",
    )
    return ds, info


# --- entry point ------------------------------------------------------------------------


def describe(name: str, split: str = "train", *, data_dir: str | None = None, **kwargs) -> DatasetInfo:
    """The DatasetInfo of ``load(name, split, ...)`` without reading the data (for argument checks).

    Unknown names raise ValueError. tfds names need the dataset's metadata, which tfds
    has in code for its catalog; ``num_examples`` is None where it is not known yet.
    """
    if name == "synthetic":
        return _load_synthetic(split, **kwargs)[1]
    if name == "folder":
        return _load_folder(data_dir, split, **kwargs)[1]
    if name in IDX_DATASETS:
        spec = IDX_DATASETS[name]
        return DatasetInfo(name, spec.image_shape, len(spec.class_names), spec.class_names, None, "IDX files")
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception:  # noqa: BLE001 - tfds raises several types for unknown names
        local = ["synthetic", "folder", *IDX_DATASETS]
        close = difflib.get_close_matches(name, local + list(tfds.list_builders()), n=4, cutoff=0.6)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise ValueError(
            f"unknown dataset {name!r}: not one of {', '.join(local)} nor a tensorflow-datasets name{hint}"
        ) from None
    keys = builder.info.supervised_keys
    if not keys:
        raise ValueError(f"dataset {name!r}: tensorflow-datasets defines no (image, label) supervised keys for it")
    image, label = builder.info.features[keys[0]], builder.info.features[keys[1]]
    return DatasetInfo(
        name, tuple(image.shape), label.num_classes, tuple(label.names), None, f"tensorflow-datasets {name}"
    )


def load(name: str, split: str = "train", *, data_dir: str | None = None, with_info: bool = False, **kwargs):
    """A ``tf.data.Dataset`` of ``(uint8 image HxWxC, int64 label)`` (and its DatasetInfo).

    ``kwargs`` go to the source: ``image_size``/``channels`` for ``folder``;
    ``image_shape``/``num_classes``/``num_examples``/``seed`` for ``synthetic``;
    ``download`` for tfds names.
    """
    if name == "synthetic":
        ds, info = _load_synthetic(split, **kwargs)
    elif name == "folder":
        ds, info = _load_folder(data_dir, split, **kwargs)
    elif name in IDX_DATASETS:
        directory, searched = find_idx_dir(name, data_dir, parse_split(split)[0])
        if directory is not None:
            ds, info = _load_idx(name, directory, split)
        else:
            tfds_name = IDX_DATASETS[name].tfds_name
            log.warning(
                "%s: no IDX files in %s; falling back to tensorflow-datasets %r (downloads on first use)",
                name,
                ", ".join(searched),
                tfds_name,
            )
            ds, info = _load_tfds(tfds_name, split, data_dir, **kwargs)
    else:
        ds, info = _load_tfds(name, split, data_dir, **kwargs)
    return (ds, info) if with_info else ds
