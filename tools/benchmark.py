"""Throughput benchmarks (figures go to README.md / experiments/RESULTS.md, never into tests).

  # kcnn's input pipeline vs the same model fed from pre-batched in-memory tensors
  python tools/benchmark.py --model=lenet5_modern --dataset=fashion_mnist

  # training and inference images/s of any registered model on synthetic data
  python tools/benchmark.py --model=resnet20 --batch_size=128 --precision=float32
  KERAS_BACKEND=torch python tools/benchmark.py --model=resnet50 --batch_size=32

  # kcnn-train's loop against Keras fit, same model and data, batch 32 and 128, taken in turns
  python tools/benchmark.py --mode=loop --model=lenet5_modern --dataset=fashion_mnist

  # make_pipeline alone (no model): images/s of whole training epochs with the CIFAR recipe
  python tools/benchmark.py --mode=pipeline --augment=flip,crop:4 --image_size=32,32
  python tools/benchmark.py --mode=pipeline --augment=flip,crop:4 --image_size=32,32 --dataset=fashion_mnist

  # kcnn.analysis (issue 12): profile time of every registered model; Hessian-vector product cost;
  # im2col against Conv2D
  python tools/benchmark.py --mode=profile [--analysis_models=efficientnetb7,resnet1202]
  python tools/benchmark.py --mode=hessian --model=resnet20 --batch_size=128
  python tools/benchmark.py --mode=im2col

  # segmentation presets on fashion_scenes: the loop against fit, inference, TFLite latency
  python tools/benchmark.py --mode=segmentation --steps=30 [--presets=unet_fashion_scenes]

  # a dilated backbone (output stride 8): AtrousConv2D against plain Conv2D, one training step
  python tools/benchmark.py --mode=atrous --model=resnet50 --batch_size=2 --image_size=64,64 --repeats=3

Training throughput is measured with ``model.fit`` over a fixed number of steps after
a warm-up run that traces and compiles; each figure is the median of ``--repeats``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", "lenet5_modern", "registered model name")
flags.DEFINE_string("dataset", "synthetic", "synthetic, or a dataset for the pipeline-vs-memory comparison")
flags.DEFINE_integer("batch_size", 128, "batch size")
flags.DEFINE_integer("steps", 200, "timed steps per repeat")
flags.DEFINE_integer("repeats", 3, "repeats; the median is reported")
flags.DEFINE_string("precision", "float32", "float32 | mixed_float16 | mixed_bfloat16")
flags.DEFINE_list("image_size", None, "HEIGHT,WIDTH for synthetic data (default: the model's; pipeline mode: 32,32)")
flags.DEFINE_enum(
    "mode",
    "model",
    ["model", "pipeline", "loop", "profile", "hessian", "im2col", "atrous", "segmentation"],
    "model: a model's throughput (see --dataset); pipeline: kcnn.data.make_pipeline alone, no model; "
    "loop: kcnn-train's training loop against Keras fit; "
    "profile / hessian / im2col: kcnn.analysis (see tools/analysis_benchmarks.py); "
    "atrous: a dilated backbone's training step with AtrousConv2D against Conv2D (tools/atrous_benchmark.py); "
    "segmentation: the segmentation presets (tools/segmentation_benchmark.py)",
)
flags.DEFINE_list("steps_per_execution", ["1", "20"], "loop mode: the loop's steps per graph call to compare")
flags.DEFINE_list("analysis_models", None, "profile mode: these models (default: every registered one)")
flags.DEFINE_list("presets", None, "segmentation mode: these presets (default: FCN-8s, U-Net, SegNet, DeepLabv3+)")
flags.DEFINE_list("augment", [], "pipeline mode: augmentations, e.g. flip,crop:4 (the CIFAR recipe)")
flags.DEFINE_integer("num_examples", 50_000, "pipeline mode: synthetic examples per epoch (CIFAR-10's training set)")
FLAGS = flags.FLAGS


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import keras

    return f"{os.cpu_count()} cores, {cpu}; keras {keras.__version__} ({keras.backend.backend()} backend)"


def timed_fits(model, feeds: dict, steps: int, repeats: int, batch_size: int) -> dict:
    """Median training images/s of ``model.fit`` over ``steps`` steps of each ``feeds[name]()``.

    The feeds take turns in every repeat, so a slow spell of the machine (on shared cloud
    CPUs the rate of a whole process can halve for a while) falls on all of them alike."""
    for make_data in feeds.values():  # trace + warm up
        model.fit(make_data(), steps_per_epoch=min(steps, 20), epochs=1, verbose=0, shuffle=False)
    rates = {name: [] for name in feeds}
    for _ in range(repeats):
        for name, make_data in feeds.items():
            data = make_data()
            tic = time.perf_counter()
            model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
            rates[name].append(steps * batch_size / (time.perf_counter() - tic))
    return {name: statistics.median(r) for name, r in rates.items()}


def timed_fit(model, make_data, steps: int, repeats: int, batch_size: int) -> float:
    """Median training images/s of ``model.fit`` over ``steps`` steps of ``make_data()``."""
    return timed_fits(model, {"data": make_data}, steps, repeats, batch_size)["data"]


def compiled(name: str, shape, classes: int):
    import keras

    import kcnn

    model = kcnn.create_model(name, input_shape=shape, classes=classes)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")
    return model


def pipeline_vs_memory() -> None:
    """(a) kcnn.data.make_pipeline over the real dataset vs (b) pre-batched in-memory tensors."""
    import numpy as np
    import tensorflow as tf

    from kcnn import data as kdata

    b = FLAGS.batch_size
    raw, info = kdata.load(FLAGS.dataset, "train", with_info=True)
    model = compiled(FLAGS.model, info.image_shape, info.num_classes)

    def pipeline():
        return kdata.make_pipeline(raw, batch_size=b, training=True, seed=0, repeat=True, drop_remainder=True)

    images, labels = zip(*raw.as_numpy_iterator())
    n = (len(labels) // b) * b
    x = tf.constant(np.stack(images[:n]).astype(np.float32).reshape(-1, b, *info.image_shape))
    y = tf.constant(np.asarray(labels[:n]).reshape(-1, b))

    def memory():
        return tf.data.Dataset.from_tensor_slices((x, y)).repeat()

    rates = timed_fits(model, {"memory": memory, "pipeline": pipeline}, FLAGS.steps, FLAGS.repeats, b)
    rate_memory, rate_pipeline = rates["memory"], rates["pipeline"]
    print(f"{FLAGS.model} on {FLAGS.dataset}, batch {b}, {FLAGS.steps} steps x {FLAGS.repeats} (median); {machine()}")
    print(f"  (a) kcnn pipeline          {rate_pipeline:10.0f} images/s")
    print(f"  (b) pre-batched in memory  {rate_memory:10.0f} images/s")
    print(f"  (a)/(b) = {rate_pipeline / rate_memory:.3f}")


def synthetic_throughput() -> None:
    """Training and inference images/s on synthetic in-memory data."""
    import keras
    import numpy as np
    import tensorflow as tf

    import kcnn

    keras.config.set_dtype_policy(FLAGS.precision)
    info = kcnn.model_info(FLAGS.model)
    shape = info.input_shape
    if FLAGS.image_size:
        shape = (int(FLAGS.image_size[0]), int(FLAGS.image_size[1]), shape[2])
    b = FLAGS.batch_size
    model = compiled(FLAGS.model, shape, 10)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(b, *shape)).astype("float32")
    y = rng.integers(0, 10, size=(b,))

    def batches():  # one in-memory batch, repeated inside the graph: no Python per step
        return tf.data.Dataset.from_tensors((x, y)).repeat()

    train_rate = timed_fit(model, batches, FLAGS.steps, FLAGS.repeats, b)
    model.predict_on_batch(x)
    infer = []
    for _ in range(FLAGS.repeats):
        tic = time.perf_counter()
        for _ in range(FLAGS.steps):
            model.predict_on_batch(x)
        infer.append(FLAGS.steps * b / (time.perf_counter() - tic))
    print(f"{FLAGS.model} {shape}, batch {b}, {FLAGS.precision}, {FLAGS.steps} steps x {FLAGS.repeats} (median)")
    print(f"  machine: {machine()}")
    print(f"  training   {train_rate:10.1f} images/s")
    print(f"  inference  {statistics.median(infer):10.1f} images/s")


def loop_vs_fit() -> None:
    """kcnn's TrainLoop (the loop kcnn-train runs) against ``model.fit`` on the same model, loss,
    optimizer and data, in-memory and through kcnn's pipeline, batch 32 and 128, in turns."""
    import keras
    import numpy as np
    import tensorflow as tf

    import kcnn
    from kcnn import data as kdata
    from kcnn.training.loop import TrainLoop

    raw, info = kdata.load(FLAGS.dataset, "train", with_info=True)
    images, labels = (np.stack(a) for a in zip(*raw.take(20_000).as_numpy_iterator()))
    onehot = np.eye(info.num_classes, dtype=np.float32)[labels]
    strategy = tf.distribute.get_strategy()
    print(
        f"{FLAGS.model} on {FLAGS.dataset}, {FLAGS.steps} steps x {FLAGS.repeats} (median), SGD, one-hot "
        f"cross-entropy; {machine()}"
    )
    print("batch | feed | fit images/s | " + " | ".join(f"loop spe={s} (x fit)" for s in FLAGS.steps_per_execution))
    for b in (32, 128):
        n = (len(labels) // b) * b
        feeds = {
            "memory": lambda b=b, n=n: (
                tf.data.Dataset.from_tensor_slices((images[:n].astype(np.float32) / 255.0, onehot[:n]))
                .batch(b, drop_remainder=True)
                .cache()
                .repeat()
            ),
            "pipeline": lambda b=b: kdata.make_pipeline(
                raw, batch_size=b, training=True, seed=0, repeat=True, drop_remainder=True, num_classes=10
            ).map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y)),
        }
        for feed, make in feeds.items():
            runners = {}
            model = kcnn.create_model(FLAGS.model, input_shape=info.image_shape, classes=info.num_classes)
            model.compile(  # without XLA, as the loop (kcnn-train's default); Keras' "auto" would use XLA
                optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="categorical_crossentropy", jit_compile=False
            )
            runners["fit"] = lambda model=model, make=make: model.fit(
                make(), steps_per_epoch=FLAGS.steps, epochs=1, verbose=0
            )
            for spe in FLAGS.steps_per_execution:
                m = kcnn.create_model(FLAGS.model, input_shape=info.image_shape, classes=info.num_classes)
                opt = keras.optimizers.SGD(0.01, momentum=0.9)
                opt.build(m.trainable_variables)
                loop = TrainLoop(
                    m,
                    opt,
                    keras.losses.CategoricalCrossentropy(reduction=None),
                    strategy=strategy,
                    num_classes=info.num_classes,
                    global_batch_size=b,
                    steps_per_execution=int(spe),
                )
                runners[f"spe={spe}"] = lambda loop=loop, make=make: loop.train_epoch(
                    loop.distribute(lambda _bs, make=make: make()), FLAGS.steps
                )
            for run in runners.values():  # trace and warm up
                run()
            rates = {name: [] for name in runners}
            for _ in range(FLAGS.repeats):
                for name, run in runners.items():
                    tic = time.perf_counter()
                    run()
                    rates[name].append(FLAGS.steps * b / (time.perf_counter() - tic))
            med = {name: statistics.median(r) for name, r in rates.items()}
            cells = " | ".join(
                f"{med[f'spe={s}']:.0f} ({med[f'spe={s}'] / med['fit']:.2f})" for s in FLAGS.steps_per_execution
            )
            print(f"{b} | {feed} | {med['fit']:.0f} | {cells}", flush=True)


