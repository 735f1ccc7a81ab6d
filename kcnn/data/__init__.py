"""Data: sources (IDX files, tensorflow-datasets, image folders, synthetic; for segmentation
fashion_scenes, mask folders, Oxford-IIIT Pet), the tf.data
pipeline, normalization stored with the model, and augmentation. Uses TensorFlow directly."""

from kcnn.data.augment import (
    AUGMENTATIONS,
    MASK_AUGMENTATIONS,
    SOFT_LABEL_AUGMENTATIONS,
    build_augmentation,
    check_mask_augmentations,
    makes_soft_labels,
    parse_augmentation,
    parse_augmentations,
)
from kcnn.data.errors import DataArgumentError
from kcnn.data.idx import read_idx, read_idx_pair
from kcnn.data.info import DatasetInfo
from kcnn.data.mask_folder import IGNORE_LABEL
from kcnn.data.normalization import NORMALIZATIONS, channel_stats, fit_normalization, normalization_layer
from kcnn.data.pipeline import epoch_seed, fit_images, make_pipeline
from kcnn.data.sources import IDX_DATASETS, dataset_splits, describe, find_idx_dir, load

__all__ = [
    "DataArgumentError",
    "IGNORE_LABEL",
    "MASK_AUGMENTATIONS",
    "check_mask_augmentations",
    "dataset_splits",
    "AUGMENTATIONS",
    "DatasetInfo",
    "IDX_DATASETS",
    "NORMALIZATIONS",
    "SOFT_LABEL_AUGMENTATIONS",
    "build_augmentation",
    "channel_stats",
    "describe",
    "epoch_seed",
    "find_idx_dir",
    "fit_images",
    "fit_normalization",
    "load",
    "make_pipeline",
    "makes_soft_labels",
    "normalization_layer",
    "parse_augmentation",
    "parse_augmentations",
    "read_idx",
    "read_idx_pair",
]
