"""kcnn-train: train a registered model on a dataset, evaluate, plot, save and export.

  kcnn-train --model=lenet5 --dataset=fashion_mnist --epochs=10 --model_dir=runs/lenet5 --export=savedmodel,tflite
  kcnn-train --config=lenet5_fashion_mnist --model_dir=runs/demo
  kcnn-train --config=lenet5_fashion_mnist --set=train.learning_rate=0.002 --set=data.augment=flip

Every field of the config can be set with --set=section.field=value; the flags below
are shortcuts for the common ones. A bad value stops the run with one line naming the
flag (exit status 2) before any data is read or any file is written.
"""

from __future__ import annotations

from absl import app, flags, logging

from experiments import _cli

_cli.import_tensorflow_quietly()

from experiments import presets  # noqa: E402
from kcnn.training import ConfigError, ExperimentConfig, train  # noqa: E402

# flag -> config field it sets
FIELDS = {
    "model": "model.name",
    "dataset": "data.dataset",
    "data_dir": "data.data_dir",
    "train_split": "data.train_split",
    "test_split": "data.test_split",
    "validation": "data.validation",
    "image_size": "data.image_size",
    "channels": "data.channels",
    "normalization": "data.normalization",
    "augment": "data.augment",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "optimizer": "train.optimizer",
    "learning_rate": "train.learning_rate",
    "momentum": "train.momentum",
    "weight_decay": "train.weight_decay",
    "schedule": "train.schedule",
    "loss": "train.loss",
    "label_smoothing": "train.label_smoothing",
    "precision": "train.precision",
    "jit_compile": "train.jit_compile",
    "strategy": "train.strategy",
    "ema": "train.ema",
    "deterministic": "train.deterministic",
    "finetune": "finetune.weights",
    "seed": "train.seed",
    "export": "export.formats",
    "model_dir": "model_dir",
}
HELP = {
    "model": "registered model name (kcnn.list_models())",
    "dataset": "fashion_mnist, mnist, kmnist, emnist_*, synthetic, folder, or a tensorflow-datasets name",
    "data_dir": "where to look for the data first (IDX files, image folders, tfds data_dir)",
    "train_split": "training split, tfds slicing syntax (e.g. train[:10000])",
    "test_split": "test split used for the final evaluation",
    "validation": "'none', 'test', or the fraction of the train split held out (e.g. 0.1)",
    "image_size": "HEIGHT,WIDTH the model takes (images are padded or resized)",
    "channels": "convert images to 1 or 3 channels",
    "normalization": "none | scale | mean (subtract the training mean) | standardize",
    "augment": "comma list of batch augmentations, NAME[:PARAM...]: flip, crop:4, erasing:0.5, cutout:0.5, mixup:0.2, cutmix:1.0, randaugment:2:9",
    "epochs": "number of epochs",
    "batch_size": "global batch size",
    "optimizer": "sgd | adam | adamw | rmsprop",
    "learning_rate": "learning rate",
    "momentum": "SGD / RMSprop momentum",
    "weight_decay": "decoupled weight decay (biases and BatchNorm excluded)",
    "schedule": "constant | step (train.lr_boundaries) | cosine (train.warmup_epochs) | onecycle",
    "loss": "cross_entropy | sparse_cross_entropy | mse | l1 | huber",
    "label_smoothing": "label smoothing of the cross-entropy targets",
    "precision": "float32 | mixed_float16 | mixed_bfloat16 | auto",
    "jit_compile": "compile the training step with XLA (true/false)",
    "strategy": "default | mirrored | multi_worker (TF_CONFIG or train.cluster_resolver=slurm) | tpu",
    "ema": "keep an exponential moving average of the weights for evaluation and export (true/false)",
    "deterministic": "seeds plus TensorFlow op determinism: a resumed run ends with the same weights",
    "finetune": "start from a .weights.h5 file or 'imagenet'; see finetune.head_epochs / unfreeze / lr_factor",
    "seed": "random seed (data order, augmentation, initialization)",
    "export": "comma list of export formats: savedmodel, float32 (= tflite), float16, dynamic_int8, int8, int8_io, onnx",
    "model_dir": "run directory: config, history, plots, checkpoints, model, exports",
}
for _name in FIELDS:
    flags.DEFINE_string(_name, None, HELP[_name])
flags.DEFINE_string("config", None, f"preset name ({', '.join(presets.list_presets())}) or a config JSON path")
flags.DEFINE_multi_string("set", [], "override any config field: --set=train.epochs=5")
flags.DEFINE_bool("overwrite", False, "discard an existing run in --model_dir and its exports")
FLAGS = flags.FLAGS


def fail(message: str) -> None:
    _cli.fail("kcnn-train", message)


def flag_for(field: str) -> str:
    """The flag that sets a config field, for error messages."""
    for flag, f in FIELDS.items():
        if f == field:
            return f"--{flag}"
    return "--config" if field == "config" else f"--set={field}"


def resolve_config() -> ExperimentConfig:
    config = presets.load_preset(FLAGS.config) if FLAGS.config else ExperimentConfig()
    for flag, field in FIELDS.items():
        value = FLAGS[flag].value
        if value is not None:
            if flag == "image_size":
                value = value.split(",") * (2 if "," not in value else 1)
            config.override(field, value)
    for item in FLAGS.set:
        if "=" not in item:
            raise ConfigError("set", f"expected FIELD=VALUE, got {item!r}")
        field, value = item.split("=", 1)
        config.override(field.strip(), value)
    return config


def main(argv):
    quiet_tensorflow()
    if len(argv) > 1:
        fail(f"unexpected arguments {' '.join(argv[1:])!r} (all options are --flags)")
    try:
        config = resolve_config()
        results = train(config, overwrite=FLAGS.overwrite)
    except ConfigError as err:
        fail(f"{', '.join(flag_for(f) for f in (err.field, *err.others))}: {err.message}")
    print_summary(results)


def print_summary(results: dict) -> None:
    done = " (already complete; --overwrite to retrain)" if results.get("already_complete") else ""
    print(
        f"\n{results['model']} on {results['dataset']}: test accuracy {results['test_accuracy']:.4f} "
        f"on {results['test_examples']} images after {results['epochs']} epochs{done}"
    )
    for name, path in results["artifacts"].items():
        print(f"  {name:18s} {path}")
    for fmt, a in results.get("exports", {}).items():
        print(f"  export {fmt:11s} {a['path']}  ({a['bytes']:,} bytes, max |diff| vs Keras {a['max_abs_diff']:.2g})")


def quiet_tensorflow() -> None:
    """TensorFlow's INFO chatter (SavedModel asset lines, ...) off unless --verbosity asks for it."""
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def parse_flags(argv):
    try:
        return FLAGS(argv)
    except flags.Error as err:
        fail(str(err))


def run():
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
