"""Joint positions -> BVH joint rotations (inverse kinematics by bone directions).

:func:`solve_rotations` turns a sequence of 3D poses ``(T, J, 3)`` (rig frame: Y up, see
:mod:`mhp_tf.motion.rig`) into a :class:`Motion`: constant bone lengths (the median of each
bone over the sequence), the rest offsets they imply, one local rotation per rig joint and
frame, and the root (pelvis) translation per frame.

Per joint, top-down: the bone's observed direction is brought into the parent's (final)
frame, the minimal rotation from the rest direction to it is taken, then the twist rule of
the joint (if any) turns the frame about the bone. With limits (:mod:`mhp_tf.motion.limits`),
the local rotation is clamped right there and the children are solved against the clamped
frame, so every joint that did not hit a limit still points its bone exactly at the
observed direction. A pose whose bone lengths equal the rig's is reproduced exactly by
forward kinematics when no limit is hit.
"""

import dataclasses
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from mhp_tf.motion import limits as limits_lib
from mhp_tf.motion import rig as rig_lib
from mhp_tf.motion import rotations as rot


@dataclasses.dataclass
class Motion:
    """Rotations of a rig over time (lengths in mm, rig frame: Y up, facing +Z at rest).

    ``rotations``: local rotation matrices ``(T, N, 3, 3)`` (child frame -> parent frame),
    ``root_positions``: ``(T, 3)`` pelvis positions, ``offsets``: ``(N, 3)`` BVH OFFSETs
    (root: 0), ``end_sites``: joint index -> End Site offset, ``limit_violation``:
    ``(T, N, 3)`` degrees by which each Euler angle (in the joint's limit order) exceeded its
    limit before clamping (``None`` when no limits were applied).
    """

    rig: rig_lib.Rig
    offsets: np.ndarray
    end_sites: Dict[int, np.ndarray]
    rotations: np.ndarray
    root_positions: np.ndarray
    fps: float
    lengths: Dict[Tuple[str, str], float]
    limits: Optional[Mapping[str, limits_lib.JointLimit]] = None
    limit_violation: Optional[np.ndarray] = None

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def joint_names(self) -> Tuple[str, ...]:
        return self.rig.names

    def limit_hits(self) -> np.ndarray:
        """Boolean ``(T, N)``: True where the joint was clamped in that frame."""
        if self.limit_violation is None:
            return np.zeros(self.rotations.shape[:2], bool)
        return np.any(self.limit_violation > 0, -1)

    def limit_report(self) -> Dict[str, dict]:
        """Per clamped joint: frames, number of frames, axes and largest violation (deg)."""
        out = {}
        if self.limit_violation is None:
            return out
        hits = self.limit_hits()
        for i, name in enumerate(self.rig.names):
            frames = np.flatnonzero(hits[:, i])
            if frames.size == 0:
                continue
            axis_names = self.limits[name].axis_names
            v = self.limit_violation[:, i]
            out[name] = {
                "num_frames": int(frames.size),
                "frames": [int(f) for f in frames],
                "axes": [a for k, a in enumerate(axis_names) if np.any(v[:, k] > 0)],
                "max_violation_deg": float(v.max()),
            }
        return out

    def forward_kinematics(self):
        """``(joint positions (T, N, 3), End Site positions {joint name: (T, 3)})`` in mm."""
        pos, glob = chain_forward_kinematics(self.rig.parents, self.offsets, self.rotations,
                                             self.root_positions)
        ends = {self.rig.names[i]: pos[:, i] + glob[:, i] @ off
                for i, off in self.end_sites.items()}
        return pos, ends

    def points(self, point_names: Sequence[str] = rig_lib.H36M_POINTS) -> np.ndarray:
        """Input points ``(T, J, 3)`` (mm, rig frame) rebuilt by forward kinematics."""
        pos, ends = self.forward_kinematics()
        return rig_lib.points_from_rig(pos, ends, point_names, self.rig)

    def global_rotations(self) -> np.ndarray:
        """World rotations ``(T, N, 3, 3)`` of every rig joint."""
        _, glob = chain_forward_kinematics(self.rig.parents, self.offsets, self.rotations,
                                           self.root_positions)
        return glob

    def replace(self, **changes) -> "Motion":
        return dataclasses.replace(self, **changes)


