"""Every registered segmentation network: exact parameter count, forward shape at the input
resolution, a few training steps reaching every weight, and the registry's tags.

Networks over 20M parameters are marked slow, as in the zoo harness (the torch pass of
`make test` leaves them out; the TensorFlow pass runs them).
"""

import keras
import numpy as np
import pytest
from keras import ops

import kcnn
from tests import harness

HEAVY = 20_000_000
SEGMENTATION = kcnn.list_models(tag="segmentation")


def _params(names, *, full_check: bool = True):
    """``full_check``: the deeper variants (ResNet-101 layouts) are opt-in, as in tests/models/test_zoo.py."""
    params = []
    for n in names:
        big = [pytest.mark.slow] if (kcnn.model_info(n).params or 0) > HEAVY else []
        params.append(pytest.param(n, marks=harness.tier_marks(n, HEAVY) if full_check else big))
    return params


def pixel_crossentropy(y_true, y_pred):
    """Per-pixel cross-entropy on probabilities, flattened to (pixels, classes): Keras 3.15's
    torch backend sends 4-D probabilities through nll_loss2d, whose backward fails on the
    non-contiguous (movedim) input (pytorch/pytorch#175084)."""
    classes = ops.shape(y_pred)[-1]
    return keras.losses.sparse_categorical_crossentropy(ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1, classes)))


def test_registry_lists_the_families_with_the_segmentation_tag():
    families = {kcnn.model_info(n).family for n in SEGMENTATION}
    assert families == {"fcn", "unet", "segnet", "deeplab"}
    assert {"fcn8s", "unet", "segnet", "deeplabv1", "deeplabv3_resnet50"} <= set(SEGMENTATION)
    assert not set(SEGMENTATION) & set(kcnn.list_models(family="resnet"))
    assert set(kcnn.list_models(tag="aux_output")) == {
        "fcn_resnet50",
        "fcn_resnet101",
        "deeplabv3_resnet50",
        "deeplabv3_resnet101",
    }


@pytest.mark.parametrize("name", _params((n for n in SEGMENTATION if kcnn.model_info(n).params), full_check=False))
def test_published_parameter_count(name):
    harness.assert_published_params(name)


@pytest.mark.parametrize("name", _params(SEGMENTATION))
def test_min_input_forward_shape_and_a_training_step_reaching_every_weight(name):
    """Built at its registered min_input (one pixel less raises, as the zoo harness checks for
    classifiers: the model built here is the harness's first build), the model outputs
    per-pixel probabilities at the input size and one step reaches every weight."""
    keras.utils.set_random_seed(0)
    shape = harness.small_shape(name)
    assert shape == kcnn.model_info(name).min_input
    model = kcnn.create_model(name, input_shape=shape, classes=3)
    harness.assert_min_input_is_the_builders_minimum(name, built=model)
    x = harness.sample_batch(shape, batch=2)
    outputs = model(x, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    assert len(outputs) == (2 if "aux_output" in kcnn.model_info(name).tags else 1)
    for y in outputs:
        y = ops.convert_to_numpy(y)
        assert y.shape == (2, *shape[:2], 3), f"{name}: output shape {y.shape}"
        np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5, err_msg=f"{name}: not per-pixel probabilities")

    # FCN's score layers start at zero (§4.3), which stops the first step's gradient below them
    # (and VGG-16 from scratch shrinks it past float32 within two): start them random here.
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if layer.name.startswith("score_") and hasattr(layer, "kernel"):
            layer.kernel.assign(rng.normal(0, 0.1, layer.kernel.shape).astype("float32"))
    before = [ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=[pixel_crossentropy] * len(outputs), run_eagerly=True)
    masks = np.random.default_rng(1).integers(0, 3, size=(2, *shape[:2]))
    loss = model.train_on_batch(x, [masks] * len(outputs) if len(outputs) > 1 else masks)
    assert np.all(np.isfinite(loss)), f"{name}: non-finite loss {loss}"
    # BatchNorm's gamma and beta are left out: where a BN is followed, through linear layers only,
    # by another BN (MobileNetV2's last blocks -> Conv_1 -> Conv_1_bn), their gradient is exactly 0.
    still = [
        w.path
        for w, b in zip(model.trainable_weights, before)
        if not w.path.endswith(("/gamma", "/beta")) and np.array_equal(ops.convert_to_numpy(w), b)
    ]
    assert not still, f"{name}: no gradient reached {still[:5]}"


@pytest.mark.parametrize(
    "name, kwargs, shape",
    [
        ("unet", dict(filters=(4, 8, 16, 32, 64), padding="valid"), (188, 188, 1)),
        ("segnet", dict(config="mini"), (9, 7, 3)),
        ("deeplabv3plus_mobilenetv2", dict(), (32, 32, 3)),
        ("fcn8s", dict(backbone="mobilenetv2"), (32, 32, 3)),
    ],
)
def test_keras_round_trip(name, kwargs, shape, tmp_path):
    """The custom layers (unpooling, crop, broadcast, bilinear initializer) and dilated clones save and load."""
    model = kcnn.create_model(name, input_shape=shape, classes=3, **kwargs)
    x = harness.sample_batch(shape, batch=2)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(x, training=False)), ops.convert_to_numpy(model(x, training=False)), atol=1e-6
    )


def test_mixed_precision_outputs_float32():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = kcnn.create_model("unet", input_shape=(32, 32, 1), filters=(4, 8, 16, 32, 64))
        y = model(harness.sample_batch((32, 32, 1)), training=False)
        assert keras.backend.standardize_dtype(y.dtype) == "float32"
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("fcn8s", dict(input_shape=(100, 100, 3)), r"fcn8s: input height and width must be multiples of 32"),
        (
            "fcn8s",
            dict(backbone="resnet50", input_shape=(0, 64, 3)),
            r"multiples of 32 with padding='same', at least 32x32",
        ),
        ("deeplabv3plus_mobilenetv2", dict(input_shape=(40, 40, 3)), r"multiples of 16 \(output stride 16\)"),
        ("unet", dict(input_shape=(572, 570, 1), padding="valid"), r"16k \+ 124 with k >= 4"),
        ("segnet", dict(weights="imagenet"), r"weights='imagenet' does not exist for a segmentation network"),
        ("unet", dict(classes=0), r"`classes` must be a positive integer"),
        ("fcn8s", dict(backbone="lenet5", input_shape=(32, 32, 1)), r"lenet5 has no backbone endpoints"),
        ("fcn8s", dict(backbone="resnet50", padding="paper"), r"padding='paper' is the Caffe alignment"),
        ("deeplabv1", dict(fc6="5x5"), r"`fc6` must be one of 'largefov', '7x7', '4x4'"),
    ],
)
def test_bad_arguments_give_one_line_errors_naming_them(name, kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        kcnn.create_model(name, **kwargs)
    assert "\n" not in str(err.value)
