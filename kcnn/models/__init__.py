"""Classification builders with the keras.applications signature, one module per family.

Importing this package registers every family in ``kcnn.registry``.
"""

from kcnn.models.alexnet import alexnet, alexnet_grouped, alexnet_torchvision
from kcnn.models.googlenet import googlenet, googlenet_bn
from kcnn.models.lenet import lenet5, lenet5_modern
from kcnn.models.vgg import vgg, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from kcnn.models.zfnet import zfnet

__all__ = [
    "alexnet",
    "alexnet_grouped",
    "alexnet_torchvision",
    "googlenet",
    "googlenet_bn",
    "lenet5",
    "lenet5_modern",
    "vgg",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "zfnet",
]
