"""Joint-position poses (mocap or procedural) -> bone rotations of the MakeHuman rig.

Input: clips ``(T, 20, 3)`` in the point set of :mod:`mhp_tf_datasets.synthetic.pose`
(metres, Z up) -- from :mod:`..mocap` (DeepMimic, climbing) or :func:`..pose.sample_clip`.
Output: global bone rotations ``(T, B, 3, 3)`` and root positions ``(T, 3)`` for
:class:`.skinning.BodyModel` (whose rest pose has identity rotations).

Each driven segment gets the rotation that maps its *rest frame* onto its *observed frame*,
``G = F_obs F_rest^T``, where a frame is ``[aim, ref_perp, aim x ref_perp]`` built from
an aim direction and a reference direction (as :mod:`mhp_tf.motion.ik` swings a bone onto
its direction and then twists it about the bone):

* pelvis: aim right hip -> left hip, reference pelvis -> torso (bones ``root``,
  ``pelvis.L/R``); chest: aim torso -> neck, reference right -> left shoulder
  (``spine02``, ``spine01`` and, rigidly with them, clavicles and shoulders); the lower
  spine (``spine05..03``) interpolates pelvis -> chest (1/4, 1/2, 3/4 of the way).
* thighs and shins: aim along the bone, reference the knee's bend normal
  ``thigh x shin`` (rest: the body's left, +y); feet: aim ankle -> toe, same reference.
* upper arms and forearms: aim along the bone, reference the elbow's bend normal (rest:
  from the template's slightly bent elbow); the clavicles (with the shoulders) turn up
  about the chest's forward axis by 0.35 degrees per degree the arm is raised beyond 80
  degrees from hanging, at most 30 (the shoulder girdle's share of arm elevation), so the
  shoulder labels move with them.
  Hinge references fade, below 20 degrees of bend, into the *untwisted* reference (the
  rest reference carried by the minimal swing from the parent's frame), and a nearly
  straight joint bent "backwards" uses the reference's axis, not its sign (as
  :func:`mhp_tf.motion.ik.twist_angles`).
* head: aim neck -> head top, reference neck -> nose, against the upright, forward-looking
  frame of the source skeletons (head top straight above the neck, nose 27 degrees
  forward of it: :func:`..pose.rest_offsets`); the neck bones interpolate chest -> head.

Randomised within limits (smoothly over a clip, from a seed): a head offset (yaw +-30,
pitch +-15, roll +-10 degrees) on top of the captured head, forearm pronation/supination
(+-60 degrees, distal forearm bone fully, proximal half, each about its own rest
direction so the labels do not move), wrist flexion (+-40) and
deviation (+-15), and a common finger curl (0-50 degrees per joint). The mocap has no
twist, head or hand information beyond what these points show.
"""

import dataclasses
from typing import Optional, Tuple

import numpy as np

from mhp_tf.motion import rotations as rot
from mhp_tf_datasets.synthetic import pose as pose_lib
from mhp_tf_datasets.synthetic.realistic import joints as joints_lib

P = pose_lib.P
HINGE_FULL = np.sin(np.deg2rad(20.0))
# Upright head of the source skeletons (pose.rest_offsets): aim neck->head top, ref neck->nose.
SOURCE_HEAD_AIM = np.array([0.03, 0.0, 1.0])
SOURCE_HEAD_REF = np.array([0.45, 0.0, 0.89])


def driven_bones(bone_names) -> Tuple[str, ...]:
    """The bones :class:`Retargeter` rotates; all others follow their parents rigidly."""
    named = ["root", "spine05", "spine04", "spine03", "spine02", "spine01", "neck01", "neck02",
             "neck03", "head"]
    for s in ("L", "R"):
        named += [f"upperleg01.{s}", f"lowerleg01.{s}", f"foot.{s}", f"clavicle.{s}",
                  f"upperarm01.{s}",
                  f"lowerarm01.{s}", f"lowerarm02.{s}", f"wrist.{s}"]
    fingers = [n for n in bone_names if n.startswith("finger") and n[-2:] in (".L", ".R")]
    return tuple(named + fingers)


@dataclasses.dataclass(frozen=True)
class Variation:
    """Ranges (degrees) of the randomised head and hand rotations."""

    head_yaw: float = 30.0
    head_pitch: float = 15.0
    head_roll: float = 10.0
    pronation: float = 60.0
    wrist_flex: float = 40.0
    wrist_deviation: float = 15.0
    finger_curl: Tuple[float, float] = (0.0, 50.0)
    # Clavicle lift (degrees) per degree of arm elevation above 80 degrees, and its cap.
    clavicle_gain: float = 0.35
    clavicle_max: float = 30.0


def _unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def frame(aim, ref) -> np.ndarray:
    """Orthonormal frames ``(..., 3, 3)``, columns ``[aim, ref_perp, aim x ref_perp]``."""
    a = _unit(np.asarray(aim, np.float64))
    r = np.asarray(ref, np.float64)
    r = _unit(r - np.sum(r * a, -1, keepdims=True) * a)
    return np.stack([a, r, np.cross(a, r)], -1)


