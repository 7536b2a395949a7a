"""The BVH skeleton ("rig") built over the H36M-18 joints, and its rest pose.

Coordinates of the rig (and of the BVH files): **Y up, the character facing +Z, its left
along +X** (right-handed). Input poses in other frames are rotated into it first
(:func:`mhp_tf.motion.pose_io.to_yup`).

Every BVH joint with channels owns a rotation; except at the root it aims one *bone*
(a pair of input points) from its rest direction to the observed direction. Joints that
branch (pelvis, neck) get zero-offset helper joints (``*_HipRoot``, ``Spine``,
``*_Collar``), as in the CMU BVH files, so every H36M bone is oriented independently and a
pose with the rig's bone lengths is reproduced exactly::

    Pelvis (root: 6 channels)       frame: x = hip line (R_Hip -> L_Hip), y = spine
    |- R_HipRoot (offset 0)         aims Pelvis -> R_Hip
    |  `- R_Hip                     aims R_Hip -> R_Knee, twist: knee hinge
    |     `- R_Knee                 aims R_Knee -> R_Ankle (End Site = R_Ankle)
    |- L_HipRoot / L_Hip / L_Knee   (mirror)
    `- Spine (offset 0)             aims Pelvis -> Torso
       `- Torso                     aims Torso -> Neck, twist: shoulder line
          |- Neck                   aims Neck -> Nose, twist: the Neck-Nose-Head plane
          |  `- Nose                aims Nose -> Head (End Site = Head top)
          |- L_Collar (at the Neck) aims Neck -> L_Shoulder
          |  `- L_Shoulder          aims L_Shoulder -> L_Elbow, twist: elbow hinge
          |     `- L_Elbow          aims L_Elbow -> L_Wrist (End Site = L_Wrist)
          `- R_Collar / R_Shoulder / R_Elbow (mirror)

``Thorax`` is not a rig point: the project's H36M-18 defines it as the shoulder midpoint,
and that is what :func:`points_from_rig` returns for it.

Rest pose (all rotations zero): standing upright, arms hanging at the sides (the anatomical
neutral position, so the joint limits of :mod:`mhp_tf.motion.limits` read as clinical
ranges of motion), with fixed rest directions (below) and per-sequence bone lengths.

Twist. Positions fix a bone's direction but not its rotation about itself. Joints without a
twist rule use the *minimal* (swing) rotation relative to their parent. Joints with one take
the twist that brings a rest reference axis onto an observed reference vector:

* Pelvis: the spine (Pelvis -> Torso) orthogonalised against the hip line gives +y;
* Torso: the shoulder line (R -> L shoulder) orthogonalised against the chest gives +x;
* Neck (head): the normal of the Neck-Nose-Head plane gives +x;
* hips / shoulders: the normal of the hip-knee-ankle / shoulder-elbow-wrist plane gives +x,
  so knees and elbows are pure hinges (flexion about their local x axis). The shoulders'
  untwisted frame swings through the centre of their range (``swing_via``), so "no twist"
  stays anatomically neutral for raised arms.

A reference nearly parallel to the bone (a straight limb, a degenerate head) says little:
its weight fades smoothly (full once the sine of the bend / angle exceeds
``Twist.full_weight``, sin 15 deg for hinges; none at 0) and the twist holds its value from
the previous frame instead (the first frame starts untwisted), so it stays continuous. A
hinge bent less than 20 degrees is read without its sign: a slightly backwards-bent knee is
taken as a hyperextended knee (which the limits then straighten), not as a leg twisted by
180 degrees (:func:`mhp_tf.motion.ik.twist_angles`). Frames must therefore be consecutive.
"""

import dataclasses
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from mhp_tf import skeletons

Vec3 = Tuple[float, float, float]


def _unit(v) -> Vec3:
    v = np.asarray(v, np.float64)
    return tuple(float(x) for x in v / np.linalg.norm(v))


