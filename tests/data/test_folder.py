"""Image folders: classes, empty and single classes, every image checked, corrupt files named or skipped."""

import logging

import numpy as np
import pytest
from PIL import Image

from kcnn import data as kdata
from kcnn.data.folder import check_image_file, list_folder

pytestmark = pytest.mark.tf_only


def make(root, counts):
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((6, 6), 50 * i, np.uint8)).save(root / cls / f"{i}.png")
    return root


def test_every_image_is_checked_and_a_corrupt_one_is_named(tmp_path):
    root = make(tmp_path / "d", {"a": 2, "b": 2})
    good = (root / "b" / "1.png").read_bytes()
    (root / "b" / "1.png").write_bytes(good[:-30])
    (root / "a" / "fake.jpg").write_bytes(b"this is text")
    with pytest.raises(kdata.DataArgumentError) as err:
        list_folder(str(root), "train")
    assert str(root / "a" / "fake.jpg") in str(err.value) and "skip_corrupt" in str(err.value)
    assert err.value.argument == "data_dir"


def test_skip_corrupt_leaves_them_out_and_counts_them(tmp_path, caplog):
    root = make(tmp_path / "d", {"a": 2, "b": 2})
    (root / "b" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with caplog.at_level(logging.WARNING, logger="kcnn.data"):
        listing = list_folder(str(root), "train", skip_corrupt=True)
    assert len(listing.paths) == 3 and listing.skipped[0][0] == str(root / "b" / "1.png")
    assert "left out 1 unreadable images" in caplog.text


@pytest.mark.parametrize("counts, words", [({"a": 2}, "at least two class"), ({"a": 2, "b": 0}, "b holds no images")])
def test_fewer_than_two_classes_or_an_empty_class_is_refused(tmp_path, counts, words):
    root = make(tmp_path / "d", counts)
    with pytest.raises(kdata.DataArgumentError, match=words):
        kdata.describe("folder", "train", data_dir=str(root))


def test_check_image_file_catches_a_decompression_bomb(tmp_path):
    from tests.test_bad_input import _bomb_png

    _bomb_png(tmp_path / "bomb.png")
    assert "decompression bomb" in check_image_file(str(tmp_path / "bomb.png"))
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "fine.png")
    assert check_image_file(str(tmp_path / "fine.png")) is None
