"""Segmentation throughput, run through tools/benchmark.py (``--mode=segmentation``).

For each segmentation preset (its network and widths, batch size and optimizer), on real
fashion_scenes canvases held in memory:

* training images/s of kcnn-train's loop (kcnn.training.loop.TrainLoop with the per-pixel
  Segmentation task, ``--steps_per_execution`` steps per graph call) against Keras ``fit``
  with ``SparseCategoricalCrossentropy`` on the same architecture, optimizer and batches,
  both without XLA (kcnn-train's default ``train.jit_compile=False``), and ``fit`` with Keras'
  default ``jit_compile="auto"`` (XLA on this CPU) for reference; taken in turns, median of
  ``--repeats`` runs of ``--steps`` steps after a warm-up;
* inference images/s (a ``tf.function`` call on batches of the preset's size);
* the float32 TFLite file's batch-1 latency per image, as kcnn-export writes and measures it
  (kcnn.export.tflite, kcnn.export.verify), beside the Keras serving model's batch-1 latency
  and the largest probability difference between the two on 32 canvases.
"""

from __future__ import annotations

import statistics
import tempfile
import time

PRESETS = ("fcn8s_fashion_scenes", "unet_fashion_scenes", "segnet_fashion_scenes", "deeplabv3plus_fashion_scenes")


def segmentation(flags, machine: str) -> None:
    import numpy as np

    from kcnn import data as kdata

    raw, info = kdata.load("fashion_scenes", "train[:1024]", with_info=True)
    images, masks = (np.stack(a) for a in zip(*raw.as_numpy_iterator()))
    print(
        f"fashion_scenes 64x64 (1,024 canvases in memory), {flags.steps} steps x {flags.repeats} (median, in turns "
        f"after a warm-up); loop: {flags.steps_per_execution[-1]} steps per graph call; {machine}"
    )
    print(
        "preset | model | params | batch | fit train images/s | loop train images/s (x fit) | fit with XLA (x fit) | "
        "inference images/s | Keras batch-1 ms | TFLite float32 batch-1 ms | TFLite max abs diff"
    )
    for preset in flags.presets or PRESETS:
        print(_measure(preset, images, masks, info.num_classes, flags), flush=True)


def _measure(preset: str, images, masks, classes: int, flags) -> str:
    """One preset's table row."""
    import keras
    import numpy as np
    import tensorflow as tf

    import kcnn
    from kcnn.export import Preprocessing, load_artifact, serving_model, verify
    from kcnn.export.formats import FORMATS
    from kcnn.export.tflite import write_tflite
    from kcnn.training.loop import TrainLoop
    from kcnn.training.presets import load_preset
    from kcnn.training.tasks import Segmentation

    config = load_preset(preset)
    b, channels = config.train.batch_size, config.data.channels or 1
    x = np.repeat(images, channels, axis=-1).astype(np.float32)

    def build(**compile_kwargs):  # 0..255 pixels in, scaled inside the model as kcnn-train's Normalization does
        keras.utils.set_random_seed(0)
        image = keras.Input((64, 64, channels))
        model = kcnn.create_model(
            config.model.name,
            input_tensor=keras.layers.Rescaling(1 / 255)(image),
            classes=classes,
            **config.model.kwargs,
        )
        optimizer = keras.optimizers.get(config.train.optimizer)
        if compile_kwargs:
            model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(), **compile_kwargs)
        return model, optimizer

    def batches():
        return tf.data.Dataset.from_tensor_slices((x, masks)).batch(b, drop_remainder=True).cache().repeat()

    fit_model, _ = build(jit_compile=False)
    xla_model, _ = build(jit_compile="auto")  # Keras' default: XLA on this CPU
    loop_model, loop_opt = build()
    loop_opt.build(loop_model.trainable_variables)
    loop = TrainLoop(
        loop_model,
        loop_opt,
        None,
        strategy=tf.distribute.get_strategy(),
        num_classes=classes,
        global_batch_size=b,
        steps_per_execution=int(flags.steps_per_execution[-1]),
        task=Segmentation("cross_entropy", classes),
    )
    runners = {
        "fit": lambda: fit_model.fit(batches(), steps_per_epoch=flags.steps, epochs=1, verbose=0),
        "fit_xla": lambda: xla_model.fit(batches(), steps_per_epoch=flags.steps, epochs=1, verbose=0),
        "loop": lambda: loop.train_epoch(loop.distribute(lambda _bs: batches()), flags.steps),
    }
    for run in runners.values():  # trace and warm up
        run()
    rates = {name: [] for name in runners}
    for _ in range(flags.repeats):
        for name, run in runners.items():
            tic = time.perf_counter()
            run()
            rates[name].append(flags.steps * b / (time.perf_counter() - tic))
    fit, xla, looped = (statistics.median(rates[k]) for k in ("fit", "fit_xla", "loop"))

    call = tf.function(lambda t: fit_model(t, training=False))
    batch = tf.constant(x[:b])
    call(batch)
    seconds = []
    for _ in range(flags.repeats):
        tic = time.perf_counter()
        for _ in range(10):
            call(batch).numpy()
        seconds.append(time.perf_counter() - tic)
    inference = 10 * b / statistics.median(seconds)

    sample = np.repeat(images[:32], channels, axis=-1)
    prep = Preprocessing.for_model(fit_model)
    reference = verify.keras_reference(serving_model(fit_model, prep), sample, latency_runs=50)
    with tempfile.TemporaryDirectory() as tmp:
        write_tflite(fit_model, f"{tmp}/model.tflite", FORMATS["float32"], prep)
        lite = verify.measure(load_artifact(f"{tmp}/model.tflite"), reference, sample, latency_runs=50)
    params = fit_model.count_params()
    keras.backend.clear_session()
    return (
        f"{preset} | {config.model.name} | {params:,} | {b} | {fit:.1f} | {looped:.1f} ({looped / fit:.2f}) | "
        f"{xla:.1f} ({xla / fit:.2f}) | {inference:.1f} | {reference['latency_ms']:.2f} | {lite['latency_ms']:.2f} | "
        f"{lite['max_abs_diff']:.1e}"
    )
