"""Rotation helpers for the motion export (NumPy only).

Conventions:

* Rotation matrices act on column vectors, ``v' = R @ v``, and are batched as
  ``(..., 3, 3)``.
* Quaternions are ``(..., 4)`` in ``(w, x, y, z)`` order.
* Euler angles follow the BVH convention: for a channel order such as ``"ZXY"`` the
  rotation is ``R = Rz(a0) @ Rx(a1) @ Ry(a2)`` (intrinsic rotations, applied to a vector
  from right to left), angles in **degrees**. Any order of three distinct axes works.
  :func:`matrix_to_euler` returns the first and last angle in ``(-180, 180]`` and the
  middle one in ``[-90, 90]``; :func:`euler_alternative` gives the other solution.
"""

from typing import Optional

import numpy as np

_AXIS = {"X": 0, "Y": 1, "Z": 2}
EPS = 1e-12


def check_order(order: str) -> str:
    """Upper-case ``order`` and check it names three distinct axes (e.g. ``"ZXY"``)."""
    order = str(order).upper()
    if len(order) != 3 or set(order) != {"X", "Y", "Z"}:
        raise ValueError(f"Euler order must be a permutation of 'XYZ', got {order!r}")
    return order


def normalize(v, axis: int = -1, eps: float = EPS) -> np.ndarray:
    """``v / |v|`` along ``axis``; zero vectors stay zero."""
    v = np.asarray(v, np.float64)
    n = np.linalg.norm(v, axis=axis, keepdims=True)
    return v / np.maximum(n, eps)


