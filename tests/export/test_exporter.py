import os

import numpy as np
import pytest
import tensorflow as tf

import kcnn
from kcnn import export as kexport
from kcnn.export import exporter

pytestmark = pytest.mark.tf_only

IMAGES = np.random.default_rng(0).integers(0, 256, size=(8, 28, 28, 1), dtype=np.uint8)
NAMES = [f"c{i}" for i in range(10)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = kcnn.create_model("lenet5_modern")
    directory = tmp_path_factory.mktemp("exports") / "lenet"
    report = kexport.export_model(model, directory, ["savedmodel", "tflite"], class_names=NAMES, sample_images=IMAGES)
    return model, directory, report


def test_savedmodel_serves_uint8_images_of_any_batch_size(exported):
    model, directory, _ = exported
    loaded = tf.saved_model.load(str(directory / "savedmodel"))
    serve = loaded.signatures["serving_default"]
    for n in (1, 5):
        out = serve(images=tf.constant(IMAGES[:n]))
        np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(out["classes"].numpy(), out["probabilities"].numpy().argmax(-1))
    floats = loaded.signatures["serving_float"](images=tf.constant(IMAGES[:2].astype(np.float32)))
    np.testing.assert_allclose(floats["probabilities"].numpy(), model(IMAGES[:2].astype(np.float32)).numpy(), atol=1e-6)


def test_report_and_labels(exported):
    _, directory, report = exported
    assert report["artifacts"]["savedmodel"]["max_abs_diff"] <= 1e-5
    assert report["artifacts"]["tflite"]["max_abs_diff"] <= 1e-4
    assert report["artifacts"]["tflite"]["bytes"] == os.path.getsize(directory / "model.tflite")
    assert (directory / "labels.txt").read_text().split("\n")[:3] == ["c0", "c1", "c2"]
    assert (directory / "savedmodel" / "assets" / "labels.txt").exists()


def test_existing_export_is_not_overwritten(exported):
    model, directory, _ = exported
    before = os.path.getmtime(directory / "model.tflite")
    with pytest.raises(FileExistsError, match="exists"):
        kexport.export_model(model, directory, ["tflite"], class_names=NAMES, sample_images=IMAGES)
    assert os.path.getmtime(directory / "model.tflite") == before and (directory / "savedmodel").exists()


def test_failed_verification_leaves_nothing_behind(tmp_path, monkeypatch):
    name, write, load, tol = exporter._FORMATS["tflite"]
    off_by_a_bit = lambda path: (lambda images: load(path)(images) + 1e-2)  # noqa: E731
    monkeypatch.setitem(exporter._FORMATS, "tflite", (name, write, off_by_a_bit, tol))
    with pytest.raises(kexport.ExportVerificationError, match=r"tflite export .* differs .* by 0.01"):
        kexport.export_model(kcnn.create_model("lenet5_modern"), tmp_path / "bad", ["tflite"], class_names=NAMES,
                             sample_images=IMAGES)  # fmt: skip
    assert os.listdir(tmp_path) == []


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown export format 'pb'"):
        kexport.check_formats(["pb"])
