import keras
import numpy as np
import pytest

from kcnn.training.batchnorm import batch_norm_layers, recompute_batch_norm


def _nested_bn_model():
    inner_in = keras.Input((8, 8, 4))
    y = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(inner_in)
    y = keras.layers.BatchNormalization(name="bn2")(y)
    inner = keras.Model(inner_in, y, name="inner")
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inp)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(6.0, name="relu")(x)
    return keras.Model(inp, inner(x)), inner


def _stats(features):
    flat = keras.ops.convert_to_numpy(features).reshape(-1, features.shape[-1])
    return flat.mean(0), flat.var(0)


def test_statistics_become_the_inference_mode_population_statistics_nested_models_included():
    keras.utils.set_random_seed(0)
    model, inner = _nested_bn_model()
    images = np.random.RandomState(0).normal(2.0, 3.0, (256, 8, 8, 3)).astype("float32")
    assert [layer.name for layer in batch_norm_layers(model)] == ["bn1", "bn2"]

    assert recompute_batch_norm(model, [(images[i : i + 64], None) for i in range(0, 256, 64)]) == 256

    bn1 = model.get_layer("bn1")
    mean, var = _stats(keras.Model(model.inputs, bn1.input)(images))
    np.testing.assert_allclose(bn1.moving_mean, mean, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn1.moving_variance, var, rtol=1e-4)
    # bn2's inputs, computed in inference mode through the recomputed bn1 (its sums grew batch by batch)
    upstream = model.get_layer("relu")(bn1(keras.Model(model.inputs, bn1.input)(images), training=False))
    bn2 = inner.get_layer("bn2")
    mean, var = _stats(inner.get_layer("dw")(upstream))
    np.testing.assert_allclose(bn2.moving_variance, var, rtol=0.02)
    np.testing.assert_allclose(bn2.moving_mean, mean, atol=0.02 * np.sqrt(var).max())
    assert "call" not in vars(bn1) and "call" not in vars(bn2)  # the class's call is back


def test_a_model_without_batch_norm_is_left_alone_and_an_empty_source_is_an_error():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert recompute_batch_norm(model, [np.zeros((2, 4), "float32")]) == 0
    bn_model, _ = _nested_bn_model()
    with pytest.raises(ValueError, match="no images"):
        recompute_batch_norm(bn_model, [])


@pytest.mark.tf_only
def test_a_run_ends_with_the_statistics_of_its_first_training_images(tmp_path, fashion_mnist_dir):
    from kcnn import data as kdata
    from kcnn.export import load_keras_model
    from kcnn.training import ExperimentConfig, train

    config = ExperimentConfig.from_dict(
        {
            "model": {"name": "resnet20"},
            "data": {"dataset": "fashion_mnist", "train_split": "train[:256]", "test_split": "test[:64]"},
            "train": {"epochs": 1, "batch_size": 64, "recompute_bn": 128, "seed": 1},
            "model_dir": str(tmp_path / "run"),
        }
    )
    config.data.validation = "none"
    train(config, verbose=0)
    model = load_keras_model(str(tmp_path / "run" / "model.keras"))
    images = np.stack([x.numpy() for x, _ in kdata.load("fashion_mnist", "train[:128]")]).astype("float32")
    first = batch_norm_layers(model)[0]  # no BN upstream: its inputs are exact
    mean, var = _stats(keras.Model(model.inputs, first.input)(images))
    np.testing.assert_allclose(first.moving_mean, mean, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(first.moving_variance, var, rtol=1e-3)
