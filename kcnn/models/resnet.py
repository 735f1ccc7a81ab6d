"""ResNet v1 (He et al. 2015, "Deep residual learning for image recognition"), ResNet v2
(He et al. 2016, "Identity mappings in deep residual networks") and SE-ResNet (Hu et al.
2018, "Squeeze-and-excitation networks"): one generic builder, :func:`resnet`, over
:data:`RESNET_SPECS` (Table 1 of the 2015 paper); each variant is one line over it.

Conventions (all offered as knobs; the registered variants follow their count's source):

* ``resnet50/101/152``: keras.applications' layout, so ``weights="imagenet"`` transfers
  from ``keras.applications.ResNet50`` etc. with identical layer names: the stride on the
  first 1x1 conv of the bottleneck (``stride_on="1x1"``, as the paper's original Caffe
  models; torchvision's "v1.5" puts it on the 3x3, ``stride_on="3x3"``) and a bias in
  every conv (``use_bias=True``; redundant before BN).
* ``resnet18/34``: torchvision's layout: no conv biases. The basic block has only 3x3
  convs, so ``stride_on`` does not apply.
* ``resnet50v2/101v2/152v2``: keras.applications' ResNetV2 (from TF-slim): the stride on
  the 3x3 conv of the *last* block of stages 2-4 (``downsample="last"``); the paper's
  Torch code strides the first block of stages 3-5 (``downsample="first"``).
* ``seresnet50/101``: ``resnet(..., attention="se", use_bias=False)``, stride on the
  1x1 as in SENet's Caffe models and timm's ``legacy_seresnet*``.

``stem="cifar"`` replaces the 7x7/2 conv and the max pool by a 3x3/1 conv (no pool): the
common adaptation for 32x32 inputs (e.g. "ResNet18" in the Fashion-MNIST benchmark); it
is not in the paper. It brings the total stride from 32 down to 8.

Endpoints (:func:`kcnn.models.endpoints`): ``P{k}`` is the last block's output at stride
2**k: v1 ``conv1_relu`` (P1), ``conv2_block{n}_out`` (P2) ... ``conv5_block{n}_out`` (P5),
e.g. ResNet-50's ``conv2_block3_out``, ``conv3_block4_out``, ``conv4_block6_out``,
``conv5_block3_out`` (keras' names); v2 ``conv1_conv``, ``conv2_block{n-1}_out``, ...,
``post_relu`` (its strided blocks are the last of stages 2-4). ``stem="cifar"``: P0 (the
stride-1 conv2 stage) to P3. ``output_stride=16`` makes conv5 stride 1 with dilation 2 (its
P5 map at stride 16); ``output_stride=8`` conv4 too, dilation 2 and 4 (P4 and P5 at stride 8).
The endpoints keep their names (:mod:`kcnn.models.backbone`); dilated 3x3 convolutions are
:class:`kcnn.layers.AtrousConv2D`. A ``weights`` file loads into the undilated network first
(its layers are plain Conv2D) and is copied by layer name.
"""

from __future__ import annotations

from keras import layers

from kcnn.blocks.attention import check_attention
from kcnn.blocks.conv import BN_EPSILON, conv_bn_act
from kcnn.blocks.residual import residual_basic, residual_bottleneck, residual_preact_bottleneck
from kcnn.models._base import build_classifier, dilated_with_file_weights, family_builder, tap
from kcnn.models.imagenet import ImagenetSource
from kcnn.registry import register_model

__all__ = [
    "RESNET_SPECS",
    "resnet",
    "block_plan",
    "dilated_plan",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet50v2",
    "resnet101v2",
    "resnet152v2",
    "seresnet50",
    "seresnet101",
]

_PAPER_V1 = "He et al. 2015, Deep residual learning for image recognition"
_PAPER_V2 = "He et al. 2016, Identity mappings in deep residual networks"
_PAPER_SE = "Hu et al. 2018, Squeeze-and-excitation networks"

# depth: (block, blocks per stage conv2..conv5); He et al. 2015, Table 1.
RESNET_SPECS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
STAGE_FILTERS = (64, 128, 256, 512)
STEMS = ("imagenet", "cifar")
DOWNSAMPLE = ("first", "last")
OUTPUT_STRIDES = (None, 8, 16)

# The keras.applications models and the knobs that reproduce their layout exactly.
_APPLICATIONS = {
    (50, 1): "ResNet50",
    (101, 1): "ResNet101",
    (152, 1): "ResNet152",
    (50, 2): "ResNet50V2",
    (101, 2): "ResNet101V2",
    (152, 2): "ResNet152V2",
}
_KERAS_LAYOUT = {
    1: dict(stem="imagenet", stride_on="1x1", use_bias=True, shortcut="B", attention=None, downsample="first"),
    2: dict(stem="imagenet", stride_on="3x3", downsample="last", shortcut="B", attention=None),
}


