"""Dilated backbones, run through tools/benchmark.py (``--mode=atrous``).

One training step (forward and gradient, eager) of a ResNet or VGG backbone at output stride
8, its dilated 3x3 convolutions built as the builder builds them (kcnn.layers.AtrousConv2D)
against the same network with plain ``keras.layers.Conv2D`` (TensorFlow's CPU gradient of a
dilated Conv2D is the slow path AtrousConv2D avoids); same weights, taken in turns, median
of ``--repeats`` after a warm-up step each.
"""

from __future__ import annotations

import statistics
import time


def atrous(flags, machine: str) -> None:
    import keras
    import numpy as np

    import kcnn.blocks.conv as conv
    from kcnn.models.backbone import OUTPUT_STRIDE_FAMILIES, backbone
    from kcnn.registry import model_info

    name = flags.model if model_info(flags.model).family in OUTPUT_STRIDE_FAMILIES else "resnet50"
    side = int(flags.image_size[0]) if flags.image_size else 64
    kwargs = dict(stride_on="3x3", use_bias=False) if model_info(name).family == "resnet" else {}

    def build(atrous: bool) -> keras.Model:
        original = conv.conv_class
        if not atrous:
            conv.conv_class = lambda dilation_rate=1: keras.layers.Conv2D
        try:
            features = backbone(name, input_shape=(side, side, 3), output_stride=8, **kwargs)
        finally:
            conv.conv_class = original
        return keras.Model(features.input, features.output["P5"])

    models = {"AtrousConv2D": build(True), "Conv2D": build(False)}
    for layer in models["AtrousConv2D"].layers:
        if layer.weights:
            models["Conv2D"].get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).normal(size=(flags.batch_size, side, side, 3)).astype("float32")
    import tensorflow as tf  # the benchmark measures TensorFlow's kernels

    def step(model):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True)))
        return [g.numpy() for g in tape.gradient(loss, model.trainable_weights)]

    times = {kind: [] for kind in models}
    for model in models.values():
        step(model)  # warm-up
    for _ in range(flags.repeats):
        for kind, model in models.items():
            tic = time.perf_counter()
            step(model)
            times[kind].append(time.perf_counter() - tic)
    dilated = sum(
        isinstance(layer, keras.layers.Conv2D) and max(layer.dilation_rate) > 1 for layer in models["Conv2D"].layers
    )
    print(f"{name} at output stride 8, {side}x{side}, batch {flags.batch_size}: one eager training step")
    print(f"  {machine}; {dilated} dilated 3x3 convolutions; median of {flags.repeats}, taken in turns")
    print("| dilated convolution as | step (s) |")
    print("|---|---:|")
    for kind, values in times.items():
        print(f"| {kind} | {statistics.median(values):.2f} |")
