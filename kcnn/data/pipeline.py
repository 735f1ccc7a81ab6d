"""The tf.data input pipeline: cache, seeded shuffle, parallel map, batch, augment, prefetch.

Examples come in as ``(uint8 HxWxC image, int64 label)`` from :func:`kcnn.data.load` and
leave as batches of ``(float32 images in 0..255, int64 labels)`` -- or float32 one-hot
labels with ``num_classes`` (needed by mixup and cutmix). Segmentation masks (an HxW label
beside an HxWxC image) leave as they came, integer masks, fitted to ``image_size`` with
the image (nearest neighbour; "pad" pads them with 0) and moved with it by the geometric
augmentations. Normalization is a
layer stored in the model (kcnn.data.normalization), or applied here via ``normalizer``
for users who want normalized tensors out of the pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import tensorflow as tf

from kcnn.data.augment import build_augmentation, is_mask, makes_soft_labels

__all__ = ["make_pipeline", "fit_images", "RESIZE_MODES", "epoch_seed"]

RESIZE_MODES = ("pad", "bilinear", "nearest")


def epoch_seed(seed: int | None, epoch: int) -> int | None:
    """The seed of epoch ``epoch``'s shuffle and augmentation: a pure function of (seed, epoch),
    so a run resumed at an epoch boundary sees exactly the data an uninterrupted run would."""
    return None if seed is None else (seed * 1_000_003 + epoch) % (2**31 - 1)


def fit_images(image_size, resize: str, channels: int | None, num_classes: int | None = None) -> Callable:
    """``fn(images, labels)`` fitting (batches of) images to a model as the pipeline does: float32,
    gray <-> RGB to ``channels``, padded/cropped or resized to ``image_size``; one-hot labels
    with ``num_classes``; masks (labels of the image's height and width) fitted as their
    images, nearest neighbour. The serving graphs of kcnn.export call it too."""

    def fit_mask(mask, image):
        if image_size is None or tuple(mask.shape[-2:]) == tuple(image_size):
            return mask
        if resize == "pad":
            return tf.image.resize_with_crop_or_pad(mask[..., None], *image_size)[..., 0]
        return tf.cast(tf.image.resize(mask[..., None], image_size, method="nearest")[..., 0], mask.dtype)

    def prepare(image, label):
        if is_mask(image, label):
            return prepare_image(image), fit_mask(label, image)
        if num_classes is not None:
            check = tf.debugging.assert_less(
                label,
                tf.cast(num_classes, label.dtype),
                message=f"make_pipeline: a label is >= num_classes={num_classes}",
            )
            with tf.control_dependencies([check]):
                label = tf.one_hot(label, num_classes, dtype=tf.float32)
        return prepare_image(image), label

    def prepare_image(image):
        image = tf.cast(image, tf.float32)
        if channels is not None and image.shape[-1] != channels:
            if image.shape[-1] == 1:
                image = tf.repeat(image, channels, axis=-1)
            elif channels == 1:
                image = tf.reduce_mean(image, axis=-1, keepdims=True)
            else:
                raise ValueError(f"cannot convert {image.shape[-1]}-channel images to {channels} channels")
        if image_size is not None and tuple(image.shape[-3:-1]) != tuple(image_size):  # works on batches too
            if resize == "pad":
                image = tf.image.resize_with_crop_or_pad(image, *image_size)
            else:
                image = tf.image.resize(image, image_size, method=resize)
        return image

    return prepare


def _output_shape(ds: tf.data.Dataset, image_size, channels) -> tuple:
    """(height, width, channels) of the images leaving the pipeline; None where unknown."""
    shape = tf.nest.flatten(ds.element_spec)[0].shape
    height, width, depth = ([None] * 3 + list(shape))[-3:] if shape.rank is not None else (None, None, None)
    if image_size is not None:
        height, width = (int(s) for s in image_size)
    return height, width, channels if channels is not None else depth


def make_pipeline(
    ds: tf.data.Dataset,
    *,
    batch_size: int,
    training: bool = False,
    seed: int | None = None,
    epoch: int = 0,
    shuffle_buffer: int = 60_000,
    cache: bool = True,
    image_size: Sequence[int] | None = None,
    resize: str = "pad",
    channels: int | None = None,
    augment: Sequence[str] = (),
    normalizer: Callable | None = None,
    drop_remainder: bool = False,
    repeat: bool = False,
    num_classes: int | None = None,
    skip_batches: int = 0,
    parallel_calls: int | None = None,
) -> tf.data.Dataset:
    """Batches for training (shuffled, augmented) or evaluation (in order, untouched).

    ``image_size``/``resize`` fit images to a model ("pad" centres them with zeros or
    crops, the others resample); ``channels`` converts gray <-> RGB. ``augment`` names
    batch augmentations (see kcnn.data.augment), applied only when ``training``.
    ``num_classes``: labels leave as float32 one-hot vectors (training and evaluation);
    required by the label-mixing augmentations (mixup, cutmix).
    ``parallel_calls``: batches prepared at once (default: one per CPU core), two prefetched.
    tf.data's autotuning is off: on a 2-core machine it put a whole training process into a
    half-speed mode in 4 of 7 benchmark runs (lenet5_modern on Fashion-MNIST: 2,500 instead
    of 4,900 images/s), and fixed values gave 0.98-1.01 of in-memory speed in every run.
    Shuffle order and augmentation are a pure function of ``(seed, epoch)``: batch ``b``
    of an epoch always gets the same examples and augmentation. ``skip_batches=k``
    resumes mid-epoch: the epoch's batches after its first ``k``, exactly as an
    uninterrupted pass would have produced them (given a ``seed``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive; got {batch_size}")
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {', '.join(RESIZE_MODES)}; got {resize!r}")
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise ValueError(f"num_classes must be a positive integer or None; got {num_classes!r}")
    if parallel_calls is not None and (
        isinstance(parallel_calls, bool) or not isinstance(parallel_calls, int) or parallel_calls < 1
    ):
        raise ValueError(f"parallel_calls must be a positive integer or None; got {parallel_calls!r}")
    if isinstance(skip_batches, bool) or not isinstance(skip_batches, int) or skip_batches < 0:
        raise ValueError(f"skip_batches must be a non-negative integer; got {skip_batches!r}")
    if makes_soft_labels(augment) and training and num_classes is None:  # also checks every augmentation name
        raise ValueError(
            f"augment {list(augment)!r} mixes labels: pass num_classes so labels leave the pipeline one-hot"
        )
    seed = epoch_seed(seed, epoch)
    augmentation = None
    if training and augment:
        augmentation = build_augmentation(augment, seed=seed, image_shape=_output_shape(ds, image_size, channels))
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=seed is None)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).enumerate()  # batch index counts from the epoch's start
    if skip_batches:
        batches = int(ds.cardinality())
        if not repeat and batches >= 0 and skip_batches > batches:
            raise ValueError(f"skip_batches={skip_batches} but an epoch has only {batches} batches of {batch_size}")
        ds = ds.skip(skip_batches)
    # One vectorised map per batch: per-example maps cost more than the work they do.
    prepare = fit_images(image_size, resize, channels, num_classes)

    @tf.autograph.experimental.do_not_convert
    def batch_map(index, batch):
        x, y = prepare(*batch)
        if augmentation is not None:
            x, y = augmentation(x, y, index)
        if normalizer is not None:
            x = normalizer(x)
        return x, y

    ds = ds.map(batch_map, num_parallel_calls=parallel_calls or os.cpu_count() or 1).prefetch(2)
    options = tf.data.Options()
    options.autotune.enabled = False  # see the docstring
    return ds.with_options(options)