def chain_forward_kinematics(parents: Sequence[int], offsets: np.ndarray, rotations: np.ndarray,
                             root_positions: np.ndarray):
    """Forward kinematics of a joint tree (parents before children).

    ``offsets (N, 3)``, local ``rotations (T, N, 3, 3)``, ``root_positions (T, 3)`` (added to
    the root's offset). Returns ``(positions (T, N, 3), global rotations (T, N, 3, 3))``.
    """
    rotations = np.asarray(rotations, np.float64)
    offsets = np.asarray(offsets, np.float64)
    T, N = rotations.shape[:2]
    pos = np.zeros((T, N, 3))
    glob = np.zeros((T, N, 3, 3))
    for i, p in enumerate(parents):
        if p < 0:
            glob[:, i] = rotations[:, i]
            pos[:, i] = np.asarray(root_positions, np.float64) + offsets[i]
        else:
            glob[:, i] = glob[:, p] @ rotations[:, i]
            pos[:, i] = pos[:, p] + glob[:, p] @ offsets[i]
    return pos, glob


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def twist_reference(twist: rig_lib.Twist, pts: Mapping[str, np.ndarray]):
    """``(reference (T, 3), strength (T,))`` of a twist rule (see :class:`rig.Twist`).

    The strength in ``[0, 1]`` says how well the reference is defined: for a line, the
    sine of its angle to the bone (computed later against the bone); for a bend
    ``(a, b, c)``, the sine of the bend angle, or 1 for bends beyond 90 degrees.
    """
    if len(twist.points) == 2:
        a, b = twist.points
        return rot.normalize(pts[b] - pts[a]), None
    a, b, c = twist.points
    u1 = rot.normalize(pts[b] - pts[a])
    u2 = rot.normalize(pts[c] - pts[b])
    n = twist.sign * np.cross(u1, u2)
    strength = np.where(np.sum(u1 * u2, -1) < 0, 1.0, np.linalg.norm(n, axis=-1))
    return n, strength


def twist_angles(G_swing: np.ndarray, u: np.ndarray, twist: rig_lib.Twist,
                 reference: np.ndarray, strength: Optional[np.ndarray] = None) -> np.ndarray:
    """Twist angles ``(T,)`` (radians, about the bone direction ``u (T, 3)``) to apply to the
    swing frames ``G_swing (T, 3, 3)`` so that ``twist.rest_axis`` maps onto ``reference``.

    The reference counts with weight ``w = smoothstep(strength / twist.full_weight)``
    (``strength`` defaults to the length of the reference's part perpendicular to the bone):
    the angle follows the reference (``w = 1``) or holds the previous frame's angle
    (``w = 0``: e.g. a straight limb, whose twist positions cannot show; the first frame
    starts from 0, the untwisted frame). While ``strength < twist.signed_above`` the
    reference is used as an axis: of ``reference`` and ``-reference`` the one within 90
    degrees of the untwisted frame counts (a nearly straight knee bent slightly backwards
    is a hyperextended knee, not a leg twisted by 180 degrees). The recursion runs forward in
    time, so frames must be consecutive.
    """
    r_swing = G_swing @ np.asarray(twist.rest_axis, np.float64)
    r_perp = reference - np.sum(reference * u, -1, keepdims=True) * u
    m = np.linalg.norm(r_perp, axis=-1) if strength is None else np.asarray(strength)
    w = _smoothstep(m / twist.full_weight)
    unsigned = m < twist.signed_above
    phi = np.arctan2(np.sum(u * np.cross(r_swing, r_perp), -1), np.sum(r_swing * r_perp, -1))
    psi = np.empty_like(phi)
    prev = 0.0
    for t in range(len(phi)):
        target = phi[t]
        if unsigned[t] and abs(target) > 0.5 * np.pi:
            target -= np.copysign(np.pi, target)
        step = (target - prev + np.pi) % (2.0 * np.pi) - np.pi
        prev = prev + w[t] * step
        psi[t] = prev
    return psi


