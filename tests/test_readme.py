"""The README is true: its Python blocks run (in order, in one namespace, in a temporary
directory) and reach sane results; every kcnn-* command line in it parses and its config
validates; the error transcript is what the commands print."""

from __future__ import annotations

import os
import re
import shlex

import pytest
from absl import flags

from kcnn.cli import export as export_cli
from kcnn.cli import hessian as hessian_cli
from kcnn.cli import predict as predict_cli
from kcnn.cli import profile as profile_cli
from kcnn.cli import study as study_cli
from kcnn.cli import train as train_cli
from kcnn.cli import visualize as visualize_cli

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("readme")]
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
COMMANDS = {
    "kcnn-train": train_cli,
    "kcnn-export": export_cli,
    "kcnn-predict": predict_cli,
    "kcnn-profile": profile_cli,
    "kcnn-visualize": visualize_cli,
    "kcnn-hessian": hessian_cli,
    "kcnn-study": study_cli,
}


def blocks(language: str) -> list[str]:
    """The README's fenced code blocks of ``language`` ("" for blocks without one)."""
    found, current, lang = [], None, None
    with open(README, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                if current is None:
                    current, lang = [], line[3:].strip()
                else:
                    if lang == language:
                        found.append("".join(current))
                    current = None
            elif current is not None:
                current.append(line)
    return found


def command_lines() -> list[str]:
    """Every kcnn-* command of the README's sh blocks, continuation lines joined."""
    lines = []
    for block in blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("kcnn-") else line.strip()
            if line.startswith("kcnn-"):
                lines.append(re.sub(r"\s+#.*$", "", line))
    return lines


def parse(module, prog: str, argv: list[str]):
    module.FLAGS.unparse_flags()
    flags.FLAGS.unparse_flags()
    try:
        return module.parse_flags([prog, *argv])
    finally:
        flags.FLAGS.unparse_flags()


def test_the_readme_has_what_this_file_checks():
    assert len(blocks("python")) >= 3 and len(command_lines()) >= 10


@pytest.mark.parametrize("line", command_lines())
def test_every_command_line_parses_and_validates(line):
    prog, *argv = shlex.split(line)
    module = COMMANDS[prog]
    try:
        parse(module, prog, argv)
        if module is train_cli:
            train_cli.resolve_config().validate()
    except SystemExit as stop:  # a usage error
        pytest.fail(f"{line!r}: exit {stop.code}")
    finally:
        module.FLAGS.unparse_flags()


def test_the_error_transcript_is_what_kcnn_train_prints(capsys, tmp_path, monkeypatch):
    transcript = next(b for b in blocks("") if b.startswith("$ kcnn-train --model=lenet6"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    pairs = re.findall(r"^\$ (kcnn-train .*)\n(kcnn-train: error: .*)$", transcript, flags=re.M)
    assert len(pairs) >= 4
    for command, expected in pairs:
        _, *argv = shlex.split(command)
        with pytest.raises(SystemExit) as stop:
            train_cli.main(parse(train_cli, "kcnn-train", argv))
        train_cli.FLAGS.unparse_flags()
        assert stop.value.code == 2
        assert capsys.readouterr().err.strip() == expected
    assert os.listdir(tmp_path) == []


def test_the_python_blocks_run_and_reach_sane_results(tmp_path, monkeypatch, fashion_mnist_dir):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, block in enumerate(blocks("python")):
        exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
    # sane, not tuned: about 0.78 each here after 2 epochs on 10,000 images; chance is 0.1
    assert namespace["accuracy"] > 0.65  # lenet5_modern
    assert namespace["head_accuracy"] > 0.6  # a new head on the frozen trained body
    assert namespace["results"]["test_accuracy"] > 0.65  # lenet5 through kcnn.training.train
