"""How far apart do single-process, mirrored and multi-worker runs end, and why?

    python tools/distributed_parity.py --steps=20,60,200

Trains lenet5_modern on Fashion-MNIST through kcnn-train's command line, with the same
flags, seed and global batch, three ways:

* ``single``  one process, one device (the reference);
* ``mirrored`` one process, MirroredStrategy over two logical CPU devices: the same data
  order and the same arithmetic except that each step's gradient is the sum of two
  half-batch gradients - it differs from ``single`` only in the order of the reduction;
* ``workers`` two processes on 127.0.0.1 (MultiWorkerMirroredStrategy, TF_CONFIG), as the
  README documents multi-worker training.

and prints the largest absolute weight difference of each pair after each number of steps.
If ``workers`` is as far from ``single`` as ``mirrored`` is, the difference is float
rounding of the reduction (amplified by training), not a defect of the multi-worker path.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = flags.FLAGS
flags.DEFINE_list("steps", ["20", "60", "200"], "numbers of training steps to compare after")
flags.DEFINE_integer("batch_size", 128, "global batch size", lower_bound=2)
flags.DEFINE_string("validation", "none", "kcnn-train's --validation (none, test, or a held-out fraction)")

_MIRRORED = (
    "import sys, tensorflow as tf; cpu = tf.config.list_physical_devices('CPU')[0]; "
    "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2); "
    "from kcnn.cli.train import run; sys.argv[0] = 'kcnn-train'; run()"
)


def _argv(model_dir: str, steps: int, batch: int, strategy: str) -> list[str]:
    held_out = float(FLAGS.validation) if FLAGS.validation not in ("none", "test") else 0.0
    return [
        "--model=lenet5_modern",
        "--dataset=fashion_mnist",
        f"--train_split=train[:{round(steps * batch / (1 - held_out))}]",
        f"--validation={FLAGS.validation}",
        "--test_split=test[:1024]",
        "--optimizer=sgd",
        "--learning_rate=0.05",
        "--momentum=0.9",
        "--normalization=scale",
        "--set=data.augment=[]",
        f"--batch_size={batch}",
        "--epochs=1",
        "--seed=3",
        "--deterministic",
        f"--strategy={strategy}",
        f"--model_dir={model_dir}",
    ]


def _run(cmds: list[tuple[list[str], dict]]) -> None:
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for cmd, env in cmds
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=1800)
        if proc.returncode:
            sys.exit(f"a run failed:\n{out[-3000:]}")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def train_three_ways(root: str, steps: int, batch: int) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    dirs = {mode: os.path.join(root, f"{mode}_{steps}") for mode in ("single", "mirrored", "workers")}
    _run([([sys.executable, "-m", "kcnn.cli.train", *_argv(dirs["single"], steps, batch, "default")], env)])
    _run([([sys.executable, "-c", _MIRRORED, *_argv(dirs["mirrored"], steps, batch, "mirrored")], env)])
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    workers = [
        (
            [sys.executable, "-m", "kcnn.cli.train", *_argv(dirs["workers"], steps, batch, "multi_worker")],
            {**env, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})},
        )
        for i in range(2)
    ]
    _run(workers)
    return dirs


def max_abs_diff(a: str, b: str) -> float:
    import keras
    import numpy as np

    wa = keras.saving.load_model(os.path.join(a, "model.keras")).get_weights()
    wb = keras.saving.load_model(os.path.join(b, "model.keras")).get_weights()
    return max(float(np.max(np.abs(x - y))) for x, y in zip(wa, wb))


def main(argv):
    del argv
    print("steps | single vs mirrored (reduction order only) | single vs 2 workers | mirrored vs 2 workers")
    with tempfile.TemporaryDirectory() as root:
        for steps in map(int, FLAGS.steps):
            d = train_three_ways(root, steps, FLAGS.batch_size)
            pairs = [("single", "mirrored"), ("single", "workers"), ("mirrored", "workers")]
            print(f"{steps} | " + " | ".join(f"{max_abs_diff(d[a], d[b]):.3g}" for a, b in pairs), flush=True)


if __name__ == "__main__":
    app.run(main)
