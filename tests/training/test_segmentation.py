"""kcnn-train on segmentation models: the task from the model's tag, the metrics from the
pixel confusion matrix, results, panels and a short real run beating the all-background baseline."""

import json
import os

import keras
import numpy as np
import pytest

from kcnn import data as kdata
from kcnn.training import ExperimentConfig, train
from kcnn.training.metrics import segmentation_metrics
from kcnn.training.trainer import plan

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("segmentation_training")]
SMALL_UNET = {"filters": [8, 16, 32, 64, 128], "dropout": 0.0}


def test_metrics_agree_with_keras_mean_iou():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 500)
    predicted = np.minimum(np.where(rng.random(500) < 0.6, truth, rng.integers(0, 3, 500)), 2)  # never 3
    confusion = np.zeros((5, 5))  # class 4 absent from both: left out of the mean
    np.add.at(confusion, (truth, predicted), 1)
    metric = keras.metrics.MeanIoU(num_classes=5)
    metric.update_state(truth, predicted)
    m = segmentation_metrics(confusion, "abcde")
    assert m["mean_iou"] == pytest.approx(float(metric.result()), abs=1e-6)
    assert m["pixel_accuracy"] == pytest.approx(np.mean(truth == predicted))
    assert m["iou"]["e"] is None and m["iou"]["d"] == 0.0


def config(tmp_path, **train):
    c = ExperimentConfig()
    c.model.name, c.model.kwargs = "unet", dict(SMALL_UNET)
    c.data.dataset, c.data.train_split, c.data.test_split, c.data.validation = (
        "fashion_scenes",
        "train[:1024]",
        "test[:96]",
        "test",
    )
    c.train.epochs, c.train.batch_size, c.train.learning_rate = 2, 16, 3e-3
    c.train.best_metric = "val_mean_iou"
    for k, v in train.items():
        setattr(c.train, k, v)
    c.model_dir = str(tmp_path / "run")
    return c


def test_the_task_comes_from_the_model_tag_and_the_ignore_label_from_the_dataset(tmp_path, fashion_mnist_dir):
    p = plan(config(tmp_path, loss="focal", class_weights=[0.5] + [1.0] * 10, ignore_label=0))
    assert p.task == "segmentation" and p.ignore_label == 0 and p.dataset.num_classes == 11
    assert plan(config(tmp_path)).ignore_label is None  # fashion_scenes labels every pixel


def all_background_baseline(split):
    """mIoU and pixel accuracy of predicting background everywhere, from the same metrics code."""
    masks = np.stack([m.numpy() for _, m in kdata.load("fashion_scenes", split)]).ravel()
    confusion = np.zeros((11, 11))
    np.add.at(confusion, (masks, np.zeros_like(masks)), 1)
    return segmentation_metrics(confusion, range(11))


def test_a_short_run_beats_the_all_background_baseline(tmp_path, fashion_mnist_dir):
    results = train(config(tmp_path), verbose=0)
    baseline = all_background_baseline("test[:96]")
    assert results["test_mean_iou"] > baseline["mean_iou"] + 0.015, (results["test_mean_iou"], baseline)
    assert results["task"] == "segmentation" and results["test_examples"] == 96
    assert results["test_pixels"] == 96 * 64 * 64 and len(results["test_iou"]) == 11
    assert results["test_accuracy"] == results["test_pixel_accuracy"]
    files = results["artifacts"]
    with open(files["history_json"]) as f:
        assert len(json.load(f)["val_mean_iou"]) == 2
    assert os.path.getsize(files["predictions"]) > 10_000
    assert any(n.startswith("events") for n in os.listdir(files["tensorboard"]))


@pytest.mark.parametrize("ignore_label", [None, 255])
def test_padding_examples_count_nowhere_in_mask_evaluation(ignore_label):
    """Evaluation on several replicas pads the test split to whole global batches with masks
    of PAD_LABEL (kcnn.training.run.pad_to_batches): the loss, pixel accuracy and confusion
    matrix must be those of the split alone."""
    import tensorflow as tf

    from kcnn.training.loop import TrainLoop
    from kcnn.training.run import pad_to_batches
    from kcnn.training.tasks import Segmentation

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (37, 8, 8, 1), dtype=np.uint8)
    masks = rng.integers(0, 3, (37, 8, 8)).astype(np.uint8)
    if ignore_label is not None:
        masks[:, :2] = ignore_label
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same", activation="softmax")(inputs / 255.0))
    loop = TrainLoop(
        model,
        keras.optimizers.SGD(),
        None,
        strategy=tf.distribute.get_strategy(),
        num_classes=3,
        global_batch_size=16,
        task=Segmentation("cross_entropy", 3, ignore_label=ignore_label),
    )

    def evaluate(raw):
        return loop.evaluate(
            loop.distribute(lambda batch: raw.map(lambda x, y: (tf.cast(x, "float32"), y)).batch(batch))
        )

    raw = tf.data.Dataset.from_tensor_slices((images, masks))
    padded = pad_to_batches(raw, 16)
    assert int(padded.cardinality()) == 48
    plain, with_padding = evaluate(raw), evaluate(padded)
    np.testing.assert_array_equal(with_padding["confusion"], plain["confusion"])
    assert plain["confusion"].sum() == np.sum(masks < 3)
    assert with_padding["loss"] == pytest.approx(plain["loss"], rel=1e-6)
    assert with_padding["accuracy"] == pytest.approx(plain["accuracy"], rel=1e-6)
