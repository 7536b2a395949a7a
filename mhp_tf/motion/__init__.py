"""Motion export (issue 7; MoVNect §3.3): 3D joint positions -> joint rotations -> BVH.

NumPy only. Modules:

* :mod:`~mhp_tf.motion.rig`: the BVH hierarchy over the H36M-18 joints, its rest pose and
  twist rules; :mod:`~mhp_tf.motion.ik`: positions -> local rotations (:class:`Motion`);
* :mod:`~mhp_tf.motion.limits`: the anatomical joint-limit table and clamping;
* :mod:`~mhp_tf.motion.filtering`: 1-Euro (or any) filtering of rotations as quaternions;
* :mod:`~mhp_tf.motion.bvh`: BVH writer, reader and forward kinematics;
* :mod:`~mhp_tf.motion.pose_io`: pose files (.npy/.npz/per-frame JSON), gaps, up axes;
* :mod:`~mhp_tf.motion.pipeline`: :func:`poses_to_bvh`, all steps in one call;
* :mod:`~mhp_tf.motion.export_bvh`: the command line
  (``python -m mhp_tf.motion.export_bvh --poses poses.json --out motion.bvh``).
"""

from mhp_tf.motion.bvh import Bvh
from mhp_tf.motion.bvh import bvh_points
from mhp_tf.motion.bvh import forward_kinematics
from mhp_tf.motion.bvh import parse_bvh
from mhp_tf.motion.bvh import read_bvh
from mhp_tf.motion.bvh import write_bvh
from mhp_tf.motion.filtering import filter_motion
from mhp_tf.motion.filtering import one_euro_filters
from mhp_tf.motion.ik import Motion
from mhp_tf.motion.ik import solve_rotations
from mhp_tf.motion.limits import EulerLimit
from mhp_tf.motion.limits import H36M_LIMITS
from mhp_tf.motion.limits import SwingTwistLimit
from mhp_tf.motion.pipeline import poses_to_bvh
from mhp_tf.motion.pose_io import fill_missing
from mhp_tf.motion.pose_io import from_yup
from mhp_tf.motion.pose_io import load_pose_json
from mhp_tf.motion.pose_io import load_poses
from mhp_tf.motion.pose_io import to_yup
from mhp_tf.motion.rig import H36M_RIG
from mhp_tf.motion.rig import constant_bone_lengths

__all__ = [
    "Bvh",
    "bvh_points",
    "constant_bone_lengths",
    "EulerLimit",
    "fill_missing",
    "filter_motion",
    "forward_kinematics",
    "from_yup",
    "H36M_LIMITS",
    "H36M_RIG",
    "load_pose_json",
    "load_poses",
    "Motion",
    "one_euro_filters",
    "parse_bvh",
    "poses_to_bvh",
    "read_bvh",
    "solve_rotations",
    "SwingTwistLimit",
    "to_yup",
    "write_bvh",
]
