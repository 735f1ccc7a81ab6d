"""SegNet (Badrinarayanan, Kendall & Cipolla 2017, "SegNet: a deep convolutional
encoder-decoder architecture for image segmentation").

The encoder is VGG-16's 13 convolutions, each followed by BatchNorm and ReLU, with 2x2/2
max pooling that stores its argmax indices (:class:`kcnn.layers.MaxPoolingWithArgmax2D`,
"same": Caffe's ceil mode for odd sizes). The decoder mirrors it (Fig. 2-3): each stage
unpools with the indices of its encoder stage (:class:`kcnn.layers.MaxUnpooling2D`, to
that stage's exact size) and runs 3x3 convolutions with BN and ReLU back to the encoder
stage's input width; the last one outputs the classes and feeds the softmax. No
transposed convolutions, no skip of feature maps: only the indices cross over. Widths
and order follow the authors' Caffe model (SegNet-Tutorial ``segnet_train.prototxt``:
``conv5_3_D`` ... ``conv1_2_D`` 64, ``conv1_1_D`` to the 11 CamVid classes). Weights
start from He et al.'s Gaussian, as the paper's from-scratch models.

Parameters at 11 classes (CamVid): convolutions 29,433,483 (encoder 14,714,688, decoder
14,712,448 + the final 3x3 64 -> 11, 6,347) and BatchNorm on 7,936 channels (encoder
4,224, decoder 3,712): trainable (gamma, beta) 15,872 -> 29,449,355; with the moving mean
and variance (Keras' ``count_params()``, the registered figure) 29,465,227, "29.5M".
"""

from __future__ import annotations

from keras import layers

from kcnn.layers import MaxPoolingWithArgmax2D, MaxUnpooling2D
from kcnn.models._base import family_builder
from kcnn.models.vgg import VGG_CONFIGS
from kcnn.registry import register_model
from kcnn.segmentation._base import at_least, build_segmenter, check_choice
from kcnn.segmentation.backbones import load_vgg_conv_weights, vgg_block

__all__ = ["segnet"]

_PAPER = "Badrinarayanan, Kendall & Cipolla 2017, SegNet: a deep convolutional encoder-decoder architecture"


def _decoder_stage(x, block: int, widths: tuple, width_in: int, *, last: bool):
    """The mirror of encoder block ``block`` (conv widths ``widths`` from ``width_in``)."""
    for c in range(len(widths), 0, -1):
        filters = widths[c - 2] if c > 1 else width_in
        name = f"block{block}_conv{c}_D"
        if last and c == 1:
            return layers.Conv2D(filters, 3, padding="same", kernel_initializer="he_normal", name="logits")(x)
        x = layers.Conv2D(filters, 3, padding="same", kernel_initializer="he_normal", name=name)(x)
        x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
        x = layers.Activation("relu", name=f"{name}_act")(x)
    return x


@register_model(
    "segnet",
    family="segnet",
    paper=f"{_PAPER}; VGG-16-BN encoder, decoder as the authors' Caffe model",
    input_shape=(360, 480, 3),
    min_input=(1, 1, 3),
    params=29_465_227,
    params_source="arithmetic, 11 classes (CamVid), count_params() with BN moving statistics; trainable "
    "29,449,355 (see kcnn.segmentation.segnet); the paper's 29.5M",
    tags=("segmentation",),
)
@family_builder
def segnet(
    weights=None,
    input_tensor=None,
    input_shape=None,
    classes=11,
    classifier_activation="softmax",
    name="segnet",
    config="D",
    backbone_weights=None,
):
    """SegNet (see the module docstring); any input size (odd sizes unpool exactly).
    ``config``: the VGG configuration of the encoder, "D" (VGG-16, the paper) or another
    key of :data:`kcnn.models.vgg.VGG_CONFIGS` (e.g. "D/4": D at a quarter of its widths, the
    CPU preset's; "mini": two stages, for quick runs).
    ``backbone_weights``: None, "imagenet" (keras.applications' VGG16 convolutions; the
    BatchNorm starts fresh, as the paper's) or a VGG-16 ``.weights.h5`` file."""
    check_choice(config, tuple(VGG_CONFIGS), "config")
    blocks = VGG_CONFIGS[config].blocks
    if any(isinstance(conv, tuple) for convs in blocks for conv in convs) or VGG_CONFIGS[config].lrn:
        raise ValueError(f"SegNet mirrors plain 3x3 VGG configurations; Received: config={config!r}")

    def body(inputs):
        x, stages = inputs, []
        for b in range(1, len(blocks) + 1):
            x = vgg_block(x, b, config=config, batch_norm=True, kernel_initializer="he_normal")
            reference = x
            x, indices = MaxPoolingWithArgmax2D(2, padding="same", name=f"block{b}_pool")(x)
            stages.append((reference, indices))
        for b in range(len(blocks), 0, -1):
            reference, indices = stages[b - 1]
            x = MaxUnpooling2D(2, name=f"block{b}_unpool")([x, indices, reference])
            width_in = blocks[b - 2][-1] if b > 1 else classes
            x = _decoder_stage(x, b, blocks[b - 1], width_in, last=b == 1)
        return x

    model = build_segmenter(
        name=name,
        body=body,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        classes=classes,
        classifier_activation=classifier_activation,
        size_rule=at_least(1),
    )
    if backbone_weights is not None:
        load_vgg_conv_weights(model, backbone_weights, config=config)
    return model
