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


def spawn(model_dir, out, strategy, logical_cpus=0, tf_config=None):
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


def assert_same(a, b, atol=1e-5):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=atol, rtol=0)


def test_mirrored_over_two_logical_cpus_matches_one_device(tmp_path, single_process):
    out = finish(spawn(tmp_path / "run", tmp_path / "w.npz", "mirrored", logical_cpus=2))
    assert "replicas 2" in out
    assert_same(weights(tmp_path / "w.npz"), single_process)


def test_two_workers_agree_with_each_other_and_with_one_process(tmp_path, single_process):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = [
        spawn(
            tmp_path / "run",
            tmp_path / f"w{i}.npz",
            "multi_worker",
            tf_config={"cluster": cluster, "task": {"type": "worker", "index": i}},
        )
        for i in range(2)
    ]
    outs = [finish(p) for p in procs]
    assert all("replicas 2" in o for o in outs)
    w0, w1 = weights(tmp_path / "w0.npz"), weights(tmp_path / "w1.npz")
    assert_same(w0, w1, atol=0)
    assert_same(w0, single_process)
    assert (tmp_path / "run" / "results.json").exists()  # the chief wrote the outputs
    assert not [n for n in os.listdir(tmp_path / "run" / "checkpoints" / "train") if n.startswith(".worker")]


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
