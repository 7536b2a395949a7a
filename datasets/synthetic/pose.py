"""Poses of the synthetic dataset: the point set, procedural sampling and retargeting.

Poses are arrays ``(..., 20, 3)`` in metres, in a Z-up world frame with the ground at
``z = 0``: the 18 H36M joints (:data:`mhp_tf.skeletons.H36M`, same order) followed by
``R_Toe`` and ``L_Toe``, which only orient the rendered feet and never become labels.

Procedural poses (:func:`sample_clip`) come from forward kinematics on an H36M-like bone
hierarchy (:func:`forward_kinematics`) with per-person bone lengths
(:class:`~mhp_tf_datasets.synthetic.body.Body`) and Euler joint angles inside the
anatomical limits :data:`LIMITS`. Mocap poses are brought onto a body's bone lengths by
:func:`retarget` (bone directions kept, lengths replaced).

Body frame of the kinematics: x forward, y left, z up. Joint rotations (degrees):

* root: ``Rz(yaw) Ry(pitch) Rx(roll)``, pitch > 0 leans forward;
* spine / chest / neck: ``Ry(flex) Rx(lat) Rz(twist)``, flex > 0 bends forward;
* hips / shoulders: ``Ry(-flex) Rx(+-abd) Rz(twist)``, flex > 0 swings the limb forward,
  abd > 0 moves it outwards (away from the body's midline);
* knees: ``Ry(+flex)``, the shin swings backwards; elbows: ``Ry(-flex)``, the forearm
  swings forwards (both in the frame of the twisted upper segment);
* ankles: ``Ry(flex)``, flex > 0 points the toes down.
"""

from typing import Dict, Optional, Sequence

import numpy as np

from mhp_tf import skeletons

from mhp_tf_datasets.synthetic.body import Body

H36M_JOINTS = skeletons.H36M.joints
POINTS = tuple(H36M_JOINTS) + ("R_Toe", "L_Toe")
NUM_POINTS = len(POINTS)
NUM_JOINTS = len(H36M_JOINTS)
P = {name: i for i, name in enumerate(POINTS)}

# Tree used by retarget(): child -> parent. Thorax is derived (shoulder midpoint).
PARENTS = {
    "R_Hip": "Pelvis", "R_Knee": "R_Hip", "R_Ankle": "R_Knee", "R_Toe": "R_Ankle",
    "L_Hip": "Pelvis", "L_Knee": "L_Hip", "L_Ankle": "L_Knee", "L_Toe": "L_Ankle",
    "Torso": "Pelvis", "Neck": "Torso", "Nose": "Neck", "Head": "Neck",
    "L_Shoulder": "Neck", "L_Elbow": "L_Shoulder", "L_Wrist": "L_Elbow",
    "R_Shoulder": "Neck", "R_Elbow": "R_Shoulder", "R_Wrist": "R_Elbow",
}
# Breadth-first order of PARENTS (parents before children).
TREE_ORDER = ("R_Hip", "L_Hip", "Torso", "R_Knee", "L_Knee", "Neck", "R_Ankle", "L_Ankle",
              "Nose", "Head", "L_Shoulder", "R_Shoulder", "R_Toe", "L_Toe", "L_Elbow",
              "R_Elbow", "L_Wrist", "R_Wrist")

# Joint angle names and anatomical limits in degrees (see module docstring for the axes).
LIMITS: Dict[str, tuple] = {
    "root_yaw": (-180.0, 180.0), "root_pitch": (-15.0, 45.0), "root_roll": (-15.0, 15.0),
    "spine_flex": (-15.0, 45.0), "spine_lat": (-20.0, 20.0), "spine_twist": (-25.0, 25.0),
    "chest_flex": (-15.0, 30.0), "chest_lat": (-15.0, 15.0), "chest_twist": (-25.0, 25.0),
    "neck_flex": (-40.0, 50.0), "neck_lat": (-30.0, 30.0), "neck_twist": (-60.0, 60.0),
}
for _s in ("l", "r"):
    LIMITS.update({
        f"{_s}_shoulder_flex": (-50.0, 170.0), f"{_s}_shoulder_abd": (-10.0, 160.0),
        f"{_s}_shoulder_twist": (-70.0, 70.0), f"{_s}_elbow": (0.0, 145.0),
        f"{_s}_hip_flex": (-25.0, 120.0), f"{_s}_hip_abd": (-15.0, 45.0),
        f"{_s}_hip_twist": (-35.0, 35.0), f"{_s}_knee": (0.0, 140.0),
        f"{_s}_ankle": (-25.0, 45.0),
    })
