"""A few training steps under each precision policy: the loss stays close to float32's,
variables stay float32, and float16 goes through a LossScaleOptimizer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kcnn
from kcnn.training import precision
from kcnn.training.loop import TrainLoop
from kcnn.training.losses import make_loss
from kcnn.training.optimizers import make_optimizer

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("precision")]


def losses_under(policy: str, steps: int = 4):
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (steps * 32, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, steps * 32)
    strategy = tf.distribute.get_strategy()
    model = kcnn.create_model("lenet5_modern")
    optimizer = make_optimizer("sgd", 0.01)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss=make_loss("cross_entropy"))
    loop = TrainLoop(model, optimizer, model.loss, strategy=strategy, num_classes=10, global_batch_size=32)
    data = loop.distribute(lambda b: tf.data.Dataset.from_tensor_slices((x, y)).batch(b, drop_remainder=True))
    seen = []
    loop.train_epoch(
        data,
        steps,
        on_step=lambda s: seen.append(
            loop.evaluate(loop.distribute(lambda b: tf.data.Dataset.from_tensor_slices((x[:64], y[:64])).batch(b)))[
                "loss"
            ]
        ),
    )
    return seen, model, optimizer


@pytest.fixture(scope="module")
def float32_losses():
    losses, _, _ = losses_under("float32")
    keras.config.set_dtype_policy("float32")
    return losses


@pytest.mark.parametrize("policy, tolerance", [("mixed_bfloat16", 0.02), ("mixed_float16", 0.005)])
def test_mixed_policies_track_float32(float32_losses, policy, tolerance):
    losses, model, optimizer = losses_under(policy)
    np.testing.assert_allclose(losses, float32_losses, rtol=tolerance)
    assert all(w.dtype == "float32" for w in model.weights)
    assert model.get_layer("conv1").compute_dtype == policy.split("_")[1]
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")


def test_auto_picks_float32_on_a_cpu_without_bf16(monkeypatch):
    monkeypatch.setattr(precision, "_has_gpu", lambda: False)
    monkeypatch.setattr(precision, "cpu_supports_bfloat16", lambda: False)
    assert precision.resolve_precision("auto") == "float32"
    monkeypatch.setattr(precision, "cpu_supports_bfloat16", lambda: True)
    assert precision.resolve_precision("auto") == "mixed_bfloat16"
    monkeypatch.setattr(precision, "_has_gpu", lambda: True)
    assert precision.resolve_precision("auto") == "mixed_float16"
    assert precision.resolve_precision("auto", strategy="tpu") == "mixed_bfloat16"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    assert precision.cpu_supports_bfloat16(str(info))
    info.write_text("processor: 0\nflags\t\t: fpu sse2 avx2\n")
    assert not precision.cpu_supports_bfloat16(str(info))


def test_float16_without_a_gpu_warns_in_one_line(monkeypatch):
    monkeypatch.setattr(precision, "_has_gpu", lambda: False)
    warning = precision.precision_warning("mixed_float16")
    assert warning and "\n" not in warning and "emulates" in warning
    assert precision.precision_warning("float32") is None
