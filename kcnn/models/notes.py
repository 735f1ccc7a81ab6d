"""The example networks of the CNN notes (``/work/shared/notes``), registered as family "notes".

Three come from note 002 (刘二大人's PyTorch lecture on MNIST: its basic CNN, its
Inception network and its residual network), one from note 004 (a TensorFlow 1 MNIST
CNN). The scraped note 002 keeps only the first line of each code listing, so the layer
lists follow the lecture's code as the note describes it in prose ("最后的输出的通道数
24*3 + 16 = 88", "H(x) = F(x) + x"); every count below is worked out from those lists.

``kernel_initializer="paper"`` is the notes' own initialization: PyTorch's default for the
note 002 nets (weights and biases uniform in +-1/sqrt(fan_in); their default), note 004's
``tf.random_normal`` (standard deviation 1) for the TensorFlow 1 net (opt-in, see
:func:`notes_tf1_cnn`). A Keras initializer name gives that kernel initializer with zero
biases.

All four flatten their last feature map, so with ``include_top`` the input size is fixed
(28x28x1 by default; the counts are for 28x28).
"""

from __future__ import annotations

import math

import keras
from keras import layers

from kcnn.blocks.plain import ACTIVATIONS, KERNEL_INITIALIZERS, check_choice
from kcnn.layers import Maxout
from kcnn.models._base import build_classifier, family_builder, predictions
from kcnn.registry import register_model

__all__ = ["notes_cnn", "notes_inception_cnn", "notes_residual_cnn", "notes_tf1_cnn"]

_NOTE_002 = "CNN notes 002_23ecdafbb88563bd.txt (PyTorch MNIST lecture, B站 刘二大人)"
_NOTE_004 = "CNN notes 004_23ce172ecea5798e.txt (TensorFlow 1 MNIST CNN)"
# min_input: two valid 5x5 convolutions and two 2x2 poolings (16 -> 12 -> 6 -> 2 -> 1), see _classifier.
_REG = dict(family="notes", input_shape=(28, 28, 1), params_convention="total", min_input=(16, 16, 1))


def _init(choice, fan_in: int, paper: str) -> dict:
    """Kernel and bias initializers of one layer with ``fan_in`` inputs per output.

    "paper" is ``paper``'s rule: "torch" (nn.Conv2d / nn.Linear's reset_parameters:
    kaiming_uniform(a=sqrt(5)) weights and biases, both uniform in +-1/sqrt(fan_in)) or
    "tf1_normal" (tf.random_normal: N(0, 1) weights and biases).
    """
    if not isinstance(choice, keras.initializers.Initializer):
        check_choice(choice, KERNEL_INITIALIZERS, "kernel_initializer")
    if choice != "paper":
        return dict(kernel_initializer=keras.initializers.get(choice), bias_initializer="zeros")
    if paper == "torch":
        bound = 1.0 / math.sqrt(fan_in)
        return dict(
            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
            bias_initializer=keras.initializers.RandomUniform(-bound, bound),
        )
    return dict(
        kernel_initializer=keras.initializers.RandomNormal(stddev=1.0),
        bias_initializer=keras.initializers.RandomNormal(stddev=1.0),
    )


def _conv(x, filters: int, kernel_size: int, *, init, paper="torch", padding="valid", activation=None, name: str):
    fan_in = x.shape[-1] * kernel_size * kernel_size
    return layers.Conv2D(
        filters, kernel_size, padding=padding, activation=activation, name=name, **_init(init, fan_in, paper)
    )(x)