def _slerp(Ra, Rb, t):
    """Rotations ``t`` of the way from ``Ra`` to ``Rb`` (``(T, 3, 3)`` each)."""
    d = np.swapaxes(Ra, -1, -2) @ Rb
    q = rot.matrix_to_quat(d)
    q = np.where(q[..., :1] < 0, -q, q)
    angle = 2.0 * np.arctan2(np.linalg.norm(q[..., 1:], axis=-1), q[..., 0])
    axis = _unit(q[..., 1:])
    return Ra @ rot.axis_angle_to_matrix(axis, t * angle)


def _untwisted(parent, d_rest, u_obs, ref_rest):
    """``ref_rest`` carried by the parent's frames and the minimal swing ``d_rest -> u_obs``."""
    return parent @ rot.swing_matrix(d_rest, np.einsum("tji,tj->ti", parent, u_obs)) @ ref_rest


def _smooth_random(rng, num_frames: int, half_range: float) -> np.ndarray:
    """A value per frame in ``[-half_range, half_range]``: eased between two random draws."""
    a, b = rng.uniform(-half_range, half_range, 2)
    x = np.linspace(0.0, 1.0, num_frames)
    w = x * x * (3 - 2 * x)
    return (1 - w) * a + w * b


class Retargeter:
    """Turns point clips into rig rotations for one :class:`.skinning.BodyModel`."""

    def __init__(self, model, variation: Variation = Variation()):
        self.model = model
        self.variation = variation
        self.regressor = joints_lib.JointRegressor(model)
        b = model.bone
        self.b = b
        # Finger phalanges (not the metacarpals) -> side; they curl with the hand variation.
        self.finger_side = {i: n[-1] for i, n in enumerate(model.bone_names)
                            if n.startswith("finger") and n[-2:] in (".L", ".R")}

    def rest_points(self, rest) -> np.ndarray:
        return self.regressor.points(rest.heads, rest.vertices, rest.tails)

    def _hinge_ref(self, u_prox, u_dist, fallback):
        """Bend normal of a hinge (``u_prox x u_dist``), faded into ``fallback`` when straight."""
        n = np.cross(u_prox, u_dist)
        s = np.linalg.norm(n, axis=-1)
        n = _unit(n)
        backwards = (np.sum(n * fallback, -1) < 0) & (s < HINGE_FULL)
        n = np.where(backwards[..., None], -n, n)
        x = np.clip(s / HINGE_FULL, 0.0, 1.0)
        w = (x * x * (3 - 2 * x))[..., None]
        return _unit(w * n + (1 - w) * fallback)

    def solve(self, points: np.ndarray, rest, rng: Optional[np.random.Generator] = None):
        """``(global rotations (T, B, 3, 3), root positions (T, 3))`` for ``points (T, 20, 3)``.

        ``rng`` draws the head/hand variation (none when ``None``).
        """
        pts = np.asarray(points, np.float64)
        if pts.ndim != 3 or pts.shape[1:] != (pose_lib.NUM_POINTS, 3):
            raise ValueError(f"points must be (T, {pose_lib.NUM_POINTS}, 3), got {pts.shape}")
        if len(pts) == 0:
            raise ValueError("points has no frame")
        if not np.all(np.isfinite(pts)):
            raise ValueError("points contain NaN or inf")
        T = len(pts)
        m, b, var = self.model, self.b, self.variation
        R = self.rest_points(rest)
        g = lambda name: pts[:, P[name]]  # noqa: E731
        r = lambda name: R[P[name]]  # noqa: E731
        G = np.full((T, m.num_bones, 3, 3), np.nan)  # NaN: not driven (filled at the end)

        def assign(bones, rotation):
            for name in bones:
                G[:, b[name]] = rotation

        def obs(side, start, end):
            return _unit(g(f"{side}_{end}") - g(f"{side}_{start}"))

        def segment(aim_obs, ref_obs, aim_rest, ref_rest):
            return frame(aim_obs, ref_obs) @ np.swapaxes(frame(aim_rest, ref_rest), -1, -2)

        pelvis = segment(g("L_Hip") - g("R_Hip"), g("Torso") - g("Pelvis"),
                         r("L_Hip") - r("R_Hip"), r("Torso") - r("Pelvis"))
        chest = segment(g("Neck") - g("Torso"), g("L_Shoulder") - g("R_Shoulder"),
                        r("Neck") - r("Torso"), r("L_Shoulder") - r("R_Shoulder"))
        assign(("root", "pelvis.L", "pelvis.R"), pelvis)
        for name, t in (("spine05", 0.25), ("spine04", 0.5), ("spine03", 0.75)):
            G[:, b[name]] = _slerp(pelvis, chest, t)
        assign(("spine02", "spine01"), chest)

        # Head against the upright source head, plus a random offset in its own frame.
        head = segment(g("Head") - g("Neck"), g("Nose") - g("Neck"),
                       SOURCE_HEAD_AIM, SOURCE_HEAD_REF)
        if rng is not None:
            yaw = np.deg2rad(_smooth_random(rng, T, var.head_yaw))
            pitch = np.deg2rad(_smooth_random(rng, T, var.head_pitch))
            roll = np.deg2rad(_smooth_random(rng, T, var.head_roll))
            head = head @ pose_lib.rot_z(yaw) @ pose_lib.rot_y(pitch) @ pose_lib.rot_x(roll)
        for name, t in (("neck01", 0.25), ("neck02", 0.5), ("neck03", 0.75)):
            G[:, b[name]] = _slerp(chest, head, t)
        G[:, b["head"]] = head

        curl = {}
        for s in ("L", "R"):
            # Legs.
            u_thigh, u_shin = obs(s, "Hip", "Knee"), obs(s, "Knee", "Ankle")
            d_thigh = _unit(r(f"{s}_Knee") - r(f"{s}_Hip"))
            ref_rest = np.array([0.0, 1.0, 0.0])
            fallback = _untwisted(pelvis, d_thigh, u_thigh, ref_rest)
            knee_ref = self._hinge_ref(u_thigh, u_shin, fallback)
            thigh = segment(u_thigh, knee_ref, d_thigh, ref_rest)
            shin = segment(u_shin, knee_ref, r(f"{s}_Ankle") - r(f"{s}_Knee"), ref_rest)
            foot = segment(g(f"{s}_Toe") - g(f"{s}_Ankle"), knee_ref,
                           r(f"{s}_Toe") - r(f"{s}_Ankle"), ref_rest)
            assign((f"upperleg01.{s}", f"upperleg02.{s}"), thigh)
            assign((f"lowerleg01.{s}", f"lowerleg02.{s}"), shin)
            G[:, b[f"foot.{s}"]] = foot
            # Arms.
            u_up, u_fore = obs(s, "Shoulder", "Elbow"), obs(s, "Elbow", "Wrist")
            d_up = _unit(r(f"{s}_Elbow") - r(f"{s}_Shoulder"))
            d_fore = _unit(r(f"{s}_Wrist") - r(f"{s}_Elbow"))
            elbow_rest = _unit(np.cross(d_up, d_fore))
            fallback = _untwisted(chest, d_up, u_up, elbow_rest)
            elbow_ref = self._hinge_ref(u_up, u_fore, fallback)
            upper = segment(u_up, elbow_ref, d_up, elbow_rest)
            fore = segment(u_fore, elbow_ref, d_fore, elbow_rest)
            assign((f"upperarm01.{s}", f"upperarm02.{s}"), upper)
            # Shoulder girdle: the clavicle lifts with the arm above the horizontal.
            down = -chest[:, :, 2]
            theta = np.degrees(np.arccos(np.clip(np.sum(u_up * down, -1), -1.0, 1.0)))
            lift = np.clip(var.clavicle_gain * (theta - 80.0), 0.0, var.clavicle_max)
            sign = 1.0 if s == "L" else -1.0
            G[:, b[f"clavicle.{s}"]] = chest @ pose_lib.rot_x(sign * np.deg2rad(lift))
            if rng is None:
                assign((f"lowerarm01.{s}", f"lowerarm02.{s}", f"wrist.{s}"), fore)
                continue
            # Pronation: each forearm bone twists about its own rest direction, so the
            # elbow -> wrist chain (and every label) stays exactly where it was.
            psi = np.deg2rad(_smooth_random(rng, T, var.pronation))
            heads = rest.heads
            i1, i2, iw = b[f"lowerarm01.{s}"], b[f"lowerarm02.{s}"], b[f"wrist.{s}"]
            G[:, i1] = fore @ rot.axis_angle_to_matrix(heads[i2] - heads[i1], 0.5 * psi)
            distal = fore @ rot.axis_angle_to_matrix(heads[iw] - heads[i2], psi)
            G[:, i2] = distal
            flex = np.deg2rad(_smooth_random(rng, T, var.wrist_flex))
            dev = np.deg2rad(_smooth_random(rng, T, var.wrist_deviation))
            wrist = (distal @ rot.axis_angle_to_matrix(elbow_rest, flex)
                     @ rot.axis_angle_to_matrix(np.cross(d_fore, elbow_rest), dev))
            G[:, b[f"wrist.{s}"]] = wrist
            curl_axis = -elbow_rest if s == "L" else elbow_rest
            curl[s] = rot.axis_angle_to_matrix(curl_axis, np.deg2rad(rng.uniform(*var.finger_curl)))

        # Every bone not driven above moves rigidly with its parent; finger phalanges bend
        # by the side's curl relative to theirs.
        for i in range(m.num_bones):
            if not np.isnan(G[0, i, 0, 0]):
                continue
            side = self.finger_side.get(i)
            if m.parents[i] < 0:
                G[:, i] = np.eye(3)
            elif side is not None and side in curl:
                G[:, i] = G[:, m.parents[i]] @ curl[side]
            else:
                G[:, i] = G[:, m.parents[i]]
        # Root head placed so the pelvis label lands on the observed pelvis.
        root = g("Pelvis") - np.einsum("tij,j->ti", pelvis, r("Pelvis") - rest.heads[0])
        return G, root
