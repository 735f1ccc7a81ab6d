"""Batch augmentations: each one's effect, determinism under a seed, resumption, bad specs."""

import re

import numpy as np
import pytest
import tensorflow as tf

from kcnn import data as kdata
from kcnn.data import augment as kaug

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("augment")]

# Every augmentation; RandAugment with one op because tracing Keras' RandAugment is slow (~1 s per op).
ALL = ["flip", "crop:2", "erasing", "cutout", "mixup", "cutmix", "randaugment:1:5"]
CHEAP = ALL[:-1]


def dataset(images, labels=None):
    labels = np.arange(len(images), dtype=np.int64) if labels is None else labels
    return tf.data.Dataset.from_tensor_slices((images.astype(np.uint8), labels))


def noise(n=32, shape=(12, 12, 3), low=1, high=255):
    return np.random.default_rng(0).integers(low, high, size=(n, *shape), dtype=np.uint8)


def run(ds, augment, batch_size=32, seed=5, **kwargs):
    """Training batches in source order (shuffle_buffer=1) as numpy (images, labels) pairs."""
    kwargs.setdefault("shuffle_buffer", 1)
    pipe = kdata.make_pipeline(ds, batch_size=batch_size, training=True, seed=seed, augment=augment, **kwargs)
    return [(x.copy(), y.copy()) for x, y in pipe.as_numpy_iterator()]


def same(a, b):
    return len(a) == len(b) and all(
        np.array_equal(x1, x2) and np.array_equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b)
    )


def shifted(image, dy, dx):
    """``image`` moved down dy and right dx pixels, zeros shifted in."""
    h, w = image.shape[:2]
    out = np.zeros_like(image)
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def rectangle(mask):
    """True when the True pixels of a 2-D mask form one filled axis-aligned rectangle."""
    rows, cols = np.nonzero(mask)
    return len(rows) > 0 and (np.ptp(rows) + 1) * (np.ptp(cols) + 1) == len(rows)


# --- each augmentation's effect ------------------------------------------------------------


def test_crop_shifts_each_image_by_at_most_the_padding_with_zeros_in():
    images = noise(n=48)
    (x, _), (x2, _) = run(dataset(images), ["crop:2"])
    x = np.concatenate([x, x2])
    shifts = []
    for out, src in zip(x, images.astype(np.float32)):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if np.array_equal(out, shifted(src, dy, dx))]
        assert len(found) == 1, "every output is its source shifted by whole pixels within the padding"
        shifts.append(found[0])
    assert x.shape == images.shape
    assert len(set(shifts)) >= 12  # drawn per image (25 possible), not one offset per batch


def test_cutout_fills_a_square_of_the_given_fraction_on_every_image():
    images = noise(shape=(12, 12, 3), high=250)
    x, _ = run(dataset(images), ["cutout"])[0]
    for out, src in zip(x, images.astype(np.float32)):
        erased = (out == 0).all(-1)
        assert rectangle(erased) and erased.sum() == 36  # 6x6 = (0.5 * 12)^2
        np.testing.assert_array_equal(out[~erased], src[~erased])
    x, _ = run(dataset(images), ["cutout:0.25:255"])[0]
    assert all(rectangle((out == 255).all(-1)) and (out == 255).all(-1).sum() == 9 for out in x)  # 3x3 of 255


def test_erasing_replaces_a_rectangle_on_about_half_the_images():
    images = noise(n=64, high=250)
    x, _ = run(dataset(images), ["erasing"], batch_size=64)[0]
    erased = 0
    for out, src in zip(x, images.astype(np.float32)):
        changed = (out != src).any(-1)
        if changed.any():
            erased += 1
            assert rectangle(changed) and changed.mean() <= 0.5
            assert ((out[changed] >= 0) & (out[changed] <= 255)).all()
    assert 16 <= erased <= 48
    assert same(run(dataset(images), ["erasing:0"], batch_size=64), run(dataset(images), [], batch_size=64))
    x, _ = run(dataset(images), ["erasing:1"], batch_size=64)[0]
    assert all((out != src).any() for out, src in zip(x, images.astype(np.float32)))


