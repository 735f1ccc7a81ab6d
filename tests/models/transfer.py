"""Offline checks of ImageNet weight transfer from keras.applications (no downloads)."""

import keras
import numpy as np

from kcnn.models.imagenet import ImagenetSource, transfer_weights


def randomize(model: keras.Model, seed: int = 0) -> None:
    """Give every weight a distinct random value (BN statistics and biases too), so an
    equality of outputs cannot come from default initial values."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape
            layer.set_weights(
                [rng.uniform(0.5, 1.0, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c), rng.uniform(1.0, 2.0, c)]
            )
        elif layer.weights:
            layer.set_weights([w if w.ndim > 1 else rng.normal(0, 0.1, w.shape) for w in layer.get_weights()])


def assert_transfer_reproduces(application: str, target: keras.Model, *, include_top: bool, compare: bool = True):
    """Build ``keras.applications.<application>`` at ``target``'s input with random weights,
    transfer them into ``target`` and (``compare``) assert the same outputs."""
    source = ImagenetSource(application).source_model(
        include_top=include_top, input_shape=target.input_shape[1:], weights=None
    )
    randomize(source)
    copied = transfer_weights(source, target)
    assert copied == len([layer for layer in target.layers if layer.weights])
    if compare:
        x = np.random.default_rng(1).uniform(-1, 1, (2, *target.input_shape[1:])).astype("float32")
        want = keras.ops.convert_to_numpy(source(x, training=False))
        got = keras.ops.convert_to_numpy(target(x, training=False))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(want).max())))
