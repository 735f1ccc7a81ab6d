"""Channel attention, pluggable into residual and mobile blocks through one helper.

``attention`` is ``None`` (no attention), ``"se"`` (squeeze-and-excitation) or a callable
``f(x, name=...) -> x`` that keeps the shape of ``x`` (e.g. a user's CBAM), given the name
prefix ``{block}_attention``.
"""

from __future__ import annotations

from keras import layers

__all__ = ["ATTENTIONS", "apply_attention", "check_attention", "squeeze_excite"]

ATTENTIONS = (None, "se")  # and any callable f(x, name=...) -> x


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


def check_attention(attention) -> None:
    """One-line ValueError unless ``attention`` is None, "se" or a callable."""
    if not (attention in ATTENTIONS or callable(attention)):
        raise ValueError(f"attention must be None, 'se' or a callable; Received: attention={attention!r}")


def apply_attention(x, attention, *, reduced_filters: int | None = None, activation="relu", name: str):
    """Apply ``attention`` to ``x`` inside block ``name``.

    "se": :func:`squeeze_excite` to ``reduced_filters`` channels (default: SENet's reduction
    16, ``max(1, channels // 16)``) with ``activation`` and a sigmoid gate, layers
    ``{name}_se_*``; a callable is called as ``attention(x, name=f"{name}_attention")``.
    """
    check_attention(attention)
    if attention is None:
        return x
    if attention == "se":
        reduced = reduced_filters or max(1, x.shape[-1] // 16)
        return squeeze_excite(x, reduced, activation=activation, name=f"{name}_se")
    return attention(x, name=f"{name}_attention")
