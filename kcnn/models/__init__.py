"""Classification builders with the keras.applications signature, one module per family.

Importing this package registers every family in ``kcnn.registry``.
"""

from kcnn.models.alexnet import alexnet, alexnet_grouped, alexnet_torchvision
from kcnn.models.densenet import densenet40_cifar, densenet121, densenet169, densenet201, densenet_bc100_cifar
from kcnn.models.efficientnet import (
    efficientnet,
    efficientnetb0,
    efficientnetb1,
    efficientnetb2,
    efficientnetb3,
    efficientnetb4,
    efficientnetb5,
    efficientnetb6,
    efficientnetb7,
)
from kcnn.models.googlenet import googlenet, googlenet_bn
from kcnn.models.lenet import lenet5, lenet5_modern
from kcnn.models.mobilenet import mobilenet, mobilenet_050, mobilenetv2, mobilenetv2_035, mobilenetv2_140
from kcnn.models.notes import notes_cnn, notes_inception_cnn, notes_residual_cnn, notes_tf1_cnn
from kcnn.models.resnet import (
    resnet18,
    resnet34,
    resnet50,
    resnet50v2,
    resnet101,
    resnet101v2,
    resnet152,
    resnet152v2,
    seresnet50,
    seresnet101,
)
from kcnn.models.resnet_cifar import resnet20, resnet32, resnet44, resnet56, resnet110, resnet1202
from kcnn.models.vgg import vgg, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from kcnn.models.zfnet import zfnet

__all__ = [
    "alexnet",
    "alexnet_grouped",
    "alexnet_torchvision",
    "densenet121",
    "densenet169",
    "densenet201",
    "densenet40_cifar",
    "densenet_bc100_cifar",
    "efficientnet",
    "efficientnetb0",
    "efficientnetb1",
    "efficientnetb2",
    "efficientnetb3",
    "efficientnetb4",
    "efficientnetb5",
    "efficientnetb6",
    "efficientnetb7",
    "googlenet",
    "googlenet_bn",
    "lenet5",
    "lenet5_modern",
    "mobilenet",
    "mobilenet_050",
    "mobilenetv2",
    "mobilenetv2_035",
    "mobilenetv2_140",
    "notes_cnn",
    "notes_inception_cnn",
    "notes_residual_cnn",
    "notes_tf1_cnn",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet50v2",
    "resnet101",
    "resnet101v2",
    "resnet152",
    "resnet152v2",
    "seresnet50",
    "seresnet101",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "resnet1202",
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
