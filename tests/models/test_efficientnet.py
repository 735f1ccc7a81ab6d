"""EfficientNet B0..B7: compound scaling, stochastic depth schedule, preprocessing stage and
input range, keras.applications equivalence and weight transfer (offline), small inputs."""

import keras
import numpy as np
import pytest
from keras import layers

import kcnn
from kcnn.models.efficientnet import (
    DEFAULT_BLOCKS_ARGS,
    EFFICIENTNET_VARIANTS,
    IMAGENET_MEAN_RGB,
    IMAGENET_STDDEV_RGB,
    _EfficientNetSource,
    efficientnet,
    efficientnetb0,
    round_repeats,
)
from tests.models.keras_reference import assert_same_outputs, predict, randomize_statistics, weighted_layer_shapes


def _pixels(shape, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=(batch, *shape)).astype("float32")


def _sub(model, layer_name):
    return keras.Model(model.input, model.get_layer(layer_name).output)


@pytest.mark.parametrize("variant", ["b1", "b2"])
def test_layers_and_shapes_equal_keras(variant):
    m = efficientnet(variant, include_top=False, input_shape=(32, 32, 3))
    ref = getattr(keras.applications, f"EfficientNet{variant.upper()}")(
        weights=None, include_top=False, input_shape=(32, 32, 3)
    )
    mine, theirs = weighted_layer_shapes(m), weighted_layer_shapes(ref)
    theirs["normalization"] = theirs.pop(next(n for n in theirs if n.startswith("normalization")))
    assert mine == theirs


# Hand-computed: repeats ceil(depth x (1, 2, 2, 3, 3, 4, 1)); stem and head widths 32 and 1280 x width,
# rounded to multiples of 8.
SCALED = {
    "b0": ([1, 2, 2, 3, 3, 4, 1], 32, 1280),
    "b3": ([2, 3, 3, 5, 5, 6, 2], 40, 1536),
    "b7": ([4, 7, 7, 10, 10, 13, 4], 64, 2560),
}


@pytest.mark.parametrize("variant", sorted(SCALED))
def test_compound_scaling_depth_width_dropout(variant):
    repeats, stem, head = SCALED[variant]
    m = kcnn.create_model(f"efficientnet{variant}")
    assert [
        round_repeats(spec["repeats"], EFFICIENTNET_VARIANTS[variant][1]) for spec in DEFAULT_BLOCKS_ARGS
    ] == repeats
    for stage, n in enumerate(repeats, start=1):
        names = {layer.name.split("_")[0] for layer in m.layers if layer.name.startswith(f"block{stage}")}
        assert names == {f"block{stage}{chr(97 + j)}" for j in range(n)}
    assert m.get_layer("stem_conv").filters == stem and m.get_layer("top_conv").filters == head
    width, depth, size, dropout = EFFICIENTNET_VARIANTS[variant]
    assert m.get_layer("top_dropout").rate == dropout
    assert kcnn.model_info(f"efficientnet{variant}").input_shape == (size, size, 3)


def test_stochastic_depth_schedule_rises_linearly():
    m = efficientnetb0(include_top=False, input_shape=(32, 32, 3))
    blocks = [layer.name.removesuffix("_project_bn") for layer in m.layers if layer.name.endswith("_project_bn")]
    assert len(blocks) == 16
    want = {f"{b}_drop": 0.2 * i / 16 for i, b in enumerate(blocks)}
    drops = {layer.name: layer.rate for layer in m.layers if layer.name.endswith("_drop")}
    # Only blocks with a shortcut (stride 1, same channels) drop; block1a (32 -> 16) has none.
    assert set(drops) == {
        f"{b}_drop"
        for b in ("block2b", "block3b", "block4b", "block4c", "block5b", "block5c", "block6b", "block6c", "block6d")
    }
    assert all(drops[n] == pytest.approx(want[n]) for n in drops)
    noisy = efficientnetb0(include_top=False, input_shape=(32, 32, 3), drop_connect_rate=0.0)
    assert not any(layer.name.endswith("_drop") for layer in noisy.layers)


def test_knob_overrides():
    m = efficientnet("b0", dropout_rate=0.0, attention=None, activation="relu", input_shape=(32, 32, 3), classes=7)
    names = [layer.name for layer in m.layers]
    assert "top_dropout" not in names and not any("_se_" in n for n in names)
    assert m.get_layer("block2a_activation").activation is keras.activations.relu
    assert m.output_shape == (None, 7) and m.name == "efficientnetb0"
    with pytest.raises(ValueError, match="variant must be one of"):
        efficientnet("b8")


def test_preprocessing_stage_expects_pixels_0_255():
    m = efficientnetb0(include_top=False, input_shape=(32, 32, 3))
    assert [layer.name for layer in m.layers[1:4]] == ["rescaling", "normalization", "stem_conv_pad"]
    x = _pixels((32, 32, 3))
    np.testing.assert_allclose(predict(_sub(m, "normalization"), x), x / 255.0, rtol=1e-6)


