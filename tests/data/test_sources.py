import gzip
import logging
import os
import re
import shutil

import numpy as np
import pytest

from kcnn import data as kdata
from kcnn.data import sources
from tests.data.test_idx import idx_bytes

pytestmark = pytest.mark.tf_only


def make_idx_dir(root, n_train=6, n_test=4, value=0):
    os.makedirs(root, exist_ok=True)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        images = np.full((n, 28, 28), value, np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        with gzip.open(os.path.join(root, f"{stem}-images-idx3-ubyte.gz"), "wb") as f:
            f.write(idx_bytes(images))
        with gzip.open(os.path.join(root, f"{stem}-labels-idx1-ubyte.gz"), "wb") as f:
            f.write(idx_bytes(labels))
    return str(root)


@pytest.fixture
def no_tfds(monkeypatch):
    """Fail loudly instead of reaching tensorflow-datasets' download."""
    calls = []

    def refuse(name, split, data_dir, **kw):
        calls.append(name)
        raise ConnectionError(f"test: tfds download of {name} refused")

    monkeypatch.setattr(sources, "_load_tfds", refuse)
    return calls


def test_fashion_mnist_from_the_debian_package(fashion_mnist_dir, no_tfds):
    ds, info = kdata.load("fashion_mnist", "test", with_info=True)
    assert info.num_examples == 10_000 and info.image_shape == (28, 28, 1) and info.num_classes == 10
    assert info.class_names[0] == "T-shirt/top" and fashion_mnist_dir in info.source
    image, label = next(iter(ds))
    assert image.dtype.name == "uint8" and image.shape == (28, 28, 1) and label.dtype.name == "int64"
    assert not no_tfds


def test_search_order_is_data_dir_then_env_then_system(tmp_path, monkeypatch, no_tfds):
    explicit = make_idx_dir(tmp_path / "explicit" / "fashion-mnist", value=1)
    env = make_idx_dir(tmp_path / "env" / "fashion_mnist", value=2)
    monkeypatch.setenv("KCNN_DATA_DIR", str(tmp_path / "env"))

    def first_pixel(**kw):
        return int(next(iter(kdata.load("fashion_mnist", "train", **kw)))[0][0, 0, 0])

    assert first_pixel(data_dir=str(tmp_path / "explicit")) == 1
    assert first_pixel(data_dir=explicit) == 1
    assert first_pixel() == 2
    shutil.rmtree(env)
    assert kdata.find_idx_dir("fashion_mnist")[0] == "/usr/share/datasets/fashion-mnist"


def test_fallback_to_tfds_says_where_it_looked(tmp_path, monkeypatch, caplog, no_tfds):
    monkeypatch.setenv("KCNN_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(sources, "SYSTEM_DATA_DIR", str(tmp_path / "system"))
    (tmp_path / "mine").mkdir()
    with caplog.at_level(logging.WARNING, logger="kcnn.data"), pytest.raises(ConnectionError):
        kdata.load("kmnist", "train", data_dir=str(tmp_path / "mine"))
    assert no_tfds == ["kmnist"]
    message = caplog.records[0].getMessage()
    for place in ("mine", "mine/kmnist", "env/kmnist", "system/kmnist"):
        assert str(tmp_path / place) in message
    assert "falling back to tensorflow-datasets" in message


def test_split_slicing(fashion_mnist_dir):
    head = kdata.load("fashion_mnist", "test[:100]")
    tail = kdata.load("fashion_mnist", "test[90%:]")
    assert int(head.cardinality()) == 100 and int(tail.cardinality()) == 1000
    full = list(kdata.load("fashion_mnist", "test").skip(9000).take(3).as_numpy_iterator())
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(full, tail.take(3).as_numpy_iterator()))
    with pytest.raises(ValueError, match="expected NAME or NAME"):
        kdata.load("fashion_mnist", "test[::2]")


def test_image_folders(tmp_path):
    from PIL import Image

    for split, n in (("train", 3), ("test", 2)):
        for cls, color in (("cat", 10), ("dog", 200)):
            os.makedirs(tmp_path / split / cls)
            for i in range(n):
                Image.fromarray(np.full((12, 10, 3), color, np.uint8)).save(tmp_path / split / cls / f"{i}.png")
    ds, info = kdata.load("folder", "train", data_dir=str(tmp_path), with_info=True)
    assert info.class_names == ("cat", "dog") and info.num_examples == 6 and info.image_shape == (12, 10, 3)
    examples = list(ds.as_numpy_iterator())
    assert [int(y) for _, y in examples] == [0, 0, 0, 1, 1, 1]
    assert examples[0][0].dtype == np.uint8 and int(examples[-1][0][0, 0, 0]) == 200
    test, tinfo = kdata.load("folder", "test", data_dir=str(tmp_path), image_size=(6, 5), with_info=True)
    assert tinfo.num_examples == 4 and next(iter(test))[0].shape == (6, 5, 3)
    with pytest.raises(kdata.DataArgumentError, match="missing does not exist") as err:
        kdata.load("folder", "train", data_dir=str(tmp_path / "missing"))
    assert err.value.argument == "data_dir"
    with pytest.raises(kdata.DataArgumentError, match="unknown split 'tset'; splits: train, test, validation"):
        kdata.load("folder", "tset", data_dir=str(tmp_path))


def test_synthetic_is_deterministic_and_learnable():
    ds, info = kdata.load(
        "synthetic", "train", image_shape=(16, 16, 3), num_classes=4, num_examples=400, with_info=True
    )
    a = list(ds.as_numpy_iterator())
    b = list(
        kdata.load("synthetic", "train", image_shape=(16, 16, 3), num_classes=4, num_examples=400).as_numpy_iterator()
    )
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(a, b))
    assert info.image_shape == (16, 16, 3) and info.num_examples == 400
    # The rule is learnable: nearest class mean classifies held-out examples well.
    x = np.stack([e[0] for e in a]).reshape(400, -1).astype(float)
    y = np.array([e[1] for e in a])
    means = np.stack([x[:300][y[:300] == c].mean(0) for c in range(4)])
    predicted = np.argmin(((x[300:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert (predicted == y[300:]).mean() > 0.9


def test_describe_reads_no_data_and_rejects_unknown_names():
    info = kdata.describe("fashion_mnist")
    assert info.image_shape == (28, 28, 1) and info.num_classes == 10
    with pytest.raises(ValueError, match=r"unknown dataset 'no_such_set'"):
        kdata.describe("no_such_set")


def test_tfds_catalog_names_go_through_tfds_load(monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(sources, "_network_reachable", lambda timeout=3.0: True)  # "downloadable": the mock serves it
    with tfds.testing.mock_data(num_examples=5):
        ds, info = kdata.load("cifar10", "train", with_info=True)
        examples = list(ds.as_numpy_iterator())
    assert len(examples) == 5 and examples[0][0].shape == (32, 32, 3) and examples[0][0].dtype == np.uint8
    assert info.num_classes == 10 and "tensorflow-datasets" in info.source


def test_describe_counts_idx_examples_from_the_headers():
    assert kdata.describe("fashion_mnist", "train").num_examples == 60_000
    assert kdata.describe("fashion_mnist", "train[:10%]").num_examples == 6_000
    assert kdata.describe("fashion_mnist", "test[9000:]").num_examples == 1_000


@pytest.mark.parametrize(
    "name, split, words",
    [
        (
            "fashion_mnist",
            "trian[:2000]",
            "fashion_mnist has no split 'trian' (did you mean 'train'?); its splits: train, test",
        ),
        ("fashion_mnist", "validation", "its splits: train, test"),
        ("synthetic", "tran", "synthetic has no split 'tran'"),
    ],
)
def test_unknown_split_names_are_refused(name, split, words):
    for call in (kdata.describe, kdata.load):
        with pytest.raises(kdata.DataArgumentError, match=re.escape(words)) as err:
            call(name, split)
        assert err.value.argument == "split"


def test_a_given_data_dir_must_exist(tmp_path):
    with pytest.raises(kdata.DataArgumentError, match="nowhere does not exist") as err:
        kdata.load("fashion_mnist", "train", data_dir=str(tmp_path / "nowhere"))
    assert err.value.argument == "data_dir"


def test_offline_tfds_fails_at_once_naming_the_places_searched(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "_network_reachable", lambda timeout=3.0: False)
    monkeypatch.setenv("KCNN_DATA_DIR", str(tmp_path))
    with pytest.raises(kdata.DataArgumentError, match="there is no network") as err:
        kdata.describe("kmnist", "train")
    assert str(tmp_path / "kmnist") in str(err.value) and err.value.argument == "name"


def test_unknown_names_list_the_closest_not_the_catalog():
    with pytest.raises(kdata.DataArgumentError) as err:
        kdata.load("fashon_mnist")
    assert "closest: fashion_mnist" in str(err.value) and len(str(err.value)) < 300


def test_oxford_iiit_pet_maps_the_trimap_as_keras_tutorial_does(monkeypatch):
    """tfds' Oxford-IIIT Pet, served by tfds' mock with a hand-made trimap (no download): pet
    (1) -> class 1, background (2) -> class 0, border (3) -> the ignore label; 128x128."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    trimap = np.full((60, 80, 1), 2, np.uint8)
    trimap[10:40, 20:60] = 3
    trimap[15:35, 25:55] = 1
    image = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)

    def as_dataset(self, split, **kwargs):
        return tf.data.Dataset.from_tensors({"image": image, "segmentation_mask": trimap})

    monkeypatch.setattr(sources, "_network_reachable", lambda timeout=3.0: True)
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        ds, info = kdata.load("oxford_iiit_pet", "train", with_info=True)
        (x, mask), *rest = list(ds.as_numpy_iterator())
    assert not rest and info.task == "segmentation" and info.class_names == ("background", "pet")
    assert info.ignore_label == 255 and info.image_shape == (128, 128, 3)
    assert x.shape == (128, 128, 3) and x.dtype == np.uint8 and mask.shape == (128, 128)
    want = np.asarray(tf.image.resize(trimap, (128, 128), method="nearest"))[..., 0]
    np.testing.assert_array_equal(mask, np.choose(want, [255, 1, 0, 255]))
    assert set(np.unique(mask)) == {0, 1, 255}