def test_mixup_labels_are_convex_combinations_and_images_the_same_mix():
    values = 10.0 * np.arange(1, 17)
    images = np.broadcast_to(values[:, None, None, None], (16, 4, 4, 3))
    x, y = run(dataset(images), ["mixup:1.0"], batch_size=16, num_classes=16)[0]
    assert y.dtype == np.float32 and y.shape == (16, 16)
    assert (y >= 0).all() and ((y > 0).sum(1) <= 2).all()
    np.testing.assert_allclose(y.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(x, np.broadcast_to((y @ values)[:, None, None, None], x.shape), rtol=1e-5)
    assert (y.max(1) < 0.99).sum() >= 8  # alpha=1: weights ~ U(0, 1), most images really mixed


def test_cutmix_label_weights_equal_the_pasted_area():
    images = np.broadcast_to(np.arange(1, 17, dtype=np.float64)[:, None, None, None], (16, 10, 10, 1))
    x, y = run(dataset(images), ["cutmix"], batch_size=16, num_classes=16)[0]
    np.testing.assert_allclose(y.sum(1), 1.0, atol=1e-6)
    mixed = 0
    for i, (out, label) in enumerate(zip(x[..., 0], y)):
        pasted = out != i + 1
        if pasted.any():
            mixed += 1
            partner = int(out[pasted][0]) - 1
            assert rectangle(pasted) and (out[pasted] == partner + 1).all()
            assert label[i] == pytest.approx(1 - pasted.mean(), abs=1e-6)
            assert label[partner] == pytest.approx(pasted.mean(), abs=1e-6)
        else:
            assert label[i] == pytest.approx(1.0, abs=1e-6)
    assert mixed >= 8


def test_randaugment_changes_images_and_keeps_shape_and_range():
    images = noise(n=16, shape=(16, 16, 3))
    x, y = run(dataset(images), ["randaugment:2:9"], batch_size=16)[0]
    assert x.shape == images.shape and x.dtype == np.float32 and np.isfinite(x).all()
    assert x.min() >= 0 and x.max() <= 255
    assert sum(not np.array_equal(a, b) for a, b in zip(x, images.astype(np.float32))) >= 8
    np.testing.assert_array_equal(y, np.arange(16))
    other = kaug.build_augmentation(["randaugment:2:9"], seed=kdata.epoch_seed(6, 0), image_shape=(16, 16, 3))
    assert not np.array_equal(other(tf.constant(images, tf.float32), tf.constant(y), 0)[0], x)  # another seed


# --- determinism, resumption, evaluation ---------------------------------------------------


def test_stateless_seed_gives_each_draw_its_own_seed_and_repeats_the_sequence():
    first, second = kaug.StatelessSeed(tf.constant([1, 2])), kaug.StatelessSeed(tf.constant([1, 2]))
    draws = [first.next().numpy().tolist() for _ in range(3)]
    assert len({tuple(d) for d in draws}) == 3  # a layer drawing twice must not get the same numbers
    assert draws == [second.next().numpy().tolist() for _ in range(3)]


@pytest.fixture(scope="module")
def toy():
    return dataset(noise(n=40, shape=(8, 8, 3)), np.arange(40, dtype=np.int64) % 10)


@pytest.mark.parametrize("name", CHEAP)  # RandAugment: in the next test, where a second build must agree
def test_same_seed_same_batches_other_seed_differs(toy, name):
    make = lambda seed=3: run(toy, [name], batch_size=8, seed=seed, shuffle_buffer=40, num_classes=10)  # noqa: E731
    first = make()
    assert same(first, make())
    assert not same(first, make(seed=4))


def test_other_epoch_other_augmentation_of_the_same_examples(toy):
    """Shuffling off (buffer 1), so only the augmentation's dependence on the epoch can differ."""
    make = lambda epoch: run(toy, ["crop:2", "mixup"], batch_size=8, seed=3, epoch=epoch, num_classes=10)  # noqa: E731
    assert all(not np.array_equal(x1, x2) for (x1, _), (x2, _) in zip(make(0), make(1)))


def test_augmentation_is_a_pure_function_of_seed_and_batch_index(toy):
    """The parallel pipeline equals the augmentation applied batch by batch, eagerly, in one thread."""
    kwargs = dict(batch_size=8, seed=3, epoch=2, shuffle_buffer=40, num_classes=10)
    augmented, plain = run(toy, ALL, **kwargs), run(toy, [], **kwargs)
    fn = kaug.build_augmentation(ALL, seed=kdata.epoch_seed(3, 2), image_shape=(8, 8, 3))
    again = [tuple(t.numpy() for t in fn(tf.constant(x), tf.constant(y), b)) for b, (x, y) in enumerate(plain)]
    assert same(augmented, again)
    assert not same(augmented, plain)


def test_skip_batches_resumes_mid_epoch_with_the_same_augmentation(toy):
    """With the test above (every augmentation a function of the batch index), this covers them all."""
    kwargs = dict(batch_size=8, seed=3, epoch=1, shuffle_buffer=40, num_classes=10)
    full = run(toy, ["flip", "crop:2", "mixup"], **kwargs)
    assert len(full) == 5 and same(run(toy, ["flip", "crop:2", "mixup"], skip_batches=3, **kwargs), full[3:])
    assert run(toy, ["flip"], skip_batches=5, **kwargs) == []


def test_evaluation_is_never_augmented_and_labels_are_one_hot():
    images = noise(n=20, shape=(8, 8, 3))
    labels = np.arange(20, dtype=np.int64) % 10
    ds = dataset(images, labels)
    out = list(kdata.make_pipeline(ds, batch_size=20, augment=ALL, num_classes=10).as_numpy_iterator())
    np.testing.assert_array_equal(out[0][0], images.astype(np.float32))
    np.testing.assert_array_equal(out[0][1], np.eye(10, dtype=np.float32)[labels])
    _, y = run(ds, ["flip"], batch_size=20, num_classes=10)[0]
    assert y.dtype == np.float32 and (y.sum(1) == 1).all() and sorted(y.argmax(1)) == sorted(labels)
    _, y = run(ds, ["flip"], batch_size=20)[0]
    assert y.dtype == np.int64  # without num_classes labels stay integers


def test_batches_stay_float32_under_a_mixed_precision_policy(toy):
    import keras

    keras.config.set_dtype_policy("mixed_float16")  # the conftest fixture restores float32
    x, y = run(toy, ["flip", "crop:2", "cutmix"], batch_size=8, num_classes=10)[0]
    assert x.dtype == np.float32 and y.dtype == np.float32


def test_a_label_beyond_num_classes_fails_loudly():
    ds = dataset(noise(n=4, shape=(4, 4, 1)), np.array([0, 1, 2, 7], dtype=np.int64))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes=5"):
        list(kdata.make_pipeline(ds, batch_size=4, num_classes=5))


# --- names, parameters and errors ----------------------------------------------------------


def test_parameters_parse_with_defaults_and_soft_label_augmentations_are_named():
    assert kaug.parse_augmentation("crop") == ("crop", (4,))
    assert kaug.parse_augmentation("randaugment:3") == ("randaugment", (3, 9.0))
    assert kaug.parse_augmentation("cutout:0.25:128") == ("cutout", (0.25, 128.0))
    assert {"mixup", "cutmix"} == kdata.SOFT_LABEL_AUGMENTATIONS
    assert kdata.makes_soft_labels(["flip", "mixup:0.4"]) and not kdata.makes_soft_labels(["flip", "crop:4"])


@pytest.mark.parametrize(
    "spec, message",
    [
        ("rotate", "unknown augmentation 'rotate'; choose from flip, crop"),
        ("flip:1", "flip takes no parameters"),
        ("crop:x", "'crop:x': padding must be an integer; got 'x'"),
        ("crop:0", "padding must be >= 1; got 0"),
        ("mixup:0", "alpha must be > 0.0; got 0.0"),
        ("mixup:inf", "alpha must be a number; got 'inf'"),
        ("cutmix:2", "alpha must be > 0.0 and <= 1.0; got 2.0"),
        ("erasing:1.5", "probability must be >= 0.0 and <= 1.0"),
        ("cutout:0.5:300", "fill must be >= 0.0 and <= 255.0"),
        ("randaugment:2:9:1", "at most 2 parameter(s), randaugment:NUM_OPS:MAGNITUDE; got 3"),
        ("randaugment:2.5", "num_ops must be an integer; got '2.5'"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        kaug.parse_augmentation(spec)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"augment": ["mixup"]}, "mixes labels: pass num_classes"),
        ({"augment": ["crop:8"]}, "padding must be smaller than the image (8x8)"),
        ({"skip_batches": -1}, "skip_batches must be a non-negative integer"),
        ({"skip_batches": 6}, "an epoch has only 5 batches"),
        ({"num_classes": 0}, "num_classes must be a positive integer"),
        ({"augment": "flip"}, "must be a list of names"),
    ],
)
def test_bad_pipeline_arguments(toy, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        kdata.make_pipeline(toy, batch_size=8, training=True, seed=1, **kwargs)


def mask_batches(augment, n=16):
    """Images whose mask is the image itself: a geometric augmentation must keep them equal."""
    images = noise(n, (12, 12, 1), low=1, high=250)
    return images[..., 0], run(dataset(images, images[..., 0]), augment, batch_size=n)


@pytest.mark.parametrize("augment", [["flip"], ["crop:3"], ["flip", "crop:2"]])
def test_geometric_augmentations_move_masks_with_their_images(augment):
    original, [(x, y)] = mask_batches(augment)
    assert y.dtype == np.uint8 and y.shape == original.shape
    assert np.array_equal(x[..., 0], y)  # same transform, nearest, both filled with 0
    assert not np.array_equal(y, original)  # something moved


@pytest.mark.parametrize("augment", [["cutout"], ["erasing:1.0"]])
def test_photometric_augmentations_leave_masks_alone(augment):
    original, [(x, y)] = mask_batches(augment)
    assert np.array_equal(y, original) and not np.array_equal(x[..., 0], original)


@pytest.mark.parametrize("name", ["mixup", "cutmix", "randaugment"])
def test_augmentations_that_cannot_keep_masks_aligned_are_refused(name):
    with pytest.raises(ValueError, match=f"augmentation '{name}' cannot keep segmentation masks aligned"):
        kdata.check_mask_augmentations(["flip", name])
    kdata.check_mask_augmentations(list(kdata.MASK_AUGMENTATIONS))
