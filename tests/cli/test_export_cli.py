"""kcnn-export: one-line errors naming the flag (exit 2, nothing written), versions, a real export."""

import json
import os
import subprocess
import sys

import keras
import pytest

import kcnn
from kcnn.cli import export as cli
from tests.cli.runner import invoke_runner
from tests.export.runs import trained_run

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("export_cli")]


def invoke(capsys, *argv):
    """Run kcnn-export in this process: (exit status, stdout, stderr lines)."""
    return invoke_runner(cli, "kcnn-export", capsys, *argv)


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("keras_files")
    kcnn.create_model("lenet5_modern").save(root / "lenet.keras")
    kcnn.create_model("lenet5_modern", classes=5).save(root / "five.keras")
    inputs = keras.Input((28, 28, 1))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x[:, 0, 0, :] * 0)(inputs)).save(root / "lambda.keras")
    (root / "three.txt").write_text("a\nb\nc\n")
    (root / "empty_run").mkdir()
    return root


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory, fashion_mnist_dir):
    return trained_run(tmp_path_factory, "lenet5")


@pytest.mark.parametrize(
    "args, flag, words",
    [
        ([], "--model_dir", "give exactly one of --model_dir"),
        (["--keras={k}/lenet.keras", "--model_dir={k}/empty_run"], "--model_dir", "give exactly one"),
        (["--keras={k}/nope.keras"], "--keras", "nope.keras: no such file"),
        (
            ["--keras={k}/lambda.keras", "--formats=float32", "--noaccuracy"],
            "--keras",
            "lambda.keras: refused: it holds Python code",
        ),
        (["--keras={k}/lenet.keras", "--formats=int9"], "--formats", "unknown export format 'int9'"),
        (["--keras={k}/lenet.keras", "--formats="], "--formats", "no formats given"),
        (
            ["--keras={k}/lenet.keras", "--formats=float32,int8", "--noaccuracy"],
            "--formats",
            "int8 is calibrated on training images: give --dataset",
        ),
        (["--keras={k}/lenet.keras", "--formats=float32"], "--accuracy", "needs --dataset; pass --noaccuracy"),
        (["--keras={k}/lenet.keras", "--dataset=fashion_mnst"], "--dataset", "unknown dataset 'fashion_mnst'"),
        (["--keras={k}/lenet.keras", "--test_split=test[:10"], "--test_split", "expected NAME or NAME[start:stop]"),
        (["--keras={k}/lenet.keras", "--dataset=fashion_mnist", "--resize=cubic"], "--resize", "must be one of pad"),
        (["--keras={k}/lenet.keras", "--labels={k}/none.txt"], "--labels", "none.txt: no such file"),
        (
            ["--keras={k}/lenet.keras", "--dataset=fashion_mnist", "--labels={k}/three.txt"],
            "--labels",
            "three.txt has 3 classes but the model has 10 outputs",
        ),
        (
            ["--keras={k}/five.keras", "--dataset=fashion_mnist"],
            "--dataset",
            "dataset fashion_mnist has 10 classes but the model has 5 outputs",
        ),
        (["--keras={k}/lenet.keras", "--calibration_examples=0"], "--calibration_examples", "not a positive integer"),
        (["--keras={k}/lenet.keras", "--verify_examples=many"], "--verify_examples", "cannot read 'many'"),
        (["--keras={k}/lenet.keras", "--version=-1"], "--version", "not a non-negative integer"),
        (["--keras={k}/lenet.keras", "--name=../up"], "--name", "an export name must be"),
        (["--model_dir={k}/empty_run"], "--model_dir", "has no model.keras: not a finished kcnn-train run"),
        (["--model_dir={k}/no_run"], "--model_dir", "no_run: no such directory"),
        (["--model_dir={k}/empty_run", "--dataset=mnist"], "--dataset", "comes from the run's config.json"),
        (["--keras={k}/lenet.keras", "--epochs=3"], "", "Unknown command line flag 'epochs'"),
    ],
)
def test_bad_flags_fail_fast_with_one_line(capsys, tmp_path, keras_files, args, flag, words):
    output = tmp_path / "out"
    code, _, err = invoke(capsys, f"--output={output}", *(a.format(k=keras_files) for a in args))
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"kcnn-export: error: {flag}") and words in err[0], err
    assert not output.exists()


def test_export_a_run_versions_and_no_overwrite(capsys, tmp_path, lenet_run):
    output = tmp_path / "saved_models"
    args = [
        f"--model_dir={lenet_run}",
        f"--output={output}",
        "--formats=savedmodel,float32,int8",
        "--calibration_examples=100",
        "--verify_examples=200",
        "--test_examples=400",
        "--latency_runs=3",
    ]
    code, out, err = invoke(capsys, *args)
    assert code == 0, err
    version = output / "lenet5" / "1"
    assert f"exported to {version}" in out and "| int8 | model_int8.tflite |" in out
    for name in (
        "saved_model.pb",
        "variables",
        "assets/labels.txt",
        "model_float32.tflite",
        "model_int8.tflite",
        "labels.txt",
        "export.json",
        "report.md",
    ):
        assert (version / name).exists(), name
    report = json.loads((version / "export.json").read_text())
    assert report["test_examples"] == 400 and report["calibration_examples"] == 100 and report["version"] == 1
    assert report["source"] == os.path.join(lenet_run, "model.keras") and report["name"] == "lenet5"

    code, out, _ = invoke(capsys, *args, "--formats=float16")
    assert code == 0 and (output / "lenet5" / "2" / "model_float16.tflite").exists()
    before = (version / "model_int8.tflite").read_bytes()
    code, _, err = invoke(capsys, *args, "--version=1", "--formats=float16")
    assert code == 2 and err == [f"kcnn-export: error: --version: {version} exists; pass --overwrite to replace it"]
    assert (version / "model_int8.tflite").read_bytes() == before
    code, _, _ = invoke(capsys, *args, "--version=1", "--formats=float16", "--overwrite")
    assert code == 0 and sorted(os.listdir(output / "lenet5")) == ["1", "2"]
    assert (version / "model_float16.tflite").exists() and not (version / "model_int8.tflite").exists()


def test_export_a_keras_file_with_or_without_a_dataset(capsys, tmp_path, lenet_run):
    keras_file = os.path.join(lenet_run, "model.keras")
    code, out, err = invoke(
        capsys,
        f"--keras={keras_file}",
        "--dataset=fashion_mnist",
        "--test_split=test[:300]",
        f"--output={tmp_path}",
        "--name=shoes",
        "--formats=float32",
        "--latency_runs=3",
    )
    assert code == 0, err
    report = json.loads((tmp_path / "shoes" / "1" / "export.json").read_text())
    assert report["test_examples"] == 300 and report["class_names"][-1] == "Ankle boot"
    code, out, err = invoke(
        capsys,
        f"--keras={keras_file}",
        f"--output={tmp_path}",
        "--formats=savedmodel",
        "--noaccuracy",
        "--verify_examples=20",
        "--latency_runs=3",
    )
    assert code == 0, err
    report = json.loads((tmp_path / "lenet5" / "1" / "export.json").read_text())
    assert report["test_examples"] is None and report["verified_on"] == 20
    assert report["artifacts"]["savedmodel"]["accuracy"] is None and report["class_names"][:2] == ["0", "1"]


def test_console_script_exit_status(tmp_path):
    """The runner as a process: status 2 and one line on stderr."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "kcnn.cli.export", "--keras=/no/such.keras", f"--output={tmp_path / 'o'}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "kcnn-export: error: --keras: /no/such.keras: no such file"
    assert not (tmp_path / "o").exists()
