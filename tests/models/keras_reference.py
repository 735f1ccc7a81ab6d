"""Helpers comparing kcnn models with their keras.applications counterparts, offline
(keras.applications built with weights=None; nothing is downloaded)."""

import keras
import numpy as np
from keras import layers


def randomize_statistics(model: keras.Model, seed: int = 0) -> None:
    """Give every BatchNorm and Normalization non-trivial values (their initial ones would hide
    a transfer that skips non-trainable weights)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n), rng.normal(0, 0.1, n), rng.uniform(0.5, 1.5, n)]
            )
        elif isinstance(layer, layers.Normalization):
            mean, var, count = layer.get_weights()
            layer.set_weights([rng.uniform(0.3, 0.6, mean.shape), rng.uniform(0.2, 0.3, var.shape), count])
            layer.finalize_state()


def weighted_layer_shapes(model: keras.Model) -> dict:
    return {layer.name: [tuple(w.shape) for w in layer.weights] for layer in model.layers if layer.weights}


def predict(model: keras.Model, x) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False))


def assert_same_outputs(a: keras.Model, b: keras.Model, x, atol: float = 1e-5) -> None:
    ya, yb = predict(a, x), predict(b, x)
    assert ya.shape == yb.shape
    assert np.abs(ya).max() > 0
    np.testing.assert_allclose(ya, yb, rtol=1e-5, atol=atol)
