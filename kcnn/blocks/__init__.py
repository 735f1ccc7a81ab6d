"""Functional building blocks ``x -> x`` with a ``name`` prefix; layer names are API.

Backend-agnostic: keras.layers and keras.ops only.
"""

from kcnn.blocks.attention import ATTENTIONS, apply_attention, squeeze_excite
from kcnn.blocks.conv import BN_EPSILON, conv_bn_act

__all__ = ["ATTENTIONS", "BN_EPSILON", "apply_attention", "conv_bn_act", "squeeze_excite"]