def solve_rotations(points: np.ndarray, fps: float = 30.0,
                    point_names: Sequence[str] = rig_lib.H36M_POINTS,
                    rig: rig_lib.Rig = rig_lib.H36M_RIG,
                    limits: Optional[Mapping[str, limits_lib.JointLimit]] = limits_lib.H36M_LIMITS,
                    lengths: Optional[Dict[Tuple[str, str], float]] = None) -> Motion:
    """Local joint rotations of ``points (T, J, 3)`` (mm, rig frame Y up) for ``rig``.

    Args:
      points: poses in the order of ``point_names`` (H36M-18 by default; ``Thorax`` is not
        used); every value must be finite (fill gaps first, see
        :func:`mhp_tf.motion.pose_io.fill_missing`).
      fps: frame rate stored in the motion.
      limits: joint name -> :class:`~mhp_tf.motion.limits.JointLimit`; ``None`` disables
        clamping. Joints not in the mapping are unlimited.
      lengths: bone lengths (``rig.bones`` -> mm); default: medians over the sequence.
    """
    P = np.asarray(points, np.float64)
    if P.ndim != 3 or P.shape[1] != len(point_names) or P.shape[2] != 3:
        raise ValueError(f"points must be (T, {len(point_names)}, 3), got {P.shape}")
    if P.shape[0] == 0:
        raise ValueError("points has no frame")
    if not np.all(np.isfinite(P)):
        raise ValueError("points contain NaN or inf; fill missing frames first")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, got {fps}")
    rig.check_points(point_names)
    if lengths is None:
        lengths = rig_lib.bone_lengths(P, point_names, rig)
    offsets, end_sites = rig_lib.rest_offsets(lengths, rig)
    pts = {name: P[:, i] for i, name in enumerate(point_names)}
    T, N = P.shape[0], len(rig.joints)
    eye = np.broadcast_to(np.eye(3), (T, 3, 3))
    glob = np.zeros((T, N, 3, 3))
    local = np.zeros((T, N, 3, 3))
    violation = np.zeros((T, N, 3)) if limits is not None else None
    parents = rig.parents
    for i, joint in enumerate(rig.joints):
        G_parent = eye if parents[i] < 0 else glob[:, parents[i]]
        a, b = joint.aim
        u = rot.normalize(pts[b] - pts[a])
        d = np.asarray(joint.rest_dir, np.float64)
        u_local = np.einsum("tji,tj->ti", G_parent, u)  # G_parent^T u
        # 180-degree swings (never anatomical) turn about the rest x axis for vertical bones,
        # about y for lateral ones.
        fallback = np.array([1.0, 0.0, 0.0]) if abs(d[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        if joint.swing_via is None:
            S = rot.swing_matrix(d, u_local, fallback)
        else:
            c = np.asarray(joint.swing_via, np.float64)
            S = rot.swing_matrix(c, u_local, fallback) @ rot.swing_matrix(d, c)
        G = G_parent @ S
        if joint.twist is not None:
            psi = twist_angles(G, u, joint.twist, *twist_reference(joint.twist, pts))
            G = rot.axis_angle_to_matrix(u, psi) @ G
        L = np.swapaxes(G_parent, -1, -2) @ G
        if limits is not None and limits.get(joint.name) is not None:
            L, violation[:, i] = limits_lib.clamp_rotations(L, limits[joint.name])
        local[:, i] = L
        glob[:, i] = G_parent @ L
    return Motion(rig=rig, offsets=offsets, end_sites=end_sites, rotations=local,
                  root_positions=pts[rig.root.at].copy(), fps=float(fps), lengths=dict(lengths),
                  limits=dict(limits) if limits is not None else None,
                  limit_violation=violation)


def reapply_limits(motion: Motion,
                   limits: Optional[Mapping[str, limits_lib.JointLimit]] = None) -> Motion:
    """Clamp the local rotations of ``motion`` again (e.g. after filtering), keeping the
    children's local rotations; the violations are merged with the motion's earlier ones."""
    limits = limits if limits is not None else motion.limits
    if limits is None:
        return motion
    R = motion.rotations.copy()
    viol = np.zeros(R.shape[:2] + (3,))
    for i, name in enumerate(motion.rig.names):
        if limits.get(name) is not None:
            R[:, i], viol[:, i] = limits_lib.clamp_rotations(R[:, i], limits[name])
    if motion.limit_violation is not None:
        viol = np.maximum(viol, motion.limit_violation)
    return motion.replace(rotations=R, limits=dict(limits), limit_violation=viol)


def bone_direction_errors(motion: Motion, points: np.ndarray,
                          point_names: Sequence[str] = rig_lib.H36M_POINTS) -> np.ndarray:
    """Angle (deg) ``(T, N)`` between each non-root joint's bone in ``motion`` and in
    ``points`` (rig frame); the root column is the hip line's angle."""
    P = np.asarray(points, np.float64)
    rebuilt = motion.points(point_names)
    idx = {n: i for i, n in enumerate(point_names)}
    out = np.zeros((P.shape[0], len(motion.rig.joints)))
    for i, joint in enumerate(motion.rig.joints):
        a, b = idx[joint.aim[0]], idx[joint.aim[1]]
        u = rot.normalize(P[:, b] - P[:, a])
        v = rot.normalize(rebuilt[:, b] - rebuilt[:, a])
        out[:, i] = np.rad2deg(np.arccos(np.clip(np.sum(u * v, -1), -1.0, 1.0)))
    return out