ANGLES = tuple(LIMITS)
A = {name: i for i, name in enumerate(ANGLES)}
LOWER = np.array([LIMITS[n][0] for n in ANGLES])
UPPER = np.array([LIMITS[n][1] for n in ANGLES])

# Relaxed standing ranges: the default of every archetype below.
_RELAXED = {
    "root_pitch": (-5, 10), "root_roll": (-5, 5),
    "spine_flex": (-5, 15), "spine_lat": (-8, 8), "spine_twist": (-10, 10),
    "chest_flex": (-5, 12), "chest_lat": (-6, 6), "chest_twist": (-10, 10),
    "neck_flex": (-15, 25), "neck_lat": (-10, 10), "neck_twist": (-40, 40),
    "shoulder_flex": (-20, 40), "shoulder_abd": (7, 30), "shoulder_twist": (-30, 40),
    "elbow": (0, 60), "hip_flex": (-10, 20), "hip_abd": (-2, 15), "hip_twist": (-15, 15),
    "knee": (0, 20), "ankle": (-10, 15),
}
# Archetypes: overrides of the relaxed ranges. "a_"/"b_" prefixes are the two sides in random
# order (one side kicks, the other stands); plain limb names apply to both sides.
ARCHETYPES = {
    "stand": {},
    "walk": {"hip_flex": (-20, 35), "knee": (0, 60), "shoulder_flex": (-30, 35),
             "elbow": (5, 50), "ankle": (-15, 25)},
    "reach": {"a_shoulder_flex": (40, 170), "a_shoulder_abd": (0, 150), "a_elbow": (0, 90),
              "b_shoulder_flex": (-20, 170), "b_shoulder_abd": (0, 120), "b_elbow": (0, 120),
              "spine_lat": (-20, 20), "chest_twist": (-25, 25)},
    "crouch": {"root_pitch": (10, 45), "hip_flex": (50, 115), "knee": (60, 140),
               "spine_flex": (0, 40), "ankle": (-25, 10), "shoulder_flex": (0, 90),
               "elbow": (0, 110)},
    "sit": {"hip_flex": (70, 105), "knee": (70, 115), "root_pitch": (-10, 15),
            "shoulder_flex": (0, 60), "elbow": (20, 110)},
    "lunge": {"a_hip_flex": (40, 95), "a_knee": (40, 100), "b_hip_flex": (-25, 0),
              "b_knee": (0, 40), "root_pitch": (0, 30), "shoulder_flex": (-30, 90)},
    "gesture": {"shoulder_abd": (20, 120), "shoulder_flex": (-20, 110), "elbow": (20, 140),
                "shoulder_twist": (-60, 60), "neck_twist": (-60, 60)},
    "kick": {"a_hip_flex": (40, 115), "a_knee": (0, 70), "a_hip_abd": (-10, 40),
             "shoulder_abd": (10, 80), "root_pitch": (-15, 10), "spine_flex": (-15, 10)},
    "random": None,  # the full limits
}
ARCHETYPE_P = {"stand": 0.13, "walk": 0.15, "reach": 0.12, "crouch": 0.1, "sit": 0.08,
               "lunge": 0.1, "gesture": 0.12, "kick": 0.07, "random": 0.13}

# Per-point clearance (m) of the body surface below each point, used to stand the body on
# the ground: lowest surface point = min(z - clearance).
CLEARANCE = np.full(NUM_POINTS, 0.05)
CLEARANCE[[P["R_Ankle"], P["L_Ankle"]]] = 0.075
CLEARANCE[[P["R_Toe"], P["L_Toe"]]] = 0.03
CLEARANCE[[P["R_Knee"], P["L_Knee"]]] = 0.06
CLEARANCE[[P["Pelvis"]]] = 0.13
CLEARANCE[[P["R_Wrist"], P["L_Wrist"]]] = 0.1


def rot_x(a):
    """Rotation matrices about x for angles ``a`` (radians, any shape) -> (..., 3, 3)."""
    a = np.asarray(a, np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1),
                     np.stack([z, s, c], -1)], -2)


def rot_y(a):
    """Rotation matrices about y for angles ``a`` (radians)."""
    a = np.asarray(a, np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                     np.stack([-s, z, c], -1)], -2)


