"""Classification builders with the keras.applications signature, one module per family.

Each family has one builder that documents the keras.applications arguments and the
family's knobs (:func:`resnet`, :func:`resnet_cifar`, :func:`vgg`, :func:`densenet`,
:func:`efficientnet`, :func:`mobilenet`, :func:`mobilenetv2`, :func:`googlenet`,
:func:`alexnet`, :func:`zfnet`, :func:`lenet`); each registered variant is one line over
it, e.g. ``def resnet50(**kwargs): return resnet(50, **{**_KERAS_V1, "name": "resnet50",
**kwargs})``, so every knob is reachable through ``kcnn.create_model(name, **kwargs)``
and an unknown keyword is one TypeError naming it and the model.

Every family but LeNet exposes named feature maps by stride, ``{"P1": ..., "P5": ...}``:
:func:`endpoints` (layer names) and :func:`backbone` (a keras.Model with those outputs,
``output_stride`` 8 or 16 for the atrous ResNets and VGG); see :mod:`kcnn.models.backbone`.

Importing this package registers every family in ``kcnn.registry``.
"""

from kcnn.models.alexnet import alexnet, alexnet_grouped, alexnet_torchvision
from kcnn.models.backbone import backbone, endpoints
from kcnn.models.densenet import (
    densenet,
    densenet40_cifar,
    densenet121,
    densenet169,
    densenet201,
    densenet_bc100_cifar,
    densenet_cifar,
)
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
from kcnn.models.lenet import lenet, lenet5, lenet5_modern
from kcnn.models.mobilenet import mobilenet, mobilenet_050, mobilenetv2, mobilenetv2_035, mobilenetv2_140
from kcnn.models.notes import notes_cnn, notes_inception_cnn, notes_residual_cnn, notes_tf1_cnn
from kcnn.models.resnet import (
    resnet,
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
from kcnn.models.resnet_cifar import resnet20, resnet32, resnet44, resnet56, resnet110, resnet1202, resnet_cifar
from kcnn.models.vgg import vgg, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn, vgg_mini
from kcnn.models.zfnet import zfnet

__all__ = [
    "alexnet",
    "alexnet_grouped",
    "alexnet_torchvision",
    "backbone",
    "endpoints",
    "densenet",
    "densenet121",
    "densenet169",
    "densenet201",
    "densenet40_cifar",
    "densenet_bc100_cifar",
    "densenet_cifar",
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
    "lenet",
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
    "resnet",
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
    "resnet_cifar",
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
    "vgg_mini",
    "zfnet",
]
