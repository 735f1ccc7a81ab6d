"""kcnn-train's flag checks: one line naming the flag, exit status 2, nothing written."""

import os
import subprocess
import sys

import pytest
from absl import flags

from experiments import train as cli

pytestmark = pytest.mark.tf_only


@pytest.fixture
def run_cli(tmp_path, capsys):
    def run(*args):
        model_dir = tmp_path / "run"
        argv = ["kcnn-train", f"--model_dir={model_dir}", *args]
        flags.FLAGS.unparse_flags()
        try:
            with pytest.raises(SystemExit) as stop:
                cli.main(cli.parse_flags(argv))
        finally:
            flags.FLAGS.unparse_flags()
        err = capsys.readouterr().err.strip().splitlines()
        return stop.value.code, err, model_dir

    return run


@pytest.mark.parametrize(
    "args, flag, words",
    [
        (["--model=lenet7"], "--model", "closest: lenet5"),
        (["--dataset=no_such_set"], "--dataset", "unknown dataset 'no_such_set'"),
        (["--epochs=0"], "--epochs", "must be a positive int"),
        (["--batch_size=-8"], "--batch_size", "must be a positive int"),
        (["--batch_size=abc"], "--batch_size", "cannot read 'abc' as int"),
        (["--learning_rate=0"], "--learning_rate", "must be a positive float"),
        (["--optimizer=adagrad"], "--optimizer", "must be one of sgd, adam, adamw, rmsprop"),
        (["--export=onnx2"], "--export", "unknown export format 'onnx2'"),
        (["--validation=2"], "--validation", "fraction in (0, 1)"),
        (
            ["--dataset=synthetic", "--image_size=64"],
            "--model",
            "lenet5 cannot take synthetic images of shape (64, 64, 1)",
        ),
        (["--config=no_preset"], "--config", "no preset 'no_preset'"),
        (["--set=train.nonsense=1"], "--set=train.nonsense", "no such config field"),
        (["--strategy=tpu"], "--strategy", "tpu: no TPU found"),
        (["--strategy=multi_worker"], "--strategy", "multi_worker needs the TF_CONFIG environment variable"),
        (["--strategy=mirrored"], "--strategy", "mirrored needs at least two devices"),
        (
            ["--schedule=step", "--set=train.lr_boundaries=[20]", "--epochs=10"],
            "--set=train.lr_boundaries",
            "boundary at epoch 20 is beyond the run's 10 epochs",
        ),
        (
            ["--augment=mixup", "--loss=sparse_cross_entropy"],
            "--loss, --augment",
            "sparse_cross_entropy cannot take the soft labels",
        ),
        (["--augment=crop:x"], "--augment", "padding must be an integer"),
        (["--precision=half"], "--precision", "must be one of float32, mixed_float16, mixed_bfloat16, auto"),
        (["--finetune=/no/such.weights.h5"], "--finetune", "no such file"),
        (["--label_smoothing=0.1", "--loss=mse"], "--label_smoothing", "needs train.loss=cross_entropy"),
    ],
)
def test_bad_flags_fail_fast_with_one_line(run_cli, args, flag, words):
    code, err, model_dir = run_cli(*args)
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"kcnn-train: error: {flag}") and words in err[0], err
    assert not model_dir.exists()


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)


def test_unknown_flag_is_a_usage_error_too(run_cli):
    code, err, model_dir = run_cli("--epoks=3")
    assert code == 2 and len(err) == 1 and "epoks" in err[0] and not model_dir.exists()


def test_console_script_exit_status(tmp_path):
    """The installed entry point, as a process: status 2 and one line on stderr."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.train", "--model=nope", f"--model_dir={tmp_path / 'r'}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("kcnn-train: error: --model: unknown model 'nope'")
    assert not (tmp_path / "r").exists()
