"""FCN (Long, Shelhamer & Darrell 2015, "Fully convolutional networks for semantic
segmentation"): the paper's FCN-32s, -16s and -8s on VGG-16, FCN over any zoo backbone
with endpoints, and torchvision's ``fcn_resnet50`` / ``fcn_resnet101`` layout.

The paper's network (:func:`fcn`, ``backbone="vgg16"``): VGG-16's 13 convolutions with the
zoo's layer names, its fully connected layers as convolutions (fc6 7x7x4096, fc7
1x1x4096, each with ReLU and dropout 0.5), ``score_fr`` (1x1 to the classes), and
upsampling by transposed convolutions initialized to bilinear interpolation
(:class:`kcnn.segmentation.layers.BilinearUpsampling`, no bias). FCN-16s adds the 1x1
``score_pool4`` of pool4 to the 2x-upsampled scores, FCN-8s also ``score_pool3`` of pool3.
As §4.2-4.3 say: the score layers start at zero, the intermediate upsamplings (2x) are
learned and the final one (32x, 16x or 8x) is fixed (``trainable=False``).

``padding``: "same" (default) pads every layer to keep sizes exact, so the input must be
a multiple of 32; "paper" is the released Caffe nets' alignment: conv1_1 pads 100 pixels,
pooling rounds up (Caffe's ceil mode), fc6 pads nothing, every transposed convolution is
"valid" and the maps are cropped at the offsets Caffe's coord_map gives (score_pool4c 5,
score_pool3c 9, final 19 / 27 / 31 for 32s / 16s / 8s), so any input size >= 1 works.

Parameter counts are torchvision's convention (trainable): the fixed final upsampling
is not counted, which gives FCN-32s 134,346,581, the paper's "134M" for FCN-VGG16 (Table 1).
"""

from __future__ import annotations

import keras
from keras import layers

from kcnn.layers import CeilModeMaxPooling2D
from kcnn.models._base import family_builder
from kcnn.registry import register_model
from kcnn.segmentation._base import at_least, build_segmenter, check_choice, multiple_of
from kcnn.segmentation.backbones import backbone_endpoints, backbone_min_size, load_vgg_conv_weights, vgg_block
from kcnn.segmentation.layers import BilinearUpsampling, CropToReference

__all__ = [
    "FCN_VARIANTS",
    "convolutionalize_vgg16",
    "fcn",
    "fcn32s",
    "fcn16s",
    "fcn8s",
    "fcn_head",
    "fcn_torchvision",
    "fcn_resnet50",
    "fcn_resnet101",
    "load_vgg16_classifier_weights",
]

_PAPER = "Long, Shelhamer & Darrell 2015, Fully convolutional networks for semantic segmentation"
# variant: the skips fused, finest last (pool4 at stride 16, pool3 at stride 8)
FCN_VARIANTS = {"32s": (), "16s": ("P4",), "8s": ("P4", "P3")}
PADDINGS = ("same", "paper")
# Caffe coord_map offsets of the released voc-fcn{32,16,8}s nets (padding="paper").
_SKIP_OFFSET = {"P4": 5, "P3": 9}
_FINAL_OFFSET = {"32s": 19, "16s": 27, "8s": 31}
_SKIP_NAME = {"P4": "pool4", "P3": "pool3"}


def _upsample(x, factor: int, *, padding: str, trainable: bool, name: str):
    """Transposed convolution of kernel 2 * factor and stride factor, bilinear, no bias."""
    return layers.Conv2DTranspose(
        x.shape[-1],
        2 * factor,
        strides=factor,
        padding="same" if padding == "same" else "valid",
        use_bias=False,
        kernel_initializer=BilinearUpsampling(),
        trainable=trainable,
        name=name,
    )(x)


def _vgg16_fc(inputs, padding: str, dropout: float) -> dict:
    """The paper's VGG-16 with fc6/fc7 as convolutions: {"P3": pool3, "P4": pool4, "P5": fc7}."""
    pool = CeilModeMaxPooling2D if padding == "paper" else layers.MaxPooling2D
    x, taps = inputs, {}
    for b in range(1, 6):
        x = vgg_block(x, b, first_padding=100 if padding == "paper" and b == 1 else None)
        x = pool(2, strides=2, name=f"block{b}_pool")(x)
        taps[f"P{b}"] = x
    x = layers.Conv2D(4096, 7, padding="same" if padding == "same" else "valid", activation="relu", name="fc6")(x)
    x = layers.Dropout(dropout, name="fc6_dropout")(x)
    x = layers.Conv2D(4096, 1, activation="relu", name="fc7")(x)
    taps["P5"] = layers.Dropout(dropout, name="fc7_dropout")(x)
    return taps


@family_builder
def fcn(
    variant="8s",
    *,
    weights=None,
    input_tensor=None,
    input_shape=None,
    classes=21,
    classifier_activation="softmax",
    name=None,
    backbone="vgg16",
    backbone_weights=None,
    backbone_kwargs=None,
    backbone_taps=None,
    padding="same",
    dropout=0.5,
):
    """FCN-``variant`` ("32s", "16s", "8s") over ``backbone``: "vgg16" is the paper's
    network (fc6/fc7 as convolutions, see the module docstring); another zoo name (e.g.
    "resnet50", "mobilenetv2") scores its P5 endpoint directly and fuses P4 / P3 the same
    way (its endpoints :func:`kcnn.models.endpoints`, or the layers ``backbone_taps`` names
    per level; ``backbone_kwargs``: its builder's knobs). ``backbone_weights``: None,
    "imagenet" (keras.applications' VGG16, fc1/fc2 reshaped into fc6/fc7 as the paper's
    "convolutionalization"; another backbone's own ImageNet weights) or a file.
    ``padding``: "same" (sides multiples of 32, at least the backbone's minimum) or
    "paper" (VGG-16 only; any side).
    """
    check_choice(variant, tuple(FCN_VARIANTS), "variant")
    check_choice(padding, PADDINGS, "padding")
    paper_vgg = backbone == "vgg16"
    if padding == "paper" and not paper_vgg:
        raise ValueError(
            "padding='paper' is the Caffe alignment of FCN's VGG-16 (backbone='vgg16'); "
            f"Received: backbone={backbone!r}"
        )
    skips = FCN_VARIANTS[variant]
    factor = 32 // 2 ** len(skips)

    def body(inputs):
        if paper_vgg:
            taps = _vgg16_fc(inputs, padding, dropout)
        else:
            taps = backbone_endpoints(
                backbone,
                inputs,
                levels=("P5", *skips),
                weights=backbone_weights,
                backbone_kwargs=backbone_kwargs,
                taps=backbone_taps,
            )
        x = layers.Conv2D(classes, 1, kernel_initializer="zeros", name="score_fr")(taps["P5"])
        for level in skips:
            x = _upsample(x, 2, padding=padding, trainable=True, name=f"upscore_{_SKIP_NAME[level]}")
            skip = layers.Conv2D(classes, 1, kernel_initializer="zeros", name=f"score_{_SKIP_NAME[level]}")(taps[level])
            if padding == "paper":
                skip = CropToReference(_SKIP_OFFSET[level], name=f"score_{_SKIP_NAME[level]}c")([skip, x])
            x = layers.Add(name=f"fuse_{_SKIP_NAME[level]}")([x, skip])
        x = _upsample(x, factor, padding=padding, trainable=False, name=f"upscore{factor}")
        if padding == "paper":
            x = CropToReference(_FINAL_OFFSET[variant], name="score")([x, inputs])
        return x

    model = build_segmenter(
        name=name or f"fcn{variant}" + ("" if paper_vgg else f"_{backbone}"),
        body=body,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        classes=classes,
        classifier_activation=classifier_activation,
        size_rule=at_least(1)
        if padding == "paper"
        else multiple_of(32, " with padding='same'", minimum=32 if paper_vgg else backbone_min_size(backbone)),
    )
    if paper_vgg and backbone_weights is not None:
        load_vgg16_classifier_weights(model, backbone_weights)
    return model


def load_vgg16_classifier_weights(model: keras.Model, weights) -> None:
    """The paper's transfer of VGG-16 (``weights``: "imagenet" or a file) into FCN: see
    :func:`convolutionalize_vgg16`."""
    convolutionalize_vgg16(model, load_vgg_conv_weights(model, weights, include_top=True))


def convolutionalize_vgg16(model: keras.Model, vgg: keras.Model) -> None:
    """fc1 / fc2 of a VGG-16 classifier (25088x4096, 4096x4096) reshaped into ``model``'s fc6
    (7x7x512x4096) and fc7 (1x1x4096x4096): a fully connected layer over a flattened 7x7x512
    map is the 7x7 convolution applied at one position (§3.1, "convolutionalization")."""
    for fc, conv in (("fc1", "fc6"), ("fc2", "fc7")):
        kernel, bias = vgg.get_layer(fc).get_weights()
        target = model.get_layer(conv)
        target.set_weights([kernel.reshape(target.kernel.shape), bias])


