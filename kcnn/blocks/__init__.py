"""Functional building blocks ``x -> x`` with a ``name`` prefix; layer names are API.

Backend-agnostic: keras.layers and keras.ops only.
"""

from kcnn.blocks.attention import ATTENTIONS, apply_attention, squeeze_excite
from kcnn.blocks.conv import BN_EPSILON, conv_bn_act
from kcnn.blocks.dense import dense_block, dense_layer, dense_transition
from kcnn.blocks.residual import (
    SHORTCUTS,
    residual_basic,
    residual_bottleneck,
    residual_preact_bottleneck,
    residual_shortcut,
)

__all__ = [
    "ATTENTIONS", "BN_EPSILON", "SHORTCUTS", "apply_attention", "conv_bn_act", "dense_block", "dense_layer",
    "dense_transition", "residual_basic", "residual_bottleneck", "residual_preact_bottleneck",
    "residual_shortcut", "squeeze_excite",
]  # fmt: skip
