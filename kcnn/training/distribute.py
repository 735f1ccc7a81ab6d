"""tf.distribute strategies by name, with the contradictions checked up front.

* ``default``       one device
* ``mirrored``      synchronous data parallelism over the GPUs of one machine (or, with
                    no GPUs, over logical CPU devices)
* ``multi_worker``  MultiWorkerMirroredStrategy across machines, from TF_CONFIG or a
                    cluster resolver (``slurm``); trained with kcnn's own strategy.run loop,
                    since Keras 3's model.fit does not support it (keras-team/keras#20585)
* ``tpu``           TPUStrategy on a TPU found by TPUClusterResolver
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from kcnn.training.config import RESOLVERS, STRATEGIES, ConfigError

__all__ = ["STRATEGIES", "RESOLVERS", "check_strategy", "make_strategy", "is_chief", "worker_index"]


def _mirrored_devices() -> list[str]:
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) >= 2:
        return [d.name for d in gpus]
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def _tpu_resolver():
    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver()
    except (ValueError, RuntimeError, ImportError) as err:
        raise ConfigError("train.strategy", f"tpu: no TPU found ({err})") from None


def check_strategy(name: str, resolver: str = "tf_config") -> None:
    """Raise ConfigError for a strategy this machine or environment cannot run."""
    if name not in STRATEGIES:
        raise ConfigError("train.strategy", f"must be one of {', '.join(STRATEGIES)}; got {name!r}")
    if resolver not in RESOLVERS:
        raise ConfigError("train.cluster_resolver", f"must be one of {', '.join(RESOLVERS)}; got {resolver!r}")
    if name == "mirrored" and len(_mirrored_devices()) < 2:
        raise ConfigError(
            "train.strategy", "mirrored needs at least two devices (GPUs, or logical CPU devices); this machine has one"
        )
    if name == "multi_worker":
        if resolver == "tf_config" and "TF_CONFIG" not in os.environ:
            raise ConfigError(
                "train.strategy",
                "multi_worker needs the TF_CONFIG environment variable "
                "(or train.cluster_resolver=slurm inside a Slurm job)",
            )
        if resolver == "slurm" and "SLURM_JOB_ID" not in os.environ:
            raise ConfigError("train.cluster_resolver", "slurm: not inside a Slurm job (no SLURM_JOB_ID)")
        if resolver == "tf_config":
            try:
                json.loads(os.environ["TF_CONFIG"])["cluster"]
            except (ValueError, KeyError, TypeError):
                raise ConfigError("train.strategy", "TF_CONFIG is not JSON with a 'cluster' entry") from None
    if name == "tpu":
        _tpu_resolver()


def make_strategy(name: str, resolver: str = "tf_config") -> tf.distribute.Strategy:
    """The strategy ``name`` (checked by :func:`check_strategy` first)."""
    check_strategy(name, resolver)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=_mirrored_devices())
    if name == "multi_worker":
        cluster = tf.distribute.cluster_resolver.SlurmClusterResolver() if resolver == "slurm" else None
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=cluster)
    if name == "tpu":
        tpu = _tpu_resolver()
        tf.config.experimental_connect_to_cluster(tpu)
        tf.tpu.experimental.initialize_tpu_system(tpu)
        return tf.distribute.TPUStrategy(tpu)
    return tf.distribute.get_strategy()


def worker_index(strategy: tf.distribute.Strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(resolver.task_id or 0) if resolver is not None and resolver.task_type else 0


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the one worker that writes history, plots, models and exports."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)
