"""Command line: export a 3D pose sequence to a BVH animation (see
:func:`mhp_tf.motion.pipeline.poses_to_bvh` for the steps)::

    python -m mhp_tf.motion.export_bvh --poses poses.json --out motion.bvh --fps 30 \\
        [--filter] [--no_limits] [--up=-y] [--units=cm] [--order=ZXY] [--report=hits.json]

``--poses`` takes a ``.npy``/``.npz`` array (T, J, 3) in ``--input_units`` or the demo's
per-frame JSON (see :mod:`mhp_tf.motion.pose_io`). ``--up`` names the input's up axis:
``-y`` for the model's camera coordinates (default), ``z`` for Z-up worlds, ``y`` for Y-up.
"""

import json
import sys

import numpy as np

from mhp_tf.motion import bvh as bvh_lib
from mhp_tf.motion import filtering
from mhp_tf.motion import limits as limits_lib
from mhp_tf.motion import pipeline
from mhp_tf.motion import pose_io


def define_flags():
    """The command-line flags (defined only when run as a script)."""
    from absl import flags

    flags.DEFINE_string("poses", None, "Pose file: .npy / .npz (T, J, 3) or per-frame .json.")
    flags.DEFINE_string("out", None, "Output .bvh path.")
    flags.DEFINE_float("fps", None, "Frame rate (default: the JSON's 'fps', else 30).")
    flags.DEFINE_bool("filter", False, "1-Euro filter the joint rotations and root position.")
    flags.DEFINE_bool("no_limits", False, "Do not clamp anatomical joint limits.")
    flags.DEFINE_enum("up", "-y", sorted(pose_io.UP_ROTATIONS),
                      "Up axis of the input: -y camera coordinates, z / y for Z- / Y-up worlds.")
    flags.DEFINE_enum("input_units", "mm", sorted(pose_io.UNITS_TO_MM),
                      "Units of .npy/.npz input (JSON: its 'units' field).")
    flags.DEFINE_enum("units", "cm", sorted(bvh_lib.UNITS), "Length unit of the BVH file.")
    flags.DEFINE_enum("order", "ZXY", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"],
                      "Euler channel order of every joint.")
    flags.DEFINE_integer("person", 0, "JSON: index of the pose to follow in each frame.")
    flags.DEFINE_integer("track_id", None, "JSON: follow this track id instead of --person.")
    flags.DEFINE_float("min_cutoff", filtering.ROTATION_MIN_CUTOFF,
                       "1-Euro min cutoff (Hz) of the rotations and root position.")
    flags.DEFINE_float("beta", filtering.ROTATION_BETA,
                       "1-Euro beta of the rotations (per quaternion unit).")
    flags.DEFINE_float("translation_beta", None,
                       "1-Euro beta of the root position (per mm; default: the 3D joint "
                       "default of mhp_tf.postprocess.filters).")
    flags.DEFINE_float("d_cutoff", filtering.D_CUTOFF, "1-Euro derivative cutoff (Hz).")
    flags.DEFINE_string("report", None, "Optional JSON file for the joint-limit report.")
    flags.mark_flags_as_required(["poses", "out"])


def main(argv):
    from absl import flags

    del argv
    FLAGS = flags.FLAGS
    poses, meta = pose_io.load_poses(FLAGS.poses, person=FLAGS.person, track_id=FLAGS.track_id,
                                     units=FLAGS.input_units)
    fps = FLAGS.fps or meta.get("fps") or 30.0
    rot_f = trans_f = None
    if FLAGS.filter:
        rot_f, trans_f = filtering.one_euro_filters(fps, FLAGS.min_cutoff, FLAGS.beta,
                                                    FLAGS.d_cutoff, FLAGS.translation_beta)
    limits = None if FLAGS.no_limits else limits_lib.H36M_LIMITS
    motion = pipeline.poses_to_bvh(poses, FLAGS.out, fps=fps, up=FLAGS.up,
                                   point_names=meta["joint_names"], limits=limits,
                                   rotation_filter=rot_f, translation_filter=trans_f,
                                   order=FLAGS.order, units=FLAGS.units)
    report = motion.limit_report()
    missing = int(np.sum(meta["missing"]))
    print(f"wrote {FLAGS.out}: {motion.num_frames} frames at {fps:g} fps, "
          f"{len(motion.rig.joints)} joints, units {FLAGS.units}, order {FLAGS.order.upper()}"
          + (f", {missing} missing frames interpolated" if missing else ""))
    if limits is None:
        print("joint limits: off")
    elif not report:
        print("joint limits: no joint clamped")
    else:
        for name, r in report.items():
            print(f"joint limits: {name} clamped in {r['num_frames']} frames "
                  f"({'/'.join(r['axes'])}, max {r['max_violation_deg']:.1f} deg)")
    if FLAGS.report:
        with open(FLAGS.report, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    from absl import app

    define_flags()
    sys.exit(app.run(main))