@dataclasses.dataclass(frozen=True)
class Twist:
    """How a joint's rotation about its bone is chosen.

    ``points``: two names ``(a, b)`` -> the reference is ``unit(b - a)``; three names
    ``(a, b, c)`` -> ``sign * unit(b - a) x unit(c - b)`` (the normal of a bend, whose length
    is the sine of the bend angle). ``rest_axis``: the rig axis that reference maps to
    (perpendicular to the bone's rest direction). ``full_weight``: strength (sine) from
    which the reference fully decides the twist; ``signed_above``: strength below which
    only its axis, not its sign, is used (see :func:`mhp_tf.motion.ik.twist_angles`).
    """

    points: Tuple[str, ...]
    rest_axis: Vec3 = (1.0, 0.0, 0.0)
    sign: float = 1.0
    full_weight: float = float(np.sin(np.deg2rad(15.0)))
    signed_above: float = 0.0


# Hinges (knees, elbows): bends under 20 degrees may be hyperextension, so their sign is
# not trusted.
HINGE_SIGNED_ABOVE = float(np.sin(np.deg2rad(20.0)))


@dataclasses.dataclass(frozen=True)
class RigJoint:
    """One BVH joint with rotation channels.

    ``at``: the input point the joint sits on. ``aim``: the pair of input points whose
    direction the joint's rotation takes from ``rest_dir`` (for the root: the hip line).
    ``end_site``: the input point placed at this joint's End Site, if it is a leaf.
    ``swing_via``: if set, the untwisted frame swings ``rest_dir -> swing_via -> observed``
    (two minimal rotations) instead of directly, which moves the singular direction of the
    swing (its antipode) to ``-swing_via``; used for the shoulders, whose range covers
    nearly every direction, with the centre of their range.
    """

    name: str
    parent: Optional[str]
    at: str
    aim: Tuple[str, str]
    rest_dir: Vec3
    twist: Optional[Twist] = None
    end_site: Optional[str] = None
    swing_via: Optional[Vec3] = None


@dataclasses.dataclass(frozen=True)
class Rig:
    """A hierarchy of :class:`RigJoint` (parents before children, depth-first as written in
    the BVH file) over named input points, plus points derived as midpoints."""

    joints: Tuple[RigJoint, ...]
    derived: Tuple[Tuple[str, str, str], ...] = ()  # (point, a, b): point = (a + b) / 2

    def __post_init__(self):
        names = [j.name for j in self.joints]
        if len(set(names)) != len(names):
            raise ValueError("duplicate rig joint names")
        if self.joints[0].parent is not None:
            raise ValueError("the first rig joint must be the root")
        seen = set()
        for j in self.joints:
            if j.parent is not None and j.parent not in seen:
                raise ValueError(f"rig joint {j.name}: parent {j.parent} must come first")
            seen.add(j.name)
            if abs(np.linalg.norm(j.rest_dir) - 1.0) > 1e-9:
                raise ValueError(f"rig joint {j.name}: rest_dir must be a unit vector")
            if j.twist is not None and abs(float(np.dot(j.rest_dir, j.twist.rest_axis))) > 1e-9:
                raise ValueError(f"rig joint {j.name}: twist axis must be perpendicular to "
                                 "the rest direction")

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def parents(self) -> Tuple[int, ...]:
        idx = {n: i for i, n in enumerate(self.names)}
        return tuple(-1 if j.parent is None else idx[j.parent] for j in self.joints)

    @property
    def root(self) -> RigJoint:
        return self.joints[0]

    def index(self, name: str) -> int:
        return self.names.index(name)

    @property
    def bones(self) -> Tuple[Tuple[str, str], ...]:
        """The bones whose lengths the rest pose needs: every non-root joint's ``aim``."""
        return tuple(j.aim for j in self.joints[1:])

    @property
    def points(self) -> Tuple[str, ...]:
        """Every input point the rig places (joint positions and End Sites), then derived."""
        out = [self.root.at]
        for j in self.joints[1:]:
            for p in j.aim:
                if p not in out:
                    out.append(p)
        return tuple(out) + tuple(d[0] for d in self.derived)

    def check_points(self, point_names: Sequence[str]) -> None:
        missing = [p for p in self.points if p not in point_names
                   and p not in {d[0] for d in self.derived}]
        if missing:
            raise ValueError(f"the input joints lack {missing} needed by the rig")


