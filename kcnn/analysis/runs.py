"""Models and data to look at: a ``kcnn-train`` run directory or a ``.keras`` file, and batches of
its dataset fitted to the model the way training fitted them.

A run directory holds ``model.keras`` (normalization inside: it takes float images on the
dataset's 0-255 scale) and ``config.json`` (dataset, splits, how images were fitted, the
loss). Errors are ValueError naming the directory, file or value at fault.
"""

from __future__ import annotations

import dataclasses
import os

import keras

__all__ = ["ModelSource", "from_model_dir", "from_keras", "from_registry", "read_image"]


@dataclasses.dataclass
class ModelSource:
    """A model and, where known, its dataset, the fitting of images and the training loss."""

    model: keras.Model
    dataset: str | None = None
    data_dir: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    resize: str = "pad"
    loss: object = "sparse_categorical_crossentropy"
    one_hot: bool = False  # the loss takes one-hot labels

    @property
    def image_shape(self) -> tuple:
        return tuple(self.model.inputs[0].shape[1:])

    def batches(self, split: str, batch_size: int, count: int) -> list:
        """The first ``count`` batches of ``split`` as ``(images float32, labels)`` numpy pairs, fitted to
        the model (in order, no augmentation)."""
        if self.dataset is None:
            raise ValueError("no dataset is known for this model; name one (--dataset)")
        from kcnn import data as kdata

        raw, info = kdata.load(self.dataset, split, data_dir=self.data_dir, with_info=True)
        shape = self.image_shape
        pipe = kdata.make_pipeline(
            raw,
            batch_size=batch_size,
            training=False,
            cache=False,
            image_size=shape[:2] if None not in shape[:2] else None,
            resize=self.resize,
            channels=shape[2],
            num_classes=info.num_classes if self.one_hot else None,
        )
        out = [(x.numpy(), y.numpy()) for x, y in pipe.take(count)]
        if not out:
            raise ValueError(f"{self.dataset} {split} has no examples")
        if len(out) < count:
            raise ValueError(f"{self.dataset} {split} holds fewer than {count} batches of {batch_size}")
        return out

    def example(self, split: str, index: int) -> tuple:
        """``(image float32 (H, W, C) fitted to the model, label, class name)`` of example ``index`` of ``split``."""
        if self.dataset is None:
            raise ValueError("no dataset is known for this model; name one (--dataset)")
        from kcnn import data as kdata

        info = kdata.describe(self.dataset, split, data_dir=self.data_dir)
        raw = kdata.load(self.dataset, split, data_dir=self.data_dir).skip(index).take(1)
        shape = self.image_shape
        fit = kdata.fit_images(shape[:2] if None not in shape[:2] else None, self.resize, shape[2])
        for image, label in raw:
            image, label = fit(image, label)
            label = int(label)
            return image.numpy(), label, info.class_names[label]
        raise ValueError(f"{self.dataset} {split} has no example {index}")

    def class_names(self) -> list | None:
        if self.dataset is None:
            return None
        from kcnn import data as kdata

        return list(kdata.describe(self.dataset, self.test_split, data_dir=self.data_dir).class_names)


def read_image(path: str, channels: int):
    """An image file (PNG, JPEG, ...) as float32 (H, W, channels) on the 0-255 scale (gray or RGB)."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    if channels not in (1, 3):
        raise ValueError(f"{path}: the model takes {channels}-channel images; only gray or RGB files can be read")
    try:
        with Image.open(path) as img:
            array = np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise ValueError(f"{path}: not an image Pillow can read ({type(err).__name__})") from None
    return array[..., None] if array.ndim == 2 else array


def _load(path: str) -> keras.Model:
    """kcnn.export's loader: safe_mode on, and one line for a missing, foreign or truncated file."""
    from kcnn.export import load_keras_model

    return load_keras_model(path)


def from_model_dir(model_dir: str) -> ModelSource:
    """A finished kcnn-train run: its model, dataset, splits, image fitting and loss."""
    from kcnn.export.source import read_run_config
    from kcnn.training.losses import make_loss

    model_dir = os.fspath(model_dir)
    config = read_run_config(model_dir)
    data, train = config["data"], config.get("train", {})
    try:
        loss = make_loss(train.get("loss", "cross_entropy"), label_smoothing=train.get("label_smoothing", 0.0))
    except (AttributeError, TypeError, ValueError) as err:
        config_path = os.path.join(model_dir, "config.json")
        raise ValueError(f"{config_path} is not a kcnn-train config ({type(err).__name__}: {err})") from None
    return ModelSource(
        model=_load(os.path.join(model_dir, "model.keras")),
        dataset=data["dataset"],
        data_dir=data.get("data_dir"),
        train_split=data["train_split"],
        test_split=data["test_split"],
        resize=data["resize"],
        loss=loss,
        one_hot=train.get("loss", "cross_entropy") != "sparse_cross_entropy",
    )


def from_keras(path: str, dataset: str | None = None, data_dir: str | None = None) -> ModelSource:
    """A ``.keras`` file (sparse labels, cross-entropy from probabilities), with ``dataset`` if given."""
    return ModelSource(model=_load(os.fspath(path)), dataset=dataset, data_dir=data_dir)


def from_registry(name: str, input_shape=None, dataset: str | None = None, **kwargs) -> ModelSource:
    """A registered model with fresh weights (``kcnn.create_model``)."""
    import kcnn

    kcnn.model_info(name)  # an unknown name raises, listing the closest
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape)
    return ModelSource(model=kcnn.create_model(name, **kwargs), dataset=dataset)