def rot_z(a):
    """Rotation matrices about z for angles ``a`` (radians)."""
    a = np.asarray(a, np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1),
                     np.stack([z, z, o], -1)], -2)


def _unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


def rest_offsets(body: Body) -> Dict[str, np.ndarray]:
    """Bone vectors (m) of the rest pose in the frame of the joint that moves them.

    Rest pose: upright, arms hanging at the sides, feet pointing forward (+x).
    """
    L = body.lengths
    return {
        "R_Hip": np.array([0.0, -L["hip_half"], 0.0]),
        "L_Hip": np.array([0.0, L["hip_half"], 0.0]),
        "knee": np.array([0.0, 0.0, -L["thigh"]]),
        "ankle": np.array([0.0, 0.0, -L["shin"]]),
        "toe": _unit([1.0, 0.0, -0.35]) * L["foot"],
        "Torso": np.array([0.0, 0.0, L["spine_low"]]),
        "Neck": np.array([0.0, 0.0, L["spine_up"]]),
        "Nose": _unit([0.45, 0.0, 0.89]) * L["neck_nose"],
        "Head": _unit([0.03, 0.0, 1.0]) * L["neck_head"],
        "L_Shoulder": _unit([-0.05, 0.97, -0.22]) * L["shoulder"],
        "R_Shoulder": _unit([-0.05, -0.97, -0.22]) * L["shoulder"],
        "elbow": np.array([0.0, 0.0, -L["upper_arm"]]),
        "wrist": np.array([0.0, 0.0, -L["forearm"]]),
    }


def bone_lengths_of(body: Body) -> Dict[str, float]:
    """Length (m) of every PARENTS bone for ``body`` (used by :func:`retarget`)."""
    off = rest_offsets(body)
    n = lambda k: float(np.linalg.norm(off[k]))  # noqa: E731
    out = {}
    for side in ("L", "R"):
        out[f"{side}_Hip"] = n(f"{side}_Hip")
        out[f"{side}_Knee"] = n("knee")
        out[f"{side}_Ankle"] = n("ankle")
        out[f"{side}_Toe"] = n("toe")
        out[f"{side}_Shoulder"] = n(f"{side}_Shoulder")
        out[f"{side}_Elbow"] = n("elbow")
        out[f"{side}_Wrist"] = n("wrist")
    for k in ("Torso", "Neck", "Nose", "Head"):
        out[k] = n(k)
    return out


def forward_kinematics(angles_deg: np.ndarray, body: Body) -> np.ndarray:
    """Joint positions ``(..., 20, 3)`` (m, body frame, pelvis at the origin) from angles.

    ``angles_deg``: ``(..., len(ANGLES))`` in the order of :data:`ANGLES`.
    """
    ang = np.deg2rad(np.asarray(angles_deg, np.float64))
    g = lambda name: ang[..., A[name]]  # noqa: E731
    off = rest_offsets(body)
    batch = ang.shape[:-1]
    out = np.zeros(batch + (NUM_POINTS, 3))

    def put(name, value):
        out[..., P[name], :] = value

    def apply(R, v):
        return np.einsum("...ij,j->...i", R, v)

    root = rot_z(g("root_yaw")) @ rot_y(g("root_pitch")) @ rot_x(g("root_roll"))
    spine = root @ rot_y(g("spine_flex")) @ rot_x(g("spine_lat")) @ rot_z(g("spine_twist"))
    torso = apply(spine, off["Torso"])
    put("Torso", torso)
    chest = spine @ rot_y(g("chest_flex")) @ rot_x(g("chest_lat")) @ rot_z(g("chest_twist"))
    neck = torso + apply(chest, off["Neck"])
    put("Neck", neck)
    head = chest @ rot_y(g("neck_flex")) @ rot_x(g("neck_lat")) @ rot_z(g("neck_twist"))
    put("Nose", neck + apply(head, off["Nose"]))
    put("Head", neck + apply(head, off["Head"]))
    for side, sign in (("L", 1.0), ("R", -1.0)):
        s = side.lower()
        shoulder = neck + apply(chest, off[f"{side}_Shoulder"])
        put(f"{side}_Shoulder", shoulder)
        upper = (chest @ rot_y(-g(f"{s}_shoulder_flex")) @ rot_x(sign * g(f"{s}_shoulder_abd"))
                 @ rot_z(sign * g(f"{s}_shoulder_twist")))
        elbow = shoulder + apply(upper, off["elbow"])
        put(f"{side}_Elbow", elbow)
        fore = upper @ rot_y(-g(f"{s}_elbow"))
        put(f"{side}_Wrist", elbow + apply(fore, off["wrist"]))
        hip = apply(root, off[f"{side}_Hip"])
        put(f"{side}_Hip", hip)
        thigh = (root @ rot_y(-g(f"{s}_hip_flex")) @ rot_x(sign * g(f"{s}_hip_abd"))
                 @ rot_z(sign * g(f"{s}_hip_twist")))
        knee = hip + apply(thigh, off["knee"])
        put(f"{side}_Knee", knee)
        shin = thigh @ rot_y(g(f"{s}_knee"))
        ankle = knee + apply(shin, off["ankle"])
        put(f"{side}_Ankle", ankle)
        foot = shin @ rot_y(g(f"{s}_ankle"))
        put(f"{side}_Toe", ankle + apply(foot, off["toe"]))
    put("Thorax", 0.5 * (out[..., P["L_Shoulder"], :] + out[..., P["R_Shoulder"], :]))
    return out


