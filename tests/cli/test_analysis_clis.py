"""kcnn-profile, kcnn-visualize and kcnn-hessian: output, files written, --help without TensorFlow,
and one-line usage errors (exit status 2) that name the flag or argument."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import kcnn
from kcnn.cli import hessian as hessian_cli
from kcnn.cli import profile as profile_cli
from kcnn.cli import visualize as visualize_cli
from tests.cli.runner import invoke_runner

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("analysis_cli")]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, fashion_mnist_dir):
    """A run directory as kcnn-train leaves it (model.keras, config.json); the weights are fresh."""
    root = tmp_path_factory.mktemp("analysis_run")
    kcnn.create_model("lenet5_modern").save(root / "model.keras")
    config = {
        "model": {"name": "lenet5_modern"},
        "data": {"dataset": "fashion_mnist", "train_split": "train[:512]", "test_split": "test[:256]", "resize": "pad"},
        "train": {"loss": "cross_entropy", "label_smoothing": 0.0},
    }
    (root / "config.json").write_text(json.dumps(config))
    return root


@pytest.mark.parametrize(
    "cli, prog", [(profile_cli, "kcnn-profile"), (visualize_cli, "kcnn-visualize"), (hessian_cli, "kcnn-hessian")]
)
def test_help_lists_every_flag_without_tensorflow(cli, prog):
    module = cli.__name__
    code = (
        f"import sys; from {module.rsplit('.', 1)[0]} import {module.rsplit('.', 1)[1]} as cli\n"
        f"try:\n    cli.parse_flags(['{prog}', '--help'])\n"
        "except SystemExit as e:\n    print('exit', e.code, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.stdout.strip().endswith("exit 0 False False"), proc.stdout[-500:] + proc.stderr[-500:]
    for name in cli.FLAGS:
        assert f"--{name}:" in proc.stdout or f"--[no]{name}:" in proc.stdout, name


def test_profile_registered_model_markdown_and_csv(capsys, tmp_path):
    csv = tmp_path / "rows.csv"
    code, out, err = invoke_runner(profile_cli, "kcnn-profile", capsys, "lenet5_modern", "--markdown", f"--csv={csv}")
    assert code == 0, err
    assert out.startswith("| Layer (type) |") and "Total params: 61,706" in out and "Uncounted layers: none" in out
    assert csv.read_text().startswith("name,type,output_shape,params,macs")
    code, out, err = invoke_runner(profile_cli, "kcnn-profile", capsys, "lenet5", "--convention=notes")
    assert code == 0 and "FLOPs (notes)" in out and "151,600" in out  # C3's connections, LeCun et al. 1998


def test_profile_keras_file_at_another_size(capsys, tmp_path):
    path = tmp_path / "resnet20.keras"
    kcnn.create_model("resnet20").save(path)
    code, out, err = invoke_runner(profile_cli, "kcnn-profile", capsys, str(path), "--input_shape=64,64,3")
    assert code == 0, err
    assert "(None, 16, 16, 64)" in out and "Total params: 271,098" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        ((), "give one MODEL"),
        (("resnet21",), "MODEL: unknown model 'resnet21'; closest: "),
        (("resnet20", "--input_shape=32,32"), "--input_shape: expected three positive integers"),
        (("vgg16", "--input_shape=16,16,3"), "--input_shape: vgg16: input size must be at least 32x32"),
        (("missing.keras",), "MODEL: missing.keras: no such file"),
        (("resnet20", "--convention=flops"), "--convention"),
    ],
)
def test_profile_usage_errors(capsys, argv, message):
    code, out, err = invoke_runner(profile_cli, "kcnn-profile", capsys, *argv)
    assert code == 2 and len(err) == 1 and err[0].startswith("kcnn-profile: error: ") and message in err[0], err
    assert out == ""


def test_visualize_run_directory(capsys, tmp_path, run_dir):
    out_dir = tmp_path / "viz"
    code, out, err = invoke_runner(
        visualize_cli, "kcnn-visualize", capsys, f"--model_dir={run_dir}", f"--out={out_dir}", "--batch_size=16"
    )
    assert code == 0, err
    assert sorted(os.listdir(out_dir)) == [
        "activation_statistics.csv",
        "activation_statistics.png",
        "feature_maps.png",
        "filters.png",
        "grad_cam.png",
    ]
    assert "test image 0 of fashion_mnist (Ankle boot)" in out and "at pool2" in out
    lines = (out_dir / "activation_statistics.csv").read_text().splitlines()
    assert lines[0] == "layer,type,mean,std,zero_fraction" and lines[-1].startswith("predictions,Dense,")


def test_visualize_image_file_needs_the_right_size_or_resize(capsys, tmp_path, run_dir):
    image = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30), dtype=np.uint8)).save(image)
    argv = (f"--model_dir={run_dir}", f"--out={tmp_path / 'viz'}", f"--image={image}", "--what=gradcam")
    code, out, err = invoke_runner(visualize_cli, "kcnn-visualize", capsys, *argv)
    assert code == 2 and err == [
        "kcnn-visualize: error: --image: the image is 40x30, but model 'lenet5_modern' takes 28x28; "
        "resize it (resize=True / --resize) or give an image of that size"
    ]
    assert not (tmp_path / "viz").exists()
    code, out, err = invoke_runner(visualize_cli, "kcnn-visualize", capsys, *argv, "--resize", "--class_index=3")
    assert code == 0 and "class 3 Dress" in out and (tmp_path / "viz" / "grad_cam.png").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (("--out=x",), "give exactly one of --model_dir, --keras, --model"),
        (("--model=resnet20", "--out=x"), "--image: required unless a dataset is known"),
        (("--model=resnet20", "--dataset=fashion_mnist"), "--out: required"),
        (
            ("--model=resnet20", "--dataset=fashion_mnist", "--out=x", "--what=filters,cams"),
            "--what: cams is not one of",
        ),
        (("--model=resnet21", "--dataset=fashion_mnist", "--out=x"), "--model: unknown model 'resnet21'"),
        (("--model=lenet5", "--dataset=fashion_mnist", "--out=x", "--layers=c9"), "--layers: layer 'c9' is not in"),
        (("--model=lenet5", "--dataset=fashion_mnist", "--out=x", "--test_image=99999"), "--test_image: "),
    ],
)
def test_visualize_usage_errors(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke_runner(visualize_cli, "kcnn-visualize", capsys, *argv)
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert os.listdir(tmp_path) == []


def test_hessian_run_directory(capsys, tmp_path, run_dir):
    report = tmp_path / "hessian.json"
    argv = (f"--model_dir={run_dir}", "--batch_size=64", "--batches=2", "--lanczos_steps=8", "--trace_samples=4")
    code, out, err = invoke_runner(hessian_cli, "kcnn-hessian", capsys, *argv, "--max_iters=20", f"--json={report}")
    assert code == 0, err
    assert f"{run_dir} on fashion_mnist train[:512], 2 x 64" in out and "verdict: " in out
    saved = json.loads(report.read_text())
    assert saved["num_examples"] == 128 and saved["num_params"] == 61_706
    assert saved["verdict"] in ("local minimum", "saddle point", "inconclusive", "local maximum")
    assert saved["top_eigenvalues"][0] == pytest.approx(
        max(saved["top_eigenvalues"][0], saved["max_eigenvalue"]), rel=0.05
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        ((), "give exactly one of --model_dir"),
        (("--keras=m.keras",), "--dataset: required with --keras"),
        (("--model_dir=nowhere",), "--model_dir: nowhere: no such directory"),
        (("--model_dir=RUN", "--split=train[:0]"), "--split=train[:0]: fashion_mnist train[:0] has no examples"),
        (("--model_dir=RUN", "--batches=0"), "--batches"),
    ],
)
def test_hessian_usage_errors(capsys, run_dir, argv, message):
    argv = [a.replace("RUN", str(run_dir)) for a in argv]
    code, out, err = invoke_runner(hessian_cli, "kcnn-hessian", capsys, *argv)
    assert code == 2 and len(err) == 1 and message in err[0], err


def test_hessian_refuses_a_model_without_trainable_weights(capsys, tmp_path, run_dir):
    import keras

    model = keras.saving.load_model(run_dir / "model.keras")
    model.trainable = False
    model.save(tmp_path / "frozen.keras")
    argv = (f"--keras={tmp_path / 'frozen.keras'}", "--dataset=fashion_mnist", "--split=test[:32]")
    code, out, err = invoke_runner(hessian_cli, "kcnn-hessian", capsys, *argv)
    assert code == 2 and err == [
        "kcnn-hessian: error: --keras: hessian: model 'lenet5_modern' has no trainable weights; "
        "the Hessian is taken with respect to them"
    ]