def block_plan(blocks, *, downsample: str = "first", stage_names=None):
    """``[(stage index, block name, stride), ...]`` for stages of ``blocks`` blocks.

    Stage 1 keeps the resolution, each later stage halves it, in its first block
    (``downsample="first"``). keras' ResNetV2 (``"last"``) halves it in the last block of
    stages 1-3 instead. Stage ``i`` is named ``conv{i+2}`` unless ``stage_names`` says.
    """
    if downsample not in DOWNSAMPLE:
        raise ValueError(f"downsample must be one of {DOWNSAMPLE}; Received: downsample={downsample!r}")
    n_stages = len(blocks)
    strides = [1] + [2] * (n_stages - 1) if downsample == "first" else [2] * (n_stages - 1) + [1]
    stage_names = stage_names or [f"conv{i + 2}" for i in range(n_stages)]
    plan = []
    for i, (n, stride) in enumerate(zip(blocks, strides)):
        at = 1 if downsample == "first" else n
        plan += [(i, f"{stage_names[i]}_block{b}", stride if b == at else 1) for b in range(1, n + 1)]
    return plan


def dilated_plan(plan, *, input_stride: int, output_stride: int | None = None):
    """``[(stage, block name, strides, dilation_rate, first_dilation_rate, stride), ...]``: ``plan``
    with every stride that would take the maps past ``output_stride`` (8 or 16; None: none)
    turned into dilation, as torchvision's ``replace_stride_with_dilation``: the block that
    would have strided keeps the previous dilation before its stride point
    (``first_dilation_rate``), every convolution after it the multiplied one. ``stride`` is the
    block output's stride relative to the image, the blocks' input being at ``input_stride``."""
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(
            f"output_stride must be one of {OUTPUT_STRIDES} (None: the network's own); "
            f"Received: output_stride={output_stride!r}"
        )
    out = []
    stride, dilation = input_stride, 1
    for stage, block, strides in plan:
        first = dilation
        if output_stride is not None and strides > 1 and stride * strides > output_stride:
            dilation, strides = dilation * strides, 1
        stride *= strides
        out.append((stage, block, strides, dilation, first, stride))
    return out


def _spec(depth):
    if depth not in RESNET_SPECS:
        raise ValueError(f"ResNet depth must be one of {sorted(RESNET_SPECS)}; Received: depth={depth!r}")
    return RESNET_SPECS[depth]


def resnet_stem(x, stem: str, *, use_bias: bool, preact: bool = False):
    """ImageNet stem (7x7/2 conv, 3x3/2 max pool: ``conv1_*``, ``pool1_*``) or the CIFAR
    adaptation (3x3/1 conv, no pool). Pre-activation nets leave out the stem's BN-ReLU."""
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}; Received: stem={stem!r}")
    if stem == "imagenet":
        x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    kernel, strides, padding = (7, 2, "valid") if stem == "imagenet" else (3, 1, "same")
    x = conv_bn_act(
        x,
        64,
        kernel,
        strides=strides,
        padding=padding,
        activation=None,
        use_bn=not preact,
        use_bias=use_bias or preact,
        name="conv1",
    )
    if not preact:
        x = layers.Activation("relu", name="conv1_relu")(x)
    if stem == "imagenet":
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    return x


def _imagenet_source(depth, version, knobs, weights):
    """The keras.applications source for weights='imagenet', or a ValueError naming the knob that prevents it."""
    application = _APPLICATIONS.get((depth, version))
    if application is None:
        return None
    if weights != "imagenet":
        return ImagenetSource(application)
    wrong = {k: v for k, v in knobs.items() if k in _KERAS_LAYOUT[version] and _KERAS_LAYOUT[version][k] != v}
    if wrong:
        need = ", ".join(f"{k}={_KERAS_LAYOUT[version][k]!r}" for k in wrong)
        got = ", ".join(f"{k}={v!r}" for k, v in wrong.items())
        raise ValueError(
            f"weights='imagenet' needs keras.applications.{application}'s layout ({need}); Received: {got}"
        )
    return ImagenetSource(application)