def place_on_ground(points: np.ndarray) -> np.ndarray:
    """Shift poses ``(..., 20, 3)`` vertically so the lowest body surface touches z = 0."""
    lowest = np.min(points[..., 2] - CLEARANCE, axis=-1)
    out = points.copy()
    out[..., 2] -= lowest[..., None]
    return out


def _segment_distance(p1, q1, p2, q2):
    """Distance between segments [p1,q1] and [p2,q2] (arrays (..., 3)), vectorised."""
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a = np.sum(d1 * d1, -1)
    e = np.sum(d2 * d2, -1)
    f = np.sum(d2 * r, -1)
    c = np.sum(d1 * r, -1)
    b = np.sum(d1 * d2, -1)
    denom = np.maximum(a * e - b * b, 1e-12)
    s = np.clip((b * f - c * e) / denom, 0.0, 1.0)
    t = (b * s + f) / np.maximum(e, 1e-12)
    t_c = np.clip(t, 0.0, 1.0)
    s = np.where(t != t_c, np.clip((b * t_c - c) / np.maximum(a, 1e-12), 0.0, 1.0), s)
    c1 = p1 + d1 * s[..., None]
    c2 = p2 + d2 * t_c[..., None]
    return np.linalg.norm(c1 - c2, axis=-1)


# (segment a, segment b, minimum distance in m) pairs that must not interpenetrate.
_COLLISION_PAIRS = []
for _s, _o in (("L", "R"), ("R", "L")):
    _COLLISION_PAIRS += [
        ((f"{_s}_Elbow", f"{_s}_Wrist"), ("Pelvis", "Neck"), 0.15),
        ((f"{_s}_Elbow", f"{_s}_Wrist"), (f"{_s}_Hip", f"{_s}_Knee"), 0.1),
        ((f"{_s}_Elbow", f"{_s}_Wrist"), (f"{_o}_Hip", f"{_o}_Knee"), 0.1),
        ((f"{_s}_Shoulder", f"{_s}_Elbow"), ("Torso", "Pelvis"), 0.15),
        ((f"{_s}_Knee", f"{_s}_Ankle"), (f"{_o}_Hip", f"{_o}_Knee"), 0.12),
        ((f"{_s}_Ankle", f"{_s}_Toe"), (f"{_o}_Knee", f"{_o}_Ankle"), 0.08),
    ]
_COLLISION_PAIRS += [
    (("L_Knee", "L_Ankle"), ("R_Knee", "R_Ankle"), 0.1),
    (("L_Hip", "L_Knee"), ("R_Hip", "R_Knee"), 0.12),
]


def self_collision(points: np.ndarray) -> np.ndarray:
    """Boolean ``(...)``: True where limbs interpenetrate (approximate capsule test)."""
    bad = np.zeros(points.shape[:-2], bool)
    for (a0, a1), (b0, b1), dmin in _COLLISION_PAIRS:
        d = _segment_distance(points[..., P[a0], :], points[..., P[a1], :],
                              points[..., P[b0], :], points[..., P[b1], :])
        bad |= d < dmin
    return bad


