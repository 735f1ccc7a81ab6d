"""kcnn-predict: top-k with the stored class names from every artifact; bad images get one
error line each, the others are still predicted, and the exit status says so at the end."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kcnn import data as kdata
from kcnn import export as kexport
from kcnn.cli import predict as cli
from kcnn.export import formats, source
from tests.cli.runner import invoke_runner
from tests.export.runs import trained_run

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("predict_cli")]
ARTIFACTS = {
    "savedmodel": "",
    "float32": "model_float32.tflite",
    "int8_io": "model_int8_io.tflite",
    "onnx": "model.onnx",
}


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory, fashion_mnist_dir):
    src = source.from_model_dir(trained_run(tmp_path_factory, "lenet5"))
    names = [f for f in ARTIFACTS if not formats.missing_requirements(kexport.FORMATS[f])]
    output = tmp_path_factory.mktemp("predict_exports")
    kexport.export_version(
        src.model,
        output,
        "lenet5",
        names,
        class_names=src.class_names,
        preprocessing=src.preprocessing,
        calibration_data=src.load("train[:2000]"),
        calibration_examples=200,
        sample_images=kexport.take_examples(src.load("test"), 50)[0],
        latency_runs=2,
    )
    return output / "lenet5" / "1", src


@pytest.fixture(scope="module")
def images(tmp_path_factory, export_dir):
    """Four readable test images (one saved as RGB), a missing, a corrupt and a wrongly-sized file."""
    root = tmp_path_factory.mktemp("images")
    x, y = kexport.take_examples(kdata.load("fashion_mnist", "test[:4]"), 4)
    paths = []
    for i, image in enumerate(x):
        path = root / f"test{i}.png"
        img = Image.fromarray(image[..., 0])
        (img.convert("RGB") if i == 3 else img).save(path)
        paths.append(str(path))
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    Image.fromarray(np.zeros((30, 28), np.uint8)).save(root / "big.png")
    (root / "truncated.png").write_bytes(open(paths[0], "rb").read()[:-40])
    bad = {
        "missing": str(root / "missing.png"),
        "corrupt": str(root / "corrupt.png"),
        "big": str(root / "big.png"),
        "truncated": str(root / "truncated.png"),
    }
    return paths, x, bad


def invoke(capsys, *argv):
    code, out, err = invoke_runner(cli, "kcnn-predict", capsys, *argv)
    return code, out.strip().splitlines(), err


@pytest.mark.parametrize("name", list(ARTIFACTS))
def test_top_k_with_class_names_from_every_artifact(capsys, export_dir, images, name):
    directory, src = export_dir
    if name not in os.listdir(directory) and ARTIFACTS[name] and not (directory / ARTIFACTS[name]).exists():
        pytest.skip(f"{name} not exported (missing optional dependencies)")
    paths, x, _ = images
    code, out, err = invoke(capsys, f"--model={directory / ARTIFACTS[name]}", "--top_k=3", *paths)
    assert code == 0 and err == [], err
    keras_top = kexport.serving_model(src.model, src.preprocessing)(x).numpy().argmax(-1)
    assert len(out) == 4
    for line, path, top in zip(out, paths, keras_top):
        assert line.startswith(f"{path}: {src.class_names[top]} 0.")
        ranked = line.split(": ", 1)[1].split(", ")
        probabilities = [float(r.rsplit(" ", 1)[1]) for r in ranked]
        assert len(ranked) == 3 and probabilities == sorted(probabilities, reverse=True)


@pytest.mark.parametrize("name", ["savedmodel", "int8_io"])
def test_bad_images_get_one_line_each_and_the_rest_are_predicted(capsys, export_dir, images, name):
    directory, _ = export_dir
    paths, _, bad = images
    argv = [paths[0], bad["missing"], bad["corrupt"], paths[1], bad["big"], bad["truncated"]]
    code, out, err = invoke(capsys, f"--model={directory / ARTIFACTS[name]}", *argv)
    assert code == 1
    assert [line.split(":")[0] for line in out] == [paths[0], paths[1]]
    assert err[:3] == [
        f"kcnn-predict: error: {bad['missing']}: no such file",
        f"kcnn-predict: error: {bad['corrupt']}: not an image file Pillow can read (PNG, JPEG, BMP, GIF, ...)",
        f"kcnn-predict: error: {bad['big']}: image is 30x28x1 (height x width x channels); the model takes 28x28x1",
    ]
    assert err[3].startswith(f"kcnn-predict: error: {bad['truncated']}: cannot read the image: ")
    assert err[4] == "kcnn-predict: 4 of 6 images could not be predicted" and len(err) == 5


@pytest.mark.parametrize(
    "args, words",
    [
        ([], "--model: required"),
        (["--model={d}/nothing.tflite"], "--model: {d}/nothing.tflite: no such file or directory"),
        (["--model={d}/labels.txt"], "--model: {d}/labels.txt: not a SavedModel directory, .tflite or .onnx file"),
        (["--model={d}/broken.tflite"], "--model: {d}/broken.tflite: not a TFLite model (no TFL3 file identifier)"),
        (["--model={d}", "--top_k=0"], "--top_k: 0 is not a positive integer"),
        (["--model={d}", "--top_k=x"], "--top_k: cannot read 'x'"),
    ],
)
def test_bad_model_or_flags_exit_2_before_any_image(capsys, export_dir, images, tmp_path, args, words):
    directory, _ = export_dir
    (directory / "broken.tflite").write_bytes(b"TFL3 but not really")
    code, out, err = invoke(capsys, *(a.format(d=directory) for a in args), images[0][0])
    assert code == 2 and out == []
    assert len(err) == 1 and err[0].startswith(f"kcnn-predict: error: {words.format(d=directory)}"), err


def test_no_images_is_a_usage_error(capsys, export_dir):
    code, _, err = invoke(capsys, f"--model={export_dir[0]}")
    assert code == 2 and err == ["kcnn-predict: error: no images given: kcnn-predict --model=PATH IMAGE..."]


def test_console_script_exit_status(export_dir, images):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    paths, _, bad = images
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kcnn.cli.predict",
            f"--model={export_dir[0] / 'model_float32.tflite'}",
            paths[2],
            bad["missing"],
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"{paths[2]}: ")
    assert proc.stderr.strip().splitlines()[-2:] == [
        f"kcnn-predict: error: {bad['missing']}: no such file",
        "kcnn-predict: 1 of 2 images could not be predicted",
    ]


@pytest.fixture(scope="module")
def segmentation_export(tmp_path_factory):
    from tests.export.test_serving import segmenter

    output = tmp_path_factory.mktemp("seg_export") / "unet"
    kexport.export_model(
        segmenter(),
        output,
        ["float32"],
        class_names=["background", "shirt", "shoe"],
        sample_images=np.zeros((2, 28, 28, 1), np.uint8),
        latency_runs=1,
    )
    images = tmp_path_factory.mktemp("seg_images")
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (28, 28), np.uint8)).save(images / f"{name}.png")
    (images / "other").mkdir()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(images / "other" / "a.png")
    return output / "model_float32.tflite", images


def test_a_segmentation_export_writes_a_mask_and_an_overlay_per_image(capsys, segmentation_export, tmp_path):
    model, images = segmentation_export
    paths = [str(images / "a.png"), str(images / "b.png")]
    code, out, err = invoke(capsys, f"--model={model}", f"--output_dir={tmp_path / 'masks'}", *paths)
    assert code == 0 and err == [] and len(out) == 2
    artifact = kexport.load_artifact(model)
    for line, path, name in zip(out, paths, "ab"):
        mask_path, overlay_path = tmp_path / "masks" / f"{name}_mask.png", tmp_path / "masks" / f"{name}_overlay.png"
        assert line.startswith(f"{path}: pixels: ") and line.endswith(f" -> {mask_path}, {overlay_path}")
        image = np.asarray(Image.open(path))[None, ..., None]
        assert np.array_equal(np.asarray(Image.open(mask_path)), artifact(image)[0].argmax(-1))
        overlay = Image.open(overlay_path)
        assert overlay.mode == "RGB" and overlay.size == (28, 28)
    assert sorted(os.listdir(tmp_path / "masks")) == ["a_mask.png", "a_overlay.png", "b_mask.png", "b_overlay.png"]


@pytest.mark.parametrize(
    "output_dir, extra, words",
    [
        ("/proc/kcnn_masks", [], "--output_dir: "),
        ("{t}/masks", ["other/a.png"], "a.png and {i}/other/a.png would both write a_mask.png"),
    ],
)
def test_segmentation_outputs_are_checked_before_any_image(
    capsys, segmentation_export, tmp_path, output_dir, extra, words
):
    model, images = segmentation_export
    argv = [str(images / "a.png"), *(str(images / e) for e in extra)]
    code, out, err = invoke(capsys, f"--model={model}", f"--output_dir={output_dir.format(t=tmp_path)}", *argv)
    assert code == 2 and out == [] and len(err) == 1 and words.format(i=images) in err[0], err
    assert os.listdir(tmp_path) == []