@family_builder
def resnet(
    depth: int = 50,
    *,
    version: int = 1,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
    stem="imagenet",
    stride_on=None,
    use_bias=False,
    shortcut="B",
    attention=None,
    downsample=None,
    last_gamma_init=1.0,
    output_stride=None,
):
    """ResNet of ``depth`` (18, 34, 50, 101, 152) from :data:`RESNET_SPECS`; every variant is one line over it.

    keras.applications' arguments: ``include_top``, ``weights`` (None, "imagenet" for the
    layouts keras.applications ships, or a ``.weights.h5`` path), ``input_tensor``,
    ``input_shape`` (at least 32x32, 8x8 with ``stem="cifar"``), ``pooling`` (None, "avg",
    "max"; without the top), ``classes``, ``classifier_activation``, ``name``.

    Knobs: ``version=1``: post-activation blocks (2015); ``version=2``: pre-activation
    bottlenecks with a final ``post_bn``/``post_relu`` (2016; bottleneck depths only).
    ``stem``: "imagenet" or "cifar" (see the module docstring). ``stride_on``: "1x1" (v1
    default) or "3x3" (v2 default) in bottlenecks. ``use_bias``: conv biases (v1).
    ``shortcut``: the paper's option "A", "B" (default) or "C". ``attention``: None, "se"
    (SENet) or a callable (:func:`kcnn.blocks.apply_attention`). ``downsample``: "first"
    (v1 default) or "last" (v2 default; keras' ResNetV2).
    ``last_gamma_init`` (v1): the initial gamma of each residual branch's last BN, 1 as in
    the paper, 0 for Goyal et al. 2017's zero-gamma (torchvision's ``zero_init_residual=True``).
    ``output_stride``: 8 or 16 turns the last strides into dilation (DeepLab's atrous
    backbone, torchvision's ``replace_stride_with_dilation``; same parameters), None keeps 32.
    """
    block, blocks = _spec(depth)
    if version not in (1, 2):
        raise ValueError(
            f"version must be 1 (He et al. 2015) or 2 (pre-activation, 2016); Received: version={version!r}"
        )
    if version == 2 and block != "bottleneck":
        raise ValueError(
            f"pre-activation (version=2) ResNets are built from bottlenecks: depth 50, 101 or 152; "
            f"Received: depth={depth}"
        )
    if version == 2 and (use_bias or last_gamma_init != 1):
        raise ValueError(
            "use_bias and last_gamma_init apply to version=1 only (ResNetV2 has biases exactly where "
            "no BN follows, and no BN at the end of its residual branches)"
        )
    check_attention(attention)
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}; Received: stem={stem!r}")
    downsample = downsample or ("first" if version == 1 else "last")
    stride_on = stride_on or ("1x1" if version == 1 else "3x3")
    knobs = dict(
        stem=stem, stride_on=stride_on, use_bias=use_bias, shortcut=shortcut, attention=attention, downsample=downsample
    )
    imagenet = _imagenet_source(depth, version, knobs, weights)
    body_stride = 4 if stem == "imagenet" else 1
    if output_stride is not None and weights not in (None, "imagenet"):
        return dilated_with_file_weights(resnet, locals())
    blocks_plan = block_plan(blocks, downsample=downsample)
    plan = dilated_plan(blocks_plan, input_stride=body_stride, output_stride=output_stride)
    # Endpoints name the stages by their stride in the undilated network (kcnn.models.backbone).
    nominal = [stride for *_, stride in dilated_plan(blocks_plan, input_stride=body_stride)]
    endpoints = {}

    def features(x):
        x = resnet_stem(x, stem, use_bias=use_bias, preact=version == 2)
        tap(endpoints, "conv1_conv" if version == 2 else "conv1_relu", body_stride // 2 or 1)
        for (stage, block_name, strides, dilation, first_dilation, _), stride in zip(plan, nominal):
            kwargs = dict(
                strides=strides,
                shortcut=shortcut,
                attention=attention,
                dilation_rate=dilation,
                first_dilation_rate=first_dilation,
                name=block_name,
            )
            if version == 2:
                x = residual_preact_bottleneck(x, STAGE_FILTERS[stage], stride_on=stride_on, **kwargs)
            elif block == "bottleneck":
                x = residual_bottleneck(
                    x,
                    STAGE_FILTERS[stage],
                    stride_on=stride_on,
                    use_bias=use_bias,
                    last_gamma_init=last_gamma_init,
                    **kwargs,
                )
            else:
                x = residual_basic(
                    x, STAGE_FILTERS[stage], use_bias=use_bias, last_gamma_init=last_gamma_init, **kwargs
                )
            tap(endpoints, x, stride)
        if version == 2:
            x = layers.BatchNormalization(epsilon=BN_EPSILON, name="post_bn")(x)
            x = tap(endpoints, layers.Activation("relu", name="post_relu")(x), nominal[-1])
        return x

    return build_classifier(
        name=name or f"resnet{depth}{'v2' if version == 2 else ''}",
        features=features,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=(224, 224, 3),
        min_size=32 if stem == "imagenet" else 8,
        imagenet=imagenet,
        endpoints=endpoints,
    )


_TORCHVISION = dict(family="resnet", input_shape=(224, 224, 3), params_convention="trainable", min_input=(32, 32, 3))
_KERAS = dict(family="resnet", input_shape=(224, 224, 3), params_convention="total", min_input=(32, 32, 3))
_SENET = {**_TORCHVISION, "family": "senet", "paper": _PAPER_SE}
# keras.applications' ResNet50/101/152: the stride on the first 1x1 of a bottleneck and biased convolutions.
_KERAS_V1 = dict(stride_on="1x1", use_bias=True)
_KERAS_V2 = dict(version=2)


@register_model("resnet18", paper=_PAPER_V1, params=11_689_512, params_source="torchvision resnet18", **_TORCHVISION)
def resnet18(**kwargs):
    """ResNet-18 (basic blocks 2-2-2-2), torchvision's layout; ``stem="cifar"`` for 32x32 / 28x28 inputs."""
    return resnet(18, **{"name": "resnet18", **kwargs})


@register_model("resnet34", paper=_PAPER_V1, params=21_797_672, params_source="torchvision resnet34", **_TORCHVISION)
def resnet34(**kwargs):
    """ResNet-34 (basic blocks 3-4-6-3), torchvision's layout; ``stem="cifar"`` for 32x32 inputs."""
    return resnet(34, **{"name": "resnet34", **kwargs})


@register_model("resnet50", paper=_PAPER_V1, params=25_636_712, params_source="keras.applications ResNet50", **_KERAS)
def resnet50(**kwargs):
    """ResNet-50 (bottlenecks 3-4-6-3), keras.applications' layout (stride on the 1x1, conv
    biases); ``weights="imagenet"`` transfers from keras.applications.ResNet50.
    ``stride_on="3x3", use_bias=False`` gives torchvision's v1.5 (25,557,032 trainable)."""
    return resnet(50, **{**_KERAS_V1, "name": "resnet50", **kwargs})


@register_model("resnet101", paper=_PAPER_V1, params=44_707_176, params_source="keras.applications ResNet101", **_KERAS)
def resnet101(**kwargs):
    """ResNet-101 (bottlenecks 3-4-23-3), keras.applications' layout (see :func:`resnet50`)."""
    return resnet(101, **{**_KERAS_V1, "name": "resnet101", **kwargs})


@register_model("resnet152", paper=_PAPER_V1, params=60_419_944, params_source="keras.applications ResNet152", **_KERAS)
def resnet152(**kwargs):
    """ResNet-152 (bottlenecks 3-8-36-3), keras.applications' layout (see :func:`resnet50`)."""
    return resnet(152, **{**_KERAS_V1, "name": "resnet152", **kwargs})


@register_model(
    "resnet50v2", paper=_PAPER_V2, params=25_613_800, params_source="keras.applications ResNet50V2", **_KERAS
)
def resnet50v2(**kwargs):
    """Pre-activation ResNet-50, keras.applications' ResNet50V2 layout (stride on the 3x3 of the
    last block of stages 2-4); ``weights="imagenet"`` transfers from it."""
    return resnet(50, **{**_KERAS_V2, "name": "resnet50v2", **kwargs})


@register_model(
    "resnet101v2", paper=_PAPER_V2, params=44_675_560, params_source="keras.applications ResNet101V2", **_KERAS
)
def resnet101v2(**kwargs):
    """Pre-activation ResNet-101, keras.applications' ResNet101V2 layout (see :func:`resnet50v2`)."""
    return resnet(101, **{**_KERAS_V2, "name": "resnet101v2", **kwargs})


@register_model(
    "resnet152v2", paper=_PAPER_V2, params=60_380_648, params_source="keras.applications ResNet152V2", **_KERAS
)
def resnet152v2(**kwargs):
    """Pre-activation ResNet-152, keras.applications' ResNet152V2 layout (see :func:`resnet50v2`)."""
    return resnet(152, **{**_KERAS_V2, "name": "resnet152v2", **kwargs})


@register_model("seresnet50", params=28_088_024, params_source="timm legacy_seresnet50", **_SENET)
def seresnet50(**kwargs):
    """SE-ResNet-50: ResNet-50 with squeeze-and-excitation (reduction 16) on every residual
    branch before the addition, no conv biases, stride on the 1x1 (SENet's Caffe models)."""
    return resnet(50, **{"attention": "se", "name": "seresnet50", **kwargs})


@register_model(
    "seresnet101",
    params=49_326_872,
    params_source="torchvision resnet101 (44,549,160) + SE modules; timm legacy_seresnet101 lists 49.33M",
    **_SENET,
)
def seresnet101(**kwargs):
    """SE-ResNet-101: ResNet-101 with squeeze-and-excitation (see :func:`seresnet50`)."""
    return resnet(101, **{"attention": "se", "name": "seresnet101", **kwargs})
