"""ZFNet (Zeiler & Fergus 2013, "Visualizing and understanding convolutional networks", Fig. 3).

Fig. 3 gives the layer sizes at 224x224x3: conv1 96@7x7/2 -> 110x110, 3x3/2 max pooling
-> 55x55, contrast normalization across feature maps, conv2 256@5x5/2 -> 26x26, pooling
-> 13x13, normalization, conv3 384@3x3, conv4 384@3x3, conv5 256@3x3 (13x13), pooling ->
6x6x256, fc6 4096, fc7 4096, C-way softmax. The paper states no paddings; the ones here
are the only Caffe-style choices that reproduce every printed size:

* conv1: 1 pixel of zero padding ((224 + 2 - 7) // 2 + 1 = 110; unpadded gives 109);
* conv2: none ((55 - 5) // 2 + 1 = 26); conv3-5: 1 pixel ("same");
* the three 3x3/2 poolings round up, as Caffe's do (110 -> 55, 26 -> 13, 13 -> 6;
  Keras' 'valid' would give 54 and 12), via :class:`kcnn.layers.CeilModeMaxPooling2D`.

The paper's normalization follows the pooling (caption of Fig. 3: "(i) passed through a
rectified linear function, (ii) pooled ... and (iii) contrast normalized across feature
maps"); its constants are not given, so AlexNet's LRN (k=2, n=5, alpha=1e-4, beta=0.75) is used.

Endpoints (:func:`kcnn.models.endpoints`) by nominal stride: ``conv1`` (P1), ``norm1`` (P2),
``conv2`` (P3), ``conv5`` (P4), ``pool5`` (P5): 110, 55, 26, 13 and 6 at 224x224, the
unpadded layers' sizes rather than H/2**k.
"""

from __future__ import annotations

import keras
from keras import layers

from kcnn.blocks.plain import check_activation, conv_act, fc_act, kernel_initializer_for
from kcnn.layers import CeilModeMaxPooling2D, LocalResponseNormalization, MaxFilterRMS
from kcnn.models._base import build_classifier, family_builder, predictions, tap
from kcnn.registry import register_model

__all__ = ["ZFNET_CONVS", "zfnet"]

_PAPER = "Zeiler & Fergus 2013, Visualizing and understanding convolutional networks"

# (filters, kernel, strides, zero padding, followed by pooling + normalization): Fig. 3.
ZFNET_CONVS = (
    (96, 7, 2, 1, True),
    (256, 5, 2, 0, True),
    (384, 3, 1, 1, False),
    (384, 3, 1, 1, False),
    (256, 3, 1, 1, False),
)


def _min_size() -> int:
    """The smallest input side every layer accepts (ceil-mode 3x3/2 pools need 2 rows)."""
    for side in range(1, 1024):
        n = side
        for i, (_, k, s, p, pool) in enumerate(ZFNET_CONVS, 1):
            n = (n + 2 * p - k) // s + 1
            if (pool or i == len(ZFNET_CONVS)) and n >= 2:
                n = -(-(n - 3) // 2) + 1
            elif pool or i == len(ZFNET_CONVS):
                n = 0
            if n < 1:
                break
        else:
            return side
    raise AssertionError("no input size fits")  # pragma: no cover


ZFNET_MIN_SIZE = _min_size()


@register_model(
    "zfnet",
    family="zfnet",
    paper=_PAPER,
    input_shape=(224, 224, 3),
    min_input=(ZFNET_MIN_SIZE, ZFNET_MIN_SIZE, 3),
    params=62_357_608,
    params_source="arithmetic from Fig. 3: conv1 7*7*3*96+96 = 14,208; conv2 5*5*96*256+256 = 614,656; "
    "conv3 3*3*256*384+384 = 885,120; conv4 3*3*384*384+384 = 1,327,488; conv5 3*3*384*256+256 = 884,992; "
    "fc6 6*6*256*4096+4096 = 37,752,832; fc7 4096*4096+4096 = 16,781,312; fc8 4096*1000+1000 = 4,097,000; "
    "total 62,357,608",
)
@family_builder
def zfnet(
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="zfnet",
    activation="relu",
    kernel_initializer="paper",
    maxout_pieces=2,
    dropout=0.5,
    filter_rms_radius=0.1,
):
    """ZFNet, the 8-layer network of Zeiler & Fergus 2013 (Fig. 3), 62,357,608 parameters; the
    family's one builder, registered as "zfnet".

    keras.applications' arguments: ``include_top``, ``weights`` (None or a ``.weights.h5``
    path; no ImageNet weights), ``input_tensor``, ``input_shape`` (static with the top),
    ``pooling``, ``classes``, ``classifier_activation``, ``name``.

    Layers ``conv1``..``conv5`` (+ ``pool{i}``, ``norm{i}``), ``flatten``, ``fc6``,
    ``fc6_dropout``, ``fc7``, ``fc7_dropout``, ``predictions``. Dropout 0.5 on fc6 and fc7.
    ``kernel_initializer="paper"`` (default): "all weights are initialized to 10^-2 and
    biases are set to 0", read as zero-mean Gaussian with std 0.01; other Keras choices in
    ``kcnn.blocks.KERNEL_INITIALIZERS``. ``filter_rms_radius`` (default 0.1, the paper's
    radius; None disables) rescales every convolution filter whose RMS exceeds it after each
    update (:class:`kcnn.layers.MaxFilterRMS`). ``activation``: relu (paper), sigmoid,
    tanh, leaky_relu, elu or maxout. The module docstring lists the padding choices;
    inputs must be at least 47x47 (``ZFNET_MIN_SIZE``).
    """
    check_activation(activation)
    kinit = kernel_initializer_for(kernel_initializer, keras.initializers.RandomNormal(0.0, 0.01))
    act = dict(activation=activation, maxout_pieces=maxout_pieces, kernel_initializer=kinit)
    constraint = MaxFilterRMS(filter_rms_radius) if filter_rms_radius is not None else None

    endpoints = {}

    def features(x):
        stride = 1
        for i, (filters, kernel, strides, pad, pool_norm) in enumerate(ZFNET_CONVS, 1):
            padding = "same" if strides == 1 and 2 * pad == kernel - 1 else pad
            x = conv_act(
                x,
                filters,
                kernel,
                strides=strides,
                padding=padding,
                kernel_constraint=constraint,
                name=f"conv{i}",
                **act,
            )
            stride *= strides
            tap(endpoints, x, stride)
            if pool_norm or i == len(ZFNET_CONVS):
                x = CeilModeMaxPooling2D(3, 2, name=f"pool{i}")(x)
                stride *= 2
            if pool_norm:
                x = LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75, k=2.0, name=f"norm{i}")(x)
            tap(endpoints, x, stride)
        return x

    def top(x, *, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        for j in (6, 7):
            x = fc_act(x, 4096, name=f"fc{j}", **act)
            if dropout:
                x = layers.Dropout(dropout, name=f"fc{j}_dropout")(x)
        return predictions(x, classes=classes, classifier_activation=classifier_activation, kernel_initializer=kinit)

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
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=(224, 224, 3),
        min_size=ZFNET_MIN_SIZE,
        endpoints=endpoints,
    )
