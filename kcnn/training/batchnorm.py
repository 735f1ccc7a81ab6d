"""BatchNorm statistics that match inference: recomputed with the weights fixed.

A BatchNormalization layer trains on each batch's statistics and keeps a moving
average of them for inference. Downstream of a first BN layer, the training-mode
inputs carry the noise of the upstream batch statistics, which inference does not
have; where few values per channel form a batch statistic (small batches, or feature
maps of 2x2 or 4x4 pixels deep in a network) the moving variances come out too large,
inference activations shrink layer after layer, and the model predicts worse in
inference than in training (Wu & Johnson 2021, "Rethinking 'Batch' in BatchNorm",
section 5: train-test inconsistency). Measured in kcnn: FCN-16s over MobileNet v1 on
64x64 scenes (27 BN layers, 2x2 maps at the end) scored all background in inference
while its training-mode predictions beat that.

:func:`recompute_batch_norm` replaces every BN layer's moving mean and variance by the
population statistics of its inputs *in inference mode*: the model runs eagerly over
the images, and each BN layer, reached in order, first adds the batch to its running
sums and then normalizes with them, so every layer sees inputs its (already
recomputed) upstream layers produce as they will at inference. Backend-agnostic
(keras.ops); nested models included.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np

__all__ = ["batch_norm_layers", "recompute_batch_norm"]


def batch_norm_layers(model: keras.Model) -> list:
    """Every ``keras.layers.BatchNormalization`` in ``model``, nested models included."""
    return [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]


class _Sums:
    """Running per-channel sums of one BN layer's inputs (float64 on the host)."""

    def __init__(self, layer):
        self.layer = layer
        self.count = 0
        self.total = self.squares = 0.0

    def add(self, inputs):
        x = keras.ops.cast(inputs, "float32")
        axis = self.layer.axis if self.layer.axis >= 0 else len(x.shape) + self.layer.axis
        reduce = tuple(i for i in range(len(x.shape)) if i != axis)
        n = int(np.prod([x.shape[i] for i in reduce]))
        self.total = self.total + keras.ops.convert_to_numpy(keras.ops.sum(x, axis=reduce)).astype(np.float64)
        self.squares = self.squares + keras.ops.convert_to_numpy(keras.ops.sum(x * x, axis=reduce)).astype(np.float64)
        self.count += n
        mean = self.total / self.count
        variance = np.maximum(self.squares / self.count - mean * mean, 0.0)
        self.layer.moving_mean.assign(mean.astype(self.layer.moving_mean.dtype))
        self.layer.moving_variance.assign(variance.astype(self.layer.moving_variance.dtype))


@contextlib.contextmanager
def _recording(layers):
    """Each layer's ``call`` first records its inputs, then normalizes in inference mode."""
    patched = []
    try:
        for layer in layers:
            sums, call = _Sums(layer), layer.call

            def recording_call(inputs, training=None, mask=None, _sums=sums, _call=call):
                _sums.add(inputs)
                return _call(inputs, training=False, mask=mask)

            layer.call = recording_call
            patched.append(layer)
        yield
    finally:
        for layer in patched:
            del layer.call  # the class's call again


def recompute_batch_norm(model: keras.Model, batches) -> int:
    """Set every BN layer's moving statistics to its inputs' population statistics over
    ``batches`` (an iterable of image batches, or of ``(images, labels)``), in inference mode.

    Returns the number of images seen; a model without BN layers is left alone (0). The
    batches should come from the training distribution without augmentation.
    """
    layers = [layer for layer in batch_norm_layers(model) if layer.built]
    if not layers:
        return 0
    images = 0
    with _recording(layers):
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x, training=False)
            images += int(x.shape[0])
    if images == 0:
        raise ValueError("no images to recompute the BatchNorm statistics with")
    return images
