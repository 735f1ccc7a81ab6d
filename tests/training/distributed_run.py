"""One training process for the distribution tests (run as a subprocess).

    python -m tests.training.distributed_run MODEL_DIR WEIGHTS_OUT STRATEGY [LOGICAL_CPUS [TASK]]

Trains lenet5_modern for one short epoch on a Fashion-MNIST subset under STRATEGY (TASK
"segmentation": a small U-Net on fashion_scenes, test split of 37 canvases) and saves the
trained weights of this process to WEIGHTS_OUT (.npz). TF_CONFIG, when set by the caller,
makes the process one worker of a multi-worker cluster.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SEGMENTATION = {
    "model": {"name": "unet", "kwargs": {"filters": [4, 8, 16, 32, 64], "dropout": 0.0}},
    "data": {"dataset": "fashion_scenes", "train_split": "train[:64]", "test_split": "test[:37]", "validation": "none"},
}


def config_dict(model_dir: str, strategy: str, task: str = "classification") -> dict:
    if task == "segmentation":
        config = config_dict(model_dir, strategy)
        config["train"].update(batch_size=16, optimizer="adam", learning_rate=3e-3)
        return {**config, **SEGMENTATION}
    return {
        "model": {"name": "lenet5_modern"},
        "data": {
            "dataset": "fashion_mnist",
            "train_split": "train[:1280]",
            "test_split": "test[:256]",
            "validation": "none",
            "normalization": "scale",
        },
        "train": {
            "epochs": 1,
            "batch_size": 64,
            "optimizer": "sgd",
            "learning_rate": 0.05,
            "seed": 3,
            "strategy": strategy,
            "deterministic": True,
        },
        "model_dir": model_dir,
    }


def main(model_dir: str, out: str, strategy: str, logical_cpus: int = 0, task: str = "classification") -> None:
    if logical_cpus:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
    from kcnn.training import ExperimentConfig, train

    def dump(model):
        np.savez(out, *[np.asarray(w.numpy()) for w in model.weights])

    results = train(ExperimentConfig.from_dict(config_dict(model_dir, strategy, task)), verbose=0, on_model=dump)
    print("replicas", results["replicas"], flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4], *([int(sys.argv[4])] if len(sys.argv) > 4 else []), *sys.argv[5:6])
