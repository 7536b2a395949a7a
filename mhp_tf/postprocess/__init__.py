"""Post-processing (NumPy only): camera geometry, temporal filtering and tracking.

* :mod:`~mhp_tf.postprocess.camera`: crop boxes, intrinsics, network output
  (heatmap units) <-> image pixels / camera mm, RootNet's depth prior, MoVNect's
  global position, input validation.
* :mod:`~mhp_tf.postprocess.filters`: the 1-Euro filter.
* :mod:`~mhp_tf.postprocess.tracking`: keypoint boxes and a multi-person tracker.
"""

from mhp_tf.postprocess.camera import back_project
from mhp_tf.postprocess.camera import camera_to_crop_joints
from mhp_tf.postprocess.camera import crop_joints_to_camera
from mhp_tf.postprocess.camera import crop_joints_to_image
from mhp_tf.postprocess.camera import default_intrinsics
from mhp_tf.postprocess.camera import global_position_movnect
from mhp_tf.postprocess.camera import process_boxes
from mhp_tf.postprocess.camera import project
from mhp_tf.postprocess.camera import root_depth_prior
from mhp_tf.postprocess.camera import validate_boxes
from mhp_tf.postprocess.camera import validate_image
from mhp_tf.postprocess.camera import validate_intrinsics
from mhp_tf.postprocess.filters import DEFAULT_2D
from mhp_tf.postprocess.filters import DEFAULT_3D
from mhp_tf.postprocess.filters import OneEuroFilter
from mhp_tf.postprocess.filters import OneEuroParams
from mhp_tf.postprocess.tracking import box_from_keypoints
from mhp_tf.postprocess.tracking import box_iou
from mhp_tf.postprocess.tracking import greedy_match
from mhp_tf.postprocess.tracking import PoseTracker
from mhp_tf.postprocess.tracking import smooth_box
from mhp_tf.postprocess.tracking import Track

__all__ = [
    "back_project",
    "box_from_keypoints",
    "box_iou",
    "camera_to_crop_joints",
    "crop_joints_to_camera",
    "crop_joints_to_image",
    "default_intrinsics",
    "DEFAULT_2D",
    "DEFAULT_3D",
    "global_position_movnect",
    "greedy_match",
    "OneEuroFilter",
    "OneEuroParams",
    "PoseTracker",
    "process_boxes",
    "project",
    "root_depth_prior",
    "smooth_box",
    "Track",
    "validate_boxes",
    "validate_image",
    "validate_intrinsics",
]
