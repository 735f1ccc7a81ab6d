import gzip
import struct

import numpy as np
import pytest

from kcnn.data import read_idx, read_idx_pair

pytestmark = pytest.mark.tf_only


def idx_bytes(array: np.ndarray, code: int = 0x08, dims=None) -> bytes:
    dims = array.shape if dims is None else dims
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + array.tobytes()


def write(tmp_path, name, payload: bytes, gz: bool = False):
    path = tmp_path / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return str(path)


@pytest.mark.parametrize("gz", [False, True])
def test_reads_images_and_labels(tmp_path, gz):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([7, 1], dtype=np.uint8)
    x, y = read_idx_pair(write(tmp_path, "img", idx_bytes(images), gz), write(tmp_path, "lab", idx_bytes(labels), gz))
    assert x.shape == (2, 3, 4, 1) and x.dtype == np.uint8 and np.array_equal(x[..., 0], images)
    assert y.dtype == np.int64 and list(y) == [7, 1]


def test_big_endian_types_are_converted(tmp_path):
    data = np.array([1.5, -2.0, 3.25], dtype=">f4")
    got = read_idx(write(tmp_path, "f", idx_bytes(data, code=0x0D)))
    assert got.dtype == np.float32 and list(got) == [1.5, -2.0, 3.25]


@pytest.mark.parametrize("gz", [False, True])
def test_wrong_magic_number(tmp_path, gz):
    path = write(tmp_path, "bad", b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00", gz)
    with pytest.raises(ValueError, match=r"bad.*wrong magic number 0x01020801"):
        read_idx(path)


def test_unknown_dtype_code(tmp_path):
    path = write(tmp_path, "bad", bytes([0, 0, 0x07, 1]) + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match=r"bad: unknown IDX data type code 0x07"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_payload(tmp_path, gz):
    full = idx_bytes(np.zeros((10, 4, 4), np.uint8))
    path = write(tmp_path, "short", full[:-5], gz)
    with pytest.raises(ValueError, match=r"short.*need 160 bytes .* holds only 155"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = write(tmp_path, "hdr", bytes([0, 0, 0x08, 3]) + struct.pack(">I", 5))
    with pytest.raises(ValueError, match=r"hdr: truncated header dimensions"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_dimensions_claiming_more_than_the_file_holds_allocate_nothing(tmp_path, gz):
    # 4 billion x 4 billion bytes claimed; reading must fail fast without trying to allocate it.
    payload = bytes([0, 0, 0x08, 2]) + struct.pack(">II", 2**32 - 1, 2**32 - 1) + b"\x00" * 64
    path = write(tmp_path, "liar", payload, gz)
    with pytest.raises(ValueError, match=r"liar.*holds only 64"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = write(tmp_path, "long", idx_bytes(np.zeros(4, np.uint8)) + b"\x01")
    with pytest.raises(ValueError, match="long: trailing bytes"):
        read_idx(path)


def test_image_label_count_mismatch_names_both_files(tmp_path):
    images = write(tmp_path, "imgs", idx_bytes(np.zeros((3, 2, 2), np.uint8)))
    labels = write(tmp_path, "labs", idx_bytes(np.zeros(2, np.uint8)))
    with pytest.raises(ValueError, match=r"count mismatch: .*imgs holds 3 images, .*labs holds 2 labels"):
        read_idx_pair(images, labels)


def test_labels_must_be_one_dimensional(tmp_path):
    images = write(tmp_path, "imgs", idx_bytes(np.zeros((2, 2, 2), np.uint8)))
    labels = write(tmp_path, "labs", idx_bytes(np.zeros((2, 2), np.uint8)))
    with pytest.raises(ValueError, match=r"labs: expected labels of shape \(N,\)"):
        read_idx_pair(images, labels)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"nothere.*cannot open"):
        read_idx(str(tmp_path / "nothere"))


def test_not_gzip_despite_the_name(tmp_path):
    path = write(tmp_path, "fake.gz", idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(ValueError, match=r"fake.gz: cannot read IDX file"):
        read_idx(path)


def test_real_fashion_mnist_files(fashion_mnist_dir):
    x, y = read_idx_pair(
        f"{fashion_mnist_dir}/t10k-images-idx3-ubyte.gz", f"{fashion_mnist_dir}/t10k-labels-idx1-ubyte.gz"
    )
    assert x.shape == (10_000, 28, 28, 1) and y.shape == (10_000,)
    assert np.bincount(y).tolist() == [1000] * 10
