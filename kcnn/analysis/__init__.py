"""Looking inside networks: per-layer parameters, MACs and receptive fields (``profile``),
convolution as im2col (``im2col_conv2d``), the Hessian spectrum (``kcnn.analysis.hessian``).
"""

from kcnn.analysis.im2col import im2col, im2col_conv2d, patch_matrix_bytes
from kcnn.analysis.profile import CONVENTIONS, LayerProfile, Profile, profile

__all__ = ["CONVENTIONS", "LayerProfile", "Profile", "im2col", "im2col_conv2d", "patch_matrix_bytes", "profile"]
