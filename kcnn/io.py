"""Atomic writes: a reader never sees a half-written file or directory.

Files are written to a temporary sibling and renamed into place (``os.replace`` is
atomic on POSIX); directories are built in a temporary sibling and renamed when
complete. An existing target is never replaced unless ``overwrite`` is given. What lands
has the permissions the process's umask gives a new file or directory (0644 / 0755 under
the usual 022), not the private 0600 / 0700 of the temporary it was built in, so a
server running as another user (TensorFlow Serving) can read an export.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile

__all__ = ["atomic_write_text", "atomic_write_json", "atomic_file", "atomic_dir", "check_writable_dir"]


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable_dir(path) -> None:
    """ValueError unless ``path`` is (or can be created as) a directory this process can write in.

    The nearest existing ancestor is probed by creating and removing a temporary directory in it,
    which also catches read-only mounts and pseudo file systems (/proc, /sys) that permission
    bits do not show; nothing is left behind (the ancestor's modification time is put back).
    """
    path = os.path.abspath(os.fspath(path))
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{path}: {existing} is a file, not a directory")
    times = os.stat(existing)
    try:
        tempfile.TemporaryDirectory(prefix=".kcnn-probe.", dir=existing).cleanup()
    except OSError as err:
        raise ValueError(f"{path}: cannot write in {existing} ({err.strerror or err})") from None
    with contextlib.suppress(OSError):
        os.utime(existing, ns=(times.st_atime_ns, times.st_mtime_ns))


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
        os.chmod(tmp, 0o666 & ~_umask())
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
        os.chmod(tmp, 0o777 & ~_umask())
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
