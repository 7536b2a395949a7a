"""Camera geometry around the network: crop boxes, intrinsics, root depth, global position.

NumPy only. The conventions are those of the input pipeline
(:mod:`mhp_tf.data.pipeline`) and of :func:`mhp_tf.evaluation.metrics.decode_to_camera`:

* Image pixels have their centres at integer coordinates (a horizontal flip is
  ``x -> W - 1 - x``); intrinsics are ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` and
  ``u = fx * X / Z + cx``, ``v = fy * Y / Z + cy`` with camera coordinates in mm.
* A *crop box* is the box the network input was cut from: the person box after
  :func:`process_boxes` (clipped to the image, grown to the input aspect ratio
  around its centre, enlarged 1.25x), ``[x, y, w, h]`` in pixels. The crop maps
  image pixel ``u`` to patch pixel ``(u - x) * S / w``.
* The network outputs joints in *heatmap units*: ``x, y`` in output-grid cells
  (``[0, S/4)``, patch pixel ``* heatmap_size / S``) and ``z`` in depth bins
  (``[0, depth_bins)``), where bin ``depth_bins / 2`` is the root's depth and the
  whole range spans ``depth_range_mm`` (2000 mm = +-1 m) around it.

Decoding (:func:`crop_joints_to_camera`): every joint's pixel position is
back-projected at its own absolute depth ``Z_j = root_depth + (z_j / D * 2 - 1) *
range / 2``, so the root (z = D/2) lands at the back-projection of its 2D
position at ``root_depth`` and the other joints keep their predicted
root-relative depths. This is exactly ``decode_to_camera``, which it calls;
:func:`camera_to_crop_joints` is its inverse.
"""

import math
from typing import Optional, Tuple

import numpy as np

from mhp_tf.evaluation.metrics import decode_to_camera

# RootNet (Moon et al., ICCV 2019): real-world area of the crop box, 2000 mm x 2000 mm.
ROOTNET_AREA_MM2 = 2000.0 * 2000.0
DEFAULT_FOV_DEGREES = 55.0
WEAK_PERSPECTIVE = "weak_perspective"
PERSPECTIVE = "perspective"


# ----------------------------------------------------------------------------- intrinsics


def default_intrinsics(height: int, width: int,
                       fov_degrees: float = DEFAULT_FOV_DEGREES) -> np.ndarray:
    """Pinhole intrinsics ``[3, 3]`` for an image whose camera is unknown.

    The field of view ``fov_degrees`` (default 55 degrees, a typical phone / webcam
    lens, the default of MeTRAbs) spans the *longer* image side:
    ``f = max(height, width) / (2 tan(fov / 2))``, the same focal length on both
    axes (square pixels), no skew, and the principal point at the image centre,
    ``((width - 1) / 2, (height - 1) / 2)`` with pixel centres at integers.
    """
    if not (isinstance(height, (int, np.integer)) and isinstance(width, (int, np.integer))):
        raise ValueError(f"image height and width must be integers, got {height!r}, {width!r}")
    if height <= 0 or width <= 0:
        raise ValueError(f"image height and width must be positive, got {height} x {width}")
    if not (math.isfinite(fov_degrees) and 0.0 < fov_degrees < 180.0):
        raise ValueError(f"fov_degrees must be in (0, 180), got {fov_degrees}")
    focal = max(height, width) / (2.0 * math.tan(math.radians(fov_degrees) / 2.0))
    return np.array([[focal, 0.0, (width - 1) / 2.0],
                     [0.0, focal, (height - 1) / 2.0],
                     [0.0, 0.0, 1.0]])


# A focal length below one pixel is no real camera (it would see more than 180 degrees
# across two pixels); such values (0, 1e-300, a value in metres) decode every pose at
# a depth of about zero. With the image size known, the field of view along each axis
# must also lie in [MIN_FOV_DEGREES, MAX_FOV_DEGREES]: outside it the pinhole decoding
# is meaningless (fisheye) or the focal length is in the wrong units.
MIN_FOCAL_PX = 1.0
MIN_FOV_DEGREES = 0.5
MAX_FOV_DEGREES = 170.0


