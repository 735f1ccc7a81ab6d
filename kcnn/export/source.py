"""Where an export comes from: a training run directory or a ``.keras`` file.

A run directory (``kcnn-train``'s ``model_dir``) holds ``model.keras`` (the Normalization
layer with the training split's statistics inside) and ``config.json``, which says which
dataset and splits the model was trained on and how images were fitted to it
(``data.resize``); the export takes the dataset's images and fits them the same way.
A bare ``.keras`` file says none of that: a dataset name gives the images and class names
(calibration, accuracy), else the export takes images of the model's own input size.

Every function raises ValueError with a message that names the file or value at fault
(the runner prefixes the flag). ``.keras`` files load with Keras' safe_mode on.
"""

from __future__ import annotations

import dataclasses
import json
import os

import keras

from kcnn import data as kdata
from kcnn.export.exporter import load_keras_model
from kcnn.export.runtime import read_labels
from kcnn.export.serving import Preprocessing

__all__ = ["ExportSource", "read_run_config", "from_model_dir", "from_keras", "describe_dataset"]


@dataclasses.dataclass
class ExportSource:
    model: keras.Model
    name: str  # the export's default name
    path: str  # the .keras file
    preprocessing: Preprocessing
    class_names: list
    dataset: str | None = None
    data_dir: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    ignore_label: int | None = None  # segmentation: the mask value that counts nowhere

    def load(self, split: str):
        """The ``split`` of the source's dataset: a ``tf.data.Dataset`` of ``(uint8 image, label)``."""
        return kdata.load(self.dataset, split, data_dir=self.data_dir)


def read_run_config(model_dir: str) -> dict:
    """The run's ``config.json`` as a dict, checked for what an export or an analysis needs."""
    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        what = "a file, not a run directory" if os.path.exists(model_dir) else "no such directory"
        raise ValueError(f"{model_dir}: {what}")
    for name in ("model.keras", "config.json"):
        if not os.path.isfile(os.path.join(model_dir, name)):
            raise ValueError(f"{model_dir} has no {name}: not a finished kcnn-train run directory")
    path = os.path.join(model_dir, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        data = config["data"]
        for field in ("dataset", "train_split", "test_split", "resize"):
            if not isinstance(data.get(field), str):
                raise KeyError(f"data.{field}")
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not a kcnn-train config ({type(err).__name__}: {err})") from None
    return config


def describe_dataset(name: str, split: str = "train", data_dir: str | None = None) -> kdata.DatasetInfo:
    """The dataset's DatasetInfo (ValueError for unknown names and bad splits), reading no data."""
    kdata.sources.parse_split(split)
    return kdata.describe(name, split, data_dir=data_dir)


def _check_classes(model: keras.Model, class_names, where: str) -> list:
    classes = model.output_shape[-1]
    if len(class_names) != classes:
        raise ValueError(f"{where} has {len(class_names)} classes but the model has {classes} outputs")
    return [str(c) for c in class_names]


def from_model_dir(model_dir: str, *, train_split: str | None = None, test_split: str | None = None) -> ExportSource:
    """A run directory's model, dataset, splits (the run's unless given) and class names."""
    config = read_run_config(model_dir)
    data = config["data"]
    info = describe_dataset(data["dataset"], train_split or data["train_split"], data.get("data_dir"))
    if test_split:
        kdata.sources.parse_split(test_split)
    path = os.path.join(model_dir, "model.keras")
    model = load_keras_model(path)
    return ExportSource(
        model=model,
        name=str(config.get("model", {}).get("name") or model.name),
        path=path,
        preprocessing=Preprocessing(tuple(info.image_shape), data["resize"]),
        class_names=_check_classes(model, info.class_names, f"dataset {data['dataset']}"),
        dataset=data["dataset"],
        data_dir=data.get("data_dir"),
        train_split=train_split or data["train_split"],
        test_split=test_split or data["test_split"],
        ignore_label=_run_ignore_label(config, info),
    )


def _run_ignore_label(config: dict, info: kdata.DatasetInfo) -> int | None:
    """The ignore label the run trained with: its ``train.ignore_label``, else the dataset's."""
    value = (config.get("train") or {}).get("ignore_label")
    return info.ignore_label if value is None else int(value)


def from_keras(
    path: str,
    *,
    dataset: str | None = None,
    data_dir: str | None = None,
    train_split: str = "train",
    test_split: str = "test",
    resize: str = "pad",
    labels: str | None = None,
) -> ExportSource:
    """A ``.keras`` file; with ``dataset``, its images (fitted with ``resize``) and class names;
    ``labels`` (a file, one class name a line) overrides the class names."""
    info = None
    if dataset is not None:
        info = describe_dataset(dataset, train_split, data_dir)
        kdata.sources.parse_split(test_split)
    model = load_keras_model(path)
    if labels is not None:
        class_names = _check_classes(model, read_labels(labels), labels)
    elif info is not None:
        class_names = _check_classes(model, info.class_names, f"dataset {dataset}")
    else:
        class_names = [str(i) for i in range(model.output_shape[-1])]
    preprocessing = Preprocessing(tuple(info.image_shape), resize) if info else Preprocessing.for_model(model)
    return ExportSource(
        model,
        model.name,
        os.fspath(path),
        preprocessing,
        class_names,
        dataset,
        data_dir,
        train_split,
        test_split,
        ignore_label=info.ignore_label if info else None,
    )
