"""DeepLab v1, v2, v3 and v3+ (Chen et al. 2015, 2017, 2017, 2018): atrous convolution
keeps the resolution the last poolings would have thrown away.

* v1 (:func:`deeplabv1`, "Semantic image segmentation with deep convolutional nets and
  fully connected CRFs"): VGG-16 with pool4 and pool5 at stride 1 (3x3 windows, as the
  released Caffe models: pool1-3 3x3/2), conv5 dilated 2, fc6 dilated; ``fc6`` is a
  variant of the paper's Table 2: "largefov" (3x3, rate 12, 1024 filters; the released
  model's pool5a 3x3 average pooling before it), "7x7" (rate 4, 4096) or "4x4" (rate 4,
  4096). Output stride 8. (No CRF: the paper's post-processing is not a layer.)
* v2 (:func:`deeplabv2`, "DeepLab: ... atrous convolution, and fully connected CRFs"):
  ResNet-101 (the MSRA Caffe layout: stride on the 1x1, no conv biases) at output stride
  8 with ASPP-L, four 3x3 branches at rates 6/12/18/24 scoring the classes, summed
  (:func:`kcnn.segmentation.aspp.aspp_sum`); ``backbone="vgg16"`` gives the VGG-16
  model (v1's trunk, fc6-fc7-fc8 branches of 1024).
* v3 (:func:`deeplabv3`, "Rethinking atrous convolution for semantic image
  segmentation"): a backbone at output stride 16 (or 8) with ASPP
  (:func:`kcnn.segmentation.aspp.aspp`) and a 1x1 classifier. ``head="torchvision"`` is
  torchvision's DeepLabHead (an extra 3x3 conv-BN-ReLU, dropout 0.5) with its auxiliary
  FCN head: ``deeplabv3_resnet50`` / ``_resnet101``.
* v3+ (:func:`deeplabv3plus`, "Encoder-decoder with atrous separable convolution"): v3's
  encoder and a decoder joining the stride-4 features (1x1 conv to 48 channels) with
  the ASPP output upsampled, two 3x3 conv-BN-ReLU of 256, a 1x1 classifier.

Logits are upsampled to the input by bilinear interpolation (as the papers do at test
time); input sides must be multiples of the output stride (and at least the backbone's
minimum). ResNet backbones default to torchvision's layout (v1.5: stride on the 3x3, no conv
biases); ``backbone_kwargs`` overrides. The output stride is the backbone's
(:func:`kcnn.models.backbone`): ResNets and VGG are built dilated, other zoo networks
(MobileNet, EfficientNet) rewritten by :func:`kcnn.models.backbone.dilate`. Features are the
backbone's endpoints; ``deeplabv3plus_mobilenetv2`` takes its stride-4 features where the
official model does (:data:`DEEPLAB_MOBILENETV2_TAPS`), which keeps its 144-channel width.
Not built: multi-scale inputs (v2's MSC), v3's multi-grid, v3+'s aligned Xception.
"""

from __future__ import annotations

import re

from keras import layers

from kcnn.layers import AtrousConv2D
from kcnn.models._base import family_builder
from kcnn.registry import register_model
from kcnn.segmentation._base import build_segmenter, check_choice, multiple_of
from kcnn.segmentation.aspp import aspp, aspp_sum, conv_bn_relu
from kcnn.segmentation.backbones import backbone_endpoints, backbone_min_size, load_vgg_conv_weights, vgg_block
from kcnn.segmentation.fcn import TORCHVISION_RESNET, fcn_head

__all__ = ["DEEPLAB_V1_FC6", "DEEPLAB_MOBILENETV2_TAPS", "deeplabv1", "deeplabv2", "deeplabv3", "deeplabv3plus"]

_V1 = "Chen et al. 2015, Semantic image segmentation with deep convolutional nets and fully connected CRFs"
_V2 = "Chen et al. 2017, DeepLab: semantic image segmentation with deep convolutional nets, atrous convolution"
_V3 = "Chen et al. 2017, Rethinking atrous convolution for semantic image segmentation"
_V3PLUS = "Chen et al. 2018, Encoder-decoder with atrous separable convolution for semantic image segmentation"
# fc6 variant: (kernel, rate, filters); Table 2 of the v1 paper.
DEEPLAB_V1_FC6 = {"largefov": (3, 12, 1024), "7x7": (7, 4, 4096), "4x4": (4, 4, 4096)}
HEADS = ("paper", "torchvision")
MSRA_RESNET = dict(stride_on="1x1", use_bias=False)
# The official DeepLab v3+ over MobileNetV2 (tensorflow/models research/deeplab) takes its stride-4
# features from layer_4/depthwise_output, keras' block_2_depthwise_relu: 144 channels where the
# endpoint P2 (block_2_add) has 24, so its 1x1 reduction to 48 has 6,912 weights, not 1,152.
DEEPLAB_MOBILENETV2_TAPS = {"P2": "block_2_depthwise_relu"}


