"""kcnn-export: export a trained model to SavedModel, TFLite modes and ONNX, verified.

  kcnn-export --model_dir=runs/demo
  kcnn-export --model_dir=runs/demo --formats=savedmodel,float32,float16,dynamic_int8,int8,int8_io,onnx
  kcnn-export --keras=model.keras --dataset=fashion_mnist --name=lenet5 --version=3 --overwrite
  kcnn-export --keras=model.keras --formats=savedmodel,float32 --noaccuracy

Writes <output>/<name>/<version>/ (TensorFlow Serving's layout): the SavedModel, the
TFLite / ONNX files, labels.txt, export.json and report.md (size, parity with Keras,
test accuracy, batch-1 CPU latency of every artifact). A bad flag stops the run with one
line naming it (exit status 2) before any work; an artifact that does not reproduce the
Keras model fails the export (exit status 1) and leaves nothing behind.

Without a dataset (--keras alone) the artifacts are compared with Keras on seeded random
images, accuracy is skipped (--noaccuracy) and the calibrated int8 modes are unavailable.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

from experiments import _cli

_cli.import_tensorflow_quietly()

import numpy as np  # noqa: E402

from kcnn.data.pipeline import RESIZE_MODES  # noqa: E402
from kcnn.data.sources import parse_split  # noqa: E402
from kcnn.export import (  # noqa: E402
    DEFAULT_FORMATS,
    EXPORT_FORMATS,
    FORMATS,
    ExportVerificationError,
    check_export,
    check_formats,
    check_name,
    export_version,
    next_version,
    source,
    take_examples,
)

PROG = "kcnn-export"

# The runner's own flags, apart from absl's global FLAGS: kcnn-train defines flags of the same
# names (--model_dir, --dataset, --model, ...) and the tests import both runners in one process.
FLAGS = flags.FlagValues()
STRING_FLAGS = {  # flag -> (default, help)
    "model_dir": (None, "a kcnn-train run directory (model.keras, config.json)"),
    "keras": (None, "a .keras file (loaded with Keras' safe_mode on)"),
    "dataset": (None, "with --keras: the dataset for calibration, verification, accuracy and class names"),
    "data_dir": (None, "with --keras: where to look for the dataset first"),
    "train_split": (None, "split the calibration images come from (default: the run's, or train)"),
    "test_split": (None, "split for parity and accuracy (default: the run's, or test)"),
    "resize": (
        None,
        f"with --keras --dataset: how images were fitted to the model ({', '.join(RESIZE_MODES)}; default pad)",
    ),
    "labels": (None, "with --keras: a file of class names, one a line"),
    "output": ("saved_models", "where <name>/<version>/ goes"),
    "name": (None, "export name (default: the model's name)"),
    "version": (None, "export version, a non-negative integer (default: the next one)"),
    "calibration_examples": ("500", "training images calibrating the full-integer int8 modes"),
    "verify_examples": ("1000", "test images on which every artifact is compared with Keras"),
    "test_examples": ("0", "test images for accuracy (0: the whole test split)"),
    "latency_runs": ("50", "batch-1 calls timed per artifact (the median is reported)"),
}
for _name, (_default, _help) in STRING_FLAGS.items():
    flags.DEFINE_string(_name, _default, _help, flag_values=FLAGS)
flags.DEFINE_list(
    "formats", list(DEFAULT_FORMATS), f"comma list of {', '.join(EXPORT_FORMATS)} (tflite = float32)", flag_values=FLAGS
)
flags.DEFINE_bool("accuracy", True, "measure test accuracy (--noaccuracy skips it)", flag_values=FLAGS)
flags.DEFINE_bool("overwrite", False, "replace an existing <output>/<name>/<version>/", flag_values=FLAGS)


class UsageError(Exception):
    def __init__(self, flag: str, message: str):
        super().__init__(f"--{flag}: {message}")


def _int(flag: str, minimum: int) -> int:
    value = FLAGS[flag].value
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(flag, f"cannot read {value!r} as an integer") from None
    if number < minimum:
        raise UsageError(flag, f"must be at least {minimum}; got {number}")
    return number


def _source():
    for flag in ("train_split", "test_split"):
        if FLAGS[flag].value is not None:
            try:
                parse_split(FLAGS[flag].value)
            except ValueError as err:
                raise UsageError(flag, str(err)) from None
    if FLAGS.model_dir is not None:
        for flag in ("dataset", "data_dir", "labels", "resize"):
            if FLAGS[flag].value is not None:
                raise UsageError(flag, "comes from the run's config.json with --model_dir; it goes with --keras")
        try:
            source.read_run_config(FLAGS.model_dir)
        except ValueError as err:
            raise UsageError("model_dir", str(err)) from None
        splits = {"train_split": FLAGS.train_split, "test_split": FLAGS.test_split}
        load = lambda: source.from_model_dir(FLAGS.model_dir, **splits)  # noqa: E731
        model_flag = "model_dir"
    else:
        if FLAGS.resize is not None and FLAGS.resize not in RESIZE_MODES:
            raise UsageError("resize", f"must be one of {', '.join(RESIZE_MODES)}; got {FLAGS.resize!r}")
        if FLAGS.labels is not None and not os.path.isfile(FLAGS.labels):
            raise UsageError("labels", f"{FLAGS.labels}: no such file")
        if FLAGS.dataset is not None:
            try:
                source.describe_dataset(FLAGS.dataset, data_dir=FLAGS.data_dir)
            except ValueError as err:
                raise UsageError("dataset", str(err)) from None
        for flag in ("train_split", "test_split", "resize"):
            if FLAGS[flag].value is not None and FLAGS.dataset is None:
                raise UsageError(flag, "needs --dataset")
        load = lambda: source.from_keras(  # noqa: E731
            FLAGS.keras,
            dataset=FLAGS.dataset,
            data_dir=FLAGS.data_dir,
            train_split=FLAGS.train_split or "train",
            test_split=FLAGS.test_split or "test",
            resize=FLAGS.resize or "pad",
            labels=FLAGS.labels,
        )
        model_flag = "keras"
    try:
        return load()
    except ValueError as err:
        if "classes but the model has" in str(err):  # the class names do not fit the model's outputs
            model_flag = "labels" if FLAGS.labels else "dataset" if FLAGS.dataset else model_flag
        raise UsageError(model_flag, str(err)) from None


def plan():
    """Every check, before any work: (source, formats, name, version, numbers), or UsageError."""
    if (FLAGS.model_dir is None) == (FLAGS.keras is None):
        raise UsageError("model_dir", "give exactly one of --model_dir (a kcnn-train run) or --keras (a .keras file)")
    try:
        formats = check_formats(FLAGS.formats)
    except ValueError as err:
        raise UsageError("formats", str(err)) from None
    if not formats:
        raise UsageError("formats", f"no formats given; choose from {', '.join(EXPORT_FORMATS)}")
    numbers = {
        f: _int(f, m)
        for f, m in (("calibration_examples", 1), ("verify_examples", 1), ("test_examples", 0), ("latency_runs", 1))
    }
    version = None if FLAGS.version is None else _int("version", 0)
    if FLAGS.name is not None:
        try:
            check_name(FLAGS.name)
        except ValueError as err:
            raise UsageError("name", str(err)) from None
    src = _source()
    if src.dataset is None:
        if calibrated := [f for f in formats if FORMATS[f].calibrate]:
            raise UsageError("formats", f"{calibrated[0]} is calibrated on training images: give --dataset")
        if FLAGS.accuracy:
            raise UsageError("accuracy", "test accuracy needs --dataset; pass --noaccuracy to skip it")
    name = FLAGS.name or src.name
    try:
        check_name(name)
    except ValueError as err:
        raise UsageError("name", f"{err} (the model's name); pass --name") from None
    base = os.path.join(os.path.abspath(FLAGS.output), name)
    version = next_version(base) if version is None else version
    directory = os.path.join(base, str(version))
    try:
        check_export(
            src.model,
            formats,
            class_names=src.class_names,
            calibration=True,
            verification=True,
            directory=directory,
            overwrite=FLAGS.overwrite,
        )
    except FileExistsError:
        raise UsageError("version", f"{directory} exists; pass --overwrite to replace it") from None
    except ValueError as err:
        raise UsageError("formats", str(err)) from None
    return src, formats, name, version, numbers


def _verification_data(src, n: dict) -> dict:
    """What export_model verifies on: the test split, only its parity images (--noaccuracy),
    or seeded random images when there is no dataset."""
    if src.dataset is None:
        shape = src.preprocessing.image_shape
        rng = np.random.default_rng(0)
        return {"sample_images": rng.integers(0, 256, (n["verify_examples"], *shape), dtype=np.uint8)}
    if not FLAGS.accuracy:
        return {"sample_images": take_examples(src.load(src.test_split), n["verify_examples"])[0]}
    return {"test_data": src.load(src.test_split), "test_examples": n["test_examples"] or None}


def main(argv):
    _cli.quiet_tensorflow(flags.FLAGS)
    if len(argv) > 1:
        _cli.fail(PROG, f"unexpected arguments {' '.join(argv[1:])!r} (all options are --flags)")
    try:
        src, formats, name, version, n = plan()
    except UsageError as err:
        _cli.fail(PROG, str(err))
    print(f"{PROG}: {src.path} -> {name} version {version}: {', '.join(formats)}", flush=True)
    calibrate = any(FORMATS[f].calibrate for f in formats)
    try:
        with _cli.held_stderr():
            report = export_version(
                src.model,
                FLAGS.output,
                name,
                formats,
                version=version,
                overwrite=FLAGS.overwrite,
                class_names=src.class_names,
                preprocessing=src.preprocessing,
                calibration_data=src.load(src.train_split) if calibrate else None,
                calibration_examples=n["calibration_examples"],
                verify_examples=n["verify_examples"],
                latency_runs=n["latency_runs"],
                metadata={"source": os.path.abspath(src.path)},
                log=lambda line: print(f"  {line}", flush=True),
                **_verification_data(src, n),
            )
    except ExportVerificationError as err:
        print(f"{PROG}: error: {err}; nothing was written", file=sys.stderr)
        sys.exit(1)
    directory = os.path.join(os.path.abspath(FLAGS.output), name, str(version))
    with open(os.path.join(directory, "report.md"), encoding="utf-8") as f:
        print("\n" + f.read())
    for fmt, entry in report["artifacts"].items():
        for target, t in entry["targets"].items():
            if t["met"] is False:
                print(
                    f"{PROG}: warning: {fmt}: {target} {t['value']:.4g} misses its target {t['target']:g}",
                    file=sys.stderr,
                )
    print(f"exported to {directory}")


def parse_flags(argv):
    return _cli.parse_flags(PROG, FLAGS, argv)


def run():
    _cli.adopt_flags(FLAGS)
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
