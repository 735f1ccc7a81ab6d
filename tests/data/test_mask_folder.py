"""mask_folder: images + PNG masks read in pairs; every bad pair named before any training."""

import numpy as np
import pytest
from PIL import Image

from kcnn import data as kdata

pytestmark = pytest.mark.tf_only


def make_folder(root, n=3, size=(8, 10), classes=("background", "cat", "dog")):
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    for split in ("train", "test"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "masks").mkdir(parents=True)
        for i in range(n):
            mask = np.zeros(size, np.uint8)
            mask[: i + 1, :] = i % len(classes)
            mask[-1, -1] = kdata.IGNORE_LABEL
            Image.fromarray(np.full((*size, 3), 40 * i, np.uint8)).save(root / split / "images" / f"p{i}.jpg")
            Image.fromarray(mask).save(root / split / "masks" / f"p{i}.png")
    return root


def test_pairs_read_as_images_and_masks(tmp_path):
    root = make_folder(tmp_path / "d")
    ds, info = kdata.load("mask_folder", "train", data_dir=str(root), with_info=True)
    assert info.task == "segmentation" and info.num_classes == 3 and info.ignore_label == 255
    assert info.image_shape == (8, 10, 3) and info.class_names == ("background", "cat", "dog")
    pairs = [(x.numpy(), y.numpy()) for x, y in ds]
    assert len(pairs) == 3 and pairs[2][0].shape == (8, 10, 3) and pairs[2][1].dtype == np.uint8
    assert np.array_equal(pairs[2][1][:3, 0], [2, 2, 2]) and pairs[2][1][-1, -1] == 255
    assert kdata.describe("mask_folder", "test[:2]", data_dir=str(root)).num_examples == 2


def _break(root, how):
    masks = root / "train" / "masks"
    if how == "missing":
        (masks / "p1.png").unlink()
        return "p1.jpg: no mask .*p1.png"
    if how == "size":
        Image.fromarray(np.zeros((8, 9), np.uint8)).save(masks / "p1.png")
        return "p1.png: mask is 8x9 but its image .*p1.jpg is 8x10"
    if how == "value":
        Image.fromarray(np.full((8, 10), 3, np.uint8)).save(masks / "p2.png")
        return r"p2.png: mask value 3 is outside \[0, 3\)"
    if how == "rgb":
        Image.fromarray(np.zeros((8, 10, 3), np.uint8)).save(masks / "p0.png")
        return "p0.png: a mask must be a single-channel PNG"
    if how == "no_classes":
        (root / "classes.txt").unlink()
        return "no classes.txt"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["missing", "size", "value", "rgb", "no_classes"])
def test_a_bad_pair_is_one_line_naming_the_file(tmp_path, how):
    root = make_folder(tmp_path / how)
    expected = _break(root, how)
    with pytest.raises(kdata.DataArgumentError, match=expected) as err:
        kdata.describe("mask_folder", "train", data_dir=str(root))
    assert err.value.argument == "data_dir" and "\n" not in str(err.value)
