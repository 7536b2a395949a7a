"""The training loss (spec: L1 with visibility and have_depth masks), always in float32."""

import tensorflow as tf


def coord_l1_loss(pred, coords, vis, have_depth):
    """Per-example L1 loss ``[B]`` of soft-argmax coordinates (heatmap units).

    ``(|dx| + |dy| + |dz| * have_depth) / 3 * vis`` per joint, averaged over
    joints. The batch mean of this is the reference's loss (mean over batch
    and joints).

    Args:
      pred, coords: ``[B, J, 3]`` prediction and target.
      vis: ``[B, J]`` joint visibility (0/1).
      have_depth: ``[B]`` 1 for 3D samples, 0 for 2D-only ones.
    """
    pred = tf.cast(pred, tf.float32)
    coords = tf.cast(coords, tf.float32)
    vis = tf.cast(vis, tf.float32)
    have_depth = tf.cast(have_depth, tf.float32)
    err = tf.abs(pred - coords)
    per_joint = (err[..., 0] + err[..., 1] + err[..., 2] * have_depth[:, None]) / 3.0 * vis
    return tf.reduce_mean(per_joint, axis=-1)


def distillation_loss(pred, coords, vis, have_depth, teacher_coords, alpha: float):
    """Per-example teacher-student loss ``[B]`` (MoVNect's blend, on coordinates).

    ``(1 - alpha) * L1(pred, ground truth)`` with the usual visibility and depth
    masks, plus ``alpha * L1(pred, teacher)`` on every joint and axis: the teacher
    also supervises joints outside the crop and the depth of 2D-only samples.
    ``teacher_coords`` must already be in the student's heatmap units.
    """
    gt_term = coord_l1_loss(pred, coords, vis, have_depth)
    teacher_coords = tf.stop_gradient(tf.cast(teacher_coords, tf.float32))
    ones = tf.ones_like(tf.cast(vis, tf.float32))
    teacher_term = coord_l1_loss(pred, teacher_coords, ones, tf.ones_like(ones[:, 0]))
    return (1.0 - alpha) * gt_term + alpha * teacher_term
