"""GoogLeNet / Inception v1 (Szegedy et al. 2014, "Going deeper with convolutions"), Table 1
and Fig. 3, and torchvision's BatchNorm variant, as rows of :data:`GOOGLENET_SPECS`.

The paper's network (``googlenet``): conv 7x7/2 64 - max pool 3x3/2 - LRN - conv 1x1 64 -
conv 3x3 192 - LRN - max pool - inception 3a, 3b - max pool - 4a..4e - max pool - 5a, 5b -
7x7 average pool - dropout 0.4 - linear - softmax; biased convolutions with ReLU, no
BatchNorm. The 7x7/1 average pool over 5b's 7x7 map at 224x224 is the global average pool
used here, which lets the network take any input of at least 17x17 (e.g. 32x32 CIFAR or
28x28 Fashion-MNIST). Max pooling uses 'same' padding, i.e. Caffe's ceil-mode sizes at
every even size (112 -> 56 -> 28 -> 14 -> 7 at 224).

The two auxiliary classifiers (§5: 5x5/3 average pool, 1x1 conv 128 + ReLU, fc 1024 +
ReLU, dropout 0.7, linear + softmax) sit on 4a and 4d. ``aux_logits=True`` builds the
*training* model with outputs ``[predictions, aux1_predictions, aux2_predictions]``, whose
losses are weighted by :data:`GOOGLENET_LOSS_WEIGHTS` (1, 0.3, 0.3; "discounted by 0.3");
the default is the inference model without them.
"""

from __future__ import annotations

import dataclasses

from keras import layers

from kcnn.blocks.conv import conv_bn_act
from kcnn.blocks.inception import inception_module
from kcnn.layers import LocalResponseNormalization
from kcnn.models._base import build_classifier, dense_top
from kcnn.registry import register_model

__all__ = [
    "GOOGLENET_LOSS_WEIGHTS",
    "GOOGLENET_SPECS",
    "GOOGLENET_TABLE1",
    "TABLE1_PARAMS_K",
    "GoogLeNetSpec",
    "googlenet",
    "googlenet_bn",
    "googlenet_compile_kwargs",
]

_PAPER = "Szegedy et al. 2014, Going deeper with convolutions"

# Table 1: the inception modules' #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj;
# "pool" rows are 3x3/2 max pooling.
GOOGLENET_TABLE1 = (
    ("inception3a", 64, 96, 128, 16, 32, 32),
    ("inception3b", 128, 128, 192, 32, 96, 64),
    "pool3",
    ("inception4a", 192, 96, 208, 16, 48, 64),
    ("inception4b", 160, 112, 224, 24, 64, 64),
    ("inception4c", 128, 128, 256, 24, 64, 64),
    ("inception4d", 112, 144, 288, 32, 64, 64),
    ("inception4e", 256, 160, 320, 32, 128, 128),
    "pool4",
    ("inception5a", 256, 160, 320, 32, 128, 128),
    ("inception5b", 384, 192, 384, 48, 128, 128),
)

# Table 1's "params" column as printed (K). It does not follow from the table's own filter
# columns everywhere: conv1 is printed 2.7K (7*7*3*64 = 9.4K) and 4a, 4c, 4d, 5a, 5b differ
# by 2-7% (e.g. 4c: 463K printed, 498K from its columns). tests/models/test_googlenet.py
# checks each row against the counts of this implementation and documents the deviations.
TABLE1_PARAMS_K = {
    "conv1": 2.7,
    "conv2": 112,
    "inception3a": 159,
    "inception3b": 380,
    "inception4a": 364,
    "inception4b": 437,
    "inception4c": 463,
    "inception4d": 580,
    "inception4e": 840,
    "inception5a": 1072,
    "inception5b": 1388,
    "predictions": 1000,
}

# Loss weights of the training model's outputs [main, aux1, aux2] (§5: aux losses "discounted by 0.3").
GOOGLENET_LOSS_WEIGHTS = (1.0, 0.3, 0.3)


