"""Weight constraints from the papers.

* ``MaxFilterRMS`` - Zeiler & Fergus 2013 (ZFNet, §3): "we renormalize each filter in the
  convolutional layers whose RMS value exceeds a fixed radius of 10^-1 to this fixed radius".
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["MaxFilterRMS"]


@keras.saving.register_keras_serializable(package="kcnn")
class MaxFilterRMS(keras.constraints.Constraint):
    """Rescale every filter (the last axis of a kernel) whose RMS exceeds ``radius`` to RMS ``radius``.

    The RMS is taken over a filter's kh x kw x in_channels weights. Keras applies the
    constraint after each optimizer update, as the paper renormalizes after each step.
    """

    def __init__(self, radius: float = 0.1):
        if not radius > 0:
            raise ValueError(f"MaxFilterRMS: radius must be positive; Received: radius={radius!r}")
        self.radius = float(radius)

    def __call__(self, w):
        axes = tuple(range(len(w.shape) - 1))
        rms = ops.sqrt(ops.mean(ops.square(w), axis=axes, keepdims=True))
        return w * ops.minimum(1.0, self.radius / ops.maximum(rms, 1e-12))

    def get_config(self):
        return {"radius": self.radius}
