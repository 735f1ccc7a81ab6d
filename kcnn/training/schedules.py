"""Learning-rate schedules by name, over optimizer steps.

* ``constant``
* ``step``     piecewise constant: multiply by ``decay_factor`` at each boundary epoch
               (the ResNet paper's lr/10 at 32k and 48k iterations); ``warmup_epochs`` first
               runs at lr/10 (the paper's ResNet-110 warmup)
* ``cosine``   cosine decay to zero, after ``warmup_epochs`` of linear warmup
* ``onecycle`` Smith & Topin's one-cycle: cosine up from lr/25 to lr over the first 30%,
               then cosine down to lr/1e4
Keras' own schedules are used where Keras has them; one-cycle is written here.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kcnn.training.config import SCHEDULES

__all__ = ["SCHEDULES", "make_schedule", "OneCycle"]


@keras.saving.register_keras_serializable(package="kcnn")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """One-cycle policy (Smith & Topin 2017) with cosine annealing in both phases."""

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
    ):
        self.max_lr = float(max_lr)
        self.total_steps = int(total_steps)
        self.pct_start = float(pct_start)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        up = max(1.0, self.pct_start * self.total_steps)
        down = max(1.0, self.total_steps - up)
        start, end = self.max_lr / self.div_factor, self.max_lr / self.final_div_factor

        def anneal(a, b, fraction):
            fraction = ops.clip(fraction, 0.0, 1.0)
            return b + (a - b) * 0.5 * (1.0 + ops.cos(math.pi * fraction))

        return ops.where(step < up, anneal(start, self.max_lr, step / up), anneal(self.max_lr, end, (step - up) / down))

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }


def make_schedule(
    name: str,
    learning_rate: float,
    *,
    steps_per_epoch: int,
    epochs: int,
    boundaries=(),
    decay_factor: float = 0.1,
    warmup_epochs: float = 0.0,
):
    """A Keras learning-rate (schedule) for ``name``; the float itself for ``constant``.

    The values are checked by ``ExperimentConfig.validate`` (boundaries inside the run, ...).
    """
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {name!r}")
    total = steps_per_epoch * epochs
    if name == "constant":
        return learning_rate
    if name == "step":
        steps = [int(round(float(b) * steps_per_epoch)) for b in boundaries]
        values = [learning_rate * decay_factor**i for i in range(len(steps) + 1)]
        if warmup_epochs:  # He et al.'s ResNet-110 warmup: lr/10 until the network starts converging
            steps, values = [int(round(warmup_epochs * steps_per_epoch)), *steps], [learning_rate * 0.1, *values]
        return keras.optimizers.schedules.PiecewiseConstantDecay(steps, values)
    if name == "cosine":
        warmup = int(round(warmup_epochs * steps_per_epoch))
        if warmup:
            return keras.optimizers.schedules.CosineDecay(
                0.0, decay_steps=max(1, total - warmup), warmup_target=learning_rate, warmup_steps=warmup
            )
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total)
    return OneCycle(learning_rate, total)