def _resnet_kwargs(backbone, given, default):
    if given is not None:
        return given
    return default if re.fullmatch(r"resnet\d+", backbone) else None


def _upsample(x, factor: int, name: str):
    return layers.UpSampling2D(factor, interpolation="bilinear", name=name)(x)


def _vgg16_atrous(inputs, *, pool5a: bool):
    """DeepLab's VGG-16: pool1-3 3x3/2, pool4/pool5 3x3/1, conv5 dilated 2; output stride 8."""
    x = inputs
    for b in range(1, 6):
        x = vgg_block(x, b, dilation_rate=2 if b == 5 else 1)
        x = layers.MaxPooling2D(3, strides=2 if b <= 3 else 1, padding="same", name=f"block{b}_pool")(x)
    if pool5a:
        x = layers.AveragePooling2D(3, strides=1, padding="same", name="pool5a")(x)
    return x


def _finish(body, *, name, output_stride, minimum, weights, input_tensor, input_shape, classes, classifier_activation):
    return build_segmenter(
        name=name,
        body=body,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        classes=classes,
        classifier_activation=classifier_activation,
        size_rule=multiple_of(output_stride, f" (output stride {output_stride})", minimum=minimum),
    )


@register_model(
    "deeplabv1",
    family="deeplab",
    paper=f"{_V1}; DeepLab-LargeFOV",
    input_shape=(512, 512, 3),
    min_input=(8, 8, 3),
    params=20_505_429,
    params_source="arithmetic, 21 classes: VGG-16 convs 14,714,688 + fc6 4,719,616 + fc7 1,049,600 + fc8 21,525 "
    "(Table 2: 20.5M; fc6='7x7' gives 134,346,581 = 134.3M, '4x4' 65,140,565 = 65.1M)",
    tags=("segmentation",),
)
@family_builder
def deeplabv1(
    weights=None,
    input_tensor=None,
    input_shape=None,
    classes=21,
    classifier_activation="softmax",
    name="deeplabv1",
    fc6="largefov",
    dropout=0.5,
    backbone_weights=None,
):
    """DeepLab v1 (see the module docstring); ``backbone_weights="imagenet"`` loads
    keras.applications' VGG16 convolutions (fc6/fc7 start fresh: the paper subsampled them)."""
    check_choice(fc6, tuple(DEEPLAB_V1_FC6), "fc6")
    kernel, rate, filters = DEEPLAB_V1_FC6[fc6]

    def body(inputs):
        x = _vgg16_atrous(inputs, pool5a=fc6 == "largefov")
        x = AtrousConv2D(filters, kernel, padding="same", dilation_rate=rate, activation="relu", name="fc6")(x)
        x = layers.Dropout(dropout, name="fc6_dropout")(x)
        x = layers.Conv2D(filters, 1, activation="relu", name="fc7")(x)
        x = layers.Dropout(dropout, name="fc7_dropout")(x)
        return _upsample(layers.Conv2D(classes, 1, name="fc8")(x), 8, "upsample")

    model = _finish(body, name=name, output_stride=8, minimum=8, **_common(locals()))
    if backbone_weights is not None:
        load_vgg_conv_weights(model, backbone_weights)
    return model


def _common(args):
    keys = ("weights", "input_tensor", "input_shape", "classes", "classifier_activation")
    return {k: args[k] for k in keys}


@register_model(
    "deeplabv2",
    family="deeplab",
    paper=f"{_V2}; ResNet-101 with ASPP-L",
    input_shape=(512, 512, 3),
    min_input=(32, 32, 3),
    params=44_048_532,
    params_source="arithmetic, 21 classes, trainable: ResNet-101 without top 42,500,160 (torchvision "
    "44,549,160 - fc 2,049,000) + 4 branches x (3x3x2048x21 + 21) = 1,548,372",
    params_convention="trainable",
    tags=("segmentation",),
)
@family_builder
def deeplabv2(
    weights=None,
    input_tensor=None,
    input_shape=None,
    classes=21,
    classifier_activation="softmax",
    name="deeplabv2",
    backbone="resnet101",
    atrous_rates=(6, 12, 18, 24),
    backbone_weights=None,
    backbone_kwargs=None,
    backbone_taps=None,
):
    """DeepLab v2 with ASPP (see the module docstring); output stride 8. ``backbone``:
    "resnet101" (the paper's), another zoo name, or "vgg16" (v1's trunk, 1024-filter branches)."""
    kwargs = _resnet_kwargs(backbone, backbone_kwargs, MSRA_RESNET)

    def body(inputs):
        if backbone == "vgg16":
            x = _vgg16_atrous(inputs, pool5a=False)
            x = aspp_sum(x, classes, atrous_rates, branch_filters=1024)
        else:
            x = backbone_endpoints(
                backbone,
                inputs,
                levels=("P5",),
                output_stride=8,
                weights=backbone_weights,
                backbone_kwargs=kwargs,
                taps=backbone_taps,
            )["P5"]
            x = aspp_sum(x, classes, atrous_rates)
        return _upsample(x, 8, "upsample")

    minimum = 8 if backbone == "vgg16" else backbone_min_size(backbone)
    model = _finish(body, name=name, output_stride=8, minimum=minimum, **_common(locals()))
    if backbone == "vgg16" and backbone_weights is not None:
        load_vgg_conv_weights(model, backbone_weights)
    return model


