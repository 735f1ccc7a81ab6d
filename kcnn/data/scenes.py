"""fashion_scenes: an offline segmentation benchmark composed of real Fashion-MNIST images.

Each example is a 64x64x1 uint8 canvas, black, holding 1 to 4 Fashion-MNIST items
(28x28) pasted at random positions wholly inside it, and a 64x64 uint8 mask. Items are
pasted in order and may overlap, the later on top: where an item's pixel is > 0 it
replaces the canvas pixel. A pixel's label is the class + 1 of the item whose pixel is
visible there, where that pixel is brighter than ``THRESHOLD`` (> 32 of 255: the faint
fringe of an item is background), and 0 (background) everywhere else: 11 classes,
``CLASS_NAMES``.

It is a composite of real images, not a natural-image benchmark: its numbers say how well
a network separates and labels clothing silhouettes on a black ground, nothing about
photographs. Canvases of the ``train`` split use only items of Fashion-MNIST's training
split, ``test`` canvases only items of its test split.

Canvas ``i`` of a split is a pure function of (seed, split, i): its item count, item
indices and positions come from 13 raw 64-bit draws of NumPy's PCG64 bit generator, which
NumPy keeps bit-stable across versions and machines (the Generator methods above it it
does not promise to keep), seeded by ``SeedSequence([seed, split])`` and advanced to
draw ``13 * i``. So the same seed gives the same bytes everywhere, a slice ``train[:1000]``
is the first 1,000 canvases of ``train`` whatever ``num_examples`` is, and nothing is
generated before it is read: canvases are rendered 512 at a time, vectorised, inside the
tf.data pipeline.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from kcnn.data.idx import read_idx_header, read_idx_pair
from kcnn.data.info import DatasetInfo, check_split_name, split_slice

__all__ = [
    "CLASS_NAMES",
    "SCENE_SPLITS",
    "SceneLayout",
    "THRESHOLD",
    "load_scenes",
    "render_scenes",
    "scene_layout",
    "scenes_info",
]

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CLASS_NAMES = ("background", *FASHION_CLASSES)
SCENE_SPLITS = {"train": 20_000, "test": 2_000}  # split -> default number of canvases
CANVAS = 64
ITEM = 28
MAX_ITEMS = 4
THRESHOLD = 32  # an item pixel > THRESHOLD is labelled with the item's class; dimmer ones are background
_DRAWS = 1 + 3 * MAX_ITEMS  # item count, then (source index, top, left) per slot
_STREAMS = {"train": 0, "test": 1}
_CHUNK = 512  # canvases rendered per call inside the pipeline


@dataclasses.dataclass(frozen=True)
class SceneLayout:
    """What canvases ``first .. first + len(counts) - 1`` of a split hold.

    ``indices[i, k]`` is the index in Fashion-MNIST's ``source`` split of the k-th item pasted
    on canvas i (bottom first), at ``tops[i, k]``, ``lefts[i, k]``; -1 in slots ``k >= counts[i]``.
    """

    source: str
    first: int
    counts: np.ndarray
    indices: np.ndarray
    tops: np.ndarray
    lefts: np.ndarray


def scene_layout(split: str, num_items: int, start: int, stop: int, seed: int = 0) -> SceneLayout:
    """The layout of canvases ``start .. stop - 1`` of ``split`` ("train" or "test"), whose
    Fashion-MNIST source split holds ``num_items`` items."""
    bits = np.random.PCG64(np.random.SeedSequence([seed, _STREAMS[split]]))
    bits.advance(start * _DRAWS)
    raw = bits.random_raw(max(0, stop - start) * _DRAWS).reshape(-1, _DRAWS) >> np.uint64(32)

    def below(column, bound: int) -> np.ndarray:  # uniform integers 0 .. bound - 1 from 32 random bits
        return ((raw[:, column] * np.uint64(bound)) >> np.uint64(32)).astype(np.int64)

    counts = 1 + below(slice(0, 1), MAX_ITEMS)[:, 0]
    slots = np.arange(MAX_ITEMS)
    unused = slots[None, :] >= counts[:, None]
    positions = CANVAS - ITEM + 1
    indices = np.where(unused, -1, below(slice(1, _DRAWS, 3), num_items))
    tops = np.where(unused, -1, below(slice(2, _DRAWS, 3), positions))
    lefts = np.where(unused, -1, below(slice(3, _DRAWS, 3), positions))
    return SceneLayout(split, start, counts, indices, tops, lefts)


def render_scenes(layout: SceneLayout, items: np.ndarray, item_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 canvases (n, 64, 64, 1), uint8 masks (n, 64, 64)) of ``layout``, pasting
    ``items`` (N, 28, 28) of classes ``item_labels`` (N,) from its source split."""
    n = len(layout.counts)
    canvas = np.zeros((n, CANVAS, CANVAS), np.uint8)
    mask = np.zeros((n, CANVAS, CANVAS), np.uint8)
    offsets = np.arange(ITEM)
    for k in range(MAX_ITEMS):
        on = np.nonzero(layout.counts > k)[0]
        source = layout.indices[on, k]
        item = items[source]
        label = (item_labels[source] + 1).astype(np.uint8)[:, None, None]
        rows = (layout.tops[on, k][:, None] + offsets)[:, :, None]
        cols = (layout.lefts[on, k][:, None] + offsets)[:, None, :]
        where = (on[:, None, None], rows, cols)
        shown = item > 0
        canvas[where] = np.where(shown, item, canvas[where])
        mask[where] = np.where(shown, np.where(item > THRESHOLD, label, 0), mask[where])
    return canvas[..., None], mask