def fcn_head(x, classes: int, *, dropout: float = 0.1, name: str):
    """torchvision's FCNHead: 3x3 conv to in/4 channels (no bias) - BN - ReLU - dropout 0.1 - 1x1 conv to classes."""
    x = layers.Conv2D(x.shape[-1] // 4, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.Conv2D(classes, 1, name=f"{name}_logits")(x)


# torchvision's segmentation ResNets: v1.5 (stride on the 3x3), no conv biases, output stride 8.
TORCHVISION_RESNET = dict(stride_on="3x3", use_bias=False)


@family_builder
def fcn_torchvision(
    depth=50,
    *,
    weights=None,
    input_tensor=None,
    input_shape=None,
    classes=21,
    classifier_activation="softmax",
    name=None,
    aux_head=True,
    backbone_weights=None,
):
    """torchvision's ``fcn_resnet{depth}``: ResNet-``depth`` (v1.5, no conv biases) dilated to
    output stride 8, :func:`fcn_head` on conv5 (2048 -> 512 -> classes), bilinear upsampling
    x8; ``aux_head``: the auxiliary FCN head on conv4 (1024 -> 256 -> classes), a second
    output (torchvision trains it with loss weight 0.5). Input sides: multiples of 8, at
    least 32 (the ResNet's minimum)."""

    def body(inputs):
        taps = backbone_endpoints(
            f"resnet{depth}",
            inputs,
            levels=("P4", "P5"),
            output_stride=8,
            weights=backbone_weights,
            backbone_kwargs=TORCHVISION_RESNET,
        )
        outputs = [fcn_head(taps["P5"], classes, name="fcn_head")]
        if aux_head:
            outputs.append(fcn_head(taps["P4"], classes, name="aux_head"))
        return [layers.UpSampling2D(8, interpolation="bilinear", name=f"{o.name}_upsample")(o) for o in outputs]

    return build_segmenter(
        name=name or f"fcn_resnet{depth}",
        body=body,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        classes=classes,
        classifier_activation=classifier_activation,
        size_rule=multiple_of(8, " (output stride 8)", minimum=backbone_min_size(f"resnet{depth}")),
    )


def _register(name, variant, params, source):
    return register_model(
        name,
        family="fcn",
        paper=f"{_PAPER}, FCN-{variant} on VGG-16",
        input_shape=(512, 512, 3),
        min_input=(32, 32, 3),
        params=params,
        params_source=source,
        params_convention="trainable",
        tags=("segmentation",),
    )


_ARITHMETIC = (
    "arithmetic, 21 classes, trainable: VGG-16 convs 14,714,688 + fc6 102,764,544 + fc7 16,781,312 + score_fr 86,037"
)


@_register("fcn32s", "32s", 134_346_581, _ARITHMETIC + "; the fixed 64x64 upscore32 (1,806,336) not counted")
def fcn32s(**kwargs):
    """FCN-32s on VGG-16 (see :func:`fcn`)."""
    return fcn("32s", **{"name": "fcn32s", **kwargs})


@_register(
    "fcn16s",
    "16s",
    134_364_410,
    _ARITHMETIC + " + score_pool4 10,773 + upscore_pool4 7,056; the fixed upscore16 (451,584) not counted",
)
def fcn16s(**kwargs):
    """FCN-16s on VGG-16: pool4 fused at stride 16 (see :func:`fcn`)."""
    return fcn("16s", **{"name": "fcn16s", **kwargs})


@_register(
    "fcn8s",
    "8s",
    134_376_863,
    _ARITHMETIC + " + score_pool4 10,773 + upscore_pool4 7,056 + score_pool3 5,397 + upscore_pool3 7,056; "
    "the fixed upscore8 (112,896) not counted",
)
def fcn8s(**kwargs):
    """FCN-8s on VGG-16: pool4 and pool3 fused (see :func:`fcn`)."""
    return fcn("8s", **{"name": "fcn8s", **kwargs})


_TORCHVISION = dict(
    family="fcn",
    input_shape=(520, 520, 3),
    min_input=(32, 32, 3),
    params_convention="trainable",
    tags=("segmentation", "aux_output"),
)


@register_model(
    "fcn_resnet50",
    paper=f"{_PAPER}; torchvision's fcn_resnet50 layout (dilated ResNet-50, FCN head, auxiliary head)",
    params=35_322_218,
    params_source="torchvision fcn_resnet50 (COCO_WITH_VOC_LABELS_V1 num_params, aux head included)",
    **_TORCHVISION,
)
def fcn_resnet50(**kwargs):
    """torchvision's fcn_resnet50 layout: outputs [main, aux] unless ``aux_head=False`` (:func:`fcn_torchvision`)."""
    return fcn_torchvision(50, **{"name": "fcn_resnet50", **kwargs})


@register_model(
    "fcn_resnet101",
    paper=f"{_PAPER}; torchvision's fcn_resnet101 layout (dilated ResNet-101, FCN head, auxiliary head)",
    params=54_314_346,
    params_source="torchvision fcn_resnet101 (COCO_WITH_VOC_LABELS_V1 num_params, aux head included)",
    **_TORCHVISION,
)
def fcn_resnet101(**kwargs):
    """torchvision's fcn_resnet101 layout (see :func:`fcn_torchvision`)."""
    return fcn_torchvision(101, **{"name": "fcn_resnet101", **kwargs})
