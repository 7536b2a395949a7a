"""Anatomical joint limits for the H36M rig (MoVNect, Hwang et al. WACV 2020, §3.3).

MoVNect applies "anatomical joint rotation limits" to the angles its inverse kinematics
computes, so an exported animation never bends a knee backwards; the paper gives no table.
Ours is below. Limits act on each joint's *local* rotation (against its parent; rest pose =
0, see :mod:`mhp_tf.motion.rig`).

Most joints use an Euler box (:class:`EulerLimit`): the local rotation is decomposed in a
per-joint order chosen so the angles read anatomically (first = main motion, last = twist
about the bone, middle = kept away from gimbal lock at +-90). For order ``"XZY"`` the
rotation is ``Rx(x) @ Rz(z) @ Ry(y)``. Axes in the rest pose: x = the character's left,
y = up, z = forward. For a bone hanging down (thigh, shin, forearm): X > 0 swings it
backwards, Z > 0 towards +x, Y turns it about itself. For the trunk and head (pointing up):
X > 0 bends forwards, Z > 0 leans to the character's right, Y > 0 turns to its left.

Left-side values in degrees; the right side is the mirror image (its Y and Z ranges
negated, see :meth:`EulerLimit.mirrored`):

==========  =====  ======================  ======================  =====================
joint       order  X                       Z                       Y (twist)
==========  =====  ======================  ======================  =====================
Spine       XZY    [-10, 10] (a)           [-35, 35] lateral bend  [-10, 10] (a)
Torso       XZY    [-30, 80] flexion       [-40, 40] lateral bend  [-50, 50] axial turn
Neck        XZY    [-70, 60] nod (b)       [-50, 50] tilt          [-85, 85] turn
L_Collar    ZYX    [-30, 30] spin (c)      [-25, 40] elevation     [-30, 30] retraction
L_Elbow     XZY    [-160, 0] flexion (d)   [-15, 15] (e)           [-30, 30] (e)
L_Hip       XZY    [-170, 40] (f)          [-35, 55] abduction     [-55, 55] rotation (g)
L_Knee      XZY    [0, 165] flexion (d)    [-15, 15] (e)           [-30, 30] (e)
==========  =====  ======================  ======================  =====================

(a) 0 by construction: the pelvis frame follows the spine's sagittal direction, so only
the lateral bend of the lumbar spine against the hip line shows here. (b) X > 0 brings the
chin to the chest. (c) Collars (bone along x): Z > 0 raises the shoulder, Y > 0 pulls it
backwards, X spins the clavicle (~0). (d) Knees and elbows only flex (knee: X > 0, the
shin swings back; elbow: X < 0, the forearm swings forwards); hyperextension is clamped to a
straight limb. (e) Off-hinge angles, which a pure hinge never has: a small tolerance for
noise. (f) Flexion (thigh forwards) is X < 0. The pelvis frame follows the lumbar spine
(Pelvis -> Torso), so hip flexion here includes lumbar flexion, hence the wide range.
(g) The femur's rotation about itself, fixed by the knee hinge.

Shoulders use :class:`SwingTwistLimit` instead, because no Euler order avoids gimbal lock
over the shoulder's range (measured on the project's mocap: XZY locks at the T-pose, ZXY
with the arm straight forward, and the twist angle then swings by up to 180 degrees with
no real motion). The arm direction must stay within ``max_swing`` = 135 degrees of a centre
direction ``unit(1, -1, 1)`` (left arm 45 degrees forwards, outwards and down), which rules
out only arms far up-behind-across the back; the twist about the upper arm, measured along
the path rest -> centre -> arm (singular only at the excluded antipode), must be within
[-110, 110] degrees (> 0: internal rotation on the left side). This catches elbows bending
backwards, which the elbow hinge reports as a humerus twisted by ~180 degrees.

The root (global orientation), the pelvis helpers (``*_HipRoot``: the shape of the pelvis)
and ``Nose`` (the shape of the head) are unlimited.

Source and rationale: the values start from commonly quoted adult active ranges of motion
in clinical goniometry (AAOS-style tables: hip flexion ~120, extension ~30, abduction ~45,
adduction ~30, rotation ~45; knee flexion ~135-150; shoulder flexion ~180, extension ~60,
abduction ~180, rotation ~70-90; elbow flexion ~145-150; cervical flexion ~50, extension
~60, lateral bend ~45, rotation ~80; thoracolumbar flexion ~80, lateral bend ~35, rotation
~45), widened by 5-15 degrees because the rest pose is a generic skeleton and the angles
come from estimated 3D joints rather than bones. The hip and knee flexion ranges were
widened further after checking the project's motion capture (15 DeepMimic and 5 climbing
clips, 14.5k frames), whose climbers pull their knees to the chest. On those clips 0.07-0.19%
of joint-frames are clamped (1-3% of frames), almost all knees and elbows hyperextended by a
few degrees, which the "only flex" rule removes on purpose; on the procedural poses of the
synthetic dataset (generated inside its own limits) 0.17%. They are a plausibility filter for
animation export, not a biomechanical model.

Clamping: an Euler rotation is decomposed in the joint's order; of the two Euler solutions
of the same rotation, one inside the box is used if there is one, else the one with the
smaller total violation is clamped angle by angle (angles compared on the circle). A
swing-twist rotation gets its arm direction pulled back onto the cone and its twist clamped.
Rotations inside their limits are returned bit for bit.
"""

