"""Functional building blocks ``x -> x`` with a ``name`` prefix; layer names are API.

One vocabulary, as Keras names things: ``filters``, ``kernel_size``, ``strides``,
``expansion`` (a bottleneck's output multiple in residual blocks, the expanded channels'
multiple in mobile blocks), ``attention`` = None, "se" or a callable through
:func:`apply_attention`. ``fc_act`` is a fully connected layer; ``dense_*`` are DenseNet's
dense blocks. Backend-agnostic: keras.layers and keras.ops only.
"""

from kcnn.blocks.attention import ATTENTIONS, apply_attention, check_attention, squeeze_excite
from kcnn.blocks.conv import BN_EPSILON, conv_bn_act
from kcnn.blocks.dense import dense_block, dense_layer, dense_transition
from kcnn.blocks.inception import inception_module
from kcnn.blocks.mobile import (
    depthwise_separable_conv,
    inverted_residual,
    make_divisible,
    mbconv,
    stochastic_depth,
    stride2_padding,
)
from kcnn.blocks.plain import ACTIVATIONS, KERNEL_INITIALIZERS, conv_act, fc_act
from kcnn.blocks.residual import (
    SHORTCUTS,
    residual_basic,
    residual_bottleneck,
    residual_preact_bottleneck,
    residual_shortcut,
)

__all__ = [
    "ACTIVATIONS",
    "ATTENTIONS",
    "BN_EPSILON",
    "KERNEL_INITIALIZERS",
    "SHORTCUTS",
    "apply_attention",
    "check_attention",
    "conv_act",
    "conv_bn_act",
    "dense_block",
    "dense_layer",
    "dense_transition",
    "depthwise_separable_conv",
    "fc_act",
    "inception_module",
    "inverted_residual",
    "make_divisible",
    "mbconv",
    "residual_basic",
    "residual_bottleneck",
    "residual_preact_bottleneck",
    "residual_shortcut",
    "squeeze_excite",
    "stochastic_depth",
    "stride2_padding",
]
