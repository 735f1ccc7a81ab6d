"""What the command-line runners share: a quiet TensorFlow import and one-line usage errors."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

USAGE_ERROR = 2


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up chatter (CUDA probing on CPU machines) held back.

    File descriptor 2 goes to a temporary file while TensorFlow loads; the text is replayed
    only if the import fails, so real errors still reach the user.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            if replay:
                held.seek(0)
                sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def fail(prog: str, message: str) -> None:
    """Print ``prog: error: message`` on one line and exit with the usage-error status."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(USAGE_ERROR)


def quiet_tensorflow(flag_values) -> None:
    """TensorFlow's INFO chatter (SavedModel asset lines, ...) off unless --verbosity asks for it."""
    from absl import logging

    if not flag_values["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
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


def parse_flags(prog: str, flag_values, argv):
    """Parse a runner's own ``flag_values``, then absl's own flags (--verbosity, --help, ...)
    from what is left; any other flag, or a bad value, is a one-line usage error."""
    from absl import flags

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
        fail(prog, str(err))


def adopt_flags(flag_values) -> None:
    """Show a runner's own flags in --help: add them to absl's global flags as the main module's
    key flags (done by the console entry point only: one runner per process)."""
    from absl import flags

    flags.FLAGS.append_flag_values(flag_values)
    for name in flag_values:
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag_values[name])
