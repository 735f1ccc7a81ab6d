"""MobileNet v1 and v2: width arithmetic, keras.applications equivalence and weight transfer
(offline), ImageNet argument checks, small inputs."""

import keras
import numpy as np
import pytest
from keras import layers

import kcnn
from kcnn.models.imagenet import transfer_weights
from kcnn.models.mobilenet import (
    MOBILENET_V1_LAYERS,
    V1_IMAGENET_ALPHAS,
    V2_IMAGENET_ALPHAS,
    _MobileNetSource,
    _v1_keras_name,
    mobilenet,
    mobilenetv2,
)
from tests.models.keras_reference import assert_same_outputs, randomize_statistics, weighted_layer_shapes


def _x(shape, batch=2, scale=1.0, seed=0):
    return np.random.default_rng(seed).uniform(-scale, scale, size=(batch, *shape)).astype("float32")


def _v1_params(alpha, depth_multiplier=1, classes=1000):
    """MobileNet v1 parameters by hand: conv weights, 4 BatchNorm values per channel, the 1x1 classifier."""
    c = int(32 * alpha)
    total = 27 * c + 4 * c
    for filters, _ in MOBILENET_V1_LAYERS:
        dw, out = c * depth_multiplier, int(filters * alpha)
        total += 9 * dw + 4 * dw + dw * out + 4 * out
        c = out
    return total + c * classes + classes


@pytest.mark.parametrize("alpha", V1_IMAGENET_ALPHAS)
@pytest.mark.parametrize("depth_multiplier", [1, 2])
def test_v1_width_and_depth_multiplier_arithmetic(alpha, depth_multiplier):
    m = mobilenet(alpha=alpha, depth_multiplier=depth_multiplier)
    assert m.count_params() == _v1_params(alpha, depth_multiplier)
    ref = keras.applications.MobileNet(
        alpha=alpha, depth_multiplier=depth_multiplier, weights=None, input_shape=(224, 224, 3)
    )
    assert m.count_params() == ref.count_params()


@pytest.mark.parametrize("alpha", V2_IMAGENET_ALPHAS)
def test_v2_width_multiplier_matches_keras(alpha):
    m = mobilenetv2(alpha=alpha, include_top=False, input_shape=(64, 64, 3))
    ref = keras.applications.MobileNetV2(alpha=alpha, weights=None, include_top=False, input_shape=(64, 64, 3))
    assert weighted_layer_shapes(m) == weighted_layer_shapes(ref)
    assert m.get_layer("Conv_1").filters == (1280 if alpha <= 1 else kcnn.blocks.make_divisible(1280 * alpha))


@pytest.mark.parametrize(
    "name,builder,alpha",
    [
        ("mobilenet_050", "MobileNet", 0.5),
        ("mobilenetv2_035", "MobileNetV2", 0.35),
        ("mobilenetv2_140", "MobileNetV2", 1.4),
    ],
)
def test_registered_width_variants_count_as_keras(name, builder, alpha):
    ref = getattr(keras.applications, builder)(alpha=alpha, weights=None, input_shape=(224, 224, 3))
    assert kcnn.model_info(name).params == ref.count_params()
    assert kcnn.create_model(name).count_params() == ref.count_params()


def test_v1_layer_names_map_onto_keras():
    m = mobilenet(alpha=0.25, include_top=False, input_shape=(32, 32, 3))
    ref = keras.applications.MobileNet(alpha=0.25, weights=None, include_top=False, input_shape=(32, 32, 3))
    mapped = {_v1_keras_name(n): s for n, s in weighted_layer_shapes(m).items()}
    assert mapped == weighted_layer_shapes(ref)
    assert _v1_keras_name("block13_pw_bn") == "conv_pw_13_bn" and _v1_keras_name("conv1_bn") == "conv1_bn"


def test_v2_structure_residuals_and_linear_bottlenecks():
    m = mobilenetv2(include_top=False, input_shape=(32, 32, 3))
    adds = [layer.name for layer in m.layers if isinstance(layer, layers.Add)]
    assert adds == [f"block_{i}_add" for i in (2, 4, 5, 7, 8, 9, 11, 12, 14, 15)]
    activated = {a.input._keras_history.operation.name for a in m.layers if isinstance(a, layers.Activation)}
    assert {f"block_{i}_expand_BN" for i in range(1, 17)} <= activated
    assert {f"block_{i}_depthwise_BN" for i in range(1, 17)} <= activated
    assert not any(name.endswith("project_BN") for name in activated)  # linear bottlenecks
    assert m.output_shape == (None, 1, 1, 1280)


@pytest.mark.parametrize(
    "family,kwargs,shape",
    [
        ("MobileNet", dict(alpha=0.5), (64, 64, 3)),
        ("MobileNetV2", dict(alpha=0.35), (64, 64, 3)),
        ("MobileNetV2", dict(alpha=1.0), (33, 47, 3)),  # odd, non-square sizes: asymmetric stride-2 padding
    ],
)
def test_transfer_from_keras_gives_identical_features(family, kwargs, shape):
    ref = getattr(keras.applications, family)(weights=None, include_top=False, input_shape=shape, **kwargs)
    randomize_statistics(ref)
    builder = mobilenet if family == "MobileNet" else mobilenetv2
    m = builder(include_top=False, input_shape=shape, **kwargs)
    transfer_weights(ref, m, _v1_keras_name if family == "MobileNet" else None)
    assert_same_outputs(m, ref, _x(shape))


