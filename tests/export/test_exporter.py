"""The exporter's contract on small untrained models: the format table, checks before any
work, TensorFlow Serving versions, atomic writes, no overwrite, safe loading."""

import json
import os

import keras
import numpy as np
import pytest

import kcnn
from kcnn import export as kexport
from kcnn.export import exporter, formats

pytestmark = pytest.mark.tf_only

IMAGES = np.random.default_rng(0).integers(0, 256, size=(8, 28, 28, 1), dtype=np.uint8)
NAMES = [f"c{i}" for i in range(10)]


def small_model():
    return kcnn.create_model("lenet5_modern")


def export(tmp_path, fmts=("savedmodel", "float32"), **kwargs):
    kwargs = {"class_names": NAMES, "sample_images": IMAGES, "latency_runs": 2, **kwargs}
    return kexport.export_version(small_model(), tmp_path, "lenet", list(fmts), **kwargs)


def test_the_table_is_the_one_place_that_knows_the_modes():
    assert kexport.TFLITE_MODES == ("float32", "float16", "dynamic_int8", "int8", "int8_io")
    assert ("savedmodel", *kexport.TFLITE_MODES, "onnx") == kexport.EXPORT_FORMATS
    assert set(kexport.DEFAULT_FORMATS) <= set(kexport.EXPORT_FORMATS)
    assert [f for f in kexport.EXPORT_FORMATS if kexport.FORMATS[f].calibrate] == ["int8", "int8_io"]
    assert kexport.check_formats("savedmodel,tflite,float32") == ["savedmodel", "float32"]
    filenames = [f.filename for f in kexport.FORMATS.values()]
    assert len(set(filenames)) == len(filenames)


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown export format 'pb'; choose from savedmodel, float32"):
        kexport.check_formats(["pb"])


def test_serving_layout_versions_and_report(tmp_path):
    first = export(tmp_path)
    second = export(tmp_path, ["float32"])
    assert (first["version"], second["version"]) == (1, 2)
    v1 = tmp_path / "lenet" / "1"
    for name in (
        "saved_model.pb",
        "variables",
        "assets/labels.txt",
        "model_float32.tflite",
        "labels.txt",
        "export.json",
        "report.md",
    ):
        assert (v1 / name).exists(), name
    assert not (tmp_path / "lenet" / "2" / "saved_model.pb").exists()
    assert json.loads((v1 / "export.json").read_text()) == json.loads(json.dumps(first))
    assert first["artifacts"]["savedmodel"]["max_abs_diff"] <= 1e-5
    assert first["artifacts"]["float32"]["max_abs_diff"] <= 1e-4
    assert first["artifacts"]["float32"]["bytes"] == os.path.getsize(v1 / "model_float32.tflite")
    md = (v1 / "report.md").read_text()
    assert "| savedmodel | 1/ |" in md and "| float32 | model_float32.tflite |" in md and "| keras |" in md
    assert (v1 / "labels.txt").read_text().split("\n")[:3] == ["c0", "c1", "c2"]
    assert kexport.next_version(str(tmp_path / "lenet")) == 3
    assert not [n for n in os.listdir(tmp_path / "lenet") if n.startswith(".")]


def test_existing_version_is_not_overwritten_unless_asked(tmp_path):
    export(tmp_path, version=4)
    tflite = tmp_path / "lenet" / "4" / "model_float32.tflite"
    before = tflite.read_bytes()
    with pytest.raises(FileExistsError, match="exists; pass overwrite"):
        export(tmp_path, ["float16"], version=4)
    assert tflite.read_bytes() == before and (tmp_path / "lenet" / "4" / "saved_model.pb").exists()
    export(tmp_path, ["float16"], version=4, overwrite=True)
    assert sorted(os.listdir(tmp_path / "lenet")) == ["4"]
    assert not tflite.exists() and (tmp_path / "lenet" / "4" / "model_float16.tflite").exists()


def test_failed_verification_leaves_nothing_behind(tmp_path, monkeypatch):
    measure = exporter.verify.measure

    def off_by_a_bit(artifact, *args, **kwargs):
        entry = measure(artifact, *args, **kwargs)
        return {**entry, "max_abs_diff": entry["max_abs_diff"] + 1e-2} if artifact.kind == "tflite" else entry

    monkeypatch.setattr(exporter.verify, "measure", off_by_a_bit)
    with pytest.raises(kexport.ExportVerificationError, match=r"float32 export of lenet5_modern differs .* by 0.01"):
        export(tmp_path)
    assert os.listdir(tmp_path) == ["lenet"] and os.listdir(tmp_path / "lenet") == []


