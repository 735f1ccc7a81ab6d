"""per-layer parameters, multiply-accumulates and receptive fields of a network.

  kcnn-profile resnet50                           # a registered model at its default input
  kcnn-profile resnet50 --input_shape=160,160,3 --markdown
  kcnn-profile runs/demo/model.keras --csv=profile.csv
  kcnn-profile lenet5 --convention=notes          # the notes' FLOPs: H*W*(k*k*C_in + 1)*C_out

MODEL is a registered name (kcnn.list_models()) or a .keras file. The table lists every
layer (nested models expanded): output shape, parameters, MACs of convolutions and dense
layers (torchvision's count; --convention=notes adds one bias add per output), the other
operations apart (normalization, activations, pooling, merges), the receptive field and
the jump (effective stride) in input pixels. Computed from shapes: nothing is run.
A layer type kcnn has no rule for is listed as uncounted, never counted as free.
"""

from __future__ import annotations

from absl import flags

from kcnn.cli import _common

PROG = "kcnn-profile"
DOC = __doc__
FLAGS = flags.FlagValues()
flags.DEFINE_list(
    "input_shape", None, "HEIGHT,WIDTH,CHANNELS (default: the model's, or the registry's)", flag_values=FLAGS
)
flags.DEFINE_enum("convention", "macs", ["macs", "notes"], "what the cost column counts", flag_values=FLAGS)
flags.DEFINE_bool("markdown", False, "print a Markdown table instead of the text one", flag_values=FLAGS)
flags.DEFINE_string("csv", None, "also write the rows to this CSV file", flag_values=FLAGS)


def _input_shape():
    if FLAGS.input_shape is None:
        return None
    try:
        shape = tuple(int(s) for s in FLAGS.input_shape)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        _common.fail(
            PROG,
            f"--input_shape: expected three positive integers HEIGHT,WIDTH,CHANNELS, got {','.join(FLAGS.input_shape)}",
        )
    return shape


def main(argv):
    if len(argv) != 2:
        _common.fail(PROG, "give one MODEL: a registered name or a .keras file (kcnn-profile MODEL [--flags])")
    model_arg, shape = argv[1], _input_shape()
    if FLAGS.csv:
        _common.check_output(PROG, "--csv", FLAGS.csv)
    _common.quiet_logs(PROG)
    _common.import_tensorflow_quietly()
    import kcnn
    from kcnn.analysis import profile, runs

    try:
        if model_arg.endswith(".keras"):
            model = runs.from_keras(model_arg).model
        else:
            shape = shape or kcnn.model_info(model_arg).input_shape
    except ValueError as err:
        _common.fail(PROG, f"MODEL: {err}")
    if not model_arg.endswith(".keras"):
        try:  # built at the size asked for: fixed-size classifiers (a flattening top) need it
            model = kcnn.create_model(model_arg, input_shape=shape)
        except ValueError as err:
            _common.fail(PROG, f"--input_shape: {err}")
    try:
        result = profile(model, shape, convention=FLAGS.convention)
    except ValueError as err:
        _common.fail(PROG, f"--input_shape: {err}")
    print(result.to_markdown() if FLAGS.markdown else result, flush=True)
    if FLAGS.csv:
        result.to_csv(FLAGS.csv)
        print(f"{PROG}: wrote {FLAGS.csv}")


def parse_flags(argv):
    return _common.parse_flags(PROG, DOC, FLAGS, argv)


def run():
    _common.run_command(PROG, DOC, FLAGS, main)


if __name__ == "__main__":
    run()
