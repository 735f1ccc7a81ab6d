"""Plots and images: learning curves, confusion matrices, first-layer filters, feature maps,
activation statistics, Grad-CAM and segmentation masks (PNG files via matplotlib's Agg backend)."""

from kcnn.viz.curves import confusion_matrix, plot_confusion_matrix, plot_learning_curves
from kcnn.viz.features import (
    ActivationStatistics,
    activation_statistics,
    feature_maps,
    plot_activation_statistics,
    plot_feature_maps,
    prepare_image,
)
from kcnn.viz.filters import filter_images, first_conv_layer, plot_filters
from kcnn.viz.gradcam import default_target_layer, grad_cam, plot_grad_cam
from kcnn.viz.segmentation import class_colors, colorize, overlay, panel_grid, plot_segmentation_panels

__all__ = [
    "ActivationStatistics",
    "class_colors",
    "colorize",
    "overlay",
    "panel_grid",
    "plot_segmentation_panels",
    "activation_statistics",
    "confusion_matrix",
    "default_target_layer",
    "feature_maps",
    "filter_images",
    "first_conv_layer",
    "grad_cam",
    "plot_activation_statistics",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_grad_cam",
    "plot_learning_curves",
    "prepare_image",
]