def googlenet_compile_kwargs(loss="sparse_categorical_crossentropy") -> dict:
    """``model.compile`` arguments for the ``aux_logits=True`` training model: one loss per output,
    weighted 1, 0.3, 0.3."""
    return {"loss": [loss] * 3, "loss_weights": list(GOOGLENET_LOSS_WEIGHTS)}


@dataclasses.dataclass(frozen=True)
class GoogLeNetSpec:
    batch_norm: bool  # torchvision's BasicConv2d: conv (no bias) - BN (eps 1e-3) - ReLU
    lrn: bool  # the paper's two LRN layers in the stem (Fig. 3)
    kernel5: int  # 5 (paper); torchvision's "5x5" branch uses 3x3 kernels
    dropout: float  # before the final linear layer
    pool4_size: int  # the max pooling between 4e and 5a: 3x3/2 (paper), 2x2/2 (torchvision)
    aux_adaptive_pool: bool  # aux heads: 5x5/3 average pool (paper) or adaptive to 4x4 (torchvision)


GOOGLENET_SPECS = {
    "szegedy2014": GoogLeNetSpec(
        batch_norm=False, lrn=True, kernel5=5, dropout=0.4, pool4_size=3, aux_adaptive_pool=False
    ),
    "torchvision": GoogLeNetSpec(
        batch_norm=True, lrn=False, kernel5=3, dropout=0.2, pool4_size=2, aux_adaptive_pool=True
    ),
}
GOOGLENET_MIN_SIZE = 17  # every stride-2 stage before pool4 halves a map larger than 1x1: ceil(17 / 16) = 2
_AUX_MIN_SIZE = 65  # the aux heads' 5x5/3 average pool needs a 5x5 map from 4a/4d (stride 16): ceil(65 / 16) = 5


def _lrn(name):
    # Paper silent on constants; bvlc_googlenet's (Caffe: k=1, alpha divided by n).
    return LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75, k=1.0, divide_alpha_by_size=True, name=name)


def _aux_head(x, spec: GoogLeNetSpec, unit: dict, *, classes, classifier_activation, name):
    if spec.aux_adaptive_pool:
        x = layers.AdaptiveAveragePooling2D(4, name=f"{name}_pool")(x)
    else:
        x = layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = conv_bn_act(x, 128, 1, name=f"{name}_reduce", **unit)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, dtype="float32", name=f"{name}_predictions")(x)


def _build(spec: GoogLeNetSpec, *, aux_logits, kernel_initializer, name, include_top, input_shape, **scaffold):
    if aux_logits and not include_top:
        raise ValueError(f"{name}: aux_logits=True adds auxiliary classifiers and needs include_top=True")
    if aux_logits and not spec.aux_adaptive_pool and input_shape is not None:
        if any(side is not None and side < _AUX_MIN_SIZE for side in tuple(input_shape)[:2]):
            raise ValueError(
                f"{name}: aux_logits=True needs inputs of at least {_AUX_MIN_SIZE}x{_AUX_MIN_SIZE} (the "
                f"auxiliary heads pool 5x5/3 over the 4a and 4d maps); Received: input_shape={input_shape}"
            )
    unit = dict(use_bn=spec.batch_norm, bn_epsilon=1e-3, kernel_initializer=kernel_initializer)
    taps = {}

    def features(x):
        x = conv_bn_act(x, 64, 7, strides=2, name="conv1", **unit)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
        if spec.lrn:
            x = _lrn("norm1")(x)
        x = conv_bn_act(x, 64, 1, name="conv2_reduce", **unit)
        x = conv_bn_act(x, 192, 3, name="conv2", **unit)
        if spec.lrn:
            x = _lrn("norm2")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
        for row in GOOGLENET_TABLE1:
            if isinstance(row, str):
                size = spec.pool4_size if row == "pool4" else 3
                x = layers.MaxPooling2D(size, strides=2, padding="same", name=row)(x)
            else:
                x = inception_module(
                    x,
                    *row[1:],
                    kernel5=spec.kernel5,
                    batch_norm=spec.batch_norm,
                    kernel_initializer=kernel_initializer,
                    name=row[0],
                )
                taps[row[0]] = x
        return x

    def top(x, *, classes, classifier_activation):
        main = dense_top(x, classes=classes, classifier_activation=classifier_activation, dropout=spec.dropout)
        if not aux_logits:
            return main
        heads = [
            _aux_head(taps[tap], spec, unit, classes=classes, classifier_activation=classifier_activation, name=aux)
            for aux, tap in (("aux1", "inception4a"), ("aux2", "inception4d"))
        ]
        return [main, *heads]

    min_size = _AUX_MIN_SIZE if aux_logits and not spec.aux_adaptive_pool else GOOGLENET_MIN_SIZE
    return build_classifier(
        name=name,
        features=features,
        top=top,
        include_top=include_top,
        input_shape=input_shape,
        fixed_size=aux_logits,
        default_shape=(224, 224, 3),
        min_size=min_size,
        **scaffold,
    )


