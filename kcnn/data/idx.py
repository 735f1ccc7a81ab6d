"""A hardened reader for the IDX format of MNIST, Fashion-MNIST, KMNIST and EMNIST.

Every malformed file - wrong magic number, unknown data type, truncated header or
payload, trailing bytes, header dimensions that need more bytes than the file holds,
image/label count mismatch - raises ValueError naming the file and the problem. The
size the header claims is never allocated: sizes are checked against the file (or the
decompressed stream, read in bounded chunks) before any array is made.
"""

from __future__ import annotations

import gzip
import math
import os
import struct

import numpy as np

__all__ = ["read_idx", "read_idx_pair", "read_idx_header", "IDX_DTYPES"]

# Type codes of the IDX format (third byte of the magic number); multi-byte types are big-endian.
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CHUNK = 1 << 22


def _open(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _read_exact(f, n: int, path: str, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ValueError(f"{path}: truncated {what}: expected {n} bytes, found {len(data)}")
    return data


def _read_bounded(f, limit: int) -> bytearray:
    """Read up to ``limit`` bytes in chunks, so a lying header never makes us allocate its claim."""
    out = bytearray()
    while len(out) < limit:
        chunk = f.read(min(_CHUNK, limit - len(out)))
        if not chunk:
            break
        out += chunk
    return out


def _header(f, path: str) -> tuple[np.dtype, tuple]:
    magic = _read_exact(f, 4, path, "header")
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(f"{path}: wrong magic number 0x{magic.hex()}: an IDX file starts with two zero bytes")
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise ValueError(f"{path}: unknown IDX data type code 0x{code:02x} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    return IDX_DTYPES[code], struct.unpack(f">{ndim}I", _read_exact(f, 4 * ndim, path, "header dimensions"))


def read_idx_header(path) -> tuple[np.dtype, tuple]:
    """The data type and dimensions an IDX file's header declares, reading nothing else."""
    path = os.fspath(path)
    try:
        with _open(path) as f:
            return _header(f, path)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise ValueError(f"{path}: cannot read IDX file: {err}") from err


def read_idx(path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into a native-endian numpy array."""
    path = os.fspath(path)
    try:
        f = _open(path)
    except OSError as err:
        raise ValueError(f"{path}: cannot open IDX file: {err.strerror or err}") from err
    with f:
        try:
            dtype, dims = _header(f, path)
            ndim = len(dims)
            expected = math.prod(dims) * dtype.itemsize
            if not path.endswith(".gz"):
                available = os.fstat(f.fileno()).st_size - 4 - 4 * ndim
                if available < expected:
                    raise ValueError(
                        f"{path}: header dimensions {dims} need {expected:,} bytes of {dtype.name} data "
                        f"but the file holds only {available:,} (truncated file or corrupt header)"
                    )
            payload = _read_bounded(f, expected + 1)
        except (OSError, EOFError, gzip.BadGzipFile) as err:
            raise ValueError(f"{path}: cannot read IDX file: {err}") from err
    if len(payload) < expected:
        raise ValueError(
            f"{path}: header dimensions {dims} need {expected:,} bytes of {dtype.name} data "
            f"but the file holds only {len(payload):,} (truncated file or corrupt header)"
        )
    if len(payload) > expected:
        raise ValueError(
            f"{path}: trailing bytes after the {expected:,} bytes of data the header dimensions {dims} describe"
        )
    return np.frombuffer(bytes(payload), dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="), copy=False)


def read_idx_pair(images_path, labels_path) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file (N, H, W[, C]) and its labels file (N,); returns (N, H, W, C) uint8 and int64 labels."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim not in (3, 4):
        raise ValueError(f"{images_path}: expected images of shape (N, H, W) or (N, H, W, C), found {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected labels of shape (N,), found {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"image/label count mismatch: {images_path} holds {images.shape[0]:,} images, "
            f"{labels_path} holds {labels.shape[0]:,} labels"
        )
    if images.dtype != np.uint8:
        raise ValueError(f"{images_path}: expected uint8 images, found {images.dtype}")
    if images.ndim == 3:
        images = images[..., None]
    return images, labels.astype(np.int64)
