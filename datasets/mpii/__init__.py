"""MPII Human Pose builder (COCO-style ``train.json`` of the 3DMPPE release; 16 joints, 2D)."""

from mhp_tf_datasets.mpii.mpii import MPII

__all__ = ["MPII"]
