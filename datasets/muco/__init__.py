"""MuCo-3DHP builder (21 joints, 3D; the reference's per-image person selection)."""

from mhp_tf_datasets.muco.muco import MuCo, select_people

__all__ = ["MuCo", "select_people"]
