"""What the command lines share: their own typed absl flags, ``--help`` that lists them (at once:
nothing here imports TensorFlow), one-line usage errors, and a quiet TensorFlow import.

Each command keeps its flags in its own ``FlagValues`` (several commands define flags of the
same names, and the tests run them in one process); absl's own flags (``--verbosity``,
``--logtostderr``, ...) are parsed from what is left. ``--help`` (``-h``, ``--helpshort``)
prints the command's docstring and every flag of its own with its help text and default;
``--helpfull`` adds absl's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from typing import NoReturn

__all__ = [
    "USAGE_ERROR",
    "fail",
    "help_text",
    "parse_flags",
    "run_command",
    "import_tensorflow_quietly",
    "held_stderr",
    "quiet_logs",
    "check_output",
]

USAGE_ERROR = 2
HELP_FLAGS = {"-h": False, "--help": False, "-help": False, "--helpshort": False, "--helpfull": True, "-helpfull": True}


def fail(prog: str, message: str) -> NoReturn:
    """Print ``prog: error: message`` on one line and exit with the usage-error status."""
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(USAGE_ERROR)


def help_text(prog: str, doc: str, flag_values, full: bool = False) -> str:
    """The command's docstring and every one of its flags (with absl's own when ``full``)."""
    from absl import flags

    own = flag_values.get_help(prefix="", include_special_flags=False).splitlines()
    own = [line for line in own if line.startswith(" ")]  # drop the "module:" heading
    text = f"{prog}: {doc.strip()}\n\nflags:\n" + "\n".join(own) + "\n"
    if full:
        text += "\nabsl's flags:\n" + flags.FLAGS.get_help(prefix="  ") + "\n"
    else:
        text += "\n(--helpfull also lists absl's own flags: --verbosity, --logtostderr, ...)\n"
    return text


def parse_flags(prog: str, doc: str, flag_values, argv: list[str]) -> list[str]:
    """Parse ``flag_values`` from ``argv``, then absl's own flags from what is left; answer
    ``--help`` / ``--helpfull`` and exit 0; any other flag or a bad value is a one-line usage
    error. Returns the positional arguments (``argv[0]`` first)."""
    from absl import flags

    for arg in argv[1:]:
        if arg == "--":
            break
        if arg in HELP_FLAGS:
            print(help_text(prog, doc, flag_values, full=HELP_FLAGS[arg]), end="")
            sys.exit(0)
    try:
        rest = flag_values(argv, known_only=True)
        absl_flags = {
            f.name for module, fs in flags.FLAGS.flags_by_module_dict().items() if module.startswith("absl") for f in fs
        }
        absl_flags |= {f"no{name}" for name in absl_flags}
        for arg in rest[1:]:
            if arg == "--":
                break
            name = arg.lstrip("-").split("=", 1)[0]
            if arg.startswith("-") and len(arg) > 1 and name not in absl_flags:
                raise flags.UnrecognizedFlagError(name, arg)
        return flags.FLAGS(rest)
    except flags.Error as err:
        fail(prog, _flag_message(str(err), flag_values))


def _flag_message(text: str, flag_values) -> str:
    """absl's ``flag --epochs=abc: invalid literal for int() ...`` as ``--epochs: cannot read
    'abc' as a positive integer``: the flag, what was wrong, what would be right."""
    match = re.match(r"flag --(\w+)=(.*?): (.*)$", text, re.S)
    if not match:
        return text
    name, value, what = match.groups()
    if name in flag_values and ("invalid literal" in what or "could not convert" in what):
        what = f"cannot read {value!r} as {flag_values[name].parser.syntactic_help}"
    elif "Non-boolean argument to boolean flag" in what:
        what = f"cannot read {value!r} as a boolean (true, false, 1 or 0; or --{name} / --no{name})"
    return f"--{name}: {what}"


def run_command(prog: str, doc: str, flag_values, main) -> None:
    """The console entry point: absl's ``app.run(main)`` with the command's own flag parsing."""
    from absl import app

    app.run(main, flags_parser=lambda argv: parse_flags(prog, doc, flag_values, argv))


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up chatter (CUDA probing on CPU machines) held back,
    and its Python logger at ERROR (SavedModel asset lines and the like).

    File descriptor 2 goes to a temporary file while TensorFlow loads; the text is replayed
    if the import fails, so the real error still reaches the user.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        with held_stderr(replay=True):
            import tensorflow  # noqa: F401
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


@contextlib.contextmanager
def held_stderr(replay: bool = True):
    """Hold back file descriptor 2 (the TFLite converter's and tf2onnx's C++ progress lines)
    while the block runs; replay it if the block raises (unless not ``replay``: the caller
    reports the error in one line), so real errors still reach the user."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            if replay:
                held.seek(0)
                sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


class _StderrHandler(logging.Handler):
    """``prog: message`` (``prog: warning: message``) on whatever ``sys.stderr`` is at the time."""

    def __init__(self, prog: str):
        super().__init__()
        self.prog = prog

    def emit(self, record: logging.LogRecord) -> None:
        kind = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        print(f"{self.prog}: {kind}{record.getMessage()}", file=sys.stderr, flush=True)


def quiet_logs(prog: str) -> None:
    """absl at WARNING unless ``--verbosity`` asks for more; kcnn's own messages (the ``kcnn``
    logger: resuming, skipped files, warnings) on stderr as ``prog: message``."""
    from absl import flags
    from absl import logging as absl_logging

    if not flags.FLAGS["verbosity"].present:
        absl_logging.set_verbosity(absl_logging.WARNING)
    logger = logging.getLogger("kcnn")
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    logger.addHandler(_StderrHandler(prog))
    logger.setLevel(logging.INFO)
    logger.propagate = False


def check_output(prog: str, flag: str, path: str, directory: bool = False) -> None:
    """Fail with a usage error unless ``path`` (a file, or with ``directory`` a directory) can be
    written, before any work: a file must not name a directory, a directory not a file."""
    from kcnn.io import check_writable_dir

    if not directory and os.path.isdir(path):
        fail(prog, f"{flag}: {path} is a directory; give a file name")
    if directory and os.path.exists(path) and not os.path.isdir(path):
        fail(prog, f"{flag}: {path} exists and is not a directory")
    try:
        check_writable_dir(path if directory else os.path.dirname(os.path.abspath(path)))
    except ValueError as err:
        fail(prog, f"{flag}: {err}")


def warn_missed_targets(prog: str, artifacts: dict) -> None:
    """One warning line on stderr per export target (kcnn.export.formats) an artifact missed."""
    for fmt, entry in artifacts.items():
        for target, t in entry.get("targets", {}).items():
            if t["met"] is False:
                print(
                    f"{prog}: warning: {fmt}: {target} {t['value']:.4g} misses its target {t['target']:g}",
                    file=sys.stderr,
                )