import dataclasses
from typing import Dict, Tuple, Union

import numpy as np

from mhp_tf.motion import rotations as rot

Range = Tuple[float, float]
FULL: Range = (-180.0, 180.0)
_MIRROR = np.diag([-1.0, 1.0, 1.0])


def _check_range(name, r):
    lo, hi = r
    if not (-180.0 <= lo <= hi <= 180.0):
        raise ValueError(f"limit range {name}={lo, hi} must satisfy -180 <= lo <= hi <= 180")


def _violation(angles, lo, hi):
    """Per-angle distance (deg, on the circle) outside ``[lo, hi]`` and the nearest bound."""
    inside = np.mod(angles - lo, 360.0) <= (hi - lo) + 1e-12
    d_lo = np.abs(rot.wrap_degrees(angles - lo))
    d_hi = np.abs(rot.wrap_degrees(angles - hi))
    nearest = np.where(d_lo <= d_hi, lo, hi)
    return np.where(inside, 0.0, np.minimum(d_lo, d_hi)), nearest


@dataclasses.dataclass(frozen=True)
class EulerLimit:
    """Euler-angle box of one joint: ``order`` and a ``(lower, upper)`` range in degrees per
    axis (``x``, ``y``, ``z`` name the axes, not positions in ``order``)."""

    order: str
    x: Range = FULL
    y: Range = FULL
    z: Range = FULL

    def __post_init__(self):
        rot.check_order(self.order)
        for name in "xyz":
            _check_range(name, getattr(self, name))

    @property
    def axis_names(self) -> Tuple[str, str, str]:
        return tuple(self.order.upper())

    def bounds(self) -> Tuple[np.ndarray, np.ndarray]:
        """``(lower (3,), upper (3,))`` in the order of :attr:`order`."""
        ranges = [getattr(self, a.lower()) for a in self.order.upper()]
        return np.array([r[0] for r in ranges], float), np.array([r[1] for r in ranges], float)

    def mirrored(self) -> "EulerLimit":
        """The limit of the mirror-image joint (mirror x -> -x: Y and Z angles change sign)."""
        return EulerLimit(self.order, self.x, (-self.y[1], -self.y[0]), (-self.z[1], -self.z[0]))

    def angles(self, R) -> np.ndarray:
        """Euler angles ``(..., 3)`` (deg, in :attr:`order`): the solution nearest the box."""
        return self._best(R)[0]

    def _best(self, R):
        lo, hi = self.bounds()
        e1 = rot.matrix_to_euler(R, self.order)
        e2 = rot.euler_alternative(e1)
        v1, n1 = _violation(e1, lo, hi)
        v2, n2 = _violation(e2, lo, hi)
        use2 = (v2.sum(-1) < v1.sum(-1) - 1e-9)[..., None]
        return (np.where(use2, e2, e1), np.where(use2, v2, v1), np.where(use2, n2, n1))

    def violation(self, R) -> np.ndarray:
        """Degrees ``(..., 3)`` by which each angle lies outside its range (0 inside)."""
        return self._best(R)[1]

    def clamp(self, R, tol_deg: float = 1e-6):
        e, v, nearest = self._best(R)
        hit = np.any(v > tol_deg, -1)
        clamped = rot.euler_to_matrix(np.where(v > 0, nearest, e), self.order)
        return np.where(hit[..., None, None], clamped, R), np.where(v > tol_deg, v, 0.0)


