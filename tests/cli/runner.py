"""Run a kcnn runner (kcnn-export, kcnn-predict) in this process, as its console script would."""

from absl import flags


def invoke_runner(cli, prog: str, capsys, *argv):
    """(exit status, stdout, stderr lines) of ``cli.main`` on ``argv``; every flag reset after."""
    cli.FLAGS.unparse_flags()
    flags.FLAGS.unparse_flags()
    code = 0
    try:
        cli.main(cli.parse_flags([prog, *argv]))
    except SystemExit as stop:
        code = stop.code
    finally:
        cli.FLAGS.unparse_flags()
        flags.FLAGS.unparse_flags()
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()
