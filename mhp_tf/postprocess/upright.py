"""Upright crops: rotate each person crop so the body's axis is vertical, and map back.

NumPy only. The network was trained on people who are mostly upright; a person who
lies, bends over or is filmed by a tilted camera is better seen through a crop that
is rotated so that their hip-to-head axis points up, as MediaPipe's BlazePose
pipeline does. This module holds the geometry; :class:`mhp_tf.inference.PoseEstimator`
(``angles=``, ``upright=True``) and :class:`mhp_tf.inference.VideoPoseEstimator` use it.

Angle convention
----------------
Image coordinates are ``x`` right, ``y`` down (:mod:`mhp_tf.postprocess.camera`). A
person's *angle* ``theta`` (radians) is the clockwise on-screen rotation of their body
axis from image up: the axis points along ``(sin theta, -cos theta)``. ``theta = 0``:
upright (today's crops); ``pi / 2``: head to the right; ``-pi / 2``: head to the left;
``pi``: upside down. In these coordinates

    R(theta) = [[cos theta, -sin theta], [sin theta, cos theta]]

rotates a vector clockwise on screen by ``theta``; it maps image up ``(0, -1)`` to the
body axis. :func:`angle_from_points` gives ``theta`` of the vector from a start point
(hip centre, pelvis) to an end point (body-scale point, neck): ``theta = atan2(dx,
-dy)``, which is MediaPipe's ``DetectionsToRectsCalculator`` rotation ``pi/2 -
atan2(-dy, dx)`` (``rotation_vector_target_angle_degrees: 90``) wrapped to ``[-pi,
pi)``.

The rotated crop
----------------
A crop box ``(x, y, w, h)`` (the processed box of :func:`~mhp_tf.postprocess.
process_boxes`, axis-aligned, as today) with centre ``c = (x + w/2, y + h/2)`` and
an angle ``theta`` is the same square turned by ``theta`` about ``c``. Patch pixel
``p`` (input side ``S``) shows image point

    u = c + R(theta) diag(w/S, h/S) (p - S/2)                        (1)

which for ``theta = 0`` is today's ``u = x + p w / S``. The person then stands upright
in the patch. Every length of the box is unchanged, so RootNet's depth prior on the
box area is the same as for the unrotated crop.

Mapping 2D back
---------------
The network's ``x, y`` are positions in the patch; decoding them with the unrotated
box as today gives ``u'`` in the *virtual image* ``I'`` (the image turned by
``-theta`` about ``c``, where the person is upright); the image position is
``u = c + R(theta) (u' - c)`` (:func:`rotate_points`). :func:`rotate_coords_back` does
this in heatmap units of the unrotated box, so that the existing decoding
(:func:`~mhp_tf.postprocess.crop_joints_to_image` / ``crop_joints_to_camera``) can run
unchanged on the result.

Mapping 3D back: the virtual camera
-----------------------------------
Which camera takes the virtual image ``I'``? Let the real camera be ``K`` (focal
``f``, square pixels, principal point ``pp``), a point ``X`` project to ``u = pp + f
X_xy / Z``. With ``u' = c + R^T (u - c)``:

    u' = c + R^T (pp - c) + f R^T X_xy / Z = pp' + f (R_z^T X)_xy / (R_z^T X)_z

where ``R_z(theta)`` is the 3D rotation about the camera's optical (``z``) axis whose
upper-left block is ``R(theta)`` (it keeps ``Z``), and ``pp' = c + R^T (pp - c)``. So,
exactly and without any small-angle approximation, ``I'`` is the image of the real
camera *rolled about its optical axis* by ``theta``, with its principal point moved to
``pp'`` (:func:`virtual_intrinsics`): rotating the image about ``c`` is rotating the
camera about its optical axis through the camera centre, plus a shift of the image
that only moves the principal point. (The intuition "a rotation about the ray through
``c``" is the same thing to first order near ``c``; the roll-plus-shift form is exact
and needs no homography.)

So the network's pose, decoded in the virtual camera ``K'`` as today (every joint
back-projected through ``u'`` at its depth ``Z_j``), is ``X'``, and the pose in the
real camera is ``X = R_z(theta) X'`` (:func:`rotate_camera_points`): the root-relative
pose turns rigidly about the optical axis, every depth ``Z_j`` (so the root depth) is
unchanged. Substituting ``pp'`` shows that ``X`` is the back-projection through the
real ``K`` of the rotated-back 2D ``u`` at the same ``Z_j``; that is how the estimator
computes it (decode the rotated-back coords as today), and why the projection of the
returned 3D joints is exactly the returned 2D, as for unrotated crops. Rotating the
whole image by 90 or 180 degrees about the principal point (``np.rot90`` with default
intrinsics) is a real camera roll, and the results turn with it exactly
(``tests/test_upright.py``).

ROIs
----
* :func:`roi_from_keypoints`: MediaPipe's ``PoseDetectionToRoi`` from the BlazePose
  detector's hip centre and full-body scale point: a square centred on the hip centre
  with side twice their distance, turned by their angle (MediaPipe then enlarges it
  1.25x; here ``process_boxes`` does, as for every box).
* :func:`upright_box_from_keypoints`: a video track's next box from its 2D pose, made
  in the upright frame (MoVNect's margins along and across the body), as a square.
"""

