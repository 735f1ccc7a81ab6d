"""the top-k classes of images, from an exported SavedModel, TFLite or ONNX file; masks
from a segmentation export.

  kcnn-predict --model=saved_models/lenet5/1 shoe.png shirt.png
  kcnn-predict --model=saved_models/lenet5/1/model_int8.tflite --top_k=5 *.png
  kcnn-predict --model=saved_models/unet/1 --output_dir=masks scene.png

Prints one line per image: ``IMAGE: class probability, ...`` with the class names stored
with the export (labels.txt). A segmentation export (per-pixel outputs) prints the classes'
shares of the pixels and writes, per image, ``OUTPUT_DIR/NAME_mask.png`` (8-bit, the class
index per pixel) and ``OUTPUT_DIR/NAME_overlay.png`` (the image with the classes' colours).
An image that is missing, unreadable, too large to decode safely or of the wrong size gets
one error line naming it on stderr; the other images are still predicted, and the exit
status is 1 at the end. A bad flag or model exits with status 2 before any image is read.
"""

from __future__ import annotations

import sys

from absl import flags

from kcnn.cli import _common

PROG = "kcnn-predict"
DOC = __doc__
FLAGS = flags.FlagValues()
flags.DEFINE_string("model", None, "a SavedModel directory, a .tflite or a .onnx file", flag_values=FLAGS)
flags.DEFINE_integer("top_k", 3, "how many classes to print per image", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_string(
    "output_dir",
    "predictions",
    "segmentation exports: where NAME_mask.png and NAME_overlay.png go (unused for classifiers)",
    flag_values=FLAGS,
)


def main(argv):
    images = argv[1:]
    if FLAGS.model is None:
        _common.fail(PROG, "--model: required (a SavedModel directory, a .tflite or a .onnx file)")
    if not images:
        _common.fail(PROG, "no images given: kcnn-predict --model=PATH IMAGE...")
    _common.quiet_logs(PROG)
    _common.import_tensorflow_quietly()
    import numpy as np

    from kcnn.export import load_artifact
    from kcnn.export.predict import describe_prediction, mask_paths, read_image, top_k, write_mask
    from kcnn.io import check_writable_dir

    try:
        with _common.held_stderr(replay=False):
            artifact = load_artifact(FLAGS.model)
    except Exception as err:  # noqa: BLE001 - any loading failure is the --model argument's fault
        _common.fail(PROG, f"--model: {_message(err, FLAGS.model)}")
    outputs = None
    probe = np.zeros((1, *(64 if s is None else s for s in artifact.image_shape)), np.uint8)
    if artifact(probe).ndim > 2:  # per-pixel outputs: a segmentation export
        try:
            check_writable_dir(FLAGS.output_dir)
        except ValueError as err:
            _common.fail(PROG, f"--output_dir: {err}")
        try:
            outputs = mask_paths(images, FLAGS.output_dir)
        except ValueError as err:
            _common.fail(PROG, f"{err}")
    failed = 0
    for path in images:
        try:
            image = read_image(path, artifact)
        except ValueError as err:
            print(f"{PROG}: error: {path}: {err}", file=sys.stderr, flush=True)
            failed += 1
            continue
        probabilities = artifact(image[None])[0]
        ranked = top_k(probabilities, FLAGS.top_k, artifact.class_names)
        line = f"{path}: {describe_prediction(ranked, segmentation=np.ndim(probabilities) > 1)}"
        if outputs is not None:
            write_mask(probabilities, image, outputs[path])
            line += f" -> {outputs[path][0]}, {outputs[path][1]}"
        print(line, flush=True)
    if failed:
        print(f"{PROG}: {failed} of {len(images)} images could not be predicted", file=sys.stderr)
        sys.exit(1)


def _message(err: Exception, path: str) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if text.startswith(path) else f"{path}: cannot load ({type(err).__name__}: {text})"


def parse_flags(argv):
    return _common.parse_flags(PROG, DOC, FLAGS, argv)


def run():
    _common.run_command(PROG, DOC, FLAGS, main)


if __name__ == "__main__":
    run()
