"""U-Net (Ronneberger, Fischer & Brox 2015, "U-Net: convolutional networks for biomedical
image segmentation"), with the paper's own encoder or a zoo backbone's.

The paper's network (Fig. 1): a contracting path of two 3x3 convolutions (ReLU) per
level with 64, 128, 256, 512 and 1024 filters and 2x2/2 max pooling between levels,
dropout at its end (§3.1); an expansive path of 2x2 up-convolutions halving the channels,
concatenation with the contracting path's map of the same level, and two 3x3
convolutions (ReLU); a final 1x1 convolution to the classes. Weights start from a
Gaussian of standard deviation sqrt(2/N), N the fan-in (§3: Keras' ``he_normal``, which
truncates at two deviations).

``padding``: "same" (default) keeps every map's size, so the output has the input's size
(sides: multiples of 16); "valid" is the paper's unpadded convolutions, each skip centre-
cropped to the up-convolution's size: inputs of 16k + 124 pixels (k >= 4) give outputs of
16k - 60 (572 -> 388 as in Fig. 1), the overlap-tile strategy's centre.
"""

from __future__ import annotations

from keras import layers

from kcnn.models._base import family_builder
from kcnn.registry import register_model
from kcnn.segmentation._base import SizeRule, build_segmenter, check_choice, multiple_of
from kcnn.segmentation.backbones import backbone_endpoints, backbone_min_size
from kcnn.segmentation.layers import CropToReference

__all__ = ["UNET_FILTERS", "UNET_MOBILENETV2_TAPS", "unet", "unet_paper", "unet_mobilenetv2", "unet_output_size"]

_PAPER = "Ronneberger, Fischer & Brox 2015, U-Net: convolutional networks for biomedical image segmentation"
UNET_FILTERS = (64, 128, 256, 512, 1024)
DECODER_FILTERS = (256, 128, 64, 32, 16)
PADDINGS = ("same", "valid")
# TensorFlow's image segmentation tutorial (its U-Net over MobileNetV2) taps each stride where the
# next stage's first block expands, not where the stage's last block ends (the endpoints
# expanded_conv_project_BN, block_2_add, block_5_add, block_12_add: 16, 24, 32 and 96 channels);
# its skips are 96, 144, 192 and 576 channels wide. Its bottom (block_16_project) is not taken:
# kcnn's decoder starts from out_relu (P5), 1280 channels.
UNET_MOBILENETV2_TAPS = {
    "P1": "block_1_expand_relu",
    "P2": "block_3_expand_relu",
    "P3": "block_6_expand_relu",
    "P4": "block_13_expand_relu",
}
_VALID_SIZES = SizeRule(
    lambda size: size >= 188 and (size - 124) % 16 == 0,
    "16k + 124 with k >= 4 for padding='valid' (e.g. 188, 252, 572; the output is 16k - 60: 572 -> 388)",
)


def unet_output_size(size: int, padding: str = "same", levels: int = 4) -> int:
    """Output side of the paper's U-Net for an input side ``size``."""
    if padding == "same":
        return size
    for _ in range(levels):
        size = (size - 4) // 2
    size -= 4
    for _ in range(levels):
        size = size * 2 - 4
    return size


def _double_conv(x, filters, *, padding, batch_norm, name):
    for i in (1, 2):
        x = layers.Conv2D(
            filters,
            3,
            padding=padding,
            use_bias=not batch_norm,
            kernel_initializer="he_normal",
            activation=None if batch_norm else "relu",
            name=f"{name}_conv{i}",
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"{name}_conv{i}_bn")(x)
            x = layers.Activation("relu", name=f"{name}_conv{i}_relu")(x)
    return x


def _up(x, skip, filters, *, padding, batch_norm, name):
    """Up-convolution (2x2/2), concatenation with ``skip`` (centre-cropped if larger), two convolutions."""
    x = layers.Conv2DTranspose(filters, 2, strides=2, kernel_initializer="he_normal", name=f"{name}_upconv")(x)
    if skip is not None:
        if padding == "valid":
            skip = CropToReference(name=f"{name}_crop")([skip, x])
        x = layers.Concatenate(name=f"{name}_concat")([skip, x])
    return _double_conv(x, filters, padding=padding, batch_norm=batch_norm, name=name)


