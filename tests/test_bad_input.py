"""The bad-input corpus: every case of the bad-input campaign (and the flags and sources added
since) through the real command lines and the Python API.

Per case: the exit status, one line naming the culprit (the flag, argument or file), no
traceback, nothing written or deleted anywhere in the test's world (the user's files, the
run and export directories, the current directory), and no result reported.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib

import keras
import numpy as np
import pytest
from absl import flags
from PIL import Image

import kcnn
from kcnn import data as kdata
from kcnn.cli import export as export_cli
from kcnn.cli import hessian as hessian_cli
from kcnn.cli import predict as predict_cli
from kcnn.cli import profile as profile_cli
from kcnn.cli import study as study_cli
from kcnn.cli import train as train_cli
from kcnn.cli import visualize as visualize_cli
from kcnn.data import sources
from tests.bad_input_cases import CASES

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("bad_input")]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _png(path, size=(28, 28), value=0):
    Image.fromarray(np.full(size, value, np.uint8)).save(path)


def _bomb_png(path, side=20000):
    """A PNG whose header declares side x side pixels (Pillow refuses it on opening)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def _classes(root, counts, size=(28, 28)):
    for k, (cls, n) in enumerate(counts.items()):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            _png(root / cls / f"{i}.png", size, value=40 * k + i)
    return root


def _mask_folder(root, broken=None):
    """A mask_folder dataset of three 8x8 image/mask pairs per split; ``broken`` spoils one train mask."""
    (root / "classes.txt").parent.mkdir(parents=True)
    (root / "classes.txt").write_text("background\nshirt\nshoe\n")
    for split in ("train", "test"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "masks").mkdir(parents=True)
        for i in range(3):
            _png(root / split / "images" / f"m{i}.png", (8, 8), 30 * i)
            _png(root / split / "masks" / f"m{i}.png", (8, 8), i)
    masks = root / "train" / "masks"
    if broken == "missing":
        (masks / "m1.png").unlink()
    elif broken == "size":
        _png(masks / "m1.png", (8, 7))
    elif broken == "value":
        _png(masks / "m1.png", (8, 8), 7)


