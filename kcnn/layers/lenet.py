"""The pieces of LeCun et al. 1998 (LeNet-5) that Keras lacks.

* ``scaled_tanh`` - the squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3.
* ``FanInUniform`` - the paper's initialization, uniform in [-2.4/F, 2.4/F], F = fan-in.
* ``Subsampling2D`` - S2/S4: the sum of each 2x2 window times one trainable coefficient
  per map plus one trainable bias per map.
* ``ConnectionTableConv2D`` - C3: a convolution in which each output map sees only the
  input maps its connection table lists (Table I of the paper).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["scaled_tanh", "FanInUniform", "Subsampling2D", "ConnectionTableConv2D", "LENET5_C3_TABLE"]

# Table I of LeCun et al. 1998: the S2 maps (0..5) each C3 map (0..15) is connected to.
LENET5_C3_TABLE = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (0, 4, 5),
    (0, 1, 5),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (0, 3, 4, 5),
    (0, 1, 4, 5),
    (0, 1, 2, 5),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


@keras.saving.register_keras_serializable(package="kcnn")
def scaled_tanh(x):
    """LeNet-5's sigmoid: 1.7159 * tanh(2x/3), so that f(1) = 1 and f(-1) = -1."""
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


def _fan_in(shape) -> int:
    return int(np.prod(shape[:-1])) if len(shape) > 1 else int(shape[0])


@keras.saving.register_keras_serializable(package="kcnn")
class FanInUniform(keras.initializers.Initializer):
    """Uniform in [-scale/F, scale/F] with F the fan-in (LeCun et al. 1998 use scale 2.4).

    ``fan_in`` overrides the fan-in read off the shape (for layers whose shape does not show it).
    """

    def __init__(self, scale: float = 2.4, fan_in: int | None = None, seed=None):
        self.scale = scale
        self.fan_in = fan_in
        self.seed = seed
        self._rng = keras.random.SeedGenerator(seed) if seed is not None else None

    def __call__(self, shape, dtype=None):
        limit = self.scale / (self.fan_in or _fan_in(shape))
        return keras.random.uniform(shape, -limit, limit, dtype=dtype, seed=self._rng)

    def get_config(self):
        return {"scale": self.scale, "fan_in": self.fan_in, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kcnn")
class Subsampling2D(keras.layers.Layer):
    """LeNet-5's trainable subsampling: ``coefficient[c] * sum(window) + bias[c]``, then ``activation``.

    Two parameters per feature map. The coefficient is initialised as the paper's other
    weights, uniform in +-2.4/F with F = the window size.
    """

    def __init__(self, pool_size: int = 2, activation=None, coefficient_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.activation = keras.activations.get(activation)
        self.coefficient_initializer = keras.initializers.get(
            coefficient_initializer or FanInUniform(fan_in=self.pool_size**2)
        )

    def build(self, input_shape):
        channels = input_shape[-1]
        self.coefficient = self.add_weight(
            shape=(channels,), initializer=self.coefficient_initializer, name="coefficient"
        )
        self.bias = self.add_weight(shape=(channels,), initializer="zeros", name="bias")

    def call(self, x):
        p = self.pool_size
        window_sum = ops.average_pool(x, p, strides=p, padding="valid") * float(p * p)
        return self.activation(window_sum * self.coefficient + self.bias)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        p = self.pool_size
        return (n, None if h is None else h // p, None if w is None else w // p, c)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "activation": keras.activations.serialize(self.activation),
            "coefficient_initializer": keras.initializers.serialize(self.coefficient_initializer),
        }


@keras.saving.register_keras_serializable(package="kcnn")
class ConnectionTableConv2D(keras.layers.Layer):
    """A 'valid' convolution where output map j sees only the input maps ``table[j]``.

    Only the connected kernels are weights (LeNet-5's C3: 60 connections of 5x5, 1,516
    parameters instead of 2,416). The full kernel is assembled in ``call`` by one matmul
    with a constant 0/1 scatter matrix, so any backend runs it as a single convolution.
    Default initialization is the paper's, per output map: uniform in +-2.4/F with
    F = kernel area x number of connected input maps.
    """

    def __init__(self, table, kernel_size: int = 5, activation=None, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.table = tuple(tuple(int(i) for i in row) for row in table)
        self.filters = len(self.table)
        self.kernel_size = int(kernel_size)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer) if kernel_initializer else None

    def build(self, input_shape):
        in_maps = input_shape[-1]
        if max(max(row) for row in self.table) >= in_maps:
            raise ValueError(
                f"{self.name}: connection table refers to input map {max(max(r) for r in self.table)}, "
                f"but the input has {in_maps} maps"
            )
        pairs = [(i, j) for j, row in enumerate(self.table) for i in row]
        scatter = np.zeros((len(pairs), in_maps * self.filters), dtype="float32")
        for n, (i, j) in enumerate(pairs):
            scatter[n, i * self.filters + j] = 1.0
        self._scatter = scatter
        self._in_maps = in_maps
        area = self.kernel_size**2
        limits = np.array([2.4 / (area * len(self.table[j])) for _, j in pairs], dtype="float32")
        init = self.kernel_initializer or (
            lambda shape, dtype=None: keras.random.uniform(shape, -1.0, 1.0, dtype=dtype) * limits
        )
        self.kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, len(pairs)), initializer=init, name="kernel"
        )
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def call(self, x):
        k = self.kernel_size
        compact = ops.reshape(self.kernel, (k * k, -1))
        scatter = ops.convert_to_tensor(self._scatter, dtype=compact.dtype)
        full = ops.reshape(ops.matmul(compact, scatter), (k, k, self._in_maps, self.filters))
        return self.activation(ops.conv(x, full, strides=1, padding="valid") + self.bias)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        k = self.kernel_size - 1
        return (n, None if h is None else h - k, None if w is None else w - k, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "table": [list(r) for r in self.table],
            "kernel_size": self.kernel_size,
            "activation": keras.activations.serialize(self.activation),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)
            if self.kernel_initializer
            else None,
        }