@pytest.mark.parametrize("include_top,shape", [(False, (64, 64, 3)), (False, (35, 35, 3)), (True, (224, 224, 3))])
def test_transfer_from_keras_gives_identical_outputs(include_top, shape):
    ref = keras.applications.EfficientNetB0(weights=None, include_top=include_top, input_shape=shape)
    randomize_statistics(ref)  # BatchNorm and the Normalization stage
    m = efficientnetb0(include_top=include_top, input_shape=shape)
    norm = next(layer.name for layer in ref.layers if isinstance(layer, layers.Normalization))  # auto-named
    kcnn.models.imagenet.transfer_weights(ref, m, lambda n: norm if n == "normalization" else n)
    assert_same_outputs(m, ref, _pixels(shape), atol=1e-6)


@pytest.fixture
def offline_efficientnet(monkeypatch):
    """keras.applications.EfficientNetB0 with weights='imagenet' swapped for a random init whose
    Normalization holds what keras' weight files hold: ImageNet mean, and std as the variance."""
    built = []
    original = keras.applications.EfficientNetB0

    def build(**kwargs):
        model = original(**{**kwargs, "weights": None})
        randomize_statistics(model)
        norm = next(layer for layer in model.layers if isinstance(layer, layers.Normalization))
        norm.set_weights([np.array(IMAGENET_MEAN_RGB), np.array(IMAGENET_STDDEV_RGB), norm.get_weights()[2]])
        norm.finalize_state()
        built.append(model)
        return model

    monkeypatch.setattr(keras.applications, "EfficientNetB0", build)
    return built


def test_imagenet_path_standardizes_with_imagenet_mean_and_std(offline_efficientnet):
    # Training-only knobs may differ from the trained network's.
    m = efficientnetb0(weights="imagenet", include_top=False, input_shape=(32, 32, 3), drop_connect_rate=0.1)
    ref = offline_efficientnet[-1]
    x = _pixels((32, 32, 3))
    mean, std = np.array(IMAGENET_MEAN_RGB), np.array(IMAGENET_STDDEV_RGB)
    np.testing.assert_allclose(predict(_sub(m, "rescaling_1"), x), (x / 255 - mean) / std, rtol=1e-5, atol=1e-5)
    # keras' imagenet model divides by sqrt(std) twice; the weights=None stand-in once, so feed it the
    # pixels whose single division gives the same standardized input.
    x_ref = 255 * (mean + (x / 255 - mean) / np.sqrt(std))
    np.testing.assert_allclose(predict(m, x), predict(ref, x_ref.astype("float32")), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(activation="relu"), "activation='swish'"),
        (dict(width_coefficient=1.1), "width_coefficient=1.0"),
        (dict(attention=None), "attention='se'"),
        (dict(input_shape=(64, 64, 3)), r"input_shape` should be \(224, 224, 3\)"),
        (dict(include_top=False, input_shape=(64, 64, 1)), "3 channels"),
    ],
)
def test_imagenet_argument_errors_come_before_any_download(kwargs, message, monkeypatch):
    monkeypatch.setattr(_EfficientNetSource, "load", lambda *a, **k: pytest.fail("tried to load weights"))
    with pytest.raises(ValueError, match=message):
        efficientnetb0(weights="imagenet", **kwargs)


def test_minimum_input_size_is_32():
    assert efficientnetb0(include_top=False, input_shape=(32, 32, 3)).output_shape == (None, 1, 1, 1280)
    with pytest.raises(ValueError, match="at least 32x32"):
        efficientnetb0(input_shape=(28, 28, 1), classes=10)


def test_gradients_reach_every_weight_without_stochastic_depth():
    m = efficientnetb0(input_shape=(32, 32, 3), classes=3, drop_connect_rate=0.0, dropout_rate=0.0)
    before = [keras.ops.convert_to_numpy(w).copy() for w in m.trainable_weights]
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", run_eagerly=True)
    assert np.isfinite(m.train_on_batch(_pixels((32, 32, 3)), np.array([0, 2])))
    unchanged = [
        w.path for w, b in zip(m.trainable_weights, before) if np.array_equal(keras.ops.convert_to_numpy(w), b)
    ]
    assert not unchanged


def test_mixed_bfloat16_float_variables_and_outputs():
    keras.config.set_dtype_policy("mixed_bfloat16")
    m = efficientnetb0(input_shape=(32, 32, 3), classes=3)
    y = m(_pixels((32, 32, 3)), training=False)
    assert keras.backend.standardize_dtype(y.dtype) == "float32"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(y)))
    odd = {w.path: w.dtype for w in m.weights if w.dtype != "float32"}
    assert list(odd) == ["normalization/count"]  # keras' Normalization keeps an integer sample count
    assert odd["normalization/count"].startswith("int")
