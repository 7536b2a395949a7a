"""An analytic stand-in body: capsules ray cast into a :class:`~.gbuffer.GBuffer`.

Used by the tests and the preview of the look stage (appearance, lighting, compositing) until
the skinned-mesh renderer exists. Each of the 17 parts of :data:`~.gbuffer.PARTS` is one
capsule (a segment and a radius, metres) of a 1.75 m person standing on the ground; the ray
cast is exact (``synthetic.raster.intersect_round_cone``), so ``normal``, ``along`` and ``around``
follow the contract of :mod:`.gbuffer`. Body frame: X to the person's left (the image's right
when they face the camera), Y up, Z out of the chest (the body's front).
"""

import dataclasses
from typing import Dict, Optional, Tuple

import numpy as np

from mhp_tf_datasets.synthetic import raster
from mhp_tf_datasets.synthetic.realistic.gbuffer import BACKGROUND
from mhp_tf_datasets.synthetic.realistic.gbuffer import GBuffer
from mhp_tf_datasets.synthetic.realistic.gbuffer import PART


# Terminal parts whose ``along`` spans the rounded ends (head: chin to crown; hands and feet
# to the finger/toe tips); elsewhere it runs between the joints and is clamped on the caps.
EXTENDED_ALONG = ("head", "l_hand", "r_hand", "l_foot", "r_foot")


@dataclasses.dataclass
class Figure:
    """A posed capsule figure in camera coordinates and what compositing needs of it."""

    gbuffer: GBuffer
    feet_px: np.ndarray     # [2, 2] image points under the left and right foot (px)
    height_px: float        # standing height in pixels (the person's scale)


