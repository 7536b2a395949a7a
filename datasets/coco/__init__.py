"""MS-COCO person keypoints builder (17 keypoints + Thorax + Pelvis, 2D)."""

from mhp_tf_datasets.coco.coco import COCO, add_midpoint_joints

__all__ = ["COCO", "add_midpoint_joints"]
