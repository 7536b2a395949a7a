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


def marginal_js_loss(marginals, coords, vis, have_depth, sigma: float = 1.0):
    """Per-example heatmap regulariser ``[B]``: Jensen-Shannon divergence between each
    axis marginal of the volumetric softmax and a Gaussian at the target.

    The coordinate loss alone says nothing about the *shape* of the softmax, so early
    in training the mass stays spread out and the expected positions shrink towards
    the mean pose. Nibali et al. (2018, "Numerical coordinate regression with
    convolutional neural networks") regularise the heatmap towards a Gaussian at the
    target for faster, better convergence; we do it on the three 1-D marginals (cheap,
    rank <= 3). Not part of the paper's recipe: off unless ``train.heatmap_loss_weight``
    is set.

    Args:
      marginals: ``([B,J,W], [B,J,H], [B,J,D])`` from :func:`mhp_tf.modeling.heatmap_marginals`.
      coords: ``[B, J, 3]`` targets in heatmap units.
      vis: ``[B, J]``; have_depth: ``[B]`` (the z term only for 3D samples).
      sigma: Gaussian standard deviation in heatmap units.
    """
    coords = tf.cast(coords, tf.float32)
    vis = tf.cast(vis, tf.float32)
    have_depth = tf.cast(have_depth, tf.float32)
    eps = 1e-8
    terms = []
    for axis, p in enumerate(marginals):
        p = tf.cast(p, tf.float32)
        grid = tf.range(p.shape[-1], dtype=tf.float32)
        g = tf.exp(-0.5 * tf.square((grid - coords[..., axis:axis + 1]) / sigma))
        g = g / (tf.reduce_sum(g, axis=-1, keepdims=True) + eps)
        m = 0.5 * (p + g)
        js = 0.5 * tf.reduce_sum(p * (tf.math.log(p + eps) - tf.math.log(m + eps)), -1) + \
            0.5 * tf.reduce_sum(g * (tf.math.log(g + eps) - tf.math.log(m + eps)), -1)
        terms.append(js * (have_depth[:, None] if axis == 2 else 1.0))
    per_joint = (terms[0] + terms[1] + terms[2]) / 3.0 * vis
    return tf.reduce_mean(per_joint, axis=-1)
