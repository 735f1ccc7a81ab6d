"""export a trained model to SavedModel, TFLite modes and ONNX, each artifact verified.

  kcnn-export --model_dir=runs/demo
  kcnn-export --model_dir=runs/demo --formats=savedmodel,float32,float16,dynamic_int8,int8,int8_io,onnx
  kcnn-export --keras=model.keras --dataset=fashion_mnist --name=lenet5 --version=3 --overwrite
  kcnn-export --keras=model.keras --formats=savedmodel,float32 --noaccuracy

Writes <output>/<name>/<version>/ (TensorFlow Serving's layout): the SavedModel, the
TFLite / ONNX files, labels.txt, export.json and report.md (size, parity with Keras,
test accuracy, batch-1 CPU latency of every artifact). A bad flag stops the run with one
line naming it (exit status 2) before any work; an artifact that does not reproduce the
Keras model fails the export (exit status 1) and leaves nothing behind. --overwrite
replaces only an export kcnn wrote.

Without a dataset (--keras alone) the artifacts are compared with Keras on seeded random
images, accuracy is skipped (--noaccuracy) and the calibrated int8 modes are unavailable.
"""

from __future__ import annotations

import os
import sys

from absl import flags

from kcnn.cli import _common

PROG = "kcnn-export"
DOC = __doc__
FLAGS = flags.FlagValues()
# Kept apart from the library's table so that --help needs no TensorFlow; a test checks they agree.
FORMAT_NAMES = ("savedmodel", "float32", "float16", "dynamic_int8", "int8", "int8_io", "onnx")
DEFAULT_FORMATS = ("savedmodel", "float32", "float16", "dynamic_int8", "int8")
for _name, _help in {
    "model_dir": "a kcnn-train run directory (model.keras, config.json)",
    "keras": "a .keras file (loaded with Keras' safe_mode on)",
    "dataset": "with --keras: the dataset for calibration, verification, accuracy and class names",
    "data_dir": "with --keras: where the dataset is",
    "train_split": "split the calibration images come from (default: the run's, or train)",
    "test_split": "split for parity and accuracy (default: the run's, or test)",
    "resize": "with --keras --dataset: how images were fitted to the model (pad, bilinear, nearest; default pad)",
    "labels": "with --keras: a file of class names, one a line",
    "name": "export name (default: the model's name)",
}.items():
    flags.DEFINE_string(_name, None, _help, flag_values=FLAGS)
flags.DEFINE_string("output", "saved_models", "where <name>/<version>/ goes", flag_values=FLAGS)
flags.DEFINE_integer("version", None, "export version (default: the next one)", lower_bound=0, flag_values=FLAGS)
flags.DEFINE_integer(
    "calibration_examples", 500, "training images calibrating the int8 modes", lower_bound=1, flag_values=FLAGS
)
flags.DEFINE_integer(
    "verify_examples", 1000, "test images each artifact is compared with Keras on", lower_bound=1, flag_values=FLAGS
)
flags.DEFINE_integer(
    "test_examples", 0, "test images for accuracy (0: the whole test split)", lower_bound=0, flag_values=FLAGS
)
flags.DEFINE_integer(
    "latency_runs", 50, "batch-1 calls timed per artifact (median reported)", lower_bound=1, flag_values=FLAGS
)
flags.DEFINE_list(
    "formats", list(DEFAULT_FORMATS), f"comma list of {', '.join(FORMAT_NAMES)} (tflite = float32)", flag_values=FLAGS
)
flags.DEFINE_bool("accuracy", True, "measure test accuracy (--noaccuracy skips it)", flag_values=FLAGS)
flags.DEFINE_bool("overwrite", False, "replace an existing <output>/<name>/<version>/ kcnn wrote", flag_values=FLAGS)


def main(argv):
    if len(argv) > 1:
        _common.fail(PROG, f"unexpected arguments {' '.join(argv[1:])!r} (all options are --flags)")
    _common.quiet_logs(PROG)
    _common.import_tensorflow_quietly()
    from kcnn.export import ExportVerificationError
    from kcnn.export.plan import ExportArgumentError, plan_export, run_export

    try:
        plan = plan_export(**{name: FLAGS[name].value for name in FLAGS})
    except ExportArgumentError as err:
        _common.fail(PROG, str(err))
    print(f"{PROG}: {plan.source.path} -> {plan.name} version {plan.version}: {', '.join(plan.formats)}", flush=True)
    try:
        with _common.held_stderr():
            report = run_export(plan, log=lambda line: print(f"  {line}", flush=True))
    except ExportVerificationError as err:
        print(f"{PROG}: error: {err}; nothing was written", file=sys.stderr)
        sys.exit(1)
    with open(os.path.join(plan.directory, "report.md"), encoding="utf-8") as f:
        print("\n" + f.read())
    _common.warn_missed_targets(PROG, report["artifacts"])
    print(f"exported to {plan.directory}")


def parse_flags(argv):
    return _common.parse_flags(PROG, DOC, FLAGS, argv)


def run():
    _common.run_command(PROG, DOC, FLAGS, main)


if __name__ == "__main__":
    run()
