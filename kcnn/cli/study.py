"""check one of the CNN notes' claims by experiment: train on real Fashion-MNIST, judge the claim by
the study's stated rule, and write NAME.json and NAME.png.

  kcnn-study --list                                   # the studies, with the claim each checks
  kcnn-study activations                              # the full run (each under ~10 min on 2 CPU cores)
  kcnn-study initialization --quick --output_dir=/tmp/studies

The last line printed is the study's row of experiments/RESULTS.md (claim, source in the
notes, what was measured, command, wall time, verdict). A --quick run is too small to judge
its claim: its verdict is "not judged (quick run)".
"""

from __future__ import annotations

from absl import flags

from kcnn.cli import _common

PROG = "kcnn-study"
DOC = __doc__
FLAGS = flags.FlagValues()
flags.DEFINE_bool("list", False, "list the studies (name, the notes' claim) and exit", flag_values=FLAGS)
flags.DEFINE_bool("quick", False, "the seconds-long version the tests run (not judged)", flag_values=FLAGS)
flags.DEFINE_string("output_dir", "runs/studies", "where NAME.json and NAME.png go", flag_values=FLAGS)
flags.DEFINE_integer("seed", 0, "random seed (data subsets, initialization, order)", lower_bound=0, flag_values=FLAGS)


def print_list() -> None:
    from kcnn.studies.catalog import STUDIES, study_names

    width = max(map(len, STUDIES))
    for name in study_names():
        entry = STUDIES[name]
        print(f"{name:<{width}}  {entry.item:>2}. {entry.claim}  [{entry.source}]")


def main(argv):
    if FLAGS.list:
        if len(argv) > 1:
            _common.fail(PROG, f"--list takes no study NAME; got {' '.join(argv[1:])!r}")
        print_list()
        return
    if len(argv) != 2:
        extra = f"; got {' '.join(argv[1:])!r}" if len(argv) > 2 else ""
        _common.fail(PROG, f"give one study NAME (kcnn-study --list lists them){extra}")
    from kcnn.io import check_writable_dir
    from kcnn.studies.catalog import study

    name = argv[1]
    try:
        study(name)
    except ValueError as err:
        _common.fail(PROG, f"NAME: {err}")
    try:
        check_writable_dir(FLAGS.output_dir)
    except ValueError as err:
        _common.fail(PROG, f"--output_dir: {err}")
    _common.quiet_logs(PROG)
    _common.import_tensorflow_quietly()
    from kcnn.studies import markdown_row, run_study

    result = run_study(name, quick=FLAGS.quick, output_dir=FLAGS.output_dir, seed=FLAGS.seed)
    print(f"{name}: {result['verdict']}: {result['reason']}")
    for kind, path in result["files"].items():
        print(f"  {kind:4s} {path}")
    print(f"{PROG}: {result['wall_seconds']:.0f} s ({result['cpu_seconds']:.0f} CPU-s); RESULTS.md row:")
    print(markdown_row(result), flush=True)


def parse_flags(argv):
    return _common.parse_flags(PROG, DOC, FLAGS, argv)


def run():
    _common.run_command(PROG, DOC, FLAGS, main)


if __name__ == "__main__":
    run()
