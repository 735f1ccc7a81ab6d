import os

import pytest

from kcnn.io import atomic_dir, atomic_file, atomic_write_json, atomic_write_text, check_writable_dir


def test_atomic_file_replaces_only_on_success(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        open(tmp, "w").write("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]
    with atomic_file(target) as tmp:
        open(tmp, "w").write("new")
    assert target.read_text() == "new"


def test_atomic_dir_refuses_existing_without_overwrite(tmp_path):
    target = tmp_path / "d"
    with atomic_dir(target) as tmp:
        open(os.path.join(tmp, "f"), "w").write("1")
    with pytest.raises(FileExistsError), atomic_dir(target):
        pytest.fail("must refuse before yielding")
    with atomic_dir(target, overwrite=True) as tmp:
        open(os.path.join(tmp, "g"), "w").write("2")
    assert os.listdir(target) == ["g"] and os.listdir(tmp_path) == ["d"]


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(ValueError), atomic_dir(tmp_path / "d") as tmp:
        open(os.path.join(tmp, "f"), "w").write("1")
        raise ValueError("boom")
    assert os.listdir(tmp_path) == []


def test_atomic_write_json_handles_numpy(tmp_path):
    import numpy as np

    atomic_write_json(tmp_path / "x.json", {"a": np.float32(1.5), "b": np.arange(2)})
    assert (tmp_path / "x.json").read_text().replace(" ", "").replace("\n", "") == '{"a":1.5,"b":[0,1]}'


def test_atomic_dir_does_not_replace_a_directory_that_appears_meanwhile(tmp_path):
    """Two exports of the same new version: the second to finish fails, the first's files stay."""
    target = tmp_path / "7"
    with pytest.raises(FileExistsError, match="appeared while it was being written"), atomic_dir(target) as tmp:
        open(os.path.join(tmp, "mine"), "w").write("2")
        os.makedirs(target)
        open(target / "theirs", "w").write("1")
    assert os.listdir(target) == ["theirs"] and os.listdir(tmp_path) == ["7"]


def test_what_lands_has_the_umasks_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
        with atomic_dir(tmp_path / "d") as tmp:
            open(os.path.join(tmp, "g"), "w").write("1")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "f.txt").st_mode & 0o777 == 0o644
    assert os.stat(tmp_path / "d").st_mode & 0o777 == 0o755


def test_check_writable_dir_leaves_nothing_behind(tmp_path):
    (tmp_path / "a_file").write_text("x")
    before = os.stat(tmp_path).st_mtime_ns
    check_writable_dir(tmp_path / "new" / "deeper")
    assert os.listdir(tmp_path) == ["a_file"] and os.stat(tmp_path).st_mtime_ns == before
    with pytest.raises(ValueError, match="is a file"):
        check_writable_dir(tmp_path / "a_file" / "x")
    with pytest.raises(ValueError, match="cannot write in /proc"):
        check_writable_dir("/proc/kcnn")
