"""Functional building blocks ``x -> x`` with a ``name`` prefix; layer names are API.

Backend-agnostic: keras.layers and keras.ops only.
"""

from kcnn.blocks.attention import ATTENTIONS, apply_attention, squeeze_excite
from kcnn.blocks.conv import BN_EPSILON, conv_bn_act
from kcnn.blocks.mobile import (
    depthwise_separable_conv, inverted_residual, make_divisible, mbconv, stochastic_depth, stride2_padding,
)  # fmt: skip

__all__ = [
    "ATTENTIONS", "BN_EPSILON", "apply_attention", "conv_bn_act", "depthwise_separable_conv", "inverted_residual",
    "make_divisible", "mbconv", "squeeze_excite", "stochastic_depth", "stride2_padding",
]
