"""Numeric precision: the Keras dtype policy a run uses, and what "auto" picks.

``auto`` picks mixed_float16 on a CUDA GPU, mixed_bfloat16 on a TPU or on a CPU with
AVX512-BF16 or AMX, and float32 otherwise. Variables stay float32 under every policy;
the classifier's output layer computes in float32 (kcnn.models._base.predictions).
"""

from __future__ import annotations

import keras

from kcnn.training.config import PRECISIONS

__all__ = ["PRECISIONS", "resolve_precision", "cpu_supports_bfloat16", "precision_warning"]


def cpu_supports_bfloat16(cpuinfo_path: str = "/proc/cpuinfo") -> bool:
    """True when the CPU flags include avx512_bf16 or amx_bf16."""
    try:
        with open(cpuinfo_path, encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(name: str, strategy: str = "default") -> str:
    """The dtype policy for ``name`` on this machine (``auto`` resolved)."""
    if name not in PRECISIONS:
        raise ValueError(f"must be one of {', '.join(PRECISIONS)}; got {name!r}")
    if name != "auto":
        return name
    if strategy == "tpu":
        return "mixed_bfloat16"
    if _has_gpu():
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_supports_bfloat16() else "float32"


def precision_warning(policy: str) -> str | None:
    """A one-line warning for a policy that runs slowly here (float16 emulated without a GPU)."""
    if policy == "mixed_float16" and not _has_gpu():
        return (
            "mixed_float16 without a GPU: Keras emulates float16 on the CPU, which is slow "
            "(useful for testing; use mixed_bfloat16 or float32 for speed)"
        )
    return None


def set_policy(policy: str) -> None:
    keras.config.set_dtype_policy(policy)
