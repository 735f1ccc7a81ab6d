"""fashion_scenes: deterministic, sliceable, train and test items apart, the label rule."""

import gzip
import os

import numpy as np
import pytest

from kcnn import data as kdata
from kcnn.data import scenes, sources
from tests.data.test_idx import idx_bytes

pytestmark = pytest.mark.tf_only


def arrays(split, **kwargs):
    ds = kdata.load("fashion_scenes", split, **kwargs)
    images, masks = zip(*((x.numpy(), y.numpy()) for x, y in ds))
    return np.stack(images), np.stack(masks)


def fake_fashion_dir(root, train_items, test_items):
    """IDX files of the given (images, labels) as Fashion-MNIST's train and test splits."""
    os.makedirs(root, exist_ok=True)
    for stem, (images, labels) in (("train", train_items), ("t10k", test_items)):
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            with gzip.open(os.path.join(root, f"{stem}-{kind}-ubyte.gz"), "wb") as f:
                f.write(idx_bytes(np.asarray(array, np.uint8)))
    return str(root)


def striped_items(n, bright):
    """n items of class k % 10: a faint (20) left half, a bright (bright + class) right half."""
    labels = np.arange(n) % 10
    items = np.zeros((n, 28, 28), np.uint8)
    items[:, 4:24, 4:14] = 20
    items[:, 4:24, 14:24] = (bright + labels)[:, None, None]
    return items, labels


def test_same_canvases_every_time_and_slices_are_parts_of_the_split(fashion_mnist_dir):
    images, masks = arrays("train[:24]")
    again, again_masks = arrays("train[:24]")
    assert np.array_equal(images, again) and np.array_equal(masks, again_masks)
    part, part_masks = arrays("train[20:24]")
    assert np.array_equal(part, images[20:]) and np.array_equal(part_masks, masks[20:])
    other, _ = arrays("train[:24]", seed=1)
    assert not np.array_equal(other, images)
    assert images.shape == (24, 64, 64, 1) and images.dtype == np.uint8 and masks.shape == (24, 64, 64)


def test_canvases_hold_one_to_four_real_items_pasted_whole(fashion_mnist_dir):
    items, labels = kdata.read_idx_pair(
        os.path.join(fashion_mnist_dir, "t10k-images-idx3-ubyte.gz"),
        os.path.join(fashion_mnist_dir, "t10k-labels-idx1-ubyte.gz"),
    )
    layout = scenes.scene_layout("test", len(items), 0, 64)
    assert set(layout.counts) == {1, 2, 3, 4}
    images, masks = arrays("test[:64]")
    for i in np.nonzero(layout.counts == 1)[0][:5]:
        top, left, k = layout.tops[i, 0], layout.lefts[i, 0], layout.indices[i, 0]
        assert np.array_equal(images[i, top : top + 28, left : left + 28, 0], items[k, ..., 0])
        expected = np.where(items[k, ..., 0] > scenes.THRESHOLD, labels[k] + 1, 0)
        assert np.array_equal(masks[i, top : top + 28, left : left + 28], expected)
        assert images[i].sum() == items[k].sum()  # nothing outside the item


def test_label_rule_on_the_real_canvases(fashion_mnist_dir):
    images, masks = arrays("test[:64]")
    assert np.all(masks[images[..., 0] <= scenes.THRESHOLD] == 0)
    assert np.all(masks[images[..., 0] > scenes.THRESHOLD] > 0)
    assert masks.max() <= 10 and kdata.describe("fashion_scenes", "test").num_classes == 11


def test_train_canvases_use_train_items_only_and_test_canvases_test_items_only(tmp_path):
    root = fake_fashion_dir(tmp_path / "fashion-mnist", striped_items(50, 100), striped_items(30, 200))
    train, train_masks = arrays("train[:40]", data_dir=root)
    test, test_masks = arrays("test[:40]", data_dir=root)
    assert set(np.unique(train)) <= {0, 20, *range(100, 110)} and train.max() >= 100
    assert set(np.unique(test)) <= {0, 20, *range(200, 210)} and test.max() >= 200
    # the label rule, the later item on top: the visible pixel decides (faint -> background)
    for images, masks, bright in ((train, train_masks, 100), (test, test_masks, 200)):
        visible = images[..., 0].astype(int)
        assert np.array_equal(masks, np.where(visible >= bright, visible - bright + 1, 0))
    assert len(np.unique(train_masks)) > 5


def test_bad_arguments_name_what_is_wrong(tmp_path, fashion_mnist_dir, monkeypatch):
    with pytest.raises(kdata.DataArgumentError, match="no split 'validation'") as err:
        kdata.describe("fashion_scenes", "validation")
    assert err.value.argument == "split"
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(sources, "SYSTEM_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("KCNN_DATA_DIR", raising=False)
    with pytest.raises(kdata.DataArgumentError, match="Fashion-MNIST's IDX files") as err:
        kdata.load("fashion_scenes", "train", data_dir=str(tmp_path / "empty"))
    assert err.value.argument == "data_dir"
    with pytest.raises(kdata.DataArgumentError, match="split 'train\\[:2'"):
        kdata.describe("fashion_scenes", "train[:2")
