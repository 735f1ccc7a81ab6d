"""Helpers for the viz tests: a PNG that shows something."""

import matplotlib.image
import numpy as np


def assert_not_blank(path):
    """The PNG exists and its pixels vary (not a single colour)."""
    pixels = matplotlib.image.imread(str(path))
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 50
    assert float(np.std(pixels[..., :3])) > 0.02
    assert len(np.unique(pixels[..., :3].reshape(-1, 3).round(2), axis=0)) > 20