def _flatten_top(init, paper="torch", hidden: int = 0, dropout: float = 0.0):
    """Flatten, [dense ``hidden`` + ReLU, dropout], then the ``predictions`` layer."""

    def top(x, *, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        if hidden:
            x = layers.Dense(hidden, activation="relu", name="fc1", **_init(init, x.shape[-1], paper))(x)
            if dropout:
                x = layers.Dropout(dropout, name="fc1_dropout")(x)
        return predictions(
            x, classes=classes, classifier_activation=classifier_activation, **_init(init, x.shape[-1], paper)
        )

    return top


def _classifier(name, features, top, *, include_top, weights, input_tensor, input_shape, pooling, **kwargs):
    return build_classifier(
        name=name,
        features=features,
        top=top,
        fixed_size=True,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        default_shape=(28, 28, 1),
        min_size=16,  # two valid 5x5 convolutions and two 2x2 poolings: 16 -> 12 -> 6 -> 2 -> 1
        **kwargs,
    )


@register_model(
    "notes_cnn",
    paper=_NOTE_002 + ", 基本的CNN",
    params=8_490,
    params_source="arithmetic: conv1 1*10*25+10 = 260, conv2 10*20*25+20 = 5,020, fc 320*10+10 = 3,210",
    **_REG,
)
@family_builder
def notes_cnn(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="notes_cnn",
    activation="relu",
    kernel_initializer="paper",
):
    """Note 002's basic CNN: conv1 (1->10, 5x5) - max-pool 2 - ReLU - conv2 (10->20, 5x5) -
    max-pool 2 - ReLU - flatten (20x4x4 = 320) - linear 320 -> classes.

    8,490 parameters for 10 classes: 260 + 5,020 + 3,210. ``activation`` is one of
    :data:`kcnn.blocks.plain.ACTIVATIONS` in place of the ReLUs ("maxout": each convolution
    has twice the filters and keeps the larger of each pair).
    """
    check_choice(activation, ACTIVATIONS, "activation")
    pieces = 2 if activation == "maxout" else 1

    def act(x, layer_name):
        if pieces > 1:
            return Maxout(pieces, name=layer_name)(x)
        return layers.Activation(activation, name=layer_name)(x)

    def features(x):
        x = _conv(x, 10 * pieces, 5, init=kernel_initializer, name="conv1")
        x = act(layers.MaxPooling2D(2, name="pool1")(x), "conv1_act")
        x = _conv(x, 20 * pieces, 5, init=kernel_initializer, name="conv2")
        return act(layers.MaxPooling2D(2, name="pool2")(x), "conv2_act")

    return _classifier(
        name,
        features,
        _flatten_top(kernel_initializer),
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
    )


def inception_a(x, *, init, reductions: bool = True, name: str):
    """Note 002's InceptionA module: four branches concatenated to 16 + 24 + 24 + 24 = 88 channels.

    ``{name}_1x1`` (1x1, 16); ``{name}_5x5_reduce`` (1x1, 16) - ``{name}_5x5`` (5x5, 24);
    ``{name}_3x3_reduce`` (1x1, 16) - ``{name}_3x3_1`` (3x3, 24) - ``{name}_3x3_2`` (3x3, 24);
    ``{name}_pool`` (3x3/1 average, padding 1 counted as zeros, as F.avg_pool2d does) -
    ``{name}_pool_proj`` (1x1, 24). No activation inside, as in the lecture's code.
    Parameters: 72*C_in + 18,384 (the 1x1 layers 16+16+16+24 = 72 per input channel plus
    72 biases; 5x5 16*24*25+24 = 9,624; 3x3 16*24*9+24 = 3,480 and 24*24*9+24 = 5,208).

    ``reductions=False`` drops the two 1x1 layers in front of the 5x5 and 3x3 convolutions,
    which then read the C_in input channels directly: 856*C_in + 5,296 parameters.
    """
    b1 = _conv(x, 16, 1, init=init, name=f"{name}_1x1")
    b5 = _conv(x, 16, 1, init=init, name=f"{name}_5x5_reduce") if reductions else x
    b5 = _conv(b5, 24, 5, init=init, padding="same", name=f"{name}_5x5")
    b3 = _conv(x, 16, 1, init=init, name=f"{name}_3x3_reduce") if reductions else x
    b3 = _conv(b3, 24, 3, init=init, padding="same", name=f"{name}_3x3_1")
    b3 = _conv(b3, 24, 3, init=init, padding="same", name=f"{name}_3x3_2")
    bp = layers.ZeroPadding2D(1, name=f"{name}_pool_pad")(x)
    bp = layers.AveragePooling2D(3, strides=1, name=f"{name}_pool")(bp)
    bp = _conv(bp, 24, 1, init=init, name=f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b5, b3, bp])


@register_model(
    "notes_inception_cnn",
    paper=_NOTE_002 + ", Inception",
    params=97_298,
    params_source=(
        "arithmetic: conv1 260 + inception1 (C_in 10) 19,104 + conv2 88*20*25+20 = 44,020 "
        "+ inception2 (C_in 20) 19,824 + fc 1408*10+10 = 14,090"
    ),
    **_REG,
)
@family_builder
def notes_inception_cnn(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="notes_inception_cnn",
    reductions=True,
    kernel_initializer="paper",
):
    """Note 002's Inception network: conv1 (1->10, 5x5) - max-pool 2 - ReLU - InceptionA (88
    channels) - conv2 (88->20, 5x5) - max-pool 2 - ReLU - InceptionA - flatten (88x4x4 =
    1,408) - linear 1,408 -> classes.

    97,298 parameters for 10 classes. An InceptionA on C_in channels has 72*C_in + 18,384
    (see :func:`inception_a`): 19,104 on 10 channels and 19,824 on 20. With conv1 260,
    conv2 44,020 and the linear layer 14,090: 260 + 19,104 + 44,020 + 19,824 + 14,090.

    ``reductions=False`` removes the 1x1 layers before the 5x5 and 3x3 branches (the
    "1x1 reductions" of issue 13, item 7). Here they do not reduce: they map 10 or 20
    channels to 16. Without them an InceptionA has 16*C_in+16 + 24*25*C_in+24 +
    24*9*C_in+24 + 5,208 + 24*C_in+24 = 856*C_in + 5,296: 13,856 and 22,416, so the network
    has 260 + 13,856 + 44,020 + 22,416 + 14,090 = 94,642 parameters.
    """

    def features(x):
        x = _conv(x, 10, 5, init=kernel_initializer, name="conv1")
        x = layers.Activation("relu", name="conv1_act")(layers.MaxPooling2D(2, name="pool1")(x))
        x = inception_a(x, init=kernel_initializer, reductions=reductions, name="inception1")
        x = _conv(x, 20, 5, init=kernel_initializer, name="conv2")
        x = layers.Activation("relu", name="conv2_act")(layers.MaxPooling2D(2, name="pool2")(x))
        return inception_a(x, init=kernel_initializer, reductions=reductions, name="inception2")

    return _classifier(
        name,
        features,
        _flatten_top(kernel_initializer),
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
    )