def _v3_rates(atrous_rates, output_stride):
    return tuple(atrous_rates) if atrous_rates else tuple(r * 16 // output_stride for r in (6, 12, 18))


@register_model(
    "deeplabv3",
    family="deeplab",
    paper=f"{_V3}; ResNet-101 at output stride 16",
    input_shape=(512, 512, 3),
    min_input=(32, 32, 3),
    params=58_040_661,
    params_source="arithmetic, 21 classes, trainable: ResNet-101 without top 42,500,160 + ASPP 15,535,104 "
    "(1x1 524,800, 3 x 3x3 4,719,104, image pooling 524,800, projection 328,192) + 1x1 classifier 5,397",
    params_convention="trainable",
    tags=("segmentation",),
)
@family_builder
def deeplabv3(
    weights=None,
    input_tensor=None,
    input_shape=None,
    classes=21,
    classifier_activation="softmax",
    name="deeplabv3",
    backbone="resnet101",
    output_stride=16,
    atrous_rates=None,
    head="paper",
    aux_head=False,
    dropout=None,
    backbone_weights=None,
    backbone_kwargs=None,
    backbone_taps=None,
):
    """DeepLab v3: ``backbone`` at ``output_stride`` 16 or 8, ASPP at ``atrous_rates``
    (default 6/12/18 at 16, 12/24/36 at 8), then ``head`` "paper" (1x1 classifier;
    dropout 0.1 after ASPP, the authors' code) or "torchvision" (3x3 conv-BN-ReLU 256, 1x1;
    dropout 0.5). ``aux_head``: torchvision's auxiliary FCN head on P4, a second output."""
    check_choice(head, HEADS, "head")
    check_choice(output_stride, (8, 16), "output_stride")
    kwargs = _resnet_kwargs(backbone, backbone_kwargs, TORCHVISION_RESNET)
    rates = _v3_rates(atrous_rates, output_stride)
    dropout = dropout if dropout is not None else (0.1 if head == "paper" else 0.5)

    def body(inputs):
        levels = ("P4", "P5") if aux_head else ("P5",)
        taps = backbone_endpoints(
            backbone,
            inputs,
            levels=levels,
            output_stride=output_stride,
            weights=backbone_weights,
            backbone_kwargs=kwargs,
            taps=backbone_taps,
        )
        x = aspp(taps["P5"], 256, rates, dropout=dropout)
        if head == "torchvision":
            x = layers.Conv2D(256, 3, padding="same", use_bias=False, name="head_conv")(x)
            x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="head_bn")(x)
            x = layers.Activation("relu", name="head_relu")(x)
        outputs = [layers.Conv2D(classes, 1, name="logits")(x)]
        if aux_head:
            outputs.append(fcn_head(taps["P4"], classes, name="aux_head"))
        return [_upsample(o, output_stride, f"{o.name}_upsample") for o in outputs]

    minimum = backbone_min_size(backbone)
    return _finish(body, name=name, output_stride=output_stride, minimum=minimum, **_common(locals()))


