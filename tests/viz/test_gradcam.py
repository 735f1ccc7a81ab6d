"""kcnn.viz Grad-CAM: on a task decided by an object at a known place, the peak falls on the object."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn import viz
from tests.viz.images import assert_not_blank

SIZE, PATCH = 32, 8


def _bars(n, seed):  # the last spatial layer (conv3) is 16x16: Grad-CAM's resolution is 2 pixels
    """Noise with one 8x8 patch holding a bright bar: horizontal (class 0) or vertical (class 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.3, size=(n, SIZE, SIZE, 1)).astype("float32")
    y = rng.integers(0, 2, size=n)
    corners = rng.integers(0, SIZE - PATCH + 1, size=(n, 2))
    for image, label, (r, c) in zip(x, y, corners):
        if label == 0:
            image[r + 3 : r + 5, c : c + PATCH] = 1.0
        else:
            image[r : r + PATCH, c + 3 : c + 5] = 1.0
    return x, y, corners


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y, _ = _bars(512, seed=1)
    model.fit(x, y, batch_size=32, epochs=4, verbose=0, shuffle=False)
    return model


def test_peak_falls_inside_the_object(trained):
    x, y, corners = _bars(40, seed=2)
    predicted = np.argmax(keras.ops.convert_to_numpy(trained(x)), axis=-1)
    assert np.mean(predicted == y) > 0.9
    inside = 0
    for image, label, (r, c) in zip(x, y, corners):
        result = viz.grad_cam(trained, image, class_index=int(label))
        assert result["layer"] == "conv3" and result["heatmap"].shape == (SIZE, SIZE)
        i, j = np.unravel_index(np.argmax(result["heatmap"]), result["heatmap"].shape)
        inside += r <= i < r + PATCH and c <= j < c + PATCH
    assert inside >= 0.9 * len(x), f"{inside} of {len(x)} peaks inside the object"


def test_logits_not_softmax_and_override(trained, tmp_path):
    x, y, _ = _bars(1, seed=3)
    result = viz.grad_cam(trained, x[0], layer="conv2")
    assert result["layer"] == "conv2" and result["cam"].shape == (16, 16)
    # the pre-softmax score: the dense layer's output without its activation
    features = keras.ops.convert_to_numpy(keras.Model(trained.inputs[0], trained.get_layer("gap").output)(x))
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in trained.get_layer("predictions").weights)
    assert result["score"] == pytest.approx(float((features @ kernel + bias)[0, result["class_index"]]), rel=1e-4)
    assert trained.get_layer("predictions").activation is keras.activations.softmax  # left as it was
    with pytest.raises(ValueError, match="class_index 5 out of range"):
        viz.grad_cam(trained, x[0], class_index=5)
    path = tmp_path / "cam.png"
    viz.plot_grad_cam(x[0], result, path)
    assert_not_blank(path)


@pytest.mark.parametrize(
    "name, layer",
    [("lenet5", "s4"), ("resnet20", "conv4_block3_out"), ("vgg_mini", None), ("densenet40_cifar", "relu")],
)
def test_default_target_is_the_last_spatial_layer(name, layer):
    model = kcnn.create_model(name)
    info = kcnn.model_info(name)
    target = viz.default_target_layer(model, info.input_shape)
    rows = {r.name: r for r in kcnn.analysis.profile(model, info.input_shape).rows}
    assert min(rows[target].output_shape[1:3]) > 1
    if layer:
        assert target == layer