def test_a_crash_while_writing_leaves_nothing_behind(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(exporter, "write_tflite", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        export(tmp_path, version=1)
    assert os.listdir(tmp_path / "lenet") == []


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"class_names": NAMES[:3]}, "3 class names for a model with 10 outputs"),
        ({"sample_images": None}, "needs images to verify"),
    ],
)
def test_bad_arguments_fail_before_any_work(tmp_path, kwargs, error):
    with pytest.raises(ValueError, match=error):
        export(tmp_path, **kwargs)
    assert not (tmp_path / "lenet").exists() or os.listdir(tmp_path / "lenet") == []


def test_calibrated_modes_need_calibration_images(tmp_path):
    with pytest.raises(ValueError, match="export format int8 needs calibration images"):
        export(tmp_path, ["float32", "int8"])
    with pytest.raises(ValueError, match="export name must be"):
        kexport.export_version(small_model(), tmp_path, "../up", ["float32"], class_names=NAMES, sample_images=IMAGES)


def test_missing_onnx_extra_is_named(monkeypatch):
    find_spec = formats.importlib.util.find_spec
    monkeypatch.setattr(formats.importlib.util, "find_spec", lambda name: None if "onnx" in name else find_spec(name))
    with pytest.raises(ValueError, match=r"format onnx needs tf2onnx, onnx, onnxruntime: pip install 'kcnn\[onnx\]'"):
        kexport.check_export(small_model(), ["onnx"], class_names=NAMES, calibration=False, verification=True)


def test_onnx_matches_keras(tmp_path):
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    report = export(tmp_path, ["onnx"])
    assert report["artifacts"]["onnx"]["max_abs_diff"] <= 1e-4
    artifact = kexport.load_artifact(tmp_path / "lenet" / "1" / "model.onnx")
    assert artifact.image_shape == (28, 28, 1) and artifact.class_names == NAMES


def test_keras_files_load_with_safe_mode(tmp_path):
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    path = str(tmp_path / "lambda.keras")
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ValueError, match="lambda.keras: refused: it holds Python code .* safe_mode"):
        kexport.load_keras_model(path)
    good = str(tmp_path / "good.keras")
    small_model().save(good)
    assert kexport.load_keras_model(good).name == "lenet5_modern"
    (tmp_path / "bad.keras").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="bad.keras: not a .keras archive"):
        kexport.load_keras_model(str(tmp_path / "bad.keras"))


def test_tflite_runs_on_tf_lite_when_litert_is_not_installed(tmp_path, monkeypatch):
    export(tmp_path, ["float32"])
    path = tmp_path / "lenet" / "1" / "model_float32.tflite"
    litert = kexport.load_artifact(path)
    monkeypatch.setitem(__import__("sys").modules, "ai_edge_litert.interpreter", None)  # import fails
    fallback = kexport.load_artifact(path)
    assert type(fallback.interpreter).__module__.startswith("tensorflow")
    np.testing.assert_array_equal(fallback(IMAGES), litert(IMAGES))


def test_take_examples_draws_reproducibly_from_datasets_and_arrays():
    import tensorflow as tf

    labels = np.arange(8)
    ds = tf.data.Dataset.from_tensor_slices((IMAGES, labels))
    first, first_labels = kexport.take_examples(ds, 3)
    np.testing.assert_array_equal(first, IMAGES[:3])
    np.testing.assert_array_equal(first_labels, labels[:3])
    drawn, drawn_labels = kexport.take_examples(ds, 5, shuffle_seed=0)
    again, _ = kexport.take_examples(ds, 5, shuffle_seed=0)
    np.testing.assert_array_equal(drawn, again)
    np.testing.assert_array_equal(drawn, IMAGES[drawn_labels])  # images stay with their labels
    assert list(drawn_labels) != [0, 1, 2, 3, 4]  # a draw, not the first five
    only_images, none = kexport.take_examples(tf.data.Dataset.from_tensor_slices(IMAGES), None)
    assert none is None and only_images.shape == IMAGES.shape
    arr, _ = kexport.take_examples(IMAGES, 4, shuffle_seed=1)
    assert arr.shape == (4, 28, 28, 1) and arr.dtype == np.uint8


def test_a_fresh_process_loads_segmentation_models(tmp_path):
    """kcnn-export, -profile, -visualize and -hessian load a run's model.keras in a process
    that has built no model: kcnn.segmentation's layers and initializer must be registered
    by the loader itself (FCN's bilinear transposed convolutions, SegNet's unpooling)."""
    import subprocess
    import sys

    from kcnn.segmentation.layers import BilinearUpsampling

    inputs = keras.Input((8, 8, 3))
    upsample = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", kernel_initializer=BilinearUpsampling())
    path = str(tmp_path / "upsample.keras")
    keras.Model(inputs, upsample(inputs)).save(path)
    code = f"from kcnn.export import load_keras_model; print(load_keras_model({path!r}).count_params())"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == str(keras.saving.load_model(path).count_params())
