"""kcnn-study: --help and --list without TensorFlow, a quick study through the command line
(files written, the RESULTS.md row printed), one-line usage errors (exit status 2)."""

import json
import os
import subprocess
import sys

import pytest

from kcnn.cli import study as study_cli
from kcnn.studies import study_names
from tests.cli.runner import invoke_runner

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_cli")]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("flag", ["--help", "--list"])
def test_help_and_list_without_tensorflow(flag):
    code = (
        "import sys; from kcnn.cli import study as cli\n"
        f"try:\n    cli.main(cli.parse_flags(['kcnn-study', '{flag}']))\n"
        "except SystemExit as e:\n    print('exit', e.code)\n"
        "print('loaded', 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.stdout.strip().endswith("loaded False False"), proc.stdout[-500:] + proc.stderr[-500:]
    if flag == "--help":
        for name in study_cli.FLAGS:
            assert f"--{name}:" in proc.stdout or f"--[no]{name}:" in proc.stdout, name
    else:
        listed = [line.split()[0] for line in proc.stdout.splitlines()[:-1]]
        assert listed == study_names() and "initialization" in listed and "saddle" in listed


def test_quick_study_writes_its_files_and_prints_the_results_row(capsys, tmp_path):
    out = tmp_path / "studies"
    code, stdout, err = invoke_runner(
        study_cli, "kcnn-study", capsys, "reductions", "--quick", f"--output_dir={out}", "--seed=1"
    )
    assert code == 0, err
    result = json.loads((out / "reductions.json").read_text())
    assert result["seed"] == 1 and result["command"] == "kcnn-study reductions --quick --seed=1"
    assert (out / "reductions.png").read_bytes()[:4] == b"\x89PNG"
    lines = stdout.strip().splitlines()
    assert lines[0].startswith("reductions: not judged (quick run): example: 120,422,400 vs 12,443,648 MACs")
    assert lines[-1].startswith("| 7. ") and lines[-1].endswith("| **not judged (quick run)** |")


@pytest.mark.parametrize(
    "argv, message",
    [
        ((), "give one study NAME (kcnn-study --list lists them)"),
        (("depht",), "NAME: unknown study 'depht'; closest: depth"),
        (("depth", "saddle"), "give one study NAME (kcnn-study --list lists them); got 'depth saddle'"),
        (("--list", "depth"), "--list takes no study NAME"),
        (("depth", "--seed=-3"), "--seed: -3 is not a non-negative integer"),
    ],
)
def test_usage_errors_are_one_line_naming_the_culprit(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke_runner(study_cli, "kcnn-study", capsys, *argv)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"kcnn-study: error: {message}"), err
    assert os.listdir(tmp_path) == []
