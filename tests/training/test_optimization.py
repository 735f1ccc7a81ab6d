"""Schedules, optimizers, losses and the weight average."""

import keras
import numpy as np
import pytest

from kcnn.training.losses import make_loss
from kcnn.training.optimizers import make_optimizer
from kcnn.training.schedules import OneCycle, make_schedule


def lr(schedule, step):
    return float(schedule(step)) if callable(schedule) else float(schedule)


def test_step_schedule_divides_by_ten_at_the_boundaries():
    s = make_schedule("step", 0.1, steps_per_epoch=100, epochs=10, boundaries=[4, 7.5])
    assert [round(lr(s, k), 6) for k in (0, 399, 401, 749, 751, 999)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]


def test_cosine_with_linear_warmup():
    s = make_schedule("cosine", 0.2, steps_per_epoch=10, epochs=10, warmup_epochs=2)
    assert lr(s, 0) == pytest.approx(0.0, abs=1e-7)
    assert lr(s, 10) == pytest.approx(0.1, rel=1e-5)
    assert lr(s, 20) == pytest.approx(0.2, rel=1e-5)
    assert lr(s, 60) == pytest.approx(0.1, rel=1e-4)
    assert lr(s, 100) == pytest.approx(0.0, abs=1e-6)


def test_one_cycle_rises_then_anneals_and_serializes():
    s = make_schedule("onecycle", 1.0, steps_per_epoch=100, epochs=1)
    values = [lr(s, k) for k in range(100)]
    peak = int(np.argmax(values))
    assert values[0] == pytest.approx(1 / 25) and peak in (29, 30) and values[peak] == pytest.approx(1.0, rel=1e-3)
    assert values[-1] < 1e-3 and all(a >= b for a, b in zip(values[peak:], values[peak + 1 :]))
    again = OneCycle.from_config(s.get_config())
    assert lr(again, 57) == pytest.approx(values[57])


def test_sgd_with_nesterov_weight_decay_and_clipping():
    opt = make_optimizer("sgd", 0.1, momentum=0.9, nesterov=True, weight_decay=1e-4, clipnorm=1.0)
    assert opt.nesterov and opt.momentum == 0.9 and opt.weight_decay == 1e-4 and opt.global_clipnorm == 1.0
    kernel = keras.Variable(np.ones((2, 2), "float32"), name="kernel")
    bias = keras.Variable(np.ones((2,), "float32"), name="bias")
    opt.build([kernel, bias])
    opt.apply_gradients([(np.zeros((2, 2), "float32"), kernel), (np.zeros((2,), "float32"), bias)])
    assert float(kernel.numpy()[0, 0]) == pytest.approx(1 - 0.1 * 1e-4)  # decayed
    assert float(bias.numpy()[0]) == 1.0  # biases are not


def test_gradient_clipping_bounds_the_step():
    opt = make_optimizer("sgd", 1.0, momentum=0.0, clipnorm=1.0)
    w = keras.Variable(np.zeros((4,), "float32"))
    opt.build([w])
    opt.apply_gradients([(np.full((4,), 100.0, "float32"), w)])
    assert np.linalg.norm(w.numpy()) == pytest.approx(1.0, rel=1e-5)


def test_ema_optimizer_keeps_an_average():
    opt = make_optimizer("adam", 0.1, ema_momentum=0.9)
    assert opt.use_ema and opt.ema_momentum == 0.9


def test_label_smoothing_and_regression_losses():
    target = np.array([[0.0, 1.0]], "float32")
    probs = np.array([[0.2, 0.8]], "float32")
    plain = float(make_loss("cross_entropy")(target, probs)[0])
    smooth = float(make_loss("cross_entropy", label_smoothing=0.2)(target, probs)[0])
    assert plain == pytest.approx(-np.log(0.8), rel=1e-5)
    assert smooth == pytest.approx(-(0.9 * np.log(0.8) + 0.1 * np.log(0.2)), rel=1e-4)
    assert float(make_loss("mse")(target, probs)[0]) == pytest.approx(0.04, rel=1e-5)
    assert float(make_loss("l1")(target, probs)[0]) == pytest.approx(0.2, rel=1e-5)
    with pytest.raises(ValueError, match="label smoothing needs the cross_entropy loss"):
        make_loss("mse", label_smoothing=0.1)


def test_coupled_l2_adds_l2_times_w_to_the_gradient_of_kernels_only():
    import tensorflow as tf

    from kcnn.training.loop import TrainLoop

    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(2, kernel_initializer="ones", bias_initializer="ones")]
    )
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss=make_loss("mse"))
    zero_loss = keras.losses.MeanSquaredError(reduction=None)
    loop = TrainLoop(
        model,
        model.optimizer,
        zero_loss,
        strategy=tf.distribute.get_strategy(),
        num_classes=2,
        global_batch_size=1,
        l2=0.1,
    )
    x = np.zeros((1, 2), "float32")
    y = np.array([[1.0, 1.0]], "float32")  # the bias already predicts y: the data gradient is zero
    data = loop.distribute(lambda b: tf.data.Dataset.from_tensor_slices((x, y)).batch(b))
    loop.train_epoch(data, 1)
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), 0.9)  # 1 - lr * l2 * 1
    np.testing.assert_allclose(model.layers[0].bias.numpy(), 1.0)


def test_step_schedule_with_the_resnet110_warmup():
    s = make_schedule("step", 0.1, steps_per_epoch=100, epochs=10, boundaries=[5], warmup_epochs=1)
    assert [round(lr(s, k), 6) for k in (0, 99, 101, 499, 501)] == [0.01, 0.01, 0.1, 0.1, 0.01]