def _rot_y(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_x(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_z(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def figure_capsules(arm_abduction: float = 0.25, elbow: float = 0.3, leg_spread: float = 0.05,
                    knee: float = 0.1, stride: float = 0.0) -> Dict[str, Tuple]:
    """part -> (proximal point, distal point, radius), body frame, metres, feet on Y = 0."""
    down = np.array([0.0, -1.0, 0.0])
    caps = {
        "pelvis": (np.array([0.0, 0.88, 0.0]), np.array([0.0, 1.0, 0.0]), 0.15),
        "belly": (np.array([0.0, 1.0, 0.0]), np.array([0.0, 1.17, 0.0]), 0.14),
        "chest": (np.array([0.0, 1.17, 0.0]), np.array([0.0, 1.38, 0.0]), 0.16),
        "neck": (np.array([0.0, 1.42, 0.0]), np.array([0.0, 1.55, 0.0]), 0.055),
        "head": (np.array([0.0, 1.56, 0.01]), np.array([0.0, 1.67, 0.0]), 0.1),
    }
    for side, sx in (("l", 1.0), ("r", -1.0)):
        shoulder = np.array([sx * 0.2, 1.42, 0.0])
        upper = _rot_z(sx * arm_abduction) @ down
        elbow_p = shoulder + 0.29 * upper
        fore = _rot_x(-elbow) @ upper  # bends forward
        wrist = elbow_p + 0.26 * fore
        hand = wrist + 0.17 * fore
        caps[f"{side}_upper_arm"] = (shoulder, elbow_p, 0.05)
        caps[f"{side}_forearm"] = (elbow_p, wrist, 0.04)
        caps[f"{side}_hand"] = (wrist, hand, 0.033)
        hip = np.array([sx * 0.09, 0.92, 0.0])
        thigh = _rot_x(sx * stride) @ _rot_z(sx * leg_spread) @ down
        knee_p = hip + 0.43 * thigh
        shin = _rot_x(-knee) @ thigh
        ankle = knee_p + 0.42 * shin
        ankle[1] = max(ankle[1], 0.07)
        toe = ankle + np.array([0.0, -0.03, 0.19])
        caps[f"{side}_thigh"] = (hip, knee_p, 0.075)
        caps[f"{side}_shin"] = (knee_p, ankle, 0.055)
        caps[f"{side}_foot"] = (ankle, toe, 0.04)
    lowest = min(min(a[1], b[1]) - r for a, b, r in caps.values())
    return {k: (a - [0, lowest, 0], b - [0, lowest, 0], r) for k, (a, b, r) in caps.items()}


def render_figure(height: int = 128, width: int = 96, yaw: float = 0.0, distance: float = 4.0,
                  fill: float = 0.85, rng: Optional[np.random.Generator] = None,
                  offset_px: Tuple[float, float] = (0.0, 0.0)) -> Figure:
    """Ray cast the capsule figure, turned by ``yaw`` (0: facing the camera), at ``distance``
    metres, the focal length chosen so the standing person spans ``fill`` of the height.
    ``rng`` (optional) varies the pose a little."""
    pose = {}
    if rng is not None:
        pose = dict(arm_abduction=rng.uniform(0.08, 0.6), elbow=rng.uniform(0.0, 1.2),
                    leg_spread=rng.uniform(0.0, 0.12), knee=rng.uniform(0.0, 0.4),
                    stride=rng.uniform(-0.3, 0.3))
    caps = figure_capsules(**pose)
    turn = _rot_y(yaw)
    focal = fill * height * distance / 1.75
    cx, cy = (width - 1) / 2 + offset_px[0], (height - 1) / 2 + offset_px[1]

    def to_cam(p):  # body -> camera (x right, y down, z forward); centre of the body at 0.875 m
        q = turn @ p
        return np.array([q[0], -(q[1] - 0.875), distance - q[2]])

    front_cam = to_cam(np.array([0.0, 0.875, 1.0])) - to_cam(np.array([0.0, 0.875, 0.0]))
    up_cam = to_cam(np.array([0.0, 1.875, 0.0])) - to_cam(np.array([0.0, 0.875, 0.0]))
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    rd = np.stack([(u - cx) / focal, (v - cy) / focal, np.ones_like(u)], -1).reshape(-1, 3)
    rd /= np.linalg.norm(rd, axis=1, keepdims=True)
    n_px = len(rd)
    best = np.full(n_px, np.inf)
    part = np.full(n_px, BACKGROUND, np.int8)
    normal = np.zeros((n_px, 3))
    along = np.zeros(n_px)
    around = np.zeros(n_px)
    for name, (a, b, r) in caps.items():
        a_c, b_c = to_cam(a), to_cam(b)
        t, n = raster.intersect_round_cone(rd, a_c, b_c, r, r)
        hit = (t > 0) & (t < best)
        if not hit.any():
            continue
        best[hit] = t[hit]
        p = rd[hit] * t[hit, None]
        ba = b_c - a_c
        s = np.clip((p - a_c) @ ba / (ba @ ba), 0.0, 1.0)
        if name in EXTENDED_ALONG:  # along runs over the end caps too (chin .. crown)
            length = np.linalg.norm(ba)
            s = np.clip(((p - a_c) @ ba / length + r) / (length + 2 * r), 0.0, 1.0)
        normal[hit] = n[hit]
        axis = ba / np.linalg.norm(ba)
        q = n[hit] - (n[hit] @ axis)[:, None] * axis  # the normal's direction round the axis
        ref = front_cam if abs(front_cam @ axis) < 0.9 else up_cam
        ref = ref - (ref @ axis) * axis
        ref /= np.linalg.norm(ref)
        side = np.cross(axis, ref)
        ang = np.arctan2(q @ side, q @ ref) / (2 * np.pi)
        part[hit] = PART[name]
        along[hit] = s
        around[hit] = np.mod(ang, 1.0)
    mask = np.isfinite(best)
    depth = np.where(mask, best * rd[:, 2], np.inf)
    gb = GBuffer(mask=mask.reshape(height, width),
                 depth=depth.reshape(height, width).astype(np.float32),
                 normal=normal.reshape(height, width, 3).astype(np.float32),
                 part=part.reshape(height, width),
                 along=along.reshape(height, width).astype(np.float32),
                 around=np.minimum(around, np.nextafter(1.0, 0.0)).reshape(height, width)
                 .astype(np.float32))
    feet = []
    for side in ("l", "r"):
        a, b, r = caps[f"{side}_foot"]
        sole = to_cam(0.5 * (a + b) - np.array([0.0, r, 0.0]))
        feet.append([focal * sole[0] / sole[2] + cx, focal * sole[1] / sole[2] + cy])
    return Figure(gbuffer=gb, feet_px=np.array(feet), height_px=focal * 1.75 / distance)