@dataclasses.dataclass(frozen=True)
class SwingTwistLimit:
    """A cone for a bone's direction plus a range for its twist (ball joints).

    ``rest_dir``: the bone's rest direction in the joint frame; ``center``: the cone's axis;
    ``max_swing``: the cone's half-angle (deg); ``twist``: range (deg) of the rotation about
    the bone left after the canonical swing ``rest_dir -> center -> bone``.
    """

    rest_dir: Tuple[float, float, float]
    center: Tuple[float, float, float]
    max_swing: float
    twist: Range = FULL

    def __post_init__(self):
        _check_range("twist", self.twist)
        if not 0.0 < self.max_swing <= 180.0:
            raise ValueError(f"max_swing must be in (0, 180], got {self.max_swing}")

    axis_names = ("swing", "twist", "-")

    def mirrored(self) -> "SwingTwistLimit":
        m = lambda v: tuple(float(a) for a in _MIRROR @ np.asarray(v, float))  # noqa: E731
        return SwingTwistLimit(m(self.rest_dir), m(self.center), self.max_swing,
                               (-self.twist[1], -self.twist[0]))

    def _parts(self, R):
        R = np.asarray(R, np.float64)
        d = rot.normalize(np.asarray(self.rest_dir, np.float64))
        c = rot.normalize(np.asarray(self.center, np.float64))
        bone = R @ d
        path = rot.swing_matrix(c, bone) @ rot.swing_matrix(d, c)
        T = np.swapaxes(path, -1, -2) @ R  # a rotation about d
        p = rot.any_perpendicular(d)
        tp = T @ p
        twist = np.rad2deg(np.arctan2(np.sum(d * np.cross(p, tp), -1), np.sum(p * tp, -1)))
        swing = np.rad2deg(np.arccos(np.clip(bone @ c, -1.0, 1.0)))
        return d, c, bone, swing, twist

    def angles(self, R) -> np.ndarray:
        """``(..., 3)``: swing angle from the centre, twist, 0 (degrees)."""
        _, _, _, swing, twist = self._parts(R)
        return np.stack([swing, twist, np.zeros_like(swing)], -1)

    def violation(self, R) -> np.ndarray:
        _, _, _, swing, twist = self._parts(R)
        v_tw, _ = _violation(twist, *self.twist)
        return np.stack([np.maximum(swing - self.max_swing, 0.0), v_tw, np.zeros_like(swing)], -1)

    def clamp(self, R, tol_deg: float = 1e-6):
        R = np.asarray(R, np.float64)
        d, c, bone, swing, twist = self._parts(R)
        v_sw = np.maximum(swing - self.max_swing, 0.0)
        v_tw, nearest = _violation(twist, *self.twist)
        v = np.stack([v_sw, v_tw, np.zeros_like(v_sw)], -1)
        hit = np.any(v > tol_deg, -1)
        if not np.any(hit):
            return R.copy(), np.zeros_like(v)
        # Pull the bone back onto the cone (great circle from the centre), clamp the twist.
        away = bone - (bone @ c)[..., None] * c
        away = np.where(np.linalg.norm(away, axis=-1, keepdims=True) < 1e-9,
                        rot.any_perpendicular(np.broadcast_to(c, bone.shape)), rot.normalize(away))
        m = np.deg2rad(self.max_swing)
        new_bone = np.where((v_sw > 0)[..., None], np.cos(m) * c + np.sin(m) * away, bone)
        new_twist = np.where(v_tw > 0, nearest, twist)
        rebuilt = (rot.swing_matrix(c, new_bone) @ rot.swing_matrix(d, c)
                   @ rot.axis_angle_to_matrix(np.broadcast_to(d, bone.shape),
                                              np.deg2rad(new_twist)))
        return np.where(hit[..., None, None], rebuilt, R), np.where(v > tol_deg, v, 0.0)


JointLimit = Union[EulerLimit, SwingTwistLimit]

LEFT_LIMITS: Dict[str, JointLimit] = {
    "Spine": EulerLimit("XZY", x=(-10, 10), z=(-35, 35), y=(-10, 10)),
    "Torso": EulerLimit("XZY", x=(-30, 80), z=(-40, 40), y=(-50, 50)),
    "Neck": EulerLimit("XZY", x=(-70, 60), z=(-50, 50), y=(-85, 85)),
    "L_Collar": EulerLimit("ZYX", z=(-25, 40), y=(-30, 30), x=(-30, 30)),
    "L_Shoulder": SwingTwistLimit(rest_dir=(0.0, -1.0, 0.0), center=(1.0, -1.0, 1.0),
                                  max_swing=135.0, twist=(-110, 110)),
    "L_Elbow": EulerLimit("XZY", x=(-160, 0), z=(-15, 15), y=(-30, 30)),
    "L_Hip": EulerLimit("XZY", x=(-170, 40), z=(-35, 55), y=(-55, 55)),
    "L_Knee": EulerLimit("XZY", x=(0, 165), z=(-15, 15), y=(-30, 30)),
}


def _with_right_side(left: Dict[str, JointLimit]) -> Dict[str, JointLimit]:
    out = dict(left)
    for name, lim in left.items():
        if name.startswith("L_"):
            out["R_" + name[2:]] = lim.mirrored()
    return out


H36M_LIMITS: Dict[str, JointLimit] = _with_right_side(LEFT_LIMITS)


def clamp_rotations(R, limit, tol_deg: float = 1e-6):
    """Clamp local rotations ``(..., 3, 3)`` into ``limit`` (``None``: unlimited).

    Returns ``(R_clamped, violation (..., 3))``: how far (deg) each limited quantity was
    outside its range before clamping (0 inside; see ``limit.axis_names``). Rotations within
    the limit (all violations <= ``tol_deg``) come back unchanged.
    """
    R = np.asarray(R, np.float64)
    if limit is None:
        return R.copy(), np.zeros(R.shape[:-2] + (3,))
    return limit.clamp(R, tol_deg)


def within_limits(R, limit, tol_deg: float = 1e-4) -> np.ndarray:
    """Boolean ``(...)``: True where the rotation satisfies ``limit`` (within ``tol_deg``)."""
    if limit is None:
        return np.ones(np.asarray(R).shape[:-2], bool)
    return np.all(limit.violation(np.asarray(R, np.float64)) <= tol_deg, -1)