def sample_keyframe(rng: np.random.Generator, archetype: Optional[str] = None) -> np.ndarray:
    """One vector of joint angles (degrees) inside :data:`LIMITS`, drawn from an archetype."""
    if archetype is None:
        names = list(ARCHETYPE_P)
        archetype = names[rng.choice(len(names), p=np.array(list(ARCHETYPE_P.values())))]
    overrides = ARCHETYPES[archetype]
    if overrides is None:
        return rng.uniform(LOWER, UPPER)
    sides = ["l", "r"]
    if rng.random() < 0.5:
        sides.reverse()
    side_of = {"a": sides[0], "b": sides[1]}
    ranges = {}
    for name in ANGLES:
        if name == "root_yaw":
            ranges[name] = LIMITS[name]
            continue
        if name[:2] in ("l_", "r_"):
            base = name[2:]
            key = [k for k in ("a", "b") if side_of[k] == name[0]][0] + "_" + base
            rng_range = overrides.get(key, overrides.get(base, _RELAXED[base]))
        else:
            rng_range = overrides.get(name, _RELAXED[name])
        lo, hi = LIMITS[name]
        ranges[name] = (max(lo, rng_range[0]), min(hi, rng_range[1]))
    lo = np.array([ranges[n][0] for n in ANGLES])
    hi = np.array([ranges[n][1] for n in ANGLES])
    return rng.uniform(lo, hi)


def _smoothstep(x):
    return x * x * (3.0 - 2.0 * x)


def interpolate_keyframes(keys: np.ndarray, num_frames: int) -> np.ndarray:
    """Smooth (ease-in-out) interpolation of keyframes ``(K, A)`` to ``(num_frames, A)``.

    Every frame is a convex combination of two keyframes, so it stays inside the box limits.
    """
    k = len(keys)
    if k == 1:
        return np.repeat(keys, num_frames, axis=0)
    x = np.linspace(0.0, k - 1, num_frames)
    i = np.minimum(np.floor(x).astype(int), k - 2)
    w = _smoothstep(x - i)[:, None]
    return (1 - w) * keys[i] + w * keys[i + 1]


def sample_clip(rng: np.random.Generator, body: Body, num_frames: int = 48,
                num_keys: Optional[int] = None, max_tries: int = 30):
    """A procedural motion clip: ``(points (T, 20, 3) m on the ground, angles (T, A) deg)``.

    Keyframes are drawn from pose archetypes inside :data:`LIMITS` (yaw kept within +-60
    degrees of the first keyframe), interpolated smoothly, and redrawn when any frame makes
    limbs interpenetrate. Bone lengths are those of ``body`` in every frame.
    """
    if num_keys is None:
        num_keys = int(rng.integers(2, 5))
    for attempt in range(max_tries):
        keys = []
        archetype = None
        for k in range(num_keys):
            if k == 0 or rng.random() < 0.5:
                names = list(ARCHETYPE_P)
                archetype = names[rng.choice(len(names),
                                             p=np.array(list(ARCHETYPE_P.values())))]
            if attempt >= max_tries - 5:
                archetype = "stand"
            key = sample_keyframe(rng, archetype)
            if k > 0:
                key[A["root_yaw"]] = np.clip(keys[0][A["root_yaw"]] + rng.uniform(-60, 60),
                                             *LIMITS["root_yaw"])
            keys.append(key)
        angles = interpolate_keyframes(np.stack(keys), num_frames)
        points = forward_kinematics(angles, body)
        if not np.any(self_collision(points)):
            break
    return place_on_ground(points), angles


# Everyday upper-body holds while standing or walking (shoulder flex/abd/twist, elbow; the
# other arm hangs or swings). Ranges in degrees, inside LIMITS.
HOLDS = {
    "hang": {"shoulder_flex": (-8, 8), "shoulder_abd": (8, 20), "elbow": (5, 25)},
    "pocket": {"shoulder_flex": (-15, 0), "shoulder_abd": (8, 20), "elbow": (15, 45)},
    "phone": {"shoulder_flex": (10, 40), "shoulder_abd": (5, 25), "shoulder_twist": (0, 40),
              "elbow": (100, 135)},
    "hip": {"shoulder_flex": (-15, 10), "shoulder_abd": (30, 55), "shoulder_twist": (-10, 30),
            "elbow": (80, 120)},
    "carry": {"shoulder_flex": (-5, 15), "shoulder_abd": (5, 15), "elbow": (60, 95)},
    "cross": {"shoulder_flex": (20, 45), "shoulder_abd": (0, 15), "shoulder_twist": (40, 70),
              "elbow": (110, 140)},
    "wave": {"shoulder_flex": (60, 150), "shoulder_abd": (40, 120), "elbow": (20, 100)},
}


