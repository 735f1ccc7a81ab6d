"""U-Net: the paper's valid convolutions and cropping, sizes, and the zoo-encoder variant."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.segmentation import unet, unet_output_size
from kcnn.segmentation.layers import CropToReference

SMALL = (4, 8, 16, 32, 64)


def test_valid_padding_gives_the_papers_sizes():
    assert unet_output_size(572, "valid") == 388  # Fig. 1
    assert unet_output_size(188, "valid") == 4
    model = unet(input_shape=(572, 572, 1), padding="valid", filters=SMALL)
    assert model.output_shape == (None, 388, 388, 2)
    assert model.get_layer("dec4_crop").output.shape[1:3] == (56, 56)  # 64 cropped to the up-convolution's 56
    for size in (188, 204, 252):
        assert unet(input_shape=(size, size, 1), padding="valid", filters=SMALL).output_shape[1] == unet_output_size(
            size, "valid"
        )


def test_valid_and_same_have_the_same_parameters_and_only_valid_crops():
    same = kcnn.create_model("unet")
    valid = kcnn.create_model("unet", padding="valid")
    assert same.count_params() == valid.count_params() == 31_030_658
    assert not any(isinstance(layer, CropToReference) for layer in same.layers)
    assert sum(isinstance(layer, CropToReference) for layer in valid.layers) == 4
    assert same.get_layer("dec1_concat").output.shape[-1] == 128  # 64 skip + 64 up-convolved
    assert same.get_layer("bottom_dropout").rate == 0.5


def test_valid_forward_crops_the_centre():
    model = unet(input_shape=(188, 188, 1), padding="valid", filters=SMALL)
    y = model.predict(np.random.default_rng(0).normal(size=(1, 188, 188, 1)).astype("float32"), verbose=0)
    assert y.shape == (1, 4, 4, 2)


@pytest.mark.parametrize("backbone", ["mobilenetv2", "vgg16"])
def test_unet_over_a_zoo_encoder_concatenates_its_endpoints(backbone):
    model = unet(backbone=backbone, input_shape=(32, 32, 3), classes=5, decoder_filters=(16, 8, 8, 4, 4))
    assert model.output_shape == (None, 32, 32, 5)
    concats = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
    # VGG has a stride-1 endpoint (block1_conv2) to join at full size; MobileNetV2 starts at stride 2.
    assert concats == [f"dec{k}_concat" for k in range(4, -1 if backbone == "vgg16" else 0, -1)]


def test_valid_padding_needs_the_papers_encoder():
    with pytest.raises(ValueError, match=r"padding='valid' applies to the paper's encoder"):
        unet(backbone="resnet50", padding="valid")
