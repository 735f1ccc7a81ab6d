"""Optimizers by name: Keras' own, with weight decay, gradient clipping and weight averaging."""

from __future__ import annotations

import keras

from kcnn.training.config import OPTIMIZERS

__all__ = ["OPTIMIZERS", "make_optimizer", "NO_DECAY"]

NO_DECAY = ("bias", "gamma", "beta")  # variable names weight decay skips: biases and normalization


def make_optimizer(
    name: str,
    learning_rate,
    *,
    momentum: float = 0.9,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    clipnorm: float | None = None,
    ema_momentum: float | None = None,
) -> keras.optimizers.Optimizer:
    """``sgd`` (momentum, Nesterov), ``adam``, ``adamw`` or ``rmsprop``.

    ``weight_decay`` is Keras' decoupled decay (``w -= lr * wd * w``; for plain SGD the
    same as an L2 penalty of wd/2), skipping biases and BatchNorm; ``clipnorm`` clips the
    global gradient norm; ``ema_momentum`` keeps an exponential moving average of the weights.
    """
    common = dict(
        weight_decay=weight_decay or None,
        global_clipnorm=clipnorm,
        use_ema=ema_momentum is not None,
        ema_momentum=ema_momentum if ema_momentum is not None else 0.99,
    )
    if name == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate, momentum=momentum, nesterov=nesterov, **common)
    elif name == "adam":
        optimizer = keras.optimizers.Adam(learning_rate, **common)
    elif name == "adamw":
        optimizer = keras.optimizers.AdamW(learning_rate, **{**common, "weight_decay": weight_decay or 0.004})
    elif name == "rmsprop":
        optimizer = keras.optimizers.RMSprop(learning_rate, momentum=momentum, **common)
    else:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {name!r}")
    if weight_decay or name == "adamw":
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer
