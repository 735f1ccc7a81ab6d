"""Batch augmentations for the training pipeline, built from Keras preprocessing layers.

``build_augmentation(names, seed, image_shape)`` returns ``fn(images, labels, batch_index)``
for a ``tf.data`` map over enumerated batches of float32 images in 0..255. Names take
parameters after colons, positional, each optional: ``"crop"``, ``"crop:4"``,
``"mixup:0.2"``, ``"randaugment:2:9"``. The table ``AUGMENTATIONS`` lists them:

==============  =======================  ==================================================
name            parameters (defaults)    what, and whose recipe
==============  =======================  ==================================================
flip            -                        horizontal mirror, probability 1/2 (RandomFlip)
crop            padding (4)              pad with zeros, random crop back to the input size:
                                         the CIFAR recipe (He et al. 2016)
erasing         probability (0.5)        random erasing, Zhong et al. 2017: a rectangle of
                                         2%..40% of the image filled with noise
cutout          size (0.5), fill (0)     cutout, DeVries & Taylor 2017: on every image a
                                         square of ``size`` x the side (16x16 of 32x32 at
                                         0.5, their CIFAR-10 setting) filled with ``fill``
mixup           alpha (0.2)              mixup, Zhang et al. 2018: images and labels mixed
                                         with a partner, weight ~ Beta(alpha, alpha) drawn
                                         per image (0.2: their ImageNet setting)
cutmix          alpha (1.0, at most 1    CutMix, Yun et al. 2019: a partner's rectangle
                in Keras' CutMix)        pasted in, labels weighted by pasted area
randaugment     num_ops N (2),           RandAugment, Cubuk et al. 2019: N of 11 ops, the
                magnitude M (9)          same ops for a whole batch (Keras' choice), strength
                                         up to M on the paper's 0..10 scale (Keras' op
                                         ranges, wider than the paper's: see below)
==============  =======================  ==================================================

mixup and cutmix mix labels (``SOFT_LABEL_AUGMENTATIONS``): they need one-hot labels
(``make_pipeline(num_classes=...)``) and a loss that takes soft labels.

Segmentation masks (integer HxW labels beside HxWxC images) go through the same
geometric transform as their image -- flip mirrors both, crop shifts both by the same
whole pixels (the mask, like the image, filled with 0) -- through Keras'
``transform_segmentation_masks`` (nearest neighbour); erasing and cutout change the image
only. ``MASK_AUGMENTATIONS`` lists the ones that keep masks right; the others (label
mixing, RandAugment's per-batch mix of geometric and colour ops) refuse masks.

Randomness is stateless: augmentation ``k`` of batch ``b`` draws from the seed pair
``fold_in((seed, b), k)``, handed to the Keras layer as a :class:`StatelessSeed`, whose
successive draws are ``fold_in(pair, 0), fold_in(pair, 1), ...``. So a batch's
augmentation is a pure function of (seed, batch index): reproducible whatever the map's
parallelism (a stateful generator shared by parallel calls is not), and a run resumed
at an epoch boundary or mid-epoch sees exactly what an uninterrupted run would.

Where a Keras 3.15 layer does not do what the recipe needs, the fix is small and named:
``keras.layers.RandomCrop`` crops a whole batch at one offset, so ``crop`` uses
``RandomTranslation`` (nearest, zero fill) with shifts rounded to whole pixels, which is
pad-and-crop exactly, per image; ``CutMix`` weights labels by the continuous box area,
so its weights are recomputed from the pasted pixels; ``RandAugment`` ignores the
``seed`` argument, so :class:`SeededRandAugment` routes its draws to it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

__all__ = [
    "AUGMENTATIONS",
    "Augmentation",
    "MASK_AUGMENTATIONS",
    "Param",
    "SOFT_LABEL_AUGMENTATIONS",
    "SeededRandAugment",
    "StatelessSeed",
    "build_augmentation",
    "check_mask_augmentations",
    "is_mask",
    "keras_layer_augmentation",
    "makes_soft_labels",
    "parse_augmentation",
    "parse_augmentations",
]


class StatelessSeed(keras.random.SeedGenerator):
    """A seed 'generator' over one (2,) int32 seed tensor: draw ``i`` gets ``fold_in(seed, i)``.

    Keras' random functions take an int or a SeedGenerator; this lets a preprocessing
    layer draw from a seed computed inside the tf.data graph (stateless randomness)
    without the shared state variable a real SeedGenerator updates. Successive draws get
    distinct seeds, as a real generator's do: layers that draw several times from the
    seed they are given (RandomErasing, CutMix, RandomTranslation) need that, or their
    draws come out identical (a crop's x offset equal to its y offset).
    """

    def __init__(self, seed_tensor):  # no super().__init__: there is no state to create
        self._seed_tensor = tf.cast(seed_tensor, tf.int32)
        self._draws = 0

    def next(self, ordered=True):
        seed = tf.random.experimental.stateless_fold_in(self._seed_tensor, self._draws)
        self._draws += 1
        return seed


class SeededRandAugment(keras.layers.RandAugment):
    """keras.layers.RandAugment whose draws all come from the seed given to get_random_transformation.

    Keras 3.15's RandAugment ignores that argument and draws the op choice and every
    op's parameters from its own stateful SeedGenerator; this hands it ``seed`` instead.
    """

    def get_random_transformation(self, data, training=True, seed=None):
        self.__dict__["_explicit_seed"] = seed  # bypass Layer.__setattr__'s tracking of SeedGenerators
        try:
            return super().get_random_transformation(data, training=training, seed=seed)
        finally:
            self.__dict__["_explicit_seed"] = None

    def _get_seed_generator(self, backend=None):
        seed = self.__dict__.get("_explicit_seed")
        return super()._get_seed_generator(backend) if seed is None else seed


def keras_layer_augmentation(
    layer: keras.layers.Layer, mixes_labels: bool = False, fix: Callable | None = None, geometric: bool = False
) -> Callable:
    """``fn(images, labels, seed_pair)`` applying a Keras image preprocessing layer with a stateless seed.

    ``mixes_labels``: the layer's ``transform_labels`` is applied too (mixup, cutmix).
    ``fix(transformation) -> transformation`` adjusts the drawn transformation first.
    ``geometric``: segmentation masks get the image's transform (``transform_segmentation_masks``);
    otherwise masks pass unchanged.
    """
    layer.backend.set_backend("tensorflow")  # tf.data runs TensorFlow whatever the Keras backend

    def apply(images, labels, seed):
        data = {"images": images, "labels": labels}
        transformation = layer.get_random_transformation(data, training=True, seed=StatelessSeed(seed))
        if fix is not None:
            transformation = fix(transformation)
        images = layer.transform_images(images, transformation, training=True)
        if is_mask(images, labels):
            if mixes_labels:
                raise ValueError(f"{type(layer).__name__} mixes labels; it cannot take segmentation masks")
            if geometric:
                masks = tf.cast(labels, tf.float32)[..., None]
                masks = layer.transform_segmentation_masks(masks, transformation, training=True)
                labels = tf.cast(tf.round(masks[..., 0]), labels.dtype)
        elif mixes_labels:
            if not labels.dtype.is_floating or labels.shape.rank != 2:
                raise ValueError(
                    f"{type(layer).__name__} mixes labels: it needs float one-hot labels of shape "
                    f"(batch, classes), as make_pipeline(num_classes=...) gives; got {labels.dtype.name} "
                    f"labels of shape {labels.shape}"
                )
            labels = layer.transform_labels(labels, transformation, training=True)
        return images, labels

    return apply


# --- the named augmentations --------------------------------------------------------------

FLOAT32 = {"dtype": "float32"}  # stay float32 under a mixed-precision global policy


def is_mask(images, labels) -> bool:
    """Whether ``labels`` are segmentation masks of ``images`` (HxW beside HxWxC, batched or not)."""
    return labels.shape.rank is not None and labels.shape.rank >= 2 and labels.shape.rank == images.shape.rank - 1


def _flip(image_shape):
    return keras_layer_augmentation(keras.layers.RandomFlip("horizontal", **FLOAT32), geometric=True)


def _crop(image_shape, padding):
    height, width = image_shape[0], image_shape[1]
    if height is None or width is None:
        raise ValueError("augmentation 'crop' needs images of a known height and width")
    if padding >= min(height, width):
        raise ValueError(f"augmentation 'crop:{padding}': padding must be smaller than the image ({height}x{width})")
    # Uniform shifts in [-(p + 1/2), p + 1/2] rounded to whole pixels: uniform on -p..p, per image,
    # with zeros shifted in -- the same distribution of outputs as zero-padding by p and cropping.
    layer = keras.layers.RandomTranslation(
        (padding + 0.5) / height,
        (padding + 0.5) / width,
        fill_mode="constant",
        fill_value=0.0,
        interpolation="nearest",
        **FLOAT32,
    )

    def whole_pixels(transformation):
        return {**transformation, "translations": tf.round(transformation["translations"])}

    return keras_layer_augmentation(layer, fix=whole_pixels, geometric=True)


def _erasing(image_shape, probability):
    # Zhong et al.: probability p = 0.5, area 2%..40%. Keras draws each side's fraction as
    # sqrt(U(0.02, 0.4)) independently (area 2%..40%, aspect 0.22..4.5; the paper's is 0.3..3.3)
    # and fills with Keras' noise, N(0, 255^2) clipped to 0..255 (the paper's is U(0, 255)).
    layer = keras.layers.RandomErasing(
        factor=(probability, probability), scale=(0.02, 0.4), fill_value=None, value_range=(0, 255), **FLOAT32
    )
    return keras_layer_augmentation(layer)


def _cutout(image_shape, size, fill):
    # DeVries & Taylor: every image, a 16x16 square on 32x32 CIFAR-10 (8x8 on CIFAR-100), filled
    # with 0 after normalization (the mean). Here the patch lies wholly inside the image (theirs
    # may overhang the border) and ``fill`` is a pixel value in 0..255 (0 is black).
    layer = keras.layers.RandomErasing(
        factor=(1.0, 1.0), scale=(size * size, size * size), fill_value=fill, value_range=(0, 255), **FLOAT32
    )
    return keras_layer_augmentation(layer)


def _mixup(image_shape, alpha):
    return keras_layer_augmentation(keras.layers.MixUp(alpha=alpha, **FLOAT32), mixes_labels=True)


def _cutmix(image_shape, alpha):
    # Keras' CutMix draws its Beta concentration from U(factor); (alpha, alpha) fixes it.
    layer = keras.layers.CutMix(factor=(alpha, alpha), **FLOAT32)

    def pasted_area(transformation):
        # Yun et al. set the label weight to the box's actual area; Keras uses the continuous
        # box, which differs from the pixels pasted by up to a row and a column.
        pasted = tf.reduce_mean(tf.cast(transformation["batch_masks"][..., 0], tf.float32), axis=[1, 2])
        return {**transformation, "mix_weight": 1.0 - pasted}

    return keras_layer_augmentation(layer, mixes_labels=True, fix=pasted_area)


def _randaugment(image_shape, num_ops, magnitude):
    # Keras' ``factor`` in 0..1 is the paper's M / 10; each op's strength is drawn per image in
    # [0, factor], over Keras' own op ranges, which are wider than the paper's: at factor 0.9
    # RandomRotation turns up to 0.9 x 360 degrees (the paper's rotation tops out at 30).
    layer = SeededRandAugment(value_range=(0, 255), num_ops=num_ops, factor=magnitude / 10.0, **FLOAT32)
    return keras_layer_augmentation(layer)


@dataclasses.dataclass(frozen=True)
class Param:
    """One positional parameter of an augmentation name: its type, default and allowed range."""

    name: str
    kind: type  # int or float
    default: float
    low: float
    high: float | None = None  # None: no upper bound
    low_inclusive: bool = True

    def parse(self, text: str, spec: str):
        try:
            value = self.kind(text)
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            raise ValueError(
                f"augmentation {spec!r}: {self.name} must be {'an integer' if self.kind is int else 'a number'}; "
                f"got {text!r}"
            ) from None
        above = value >= self.low if self.low_inclusive else value > self.low
        if not above or (self.high is not None and value > self.high):
            bound = f"{'>=' if self.low_inclusive else '>'} {self.low}"
            bound += f" and <= {self.high}" if self.high is not None else ""
            raise ValueError(f"augmentation {spec!r}: {self.name} must be {bound}; got {value}")
        return value


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """A named augmentation: ``factory(image_shape, *params) -> fn(images, labels, seed_pair)``."""

    factory: Callable
    params: tuple = ()
    soft_labels: bool = False  # mixes labels: needs one-hot labels and a soft-label loss
    reference: str = ""
    masks: bool = True  # keeps segmentation masks right (geometric ops move them, photometric ones leave them)

    def usage(self, name: str) -> str:
        return ":".join([name, *(p.name.upper() for p in self.params)])


AUGMENTATIONS: dict[str, Augmentation] = {
    "flip": Augmentation(_flip, reference="horizontal mirror"),
    "crop": Augmentation(_crop, (Param("padding", int, 4, 1),), reference="He et al. 2016 (CIFAR pad-and-crop)"),
    "erasing": Augmentation(_erasing, (Param("probability", float, 0.5, 0.0, 1.0),), reference="Zhong et al. 2017"),
    "cutout": Augmentation(
        _cutout,
        (Param("size", float, 0.5, 0.0, 1.0, low_inclusive=False), Param("fill", float, 0.0, 0.0, 255.0)),
        reference="DeVries & Taylor 2017",
    ),
    "mixup": Augmentation(_mixup, (Param("alpha", float, 0.2, 0.0, low_inclusive=False),), True, "Zhang et al. 2018"),
    "cutmix": Augmentation(
        _cutmix, (Param("alpha", float, 1.0, 0.0, 1.0, low_inclusive=False),), True, "Yun et al. 2019"
    ),
    "randaugment": Augmentation(
        _randaugment,
        (Param("num_ops", int, 2, 1), Param("magnitude", float, 9.0, 0.0, 10.0)),
        reference="Cubuk et al. 2019",
        masks=False,
    ),
}
SOFT_LABEL_AUGMENTATIONS = frozenset(name for name, spec in AUGMENTATIONS.items() if spec.soft_labels)
MASK_AUGMENTATIONS = tuple(name for name, spec in AUGMENTATIONS.items() if spec.masks and not spec.soft_labels)


def parse_augmentation(spec: str) -> tuple[str, tuple]:
    """``"name[:p1[:p2]]"`` -> ``(name, params)`` with defaults filled in; ValueError on a bad spec."""
    if not isinstance(spec, str):
        raise ValueError(f"augmentation must be a string like 'crop:4'; got {spec!r}")
    name, *texts = spec.strip().split(":")
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}")
    aug = AUGMENTATIONS[name]
    if len(texts) > len(aug.params):
        takes = f"at most {len(aug.params)} parameter(s), {aug.usage(name)}" if aug.params else "no parameters"
        raise ValueError(f"augmentation {spec!r}: {name} takes {takes}; got {len(texts)}")
    values = [p.parse(t, spec) for p, t in zip(aug.params, texts)]
    return name, (*values, *(p.default for p in aug.params[len(values) :]))


def parse_augmentations(names: Sequence[str]) -> list[tuple[str, tuple]]:
    """Parse every spec in ``names`` (see :func:`parse_augmentation`)."""
    if isinstance(names, str):
        raise ValueError(f"augment must be a list of names, not the string {names!r}")
    return [parse_augmentation(n) for n in names]


def check_mask_augmentations(names: Sequence[str]) -> None:
    """ValueError when an augmentation in ``names`` cannot keep segmentation masks aligned with their images."""
    for name, _ in parse_augmentations(names):
        if name not in MASK_AUGMENTATIONS:
            raise ValueError(
                f"augmentation {name!r} cannot keep segmentation masks aligned; "
                f"for segmentation use {', '.join(MASK_AUGMENTATIONS)}"
            )


def makes_soft_labels(names: Sequence[str]) -> bool:
    """True when an augmentation in ``names`` mixes labels (needs one-hot labels and a soft-label loss)."""
    return any(name in SOFT_LABEL_AUGMENTATIONS for name, _ in parse_augmentations(names))


def build_augmentation(
    names: Sequence[str], seed: int | None = None, image_shape: Sequence[int | None] = (None, None, None)
) -> Callable:
    """Compose the named augmentations, in order, as ``fn(images, labels, batch_index)``.

    ``image_shape`` (height, width, channels) of the batches is needed by ``crop``.
    Augmentation ``k`` of batch ``b`` draws from ``fold_in((seed, b), k)``; without a seed,
    each batch draws a fresh random one.
    """
    fns = [AUGMENTATIONS[name].factory(tuple(image_shape), *params) for name, params in parse_augmentations(names)]

    @tf.autograph.experimental.do_not_convert
    def augment(images, labels, batch_index):
        base = (
            tf.random.uniform([], maxval=2**30, dtype=tf.int32) if seed is None else tf.constant(seed % 2**30, tf.int32)
        )
        pair = tf.stack([base, tf.cast(batch_index, tf.int32)])
        for k, fn in enumerate(fns):
            images, labels = fn(images, labels, tf.random.experimental.stateless_fold_in(pair, k))
        return images, labels

    return augment
