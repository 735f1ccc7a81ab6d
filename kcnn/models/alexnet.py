"""AlexNet (Krizhevsky, Sutskever & Hinton 2012, "ImageNet classification with deep
convolutional neural networks"), with and without the paper's two-tower grouping, and
torchvision's single-tower variant (Krizhevsky 2014, "One weird trick for parallelizing
convolutional neural networks").

Both variants are rows of :data:`ALEXNET_SPECS` read by one builder.

Endpoints (:func:`kcnn.models.endpoints`) by nominal stride: ``norm1`` (P2; ``conv1``
without LRN), ``norm2`` (P3; ``conv2``), ``conv5`` (P4), ``pool5`` (P5). The unpadded 11x11/4
convolution and 3x3/2 poolings make the maps smaller than H/2**k (55, 27, 13, 6 at 227):
a decoder must crop or resize, as FCN does.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import layers

from kcnn.blocks.plain import check_activation, check_choice, conv_act, fc_act, kernel_initializer_for
from kcnn.layers import LocalResponseNormalization
from kcnn.models._base import build_classifier, family_builder, predictions, tap
from kcnn.registry import register_model

__all__ = ["ALEXNET_SPECS", "AlexNetSpec", "ConvSpec", "alexnet", "alexnet_grouped", "alexnet_torchvision"]

_PAPER = "Krizhevsky, Sutskever & Hinton 2012, ImageNet classification with deep convolutional neural networks"
_WEIRD_TRICK = (
    "Krizhevsky 2014, One weird trick for parallelizing convolutional neural networks (torchvision's alexnet)"
)


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """One convolution: ``pad`` is Caffe's symmetric zero padding; ``tower``: with
    ``groups=2`` it sees only its own GPU's maps (paper §3.2: conv2, conv4, conv5);
    ``paper_bias``: its bias initialization in the paper; ``lrn`` / ``pool``: followed by
    response normalization (after the ReLU) / by 3x3 stride-2 overlapping max pooling."""

    filters: int
    kernel: int
    strides: int = 1
    pad: int = 1
    tower: bool = False
    paper_bias: float = 0.0
    lrn: bool = False
    pool: bool = False


@dataclasses.dataclass(frozen=True)
class AlexNetSpec:
    convs: tuple
    default_shape: tuple
    fc_units: tuple = (4096, 4096)
    dropout_before_fc: bool = False  # torchvision: Dropout -> Linear -> ReLU; paper / Caffe: Linear -> ReLU -> Dropout

    @property
    def min_size(self) -> int:
        """The smallest input side every convolution and 3x3/2 pooling accepts."""
        for side in range(1, 1024):
            n = side
            for c in self.convs:
                n = (n + 2 * c.pad - c.kernel) // c.strides + 1
                n = (n - 3) // 2 + 1 if c.pool and n >= 3 else (0 if c.pool else n)
                if n < 1:
                    break
            else:
                return side
        raise AssertionError("no input size fits")  # pragma: no cover


ALEXNET_SPECS = {
    # Paper Fig. 2 / §3.5, with Caffe's paddings (bvlc_alexnet) that give its 55-27-13-13-13 maps at 227x227.
    "krizhevsky2012": AlexNetSpec(
        convs=(
            ConvSpec(96, 11, strides=4, pad=0, lrn=True, pool=True),
            ConvSpec(256, 5, pad=2, tower=True, paper_bias=1.0, lrn=True, pool=True),
            ConvSpec(384, 3),
            ConvSpec(384, 3, tower=True, paper_bias=1.0),
            ConvSpec(256, 3, tower=True, paper_bias=1.0, pool=True),
        ),
        default_shape=(227, 227, 3),
    ),
    # torchvision.models.alexnet: 64-192-384-256-256, no LRN. Its AdaptiveAvgPool2d((6, 6)) is the
    # identity at 224x224 and is left out (Keras 3.15's TensorFlow version fails on maps under 2x2).
    "torchvision": AlexNetSpec(
        convs=(
            ConvSpec(64, 11, strides=4, pad=2, pool=True),
            ConvSpec(192, 5, pad=2, paper_bias=1.0, pool=True),
            ConvSpec(384, 3),
            ConvSpec(256, 3, paper_bias=1.0),
            ConvSpec(256, 3, paper_bias=1.0, pool=True),
        ),
        default_shape=(224, 224, 3),
        dropout_before_fc=True,
    ),
}


@register_model(
    "alexnet",
    family="alexnet",
    paper=_PAPER,
    input_shape=(227, 227, 3),
    min_input=(67, 67, 3),
    params=62_378_344,
    params_source="arithmetic: conv1 34,944 + conv2 614,656 + conv3 885,120 + conv4 1,327,488 + conv5 884,992 "
    "+ fc6 37,752,832 + fc7 16,781,312 + fc8 4,097,000",
)
@family_builder
def alexnet(
    layout="krizhevsky2012",
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="alexnet",
    groups=1,
    activation="relu",
    kernel_initializer="paper",
    maxout_pieces=2,
    dropout=0.5,
    local_response_norm=True,
) -> keras.Model:
    """AlexNet in ``layout`` "krizhevsky2012" (default) or "torchvision"
    (:func:`alexnet_torchvision`), rows of :data:`ALEXNET_SPECS`; the family builder
    (registered itself as "alexnet").

    keras.applications' arguments: ``include_top``, ``weights`` (None or a ``.weights.h5``
    path; no ImageNet weights), ``input_tensor``, ``input_shape`` (static with the top),
    ``pooling``, ``classes``, ``classifier_activation``, ``name``.

    The paper's network, on 227x227x3 inputs (the paper says 224x224, but its 55x55 conv1
    maps need 227 with an unpadded 11x11/4 convolution, as in Caffe):

    conv1 96@11x11/4 - LRN - 3x3/2 max pool - conv2 256@5x5 pad 2 - LRN - pool - conv3
    384@3x3 - conv4 384@3x3 - conv5 256@3x3 - pool - fc6 4096 - fc7 4096 - predictions
    (fc8), ReLU after every layer but the last, dropout 0.5 after fc6 and fc7 (as in the
    paper and Caffe). LRN (k=2, n=5, alpha=1e-4 not divided by n, beta=0.75) follows the
    ReLU and precedes the pooling (§3.3-3.4). 62,378,344 parameters for 1000 classes.

    ``groups=2`` restores the two-GPU towers: conv2, conv4 and conv5 see only their own
    tower's maps (grouped convolutions; conv3 and the FC layers connect across), 60,965,224
    parameters. ``kernel_initializer="paper"`` (default) is §5's zero-mean Gaussian with
    std 0.01, biases 1 in conv2, conv4, conv5, fc6 and fc7 (the hidden FC layers) and 0
    elsewhere; any other choice in ``kcnn.blocks.KERNEL_INITIALIZERS`` uses zero biases.
    ``activation``: relu (paper), sigmoid, tanh, leaky_relu, elu or maxout (``maxout_pieces``
    linear pieces per unit). ``local_response_norm=False`` drops the LRN layers (the
    paper's ablation). Inputs must be at least 67x67 (63x63 for "torchvision": the valid 11x11/4 and 3x3/2 layers).
    """
    if layout not in ALEXNET_SPECS:
        raise ValueError(f"layout must be one of {sorted(ALEXNET_SPECS)}; Received: layout={layout!r}")
    spec = ALEXNET_SPECS[layout]
    check_choice(groups, (1, 2), "groups")
    check_activation(activation)
    paper_init = kernel_initializer == "paper"
    kinit = kernel_initializer_for(kernel_initializer, keras.initializers.RandomNormal(0.0, 0.01))
    act = dict(activation=activation, maxout_pieces=maxout_pieces, kernel_initializer=kinit)

    def bias(value):
        return keras.initializers.Constant(value) if paper_init and value else "zeros"

    endpoints = {}

    def features(x):
        stride = 1
        for i, c in enumerate(spec.convs, 1):
            same = c.strides == 1 and 2 * c.pad == c.kernel - 1
            x = conv_act(
                x,
                c.filters,
                c.kernel,
                strides=c.strides,
                padding="same" if same else c.pad,
                groups=groups if c.tower else 1,
                bias_initializer=bias(c.paper_bias),
                name=f"conv{i}",
                **act,
            )
            if c.lrn and local_response_norm:
                x = LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75, k=2.0, name=f"norm{i}")(x)
            stride *= c.strides
            tap(endpoints, x, stride)
            if c.pool:
                x = layers.MaxPooling2D(3, strides=2, name=f"pool{i}")(x)
                stride *= 2
                tap(endpoints, x, stride)
        return x

    def top(x, *, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        for j, units in enumerate(spec.fc_units, 6):
            if dropout and spec.dropout_before_fc:
                x = layers.Dropout(dropout, name=f"fc{j}_dropout")(x)
            x = fc_act(x, units, bias_initializer=bias(1.0), name=f"fc{j}", **act)
            if dropout and not spec.dropout_before_fc:
                x = layers.Dropout(dropout, name=f"fc{j}_dropout")(x)
        return predictions(x, classes=classes, classifier_activation=classifier_activation, kernel_initializer=kinit)

    return build_classifier(
        name=name,
        features=features,
        top=top,
        fixed_size=True,
        default_shape=spec.default_shape,
        min_size=spec.min_size,
        endpoints=endpoints,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
    )


@register_model(
    "alexnet_grouped",
    family="alexnet",
    paper=_PAPER + " (two-tower grouping)",
    input_shape=(227, 227, 3),
    min_input=(67, 67, 3),
    params=60_965_224,
    params_source="arithmetic: alexnet's 62,378,344 less the cross-tower halves of conv2 (307,200), "
    "conv4 (663,552) and conv5 (442,368)",
)
def alexnet_grouped(**kwargs):
    """:func:`alexnet` with ``groups=2``: the paper's two GPU towers in conv2, conv4 and conv5."""
    return alexnet(**{"groups": 2, "name": "alexnet_grouped", **kwargs})


@register_model(
    "alexnet_torchvision",
    family="alexnet",
    paper=_WEIRD_TRICK,
    input_shape=(224, 224, 3),
    min_input=(63, 63, 3),
    params=61_100_840,
    params_source="torchvision alexnet (AlexNet_Weights.IMAGENET1K_V1)",
    params_convention="trainable",
)
def alexnet_torchvision(**kwargs):
    """torchvision's AlexNet, the single-tower network of Krizhevsky 2014 ("one weird trick").

    Not the 2012 network: conv1 64@11x11/4 pad 2 - pool - conv2 192@5x5 - pool - conv3 384
    - conv4 256 - conv5 256 - pool (6x6x256 at 224x224), no LRN, then Dropout-fc6 4096-Dropout-fc7
    4096-predictions (torchvision's order). 61,100,840 parameters. torchvision's 6x6 adaptive
    average pool, the identity at 224x224, is left out: like the paper's network this one flattens whatever pool5 gives
    (inputs of at least 63x63). Default initialization is Keras' glorot_uniform;
    "paper" selects the 2012 paper's Gaussian (std 0.01, biases 1 in conv2/4/5, fc6/7).
    """
    return alexnet("torchvision", **{"kernel_initializer": "glorot_uniform", "name": "alexnet_torchvision", **kwargs})
