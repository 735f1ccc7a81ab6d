"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to
document recognition"), faithfully, and the common modern variant."""

from __future__ import annotations

from keras import layers

from kcnn.layers import LENET5_C3_TABLE, ConnectionTableConv2D, FanInUniform, Subsampling2D, scaled_tanh
from kcnn.models._base import build_classifier, family_builder, predictions
from kcnn.registry import register_model

__all__ = ["lenet", "lenet5", "lenet5_modern"]

_PAPER = "LeCun et al. 1998, Gradient-based learning applied to document recognition"


def _pad_to_32(x, name: str):
    """28x28 digits are centred in the paper's 32x32 field by 2 pixels of zero padding."""
    size = tuple(x.shape[1:3])
    if size == (28, 28):
        return layers.ZeroPadding2D(2, name="pad")(x)
    if size == (32, 32):
        return x
    raise ValueError(
        f"{name} takes 28x28 images (padded to 32x32 as in the paper) or 32x32 images; "
        f"Received: input_shape={tuple(x.shape[1:])}"
    )


def _static(input_shape, input_tensor):
    """LeNet is defined on fixed 28x28 / 32x32 fields, with or without its top."""
    return input_shape if input_shape is not None or input_tensor is not None else (28, 28, 1)


LAYOUTS = ("lecun1998", "modern")


@family_builder
def lenet(
    layout="lecun1998",
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name=None,
    activation=None,
    kernel_initializer=None,
):
    """LeNet-5 in ``layout`` "lecun1998" (:func:`lenet5`, the paper's network) or "modern"
    (:func:`lenet5_modern`, today's tutorial network); both variants are one line over it.

    keras.applications' arguments: ``include_top``, ``weights`` (None or a ``.weights.h5``
    path; no ImageNet weights), ``input_tensor``, ``input_shape`` (28x28 - zero-padded to the
    paper's 32x32 field - or 32x32, any channels; static with or without the top),
    ``pooling``, ``classes`` (default 10), ``classifier_activation``, ``name``.

    ``activation`` and ``kernel_initializer`` (any Keras name or object) default to the
    layout's own: the paper's 1.7159 tanh(2a/3) and uniform +-2.4/fan-in, or ReLU and
    he_normal; "tanh" with "glorot_uniform" is Xavier's setting, "relu" with "he_normal" He's.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; Received: layout={layout!r}")
    name = name or ("lenet5" if layout == "lecun1998" else "lenet5_modern")
    paper = layout == "lecun1998"
    if activation is None:
        activation = scaled_tanh if paper else "relu"
    c3_initializer = kernel_initializer  # None: C3's own per-map fan-in (Table I's connections)
    if kernel_initializer is None:
        kernel_initializer = FanInUniform(2.4) if paper else "he_normal"
    unit = dict(activation=activation, kernel_initializer=kernel_initializer)

    def paper_features(x):
        x = _pad_to_32(x, name)
        x = layers.Conv2D(6, 5, name="c1", **unit)(x)
        x = Subsampling2D(2, activation=activation, name="s2")(x)
        x = ConnectionTableConv2D(
            LENET5_C3_TABLE, 5, activation=activation, kernel_initializer=c3_initializer, name="c3"
        )(x)
        x = Subsampling2D(2, activation=activation, name="s4")(x)
        return layers.Conv2D(120, 5, name="c5", **unit)(x)

    def modern_features(x):
        x = _pad_to_32(x, name)
        x = layers.Conv2D(6, 5, name="conv1", **unit)(x)
        x = layers.MaxPooling2D(2, name="pool1")(x)
        x = layers.Conv2D(16, 5, name="conv2", **unit)(x)
        return layers.MaxPooling2D(2, name="pool2")(x)

    def top(x, *, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        if paper:
            x = layers.Dense(84, name="f6", **unit)(x)
        else:
            x = layers.Dense(120, name="fc1", **unit)(x)
            x = layers.Dense(84, name="fc2", **unit)(x)
        return predictions(x, classes=classes, classifier_activation=classifier_activation)

    return build_classifier(
        name=name,
        features=paper_features if paper else modern_features,
        top=top,
        fixed_size=True,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=_static(input_shape, input_tensor),
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=(28, 28, 1),
        min_size=28,
    )


@register_model(
    "lenet5",
    family="lenet",
    paper=_PAPER,
    input_shape=(28, 28, 1),
    min_input=(28, 28, 1),
    params=60_850,
    params_source="paper §II.B: 60,000 trainable up to F6, plus an 84x10 softmax output (850)",
    params_convention="trainable",
)
def lenet5(**kwargs):
    """LeNet-5 as LeCun et al. 1998 describe it.

    C1 (6@5x5) - S2 (trainable subsampling) - C3 (16@5x5 over Table I's partial
    connections) - S4 - C5 (120@5x5) - F6 (84), every unit squashed by
    1.7159 tanh(2a/3) and initialised uniform in +-2.4/fan-in. Exactly 60,000
    trainable parameters up to F6 (C1 156, S2 12, C3 1,516, S4 32, C5 48,120,
    F6 10,164). 28x28 inputs are zero-padded to the paper's 32x32 field.

    The paper's output layer of Euclidean RBF units with fixed, hand-drawn 7x12
    bitmap weights (and its MAP-style loss) is replaced by a trainable dense
    ``predictions`` layer with softmax (84 x classes + classes parameters) trained with
    cross-entropy; ``include_top=False`` returns C5's 1x1x120 maps.
    """
    return lenet("lecun1998", **{"name": "lenet5", **kwargs})


@register_model(
    "lenet5_modern",
    family="lenet",
    paper=_PAPER + " (modernised: ReLU, max pooling, full connections)",
    input_shape=(28, 28, 1),
    min_input=(28, 28, 1),
    params=61_706,
    params_source="arithmetic: 156 + 2,416 + 48,120 + 10,164 + 850",
)
def lenet5_modern(**kwargs):
    """The LeNet-5 of today's tutorials: 6@5x5 and 16@5x5 convolutions with ReLU and 2x2 max
    pooling, then dense 120-84-classes (61,706 parameters for 10 classes)."""
    return lenet("modern", **{"name": "lenet5_modern", **kwargs})