import math
from typing import Optional, Tuple

import numpy as np

# MoVNect's keypoint-box buffer (same values as mhp_tf.postprocess.tracking).
from mhp_tf.postprocess.tracking import MARGIN_X
from mhp_tf.postprocess.tracking import MARGIN_Y
from mhp_tf.postprocess.tracking import box_from_keypoints


def normalize_angle(angle):
    """Angles (radians, any shape) wrapped to ``[-pi, pi)``."""
    a = np.asarray(angle, np.float64)
    return a - 2.0 * np.pi * np.floor((a + np.pi) / (2.0 * np.pi))


def validate_angles(angles, n: int, name: str = "angles") -> np.ndarray:
    """Per-box angles: a scalar or ``[N]`` finite radians -> float64 ``[N]``."""
    try:
        a = np.asarray(angles, np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be numbers (radians): {e}") from None
    if a.ndim > 1 or (a.ndim == 1 and a.shape[0] != n):
        raise ValueError(f"{name} must be a scalar or [N={n}] (radians), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contain NaN or inf")
    return np.broadcast_to(a, (n,)).astype(np.float64)


def rotation_matrix(angle) -> np.ndarray:
    """``R(theta)`` ``[..., 2, 2]`` (module docstring): clockwise on screen in image coords."""
    a = np.asarray(angle, np.float64)
    c, s = np.cos(a), np.sin(a)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def angle_from_points(start, end) -> np.ndarray:
    """Angle ``[...]`` of the vector ``start -> end`` (``[..., 2]`` px): 0 when it points up,
    ``pi/2`` to the right; in ``[-pi, pi)``. A zero vector gives 0."""
    d = np.asarray(end, np.float64) - np.asarray(start, np.float64)
    return normalize_angle(np.arctan2(d[..., 0], -d[..., 1]))


def rotate_points(points, center, angle) -> np.ndarray:
    """``center + R(angle) (points - center)``.

    Args:
      points: ``[..., K, 2]`` px.
      center: ``[..., 2]`` px (one per leading index).
      angle: ``[...]`` radians.
    """
    p = np.asarray(points, np.float64)
    c = np.asarray(center, np.float64)[..., None, :]
    r = rotation_matrix(angle)
    return c + np.einsum("...ij,...kj->...ki", r, p - c)


def box_centers(boxes) -> np.ndarray:
    """Centres ``[N, 2]`` of ``(x, y, w, h)`` boxes ``[N, 4]``."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return b[:, :2] + b[:, 2:] / 2.0


def box_corners(box, angle: float) -> np.ndarray:
    """Corners ``[4, 2]`` of a ``(x, y, w, h)`` box turned by ``angle`` about its centre
    (top-left, top-right, bottom-right, bottom-left of the upright box), for drawing."""
    x, y, w, h = (float(v) for v in box)
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    return rotate_points(corners, [x + w / 2.0, y + h / 2.0], angle)


def patch_to_image_affine(crop_box, angle: float, size: int) -> np.ndarray:
    """``[2, 3]`` affine of equation (1): patch px ``p`` -> image px ``u``."""
    x, y, w, h = (float(v) for v in crop_box)
    center = np.array([x + w / 2.0, y + h / 2.0])
    lin = rotation_matrix(angle) @ np.diag([w / size, h / size])
    return np.concatenate([lin, (center - lin @ np.full(2, size / 2.0))[:, None]], 1)


def image_to_patch_affine(crop_box, angle: float, size: int) -> np.ndarray:
    """``[2, 3]`` inverse of :func:`patch_to_image_affine`: image px -> patch px. For
    ``angle = 0`` it is :func:`mhp_tf.inference.estimator.crop_affine`."""
    m = patch_to_image_affine(crop_box, angle, size)
    lin_inv = np.linalg.inv(m[:, :2])
    return np.concatenate([lin_inv, -(lin_inv @ m[:, 2])[:, None]], 1)


def rotate_coords_back(coords, crop_boxes, angles, heatmap_size: int) -> np.ndarray:
    """Network output of rotated crops -> the coords an unrotated crop of the same box would
    have had for the rotated-back joints (module docstring, "Mapping 2D back").

    Args:
      coords: ``[N, J, 3]`` heatmap units (``x, y`` output cells, ``z`` depth bins).
      crop_boxes: ``[N, 4]`` processed crop boxes (unrotated).
      angles: ``[N]`` radians.
      heatmap_size: output grid side.

    Returns:
      ``[N, J, 3]``: ``x, y`` of ``c + R(theta) (u' - c)`` in heatmap units of the box,
      ``z`` unchanged. Decoding these as today gives the image 2D and camera 3D. Rows
      with angle 0 are returned as they are (bit for bit).
    """
    c = np.asarray(coords, np.float64)
    b = np.asarray(crop_boxes, np.float64).reshape(-1, 4)
    a = validate_angles(angles, len(b))
    scale = b[:, None, 2:] / float(heatmap_size)
    virtual = c[..., :2] * scale + b[:, None, :2]
    image = rotate_points(virtual, box_centers(b), a)
    turned = np.concatenate([(image - b[:, None, :2]) / scale, c[..., 2:]], -1)
    return np.where((a != 0)[:, None, None], turned, c)


def rotate_camera_points(points, angle) -> np.ndarray:
    """``R_z(angle) X``: camera points ``[..., K, 3]`` turned about the optical axis (``Z``
    kept); ``angle [...]``. Projects to ``pp + R(angle) (u - pp)``."""
    p = np.asarray(points, np.float64)
    xy = np.einsum("...ij,...kj->...ki", rotation_matrix(angle), p[..., :2])
    return np.concatenate([xy, p[..., 2:]], -1)


def virtual_intrinsics(intrinsics, center, angle: float) -> np.ndarray:
    """Intrinsics ``[3, 3]`` of the virtual camera of a crop turned by ``angle`` about image
    point ``center``: the same focal lengths, principal point ``c + R^T (pp - c)``.

    Needs square pixels (``fx == fy``), else the image rotation is no camera roll.
    """
    k = np.array(intrinsics, np.float64)
    if not math.isclose(k[0, 0], k[1, 1], rel_tol=1e-9):
        raise ValueError(f"upright crops need square pixels (fx == fy), got fx={k[0, 0]}, "
                         f"fy={k[1, 1]}")
    c = np.asarray(center, np.float64)
    k[:2, 2] = c + rotation_matrix(angle).T @ (k[:2, 2] - c)
    return k


def roi_from_keypoints(center, scale_point) -> Tuple[np.ndarray, float]:
    """MediaPipe's pose ROI: ``(box [4], angle)`` from the hip centre and the full-body scale
    point (px): the square ``(x, y, w, h)`` centred on ``center`` with side ``2 |scale_point
    - center|``, and the angle of ``center -> scale_point``. A zero distance gives an empty
    box (width 0)."""
    c = np.asarray(center, np.float64)
    radius = float(np.linalg.norm(np.asarray(scale_point, np.float64) - c))
    box = np.array([c[0] - radius, c[1] - radius, 2.0 * radius, 2.0 * radius])
    return box, float(angle_from_points(c, scale_point))


def upright_box_from_keypoints(keypoints, angle: float, scores=None, min_score: float = 0.3,
                               margin_x: float = MARGIN_X,
                               margin_y: float = MARGIN_Y) -> np.ndarray:
    """Square box ``(x, y, s, s)`` for an upright crop at ``angle`` around 2D keypoints
    ``[J, 2]``: :func:`~mhp_tf.postprocess.box_from_keypoints` (MoVNect's margins) measured in
    the frame turned by ``angle`` (across and along the body), centred where that box's
    centre lies in the image, side its longer side."""
    kp = np.asarray(keypoints, np.float64)
    r = rotation_matrix(angle)
    upright = kp @ r  # rows R^T k: the keypoints in the turned frame
    box = box_from_keypoints(upright, scores, min_score, margin_x, margin_y)
    center = r @ (box[:2] + box[2:] / 2.0)
    side = float(max(box[2], box[3]))
    return np.array([center[0] - side / 2.0, center[1] - side / 2.0, side, side])


def body_axis_angle(joints2d, start: int, end: int,
                    min_length: float = 1.0) -> Optional[float]:
    """Angle of the ``start -> end`` joints of one 2D pose ``[J, 2]`` (e.g. pelvis -> thorax),
    or None when they are closer than ``min_length`` px or not finite."""
    kp = np.asarray(joints2d, np.float64)
    d = kp[end] - kp[start]
    if not (np.all(np.isfinite(d)) and np.hypot(*d) >= min_length):
        return None
    return float(angle_from_points(kp[start], kp[end]))