def test_transfer_with_top_at_default_size():
    ref = keras.applications.MobileNet(alpha=0.25, weights=None, include_top=True, input_shape=(224, 224, 3))
    randomize_statistics(ref)
    m = mobilenet(alpha=0.25)
    assert [layer.name for layer in m.layers[-3:]] == ["conv_preds", "reshape_2", "predictions"]
    transfer_weights(ref, m, _v1_keras_name)
    assert_same_outputs(m, ref, _x((224, 224, 3)), atol=1e-6)


@pytest.fixture
def offline_applications(monkeypatch):
    """keras.applications.MobileNet/V2 with weights='imagenet' swapped for a seeded random init;
    records the arguments kcnn asked for."""
    calls = []

    def fake(original):
        def build(**kwargs):
            calls.append(kwargs)
            model = original(**{**kwargs, "weights": None})
            randomize_statistics(model, seed=len(calls))
            calls[-1]["model"] = model
            return model

        return build

    for app in ("MobileNet", "MobileNetV2"):
        monkeypatch.setattr(keras.applications, app, fake(getattr(keras.applications, app)))
    return calls


def test_imagenet_path_asks_keras_for_the_right_alpha_and_size(offline_applications):
    m = mobilenetv2(weights="imagenet", alpha=0.5, include_top=False, input_shape=(160, 160, 3))
    assert offline_applications[-1]["alpha"] == 0.5 and offline_applications[-1]["input_shape"] == (160, 160, 3)
    assert_same_outputs(m, offline_applications[-1]["model"], _x((160, 160, 3)))
    # keras has weights for 96..224 only and loads the 224 ones otherwise: the same weights here.
    m = mobilenet(weights="imagenet", alpha=0.75, include_top=False, input_shape=(40, 56, 3))
    assert offline_applications[-1]["input_shape"] == (224, 224, 3)
    ref = offline_applications[-1]["model"]
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), ref.get_weights()))
    top = mobilenetv2(weights="imagenet", alpha=0.35, input_shape=(96, 96, 3))
    assert top.output_shape == (None, 1000) and offline_applications[-1]["include_top"]


@pytest.mark.parametrize(
    "builder,kwargs,message",
    [
        (mobilenet, dict(alpha=0.6), r"alpha in \(0.25, 0.5, 0.75, 1.0\)"),
        (mobilenet, dict(depth_multiplier=2), "depth_multiplier=1"),
        (mobilenet, dict(activation="relu"), "activation='relu6'"),
        (mobilenet, dict(input_shape=(100, 100, 3)), r"square with a side in \(128, 160, 192, 224\)"),
        (mobilenetv2, dict(alpha=0.25), r"alpha in \(0.35, 0.5, 0.75, 1.0, 1.3, 1.4\)"),
        (mobilenetv2, dict(input_shape=(96, 128, 3)), r"Received: input size 96x128"),
        (mobilenetv2, dict(input_shape=(96, 96, 1)), "3 channels"),
        (mobilenetv2, dict(classes=10), "classes` should be 1000"),
    ],
)
def test_imagenet_argument_errors_come_before_any_download(builder, kwargs, message, monkeypatch):
    monkeypatch.setattr(_MobileNetSource, "source_model", lambda *a, **k: pytest.fail("tried to load weights"))
    with pytest.raises(ValueError, match=message):
        builder(weights="imagenet", **kwargs)


@pytest.mark.parametrize("builder", [mobilenet, mobilenetv2])
def test_minimum_input_size_is_32(builder):
    assert builder(include_top=False, input_shape=(32, 32, 3)).output_shape[1:3] == (1, 1)
    with pytest.raises(ValueError, match="at least 32x32"):
        builder(input_shape=(28, 28, 1), classes=10)


def test_v2_small_input_strides_keep_resolution_and_train_at_28x28():
    m = mobilenetv2(include_top=False, input_shape=(32, 32, 3), small_input_strides=True)
    assert m.output_shape == (None, 4, 4, 1280)
    assert m.count_params() == mobilenetv2(include_top=False, input_shape=(32, 32, 3)).count_params()
    assert m.get_layer("Conv1").strides == (1, 1) and m.get_layer("block_1_depthwise").strides == (1, 1)
    assert "block_1_pad" not in [layer.name for layer in m.layers]

    fashion = mobilenetv2(input_shape=(28, 28, 1), classes=10, alpha=0.35, small_input_strides=True)
    assert fashion.get_layer("out_relu").output.shape[1:3] == (4, 4)
    fashion.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=True)  # no tracing: cheap
    x, y = _x((28, 28, 1), batch=8), np.arange(8) % 10
    first = fashion.train_on_batch(x, y)
    for _ in range(4):
        last = fashion.train_on_batch(x, y)
    assert np.isfinite(first) and last < first
    with pytest.raises(ValueError, match="at least 8x8"):
        mobilenetv2(input_shape=(7, 7, 1), small_input_strides=True)


def test_v1_paper_activation_and_dropout_knobs():
    m = mobilenet(alpha=0.25, activation="relu", dropout=0.0, input_shape=(32, 32, 3))
    assert m.get_layer("block5_pw_relu").activation is keras.activations.relu
    assert m.get_layer("dropout").rate == 0.0
    assert m.count_params() == mobilenet(alpha=0.25).count_params()
