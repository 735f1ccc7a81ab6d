"""SegNet: index-based upsampling only, a mirrored decoder, odd sizes."""

import keras
import numpy as np

import kcnn
from kcnn.layers import MaxPoolingWithArgmax2D, MaxUnpooling2D


def _parents(layer):
    return [t._keras_history.operation.name for t in layer._inbound_nodes[0].input_tensors]


def test_decoder_unpools_with_the_mirrored_encoders_indices_and_has_no_transposed_convolution():
    model = kcnn.create_model("segnet", input_shape=(45, 61, 3))
    kinds = {type(layer) for layer in model.layers}
    assert keras.layers.Conv2DTranspose not in kinds and keras.layers.UpSampling2D not in kinds
    for b in range(1, 6):
        unpool = model.get_layer(f"block{b}_unpool")
        assert isinstance(unpool, MaxUnpooling2D) and isinstance(
            model.get_layer(f"block{b}_pool"), MaxPoolingWithArgmax2D
        )
        values, indices, reference = _parents(unpool)
        assert indices == f"block{b}_pool" and reference == f"block{b}_conv{2 if b < 3 else 3}_act"
        assert unpool.output.shape[1:3] == model.get_layer(reference).output.shape[1:3]
    # odd sizes on the way down: 45x61 -> 23x31 -> 12x16 -> 6x8 -> 3x4 -> 2x2, and back exactly
    assert model.get_layer("block5_pool").output[0].shape[1:3] == (2, 2)
    assert model.get_layer("block5_unpool").output.shape[1:3] == (3, 4)
    assert model.output_shape == (None, 45, 61, 11)


def test_decoder_widths_mirror_the_encoder_as_the_authors_caffe_model():
    model = kcnn.create_model("segnet")
    widths = {name: model.get_layer(name).filters for name in ("block5_conv1_D", "block4_conv1_D", "block3_conv1_D")}
    assert widths == {"block5_conv1_D": 512, "block4_conv1_D": 256, "block3_conv1_D": 128}
    assert model.get_layer("block1_conv2_D").filters == 64
    assert model.get_layer("logits").filters == 11 and model.get_layer("logits").kernel_size == (3, 3)
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 13 + 12


def test_odd_size_forward():
    model = kcnn.create_model("segnet", config="mini", classes=4)
    y = model.predict(np.random.default_rng(0).normal(size=(2, 17, 23, 3)).astype("float32"), verbose=0)
    assert y.shape == (2, 17, 23, 4)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)


def test_quarter_width_configuration_count():
    """The CPU preset's SegNet (VGG configuration "D/4": 16-128 filters), worked out by hand
    at 11 classes: encoder convolutions 920,784, decoder 921,819 (logits 16 -> 11: 1,595),
    BatchNorm on 1,056 + 928 channels x 4 = 7,936 -> 1,850,539."""
    model = kcnn.create_model("segnet", config="D/4", input_shape=(64, 64, 3))
    assert model.count_params() == 1_850_539
    assert model.get_layer("block5_conv3").filters == 128 and model.get_layer("block1_conv2_D").filters == 16
