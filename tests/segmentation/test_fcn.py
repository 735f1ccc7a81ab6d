"""FCN: the Caffe alignment (coordinate maps), fixed and learned upsampling, convolutionalization."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.layers import CeilModeMaxPooling2D
from kcnn.segmentation.fcn import convolutionalize_vgg16, fcn
from kcnn.segmentation.layers import CropToReference, bilinear_filter


def _coordinate_maps(model):
    """For each layer, (a, b) with input pixel = a * output pixel + b (Caffe's coord_map), from
    the layers' geometry; Add asserts its inputs are aligned."""
    maps = {}
    for layer in model.layers:
        parents = [t._keras_history.operation.name for t in layer._inbound_nodes[0].input_tensors]
        a, b = maps[parents[0]] if parents else (1.0, 0.0)
        if isinstance(layer, keras.layers.ZeroPadding2D):
            b -= layer.padding[0][0] * a
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            k, s = layer.kernel_size[0], layer.strides[0]
            pad = (k - s) // 2 if layer.padding == "same" else 0
            a, b = a / s, b - a * ((k - 1) / 2 - pad) / s
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.MaxPooling2D, CeilModeMaxPooling2D)):
            k = (getattr(layer, "kernel_size", None) or layer.pool_size)[0]
            s, padding = layer.strides[0], getattr(layer, "padding", "valid")  # CeilModeMaxPooling2D pads none
            offset = (k - 1) / 2 if padding == "valid" else (k - 1) / 2 - max(k - s, 0) // 2
            a, b = a * s, b + a * offset
        elif isinstance(layer, CropToReference):
            b += layer.offset[0] * a
        elif isinstance(layer, keras.layers.Add):
            assert all(maps[p] == (a, b) for p in parents), f"{layer.name} adds misaligned maps"
        maps[layer.name] = (a, b)
    return maps


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_paper_alignment_maps_every_output_pixel_onto_its_input_pixel(variant):
    model = kcnn.create_model(f"fcn{variant}", padding="paper", classes=2)
    assert _coordinate_maps(model)["predictions"] == (1.0, 0.0)
    y = model.predict(np.zeros((1, 37, 45, 3), "float32"), verbose=0)  # any size: the crops fit
    assert y.shape == (1, 37, 45, 2)


@pytest.mark.slow
def test_same_layout_is_aligned_and_its_upsampling_is_fixed_or_learned_as_the_paper():
    model = kcnn.create_model("fcn8s", input_shape=(64, 64, 3))
    assert _coordinate_maps(model)["predictions"] == (1.0, 0.0)
    final = model.get_layer("upscore8")
    assert not final.trainable and final.kernel_size == (16, 16) and final.strides == (8, 8)
    for name in ("upscore_pool4", "upscore_pool3"):
        assert model.get_layer(name).trainable
    kernel = keras.ops.convert_to_numpy(final.kernel)
    np.testing.assert_allclose(kernel[:, :, 5, 5], bilinear_filter(16))
    assert not kernel[:, :, 5, 6].any()
    for name in ("score_fr", "score_pool4", "score_pool3"):  # zero-initialized (§4.2-4.3)
        assert not keras.ops.convert_to_numpy(model.get_layer(name).kernel).any()


@pytest.mark.slow
def test_convolutionalized_vgg16_computes_fc2_at_the_centre():
    keras.utils.set_random_seed(0)
    vgg = kcnn.create_model("vgg16")
    fcn = kcnn.create_model("fcn32s", input_shape=(224, 224, 3))
    for layer in vgg.layers:
        if layer.name.startswith("block") and layer.weights:
            fcn.get_layer(layer.name).set_weights(layer.get_weights())
    convolutionalize_vgg16(fcn, vgg)
    x = np.random.default_rng(0).uniform(0, 1, (1, 224, 224, 3)).astype("float32")
    fc2 = keras.Model(vgg.input, vgg.get_layer("fc2").output)(x)
    fc7 = keras.Model(fcn.input, fcn.get_layer("fc7").output)(x)  # 7x7 map; its centre sees all of pool5
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fc7)[0, 3, 3], keras.ops.convert_to_numpy(fc2)[0], rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("backbone, p4", [("mobilenetv2", "block_12_add"), ("resnet50", "conv4_block6_out")])
def test_fcn_over_a_zoo_backbone_fuses_its_endpoints(backbone, p4):
    model = fcn("8s", backbone=backbone, input_shape=(64, 64, 3), classes=4)
    assert model.name == f"fcn8s_{backbone}"
    assert model.get_layer("score_pool4").input is model.get_layer(p4).output
    assert model.get_layer("score_pool4").input.shape[1:3] == (4, 4)  # P4 at stride 16
    assert model.get_layer("score_pool3").input.shape[1:3] == (8, 8)
    assert model.output_shape == (None, 64, 64, 4)
