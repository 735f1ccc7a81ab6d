"""Atomic writes: a reader never sees a half-written file or directory.

Files are written to a temporary sibling and renamed into place (``os.replace`` is
atomic on POSIX); directories are built in a temporary sibling and renamed when
complete. An existing target is never replaced unless ``overwrite`` is given.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile

__all__ = ["atomic_write_text", "atomic_write_json", "atomic_file", "atomic_dir"]


@contextlib.contextmanager
def atomic_file(path, suffix: str = ""):
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    ``suffix`` keeps the extension writers look at (Keras wants ``.keras``, matplotlib ``.png``).
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix or ".tmp", dir=parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path, text: str) -> None:
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


@contextlib.contextmanager
def atomic_dir(path, overwrite: bool = False):
    """Yield a temporary directory beside ``path``; on success it replaces ``path``.

    Raises FileExistsError before any work if ``path`` exists and not ``overwrite``.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite to replace it")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    try:
        yield tmp
        if not overwrite:
            # rename(2) refuses a non-empty target: a directory that appeared while the
            # work ran (another process exporting the same version) is not replaced.
            try:
                os.rename(tmp, path)
            except OSError:
                if os.path.exists(path):
                    raise FileExistsError(f"{path} appeared while it was being written; nothing was replaced") from None
                raise
        elif os.path.exists(path):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".old", dir=parent)
            os.rmdir(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