@family_builder
def unet(
    *,
    weights=None,
    input_tensor=None,
    input_shape=None,
    classes=2,
    classifier_activation="softmax",
    name="unet",
    filters=UNET_FILTERS,
    padding="same",
    batch_norm=False,
    dropout=0.5,
    backbone=None,
    backbone_weights=None,
    backbone_kwargs=None,
    backbone_taps=None,
    decoder_filters=DECODER_FILTERS,
):
    """U-Net. ``backbone=None``: the paper's encoder with ``filters`` per level (the
    contracting path's widths; the last is the bottom), ``padding`` "same" or "valid" (see
    the module docstring), ``dropout`` after the bottom convolutions. ``backbone`` (a zoo
    name, e.g. "mobilenetv2", "resnet50", "vgg16"): its endpoints P1..P5 are the encoder,
    P5 the bottom, and five up-steps of ``decoder_filters`` widths return to full size
    (concatenating P4..P1, and P0 where the backbone has one; ``backbone_taps`` names other
    layers per level, e.g. :data:`UNET_MOBILENETV2_TAPS`); sides multiples of 32, at least
    the backbone's minimum.
    ``batch_norm``: BN between every decoder (and paper-encoder) convolution and its ReLU,
    not in the paper. The default input has 1 channel (the paper's) without a backbone, 3 with one.
    """
    check_choice(padding, PADDINGS, "padding")
    if backbone is not None and padding != "same":
        raise ValueError(
            f"padding='valid' applies to the paper's encoder (backbone=None); Received: backbone={backbone!r}"
        )
    filters = tuple(int(f) for f in filters)
    conv = dict(padding=padding, batch_norm=batch_norm)

    def paper_body(inputs):
        x, skips = inputs, []
        for level, width in enumerate(filters[:-1], 1):
            x = _double_conv(x, width, name=f"enc{level}", **conv)
            skips.append(x)
            x = layers.MaxPooling2D(2, strides=2, name=f"enc{level}_pool")(x)
        x = _double_conv(x, filters[-1], name="bottom", **conv)
        if dropout:
            x = layers.Dropout(dropout, name="bottom_dropout")(x)
        for level in range(len(skips), 0, -1):
            x = _up(x, skips[level - 1], filters[level - 1], name=f"dec{level}", **conv)
        return layers.Conv2D(classes, 1, kernel_initializer="he_normal", name="logits")(x)

    def backbone_body(inputs):
        if len(decoder_filters) != 5:
            raise ValueError(
                "`decoder_filters` needs 5 widths (strides 16, 8, 4, 2, 1); "
                f"Received: decoder_filters={decoder_filters}"
            )
        taps = backbone_endpoints(
            backbone,
            inputs,
            levels=("P1", "P2", "P3", "P4", "P5"),
            weights=backbone_weights,
            backbone_kwargs=backbone_kwargs,
            taps=backbone_taps,
        )
        x = taps["P5"]
        for level, width in zip(range(4, -1, -1), decoder_filters):
            x = _up(x, taps.get(f"P{level}"), width, name=f"dec{level}", **conv)
        return layers.Conv2D(classes, 1, name="logits")(x)

    if backbone is None:
        rule = multiple_of(2 ** (len(filters) - 1), " with padding='same'") if padding == "same" else _VALID_SIZES
        if padding == "valid" and len(filters) != 5:
            raise ValueError(f"padding='valid' is the paper's 5-level network; Received: filters={filters}")
    else:
        rule = multiple_of(32, minimum=backbone_min_size(backbone))
    return build_segmenter(
        name=name,
        body=paper_body if backbone is None else backbone_body,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        classes=classes,
        classifier_activation=classifier_activation,
        channels=1 if backbone is None else 3,
        size_rule=rule,
    )


@register_model(
    "unet",
    family="unet",
    paper=_PAPER,
    input_shape=(572, 572, 1),
    min_input=(16, 16, 1),
    params=31_030_658,
    params_source="arithmetic over the paper's Fig. 1 (1 input channel, 2 classes): contracting path "
    "18,842,048, up-convolutions 2,786,240, expansive convolutions 9,402,240, final 1x1 130",
    tags=("segmentation",),
)
def unet_paper(**kwargs):
    """The paper's U-Net (1 input channel, 2 classes by default); ``padding="valid"`` for Fig. 1's sizes."""
    return unet(**{"name": "unet", **kwargs})


@register_model(
    "unet_mobilenetv2",
    family="unet",
    paper=f"{_PAPER}; kcnn's decoder (2x2 up-convolutions, BN) over MobileNetV2's endpoints",
    input_shape=(224, 224, 3),
    min_input=(32, 32, 3),
    params=6_977_490,
    params_source="arithmetic, 2 classes, count_params(): keras.applications MobileNetV2 (alpha 1) without top "
    "2,257,984 + decoder 4,719,506 (dec4 3,819,776, dec3 648,320, dec2 190,016, dec1 54,560, dec0 6,800, logits 34)",
    tags=("segmentation",),
)
def unet_mobilenetv2(**kwargs):
    """U-Net over MobileNetV2 (alpha 1): skips at TensorFlow's segmentation tutorial's layers
    (:data:`UNET_MOBILENETV2_TAPS`), bottom out_relu, BatchNorm in the decoder."""
    kwargs = {"backbone_taps": UNET_MOBILENETV2_TAPS, "batch_norm": True, "name": "unet_mobilenetv2", **kwargs}
    return unet(**{"backbone": "mobilenetv2", **kwargs})
