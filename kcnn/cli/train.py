"""train a registered model on a dataset, evaluate, plot, save and export.

  kcnn-train --model=lenet5 --dataset=fashion_mnist --epochs=10 --model_dir=runs/lenet5 --export=savedmodel,tflite
  kcnn-train --config=lenet5_fashion_mnist --model_dir=runs/demo
  kcnn-train --config=lenet5_fashion_mnist --set=train.learning_rate=0.002 --set=data.augment=flip --deterministic
  kcnn-train --model=unet --dataset=fashion_scenes --train_split=train[:2000] --epochs=2 --model_dir=runs/unet

A model registered with the tag "segmentation" (FCN, U-Net, SegNet, DeepLab) trains per
pixel on a segmentation dataset (fashion_scenes, mask_folder, oxford_iiit_pet): --loss is
cross_entropy, focal or dice, --set=train.class_weights=[...] and --set=train.ignore_label=N
weight and mask pixels, and the results add mean IoU, per-class IoU and pixel accuracy.

Every field of the config can be set with --set=section.field=value; the flags below are
shortcuts for the common ones and, like --set, override the preset given by --config.
A bad value stops the run with one line naming the flag (exit status 2) before any data
is read or any file is written.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import NoReturn

from absl import flags

from kcnn.cli import _common
from kcnn.training.config import (
    LOSSES,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    SEGMENTATION_LOSSES,
    STRATEGIES,
    ConfigError,
    ExperimentConfig,
)
from kcnn.training.presets import list_presets, load_preset

PROG = "kcnn-train"
DOC = __doc__
FLAGS = flags.FlagValues()
_DEFAULT = ExperimentConfig()
log = logging.getLogger("kcnn")


def _default(field: str) -> str:
    value = _DEFAULT
    for part in field.split("."):
        value = getattr(value, part)
    if isinstance(value, list):
        value = ",".join(map(str, value)) or "none"
    if value is None:
        return "(default: the preset's, else unset)"
    return f"(default: the preset's, else {value})"


# flag -> (config field, absl definer, help, extra definer arguments); None defaults, so a
# preset's value stands unless the flag is given.
SPEC = {
    "model": ("model.name", flags.DEFINE_string, "registered model name (kcnn.list_models())", {}),
    "dataset": (
        "data.dataset",
        flags.DEFINE_string,
        "fashion_mnist, mnist, kmnist, emnist_*, synthetic, folder, or a tensorflow-datasets name; "
        "segmentation: fashion_scenes, mask_folder, oxford_iiit_pet",
        {},
    ),
    "data_dir": ("data.data_dir", flags.DEFINE_string, "where the data is (IDX files, image folders, tfds data)", {}),
    "train_split": ("data.train_split", flags.DEFINE_string, "training split, e.g. train or train[:10000]", {}),
    "test_split": ("data.test_split", flags.DEFINE_string, "test split of the final evaluation, e.g. test", {}),
    "validation": ("data.validation", flags.DEFINE_string, "none, test, or the held-out fraction of train", {}),
    "image_size": ("data.image_size", flags.DEFINE_list, "HEIGHT,WIDTH (or SIZE) the model takes", {}),
    "channels": ("data.channels", flags.DEFINE_integer, "convert images to 1 or 3 channels", {}),
    "normalization": ("data.normalization", flags.DEFINE_string, "none | scale | mean | standardize", {}),
    "augment": (
        "data.augment",
        flags.DEFINE_list,
        "comma list NAME[:PARAM...]: flip, crop:4, erasing:0.5, cutout:0.5, mixup:0.2, cutmix:1.0, randaugment:2:9",
        {},
    ),
    "epochs": ("train.epochs", flags.DEFINE_integer, "number of epochs", {"lower_bound": 1}),
    "batch_size": ("train.batch_size", flags.DEFINE_integer, "global batch size", {"lower_bound": 1}),
    "optimizer": ("train.optimizer", flags.DEFINE_enum, "the optimizer", {"enum_values": OPTIMIZERS}),
    "learning_rate": ("train.learning_rate", flags.DEFINE_float, "learning rate", {}),
    "momentum": ("train.momentum", flags.DEFINE_float, "SGD / RMSprop momentum", {}),
    "weight_decay": ("train.weight_decay", flags.DEFINE_float, "decoupled weight decay (not biases, norms)", {}),
    "schedule": ("train.schedule", flags.DEFINE_enum, "learning-rate schedule", {"enum_values": SCHEDULES}),
    "loss": (
        "train.loss",
        flags.DEFINE_enum,
        f"training loss (segmentation models: {', '.join(SEGMENTATION_LOSSES)})",
        {"enum_values": list(dict.fromkeys(LOSSES + SEGMENTATION_LOSSES))},
    ),
    "label_smoothing": ("train.label_smoothing", flags.DEFINE_float, "label smoothing of the targets", {}),
    "precision": ("train.precision", flags.DEFINE_enum, "dtype policy", {"enum_values": PRECISIONS}),
    "jit_compile": ("train.jit_compile", flags.DEFINE_bool, "compile the training step with XLA", {}),
    "strategy": ("train.strategy", flags.DEFINE_enum, "tf.distribute strategy", {"enum_values": STRATEGIES}),
    "ema": ("train.ema", flags.DEFINE_bool, "evaluate and export a moving average of the weights", {}),
    "deterministic": (
        "train.deterministic",
        flags.DEFINE_bool,
        "seeds plus TensorFlow op determinism: a resumed run ends with the same weights",
        {},
    ),
    "finetune": ("finetune.weights", flags.DEFINE_string, "start from a .weights.h5 file or 'imagenet'", {}),
    "seed": ("train.seed", flags.DEFINE_integer, "random seed", {"lower_bound": 0}),
    "export": (
        "export.formats",
        flags.DEFINE_list,
        "comma list: savedmodel, float32 (= tflite), float16, dynamic_int8, int8, int8_io, onnx",
        {},
    ),
    "export_dir": ("export.dir", flags.DEFINE_string, "exports go to EXPORT_DIR/<model>/<version>/", {}),
    "model_dir": ("model_dir", flags.DEFINE_string, "run directory: config, history, plots, checkpoints, model", {}),
}
for _flag, (_field, _define, _help, _extra) in SPEC.items():
    _define(_flag, None, help=f"{_help} {_default(_field)}", flag_values=FLAGS, **_extra)
flags.DEFINE_string(
    "config",
    None,
    f"a preset ({', '.join(list_presets())}) or a config JSON path; flags override it",
    flag_values=FLAGS,
)
flags.DEFINE_multi_string("set", [], "override any config field: --set=train.epochs=5", flag_values=FLAGS)
flags.DEFINE_bool(
    "overwrite", False, "start afresh: remove the files of an earlier kcnn run in --model_dir", flag_values=FLAGS
)


def flag_for(field: str) -> str:
    """The flag that sets a config field, for error messages."""
    for flag, spec in SPEC.items():
        if spec[0] == field:
            return f"--{flag}"
    return {"config": "--config", "set": "--set"}.get(field, f"--set={field}")


def _image_size(values: list[str]) -> list[int]:
    try:
        sizes = [int(v) for v in values]
    except ValueError:
        sizes = []
    if len(sizes) not in (1, 2) or any(s <= 0 for s in sizes):
        raise ConfigError(
            "data.image_size", f"expected HEIGHT,WIDTH or SIZE (positive integers); got {','.join(values)!r}"
        )
    return sizes * (3 - len(sizes))


def resolve_config() -> ExperimentConfig:
    """The preset (or defaults), then the flags, then every --set, in that order."""
    config = load_preset(FLAGS.config) if FLAGS.config else ExperimentConfig()
    preset_epochs = config.train.epochs
    for flag, (field, *_) in SPEC.items():
        value = FLAGS[flag].value
        if value is not None:
            config.override(field, _image_size(value) if flag == "image_size" else value)
    for item in FLAGS.set:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise ConfigError("set", f"expected FIELD=VALUE (e.g. --set=train.epochs=5); got {item!r}")
        config.override(field.strip(), value)
    _scale_step_boundaries(config, preset_epochs)
    return config


def _scale_step_boundaries(config: ExperimentConfig, preset_epochs: int) -> None:
    """--epochs on a preset with a step schedule keeps the schedule's shape: its boundaries
    (and warmup) scale with the number of epochs, unless --set gives them."""
    t = config.train
    given = {item.partition("=")[0].strip() for item in FLAGS.set}
    if FLAGS.epochs is None or t.epochs == preset_epochs or t.schedule != "step" or "train.lr_boundaries" in given:
        return
    factor = t.epochs / preset_epochs
    before = list(t.lr_boundaries)
    t.lr_boundaries = [round(b * factor, 4) for b in t.lr_boundaries]
    if t.warmup_epochs and "train.warmup_epochs" not in given:
        t.warmup_epochs = round(t.warmup_epochs * factor, 4)
    log.info(
        "--epochs=%d scales the preset's step boundaries %s (of %d epochs) to %s",
        t.epochs,
        before,
        preset_epochs,
        t.lr_boundaries,
    )


def main(argv):
    if len(argv) > 1:
        _common.fail(PROG, f"unexpected arguments {' '.join(argv[1:])!r} (all options are --flags)")
    if FLAGS.model is None and FLAGS.config is None:
        print(
            f"usage: {PROG} --model=NAME [--dataset=...] [--flags...]  or  {PROG} --config=PRESET [--flags...]\n"
            f"{PROG}: error: give --model or --config (--help lists every flag)",
            file=sys.stderr,
        )
        sys.exit(_common.USAGE_ERROR)
    _common.quiet_logs(PROG)
    try:
        config = resolve_config()
        config.validate()
    except ConfigError as err:
        _config_failed(err)
    _common.import_tensorflow_quietly()
    from kcnn.export import ExportVerificationError
    from kcnn.training import train

    try:
        results = train(config, overwrite=FLAGS.overwrite)
    except ConfigError as err:
        _config_failed(err)
    except ExportVerificationError as err:  # the training finished and its results were written
        _export_failed(config, err)
    print_summary(results)


def _config_failed(err: ConfigError) -> NoReturn:
    _common.fail(PROG, f"{', '.join(flag_for(f) for f in (err.field, *err.others))}: {err.message}")


def _export_failed(config, err) -> NoReturn:
    with open(os.path.join(config.model_dir, "results.json"), encoding="utf-8") as f:
        print_summary(json.load(f))
    print(
        f"{PROG}: error: --export: {err}; no export was written. The training finished: its results.json and "
        f"model.keras are in {config.model_dir} (kcnn-export --model_dir={config.model_dir} exports it again)",
        file=sys.stderr,
    )
    sys.exit(1)


def print_summary(results: dict) -> None:
    done = " (already complete; --overwrite to retrain)" if results.get("already_complete") else ""
    if results.get("task") == "segmentation":
        score = f"test mean IoU {results['test_mean_iou']:.4f}, pixel accuracy {results['test_pixel_accuracy']:.4f}"
    else:
        score = f"test accuracy {results['test_accuracy']:.4f}"
    print(
        f"\n{results['model']} on {results['dataset']}: {score} "
        f"on {results['test_examples']} images after {results['epochs']} epochs{done}"
    )
    for name, path in results["artifacts"].items():
        print(f"  {name:18s} {path}")
    for fmt, a in results.get("exports", {}).items():
        scores = ", ".join(
            f"test {label} {a[key]:.4f}"
            for key, label in (("accuracy", "accuracy"), ("mean_iou", "mIoU"))
            if a.get(key) is not None
        )
        print(
            f"  export {fmt:11s} {a['path']}  ({a['bytes']:,} bytes, max |diff| vs Keras {a['max_abs_diff']:.2g}"
            + (f", {scores}" if scores else "")
            + ")"
        )
    _common.warn_missed_targets(PROG, results.get("exports", {}))


def parse_flags(argv):
    return _common.parse_flags(PROG, DOC, FLAGS, argv)


def run():
    _common.run_command(PROG, DOC, FLAGS, main)


if __name__ == "__main__":
    run()
