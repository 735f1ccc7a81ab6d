"""kcnn-predict: the top-k classes of images, from an exported SavedModel, TFLite or ONNX file.

  kcnn-predict --model=saved_models/lenet5/1 shoe.png shirt.png
  kcnn-predict --model=saved_models/lenet5/1/model_int8.tflite --top_k=5 *.png

Prints one line per image: ``IMAGE: class probability, ...`` with the class names stored
with the export (labels.txt). An image that is missing, unreadable or of the wrong size
gets one error line naming it on stderr; the other images are still predicted, and the
exit status is 1 at the end. A bad flag or model exits with status 2 before any image is read.
"""

from __future__ import annotations

import sys

from absl import app, flags

from experiments import _cli

_cli.import_tensorflow_quietly()

import numpy as np  # noqa: E402

from kcnn.export import load_artifact  # noqa: E402
from kcnn.export.predict import describe_prediction, read_image, top_k  # noqa: E402

PROG = "kcnn-predict"
# The runner's own flags, apart from absl's global FLAGS: kcnn-train defines flags of the same
# names (--model_dir, --dataset, --model, ...) and the tests import both runners in one process.
FLAGS = flags.FlagValues()
flags.DEFINE_string("model", None, "a SavedModel directory, a .tflite or a .onnx file", flag_values=FLAGS)
flags.DEFINE_string("top_k", "3", "how many classes to print per image", flag_values=FLAGS)


def main(argv):
    _cli.quiet_tensorflow(flags.FLAGS)
    images = argv[1:]
    if FLAGS.model is None:
        _cli.fail(PROG, "--model: required (a SavedModel directory, a .tflite or a .onnx file)")
    try:
        k = int(FLAGS.top_k)
    except ValueError:
        _cli.fail(PROG, f"--top_k: cannot read {FLAGS.top_k!r} as an integer")
    if k < 1:
        _cli.fail(PROG, f"--top_k: must be at least 1; got {k}")
    if not images:
        _cli.fail(PROG, "no images given: kcnn-predict --model=PATH IMAGE...")
    try:
        with _cli.held_stderr(replay=False):
            artifact = load_artifact(FLAGS.model)
    except Exception as err:  # noqa: BLE001 - any loading failure is the --model argument's fault
        _cli.fail(PROG, f"--model: {_message(err, FLAGS.model)}")
    failed = 0
    for path in images:
        try:
            image = read_image(path, artifact)
        except ValueError as err:
            print(f"{PROG}: error: {path}: {err}", file=sys.stderr, flush=True)
            failed += 1
            continue
        probabilities = artifact(image[None])[0]
        ranked = top_k(probabilities, k, artifact.class_names)
        print(f"{path}: {describe_prediction(ranked, segmentation=np.ndim(probabilities) > 1)}", flush=True)
    if failed:
        print(f"{PROG}: {failed} of {len(images)} images could not be predicted", file=sys.stderr)
        sys.exit(1)


def _message(err: Exception, path: str) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if text.startswith(path) else f"{path}: cannot load ({type(err).__name__}: {text})"


def parse_flags(argv):
    return _cli.parse_flags(PROG, FLAGS, argv)


def run():
    _cli.adopt_flags(FLAGS)
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