def pipeline_only() -> None:
    """Images/s of whole training epochs of make_pipeline, as the trainer runs it (a fresh pipeline per
    epoch: cache, seeded shuffle, batch, one vectorised map with the augmentations), no model."""
    import numpy as np
    import tensorflow as tf

    from kcnn import data as kdata

    height, width = (int(s) for s in (FLAGS.image_size or (32, 32)))
    b = FLAGS.batch_size
    if FLAGS.dataset == "synthetic":
        raw = kdata.load("synthetic", "train", image_shape=(height, width, 3), num_examples=FLAGS.num_examples)
        what = f"synthetic {height}x{width}x3 (pipeline cost does not depend on pixel content)"
    else:
        raw = kdata.load(FLAGS.dataset, "train")
        what = f"{FLAGS.dataset} fitted to {height}x{width}x3 (zero-padded, gray repeated to RGB)"
    # The source in memory, as IDX files and a cached tfds dataset are after the first epoch.
    images, labels = (np.stack(a) for a in zip(*raw.as_numpy_iterator()))
    source = tf.data.Dataset.from_tensor_slices((images, labels))

    def epoch_rate(augment, epoch):
        tic = time.perf_counter()
        pipe = kdata.make_pipeline(
            source,
            batch_size=b,
            training=True,
            seed=0,
            epoch=epoch,
            image_size=(height, width),
            channels=3,
            augment=augment,
        )
        n = sum(int(x.shape[0]) for x, _ in pipe)
        return n / (time.perf_counter() - tic)

    def median_rate(augment):
        epoch_rate(augment, 0)  # warm-up
        return statistics.median(epoch_rate(augment, e) for e in range(1, FLAGS.repeats + 1))

    rate_augmented = median_rate(FLAGS.augment)
    rate_plain = median_rate([])
    print(
        f"make_pipeline alone (no model), training epochs of {len(labels)} {what}, batch {b}, "
        f"median of {FLAGS.repeats} epochs after one warm-up; {machine()}"
    )
    print(f"  augment={','.join(FLAGS.augment) or '(none)'}  {rate_augmented:10.0f} images/s")
    print(f"  no augmentation  {rate_plain:10.0f} images/s")
    print(
        f"  command: python tools/benchmark.py --mode=pipeline --dataset={FLAGS.dataset} "
        f"--augment={','.join(FLAGS.augment)} --image_size={height},{width} --batch_size={b} --repeats={FLAGS.repeats}"
    )
    print(
        "  compare: python tools/benchmark.py --model=resnet20 --image_size=32,32 --batch_size=128 (training images/s)"
    )


def main(argv):
    del argv
    if FLAGS.mode in ("profile", "hessian", "im2col"):
        from tools import analysis_benchmarks

        getattr(analysis_benchmarks, FLAGS.mode)(FLAGS, machine())
    elif FLAGS.mode == "atrous":
        from tools import atrous_benchmark

        atrous_benchmark.atrous(FLAGS, machine())
    elif FLAGS.mode == "segmentation":
        from tools import segmentation_benchmark

        segmentation_benchmark.segmentation(FLAGS, machine())
    elif FLAGS.mode == "pipeline":
        pipeline_only()
    elif FLAGS.mode == "loop":
        loop_vs_fit()
    elif FLAGS.dataset == "synthetic":
        synthetic_throughput()
    else:
        pipeline_vs_memory()


if __name__ == "__main__":
    app.run(main)