def _intrinsics_text(k: np.ndarray) -> str:
    return (f"fx={k[0, 0]:.6g}, fy={k[1, 1]:.6g}, cx={k[0, 2]:.6g}, cy={k[1, 2]:.6g}")


def validate_intrinsics(intrinsics, image_size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Check and return intrinsics as a float64 ``[3, 3]`` matrix.

    Raises ``ValueError`` (every message starts with "intrinsics") unless the matrix
    is 3x3, finite, has focal lengths of at least ``MIN_FOCAL_PX`` (1 px; zero,
    negative and denormal values like 1e-300 are refused), no skew and last row
    ``[0, 0, 1]`` (the decoding ignores skew, so a skewed matrix would silently give
    wrong poses). With ``image_size=(height, width)`` the horizontal and vertical
    fields of view ``2 atan(size / (2 f))`` must lie in ``[MIN_FOV_DEGREES,
    MAX_FOV_DEGREES]`` (0.5 to 170 degrees).
    """
    try:
        k = np.asarray(intrinsics, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"intrinsics must be a numeric 3x3 matrix: {e}") from None
    if k.shape != (3, 3):
        raise ValueError(f"intrinsics must be a 3x3 matrix, got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise ValueError(f"intrinsics contain NaN or inf: {k.tolist()}")
    if k[0, 0] <= 0 or k[1, 1] <= 0:
        raise ValueError(f"intrinsics focal lengths must be positive, got fx={k[0, 0]}, "
                         f"fy={k[1, 1]}")
    if k[0, 0] < MIN_FOCAL_PX or k[1, 1] < MIN_FOCAL_PX:
        raise ValueError(f"intrinsics focal lengths must be at least {MIN_FOCAL_PX:g} px, got "
                         f"fx={k[0, 0]:.6g}, fy={k[1, 1]:.6g} (focal lengths are in pixels)")
    if k[0, 1] != 0 or k[1, 0] != 0:
        raise ValueError("intrinsics with skew (K[0, 1] or K[1, 0] != 0) are not supported")
    if not np.allclose(k[2], [0.0, 0.0, 1.0]):
        raise ValueError(f"intrinsics last row must be [0, 0, 1], got {k[2].tolist()}")
    if image_size is not None:
        height, width = image_size
        for axis, size, focal in (("horizontal", width, k[0, 0]), ("vertical", height, k[1, 1])):
            fov = math.degrees(2.0 * math.atan(size / (2.0 * focal)))
            if not MIN_FOV_DEGREES <= fov <= MAX_FOV_DEGREES:
                raise ValueError(
                    f"intrinsics {_intrinsics_text(k)} give a {fov:.4g} degree {axis} field of "
                    f"view on the {width}x{height} image, outside [{MIN_FOV_DEGREES:g}, "
                    f"{MAX_FOV_DEGREES:g}]: focal lengths must be in pixels of this image")
    return k


def focal_and_center(intrinsics) -> Tuple[np.ndarray, np.ndarray]:
    """``(focal [2] = (fx, fy), principal_point [2] = (cx, cy))`` of validated intrinsics."""
    k = validate_intrinsics(intrinsics)
    return np.array([k[0, 0], k[1, 1]]), np.array([k[0, 2], k[1, 2]])


# ----------------------------------------------------------------------------- inputs


def validate_image(image, dtypes=(np.uint8, np.float32)) -> np.ndarray:
    """Check an RGB image ``[H, W, 3]`` of one of ``dtypes`` (default uint8 or float32)."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.ndim != 3:
        raise ValueError(f"image must be [height, width, 3], got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty (shape {image.shape})")
    if image.shape[2] != 3:
        raise ValueError(f"image must have 3 (RGB) channels, got {image.shape[2]}")
    allowed = tuple(np.dtype(d) for d in dtypes)
    if image.dtype not in allowed:
        raise ValueError(f"image dtype must be one of {[str(d) for d in allowed]}, "
                         f"got {image.dtype}")
    return image


def validate_boxes(boxes, image_width: Optional[int] = None,
                   image_height: Optional[int] = None, name: str = "boxes") -> np.ndarray:
    """Check person boxes ``[N, 4]`` = ``(x, y, w, h)`` px and return them as float64.

    Raises ``ValueError`` for a wrong shape, non-finite values, a zero or negative
    width/height, or (when the image size is given) a box entirely outside the image.
    ``N = 0`` is allowed.
    """
    try:
        b = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be numeric [N, 4] (x, y, w, h): {e}") from None
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{name} must have shape [N, 4] (x, y, w, h), got {b.shape}")
    if not np.all(np.isfinite(b)):
        raise ValueError(f"{name} contain NaN or inf")
    bad = np.flatnonzero((b[:, 2] <= 0) | (b[:, 3] <= 0))
    if bad.size:
        raise ValueError(f"{name} must have positive width and height; box {int(bad[0])} is "
                         f"{b[bad[0]].tolist()}")
    if image_width is not None and image_height is not None:
        outside = ((b[:, 0] + b[:, 2] <= 0) | (b[:, 1] + b[:, 3] <= 0)
                   | (b[:, 0] > image_width - 1) | (b[:, 1] > image_height - 1))
        bad = np.flatnonzero(outside)
        if bad.size:
            raise ValueError(f"{name}: box {int(bad[0])} {b[bad[0]].tolist()} lies entirely "
                             f"outside the {image_width}x{image_height} image")
    return b


def process_boxes(boxes, image_width: int, image_height: int, aspect_ratio: float = 1.0,
                  scale: float = 1.25) -> Tuple[np.ndarray, np.ndarray]:
    """Person boxes ``[N, 4]`` -> crop boxes ``[N, 4]``, exactly as the input pipeline.

    NumPy twin of :func:`mhp_tf.data.pipeline.process_bbox` (the reference's
    ``process_bbox``): clip to the image, grow the shorter side to ``aspect_ratio``
    (w / h) around the centre, then scale both sides by ``scale``. Like the
    reference, the clip keeps the box's size when it starts left of / above the
    image (``x2 = max(x, 0) + w - 1``) instead of cutting it. Returns ``(crop_boxes,
    valid [N] bool)``; ``valid`` is False for boxes that are empty after clipping.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x, y, w, h = b.T
    x1 = np.maximum(0.0, x)
    y1 = np.maximum(0.0, y)
    x2 = np.minimum(image_width - 1.0, x1 + np.maximum(0.0, w - 1.0))
    y2 = np.minimum(image_height - 1.0, y1 + np.maximum(0.0, h - 1.0))
    valid = (w * h > 0) & (x2 >= x1) & (y2 >= y1)
    w, h = x2 - x1, y2 - y1
    cx, cy = x1 + w / 2.0, y1 + h / 2.0
    wider = w > aspect_ratio * h
    w_new = np.where(wider, w, h * aspect_ratio) * scale
    h_new = np.where(wider, w / aspect_ratio, h) * scale
    return np.stack([cx - w_new / 2.0, cy - h_new / 2.0, w_new, h_new], 1), valid


# ----------------------------------------------------------------------------- projection


def project(points_cam, intrinsics) -> np.ndarray:
    """Camera-frame points ``[..., 3]`` (mm) -> pixels ``[..., 2]``."""
    focal, center = focal_and_center(intrinsics)
    p = np.asarray(points_cam, np.float64)
    if p.shape[-1:] != (3,):
        raise ValueError(f"points must be [..., 3], got {p.shape}")
    if np.any(p[..., 2] <= 0):
        raise ValueError("points must lie in front of the camera (Z > 0)")
    return p[..., :2] / p[..., 2:] * focal + center


def back_project(points_px, depth, intrinsics) -> np.ndarray:
    """Pixels ``[..., 2]`` at depths ``[...]`` (mm) -> camera-frame points ``[..., 3]``."""
    focal, center = focal_and_center(intrinsics)
    uv = np.asarray(points_px, np.float64)
    z = np.asarray(depth, np.float64)[..., None]
    return np.concatenate([(uv - center) / focal * z, np.broadcast_to(z, uv.shape[:-1] + (1,))],
                          -1)


def root_depth_prior(crop_boxes, intrinsics, area_mm2: float = ROOTNET_AREA_MM2) -> np.ndarray:
    """RootNet's depth prior ``k = sqrt(fx * fy * A_real / A_box)`` in mm, per box ``[N]``.

    ``crop_boxes`` must be the *processed* boxes (:func:`process_boxes`: squared and
    enlarged 1.25x), not the raw detections: RootNet computes ``A_box`` as
    ``bbox[2] * bbox[3]`` after its ``process_bbox`` in every data loader and in its
    demo. With ``A_real = 2000 x 2000 mm^2`` the 2000 mm crop side corresponds to
    a 1600 mm tall person box before the 1.25x enlargement, about the ankle-to-head
    extent of a standing adult, so ``k`` is close to the true distance for upright
    people and too small for people who look bigger than that (RootNet learns a
    correction on top of ``k``; used alone it is a rough prior).
    """
    focal, _ = focal_and_center(intrinsics)
    b = validate_boxes(crop_boxes, name="crop_boxes")
    if not (math.isfinite(area_mm2) and area_mm2 > 0):
        raise ValueError(f"area_mm2 must be positive, got {area_mm2}")
    return np.sqrt(focal[0] * focal[1] * area_mm2 / (b[:, 2] * b[:, 3]))


# ----------------------------------------------------------------------------- crop <-> camera


def _validate_coords(coords, name: str, num_boxes: int) -> np.ndarray:
    c = np.asarray(coords, np.float64)
    if c.ndim != 3 or c.shape[-1] != 3:
        raise ValueError(f"{name} must be [N, J, 3], got shape {c.shape}")
    if c.shape[0] != num_boxes:
        raise ValueError(f"{name} has {c.shape[0]} people but {num_boxes} crop boxes were given")
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{name} contain NaN or inf")
    return c


def _validate_sizes(heatmap_size, depth_bins=None, depth_range_mm=None):
    if not heatmap_size > 0:
        raise ValueError(f"heatmap_size must be positive, got {heatmap_size}")
    if depth_bins is not None and not depth_bins > 0:
        raise ValueError(f"depth_bins must be positive, got {depth_bins}")
    if depth_range_mm is not None and not (math.isfinite(depth_range_mm) and depth_range_mm > 0):
        raise ValueError(f"depth_range_mm must be positive, got {depth_range_mm}")


def _validate_depth(root_depth, n: int) -> np.ndarray:
    d = np.asarray(root_depth, np.float64)
    if d.ndim > 1 or (d.ndim == 1 and d.shape[0] != n):
        raise ValueError(f"root_depth must be a scalar or [N={n}], got shape {d.shape}")
    d = np.broadcast_to(d, (n,))
    if not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise ValueError(f"root_depth must be positive and finite (mm), got {d.tolist()}")
    return d


def crop_joints_to_image(coords, crop_boxes, heatmap_size: int) -> np.ndarray:
    """Network output ``[N, J, 3]`` (heatmap units) -> 2D poses ``[N, J, 2]`` in image pixels.

    ``u = x / heatmap_size * box_w + box_x`` (same for ``v``); ``crop_boxes [N, 4]``
    are the processed boxes the crops were cut from.
    """
    b = validate_boxes(crop_boxes, name="crop_boxes")
    c = _validate_coords(coords, "coords", len(b))
    _validate_sizes(heatmap_size)
    return c[..., :2] / heatmap_size * b[:, None, 2:] + b[:, None, :2]


def crop_joints_to_camera(coords, crop_boxes, intrinsics, root_depth, heatmap_size: int,
                          depth_bins: int, depth_range_mm: float = 2000.0) -> np.ndarray:
    """Network output ``[N, J, 3]`` (heatmap units) -> 3D poses ``[N, J, 3]`` (camera mm).

    ``root_depth`` (scalar or ``[N]``, mm) is the root joint's distance ``Z`` from the
    camera (ground truth, :func:`root_depth_prior`, a root network, ...). Each
    joint is back-projected at ``Z_j = root_depth + (z / depth_bins * 2 - 1) *
    depth_range_mm / 2``, as :func:`mhp_tf.evaluation.metrics.decode_to_camera`.
    """
    b = validate_boxes(crop_boxes, name="crop_boxes")
    c = _validate_coords(coords, "coords", len(b))
    focal, center = focal_and_center(intrinsics)
    _validate_sizes(heatmap_size, depth_bins, depth_range_mm)
    depth = _validate_depth(root_depth, len(b))
    cam = decode_to_camera(c, b, depth, np.broadcast_to(focal, (len(b), 2)),
                           np.broadcast_to(center, (len(b), 2)), heatmap_size, depth_bins,
                           depth_range_mm)
    check_in_front(cam, intrinsics, depth)
    return cam


def check_in_front(joints_cam, intrinsics, root_depth=None) -> None:
    """Raise ``ValueError`` naming the intrinsics if a decoded joint has ``Z <= 0``.

    A joint behind (or on) the camera plane is never a real pose: it means the root
    depth is far too small for the predicted depth offsets (up to half of
    ``depth_range_mm`` in front of the root), which with the RootNet prior comes from
    a focal length that is far too small, and with a given ``root_depth`` from that
    value. Silently returning such poses would give wrong 3D output.
    """
    z = np.asarray(joints_cam, np.float64)[..., 2]
    if z.size and not np.all(z > 0):
        k = np.asarray(intrinsics, np.float64)
        depth = "" if root_depth is None else (
            f" at root depths {np.round(np.asarray(root_depth, np.float64), 3).tolist()} mm")
        raise ValueError(
            f"decoded joints lie behind the camera (Z = {float(z.min()):.6g} mm){depth} with "
            f"intrinsics {_intrinsics_text(k)}: check the intrinsics (focal lengths in pixels "
            f"of this image) and root_depth")


def camera_to_crop_joints(joints_cam, crop_boxes, intrinsics, heatmap_size: int,
                          depth_bins: int, depth_range_mm: float = 2000.0, root: int = 0,
                          root_depth=None) -> np.ndarray:
    """Inverse of :func:`crop_joints_to_camera`: camera joints ``[N, J, 3]`` -> heatmap units.

    The depth origin is ``root_depth`` (scalar or ``[N]``) if given, else the Z of
    joint ``root``. These are the training targets the pipeline would build for
    crops cut from ``crop_boxes`` without augmentation; values outside ``[0,
    heatmap_size)`` / ``[0, depth_bins)`` are returned as they are (not clipped).
    """
    b = validate_boxes(crop_boxes, name="crop_boxes")
    j = _validate_coords(joints_cam, "joints_cam", len(b))
    _validate_sizes(heatmap_size, depth_bins, depth_range_mm)
    if root_depth is None:
        if not -j.shape[1] <= root < j.shape[1]:
            raise ValueError(f"root={root} is not a joint index for {j.shape[1]} joints")
        depth = _validate_depth(j[:, root, 2], len(b))
    else:
        depth = _validate_depth(root_depth, len(b))
    uv = project(j, intrinsics)
    xy = (uv - b[:, None, :2]) / b[:, None, 2:] * heatmap_size
    z = ((j[..., 2] - depth[:, None]) / (depth_range_mm / 2.0) + 1.0) / 2.0 * depth_bins
    return np.concatenate([xy, z[..., None]], -1)


# ----------------------------------------------------------------------------- global position


def global_position_movnect(keypoints2d, poses3d, intrinsics, weights=None,
                            method: str = WEAK_PERSPECTIVE) -> np.ndarray:
    """Camera-frame translation ``[N, 3]`` (mm) that places root-relative poses in the scene.

    MoVNect (Hwang et al., WACV 2020, section 3.3) restores the global position from
    the 2D keypoints ``K`` and the root-relative 3D pose ``P`` with VNect's closed
    form (Mehta et al., 2017), the least-squares fit under weak perspective::

        P_G = sqrt(sum_j |P_xy^j - mean(P_xy)|^2) / sqrt(sum_j |K^j - mean(K)|^2)
              * (mean(K)_x, mean(K)_y, f) - (mean(P)_x, mean(P)_y, 0)

    with ``K`` measured from the principal point. (The norms are squared, as in
    VNect: it makes the ratio a length in mm per pixel; the MoVNect text drops the
    square.) Here ``K`` is first normalised by the focal lengths,
    ``k = ((u - cx) / fx, (v - cy) / fy)``, which is the same thing when ``fx = fy =
    f`` and handles ``fx != fy``.

    ``method='perspective'`` instead solves the full-perspective linear least squares
    ``X_j + t_x = k_x^j (Z_j + t_z)``, ``Y_j + t_y = k_y^j (Z_j + t_z)`` for ``t``: exact
    for noise-free input, better for people near the camera or off-centre.

    Args:
      keypoints2d: ``[N, J, 2]`` image pixels.
      poses3d: ``[N, J, 3]`` mm, relative to any origin (usually the root joint).
      intrinsics: ``[3, 3]``.
      weights: optional ``[N, J]`` non-negative joint weights (e.g. confidences);
        each person needs at least 2 joints of positive weight.
      method: ``'weak_perspective'`` (the paper's equation) or ``'perspective'``.

    Returns:
      ``t [N, 3]``: ``poses3d + t[:, None]`` is the pose in camera coordinates.
    """
    if method not in (WEAK_PERSPECTIVE, PERSPECTIVE):
        raise ValueError(f"method={method!r}; expected {WEAK_PERSPECTIVE!r} or {PERSPECTIVE!r}")
    focal, center = focal_and_center(intrinsics)
    kp = np.asarray(keypoints2d, np.float64)
    p = np.asarray(poses3d, np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints2d must be [N, J, 2], got shape {kp.shape}")
    if p.shape != kp.shape[:2] + (3,):
        raise ValueError(f"poses3d must be [N, J, 3] matching keypoints2d {kp.shape}, "
                         f"got {p.shape}")
    if not (np.all(np.isfinite(kp)) and np.all(np.isfinite(p))):
        raise ValueError("keypoints2d or poses3d contain NaN or inf")
    w = np.ones(kp.shape[:2]) if weights is None else np.asarray(weights, np.float64)
    if w.shape != kp.shape[:2] or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"weights must be finite, non-negative and [N, J] = {kp.shape[:2]}")
    few = np.flatnonzero((w > 0).sum(1) < 2)
    if few.size:
        raise ValueError(f"person {int(few[0])} has fewer than 2 joints with positive weight")
    k = (kp - center) / focal
    out = np.zeros((len(kp), 3))
    for i in range(len(kp)):
        wi = w[i] / w[i].sum()
        if method == WEAK_PERSPECTIVE:
            k_mean = wi @ k[i]
            p_mean = wi @ p[i]
            spread_3d = np.sqrt(wi @ np.sum((p[i, :, :2] - p_mean[:2]) ** 2, -1))
            spread_2d = np.sqrt(wi @ np.sum((k[i] - k_mean) ** 2, -1))
            if spread_2d <= 0:
                raise ValueError(f"person {i}: all weighted keypoints coincide")
            depth = spread_3d / spread_2d
            out[i] = [depth * k_mean[0] - p_mean[0], depth * k_mean[1] - p_mean[1], depth]
        else:
            sw = np.sqrt(wi)[:, None]
            ones, zeros = np.ones_like(k[i, :, 0]), np.zeros_like(k[i, :, 0])
            a = np.concatenate([np.stack([ones, zeros, -k[i, :, 0]], 1) * sw,
                                np.stack([zeros, ones, -k[i, :, 1]], 1) * sw])
            rhs = np.concatenate([(k[i, :, 0] * p[i, :, 2] - p[i, :, 0]) * sw[:, 0],
                                  (k[i, :, 1] * p[i, :, 2] - p[i, :, 1]) * sw[:, 0]])
            out[i] = np.linalg.lstsq(a, rhs, rcond=None)[0]
    return out
