import keras
import numpy as np
import pytest

import kcnn
from kcnn.studies.nets import cifar_net, plain_cnn


def test_cifar_net_at_full_width_is_kcnns_resnet20_and_the_plain_net_has_the_same_count():
    residual = cifar_net(20, residual=True, width=16, input_shape=(32, 32, 3))
    plain = cifar_net(20, residual=False, width=16, input_shape=(32, 32, 3))
    assert residual.count_params() == kcnn.create_model("resnet20").count_params() == plain.count_params()
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in plain.layers) == 19


def test_plain_cnn_layers_and_the_notes_initializations():
    keras.utils.set_random_seed(0)
    model = plain_cnn(depth=10, width=8, init="normal_0.01", batch_norm=True)
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == 10
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 10
    kernel = keras.ops.convert_to_numpy(model.get_layer("conv5_conv").kernel)
    assert 0.009 < kernel.std() < 0.011
    he = keras.ops.convert_to_numpy(plain_cnn(depth=4, width=8, init="he").get_layer("conv2_conv").kernel)
    assert he.std() == pytest.approx(np.sqrt(2 / (9 * 8)), rel=0.1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: plain_cnn(init="orthogonal"), "initializer must be one of"),
        (lambda: cifar_net(21, residual=True), "6n\\+2"),
    ],
)
def test_bad_arguments_say_what_is_allowed(call, match):
    with pytest.raises(ValueError, match=match):
        call()
