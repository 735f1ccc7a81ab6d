"""VGG: Table 1 configurations, keras.applications layer names and weight transfer, BN variants, small inputs."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.layers import LocalResponseNormalization
from kcnn.models.imagenet import transfer_weights
from kcnn.models.vgg import vgg

FC_PARAMS = (7 * 7 * 512 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
TABLE2_MILLIONS = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
X32 = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")


def _conv_params(config):
    return vgg(config, include_top=False, input_shape=(32, 32, 3)).count_params()


@pytest.mark.parametrize("config", sorted(TABLE2_MILLIONS))
def test_table2_parameter_counts(config):
    assert round((_conv_params(config) + FC_PARAMS) / 1e6) == TABLE2_MILLIONS[config]


def test_configuration_c_adds_three_1x1_convolutions_and_a_lrn_one_lrn():
    one_by_one = (256 * 256 + 256) + 2 * (512 * 512 + 512)
    assert _conv_params("C") - _conv_params("B") == one_by_one
    model = vgg("C", include_top=False, input_shape=(32, 32, 3))
    assert model.name == "vgg16_c" and vgg("D", batch_norm=True, include_top=False).name == "vgg16_bn"
    assert [model.get_layer(f"block{b}_conv3").kernel_size for b in (3, 4, 5)] == [(1, 1)] * 3
    lrn = vgg("A-LRN", include_top=False, input_shape=(32, 32, 3))
    order = [layer.name for layer in lrn.layers]
    assert order[1:4] == ["block1_conv1", "block1_lrn", "block1_pool"]
    assert isinstance(lrn.get_layer("block1_lrn"), LocalResponseNormalization)
    assert _conv_params("A-LRN") == _conv_params("A")
    with pytest.raises(
        ValueError,
        match="^`config` must be one of 'A', 'A-LRN', 'B', 'C', 'D', 'E', 'mini', 'D/4'; Received: config='F'$",
    ):
        vgg("F")
    assert vgg("D/4", include_top=False, input_shape=(32, 32, 3)).name == "vgg16_quarter"


@pytest.mark.parametrize("ours,theirs", [("vgg16", "VGG16"), ("vgg19", "VGG19")])
def test_layer_names_match_keras_applications(ours, theirs):
    model = kcnn.create_model(ours, input_shape=(32, 32, 3), classes=10)
    reference = getattr(keras.applications, theirs)(weights=None, input_shape=(32, 32, 3), classes=10)
    ours_names = [layer.name for layer in model.layers if not layer.name.endswith("_dropout")]
    assert ours_names[1:] == [layer.name for layer in reference.layers][1:]


@pytest.mark.parametrize("include_top", [False, True])
def test_weights_transfer_from_keras_applications_vgg16(include_top):
    keras.utils.set_random_seed(1)
    source = keras.applications.VGG16(weights=None, include_top=include_top, input_shape=(32, 32, 3), classes=10)
    model = kcnn.create_model("vgg16", include_top=include_top, input_shape=(32, 32, 3), classes=10)
    before = keras.ops.convert_to_numpy(model(X32))
    assert transfer_weights(source, model) == (16 if include_top else 13)
    want = keras.ops.convert_to_numpy(source(X32))
    got = keras.ops.convert_to_numpy(model(X32, training=False))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(before, want, rtol=1e-3)


def test_imagenet_weights_path_offline(monkeypatch):
    """weights='imagenet' builds keras.applications.VGG19 and copies it by name; here with random weights."""
    keras.utils.set_random_seed(2)
    built, real_vgg19 = [], keras.applications.VGG19

    def fake_vgg19(include_top, weights, input_shape):
        assert weights == "imagenet" and include_top is False
        built.append(real_vgg19(include_top=include_top, weights=None, input_shape=input_shape))
        return built[-1]

    monkeypatch.setattr(keras.applications, "VGG19", fake_vgg19)
    model = kcnn.create_model("vgg19", weights="imagenet", include_top=False, input_shape=(32, 32, 3), pooling="avg")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(X32)),
        keras.ops.convert_to_numpy(built[0](X32)).mean(axis=(1, 2)),
        rtol=1e-5,
        atol=1e-5,
    )


def test_imagenet_weights_only_where_keras_applications_has_them():
    for name, kwargs in [("vgg11", {}), ("vgg16_bn", {}), ("vgg16", {"activation": "elu"})]:
        with pytest.raises(ValueError, match="weights='imagenet' is not available"):
            kcnn.create_model(name, weights="imagenet", **kwargs)
    with pytest.raises(ValueError, match=r"`input_shape` should be \(224, 224, 3\)"):
        kcnn.create_model("vgg16", weights="imagenet", input_shape=(32, 32, 3))


def test_weights_file_of_another_architecture_names_the_first_mismatching_layer(tmp_path):
    path = tmp_path / "vgg11.weights.h5"
    saved = kcnn.create_model("vgg11", input_shape=(32, 32, 3), classes=10)
    saved.save_weights(path)
    restored = kcnn.create_model("vgg11", input_shape=(32, 32, 3), classes=10, weights=str(path))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(X32)), keras.ops.convert_to_numpy(saved(X32)), rtol=1e-6
    )
    with pytest.raises(
        ValueError,
        match=r"does not fit model 'vgg13': first mismatching layer 'block1_conv2': model has "
        r"weights \[\(3, 3, 64, 64\), \(64,\)\], the file's 'conv2d_1' has",
    ):
        kcnn.create_model("vgg13", input_shape=(32, 32, 3), classes=10, weights=str(path))
    with pytest.raises(ValueError, match="first mismatching layer 'predictions'"):
        kcnn.create_model("vgg11", input_shape=(32, 32, 3), classes=7, weights=str(path))


def test_batch_norm_variant_is_torchvisions_layout():
    model = kcnn.create_model("vgg11_bn", include_top=False, input_shape=(32, 32, 3))
    order = [layer.name for layer in model.layers]
    assert order[1:5] == ["block1_conv1", "block1_conv1_bn", "block1_conv1_act", "block1_pool"]
    conv, bn = model.get_layer("block1_conv1"), model.get_layer("block1_conv1_bn")
    assert conv.use_bias and conv.activation is keras.activations.linear
    assert (bn.epsilon, bn.momentum) == (1e-5, 0.9)
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 8


def test_cifar_32x32_builds_and_trains_fashion_mnist_28x28_is_rejected():
    keras.utils.set_random_seed(3)
    model = kcnn.create_model("vgg11", input_shape=(32, 32, 3), classes=10)
    assert model.get_layer("flatten").output.shape == (None, 512)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(4).uniform(0, 1, (8, 32, 32, 3)).astype("float32")
    y = np.arange(8) % 10
    losses = [float(model.train_on_batch(x, y)) for _ in range(5)]
    assert losses[-1] < losses[0]
    with pytest.raises(ValueError, match=r"vgg16: input size must be at least 32x32"):
        kcnn.create_model("vgg16", input_shape=(28, 28, 1))


def test_dropout_paper_initialization_and_maxout():
    keras.utils.set_random_seed(5)
    model = kcnn.create_model("vgg11", input_shape=(32, 32, 3), kernel_initializer="paper", activation="maxout")
    assert model.get_layer("fc1_dropout").rate == 0.5 and model.get_layer("fc2_dropout").rate == 0.5
    kernel = keras.ops.convert_to_numpy(model.get_layer("fc2").kernel)
    assert abs(kernel.std() - 0.1) < 2e-3  # §3.1: variance 10^-2
    assert (
        model.get_layer("block3_conv2").filters == 512
        and model.get_layer("block3_conv2_maxout").output.shape[-1] == 256
    )


def test_vgg_mini_layout_and_fc_knob():
    model = kcnn.create_model("vgg_mini")
    assert model.input_shape == (None, 28, 28, 1)
    assert model.get_layer("block2_pool").output.shape[1:] == (7, 7, 64)
    assert model.get_layer("fc1").output.shape[-1] == 256
    assert "fc2" not in [layer.name for layer in model.layers]
    with pytest.raises(ValueError, match="at least 4x4"):
        kcnn.create_model("vgg_mini", input_shape=(3, 3, 1))
