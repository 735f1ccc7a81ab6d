"""The shared harness over every registered network (under whichever Keras backend runs)."""

import pytest

import kcnn
from tests import harness

# Networks with tens of millions of parameters at ImageNet size are marked slow; CI runs them.
HEAVY = 20_000_000
# The cheap cases `make test` also runs under KERAS_BACKEND=jax (marker "jax"), with tests/layers:
# LeNet (both), the CIFAR ResNet and MobileNetV2 at their min_input. XLA's compile of the forward
# pass and gradients takes 1-3 minutes each for DenseNet-BC, EfficientNet-B0 and GoogLeNet on one
# core; `KERAS_BACKEND=jax pytest -m "not tf_only" tests/models/test_zoo.py` runs every network.
JAX_CASES = ("lenet5", "lenet5_modern", "resnet20", "mobilenetv2")


def _params(names, *, full_check: bool = True, jax: bool = False):
    """Models tagged heavy (ResNet-1202: minutes to build twice) are opt-in; with ``full_check``
    the deeper variants (harness.DEEPER_VARIANTS) too."""
    params = []
    for n in names:
        info = kcnn.model_info(n)
        marks = harness.tier_marks(n, HEAVY) if full_check else [pytest.mark.slow] if (info.params or 0) > HEAVY else []
        if jax and n in JAX_CASES:
            marks.append(pytest.mark.jax)
        if "heavy" in info.tags and pytest.mark.heavy not in marks:
            marks.append(pytest.mark.heavy)
        params.append(pytest.param(n, marks=marks))
    return params


# Classifiers only: the segmentation networks (tag "segmentation") have tests/segmentation/test_models.py.
CLASSIFIERS = [n for n in kcnn.list_models() if "segmentation" not in kcnn.model_info(n).tags]
# Every network's exact count (ResNet-1202's, 33 s to build, with KCNN_HEAVY_TESTS=1); the full
# checks of the base members (the deeper variants of the same builders, e.g. EfficientNet-B1..B7,
# ResNet-101/152, with KCNN_HEAVY_TESTS=1).
COUNTED = _params(CLASSIFIERS, full_check=False)
CHECKED = _params(CLASSIFIERS, jax=True)
MIN_INPUT = _params(CLASSIFIERS)


@pytest.mark.parametrize("name", COUNTED)
def test_published_parameter_count(name):
    harness.assert_published_params(name)


@pytest.mark.parametrize("name", MIN_INPUT)
def test_min_input_is_the_smallest_input_the_builder_accepts(name):
    harness.assert_min_input_is_the_builders_minimum(name)


@pytest.mark.parametrize("name", CHECKED)
def test_forward_gradients_and_keras_round_trip(name, tmp_path):
    harness.assert_forward_gradients_and_round_trip(name, tmp_path)


@pytest.mark.parametrize("name", CHECKED)
def test_mixed_bfloat16_forward_returns_float32(name):
    harness.assert_mixed_bfloat16_outputs_float32(name)
