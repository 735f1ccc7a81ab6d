"""kcnn: the classic convolutional networks as faithful, tested Keras 3 models.

Subpackages: ``kcnn.layers`` and ``kcnn.blocks`` (building blocks), ``kcnn.models``
(classifier builders), ``kcnn.data`` (tf.data sources and pipelines),
``kcnn.training`` (configs, trainer), ``kcnn.export`` (SavedModel / TFLite),
``kcnn.analysis`` and ``kcnn.viz`` (looking inside networks).

The registry is the entry point: ``kcnn.list_models()``, ``kcnn.create_model(name)``.
"""

__version__ = "0.1.0"

from kcnn.registry import create_model, get_model, list_models, model_info, register_model

__all__ = ["create_model", "get_model", "list_models", "model_info", "register_model", "__version__"]
