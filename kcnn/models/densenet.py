"""DenseNet (Huang et al. 2017, "Densely connected convolutional networks"): one generic
builder, :func:`densenet`, over dense-block specs.

* ``densenet121/169/201``: the ImageNet DenseNet-BC (k=32, bottleneck, compression 0.5;
  :data:`DENSENET_SPECS`, Table 1) in keras.applications' layout and layer names;
  ``weights="imagenet"`` transfers from ``keras.applications.DenseNet121`` etc.
* ``densenet_bc100_cifar``: DenseNet-BC L=100, k=12 for CIFAR (3 dense blocks of 16
  bottleneck layers, compression 0.5, a 3x3 conv stem with 2k = 24 filters);
  ``densenet40_cifar``: the plain DenseNet L=40, k=12 (12 layers per block, no
  bottleneck, no compression, 16-filter stem). :func:`densenet_cifar` builds any L, k.

Endpoints (:func:`kcnn.models.endpoints`), keras' names: ImageNet ``conv1_relu`` (P1),
``pool2_relu`` (P2), ``pool3_relu`` (P3), ``pool4_relu`` (P4), ``relu`` (P5) - each dense
block's output after BN-ReLU (a transition's BN-ReLU, before its conv and pool); CIFAR
``pool2_relu`` (P0), ``pool3_relu`` (P1), ``relu`` (P2).
"""

from __future__ import annotations

from keras import layers

from kcnn.blocks.conv import BN_EPSILON, conv_bn_act
from kcnn.blocks.dense import dense_block, dense_transition
from kcnn.models._base import build_classifier, family_builder, tap
from kcnn.models.imagenet import ImagenetSource
from kcnn.registry import register_model

__all__ = [
    "DENSENET_SPECS",
    "densenet",
    "densenet_cifar",
    "densenet121",
    "densenet169",
    "densenet201",
    "densenet_bc100_cifar",
    "densenet40_cifar",
]

_PAPER = "Huang et al. 2017, Densely connected convolutional networks"

# depth: layers per dense block (ImageNet DenseNet-BC, k=32); Huang et al. 2017, Table 1.
DENSENET_SPECS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}
STEMS = ("imagenet", "cifar")
_APPLICATIONS = {(6, 12, 24, 16): "DenseNet121", (6, 12, 32, 32): "DenseNet169", (6, 12, 48, 32): "DenseNet201"}


@family_builder
def densenet(
    blocks=121,
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
    growth_rate=32,
    stem="imagenet",
    stem_filters=None,
    bottleneck=True,
    compression=0.5,
    dropout_rate=0.0,
):
    """DenseNet with ``blocks[i]`` layers in dense block ``conv{i+2}`` and a transition
    ``pool{i+2}`` after each block but the last, then BN-ReLU (``bn``, ``relu``);
    ``blocks`` may be a depth of :data:`DENSENET_SPECS` (121, 169, 201). Every variant is one
    line over it or over :func:`densenet_cifar`.

    keras.applications' arguments: ``include_top``, ``weights`` (None, "imagenet" for
    DenseNet-121/169/201 in keras' layout, or a ``.weights.h5`` path), ``input_tensor``,
    ``input_shape`` (at least 32x32 with the ImageNet stem, 4x4 with the CIFAR one),
    ``pooling``, ``classes``, ``classifier_activation``, ``name``.

    Knobs: ``stem="imagenet"``: 7x7/2 conv - BN - ReLU - 3x3/2 max pool (``conv1_*``, ``pool1``);
    ``"cifar"``: one 3x3 conv (``conv1_conv``; its BN-ReLU is the first dense layer's).
    ``stem_filters`` defaults to 2 * ``growth_rate``. ``bottleneck`` (B) and
    ``compression`` < 1 (C) make DenseNet-BC; ``dropout_rate`` follows every conv.
    """
    depth = blocks if isinstance(blocks, int) else None
    if depth is not None and depth not in DENSENET_SPECS:
        raise ValueError(f"DenseNet depth must be one of {sorted(DENSENET_SPECS)}; Received: blocks={blocks!r}")
    blocks = DENSENET_SPECS[depth] if depth is not None else tuple(int(b) for b in blocks)
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}; Received: stem={stem!r}")
    stem_filters = stem_filters or 2 * growth_rate
    keras_layout = stem == "imagenet" and growth_rate == 32 and stem_filters == 64 and bottleneck and compression == 0.5
    application = _APPLICATIONS.get(blocks)
    if weights == "imagenet" and application and not keras_layout:
        raise ValueError(
            f"weights='imagenet' needs keras.applications.{application}'s layout (stem='imagenet', "
            f"growth_rate=32, stem_filters=64, bottleneck=True, compression=0.5)"
        )
    imagenet = ImagenetSource(application) if application and keras_layout else None
    block_kwargs = dict(bottleneck=bottleneck, dropout=dropout_rate)
    endpoints = {}

    def features(x):
        stride = 1
        if stem == "imagenet":
            x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
            x = conv_bn_act(x, stem_filters, 7, strides=2, padding="valid", activation=None, name="conv1")
            x = tap(endpoints, layers.Activation("relu", name="conv1_relu")(x), 2)
            x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
            x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
            stride = 4
        else:
            x = layers.Conv2D(
                stem_filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal", name="conv1_conv"
            )(x)
        for i, n in enumerate(blocks):
            x = dense_block(x, n, growth_rate, name=f"conv{i + 2}", **block_kwargs)
            if i < len(blocks) - 1:
                x = dense_transition(x, compression=compression, dropout=dropout_rate, name=f"pool{i + 2}")
                tap(endpoints, f"pool{i + 2}_relu", stride)  # the block's output after the transition's BN-ReLU
                stride *= 2
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name="bn")(x)
        return tap(endpoints, layers.Activation("relu", name="relu")(x), stride)

    downsampling = 2 ** (len(blocks) - 1) * (4 if stem == "imagenet" else 1)
    return build_classifier(
        name=name or (f"densenet{depth}" if depth else "densenet"),
        features=features,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=(224, 224, 3) if stem == "imagenet" else (32, 32, 3),
        min_size=downsampling,
        imagenet=imagenet,
        endpoints=endpoints,
    )


