"""Classification builders with the keras.applications signature, one module per family.

Importing this package registers every family in ``kcnn.registry``.
"""

from kcnn.models.densenet import densenet121, densenet169, densenet201, densenet40_cifar, densenet_bc100_cifar
from kcnn.models.lenet import lenet5, lenet5_modern
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

__all__ = [
    "lenet5", "lenet5_modern",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet50v2", "resnet101v2", "resnet152v2",
    "seresnet50", "seresnet101",
    "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202",
    "densenet121", "densenet169", "densenet201", "densenet_bc100_cifar", "densenet40_cifar",
]  # fmt: skip