def residual_block(x, *, init, name: str):
    """Note 002's ResidualBlock: y = ReLU(conv3x3(x)); y = conv3x3(y); out = ReLU(x + y),
    both 3x3 convolutions C -> C with padding 1, no BatchNorm: 2 * (9*C*C + C) parameters."""
    c = x.shape[-1]
    y = _conv(x, c, 3, init=init, padding="same", activation="relu", name=f"{name}_1_conv")
    y = _conv(y, c, 3, init=init, padding="same", name=f"{name}_2_conv")
    x = layers.Add(name=f"{name}_add")([x, y])
    return layers.Activation("relu", name=f"{name}_out")(x)


@register_model(
    "notes_residual_cnn",
    paper=_NOTE_002 + ", Residual Net",
    params=41_514,
    params_source=(
        "arithmetic: conv1 1*16*25+16 = 416 + block(16) 2*(16*16*9+16) = 4,640 + conv2 16*32*25+32 = 12,832 "
        "+ block(32) 2*(32*32*9+32) = 18,496 + fc 512*10+10 = 5,130"
    ),
    **_REG,
)
@family_builder
def notes_residual_cnn(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="notes_residual_cnn",
    kernel_initializer="paper",
):
    """Note 002's residual network: conv1 (1->16, 5x5) - ReLU - max-pool 2 - residual block
    (16) - conv2 (16->32, 5x5) - ReLU - max-pool 2 - residual block (32) - flatten (32x4x4 =
    512) - linear 512 -> classes.

    41,514 parameters for 10 classes: 416 + 4,640 + 12,832 + 18,496 + 5,130 (a block on C
    channels has 2 * (9*C*C + C), see :func:`residual_block`).
    """

    def features(x):
        x = _conv(x, 16, 5, init=kernel_initializer, activation="relu", name="conv1")
        x = layers.MaxPooling2D(2, name="pool1")(x)
        x = residual_block(x, init=kernel_initializer, name="block1")
        x = _conv(x, 32, 5, init=kernel_initializer, activation="relu", name="conv2")
        x = layers.MaxPooling2D(2, name="pool2")(x)
        return residual_block(x, init=kernel_initializer, name="block2")

    return _classifier(
        name,
        features,
        _flatten_top(kernel_initializer),
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
    )


@register_model(
    "notes_tf1_cnn",
    paper=_NOTE_004,
    params=6_508_298,
    params_source=(
        "arithmetic: wc1 3*3*1*64+64 = 640 + wc2 3*3*64*128+128 = 73,856 + wd1 7*7*128*1024+1024 = 6,423,552 "
        "+ out 1024*10+10 = 10,250"
    ),
    **_REG,
)
@family_builder
def notes_tf1_cnn(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="notes_tf1_cnn",
    dropout_rate=0.75,
    kernel_initializer="glorot_uniform",
):
    """Note 004's TensorFlow 1 CNN: 3x3 conv 64 SAME + ReLU - 2x2 max-pool SAME - 3x3 conv
    128 SAME + ReLU - 2x2 max-pool SAME - dense 1024 + ReLU - dropout - dense classes.

    6,508,298 parameters for 10 classes: 640 + 73,856 + 6,423,552 + 10,250.

    ``dropout_rate`` 0.75 is what the note's code does: ``tf.nn.dropout(fc_1, dropout)``
    with ``dropout = 0.25``, and TensorFlow 1's second argument is keep_prob (the
    ``keep_prob`` placeholder it feeds 0.5 is never used).

    ``kernel_initializer`` defaults to Keras' glorot_uniform with zero biases, not the
    note's: "paper" is its ``tf.random_normal``, weights and biases N(0, 1), which puts the
    logits in the thousands. Under TensorFlow Keras' cross-entropy reads the logits and it
    trains; under torch the saturated float32 softmax (0 and 1 exactly) leaves no gradient
    for any layer (measured in the zoo harness), so the note's rule is opt-in. Not
    reproduced either: the note applies softmax twice (``conv_basic`` ends in one and
    ``pred`` takes another); here the one softmax is ``classifier_activation``.
    """

    def features(x):
        x = _conv(
            x, 64, 3, init=kernel_initializer, paper="tf1_normal", padding="same", activation="relu", name="conv1"
        )
        x = layers.MaxPooling2D(2, padding="same", name="pool1")(x)
        x = _conv(
            x, 128, 3, init=kernel_initializer, paper="tf1_normal", padding="same", activation="relu", name="conv2"
        )
        return layers.MaxPooling2D(2, padding="same", name="pool2")(x)

    return _classifier(
        name,
        features,
        _flatten_top(kernel_initializer, "tf1_normal", hidden=1024, dropout=dropout_rate),
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
    )
