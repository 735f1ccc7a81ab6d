"""Channel attention, pluggable into residual and mobile blocks (``attention="se"``)."""

from __future__ import annotations

from keras import layers

__all__ = ["squeeze_excite", "apply_attention", "ATTENTIONS"]


def squeeze_excite(x, reduced_filters: int, *, activation="relu", gate="sigmoid", name: str):
    """Squeeze-and-excitation (Hu et al. 2018): global average pool, a 1x1 bottleneck to
    ``reduced_filters``, a 1x1 expansion with a ``gate``, and channel-wise rescaling.

    The two fully connected layers are 1x1 convolutions with bias, as in the reference
    SENet and EfficientNet code (the same parameters as dense layers). Layers:
    ``{name}_squeeze``, ``{name}_reshape``, ``{name}_reduce``, ``{name}_expand``, ``{name}_excite``.
    """
    filters = x.shape[-1]
    se = layers.GlobalAveragePooling2D(name=f"{name}_squeeze")(x)
    se = layers.Reshape((1, 1, filters), name=f"{name}_reshape")(se)
    se = layers.Conv2D(reduced_filters, 1, activation=activation, name=f"{name}_reduce")(se)
    se = layers.Conv2D(filters, 1, activation=gate, name=f"{name}_expand")(se)
    return layers.Multiply(name=f"{name}_excite")([x, se])


ATTENTIONS = (None, "se")


def apply_attention(x, attention, *, reduction: int = 16, name: str):
    """Apply the attention named by ``attention`` (None or "se") with the SENet reduction ratio."""
    if attention is None:
        return x
    if attention == "se":
        return squeeze_excite(x, max(1, x.shape[-1] // reduction), name=f"{name}_se")
    raise ValueError(f"attention must be one of {ATTENTIONS}; Received: attention={attention!r}")