@register_model(
    "deeplabv3plus",
    family="deeplab",
    paper=f"{_V3PLUS}; ResNet-101 at output stride 16",
    input_shape=(512, 512, 3),
    min_input=(32, 32, 3),
    params=59_344_309,
    params_source="arithmetic, 21 classes, trainable: deeplabv3's 58,035,264 without its classifier + low-level "
    "1x1 12,384 + decoder 3x3 convs 700,928 and 590,336 + 1x1 classifier 5,397",
    params_convention="trainable",
    tags=("segmentation",),
)
@family_builder
def deeplabv3plus(
    weights=None,
    input_tensor=None,
    input_shape=None,
    classes=21,
    classifier_activation="softmax",
    name="deeplabv3plus",
    backbone="resnet101",
    output_stride=16,
    atrous_rates=None,
    low_level_filters=48,
    decoder_filters=256,
    dropout=0.1,
    backbone_weights=None,
    backbone_kwargs=None,
    backbone_taps=None,
):
    """DeepLab v3+: v3's encoder (``backbone`` at ``output_stride``, ASPP) and the decoder:
    P2 (stride 4) -> 1x1 conv-BN-ReLU to ``low_level_filters``, concatenated with the ASPP
    output upsampled to stride 4, two 3x3 conv-BN-ReLU of ``decoder_filters``, 1x1 classifier, x4.
    ``backbone_taps``: layer names replacing endpoints, e.g. :data:`DEEPLAB_MOBILENETV2_TAPS`."""
    check_choice(output_stride, (8, 16), "output_stride")
    kwargs = _resnet_kwargs(backbone, backbone_kwargs, TORCHVISION_RESNET)
    rates = _v3_rates(atrous_rates, output_stride)

    def body(inputs):
        taps = backbone_endpoints(
            backbone,
            inputs,
            levels=("P2", "P5"),
            output_stride=output_stride,
            weights=backbone_weights,
            backbone_kwargs=kwargs,
            taps=backbone_taps,
        )
        x = aspp(taps["P5"], 256, rates, dropout=dropout)
        x = _upsample(x, output_stride // 4, "decoder_upsample")
        low = conv_bn_relu(taps["P2"], low_level_filters, 1, name="decoder_low_level")
        x = layers.Concatenate(name="decoder_concat")([x, low])
        x = conv_bn_relu(x, decoder_filters, 3, name="decoder_conv1")
        x = conv_bn_relu(x, decoder_filters, 3, name="decoder_conv2")
        return _upsample(layers.Conv2D(classes, 1, name="logits")(x), 4, "upsample")

    minimum = backbone_min_size(backbone)
    return _finish(body, name=name, output_stride=output_stride, minimum=minimum, **_common(locals()))


_TORCHVISION_LAYOUT = dict(output_stride=8, head="torchvision", aux_head=True)
_TORCHVISION = dict(
    family="deeplab",
    input_shape=(520, 520, 3),
    min_input=(32, 32, 3),
    params_convention="trainable",
    tags=("segmentation", "aux_output"),
)


@register_model(
    "deeplabv3_resnet50",
    paper=f"{_V3}; torchvision's deeplabv3_resnet50 layout (output stride 8, DeepLabHead, auxiliary FCN head)",
    params=42_004_074,
    params_source="torchvision deeplabv3_resnet50 (COCO_WITH_VOC_LABELS_V1 num_params, aux head included)",
    **_TORCHVISION,
)
def deeplabv3_resnet50(**kwargs):
    """torchvision's deeplabv3_resnet50 layout: outputs [main, aux] unless ``aux_head=False``."""
    return deeplabv3(**{**_TORCHVISION_LAYOUT, "backbone": "resnet50", "name": "deeplabv3_resnet50", **kwargs})


@register_model(
    "deeplabv3_resnet101",
    paper=f"{_V3}; torchvision's deeplabv3_resnet101 layout (output stride 8, DeepLabHead, auxiliary FCN head)",
    params=60_996_202,
    params_source="torchvision deeplabv3_resnet101 (COCO_WITH_VOC_LABELS_V1 num_params, aux head included)",
    **_TORCHVISION,
)
def deeplabv3_resnet101(**kwargs):
    """torchvision's deeplabv3_resnet101 layout: outputs [main, aux] unless ``aux_head=False``."""
    return deeplabv3(**{**_TORCHVISION_LAYOUT, "backbone": "resnet101", "name": "deeplabv3_resnet101", **kwargs})


@register_model(
    "deeplabv3plus_mobilenetv2",
    family="deeplab",
    paper=f"{_V3PLUS}; MobileNetV2 (alpha 1) at output stride 16",
    input_shape=(512, 512, 3),
    min_input=(32, 32, 3),
    params=13_361_013,
    params_source="arithmetic, 21 classes, trainable: MobileNetV2 without top 2,223,872 + ASPP on 1,280 channels "
    "9,833,472 + low-level 1x1 (block_2_depthwise_relu, 144 -> 48) 7,008 + decoder 3x3 convs 700,928 and 590,336 "
    "+ classifier 5,397",
    params_convention="trainable",
    tags=("segmentation",),
)
def deeplabv3plus_mobilenetv2(**kwargs):
    """DeepLab v3+ over MobileNetV2 (alpha 1, dilated to output stride 16 by
    :func:`kcnn.models.backbone.dilate`): ASPP on out_relu (P5), low-level features from
    block_2_depthwise_relu as the official model (:data:`DEEPLAB_MOBILENETV2_TAPS`)."""
    kwargs = {"backbone_taps": DEEPLAB_MOBILENETV2_TAPS, "name": "deeplabv3plus_mobilenetv2", **kwargs}
    return deeplabv3plus(**{"backbone": "mobilenetv2", **kwargs})
