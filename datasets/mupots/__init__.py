"""MuPoTS-3D builder (17 joints, 3D; test split only)."""

from mhp_tf_datasets.mupots.mupots import MuPoTS

__all__ = ["MuPoTS"]