def _hold(rng: np.random.Generator, name: str) -> Dict[str, float]:
    spec = dict(HOLDS["hang"], **HOLDS[name])
    out = {}
    for k, (lo, hi) in spec.items():
        lo_l, hi_l = LIMITS[f"l_{k}"]
        out[k] = float(np.clip(rng.uniform(lo, hi), lo_l, hi_l))
    out.setdefault("shoulder_twist", float(rng.uniform(-10, 20)))
    return out


def everyday_clip(rng: np.random.Generator, body: Body, num_frames: int = 48,
                  walk_p: float = 0.6, max_tries: int = 30):
    """An everyday motion clip, ``(points (T, 20, 3) m on the ground, angles (T, A) deg)``:
    a walk cycle (probability ``walk_p``) or standing with weight shifts, each arm either
    free or in a hold of :data:`HOLDS` (hanging, in a pocket, a phone, a hand on the hip,
    carrying, arms crossed, waving), the head looking about.

    The walk is a parametric gait: cadence 0.8-1.1 strides/s at an assumed 30 frames/s,
    hip flexion +-(12-28) degrees in antiphase, knee flexion peaking at 45-65 degrees in the
    swing, ankles following, arms swinging opposite to the legs by 25-80 % of the hips'
    amplitude, pelvis/chest counter-twist and a little vertical bob; the body walks along
    its facing direction. Every angle stays inside :data:`LIMITS`. Clips whose limbs
    interpenetrate (:func:`self_collision`) are redrawn; the last tries keep both arms free.
    """
    for attempt in range(max_tries):
        points, angles = _everyday_once(rng, body, num_frames, walk_p,
                                        holds_ok=attempt < max_tries - 5)
        if not np.any(self_collision(points)):
            break
    return points, angles


def _everyday_once(rng, body, num_frames, walk_p, holds_ok=True):
    t = np.arange(num_frames) / 30.0
    n = len(ANGLES)
    angles = np.zeros((num_frames, n))
    walking = rng.random() < walk_p
    yaw = rng.uniform(-180, 180)
    angles[:, A["root_yaw"]] = yaw + (rng.uniform(-10, 10) * t if walking else 0.0)
    angles[:, A["root_pitch"]] = rng.uniform(-2, 8)
    angles[:, A["spine_flex"]] = rng.uniform(-3, 10)
    angles[:, A["chest_flex"]] = rng.uniform(-3, 8)
    look = rng.uniform(-40, 40) + rng.uniform(-15, 15) * np.sin(
        2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 2 * np.pi))
    angles[:, A["neck_twist"]] = look
    angles[:, A["neck_flex"]] = rng.uniform(-10, 25)
    angles[:, A["neck_lat"]] = rng.uniform(-8, 8)
    holds = {s: ("free" if not holds_ok or rng.random() < (0.55 if walking else 0.3) else
                 str(rng.choice(list(HOLDS)))) for s in ("l", "r")}
    if walking:
        phase = 2 * np.pi * rng.uniform(0.8, 1.1) * t + rng.uniform(0, 2 * np.pi)
        hip_amp = rng.uniform(12, 28)
        knee_peak = rng.uniform(45, 65)
        arm_amp = hip_amp * rng.uniform(0.25, 0.8)
        for side, shift in (("l", 0.0), ("r", np.pi)):
            ph = phase + shift
            angles[:, A[f"{side}_hip_flex"]] = 5 + hip_amp * np.sin(ph)
            # knee: bent in the swing (hip moving forward), near straight in the stance
            swing = np.clip(np.sin(ph + 0.9), 0, None)
            angles[:, A[f"{side}_knee"]] = 5 + (knee_peak - 5) * swing ** 1.5
            angles[:, A[f"{side}_ankle"]] = 5 * np.sin(ph - 0.6) + 10 * swing ** 2
            angles[:, A[f"{side}_hip_abd"]] = rng.uniform(0, 6)
            angles[:, A[f"{side}_shoulder_flex"]] = 5 - arm_amp * np.sin(ph)
            angles[:, A[f"{side}_elbow"]] = rng.uniform(10, 30) + 8 * np.clip(-np.sin(ph), 0, None)
        angles[:, A["spine_twist"]] = rng.uniform(2, 8) * np.sin(phase)
        angles[:, A["chest_twist"]] = -rng.uniform(2, 8) * np.sin(phase)
        angles[:, A["root_roll"]] = rng.uniform(1, 4) * np.sin(phase)
    else:
        shift = rng.uniform(-4, 4) * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t
                                            + rng.uniform(0, 2 * np.pi))
        angles[:, A["root_roll"]] = shift
        for side in ("l", "r"):
            angles[:, A[f"{side}_hip_flex"]] = rng.uniform(-5, 12)
            angles[:, A[f"{side}_hip_abd"]] = rng.uniform(0, 12)
            angles[:, A[f"{side}_hip_twist"]] = rng.uniform(-10, 15)
            angles[:, A[f"{side}_knee"]] = rng.uniform(0, 15)
            angles[:, A[f"{side}_ankle"]] = rng.uniform(-5, 8)
    for side in ("l", "r"):
        if holds[side] == "free":
            if not walking:
                for k, v in _hold(rng, "hang").items():
                    angles[:, A[f"{side}_{k}"]] = v
            continue
        target = _hold(rng, holds[side])
        wobble = rng.uniform(0, 6) * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t)
        for k, v in target.items():
            angles[:, A[f"{side}_{k}"]] = v + (wobble if k == "elbow" else 0.0)
    angles = np.clip(angles, LOWER, UPPER)
    points = forward_kinematics(angles, body)
    if walking:  # walk forward along the facing direction at the stride's speed
        speed = rng.uniform(0.8, 1.6)
        heading = np.deg2rad(angles[:, A["root_yaw"]])
        step = np.stack([np.cos(heading), np.sin(heading), np.zeros_like(heading)], -1)
        travel = np.cumsum(step * speed / 30.0, axis=0)
        points = points + travel[:, None, :]
    return place_on_ground(points), angles


