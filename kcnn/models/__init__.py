"""Classification builders with the keras.applications signature, one module per family.

Importing this package registers every family in ``kcnn.registry``.
"""

from kcnn.models.lenet import lenet5, lenet5_modern

__all__ = ["lenet5", "lenet5_modern"]