@pytest.fixture(scope="module")
def world(tmp_path_factory, fashion_mnist_dir):
    """The user's files the cases point at: image folders, models, weights, artifacts."""
    w = tmp_path_factory.mktemp("world")
    _classes(w / "photos" / "train", {"cats": 3, "dogs": 3})
    _classes(w / "photos" / "test", {"cats": 2, "dogs": 2})
    (w / "photos" / "notes.txt").write_text("my own notes")
    _classes(w / "one_class", {"cats": 3})
    _classes(w / "empty_class", {"cats": 3, "dogs": 0})
    _classes(w / "corrupt", {"cats": 3, "dogs": 3})
    data = (w / "corrupt" / "dogs" / "1.png").read_bytes()
    (w / "corrupt" / "dogs" / "1.png").write_bytes(data[: len(data) // 2])
    (w / "a_file").write_text("not a directory")
    (w / "cwd").mkdir()
    (w / "cwd" / "thesis.tex").write_text("\\documentclass{article}")
    (w / "random.keras").write_bytes(np.random.default_rng(0).bytes(3000))
    (w / "json.keras").write_text(json.dumps({"class_name": "Sequential"}))
    model = kcnn.create_model("lenet5_modern")
    model.save(w / "lenet.keras")
    (w / "truncated.keras").write_bytes((w / "lenet.keras").read_bytes()[:2000])
    (w / "junk.weights.h5").write_bytes(np.random.default_rng(1).bytes(2000))
    kcnn.create_model("resnet20", input_shape=(28, 28, 1), classes=10).save_weights(w / "resnet20.weights.h5")
    keras.backend.clear_session()
    from kcnn import export as kexport

    kexport.export_model(
        kcnn.create_model("lenet5_modern"),
        w / "exported",
        ["float32"],
        class_names=[str(i) for i in range(10)],
        sample_images=np.zeros((4, 28, 28, 1), np.uint8),
        latency_runs=1,
    )
    tflite = (w / "exported" / "model_float32.tflite").read_bytes()
    (w / "truncated.tflite").write_bytes(tflite[: len(tflite) // 2])
    (w / "random.tflite").write_bytes(np.random.default_rng(2).bytes(5000))
    (w / "images").mkdir()
    _png(w / "images" / "shoe.png")
    _bomb_png(w / "images" / "bomb.png")
    (w / "wide").mkdir()
    _png(w / "wide" / "wide.png", size=(40, 30))
    model.trainable = False
    model.save(w / "frozen.keras")
    for broken in ("missing", "size", "value"):
        _mask_folder(w / f"masks_{broken}", broken)
    (w / "not_an_export" / "lenet5_modern" / "1").mkdir(parents=True)
    (w / "not_an_export" / "lenet5_modern" / "1" / "mine.txt").write_text("keep me")
    return w


def snapshot(root) -> dict:
    """Every path under ``root`` with its size and modification time."""
    state = {}
    for walk_root, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(walk_root, name)
            st = os.lstat(path)
            state[os.path.relpath(path, root)] = (st.st_size if name in files else None, st.st_mtime_ns)
    return state


def invoke(module, prog, capsys, argv):
    module.FLAGS.unparse_flags()
    flags.FLAGS.unparse_flags()
    code = 0
    try:
        module.main(module.parse_flags([prog, *argv]))
    except SystemExit as stop:
        code = stop.code
    finally:
        module.FLAGS.unparse_flags()
        flags.FLAGS.unparse_flags()
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


MODULES = {
    "kcnn-train": train_cli,
    "kcnn-export": export_cli,
    "kcnn-predict": predict_cli,
    "kcnn-profile": profile_cli,
    "kcnn-visualize": visualize_cli,
    "kcnn-hessian": hessian_cli,
    "kcnn-study": study_cli,
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_case(case, world, tmp_path, capsys, monkeypatch):
    prog, argv, culprit, words = CASES[case]
    monkeypatch.chdir(world / "cwd")
    monkeypatch.setattr(sources, "_network_reachable", lambda timeout=3.0: False)
    if case == "onnx-extra-missing":
        from kcnn.export import exporter

        monkeypatch.setattr(exporter, "missing_requirements", lambda fmt: list(fmt.requires))
    run = tmp_path / "run"
    before = snapshot(world), snapshot(tmp_path)
    args = [a.format(w=world, run=run) for a in argv.split()]
    code, out, err = invoke(MODULES[prog], prog, capsys, args)
    assert code == 2, (code, out, err)
    assert len(err) == 1 and err[0].startswith(f"{prog}: error: {culprit}") and words in err[0], err
    assert "\n" not in err[0] and len(err[0]) < 1000
    assert "Traceback" not in out and "test accuracy" not in out
    assert (snapshot(world), snapshot(tmp_path)) == before, "the command wrote or deleted something"


def test_no_arguments_prints_the_usage_and_exits_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke(train_cli, "kcnn-train", capsys, [])
    assert code == 2 and err[0].startswith("usage: kcnn-train") and err[-1].startswith("kcnn-train: error: give")
    assert os.listdir(tmp_path) == []


def test_skip_corrupt_leaves_unreadable_images_out_and_counts_them(world, caplog):
    info = kdata.describe("folder", "train", data_dir=str(world / "corrupt"), skip_corrupt=True)
    assert info.num_examples == 5 and info.class_names == ("cats", "dogs")
    assert "left out 1 unreadable images" in caplog.text


def test_bomb_image_gets_one_line_and_the_others_are_predicted(world, capsys):
    images = [world / "images" / "shoe.png", world / "images" / "bomb.png", world / "images" / "shoe.png"]
    code, out, err = invoke(
        predict_cli,
        "kcnn-predict",
        capsys,
        [f"--model={world / 'exported' / 'model_float32.tflite'}", *map(str, images)],
    )
    assert code == 1 and len(out.strip().splitlines()) == 2
    assert err[0].startswith(f"kcnn-predict: error: {images[1]}: ") and len(err) == 2


def test_truncated_tflite_does_not_crash_the_process(world):
    """The case that was a segmentation fault, as a process."""
    proc = subprocess.run(
        [sys.executable, "-m", "kcnn.cli.predict", f"--model={world / 'truncated.tflite'}", str(world / "images")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("kcnn-predict: error: --model:")


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda w: kdata.load("fashon_mnist"), "closest: fashion_mnist"),
        (lambda w: kdata.load("fashion_mnist", "trian"), "no split 'trian'"),
        (lambda w: kdata.load("fashion_mnist", data_dir=str(w / "nowhere")), "does not exist"),
        (lambda w: kdata.load("folder", data_dir=str(w / "one_class")), "at least two class"),
        (lambda w: kdata.load("cifar10"), "there is no network"),
        (lambda w: kcnn.create_model("lenet5_modern", weights=str(w / "junk.weights.h5")), "not an HDF5 file"),
        (lambda w: kcnn.create_model("lenet5_modern", weights=str(w / "resnet20.weights.h5")), "first mismatching"),
    ],
)
def test_python_api_errors_are_short_and_name_the_culprit(world, monkeypatch, call, words):
    monkeypatch.setattr(sources, "_network_reachable", lambda timeout=3.0: False)
    with pytest.raises(ValueError) as err:
        call(world)
    message = str(err.value)
    assert words in message and len(message) < 600 and "\n" not in message, message
