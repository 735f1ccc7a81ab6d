"""What every artifact serves: images as the dataset gives them in, probabilities out.

A trained kcnn model holds its normalization (the training split's mean / std) in its
first layer and takes images of its own input size. The serving model in front of it
takes the images the *dataset* gives (``Preprocessing.image_shape``, e.g. Fashion-MNIST's
28x28x1 for a ResNet trained on 32x32 padded copies) and fits them inside the graph
exactly as the training pipeline did (``kcnn.data.make_pipeline``'s ``image_size`` /
``resize`` / ``channels``: ``pad`` centres them with zeros or crops, ``bilinear`` and
``nearest`` resample, gray <-> RGB conversion). Where the dataset's images have no
fixed size (``None`` height / width), the artifacts take any size and fit it the same way.

Resize-in-graph decision: an artifact takes one image size, the dataset's (or any size
where the dataset's varies); it does not also accept the model's own size when that
differs, because a padded and an unpadded image of the same size are indistinguishable.
Images of another size are refused by ``kcnn-predict`` with an error naming the file.

Classification models return ``(batch, classes)`` probabilities; segmentation models
``(batch, height, width, classes)`` per-pixel probabilities at the model's resolution.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from kcnn.data.pipeline import RESIZE_MODES, fit_images

__all__ = ["Preprocessing", "FitImages", "serving_model"]


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """The images an export takes: ``image_shape`` (height, width, channels; height and
    width may be None) and how the training pipeline fitted them to the model (``resize``)."""

    image_shape: tuple
    resize: str = "pad"

    def __post_init__(self):
        shape = tuple(None if s is None else int(s) for s in self.image_shape)
        if len(shape) != 3 or shape[2] is None or any(s is not None and s <= 0 for s in shape):
            raise ValueError(
                f"image_shape must be (height, width, channels) with positive sizes; got {self.image_shape!r}"
            )
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {', '.join(RESIZE_MODES)}; got {self.resize!r}")
        object.__setattr__(self, "image_shape", shape)

    @classmethod
    def for_model(cls, model: keras.Model) -> Preprocessing:
        """Images of the model's own input size: nothing to fit."""
        return cls(tuple(model.input_shape[1:]))

    def to_dict(self) -> dict:
        return {"image_shape": list(self.image_shape), "resize": self.resize}


class FitImages(keras.layers.Layer):
    """Float images of any size -> the model's input size, with the training pipeline's own
    fitting function (so serving and training cannot drift apart). TensorFlow backend only."""

    def __init__(self, image_size, resize: str, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.image_size = tuple(int(s) for s in image_size)
        self.resize = resize
        self.channels = int(channels)
        # kcnn.data.pipeline's per-batch image preparation (cast, channels, pad / resize);
        # the label path is unused here.
        self._fit = fit_images(self.image_size, resize, self.channels)

    def call(self, images):
        return self._fit(images, tf.zeros((), tf.int64))[0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.image_size, self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": list(self.image_size),
            "resize": self.resize,
            "channels": self.channels,
        }


def serving_model(
    model: keras.Model, preprocessing: Preprocessing | None = None, *, dtype: str = "uint8"
) -> keras.Model:
    """``model`` behind an input of ``dtype`` pixels (0..255) of ``preprocessing.image_shape``,
    fitted to the model's input inside the graph, returning float32 probabilities."""
    preprocessing = preprocessing or Preprocessing.for_model(model)
    target = tuple(model.input_shape[1:])
    if None in target[:2]:
        raise ValueError(f"{model.name} takes images of unknown size {target}; export needs a fixed input size")
    images = keras.Input(preprocessing.image_shape, dtype=dtype, name="images")
    x = keras.ops.cast(images, "float32")
    if preprocessing.image_shape != target:
        x = FitImages(target[:2], preprocessing.resize, target[2], name="fit_images")(x)
    outputs = keras.ops.cast(model(x, training=False), "float32")
    return keras.Model(images, outputs, name=f"{model.name}_serving")
