"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to
document recognition"), faithfully, and the common modern variant."""

from __future__ import annotations

from keras import layers

from kcnn.layers import LENET5_C3_TABLE, ConnectionTableConv2D, FanInUniform, Subsampling2D, scaled_tanh
from kcnn.models._base import build_classifier, predictions
from kcnn.registry import register_model

__all__ = ["lenet5", "lenet5_modern"]

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


@register_model(
    "lenet5",
    family="lenet",
    paper=_PAPER,
    input_shape=(28, 28, 1),
    params=60_850,
    params_source="paper §II.B: 60,000 trainable up to F6, plus an 84x10 softmax output (850)",
    params_convention="trainable",
)
def lenet5(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="lenet5",
):
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
    init = FanInUniform(2.4)

    def features(x):
        x = _pad_to_32(x, name)
        x = layers.Conv2D(6, 5, activation=scaled_tanh, kernel_initializer=init, name="c1")(x)
        x = Subsampling2D(2, activation=scaled_tanh, name="s2")(x)
        x = ConnectionTableConv2D(LENET5_C3_TABLE, 5, activation=scaled_tanh, name="c3")(x)
        x = Subsampling2D(2, activation=scaled_tanh, name="s4")(x)
        return layers.Conv2D(120, 5, activation=scaled_tanh, kernel_initializer=init, name="c5")(x)

    def top(x, *, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(84, activation=scaled_tanh, kernel_initializer=init, name="f6")(x)
        return predictions(x, classes=classes, classifier_activation=classifier_activation)

    return build_classifier(
        name=name,
        features=features,
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
    "lenet5_modern",
    family="lenet",
    paper=_PAPER + " (modernised: ReLU, max pooling, full connections)",
    input_shape=(28, 28, 1),
    params=61_706,
    params_source="arithmetic: 156 + 2,416 + 48,120 + 10,164 + 850",
)
def lenet5_modern(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="lenet5_modern",
    activation="relu",
    kernel_initializer="he_normal",
):
    """The LeNet-5 of today's tutorials: 6@5x5 and 16@5x5 convolutions with ``activation``
    and 2x2 max pooling, then dense 120-84-classes (61,706 parameters for 10 classes).

    ``activation`` and ``kernel_initializer`` take any Keras name (e.g. "tanh" with
    "glorot_uniform" for Xavier's setting, "relu" with "he_normal" for He's).
    """
    conv = dict(activation=activation, kernel_initializer=kernel_initializer)

    def features(x):
        x = _pad_to_32(x, name)
        x = layers.Conv2D(6, 5, name="conv1", **conv)(x)
        x = layers.MaxPooling2D(2, name="pool1")(x)
        x = layers.Conv2D(16, 5, name="conv2", **conv)(x)
        return layers.MaxPooling2D(2, name="pool2")(x)

    def top(x, *, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(120, name="fc1", **conv)(x)
        x = layers.Dense(84, name="fc2", **conv)(x)
        return predictions(x, classes=classes, classifier_activation=classifier_activation)

    return build_classifier(
        name=name,
        features=features,
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
