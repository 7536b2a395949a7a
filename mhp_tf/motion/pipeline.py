"""Poses -> BVH in one call (issue 7; MoVNect §3.3 post-processing).

:func:`poses_to_bvh`: poses (T, J, 3) mm -> fill missing frames -> rotate into the Y-up rig
frame -> per-joint rotations with constant (median) bone lengths and anatomical joint limits
(:mod:`mhp_tf.motion.ik`, :mod:`mhp_tf.motion.limits`) -> optional 1-Euro filtering of the
rotations and root translation (:mod:`mhp_tf.motion.filtering`) -> BVH file
(:mod:`mhp_tf.motion.bvh`). The command line is :mod:`mhp_tf.motion.export_bvh`.
"""

from typing import Mapping, Optional, Sequence

from mhp_tf.motion import bvh as bvh_lib
from mhp_tf.motion import filtering
from mhp_tf.motion import ik
from mhp_tf.motion import limits as limits_lib
from mhp_tf.motion import pose_io
from mhp_tf.motion import rig as rig_lib


def poses_to_bvh(points, out_path: str, fps: float = 30.0, up: str = "-y",
                 point_names: Sequence[str] = rig_lib.H36M_POINTS,
                 limits: Optional[Mapping[str, limits_lib.JointLimit]] = limits_lib.H36M_LIMITS,
                 rotation_filter=None, translation_filter=None, order: str = "ZXY",
                 units: str = "cm", timestamps=None) -> ik.Motion:
    """Write the BVH of poses ``(T, J, 3)`` (mm, up axis ``up``) to ``out_path``.

    ``limits=None`` disables the joint limits; ``rotation_filter`` / ``translation_filter``
    (stateful callables, e.g. from :func:`mhp_tf.motion.filtering.one_euro_filters`) smooth
    the rotations / root translation. Returns the exported :class:`~mhp_tf.motion.ik.Motion`
    (its ``limit_report()`` lists the clamped joints and frames).
    """
    P = pose_io.to_yup(pose_io.fill_missing(points), up)
    motion = ik.solve_rotations(P, fps=fps, point_names=point_names, limits=limits)
    if rotation_filter is not None or translation_filter is not None:
        motion = filtering.filter_motion(motion, rotation_filter, translation_filter,
                                         timestamps=timestamps)
    bvh_lib.write_bvh(out_path, motion, order=order, units=units)
    return motion
