"""The shared harness over every registered network (under whichever Keras backend runs)."""

import pytest

import kcnn
from tests import harness

# Networks with tens of millions of parameters at ImageNet size are marked slow; CI runs them.
HEAVY = 20_000_000
# The cheap cases `make test` also runs under KERAS_BACKEND=jax (marker "jax"), with tests/layers:
# LeNet (both), the CIFAR ResNet and DenseNet-BC, MobileNetV2, EfficientNet-B0 and GoogLeNet at their min_input.
JAX_CASES = (
    "lenet5",
    "lenet5_modern",
    "resnet20",
    "densenet_bc100_cifar",
    "mobilenetv2",
    "efficientnetb0",
    "googlenet",
)


def _params(names, *, deep_ones_opt_in: bool = False, jax: bool = False):
    params = []
    for n in names:
        info = kcnn.model_info(n)
        marks = [pytest.mark.slow] if (info.params or 0) > HEAVY else []
        if jax and n in JAX_CASES:
            marks.append(pytest.mark.jax)
        if deep_ones_opt_in and "heavy" in info.tags:
            marks.append(pytest.mark.heavy)
        params.append(pytest.param(n, marks=marks))
    return params


# Classifiers only: the segmentation networks (tag "segmentation") have tests/segmentation/test_models.py.
CLASSIFIERS = [n for n in kcnn.list_models() if "segmentation" not in kcnn.model_info(n).tags]
MODELS = _params(CLASSIFIERS)
# resnet1202's 4,200 layers make a .keras round trip and a second build take minutes on 2 cores;
# resnet20..110 exercise the same layers. KCNN_HEAVY_TESTS=1 runs them too.
MODELS_LIGHT_ROUND_TRIP = _params(CLASSIFIERS, deep_ones_opt_in=True, jax=True)


@pytest.mark.parametrize("name", MODELS)
def test_published_parameter_count(name):
    harness.assert_published_params(name)


@pytest.mark.parametrize("name", MODELS)
def test_min_input_is_the_smallest_input_the_builder_accepts(name):
    harness.assert_min_input_is_the_builders_minimum(name)


@pytest.mark.parametrize("name", MODELS_LIGHT_ROUND_TRIP)
def test_forward_gradients_and_keras_round_trip(name, tmp_path):
    harness.assert_forward_gradients_and_round_trip(name, tmp_path)


@pytest.mark.parametrize("name", MODELS_LIGHT_ROUND_TRIP)
def test_mixed_bfloat16_forward_returns_float32(name):
    harness.assert_mixed_bfloat16_outputs_float32(name)