def retarget(points: np.ndarray, body: Body) -> np.ndarray:
    """Give mocap poses ``(..., 20, 3)`` (m) the bone lengths of ``body``.

    Every bone of :data:`PARENTS` keeps its direction and gets the body's length; the pelvis
    stays where it is, Thorax is recomputed as the shoulder midpoint, and the result is
    shifted vertically so its lowest foot point is as high as in the input (ground contact
    is kept).
    """
    points = np.asarray(points, np.float64)
    lengths = bone_lengths_of(body)
    out = np.zeros_like(points)
    out[..., P["Pelvis"], :] = points[..., P["Pelvis"], :]
    for child in TREE_ORDER:
        parent = PARENTS[child]
        v = points[..., P[child], :] - points[..., P[parent], :]
        n = np.linalg.norm(v, axis=-1, keepdims=True)
        v = v / np.maximum(n, 1e-9)
        out[..., P[child], :] = out[..., P[parent], :] + v * lengths[child]
    out[..., P["Thorax"], :] = 0.5 * (out[..., P["L_Shoulder"], :] + out[..., P["R_Shoulder"], :])
    feet = [P["L_Ankle"], P["R_Ankle"], P["L_Toe"], P["R_Toe"]]
    shift = points[..., feet, 2].min(-1) - out[..., feet, 2].min(-1)
    out[..., 2] += shift[..., None]
    return out


def mirror(points: np.ndarray) -> np.ndarray:
    """Left-right mirror image of poses ``(..., 20, 3)``: world y negated, L_/R_ swapped."""
    perm = [P[("R_" + n[2:]) if n.startswith("L_") else ("L_" + n[2:]) if n.startswith("R_")
              else n] for n in POINTS]
    out = np.asarray(points)[..., perm, :].copy()
    out[..., 1] *= -1
    return out


def joint_angle(points: np.ndarray, a: str, b: str, c: str) -> np.ndarray:
    """Bend angle (degrees) at ``b`` between bones a->b and b->c (0 = straight)."""
    u = points[..., P[b], :] - points[..., P[a], :]
    v = points[..., P[c], :] - points[..., P[b], :]
    cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def h36m_bone_lengths(points: np.ndarray, bones: Sequence = skeletons.H36M.bones):
    """Lengths ``(..., 16)`` of the H36M bones of poses ``(..., >=18, 3)``."""
    pts = np.asarray(points)
    return np.stack([np.linalg.norm(pts[..., a, :] - pts[..., b, :], axis=-1) for a, b in bones],
                    -1)
