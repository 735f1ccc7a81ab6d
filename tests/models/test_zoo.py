"""The shared harness over every registered network (under whichever Keras backend runs)."""

import pytest

import kcnn
from tests import harness

# Networks with tens of millions of parameters at ImageNet size are marked slow; CI runs them.
HEAVY = 20_000_000


def _params(names):
    return [
        pytest.param(n, marks=pytest.mark.slow) if (kcnn.model_info(n).params or 0) > HEAVY else n for n in names
    ]


MODELS = _params(kcnn.list_models())


@pytest.mark.parametrize("name", MODELS)
def test_published_parameter_count(name):
    harness.assert_published_params(name)


@pytest.mark.parametrize("name", MODELS)
def test_forward_gradients_and_keras_round_trip(name, tmp_path):
    harness.assert_forward_gradients_and_round_trip(name, tmp_path)


@pytest.mark.parametrize("name", MODELS)
def test_mixed_bfloat16_forward_returns_float32(name):
    harness.assert_mixed_bfloat16_outputs_float32(name)