def _check_arguments(num_examples, seed) -> None:
    if num_examples is not None and (
        isinstance(num_examples, bool) or not isinstance(num_examples, int) or num_examples < 1
    ):
        raise ValueError(f"fashion_scenes: num_examples must be a positive integer or None; got {num_examples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"fashion_scenes: seed must be a non-negative integer; got {seed!r}")


def scenes_info(split: str, files: tuple[str, str], num_examples: int | None = None, seed: int = 0) -> DatasetInfo:
    """The DatasetInfo of ``load_scenes`` with the same arguments, generating nothing.

    ``files``: the (images, labels) IDX files of Fashion-MNIST's split of the same name."""
    _check_arguments(num_examples, seed)
    base = check_split_name(split, tuple(SCENE_SPLITS), "fashion_scenes")
    part = split_slice(split, num_examples or SCENE_SPLITS[base])
    read_idx_header(files[0])  # a file that is not IDX fails here, before any work
    return DatasetInfo(
        "fashion_scenes",
        (CANVAS, CANVAS, 1),
        len(CLASS_NAMES),
        CLASS_NAMES,
        max(0, part.stop - part.start),
        f"composite of real Fashion-MNIST {base} images ({files[0]}), seed {seed}",
        task="segmentation",
    )


def load_scenes(split: str, files: tuple[str, str], num_examples: int | None = None, seed: int = 0):
    """``(tf.data.Dataset of (uint8 image (64, 64, 1), uint8 mask (64, 64)), DatasetInfo)``.

    ``num_examples``: canvases in the whole split (default 20,000 train, 2,000 test), before
    ``split``'s slice; ``seed`` picks another set of canvases."""
    info = scenes_info(split, files, num_examples, seed)
    base = check_split_name(split, tuple(SCENE_SPLITS), "fashion_scenes")
    part = split_slice(split, num_examples or SCENE_SPLITS[base])
    items, item_labels = read_idx_pair(*files)
    items = items[..., 0]
    stop = max(part.start, part.stop)

    def render(start):
        layout = scene_layout(base, len(items), int(start), min(int(start) + _CHUNK, stop), seed)
        return render_scenes(layout, items, item_labels)

    def chunk(start):
        images, masks = tf.numpy_function(render, [start], (tf.uint8, tf.uint8), stateful=False)
        return tf.ensure_shape(images, (None, CANVAS, CANVAS, 1)), tf.ensure_shape(masks, (None, CANVAS, CANVAS))

    ds = tf.data.Dataset.range(part.start, stop, _CHUNK).map(chunk).unbatch()
    return ds.apply(tf.data.experimental.assert_cardinality(info.num_examples)), info
