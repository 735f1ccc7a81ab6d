"""VGG (Simonyan & Zisserman 2014, "Very deep convolutional networks for large-scale image
recognition"): the ConvNet configurations of Table 1 as data, read by one builder.

Layer names are keras.applications' (``block1_conv1`` ... ``block5_pool``, ``flatten``,
``fc1``, ``fc2``, ``predictions``), so ``weights="imagenet"`` for VGG-16 / VGG-19 copies
keras.applications' weights with the identity name map. The ``_bn`` variants are
torchvision's vgg*_bn (BatchNorm after every convolution, before the ReLU), not in the paper.

Endpoints (:func:`kcnn.models.endpoints`): ``P{k}`` is the last layer at stride 2**k, so
the last convolution of block k+1 (VGG-16: ``block1_conv2`` P0, ``block2_conv2`` P1,
``block3_conv3`` P2, ``block4_conv3`` P3, ``block5_conv3`` P4; ``_act`` with BatchNorm) and
``block5_pool`` P5. FCN's pool3 and pool4 taps are the layers ``block3_pool`` (stride 8) and
``block4_pool`` (stride 16). ``output_stride`` keeps the names (:mod:`kcnn.models.backbone`):
at 16, block5_pool is a 3x3 stride-1 pooling and P5 is at stride 16; at 8, block4_pool too.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import layers

from kcnn.blocks.plain import check_activation, check_choice, conv_act, fc_act, kernel_initializer_for
from kcnn.layers import LocalResponseNormalization
from kcnn.models._base import build_classifier, dilated_with_file_weights, family_builder, predictions, tap
from kcnn.models.imagenet import ImagenetSource
from kcnn.registry import register_model

__all__ = [
    "VGG_CONFIGS",
    "VGGConfig",
    "vgg",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "vgg_mini",
]

_PAPER = "Simonyan & Zisserman 2014, Very deep convolutional networks for large-scale image recognition"
_BN = " with BatchNorm after every convolution (torchvision's vgg*_bn)"


@dataclasses.dataclass(frozen=True)
class VGGConfig:
    """A column of Table 1: per block, the convolutions' filters (an int is a 3x3 conv,
    ``(filters, 1)`` configuration C's 1x1 conv); ``lrn``: A-LRN's LRN after the first conv."""

    blocks: tuple
    lrn: bool = False


VGG_CONFIGS = {
    "A": VGGConfig(((64,), (128,), (256, 256), (512, 512), (512, 512))),
    "A-LRN": VGGConfig(((64,), (128,), (256, 256), (512, 512), (512, 512)), lrn=True),
    "B": VGGConfig(((64, 64), (128, 128), (256, 256), (512, 512), (512, 512))),
    "C": VGGConfig(((64, 64), (128, 128), (256, 256, (256, 1)), (512, 512, (512, 1)), (512, 512, (512, 1)))),
    "D": VGGConfig(((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))),
    "E": VGGConfig(((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512))),
    # Not in the paper: the design rule (stacks of 3x3 convolutions, 2x2/2 pooling, channels
    # doubling per block) at the size of 28x28 images; kcnn's Fashion-MNIST speed-run network.
    "mini": VGGConfig(((32, 32), (64, 64))),
    # Not in the paper: configuration D at a quarter of its widths (SegNet's CPU preset).
    "D/4": VGGConfig(((16, 16), (32, 32), (64, 64, 64), (128, 128, 128), (128, 128, 128))),
}
_IMAGENET = {"D": ImagenetSource("VGG16"), "E": ImagenetSource("VGG19")}
_NAMES = {
    "A": "vgg11",
    "A-LRN": "vgg11_lrn",
    "B": "vgg13",
    "C": "vgg16_c",
    "D": "vgg16",
    "E": "vgg19",
    "mini": "vgg_mini",
    "D/4": "vgg16_quarter",
}
_DEFAULT_SHAPE = {"mini": (28, 28, 1)}


@family_builder
def vgg(
    config="D",
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
    batch_norm=False,
    activation="relu",
    kernel_initializer="glorot_uniform",
    maxout_pieces=2,
    dropout=0.5,
    fc=(4096, 4096),
    output_stride=None,
):
    """The VGG network of Table 1's ``config`` ("A", "A-LRN", "B", "C", "D" or "E", or kcnn's
    "mini"); every variant is one line over it.

    keras.applications' arguments: ``include_top``, ``weights`` (None, "imagenet" for D and
    E, or a ``.weights.h5`` path), ``input_tensor``, ``input_shape`` (at least 32x32; static
    with the flattening top), ``pooling``, ``classes``, ``classifier_activation``, ``name``.

    3x3 convolutions (stride 1, padding 1) in five blocks, each closed by 2x2/2 max
    pooling; fc1 4096 - fc2 4096 - predictions with dropout 0.5 after fc1 and fc2 (§3.1;
    keras.applications omits the dropout, which has no weights). ``batch_norm``: conv
    (with bias) - BatchNorm - ReLU per layer, as torchvision's vgg*_bn. ``kernel_initializer``:
    "glorot_uniform" (default, keras.applications' choice; §3.1 notes Glorot & Bengio's
    initialization made the paper's pre-training of deeper nets unnecessary) or "paper", the
    literal §3.1 "normal distribution with the zero mean and 10^-2 variance" (std 0.1,
    biases 0), or another Keras name in ``kcnn.blocks.KERNEL_INITIALIZERS``. ``activation``:
    relu (paper), sigmoid, tanh, leaky_relu, elu, maxout. Inputs are at least 32x32; the
    flatten top makes 32x32 inputs (CIFAR) a 1x1x512 map. ``weights="imagenet"`` exists for
    D and E with ReLU and no BatchNorm (keras.applications' VGG16 / VGG19). ``fc``: the
    hidden fully connected layers' widths (the paper's two of 4096). ``output_stride`` 16 or 8
    (``include_top=False`` only): the last one or two poolings become 3x3 stride-1 poolings
    and the convolutions after them dilate by 2 (DeepLab v1's atrous VGG-16, pool4/pool5 at
    stride 1); the parameters are the same.
    """
    check_choice(config, tuple(VGG_CONFIGS), "config")
    check_activation(activation)
    check_choice(output_stride, (None, 8, 16), "output_stride")
    if output_stride is not None and include_top:
        raise ValueError(
            f"output_stride={output_stride} needs include_top=False: VGG's fc layers flatten the stride-32 "
            "pool5 map; Received: include_top=True"
        )
    if output_stride is not None and weights not in (None, "imagenet"):
        return dilated_with_file_weights(vgg, locals())
    spec = VGG_CONFIGS[config]
    endpoints = {}
    fc = tuple(int(units) for units in fc)
    paper_top = fc == (4096, 4096)
    imagenet = _IMAGENET.get(config) if not batch_norm and activation == "relu" and paper_top else None
    kinit = kernel_initializer_for(kernel_initializer, keras.initializers.RandomNormal(0.0, 0.1))
    act = dict(activation=activation, maxout_pieces=maxout_pieces, kernel_initializer=kinit)

    def features(x):
        stride, dilation = 1, 1  # stride: the undilated network's, which names the endpoints
        for b, convs in enumerate(spec.blocks, 1):
            for c, conv in enumerate(convs, 1):
                filters, kernel = conv if isinstance(conv, tuple) else (conv, 3)
                x = conv_act(
                    x,
                    filters,
                    kernel,
                    batch_norm=batch_norm,
                    dilation_rate=dilation if kernel > 1 else 1,
                    name=f"block{b}_conv{c}",
                    **act,
                )
                if spec.lrn and (b, c) == (1, 1):
                    x = LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75, k=2.0, name="block1_lrn")(x)
                tap(endpoints, x, stride)
            if output_stride is not None and 2 * stride > output_stride:
                x = layers.MaxPooling2D(3, strides=1, padding="same", name=f"block{b}_pool")(x)
                dilation *= 2
            else:
                x = layers.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
            stride *= 2
            tap(endpoints, x, stride)
        return x

    def top(x, *, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        for j, units in enumerate(fc, 1):
            x = fc_act(x, units, name=f"fc{j}", **act)
            if dropout:
                x = layers.Dropout(dropout, name=f"fc{j}_dropout")(x)
        return predictions(x, classes=classes, classifier_activation=classifier_activation, kernel_initializer=kinit)

    return build_classifier(
        name=name or _NAMES[config] + ("_bn" if batch_norm else ""),
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
        default_shape=_DEFAULT_SHAPE.get(config, (224, 224, 3)),
        min_size=2 ** len(spec.blocks),
        imagenet=imagenet,
        endpoints=endpoints,
    )


def _register(name, config, batch_norm, params, source, convention="total"):
    return register_model(
        name,
        family="vgg",
        paper=f"{_PAPER}, configuration {config}" + (_BN if batch_norm else ""),
        input_shape=(224, 224, 3),
        min_input=(32, 32, 3),
        params=params,
        params_source=source,
        params_convention=convention,
    )


_TV = "torchvision {} (trainable: the BatchNorm variants add gamma and beta per conv channel)"
_WITH_BN = dict(batch_norm=True)


@_register("vgg11", "A", False, 132_863_336, "torchvision vgg11; arithmetic from Table 1 (paper: 133M)")
def vgg11(**kwargs):
    """VGG-11, configuration A (8 conv + 3 FC layers)."""
    return vgg("A", **{"name": "vgg11", **kwargs})


@_register("vgg11_bn", "A", True, 132_868_840, _TV.format("vgg11_bn"), "trainable")
def vgg11_bn(**kwargs):
    """VGG-11 (A) with BatchNorm after every convolution (torchvision's vgg11_bn)."""
    return vgg("A", **{**_WITH_BN, "name": "vgg11_bn", **kwargs})


@_register("vgg13", "B", False, 133_047_848, "torchvision vgg13; arithmetic from Table 1 (paper: 133M)")
def vgg13(**kwargs):
    """VGG-13, configuration B (10 conv + 3 FC layers)."""
    return vgg("B", **{"name": "vgg13", **kwargs})


@_register("vgg13_bn", "B", True, 133_053_736, _TV.format("vgg13_bn"), "trainable")
def vgg13_bn(**kwargs):
    """VGG-13 (B) with BatchNorm after every convolution (torchvision's vgg13_bn)."""
    return vgg("B", **{**_WITH_BN, "name": "vgg13_bn", **kwargs})


@_register("vgg16", "D", False, 138_357_544, "keras.applications VGG16 count_params()")
def vgg16(**kwargs):
    """VGG-16, configuration D (13 conv + 3 FC layers); ``weights="imagenet"`` from keras.applications.VGG16."""
    return vgg("D", **{"name": "vgg16", **kwargs})


@_register("vgg16_bn", "D", True, 138_365_992, _TV.format("vgg16_bn"), "trainable")
def vgg16_bn(**kwargs):
    """VGG-16 (D) with BatchNorm after every convolution (torchvision's vgg16_bn)."""
    return vgg("D", **{**_WITH_BN, "name": "vgg16_bn", **kwargs})


@_register("vgg19", "E", False, 143_667_240, "keras.applications VGG19 count_params()")
def vgg19(**kwargs):
    """VGG-19, configuration E (16 conv + 3 FC layers); ``weights="imagenet"`` from keras.applications.VGG19."""
    return vgg("E", **{"name": "vgg19", **kwargs})


@_register("vgg19_bn", "E", True, 143_678_248, _TV.format("vgg19_bn"), "trainable")
def vgg19_bn(**kwargs):
    """VGG-19 (E) with BatchNorm after every convolution (torchvision's vgg19_bn)."""
    return vgg("E", **{**_WITH_BN, "name": "vgg19_bn", **kwargs})


# kcnn's speed-run network: conv-BN-ReLU, one hidden fc of 256 with dropout 0.3, He initialization.
_MINI = dict(classes=10, batch_norm=True, fc=(256,), dropout=0.3, kernel_initializer="he_normal")


@register_model(
    "vgg_mini",
    family="vgg",
    input_shape=(28, 28, 1),
    min_input=(4, 4, 1),
    params=871_402,
    paper="not in the paper: VGG's design rule (3x3 conv-BN-ReLU stacks, 2x2/2 pooling) sized for 28x28 images",
    params_source="arithmetic, 10 classes: convs 320 + 9,248 + 18,496 + 36,928, BatchNorm 4 x (32 + 32 + 64 + 64), "
    "fc1 3,136 x 256 + 256, predictions 2,570",
)
def vgg_mini(**kwargs):
    """A small VGG-style network for 28x28 images (kcnn's, not the paper's): conv 32-32, pool,
    conv 64-64, pool, each conv followed by BatchNorm and ReLU, then fc 256 with dropout 0.3.
    The Fashion-MNIST speed-run preset trains it."""
    return vgg("mini", **{**_MINI, "name": "vgg_mini", **kwargs})
