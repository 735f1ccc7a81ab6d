import keras
import pytest

import kcnn
from kcnn import registry


@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_list_models_is_sorted_and_holds_lenet():
    names = kcnn.list_models()
    assert names == sorted(names)
    assert {"lenet5", "lenet5_modern"} <= set(names)
    assert kcnn.list_models(family="lenet") == ["lenet5", "lenet5_modern"]


def test_registering_a_name_twice_raises(scratch_registry):
    kcnn.register_model("tiny_test_net", family="test", paper="-", input_shape=(8, 8, 1))(lambda **kw: None)
    with pytest.raises(ValueError, match="already registered"):
        kcnn.register_model("tiny_test_net", family="test", paper="-", input_shape=(8, 8, 1))(lambda **kw: None)


def test_unknown_name_lists_the_closest_names():
    with pytest.raises(ValueError, match=r"unknown model 'lenet6'; closest: lenet5"):
        kcnn.get_model("lenet6")


def test_create_model_passes_keyword_arguments():
    model = kcnn.create_model("lenet5_modern", classes=3, name="three_way")
    assert model.name == "three_way" and model.output_shape == (None, 3)


def test_model_info_carries_the_published_count():
    info = kcnn.model_info("lenet5")
    assert info.family == "lenet" and info.params == 60_850 and info.params_convention == "trainable"
    assert info.builder is kcnn.get_model("lenet5")


def test_invalid_params_convention_is_rejected(scratch_registry):
    with pytest.raises(ValueError, match="params_convention"):
        kcnn.register_model("x", family="t", paper="-", input_shape=(8, 8, 1), params_convention="both")


@pytest.mark.parametrize("name", kcnn.list_models())
def test_an_unknown_keyword_is_one_type_error_naming_it_and_the_model(name):
    # Raised before any layer is built: the runner blames the keyword, not the input shape.
    # Classifiers list keras.applications' include_top, segmentation builders their classes.
    with pytest.raises(
        TypeError, match=rf"^{name}: unknown keyword argument 'bogus'; \w+\(\) takes .*(include_top|classes)"
    ):
        kcnn.create_model(name, bogus=1)


def test_every_family_knob_is_reachable_through_create_model():
    zero_gamma = kcnn.create_model("resnet50", last_gamma_init=0.0, downsample="last", include_top=False)
    assert float(keras.ops.max(zero_gamma.get_layer("conv2_block1_3_bn").gamma)) == 0.0
    # downsample="last": stage conv2's last block halves the map (keras' ResNetV2 rule)
    assert zero_gamma.get_layer("conv2_block3_1_conv").strides == (2, 2)
    assert kcnn.create_model("densenet121", growth_rate=16, include_top=False).count_params() < 8_000_000
    assert kcnn.create_model("lenet5", activation="tanh").get_layer("c1").activation.__name__ == "tanh"
    assert kcnn.create_model("mobilenet_050", alpha=0.25).get_layer("conv1").filters == 8
