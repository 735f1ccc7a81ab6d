"""MirroredStrategy over two logical CPUs and a two-worker MultiWorkerMirroredStrategy
cluster on 127.0.0.1 train the same weights as one process with the same global batch."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from kcnn.training import ConfigError, ExperimentConfig, train
from kcnn.training.distribute import check_strategy
from tests.training.distributed_run import config_dict

pytestmark = [pytest.mark.tf_only, pytest.mark.multiprocess, pytest.mark.xdist_group("distribute")]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def spawn(model_dir, out, strategy, logical_cpus=0, tf_config=None, task="classification"):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    cmd = [
        sys.executable,
        "-m",
        "tests.training.distributed_run",
        str(model_dir),
        str(out),
        strategy,
        str(logical_cpus),
        task,
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc, timeout=300):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def weights(path):
    with np.load(path) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


@pytest.fixture(scope="module")
def single_process(tmp_path_factory, fashion_mnist_dir):
    root = tmp_path_factory.mktemp("single")
    captured = []
    train(
        ExperimentConfig.from_dict(config_dict(str(root / "run"), "default")),
        verbose=0,
        on_model=lambda m: captured.extend(np.asarray(w.numpy()) for w in m.weights),
    )
    return captured


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


# Largest weight difference allowed between the two-worker and the one-device run of the CLI test
# (26 steps, SGD 0.05 with momentum 0.9): 10x what the reduction order alone made here (7.7e-4).
REDUCTION_ORDER_TOLERANCE = 8e-3


def assert_same(a, b, atol=1e-5):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=atol, rtol=0)


def test_mirrored_over_two_logical_cpus_matches_one_device(tmp_path, single_process):
    out = finish(spawn(tmp_path / "run", tmp_path / "w.npz", "mirrored", logical_cpus=2))
    assert "replicas 2" in out
    assert_same(weights(tmp_path / "w.npz"), single_process)


@pytest.mark.heavy  # about 30 s; the padding itself is checked in tests/training/test_segmentation.py
def test_mirrored_segmentation_evaluates_every_test_pixel_once(tmp_path, fashion_mnist_dir):
    """Two replicas evaluate 37 canvases in global batches of 16: the padding masks count
    nowhere, so the run's test metrics are those of its saved model over the 37 canvases."""
    import keras

    from kcnn import data as kdata
    from kcnn.training.metrics import segmentation_metrics

    finish(spawn(tmp_path / "run", tmp_path / "w.npz", "mirrored", logical_cpus=2, task="segmentation"))
    with open(tmp_path / "run" / "results.json") as f:
        results = json.load(f)
    assert results["replicas"] == 2 and results["test_examples"] == 37 and results["test_pixels"] == 37 * 64 * 64
    images, masks = zip(*[(x.numpy(), y.numpy()) for x, y in kdata.load("fashion_scenes", "test[:37]")])
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    predicted = model.predict(np.stack(images).astype("float32"), verbose=0).argmax(-1).ravel()
    confusion = np.zeros((11, 11))
    np.add.at(confusion, (np.stack(masks).ravel(), predicted), 1)
    want = segmentation_metrics(confusion, range(11))
    assert results["test_pixel_accuracy"] == pytest.approx(want["pixel_accuracy"], abs=1e-6)
    assert results["test_mean_iou"] == pytest.approx(want["mean_iou"], abs=1e-6)


def cli_command(model_dir, strategy: str, export_dir) -> list[str]:
    """kcnn-train as the README documents multi-worker training: real data, splits that do not
    divide into per-worker batches (1,665 training images, a 185-image validation split, a
    1,000-image test split, global batch 64), export on."""
    return [
        sys.executable,
        "-m",
        "kcnn.cli.train",
        "--model=lenet5_modern",
        "--dataset=fashion_mnist",
        "--train_split=train[:1850]",
        "--validation=0.1",
        "--test_split=test[:1000]",
        "--epochs=1",
        "--batch_size=64",
        "--optimizer=sgd",
        "--learning_rate=0.05",
        "--normalization=scale",
        "--deterministic",
        "--seed=3",
        "--export=savedmodel,float32",
        f"--export_dir={export_dir}",
        f"--strategy={strategy}",
        f"--model_dir={model_dir}",
    ]


def run_cli(cmds):
    procs = [
        subprocess.Popen(c, cwd=ROOT, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for c, e in cmds
    ]
    return [finish(p, timeout=600) for p in procs]


_MIRRORED_CLI = (
    "import sys, tensorflow as tf; cpu = tf.config.list_physical_devices('CPU')[0]; "
    "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2); "
    "from kcnn.cli.train import run; sys.argv[0] = 'kcnn-train'; run()"
)


def test_two_worker_command_lines_finish_and_match_one_process(tmp_path):
    """Both workers exit 0 and the chief writes every artifact and the export.

    The weights equal, bit for bit, a one-process run over two replicas (two logical CPUs:
    the same two half-batch gradients summed); a one-device run differs from both by the
    order of that reduction only, which training can amplify (tools/distributed_parity.py:
    3e-7 after 26 steps when the split divides into batches, 7.7e-4 on this split), so it
    is compared within 10x that and on test accuracy."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    workers = [
        (
            cli_command(tmp_path / "run", "multi_worker", tmp_path / "exports"),
            {**env, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})},
        )
        for i in range(2)
    ]
    outs = run_cli(workers)
    assert "test accuracy" in outs[0]
    mirrored = cli_command(tmp_path / "mirrored", "mirrored", tmp_path / "other_exports")
    run_cli([([sys.executable, "-c", _MIRRORED_CLI, *mirrored[3:]], env)])
    run_cli([(cli_command(tmp_path / "single", "default", tmp_path / "other_exports"), env)])
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["replicas"] == 2 and results["test_examples"] == 1000
    for name in ("model.keras", "best.keras", "history.json", "learning_curves.png", "confusion_matrix.png"):
        assert (tmp_path / "run" / name).exists(), name
    assert (tmp_path / "exports" / "lenet5_modern" / "1" / "model_float32.tflite").exists()
    assert results["artifacts"]["export"] == str(tmp_path / "exports" / "lenet5_modern" / "1")
    assert not [n for n in os.listdir(tmp_path / "run" / "checkpoints" / "train") if n.startswith(".worker")]
    import keras

    def weights_of(run):
        return keras.saving.load_model(tmp_path / run / "model.keras").get_weights()

    assert_same(weights_of("run"), weights_of("mirrored"), atol=0)
    assert_same(weights_of("run"), weights_of("single"), atol=REDUCTION_ORDER_TOLERANCE)
    single_results = json.loads((tmp_path / "single" / "results.json").read_text())
    assert abs(results["test_accuracy"] - single_results["test_accuracy"]) <= 0.01


@pytest.mark.parametrize(
    "strategy, env, words",
    [
        ("mirrored", {}, "at least two devices"),
        ("multi_worker", {}, "TF_CONFIG"),
        ("tpu", {}, "no TPU found"),
        ("multi_worker", {"TF_CONFIG": "{not json"}, "not JSON"),
    ],
)
def test_impossible_strategies_are_refused(monkeypatch, strategy, env, words):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError, match=words) as err:
        check_strategy(strategy)
    assert err.value.field == "train.strategy"
