"""kcnn-train as absl users expect it: typed flags (bare booleans, --noflag), --help listing every
flag without importing TensorFlow, and the console script's exit status. The bad values of
every flag are in tests/bad_input_cases.py."""

import os
import re
import subprocess
import sys

import pytest
from absl import flags

from kcnn.cli import train as cli
from kcnn.training.config import ExperimentConfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def resolve(*argv) -> ExperimentConfig:
    cli.FLAGS.unparse_flags()
    flags.FLAGS.unparse_flags()
    try:
        cli.parse_flags(["kcnn-train", *argv])
        return cli.resolve_config()
    finally:
        cli.FLAGS.unparse_flags()
        flags.FLAGS.unparse_flags()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--model=lenet5"], False),
        (["--model=lenet5", "--deterministic", "--model_dir=runs/x"], True),
        (["--model=lenet5", "--deterministic=true"], True),
        (["--model=lenet5", "--deterministic=false"], False),
        (["--model=lenet5", "--nodeterministic", "--set=train.deterministic=true"], True),
    ],
)
def test_boolean_flags_work_bare_and_with_values(argv, expected):
    config = resolve(*argv)
    assert config.train.deterministic is expected
    if "--model_dir=runs/x" in argv:
        assert config.model_dir == "runs/x"


def test_flags_override_the_preset_only_when_given():
    config = resolve("--config=resnet20_cifar10", "--batch_size=64", "--ema")
    assert config.train.batch_size == 64 and config.train.ema is True
    assert config.train.optimizer == "sgd" and config.train.momentum == 0.9  # the preset's
    assert config.data.augment == ["flip", "crop:4"]


def test_epochs_on_a_step_preset_scale_its_boundaries():
    config = resolve("--config=resnet20_cifar10", "--epochs=1", "--schedule=constant")
    assert config.validate() is config  # boundaries matter only to the step schedule
    config = resolve("--config=resnet110_cifar10", "--epochs=4")
    preset = resolve("--config=resnet110_cifar10")
    factor = 4 / preset.train.epochs
    assert config.train.lr_boundaries == [round(b * factor, 4) for b in preset.train.lr_boundaries]
    assert config.train.warmup_epochs == round(preset.train.warmup_epochs * factor, 4)
    assert config.validate() is config
    given = resolve("--config=resnet20_cifar10", "--epochs=4", "--set=train.lr_boundaries=[2,3]")
    assert given.train.lr_boundaries == [2, 3]


def test_help_lists_every_flag_with_its_default_without_tensorflow():
    code = (
        "import sys; from kcnn.cli import train\n"
        "try:\n    train.parse_flags(['kcnn-train', '--help'])\n"
        "except SystemExit as e:\n    print('exit', e.code, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    text = proc.stdout
    assert text.strip().endswith("exit 0 False False"), text[-500:]
    for name in cli.FLAGS:
        assert f"--{name}:" in text or f"--[no]{name}:" in text, name
    assert "(default: the preset's, else 128)" in text and "--[no]deterministic" in text
    for fmt in ("savedmodel", "float32", "float16", "dynamic_int8", "int8", "int8_io", "onnx"):
        assert fmt in text
    assert "--verbosity:" not in text


def test_helpfull_adds_absl_flags(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.parse_flags(["kcnn-train", "--helpfull"])
    assert stop.value.code == 0 and "--verbosity" in capsys.readouterr().out


def test_console_script_exit_status(tmp_path):
    """The installed entry point, as a process: status 2 and one line on stderr."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "kcnn.cli.train", "--model=nope", f"--model_dir={tmp_path / 'r'}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("kcnn-train: error: --model: unknown model 'nope'")
    assert not (tmp_path / "r").exists()


def _tiny_run(run, exports) -> list[str]:
    return [
        "--model=lenet5_modern",
        "--dataset=fashion_mnist",
        "--train_split=train[:256]",
        "--test_split=test[:64]",
        "--validation=none",
        "--epochs=1",
        "--export=float32",
        f"--export_dir={exports}",
        f"--model_dir={run}",
    ]


@pytest.mark.tf_only
def test_a_failed_export_keeps_the_finished_runs_results(tmp_path, capsys, monkeypatch, fashion_mnist_dir):
    """The export runs after training: when an artifact fails its check, results.json and
    model.keras stay, the summary is printed, and one error line says how to export again."""
    import dataclasses
    import json

    from kcnn.export import formats
    from tests.cli.runner import invoke_runner

    strict = dataclasses.replace(formats.FORMATS["float32"], max_abs_diff=-1.0)  # no artifact can pass
    monkeypatch.setitem(formats.FORMATS, "float32", strict)
    run, exports = tmp_path / "run", tmp_path / "exports"
    code, out, err = invoke_runner(cli, "kcnn-train", capsys, *_tiny_run(run, exports))
    assert code == 1
    assert err[-1].startswith("kcnn-train: error: --export: float32 export of lenet5_modern differs from the Keras")
    assert f"kcnn-export --model_dir={run} exports it again" in err[-1]
    results = json.loads((run / "results.json").read_text())
    assert results["test_examples"] == 64 and "exports" not in results and (run / "model.keras").is_file()
    assert "test accuracy" in out
    assert not exports.exists() or not any(exports.rglob("*.tflite"))


@pytest.mark.tf_only
def test_the_summary_gives_each_exports_test_score_and_warns_of_missed_targets(
    tmp_path, capsys, monkeypatch, fashion_mnist_dir
):
    import dataclasses

    from kcnn.export import formats
    from tests.cli.runner import invoke_runner

    unreachable = dataclasses.replace(formats.FORMATS["float32"], targets={"max_abs_diff": -1.0})
    monkeypatch.setitem(formats.FORMATS, "float32", unreachable)
    code, out, err = invoke_runner(cli, "kcnn-train", capsys, *_tiny_run(tmp_path / "run", tmp_path / "exports"))
    assert code == 0
    assert re.search(
        r"export float32 .*model_float32.tflite  \([\d,]+ bytes, max \|diff\| vs Keras .*, test accuracy 0\.\d{4}\)",
        out,
    )
    assert re.fullmatch(r"kcnn-train: warning: float32: max_abs_diff \S+ misses its target -1", err[-1])
