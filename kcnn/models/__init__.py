"""Classification builders with the keras.applications signature, one module per family.

Importing this package registers every family in ``kcnn.registry``.
"""

from kcnn.models.efficientnet import (
    efficientnet, efficientnetb0, efficientnetb1, efficientnetb2, efficientnetb3, efficientnetb4, efficientnetb5,
    efficientnetb6, efficientnetb7,
)  # fmt: skip
from kcnn.models.lenet import lenet5, lenet5_modern
from kcnn.models.mobilenet import mobilenet, mobilenet_050, mobilenetv2, mobilenetv2_035, mobilenetv2_140

__all__ = [
    "efficientnet", "efficientnetb0", "efficientnetb1", "efficientnetb2", "efficientnetb3", "efficientnetb4",
    "efficientnetb5", "efficientnetb6", "efficientnetb7", "lenet5", "lenet5_modern", "mobilenet", "mobilenet_050",
    "mobilenetv2", "mobilenetv2_035", "mobilenetv2_140",
]