@register_model(
    "googlenet",
    family="googlenet",
    paper=_PAPER,
    input_shape=(224, 224, 3),
    small_input=(32, 32, 3),
    aux_loss_weights=GOOGLENET_LOSS_WEIGHTS[1:],
    params=6_998_552,
    params_source="arithmetic from Table 1's filter columns with biases: conv1 9,472 + conv2 114,944 + 3a 163,696 "
    "+ 3b 388,736 + 4a 376,176 + 4b 449,160 + 4c 510,104 + 4d 605,376 + 4e 868,352 + 5a 1,043,456 "
    "+ 5b 1,444,080 + linear 1,025,000 (Table 1's params column sums to 6,797.7K, 'about 6.8M')",
)
def googlenet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="googlenet",
    aux_logits=False,
    kernel_initializer="glorot_uniform",
):
    """GoogLeNet as Szegedy et al. 2014 describe it (Table 1, Fig. 3), 6,998,552 parameters.

    ``aux_logits=True``: the training model with the two auxiliary classifiers (3 outputs,
    loss weights :data:`GOOGLENET_LOSS_WEIGHTS`; :func:`googlenet_compile_kwargs`), which
    needs a static input of at least 65x65 for the heads' 5x5/3 pooling. The paper gives no
    initialization (DistBelief); ``kernel_initializer`` is any Keras initializer, default
    glorot_uniform. LRN constants (paper silent) are bvlc_googlenet's: n=5, alpha=1e-4
    divided by n, beta=0.75, k=1. Layer names: ``conv1_conv``, ``pool1``, ``norm1``,
    ``conv2_reduce_conv``, ``conv2_conv``, ``norm2``, ``pool2``, ``inception3a_*`` ...,
    ``avg_pool``, ``top_dropout``, ``predictions``; the heads ``aux1_*``, ``aux2_*``.
    """
    return _build(GOOGLENET_SPECS["szegedy2014"], **locals())


@register_model(
    "googlenet_bn",
    family="googlenet",
    paper=_PAPER + " (torchvision's BatchNorm variant)",
    input_shape=(224, 224, 3),
    small_input=(32, 32, 3),
    aux_loss_weights=GOOGLENET_LOSS_WEIGHTS[1:],
    params=6_624_904,
    params_source="torchvision googlenet (GoogLeNet_Weights.IMAGENET1K_V1)",
    params_convention="trainable",
)
def googlenet_bn(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="googlenet_bn",
    aux_logits=False,
    kernel_initializer="glorot_uniform",
):
    """torchvision's GoogLeNet, not the paper's: BatchNorm after every convolution (no conv
    biases, BN eps 1e-3), no LRN, 3x3 kernels in the "5x5" branch, 2x2/2 pooling before 5a,
    dropout 0.2, aux heads pooling adaptively to 4x4. 6,624,904 trainable parameters."""
    return _build(GOOGLENET_SPECS["torchvision"], **locals())