def axis_rotation(axis: str, angle_rad) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` about a coordinate axis ``"X"``, ``"Y"`` or ``"Z"``."""
    a = np.asarray(angle_rad, np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    i = _AXIS[axis.upper()]
    if i == 0:
        rows = [[o, z, z], [z, c, -s], [z, s, c]]
    elif i == 1:
        rows = [[c, z, s], [z, o, z], [-s, z, c]]
    else:
        rows = [[c, -s, z], [s, c, z], [z, z, o]]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def axis_angle_to_matrix(axis, angle_rad) -> np.ndarray:
    """Rotation by ``angle_rad`` about the (normalised) ``axis`` (Rodrigues' formula)."""
    k = normalize(axis)
    a = np.asarray(angle_rad, np.float64)[..., None, None]
    kx = np.zeros(k.shape[:-1] + (3, 3))
    kx[..., 0, 1], kx[..., 0, 2] = -k[..., 2], k[..., 1]
    kx[..., 1, 0], kx[..., 1, 2] = k[..., 2], -k[..., 0]
    kx[..., 2, 0], kx[..., 2, 1] = -k[..., 1], k[..., 0]
    return np.eye(3) + np.sin(a) * kx + (1.0 - np.cos(a)) * (kx @ kx)


def euler_to_matrix(angles_deg, order: str = "ZXY") -> np.ndarray:
    """``R = R_{order[0]}(a0) @ R_{order[1]}(a1) @ R_{order[2]}(a2)``; angles ``(..., 3)`` deg."""
    order = check_order(order)
    a = np.deg2rad(np.asarray(angles_deg, np.float64))
    return (axis_rotation(order[0], a[..., 0]) @ axis_rotation(order[1], a[..., 1])
            @ axis_rotation(order[2], a[..., 2]))


def matrix_to_euler(R, order: str = "ZXY") -> np.ndarray:
    """Euler angles ``(..., 3)`` in degrees with ``euler_to_matrix(angles, order) == R``.

    Near gimbal lock (middle angle +-90 degrees) the last angle is set to 0.
    """
    order = check_order(order)
    R = np.asarray(R, np.float64)
    i, j, k = (_AXIS[c] for c in order)
    e = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for the cyclic orders XYZ, YZX, ZXY
    r_ik = np.clip(e * R[..., i, k], -1.0, 1.0)
    cos_b = np.hypot(R[..., i, i], R[..., i, j])
    b = np.arctan2(r_ik, cos_b)
    a = np.arctan2(-e * R[..., j, k], R[..., k, k])
    c = np.arctan2(-e * R[..., i, j], R[..., i, i])
    lock = cos_b < 1e-9
    if np.any(lock):
        a_lock = np.arctan2(e * R[..., k, j], R[..., j, j])
        a = np.where(lock, a_lock, a)
        c = np.where(lock, 0.0, c)
    return np.rad2deg(np.stack([a, b, c], -1))


def wrap_degrees(a) -> np.ndarray:
    """Angles mapped to ``(-180, 180]``."""
    a = np.asarray(a, np.float64)
    return 180.0 - np.mod(180.0 - a, 360.0)


def euler_alternative(angles_deg) -> np.ndarray:
    """The other Euler solution of the same rotation: ``(a0 + 180, 180 - a1, a2 + 180)``
    (wrapped to ``(-180, 180]``; its middle angle lies outside ``[-90, 90]``)."""
    a = np.asarray(angles_deg, np.float64)
    return np.stack([wrap_degrees(a[..., 0] + 180.0), wrap_degrees(180.0 - a[..., 1]),
                     wrap_degrees(a[..., 2] + 180.0)], -1)


def unwrap_euler_sequence(angles_deg) -> np.ndarray:
    """Make Euler angles ``(T, ..., 3)`` continuous over time (axis 0) for animation curves.

    Per frame, the equivalent solution (the principal one or :func:`euler_alternative`,
    each shifted by multiples of 360 degrees) closest to the previous frame is chosen;
    the rotations are unchanged.
    """
    a = np.asarray(angles_deg, np.float64)
    if len(a) == 0:
        return a.copy()
    out = np.empty_like(a)
    out[0] = a[0]
    for t in range(1, len(a)):
        prev = out[t - 1]
        best = None
        best_cost = None
        for cand in (a[t], euler_alternative(a[t])):
            cand = cand + 360.0 * np.round((prev - cand) / 360.0)
            cost = np.sum((cand - prev) ** 2, -1)
            if best is None:
                best, best_cost = cand, cost
            else:
                take = (cost < best_cost)[..., None]
                best = np.where(take, cand, best)
                best_cost = np.minimum(cost, best_cost)
        out[t] = best
    return out


def quat_to_matrix(q) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of quaternions ``(..., 4)`` (normalised first)."""
    q = normalize(q)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_quat(R) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` with ``w >= 0`` of rotation matrices ``(..., 3, 3)``."""
    R = np.asarray(R, np.float64)
    m00, m11, m22 = R[..., 0, 0], R[..., 1, 1], R[..., 2, 2]
    # Four candidate formulas; each is well conditioned where its diagonal term is large.
    cands = np.stack([
        np.stack([1 + m00 + m11 + m22, R[..., 2, 1] - R[..., 1, 2],
                  R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1),
        np.stack([R[..., 2, 1] - R[..., 1, 2], 1 + m00 - m11 - m22,
                  R[..., 0, 1] + R[..., 1, 0], R[..., 0, 2] + R[..., 2, 0]], -1),
        np.stack([R[..., 0, 2] - R[..., 2, 0], R[..., 0, 1] + R[..., 1, 0],
                  1 - m00 + m11 - m22, R[..., 1, 2] + R[..., 2, 1]], -1),
        np.stack([R[..., 1, 0] - R[..., 0, 1], R[..., 0, 2] + R[..., 2, 0],
                  R[..., 1, 2] + R[..., 2, 1], 1 - m00 - m11 + m22], -1),
    ], -2)
    best = np.argmax(np.stack([m00 + m11 + m22, m00, m11, m22], -1), -1)
    q = np.take_along_axis(cands, best[..., None, None], -2)[..., 0, :]
    q = normalize(q)
    return np.where(q[..., :1] < 0, -q, q)


def quat_sign_continuity(q) -> np.ndarray:
    """Flip quaternions ``(T, ..., 4)`` so consecutive frames have a non-negative dot product
    (``q`` and ``-q`` are the same rotation; filtering needs the continuous choice)."""
    q = np.array(q, np.float64)
    for t in range(1, len(q)):
        flip = np.sum(q[t] * q[t - 1], -1, keepdims=True) < 0
        q[t] = np.where(flip, -q[t], q[t])
    return q


def any_perpendicular(v) -> np.ndarray:
    """A unit vector perpendicular to each (unit) ``v`` (``(..., 3)``)."""
    v = normalize(v)
    # Cross with the coordinate axis least aligned with v.
    idx = np.argmin(np.abs(v), -1)
    e = np.eye(3)[idx]
    return normalize(np.cross(v, e))


def swing_matrix(a, b, fallback_axis: Optional[np.ndarray] = None) -> np.ndarray:
    """The minimal rotation taking direction ``a`` to direction ``b`` (``(..., 3)`` each).

    Its axis is ``a x b`` and its angle the angle between them (no twist about either
    direction). For opposite directions the rotation is 180 degrees about
    ``fallback_axis`` made perpendicular to ``a`` (default: any perpendicular).
    """
    a = normalize(a)
    b = normalize(b)
    a, b = np.broadcast_arrays(a, b)
    w = 1.0 + np.sum(a * b, -1, keepdims=True)
    q = np.concatenate([w, np.cross(a, b)], -1)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    opposite = n[..., 0] < 1e-9
    if np.any(opposite):
        if fallback_axis is None:
            perp = any_perpendicular(a)
        else:
            f = np.broadcast_to(np.asarray(fallback_axis, np.float64), a.shape)
            perp = f - np.sum(f * a, -1, keepdims=True) * a
            bad = np.linalg.norm(perp, axis=-1) < 1e-9
            perp = np.where(bad[..., None], any_perpendicular(a), normalize(perp))
        q180 = np.concatenate([np.zeros_like(w), perp], -1)
        q = np.where(opposite[..., None], q180, q)
    return quat_to_matrix(q)


def rotation_angle_deg(R) -> np.ndarray:
    """Rotation angle (degrees, in ``[0, 180]``) of rotation matrices ``(..., 3, 3)``."""
    R = np.asarray(R, np.float64)
    c = np.clip((np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    return np.rad2deg(np.arccos(c))
