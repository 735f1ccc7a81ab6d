"""The CIFAR-10 ResNets of He et al. 2015 ("Deep residual learning for image
recognition", §4.2): a 3x3 conv with 16 filters, three stages of n basic blocks with
16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps, global average pooling and a
fully connected layer: depth 6n+2 (:data:`RESNET_CIFAR_SPECS`).

The shortcuts are the paper's option A by default: identities, and where the shape
changes a parameter-free strided subsampling with zero-padded channels
(:class:`kcnn.layers.ZeroPadShortcut`); ``shortcut="B"`` uses 1x1 projections there
instead, ``"C"`` everywhere.

Layer names: stem ``conv1_conv`` / ``conv1_bn`` / ``conv1_relu``; blocks
``conv{2,3,4}_block{i}_...``. Endpoints (:func:`kcnn.models.endpoints`): ``P0``
(32x32 at 32x32 inputs) ``conv2_block{n}_out``, ``P1`` (16x16) ``conv3_block{n}_out``,
``P2`` (8x8) ``conv4_block{n}_out``.
"""

from __future__ import annotations

import sys

from keras import layers

from kcnn.blocks.conv import conv_bn_act
from kcnn.blocks.residual import residual_basic
from kcnn.models._base import build_classifier, family_builder, tap
from kcnn.models.resnet import block_plan
from kcnn.registry import register_model

__all__ = [
    "RESNET_CIFAR_SPECS",
    "resnet_cifar",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "resnet1202",
]

_PAPER = "He et al. 2015, Deep residual learning for image recognition, §4.2 (CIFAR-10)"

# depth: n, the basic blocks per stage (depth = 6n + 2); He et al. 2015, Table 6.
RESNET_CIFAR_SPECS = {20: 3, 32: 5, 44: 7, 56: 9, 110: 18, 1202: 200}
STAGE_FILTERS = (16, 32, 64)
_STAGES = ("conv2", "conv3", "conv4")


def _plan(depth):
    if depth not in RESNET_CIFAR_SPECS:
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(
                f"CIFAR ResNet depth must be 6n+2 (e.g. {sorted(RESNET_CIFAR_SPECS)}); Received: depth={depth!r}"
            )
    n = RESNET_CIFAR_SPECS.get(depth, (depth - 2) // 6)
    return block_plan((n, n, n), stage_names=_STAGES)


def allow_graph_depth(num_layers: int) -> None:
    """Keras builds (and, on loading, rebuilds) a functional graph by a recursive walk,
    one Python call per layer on the longest path; ResNet-1202's is about 4,200 layers,
    over Python's default limit of 1,000. Raise the recursion limit to fit (never lower
    it); CPython 3.11+ runs Python-to-Python recursion without growing the C stack.
    Loading a saved ResNet-1202 in a fresh process needs the same:
    ``kcnn.models.resnet_cifar.allow_graph_depth(5000)``."""
    needed = int(num_layers) + 1000
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(needed)


@family_builder
def resnet_cifar(
    depth: int = 20,
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name=None,
    shortcut="A",
    attention=None,
    last_gamma_init=1.0,
):
    """CIFAR ResNet of ``depth`` = 6n+2 (the paper's 20 ... 1202 or any other n); every
    variant is one line over it.

    keras.applications' arguments: ``include_top``, ``weights`` (None or a ``.weights.h5``
    path; no ImageNet weights), ``input_tensor``, ``input_shape`` (default 32x32x3, at least
    4x4), ``pooling``, ``classes`` (default 10), ``classifier_activation``, ``name``.

    Knobs: ``shortcut``: the paper's option "A" (default, parameter-free), "B" or "C";
    ``attention``: None or "se" (SE blocks, not in this paper); ``last_gamma_init``: the
    initial gamma of each residual branch's last BN (1 in the paper; see
    :func:`resnet1202`).
    """
    plan = _plan(depth)
    allow_graph_depth(8 * len(plan))  # 7 layers per block on the longest path
    endpoints = {}

    def features(x):
        x = conv_bn_act(x, STAGE_FILTERS[0], 3, activation=None, name="conv1")
        x = layers.Activation("relu", name="conv1_relu")(x)
        stride = 1
        for stage, block_name, strides in plan:
            x = residual_basic(
                x,
                STAGE_FILTERS[stage],
                strides=strides,
                shortcut=shortcut,
                attention=attention,
                last_gamma_init=last_gamma_init,
                name=block_name,
            )
            stride *= strides
            tap(endpoints, x, stride)
        return x

    return build_classifier(
        name=name or f"resnet{depth}",
        features=features,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_shape=(32, 32, 3),
        min_size=4,
        endpoints=endpoints,
    )


def _rounded(millions: str) -> dict:
    """A count published rounded to ``millions`` (e.g. "0.27"): the value and half a unit of its last digit."""
    decimals = len(millions.partition(".")[2])
    value = float(millions) * 1e6
    return dict(params=round(value), params_tolerance=0.5 * 10 ** (6 - decimals) / value)


_REG = dict(
    family="resnet_cifar",
    paper=_PAPER,
    input_shape=(32, 32, 3),
    params_convention="trainable",
    params_source="He et al. 2015, Table 6 (option A shortcuts)",
    min_input=(4, 4, 3),
)


@register_model("resnet20", **_REG, **_rounded("0.27"))
def resnet20(**kwargs):
    """ResNet-20 for CIFAR (n=3): 0.27M parameters, 8.75% CIFAR-10 error in the paper."""
    return resnet_cifar(20, **{"name": "resnet20", **kwargs})


@register_model("resnet32", **_REG, **_rounded("0.46"))
def resnet32(**kwargs):
    """ResNet-32 for CIFAR (n=5): 0.46M parameters, 7.51% error."""
    return resnet_cifar(32, **{"name": "resnet32", **kwargs})


@register_model("resnet44", **_REG, **_rounded("0.66"))
def resnet44(**kwargs):
    """ResNet-44 for CIFAR (n=7): 0.66M parameters, 7.17% error."""
    return resnet_cifar(44, **{"name": "resnet44", **kwargs})


@register_model("resnet56", **_REG, **_rounded("0.85"))
def resnet56(**kwargs):
    """ResNet-56 for CIFAR (n=9): 0.85M parameters, 6.97% error."""
    return resnet_cifar(56, **{"name": "resnet56", **kwargs})


@register_model("resnet110", **_REG, **_rounded("1.7"))
def resnet110(**kwargs):
    """ResNet-110 for CIFAR (n=18): 1.7M parameters, 6.43% error."""
    return resnet_cifar(110, **{"name": "resnet110", **kwargs})


# "heavy": ~4,200 layers deep; Keras' graph trace of its training step dominates the zoo harness.
@register_model("resnet1202", **_REG, **_rounded("19.4"), tags=("heavy",))
def resnet1202(**kwargs):
    """ResNet-1202 for CIFAR (n=200): 19.4M parameters, 7.93% error (overfits, per the paper).

    Deviation: each residual branch's last BN starts at gamma 0.1, not the paper's 1.
    With gamma 1, an untrained network in inference mode (BN moving statistics still
    0 and 1) overflows float32: each of the 600 blocks multiplies the activations' RMS
    by about 1.5. Training-mode BN hides this, so the paper trains at gamma 1; pass
    ``last_gamma_init=1.0`` for the paper's initialisation."""
    return resnet_cifar(1202, **{"last_gamma_init": 0.1, "name": "resnet1202", **kwargs})