# Rest directions (rig frame: x left, y up, z forward). The head and collar directions are
# round numbers close to the medians of the project's motion capture (chest frame).
DOWN = (0.0, -1.0, 0.0)
UP = (0.0, 1.0, 0.0)
NECK_TO_NOSE = _unit([0.0, 0.85, 0.5])     # ~30 deg forward of the spine
NOSE_TO_HEAD = _unit([0.0, 0.87, -0.5])    # ~30 deg backward
L_COLLAR = _unit([1.0, -0.2, 0.0])         # ~11 deg below horizontal
R_COLLAR = _unit([-1.0, -0.2, 0.0])
# Centre of the shoulder's range: the arm 45 deg forwards, outwards and down.
L_ARM_CENTER = _unit([1.0, -1.0, 1.0])
R_ARM_CENTER = _unit([-1.0, -1.0, 1.0])


def _h36m_rig() -> Rig:
    J = RigJoint
    knee = {s: Twist((f"{s}_Hip", f"{s}_Knee", f"{s}_Ankle"), signed_above=HINGE_SIGNED_ABOVE)
            for s in "LR"}
    elbow = {s: Twist((f"{s}_Shoulder", f"{s}_Elbow", f"{s}_Wrist"), sign=-1.0,
                      signed_above=HINGE_SIGNED_ABOVE) for s in "LR"}
    joints = [J("Pelvis", None, "Pelvis", ("R_Hip", "L_Hip"), (1.0, 0.0, 0.0),
                Twist(("Pelvis", "Torso"), rest_axis=UP, full_weight=0.2))]
    for s, lateral in (("R", -1.0), ("L", 1.0)):
        joints += [
            J(f"{s}_HipRoot", "Pelvis", "Pelvis", ("Pelvis", f"{s}_Hip"), (lateral, 0.0, 0.0)),
            J(f"{s}_Hip", f"{s}_HipRoot", f"{s}_Hip", (f"{s}_Hip", f"{s}_Knee"), DOWN, knee[s]),
            J(f"{s}_Knee", f"{s}_Hip", f"{s}_Knee", (f"{s}_Knee", f"{s}_Ankle"), DOWN,
              end_site=f"{s}_Ankle"),
        ]
    joints += [
        J("Spine", "Pelvis", "Pelvis", ("Pelvis", "Torso"), UP),
        J("Torso", "Spine", "Torso", ("Torso", "Neck"), UP,
          Twist(("R_Shoulder", "L_Shoulder"), full_weight=0.2)),
        J("Neck", "Torso", "Neck", ("Neck", "Nose"), NECK_TO_NOSE,
          Twist(("Neck", "Nose", "Head"), sign=-1.0)),
        J("Nose", "Neck", "Nose", ("Nose", "Head"), NOSE_TO_HEAD, end_site="Head"),
    ]
    for s, collar, center in (("L", L_COLLAR, L_ARM_CENTER), ("R", R_COLLAR, R_ARM_CENTER)):
        joints += [
            J(f"{s}_Collar", "Torso", "Neck", ("Neck", f"{s}_Shoulder"), collar),
            J(f"{s}_Shoulder", f"{s}_Collar", f"{s}_Shoulder", (f"{s}_Shoulder", f"{s}_Elbow"),
              DOWN, elbow[s], swing_via=center),
            J(f"{s}_Elbow", f"{s}_Shoulder", f"{s}_Elbow", (f"{s}_Elbow", f"{s}_Wrist"), DOWN,
              end_site=f"{s}_Wrist"),
        ]
    return Rig(tuple(joints), derived=(("Thorax", "L_Shoulder", "R_Shoulder"),))


H36M_RIG = _h36m_rig()
H36M_POINTS = skeletons.H36M.joints


