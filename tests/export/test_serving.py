"""The serving graph: uint8 and float signatures, images fitted inside the graph as the
training pipeline fits them, segmentation outputs; runs on small untrained models."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kcnn import data as kdata
from kcnn import export as kexport
from kcnn.export.savedmodel import write_savedmodel

pytestmark = pytest.mark.tf_only

RNG = np.random.default_rng(0)
IMAGES_28 = RNG.integers(0, 256, size=(6, 28, 28, 1), dtype=np.uint8)


def classifier(shape=(32, 32, 1), classes=4):
    inputs = keras.Input(shape)
    x = keras.layers.Normalization(mean=[100.0] * shape[-1], variance=[3600.0] * shape[-1])(inputs)
    x = keras.layers.Conv2D(3, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x), name="tiny")


def segmenter(shape=(28, 28, 1), classes=3):
    inputs = keras.Input(shape)
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, keras.layers.Conv2D(classes, 1, activation="softmax")(x), name="seg")


def pipeline_fit(images, size, resize, channels):
    """What kcnn.data.make_pipeline feeds the model for these images."""
    ds = tf.data.Dataset.from_tensor_slices((images, np.zeros(len(images), np.int64)))
    batches = kdata.make_pipeline(ds, batch_size=len(images), image_size=size, resize=resize, channels=channels)
    return next(iter(batches))[0].numpy()


@pytest.mark.parametrize("resize", ["pad", "bilinear", "nearest"])
def test_images_are_fitted_in_the_graph_as_the_pipeline_fits_them(tmp_path, resize):
    model = classifier((32, 32, 3))
    prep = kexport.Preprocessing((28, 28, 1), resize)
    path = str(tmp_path / "sm")
    write_savedmodel(model, path, ["a", "b", "c", "d"], prep)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    assert serve.structured_input_signature[1]["images"].shape.as_list() == [None, 28, 28, 1]
    got = serve(images=tf.constant(IMAGES_28))["probabilities"].numpy()
    want = model(pipeline_fit(IMAGES_28, (32, 32), resize, 3)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)
    # the serving model the TFLite and ONNX exports start from does the same
    np.testing.assert_allclose(kexport.serving_model(model, prep)(IMAGES_28).numpy(), want, atol=1e-6)


def test_serving_signatures_any_batch_size_and_class_names(tmp_path):
    model = classifier()
    path = str(tmp_path / "sm")
    write_savedmodel(model, path, ["a", "b", "c", "d"], kexport.Preprocessing((28, 28, 1), "pad"))
    loaded = tf.saved_model.load(path)
    assert sorted(loaded.signatures) == ["serving_default", "serving_float"]
    for n in (1, 5):
        out = loaded.signatures["serving_default"](images=tf.constant(IMAGES_28[:n]))
        assert out["probabilities"].dtype == tf.float32 and out["probabilities"].shape == (n, 4)
        np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(out["classes"].numpy(), out["probabilities"].numpy().argmax(-1))
        names = [b.decode() for b in out["class_names"].numpy()]
        assert names == [["a", "b", "c", "d"][c] for c in out["classes"].numpy()]
    floats = loaded.signatures["serving_float"](images=tf.constant(IMAGES_28[:2].astype(np.float32)))
    uint8 = loaded.signatures["serving_default"](images=tf.constant(IMAGES_28[:2]))
    np.testing.assert_array_equal(floats["probabilities"].numpy(), uint8["probabilities"].numpy())
    assert (tmp_path / "sm" / "assets" / "labels.txt").read_text() == "a\nb\nc\nd\n"


def test_variable_size_datasets_serve_any_size(tmp_path):
    model = classifier((32, 32, 1))
    path = str(tmp_path / "sm")
    write_savedmodel(model, path, list("abcd"), kexport.Preprocessing((None, None, 1), "bilinear"))
    artifact = kexport.load_artifact(path)
    assert artifact.image_shape == (None, None, 1)
    for size in (20, 45):
        images = RNG.integers(0, 256, size=(2, size, size + 3, 1), dtype=np.uint8)
        want = model(pipeline_fit(images, (32, 32), "bilinear", 1)).numpy()
        np.testing.assert_allclose(artifact(images), want, atol=1e-6)


def test_segmentation_models_export_per_pixel(tmp_path):
    model = segmenter()
    masks = RNG.integers(0, 3, size=(6, 28, 28))
    masks[:, :4] = 255  # unlabelled rows: counted nowhere
    report = kexport.export_model(
        model,
        tmp_path / "seg",
        ["savedmodel", "float32", "int8"],
        class_names=["x", "y", "z"],
        calibration_data=IMAGES_28,
        test_data=(IMAGES_28, masks),
        ignore_label=255,
        latency_runs=2,
    )
    out = tf.saved_model.load(str(tmp_path / "seg")).signatures["serving_default"](images=tf.constant(IMAGES_28))
    assert out["probabilities"].shape == (6, 28, 28, 3) and out["classes"].shape == (6, 28, 28)
    assert "class_names" not in out
    predicted, labelled = model(IMAGES_28.astype(np.float32)).numpy().argmax(-1), masks != 255
    assert report["keras"]["accuracy"] == pytest.approx(np.mean(predicted[labelled] == masks[labelled]))
    miou = keras.metrics.MeanIoU(num_classes=3)
    miou.update_state(masks[labelled], predicted[labelled])
    assert report["keras"]["mean_iou"] == pytest.approx(float(miou.result()), abs=1e-6)
    for name in ("savedmodel", "float32"):
        assert report["artifacts"][name]["max_abs_diff"] <= 1e-4
        for score in ("accuracy", "mean_iou"):
            assert report["artifacts"][name][score] == pytest.approx(report["keras"][score], abs=1e-3)
    assert "| test mIoU |" in (tmp_path / "seg" / "report.md").read_text()
    # An untrained random model's int8 quality depends on the CPU's int8 kernels (0.79 per-pixel
    # agreement with AVX-512 VNNI, above 0.9 without): only the interface is asserted here; the
    # int8 targets are checked on trained models (tests/export/test_targets.py).
    assert 0 <= report["artifacts"]["int8"]["top1_agreement"] <= 1
    probabilities = kexport.load_artifact(tmp_path / "seg" / "model_int8.tflite")(IMAGES_28[:2])
    assert probabilities.shape == (2, 28, 28, 3) and np.allclose(probabilities.sum(-1), 1, atol=0.05)


def test_models_unpooling_by_indices_are_checked_by_pixel_agreement(tmp_path):
    import kcnn
    from kcnn.export import verify

    model = kcnn.create_model("segnet", config="mini", input_shape=(28, 28, 1), classes=3)
    assert verify.routes_by_indices(model) and not verify.routes_by_indices(segmenter())
    report = kexport.export_model(
        model, tmp_path / "segnet", ["float32"], class_names=["x", "y", "z"], sample_images=IMAGES_28, latency_runs=2
    )
    assert report["hard_check"] == "top1_agreement" and report["artifacts"]["float32"]["top1_agreement"] >= 0.999
    assert "checked by top-1 agreement" in (tmp_path / "segnet" / "report.md").read_text()


def test_the_hard_check_of_each_kind_of_model():
    from kcnn.export import verify

    fmt = kexport.FORMATS["float32"]
    near_ties = {"max_abs_diff": 0.0227, "top1_agreement": 0.9999993}  # the trained SegNet preset's float32 file
    assert verify.hard_check_failure(fmt, near_ties, routed=True) is None
    assert (
        verify.hard_check_failure(fmt, near_ties, routed=False)
        == "differs from the Keras model by 0.0227 (allowed 0.0001)"
    )
    broken = {"max_abs_diff": 0.6, "top1_agreement": 0.99}
    assert verify.hard_check_failure(fmt, broken, routed=True).startswith(
        "agrees with the Keras model's class on 99.0000% of pixels (needed 99.9%"
    )
    assert verify.hard_check_failure(kexport.FORMATS["int8"], broken, routed=False) is None  # targets only


def test_labels_are_found_beside_each_artifact(tmp_path):
    model = classifier((28, 28, 1))
    kexport.export_model(
        model,
        tmp_path / "e",
        ["savedmodel", "float32"],
        class_names=list("abcd"),
        sample_images=IMAGES_28,
        latency_runs=2,
    )
    assert kexport.load_artifact(tmp_path / "e").class_names == list("abcd")
    assert kexport.load_artifact(tmp_path / "e" / "model_float32.tflite").class_names == list("abcd")
    assert sorted(os.listdir(tmp_path / "e")) == [
        "assets",
        "export.json",
        "fingerprint.pb",
        "labels.txt",
        "model_float32.tflite",
        "report.md",
        "saved_model.pb",
        "variables",
    ]


def test_scores_refuse_mask_values_outside_the_classes():
    from kcnn.export.verify import scores

    probabilities = np.eye(3)[np.array([[[0, 1], [2, 2]]])]  # 1 x 2 x 2 x 3
    assert scores(probabilities, np.array([[[0, 1], [2, 255]]]), ignore_label=255)["accuracy"] == 1.0
    assert scores(probabilities, np.array([[[0, 1], [2, 0]]]))["mean_iou"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    with pytest.raises(ValueError, match="mask value 7 is outside"):
        scores(probabilities, np.array([[[0, 1], [2, 7]]]), ignore_label=255)
    assert scores(probabilities, np.zeros((1, 3, 3)))["accuracy"] is None  # labels of another size