def densenet_cifar(depth: int = 100, *, growth_rate: int = 12, bc: bool = True, **kwargs):
    """The CIFAR DenseNet of depth L and growth rate k (Huang et al. 2017 §3, Table 2):
    three dense blocks of (L-4)/6 bottleneck layers with compression 0.5 and a 2k-filter
    stem (``bc=True``, DenseNet-BC) or of (L-4)/3 plain layers with a 16-filter stem
    (``bc=False``); 10 classes. Every other keyword argument is :func:`densenet`'s and
    overrides these defaults."""
    per_block, rest = divmod(depth - 4, 6 if bc else 3)
    if rest or per_block < 1:
        raise ValueError(
            f"DenseNet{'-BC' if bc else ''} depth must be 4 + {6 if bc else 3}n; Received: depth={depth!r}"
        )
    cifar = dict(
        stem="cifar",
        stem_filters=2 * growth_rate if bc else 16,
        bottleneck=bc,
        compression=0.5 if bc else 1.0,
        classes=10,
        name=f"densenet{'_bc' if bc else ''}{depth}_cifar",
    )
    return densenet((per_block,) * 3, growth_rate=growth_rate, **{**cifar, **kwargs})


_IMAGENET = dict(family="densenet", paper=_PAPER, input_shape=(224, 224, 3), min_input=(32, 32, 3))


@register_model("densenet121", params=8_062_504, params_source="keras.applications DenseNet121", **_IMAGENET)
def densenet121(**kwargs):
    """DenseNet-121 (DenseNet-BC, k=32, blocks 6-12-24-16), keras.applications' layout."""
    return densenet(121, **{"name": "densenet121", **kwargs})


@register_model("densenet169", params=14_307_880, params_source="keras.applications DenseNet169", **_IMAGENET)
def densenet169(**kwargs):
    """DenseNet-169 (DenseNet-BC, k=32, blocks 6-12-32-32), keras.applications' layout."""
    return densenet(169, **{"name": "densenet169", **kwargs})


@register_model("densenet201", params=20_242_984, params_source="keras.applications DenseNet201", **_IMAGENET)
def densenet201(**kwargs):
    """DenseNet-201 (DenseNet-BC, k=32, blocks 6-12-48-32), keras.applications' layout."""
    return densenet(201, **{"name": "densenet201", **kwargs})


_CIFAR = dict(
    family="densenet", paper=_PAPER, input_shape=(32, 32, 3), params_convention="trainable", min_input=(4, 4, 3)
)


@register_model(
    "densenet_bc100_cifar",
    params=800_000,
    params_tolerance=0.05 / 0.8,
    params_source="Huang et al. 2017, Table 2: 0.8M",
    **_CIFAR,
)
def densenet_bc100_cifar(**kwargs):
    """DenseNet-BC (L=100, k=12) for CIFAR: 0.8M parameters, 4.51% CIFAR-10 error with
    standard augmentation (``dropout_rate=0.2`` is the paper's setting without it)."""
    return densenet_cifar(100, **{"growth_rate": 12, "bc": True, "name": "densenet_bc100_cifar", **kwargs})


@register_model(
    "densenet40_cifar",
    params=1_000_000,
    params_tolerance=0.05 / 1.0,
    params_source="Huang et al. 2017, Table 2: 1.0M",
    **_CIFAR,
)
def densenet40_cifar(**kwargs):
    """DenseNet (L=40, k=12) for CIFAR, without bottleneck or compression: 1.0M parameters."""
    return densenet_cifar(40, **{"growth_rate": 12, "bc": False, "name": "densenet40_cifar", **kwargs})
