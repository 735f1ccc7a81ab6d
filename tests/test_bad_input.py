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


# (prog, argv, culprit, words): {w} is the world, {run} a fresh --model_dir inside it.
TRAIN = "--model=lenet5_modern --train_split=train[:1000] --test_split=test[:200] --model_dir={run} "
SEG = "--model=unet --dataset=fashion_scenes --train_split=train[:64] --test_split=test[:16] --batch_size=8 "
SEG += "--model_dir={run} "
CASES = {
    # data lost
    "overwrite-user-folder": (
        "kcnn-train",
        "--model=lenet5_modern --dataset=folder --data_dir={w}/photos --model_dir={w}/photos --epochs=1 --overwrite "
        "--batch_size=2",
        "--model_dir",
        "is not a kcnn run directory",
    ),
    "overwrite-cwd": ("kcnn-train", TRAIN.replace("{run}", ".") + "--overwrite", "--model_dir", "not a kcnn run"),
    "export-overwrite-foreign": (
        "kcnn-export",
        "--keras={w}/lenet.keras --noaccuracy --formats=float32 --output={w}/not_an_export --version=1 --overwrite",
        "--overwrite",
        "is not a kcnn export",
    ),
    # wrong results
    "misspelled-train-split": ("kcnn-train", TRAIN + "--train_split=trian[:2000]", "--train_split", "no split 'trian'"),
    "misspelled-test-split": ("kcnn-train", TRAIN + "--test_split=tset", "--test_split", "its splits: train, test"),
    "synthetic-split": ("kcnn-train", TRAIN + "--dataset=synthetic --train_split=trin", "--train_split", "synthetic"),
    "folder-split": (
        "kcnn-train",
        TRAIN + "--dataset=folder --data_dir={w}/photos --train_split=valid",
        "--train_split",
        "unknown split 'valid'",
    ),
    "finetune-other-architecture": (
        "kcnn-train",
        TRAIN + "--finetune={w}/resnet20.weights.h5",
        "--finetune",
        "does not cover the lenet5_modern backbone: first mismatching layer",
    ),
    "finetune-junk": ("kcnn-train", TRAIN + "--finetune={w}/junk.weights.h5", "--finetune", "not an HDF5 file"),
    "empty-class": (
        "kcnn-train",
        TRAIN + "--dataset=folder --data_dir={w}/empty_class",
        "--data_dir",
        "empty_class/dogs holds no images",
    ),
    "one-class": ("kcnn-train", TRAIN + "--dataset=folder --data_dir={w}/one_class", "--data_dir", "two class sub"),
    "missing-data-dir": ("kcnn-train", TRAIN + "--data_dir={w}/nowhere", "--data_dir", "nowhere does not exist"),
    "data-dir-is-file": ("kcnn-train", TRAIN + "--data_dir={w}/a_file", "--data_dir", "is not a directory"),
    "corrupt-image": ("kcnn-train", TRAIN + "--dataset=folder --data_dir={w}/corrupt", "--data_dir", "dogs/1.png"),
    # segmentation
    "classifier-on-scenes": (
        "kcnn-train",
        TRAIN + "--dataset=fashion_scenes",
        "--model, --dataset",
        "lenet5_modern is a classification model but fashion_scenes gives a mask per image",
    ),
    "segmenter-on-labels": (
        "kcnn-train",
        SEG + "--dataset=fashion_mnist",
        "--model, --dataset",
        "unet is a segmentation model (a class per pixel) but fashion_mnist gives a label per image",
    ),
    "segmentation-loss-on-classifier": ("kcnn-train", TRAIN + "--loss=dice", "--loss", "trains with cross_entropy"),
    "classification-loss-on-segmenter": ("kcnn-train", SEG + "--loss=huber", "--loss", "cross_entropy, focal, dice"),
    "segmentation-mixup": ("kcnn-train", SEG + "--augment=flip,mixup", "--augment", "'mixup' cannot keep segmentation"),
    "class-weights-count": (
        "kcnn-train",
        SEG + "--set=train.class_weights=[1,2]",
        "--set=train.class_weights",
        "2 weights for the 11 classes",
    ),
    "class-weights-negative": (
        "kcnn-train",
        SEG + "--set=train.class_weights=[-1]",
        "--set=train.class_weights",
        "non-negative",
    ),
    "class-weights-on-classifier": (
        "kcnn-train",
        TRAIN + "--set=train.class_weights=[1]",
        "--set=train.class_weights",
        "segmentation models only",
    ),
    "ignore-label-range": ("kcnn-train", SEG + "--set=train.ignore_label=300", "--set=train.ignore_label", "[0, 255]"),
    "scenes-split": ("kcnn-train", SEG + "--test_split=validation", "--test_split", "fashion_scenes has no split"),
    "mask-missing": (
        "kcnn-train",
        SEG + "--dataset=mask_folder --data_dir={w}/masks_missing --train_split=train",
        "--data_dir",
        "m1.png: no mask",
    ),
    "mask-size": (
        "kcnn-train",
        SEG + "--dataset=mask_folder --data_dir={w}/masks_size --train_split=train",
        "--data_dir",
        "masks/m1.png: mask is 8x7 but its image",
    ),
    "mask-value": (
        "kcnn-train",
        SEG + "--dataset=mask_folder --data_dir={w}/masks_value --train_split=train",
        "--data_dir",
        "masks/m1.png: mask value 7 is outside [0, 3)",
    ),
    "offline-oxford-pet": ("kcnn-train", SEG + "--dataset=oxford_iiit_pet", "--dataset", "there is no network"),
    # unwritable places
    "model-dir-is-file": ("kcnn-train", TRAIN.replace("{run}", "{w}/a_file"), "--model_dir", "is a file"),
    "model-dir-in-proc": ("kcnn-train", TRAIN.replace("{run}", "/proc/kcnn_run"), "--model_dir", "cannot write"),
    "model-dir-in-sys": ("kcnn-train", TRAIN.replace("{run}", "/sys/kcnn/run"), "--model_dir", "cannot write"),
    "export-dir-in-proc": (
        "kcnn-train",
        TRAIN + "--export=float32 --export_dir=/proc/kcnn",
        "--export_dir",
        "cannot write",
    ),
    "export-output-is-file": (
        "kcnn-export",
        "--keras={w}/lenet.keras --noaccuracy --formats=float32 --output={w}/a_file",
        "--output",
        "is a file",
    ),
    "export-output-in-proc": (
        "kcnn-export",
        "--keras={w}/lenet.keras --noaccuracy --formats=float32 --output=/proc/kcnn",
        "--output",
        "cannot write",
    ),
    # values
    "image-size-abc": ("kcnn-train", TRAIN + "--image_size=abc", "--image_size", "HEIGHT,WIDTH"),
    "image-size-comma": ("kcnn-train", TRAIN + "--image_size=,", "--image_size", "HEIGHT,WIDTH"),
    "seed-negative": ("kcnn-train", TRAIN + "--seed=-1", "--seed", "not a non-negative integer"),
    "lr-nan": ("kcnn-train", TRAIN + "--learning_rate=nan", "--learning_rate", "finite number"),
    "lr-inf": ("kcnn-train", TRAIN + "--learning_rate=inf", "--learning_rate", "finite number"),
    "lr-negative": ("kcnn-train", TRAIN + "--learning_rate=-0.1", "--learning_rate", "positive number"),
    "epochs-abc": ("kcnn-train", TRAIN + "--epochs=abc", "--epochs", "cannot read 'abc' as a positive integer"),
    "epochs-zero": ("kcnn-train", TRAIN + "--epochs=0", "--epochs", "not a positive integer"),
    "bool-value": (
        "kcnn-train",
        TRAIN + "--deterministic=maybe",
        "--deterministic",
        "cannot read 'maybe' as a boolean",
    ),
    "momentum": ("kcnn-train", TRAIN + "--momentum=1.5", "--momentum", "in [0, 1)"),
    "channels": ("kcnn-train", TRAIN + "--channels=2", "--channels", "must be 1 or 3"),
    "normalization": ("kcnn-train", TRAIN + "--normalization=zscore", "--normalization", "must be one of none"),
    "batch-oversized": ("kcnn-train", TRAIN + "--batch_size=5000", "--batch_size", "exceeds the 900 training"),
    "steps-per-execution": (
        "kcnn-train",
        TRAIN + "--set=train.steps_per_execution=0",
        "--set=train.steps_per_execution",
        "positive integer",
    ),
    "recompute-bn-negative": (
        "kcnn-train",
        TRAIN + "--set=train.recompute_bn=-5",
        "--set=train.recompute_bn",
        "number of images, 0 or more",
    ),
    "recompute-bn-not-a-number": (
        "kcnn-train",
        TRAIN + "--set=train.recompute_bn=many",
        "--set=train.recompute_bn",
        "int",
    ),
    "skip-corrupt-value": ("kcnn-train", TRAIN + "--set=data.skip_corrupt=perhaps", "--set=data.skip_corrupt", "bool"),
    # the runner's other checks
    "batch-negative": ("kcnn-train", TRAIN + "--batch_size=-8", "--batch_size", "not a positive integer"),
    "lr-zero": ("kcnn-train", TRAIN + "--learning_rate=0", "--learning_rate", "positive number"),
    "optimizer": ("kcnn-train", TRAIN + "--optimizer=adagrad", "--optimizer", "one of <sgd|adam|adamw|rmsprop>"),
    "validation": ("kcnn-train", TRAIN + "--validation=2", "--validation", "fraction in (0, 1)"),
    "model-cannot-take-images": (
        "kcnn-train",
        TRAIN + "--dataset=synthetic --image_size=8 --train_split=train --test_split=test",
        "--model",
        "lenet5_modern cannot take synthetic images of shape (8, 8, 1)",
    ),
    "strategy-tpu": ("kcnn-train", TRAIN + "--strategy=tpu", "--strategy", "tpu: no TPU found"),
    "strategy-multi-worker": ("kcnn-train", TRAIN + "--strategy=multi_worker", "--strategy", "needs the TF_CONFIG"),
    "strategy-mirrored": ("kcnn-train", TRAIN + "--strategy=mirrored", "--strategy", "at least two devices"),
    "step-boundary-beyond": (
        "kcnn-train",
        TRAIN + "--schedule=step --set=train.lr_boundaries=[20] --epochs=10",
        "--set=train.lr_boundaries",
        "boundary at epoch 20 is beyond the run's 10 epochs",
    ),
    "mixup-sparse": (
        "kcnn-train",
        TRAIN + "--augment=mixup --loss=sparse_cross_entropy",
        "--loss, --augment",
        "cannot take the soft labels",
    ),
    "augment-param": ("kcnn-train", TRAIN + "--augment=crop:x", "--augment", "padding must be an integer"),
    "precision": ("kcnn-train", TRAIN + "--precision=half", "--precision", "one of <float32|"),
    "finetune-missing": ("kcnn-train", TRAIN + "--finetune=/no/such.weights.h5", "--finetune", "no such file"),
    "label-smoothing-mse": ("kcnn-train", TRAIN + "--label_smoothing=0.1 --loss=mse", "--label_smoothing", "cross_ent"),
    "unknown-flag": ("kcnn-train", TRAIN + "--epoks=3", "Unknown command line flag 'epoks'", ""),
    "positional-argument": ("kcnn-train", TRAIN + "lenet5", "unexpected arguments 'lenet5'", ""),
    # messages
    "config-missing-file": ("kcnn-train", "--config=nope.json --model_dir={run}", "--config", "does not exist"),
    "config-unknown": (
        "kcnn-train",
        "--config=lenet5_fashion --model_dir={run}",
        "--config",
        "closest: lenet5_fashion",
    ),
    "set-without-equals": ("kcnn-train", TRAIN + "--set=train.epochs", "--set", "expected FIELD=VALUE"),
    "set-unknown-field": ("kcnn-train", TRAIN + "--set=train.nonsense=1", "--set=train.nonsense", "no such config"),
    "model-kwargs-bogus": (
        "kcnn-train",
        TRAIN + '--set=model.kwargs={{"bogus":1}}',
        "--set=model.kwargs",
        "bogus",
    ),
    "unknown-model": ("kcnn-train", TRAIN + "--model=lenet7", "--model", "closest: lenet5"),
    "unknown-dataset": ("kcnn-train", TRAIN + "--dataset=fashon_mnist", "--dataset", "closest: fashion_mnist"),
    "offline-tfds": ("kcnn-train", TRAIN + "--dataset=cifar10", "--dataset", "there is no network"),
    "onnx-extra-missing": ("kcnn-train", TRAIN + "--export=onnx", "--export", "pip install 'kcnn[onnx]'"),
    "export-format-unknown": ("kcnn-train", TRAIN + "--export=onnx2", "--export", "unknown export format 'onnx2'"),
    "keras-random-bytes": ("kcnn-export", "--keras={w}/random.keras --noaccuracy", "--keras", "not a .keras archive"),
    "keras-json": ("kcnn-export", "--keras={w}/json.keras --noaccuracy", "--keras", "not a .keras archive"),
    "keras-truncated": ("kcnn-export", "--keras={w}/truncated.keras --noaccuracy", "--keras", "not a .keras archive"),
    "export-data-dir": (
        "kcnn-export",
        "--keras={w}/lenet.keras --dataset=fashion_mnist --data_dir={w}/nowhere",
        "--data_dir",
        "does not exist",
    ),
    "predict-random-tflite": ("kcnn-predict", "--model={w}/random.tflite {w}/images/shoe.png", "--model", "TFL3"),
    "predict-truncated-tflite": (
        "kcnn-predict",
        "--model={w}/truncated.tflite {w}/images/shoe.png",
        "--model",
        "truncated or corrupt",
    ),
    "predict-top-k": ("kcnn-predict", "--model={w}/exported --top_k=0 {w}/images/shoe.png", "--top_k", "positive"),
    # kcnn-profile, kcnn-visualize, kcnn-hessian (issue 12)
    "profile-unknown-model": ("kcnn-profile", "lenet7", "MODEL", "closest: lenet5"),
    "profile-random-keras": ("kcnn-profile", "{w}/random.keras", "MODEL", "not a .keras archive"),
    "profile-input-shape-two": ("kcnn-profile", "resnet20 --input_shape=32,32", "--input_shape", "three positive"),
    "profile-input-shape-zero": ("kcnn-profile", "resnet20 --input_shape=32,32,0", "--input_shape", "three positive"),
    "profile-input-too-small": ("kcnn-profile", "vgg16 --input_shape=16,16,3", "--input_shape", "at least 32x32"),
    "profile-convention": ("kcnn-profile", "resnet20 --convention=flops", "--convention", "macs"),
    "profile-csv-in-proc": ("kcnn-profile", "resnet20 --csv=/proc/kcnn.csv", "--csv", "cannot write"),
    "profile-csv-is-dir": ("kcnn-profile", "resnet20 --csv={w}/wide", "--csv", "is a directory"),
    "visualize-unknown-layer": (
        "kcnn-visualize",
        "--keras={w}/lenet.keras --dataset=fashion_mnist --layers=conv9 --out={run}",
        "--layers",
        "nearest names: conv2, conv1",
    ),
    "visualize-unknown-target-layer": (
        "kcnn-visualize",
        "--keras={w}/lenet.keras --dataset=fashion_mnist --target_layer=dens --out={run}",
        "--target_layer",
        "nearest names: predictions",
    ),
    "visualize-image-wrong-size": (
        "kcnn-visualize",
        "--keras={w}/lenet.keras --image={w}/wide/wide.png --out={run}",
        "--image",
        "is 40x30, but model 'lenet5_modern' takes 28x28; resize it",
    ),
    "visualize-image-missing": (
        "kcnn-visualize",
        "--keras={w}/lenet.keras --image={w}/wide/none.png --out={run}",
        "--image",
        "no such file",
    ),
    "visualize-class-index": (
        "kcnn-visualize",
        "--keras={w}/lenet.keras --dataset=fashion_mnist --class_index=10 --out={run}",
        "--class_index",
        "has 10 classes",
    ),
    "visualize-random-keras": (
        "kcnn-visualize",
        "--keras={w}/random.keras --dataset=fashion_mnist --out={run}",
        "--keras",
        "not a .keras archive",
    ),
    "visualize-what": (
        "kcnn-visualize",
        "--model=lenet5 --dataset=fashion_mnist --what=cams --out={run}",
        "--what",
        "",
    ),
    "visualize-out-is-file": (
        "kcnn-visualize",
        "--keras={w}/lenet.keras --dataset=fashion_mnist --out={w}/a_file",
        "--out",
        "is not a directory",
    ),
    "visualize-out-in-proc": (
        "kcnn-visualize",
        "--keras={w}/lenet.keras --dataset=fashion_mnist --out=/proc/kcnn",
        "--out",
        "cannot write",
    ),
    "visualize-test-image": (
        "kcnn-visualize",
        "--keras={w}/lenet.keras --dataset=fashion_mnist --test_image=99999 --out={run}",
        "--test_image",
        "",
    ),
    "hessian-no-trainable-weights": (
        "kcnn-hessian",
        "--keras={w}/frozen.keras --dataset=fashion_mnist --split=test[:32]",
        "--keras",
        "has no trainable weights",
    ),
    "hessian-empty-split": (
        "kcnn-hessian",
        "--keras={w}/lenet.keras --dataset=fashion_mnist --split=test[:0]",
        "--split=test[:0]",
        "has no examples",
    ),
    "hessian-misspelled-split": (
        "kcnn-hessian",
        "--keras={w}/lenet.keras --dataset=fashion_mnist --split=tset",
        "--split=tset",
        "did you mean 'test'",
    ),
    "hessian-too-few-batches": (
        "kcnn-hessian",
        "--keras={w}/lenet.keras --dataset=fashion_mnist --split=test[:64] --batches=3",
        "--split=test[:64]",
        "fewer than 3 batches of 128",
    ),
    "hessian-random-keras": ("kcnn-hessian", "--keras={w}/random.keras --dataset=fashion_mnist", "--keras", "not a"),
    "hessian-top-k": ("kcnn-hessian", "--keras={w}/lenet.keras --dataset=fashion_mnist --top_k=0", "--top_k", "posi"),
    "hessian-json-in-proc": (
        "kcnn-hessian",
        "--keras={w}/lenet.keras --dataset=fashion_mnist --json=/proc/h.json",
        "--json",
        "cannot write",
    ),
    "hessian-model-dir-is-file": ("kcnn-hessian", "--model_dir={w}/a_file", "--model_dir", "not a run directory"),
    "study-unknown": ("kcnn-study", "activatons --quick", "NAME: unknown study 'activatons'", "closest: activations"),
    "study-missing-name": ("kcnn-study", "--quick --output_dir={run}", "give one study NAME", "--list"),
    "study-two-names": ("kcnn-study", "depth batchnorm --quick", "give one study NAME", "'depth batchnorm'"),
    "study-list-with-name": ("kcnn-study", "--list depth", "--list", "takes no study NAME"),
    "study-seed-negative": ("kcnn-study", "depth --quick --seed=-1", "--seed", "not a non-negative integer"),
    "study-seed-abc": ("kcnn-study", "depth --quick --seed=abc", "--seed", "cannot read 'abc'"),
    "study-quick-value": ("kcnn-study", "depth --quick=maybe", "--quick", "cannot read 'maybe' as a boolean"),
    "study-output-file": ("kcnn-study", "depth --quick --output_dir={w}/a_file/out", "--output_dir", "is a file"),
    "study-output-proc": (
        "kcnn-study",
        "depth --quick --output_dir=/proc/kcnn_studies",
        "--output_dir",
        "cannot write",
    ),
    "study-unknown-flag": ("kcnn-study", "depth --quik", "Unknown command line flag 'quik'", ""),
}
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
