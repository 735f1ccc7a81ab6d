"""Segmentation metrics from the confusion matrix the training loop accumulates over pixels.

IoU of class c = TP / (TP + FP + FN) = C[c, c] / (row c + column c - C[c, c]); the mean
IoU averages it over the classes that occur in the truth or the prediction (a class with
an empty union is left out), the convention of ``keras.metrics.MeanIoU``; pixel accuracy
is the trace over the total. Pixels with the ignore label are not in the matrix.
"""

from __future__ import annotations

import numpy as np

__all__ = ["segmentation_metrics"]


def segmentation_metrics(confusion: np.ndarray, class_names) -> dict:
    """``{"pixel_accuracy", "mean_iou", "iou": {class name: IoU or None}}`` of a (truth x predicted) matrix."""
    confusion = np.asarray(confusion, np.float64)
    hits = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - hits
    present = union > 0
    iou = np.divide(hits, union, out=np.zeros_like(hits), where=present)
    return {
        "pixel_accuracy": float(hits.sum() / max(confusion.sum(), 1.0)),
        "mean_iou": float(iou[present].mean()) if present.any() else 0.0,
        "iou": {str(name): (float(v) if p else None) for name, v, p in zip(class_names, iou, present)},
    }
