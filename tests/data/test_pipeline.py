import keras
import numpy as np
import pytest
import tensorflow as tf

from kcnn import data as kdata

pytestmark = pytest.mark.tf_only


def toy(n=64, shape=(4, 4, 1)):
    images = np.random.default_rng(0).integers(0, 256, size=(n, *shape), dtype=np.uint8)
    return tf.data.Dataset.from_tensor_slices((images, np.arange(n, dtype=np.int64))), images


def batches(ds):
    return [(x.copy(), y.copy()) for x, y in ds.as_numpy_iterator()]


def same(a, b):
    return len(a) == len(b) and all(
        np.array_equal(x1, x2) and np.array_equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b)
    )


def test_same_seed_same_batches_including_augmentation():
    ds, _ = toy()
    make = lambda seed, epoch=0: batches(
        kdata.make_pipeline(ds, batch_size=8, training=True, seed=seed, epoch=epoch, augment=["flip"])
    )  # noqa: E731
    assert same(make(7), make(7))
    assert not same(make(7), make(8))
    assert not same(make(7, epoch=0), make(7, epoch=1))


def test_every_example_once_per_epoch_and_evaluation_keeps_order():
    ds, images = toy()
    train = batches(kdata.make_pipeline(ds, batch_size=10, training=True, seed=1))
    labels = np.concatenate([y for _, y in train])
    assert sorted(labels.tolist()) == list(range(64)) and labels.tolist() != list(range(64))
    evaluation = batches(kdata.make_pipeline(ds, batch_size=10))
    assert np.concatenate([y for _, y in evaluation]).tolist() == list(range(64))
    np.testing.assert_array_equal(np.concatenate([x for x, _ in evaluation]), images.astype(np.float32))


def test_flip_mirrors_some_images_horizontally_in_training_only():
    ds, images = toy()
    out = batches(kdata.make_pipeline(ds, batch_size=64, training=True, seed=3, augment=["flip"], shuffle_buffer=1))
    x = out[0][0]
    flipped = [np.array_equal(x[i], images[i, :, ::-1].astype(np.float32)) for i in range(64)]
    kept = [np.array_equal(x[i], images[i].astype(np.float32)) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept)) and 10 < sum(flipped) < 54
    evaluation = batches(kdata.make_pipeline(ds, batch_size=64, augment=["flip"]))
    np.testing.assert_array_equal(evaluation[0][0], images.astype(np.float32))


def test_mean_subtraction_uses_the_training_split_mean():
    ds, images = toy(shape=(4, 4, 3))
    layer, stats = kdata.fit_normalization("mean", ds, channels=3)
    want_mean = images.reshape(-1, 3).astype(np.float64).mean(0)
    np.testing.assert_allclose(stats["mean"], want_mean, rtol=1e-12)
    out = keras.ops.convert_to_numpy(layer(images.astype(np.float32)))
    np.testing.assert_allclose(out, (images - want_mean) / 255.0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), 0.0, atol=1e-6)


def test_standardization_gives_zero_mean_unit_variance():
    ds, images = toy(shape=(4, 4, 3))
    layer, _ = kdata.fit_normalization("standardize", ds, channels=3)
    out = keras.ops.convert_to_numpy(layer(images.astype(np.float32))).reshape(-1, 3)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1.0, atol=1e-4)


def test_normalization_travels_with_a_saved_model(tmp_path):
    layer = kdata.normalization_layer("mean", 1, mean=[100.0])
    x = keras.Input((2, 2, 1))
    model = keras.Model(x, layer(x))
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(np.full((1, 2, 2, 1), 355.0, "float32"))), 1.0)


def test_pad_resize_and_channels():
    ds, _ = toy(shape=(28, 28, 1))
    padded = next(iter(kdata.make_pipeline(ds, batch_size=2, image_size=(32, 32), channels=3)))[0]
    assert padded.shape == (2, 32, 32, 3)
    assert float(tf.reduce_max(padded[:, :2])) == 0.0  # zero border
    resized = next(iter(kdata.make_pipeline(ds, batch_size=2, image_size=(14, 14), resize="bilinear")))[0]
    assert resized.shape == (2, 14, 14, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size must be positive"),
        ({"batch_size": 2, "resize": "cubic"}, "resize must be one of"),
        ({"batch_size": 2, "training": True, "augment": ["rotate"]}, "unknown augmentation 'rotate'"),
    ],
)
def test_bad_arguments(kwargs, message):
    ds, _ = toy()
    with pytest.raises(ValueError, match=message):
        kdata.make_pipeline(ds, **kwargs)


def test_unknown_normalization():
    with pytest.raises(ValueError, match="normalization must be one of"):
        kdata.normalization_layer("whiten", 1)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_parallel_calls_must_be_a_positive_integer(bad):
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 1), np.uint8), np.zeros(4, np.int64)))
    with pytest.raises(ValueError, match="parallel_calls must be a positive integer"):
        kdata.make_pipeline(ds, batch_size=2, parallel_calls=bad)
    assert len(list(kdata.make_pipeline(ds, batch_size=2, parallel_calls=1))) == 2


@pytest.mark.parametrize("resize", ["pad", "bilinear"])
def test_masks_are_fitted_with_their_images_nearest(resize):
    images = np.arange(2 * 6 * 6, dtype=np.uint8).reshape(2, 6, 6, 1)
    masks = (images[..., 0] % 7).astype(np.uint8)
    ds = tf.data.Dataset.from_tensor_slices((images, masks))
    x, y = next(iter(kdata.make_pipeline(ds, batch_size=2, image_size=(12, 12), resize=resize, channels=3)))
    assert x.shape == (2, 12, 12, 3) and y.shape == (2, 12, 12) and y.dtype == tf.uint8
    if resize == "pad":
        assert np.array_equal(y.numpy()[:, 3:9, 3:9], masks) and y.numpy()[:, :3].max() == 0
    else:  # nearest: every 6x6 pixel becomes a 2x2 block
        assert np.array_equal(y.numpy()[:, ::2, ::2], masks)
