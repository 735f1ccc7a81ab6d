"""The CIFAR ResNets of He et al. 2015 §4.2."""

import math

import keras
import pytest

from kcnn.layers import ZeroPadShortcut
from kcnn.models import endpoints
from kcnn.models.resnet_cifar import resnet20, resnet56, resnet_cifar


def trainable(model):
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def paper_count(n: int, classes: int = 10) -> int:
    """Trainable parameters of the 6n+2 network with option A, by the paper's description."""
    conv_bn = lambda c_in, c_out: 9 * c_in * c_out + 2 * c_out  # noqa: E731
    total = conv_bn(3, 16)
    for c_in, c in ((16, 16), (16, 32), (32, 64)):
        total += conv_bn(c_in, c) + conv_bn(c, c) + (n - 1) * 2 * conv_bn(c, c)
    return total + 64 * classes + classes


@pytest.mark.parametrize("builder,n", [(resnet20, 3), (resnet56, 9)])
def test_option_a_counts_match_the_papers_architecture(builder, n):
    model = builder()
    assert trainable(model) == paper_count(n)
    # 6n+2 weighted layers: the stem, 6n convolutions in the blocks, the classifier
    weighted = [l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))]
    assert len(weighted) == 6 * n + 2


def test_option_a_shortcuts_are_parameter_free_zero_padding():
    model = resnet20()
    shortcuts = [layer for layer in model.layers if isinstance(layer, ZeroPadShortcut)]
    assert [s.name for s in shortcuts] == ["conv3_block1_0_shortcut", "conv4_block1_0_shortcut"]
    assert all(not s.weights for s in shortcuts)
    assert [(s.filters, s.strides) for s in shortcuts] == [(32, 2), (64, 2)]


def test_option_b_projects_where_channels_change():
    a, b = resnet20(), resnet20(shortcut="B")
    assert trainable(b) - trainable(a) == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert not any(isinstance(layer, ZeroPadShortcut) for layer in b.layers)


def test_stages_run_at_32_16_8():
    model = resnet20(input_shape=(32, 32, 3))
    assert endpoints(model) == {"P0": "conv2_block3_out", "P1": "conv3_block3_out", "P2": "conv4_block3_out"}
    shapes = [model.get_layer(n).output.shape[1:] for n in endpoints(model).values()]
    assert shapes == [(32, 32, 16), (16, 16, 32), (8, 8, 64)]


def test_any_6n_plus_2_depth_and_only_those():
    assert trainable(resnet_cifar(8)) == paper_count(1)
    with pytest.raises(ValueError, match="6n\\+2"):
        resnet_cifar(21)


def test_too_small_input_names_the_minimum():
    with pytest.raises(ValueError, match="at least 4x4"):
        resnet20(input_shape=(3, 3, 3))


def test_last_gamma_init_sets_only_the_branch_end_bn():
    model = resnet_cifar(8, last_gamma_init=0.1)
    gammas = {
        l.name: float(keras.ops.convert_to_numpy(l.gamma)[0])
        for l in model.layers
        if isinstance(l, keras.layers.BatchNormalization)
    }
    assert {n for n, g in gammas.items() if g != 1.0} == {"conv2_block1_2_bn", "conv3_block1_2_bn", "conv4_block1_2_bn"}
    assert gammas["conv2_block1_2_bn"] == pytest.approx(0.1)
