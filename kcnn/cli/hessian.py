"""the Hessian of a trained model's loss: top eigenvalues, the most negative one, the trace and the
verdict "local minimum", "saddle point" or "inconclusive" (the notes' criterion).

  kcnn-hessian --model_dir=runs/demo                      # one batch of 128 of the run's training split
  kcnn-hessian --model_dir=runs/demo --batches=4 --top_k=3 --json=hessian.json
  kcnn-hessian --keras=model.keras --dataset=fashion_mnist --split=train[:512]

Everything is built on Hessian-vector products (double backprop; memory of the order of
the parameters, never the dense matrix), with BatchNorm in inference mode and the loss the
run was trained with (cross-entropy from probabilities for a bare .keras file). The top
eigenvalues come from power iteration with deflation, the extremes from Lanczos
(--lanczos_steps), the trace from Hutchinson's estimator (--trace_samples; 0 skips it).
A model with no trainable weights or a split with no examples is refused.
"""

from __future__ import annotations

import time

from absl import flags

from kcnn.cli import _common

PROG = "kcnn-hessian"
DOC = __doc__
FLAGS = flags.FlagValues()
flags.DEFINE_string("model_dir", None, "a kcnn-train run directory (model.keras, config.json)", flag_values=FLAGS)
flags.DEFINE_string("keras", None, "a .keras file (labels as class indices)", flag_values=FLAGS)
flags.DEFINE_string("dataset", None, "with --keras: the dataset the batches come from", flag_values=FLAGS)
flags.DEFINE_string(
    "split", None, "the split the batches come from (default: the run's training split, or train)", flag_values=FLAGS
)
flags.DEFINE_integer("batches", 1, "batches the loss is averaged over", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_integer("batch_size", 128, "examples per batch", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_integer("top_k", 1, "eigenvalues by power iteration", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_integer("lanczos_steps", 30, "Lanczos iterations for the extremes", lower_bound=2, flag_values=FLAGS)
flags.DEFINE_integer(
    "trace_samples", 30, "Hutchinson samples for the trace (0: skip)", lower_bound=0, flag_values=FLAGS
)
flags.DEFINE_integer("max_iters", 100, "power iterations per eigenvalue at most", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_float(
    "rtol", 1e-3, "eigenvalues within rtol * |largest| of 0 count as 0", lower_bound=0, flag_values=FLAGS
)
flags.DEFINE_integer("seed", 0, "random starting vectors", flag_values=FLAGS)
flags.DEFINE_string("json", None, "also write the report to this JSON file", flag_values=FLAGS)


def main(argv):
    if len(argv) > 1:
        _common.fail(PROG, f"unexpected arguments {' '.join(argv[1:])!r} (all options are --flags)")
    if (FLAGS.model_dir is None) == (FLAGS.keras is None):
        _common.fail(PROG, "give exactly one of --model_dir (a kcnn-train run) or --keras (a .keras file)")
    if FLAGS.keras is not None and FLAGS.dataset is None:
        _common.fail(PROG, "--dataset: required with --keras (the data the loss is taken on)")
    if FLAGS.model_dir is not None and FLAGS.dataset is not None:
        _common.fail(PROG, "--dataset: the run directory names its dataset; --dataset goes with --keras")
    if FLAGS.json:
        _common.check_output(PROG, "--json", FLAGS.json)
    _common.quiet_logs(PROG)
    _common.import_tensorflow_quietly()
    from kcnn.analysis import hessian, runs
    from kcnn.io import atomic_write_json

    flag = "model_dir" if FLAGS.model_dir is not None else "keras"
    try:
        source = (
            runs.from_model_dir(FLAGS.model_dir) if flag == "model_dir" else runs.from_keras(FLAGS.keras, FLAGS.dataset)
        )
    except ValueError as err:
        _common.fail(PROG, f"--{flag}: {err}")
    split = FLAGS.split or source.train_split
    tic = time.perf_counter()
    try:
        data = source.batches(split, FLAGS.batch_size, FLAGS.batches)
    except ValueError as err:
        _common.fail(PROG, f"--split={split}: {err}")
    try:
        report = hessian.analyze(
            source.model,
            data,
            loss=source.loss,
            top_k=FLAGS.top_k,
            lanczos_steps=FLAGS.lanczos_steps,
            trace_samples=FLAGS.trace_samples,
            max_iters=FLAGS.max_iters,
            rtol=FLAGS.rtol,
            seed=FLAGS.seed,
        )
    except ValueError as err:
        _common.fail(PROG, f"--{flag}: {err}")
    where = FLAGS.model_dir or FLAGS.keras
    print(f"{PROG}: {where} on {source.dataset} {split}, {FLAGS.batches} x {FLAGS.batch_size}")
    print(report, flush=True)
    print(f"{PROG}: {time.perf_counter() - tic:.1f} s in all (data included)")
    if FLAGS.json:
        atomic_write_json(FLAGS.json, {**report.to_dict(), "model": where, "split": split, "batches": FLAGS.batches})
        print(f"{PROG}: wrote {FLAGS.json}")


def parse_flags(argv):
    return _common.parse_flags(PROG, DOC, FLAGS, argv)


def run():
    _common.run_command(PROG, DOC, FLAGS, main)


if __name__ == "__main__":
    run()