def bone_lengths(points: np.ndarray, point_names: Sequence[str] = H36M_POINTS,
                 rig: Rig = H36M_RIG) -> Dict[Tuple[str, str], float]:
    """Median length over frames of every rig bone of poses ``(T, J, 3)`` (NaN frames skipped)."""
    pts = np.asarray(points, np.float64)
    rig.check_points(point_names)
    idx = {n: i for i, n in enumerate(point_names)}
    out = {}
    for a, b in rig.bones:
        n = np.linalg.norm(pts[:, idx[b]] - pts[:, idx[a]], axis=-1)
        n = n[np.isfinite(n)]
        if n.size == 0:
            raise ValueError(f"bone {a}->{b} has no finite frame")
        out[(a, b)] = float(np.median(n))
    return out


def constant_bone_lengths(points: np.ndarray, point_names: Sequence[str] = H36M_POINTS,
                          rig: Rig = H36M_RIG,
                          lengths: Optional[Dict[Tuple[str, str], float]] = None) -> np.ndarray:
    """Poses ``(T, J, 3)`` rebuilt with constant bone lengths (default: the medians), every
    rig bone keeping its direction, the root point kept, derived points recomputed (the
    rig reproduces such poses exactly). Points the rig does not use are copied."""
    P = np.asarray(points, np.float64)
    lengths = lengths if lengths is not None else bone_lengths(P, point_names, rig)
    idx = {n: i for i, n in enumerate(point_names)}
    out = P.copy()
    for j in rig.joints[1:]:
        a, b = j.aim
        v = P[:, idx[b]] - P[:, idx[a]]
        v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
        out[:, idx[b]] = out[:, idx[a]] + v * lengths[j.aim]
    for name, a, b in rig.derived:
        if name in idx:
            out[:, idx[name]] = 0.5 * (out[:, idx[a]] + out[:, idx[b]])
    return out


def rest_points(lengths: Dict[Tuple[str, str], float],
                rig: Rig = H36M_RIG) -> Dict[str, np.ndarray]:
    """Rest-pose position of every rig point (root at the origin), from bone lengths."""
    pos = {rig.root.at: np.zeros(3)}
    for j in rig.joints[1:]:
        a, b = j.aim
        pos[b] = pos[a] + np.asarray(j.rest_dir) * lengths[j.aim]
    for name, a, b in rig.derived:
        pos[name] = 0.5 * (pos[a] + pos[b])
    return pos


def rest_offsets(lengths: Dict[Tuple[str, str], float], rig: Rig = H36M_RIG):
    """``(offsets (N, 3), end_sites {joint index: (3,)})``: BVH OFFSETs of the rest pose."""
    pos = rest_points(lengths, rig)
    offsets = np.zeros((len(rig.joints), 3))
    end_sites = {}
    by_name = {j.name: j for j in rig.joints}
    for i, j in enumerate(rig.joints):
        if j.parent is not None:
            offsets[i] = pos[j.at] - pos[by_name[j.parent].at]
        if j.end_site is not None:
            end_sites[i] = pos[j.end_site] - pos[j.at]
    return offsets, end_sites


def point_sources(rig: Rig = H36M_RIG) -> Dict[str, Tuple[str, bool]]:
    """Where each rig point is in a BVH of the rig: point -> (joint name, is End Site)."""
    out = {}
    for j in rig.joints:
        out.setdefault(j.at, (j.name, False))
        if j.end_site is not None:
            out.setdefault(j.end_site, (j.name, True))
    return out


def points_from_rig(joint_positions: np.ndarray, end_positions: Dict[str, np.ndarray],
                    point_names: Sequence[str] = H36M_POINTS, rig: Rig = H36M_RIG) -> np.ndarray:
    """Input-order points ``(T, J, 3)`` from rig joint positions ``(T, N, 3)`` and End Site
    positions (joint name -> ``(T, 3)``); derived points (Thorax) are midpoints."""
    src = point_sources(rig)
    T = joint_positions.shape[0]
    out = np.full((T, len(point_names), 3), np.nan)
    named = {}
    for p, (joint, is_end) in src.items():
        named[p] = end_positions[joint] if is_end else joint_positions[:, rig.index(joint)]
    for name, a, b in rig.derived:
        named[name] = 0.5 * (named[a] + named[b])
    for i, p in enumerate(point_names):
        if p in named:
            out[:, i] = named[p]
    return out
