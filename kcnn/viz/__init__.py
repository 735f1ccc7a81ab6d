"""Plots and images: learning curves, confusion matrices."""

from kcnn.viz.curves import confusion_matrix, plot_confusion_matrix, plot_learning_curves

__all__ = ["confusion_matrix", "plot_confusion_matrix", "plot_learning_curves"]
