"""Segmentation networks over the zoo's backbones: FCN, U-Net, SegNet and DeepLab.

Every builder takes keras.applications' arguments that apply (``weights``,
``input_tensor``, ``input_shape``, ``classes``, ``classifier_activation``, ``name``) plus
``backbone`` / ``backbone_weights`` / ``backbone_kwargs`` / ``backbone_taps`` where the
encoder is a zoo network (its features are :func:`kcnn.models.endpoints`, built by
:func:`kcnn.models.backbone` with DeepLab's ``output_stride``), and returns a
model whose output is per-pixel class probabilities, shape (batch, H, W, classes), at the
input resolution (U-Net with ``padding="valid"``: the paper's smaller centre). Models
with an auxiliary head (``aux_head=True``, torchvision's layouts, tagged "aux_output")
output ``[main, aux]``. Importing this package registers them in ``kcnn.registry`` with
the tag "segmentation"; each registered variant is one line over its family builder, so
an unknown keyword is one TypeError naming it and the model, and ``min_input`` is the
smallest input the builder accepts (one pixel less is its ValueError stating it).
"""

from kcnn.segmentation.deeplab import (
    deeplabv1,
    deeplabv2,
    deeplabv3,
    deeplabv3_resnet50,
    deeplabv3_resnet101,
    deeplabv3plus,
    deeplabv3plus_mobilenetv2,
)
from kcnn.segmentation.fcn import fcn, fcn8s, fcn16s, fcn32s, fcn_resnet50, fcn_resnet101, fcn_torchvision
from kcnn.segmentation.segnet import segnet
from kcnn.segmentation.unet import unet, unet_mobilenetv2, unet_output_size, unet_paper

__all__ = [
    "deeplabv1",
    "deeplabv2",
    "deeplabv3",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "deeplabv3plus",
    "deeplabv3plus_mobilenetv2",
    "fcn",
    "fcn8s",
    "fcn16s",
    "fcn32s",
    "fcn_resnet50",
    "fcn_resnet101",
    "fcn_torchvision",
    "segnet",
    "unet",
    "unet_mobilenetv2",
    "unet_output_size",
    "unet_paper",
]
