import json

import keras
import numpy as np
import pytest

from kcnn.studies import _common
from kcnn.studies._common import class_subset, finish, first_step_below, train_tracked

pytestmark = pytest.mark.tf_only


def test_class_subset_relabels_and_balances():
    x = np.arange(40, dtype="float32").reshape(40, 1, 1, 1)
    y = np.arange(40) % 10
    xs, ys = class_subset(x, y, (5, 7))
    assert set(ys) == {0, 1} and np.all(y[np.isin(y, (5, 7))] == np.where(ys == 0, 5, 7))
    xs, ys = class_subset(x, y, (5, 7, 9), n=6, seed=1)
    assert np.bincount(ys).tolist() == [2, 2, 2]


def test_first_step_below():
    history = {"step": [0, 10, 20], "train_accuracy": [0.1, 0.7, 0.9]}
    assert first_step_below(history, 0.3) == 10
    assert first_step_below(history, 0.05) is None


def _tiny_model():
    model = keras.Sequential(
        [keras.Input((2, 2, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")]
    )
    return _common.compile_model(model, keras.optimizers.SGD(0.5))


def test_train_tracked_records_step_zero_and_every_interval_and_stops_at_the_error():
    x = np.random.default_rng(0).normal(size=(64, 2, 2, 1)).astype("float32")
    y = (x[:, 0, 0, 0] > 0).astype("int64")
    keras.utils.set_random_seed(0)
    history = train_tracked(
        _tiny_model(), x, y, steps=30, batch_size=16, eval_every=10, eval_sets={"train": (x, y)}, seed=0
    )
    assert history["step"] == [0, 10, 20, 30] and len(history["train_loss"]) == 4
    assert history["seconds"][0] == 0 and history["seconds"] == sorted(history["seconds"])
    keras.utils.set_random_seed(0)
    early = train_tracked(
        _tiny_model(),
        x,
        y,
        steps=300,
        batch_size=16,
        eval_every=10,
        eval_sets={"train": (x, y)},
        seed=0,
        stop_below_error=0.5,
    )
    assert early["step"][-1] < 300 and 1 - early["train_accuracy"][-1] <= 0.5


def test_finish_writes_json_and_png_and_does_not_judge_quick_runs(tmp_path):
    import matplotlib.pyplot as plt

    with _common.Timer() as timer:
        pass
    kwargs = dict(seed=0, settings={}, numbers={"x": np.float32(1.5)}, reason="r", measured="m", timer=timer)
    result = finish("depth", quick=True, verdict="holds", figure=plt.figure(), output_dir=tmp_path, **kwargs)
    assert result["verdict"] == "not judged (quick run)"
    assert json.loads((tmp_path / "depth.json").read_text())["numbers"] == {"x": 1.5}
    assert (tmp_path / "depth.png").read_bytes()[:4] == b"\x89PNG"
    assert (
        finish("depth", quick=False, verdict="partly", figure=plt.figure(), output_dir=None, **kwargs)["verdict"]
        == "partly"
    )
    with pytest.raises(ValueError, match="verdict must be one of"):
        finish("depth", quick=False, verdict="mostly", figure=plt.figure(), output_dir=None, **kwargs)
