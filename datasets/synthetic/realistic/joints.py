"""The 18 H36M label joints (and two toe points) of a posed MakeHuman body.

Labels are read off the posed rig and mesh, the same way for every body shape, in the
order of :data:`mhp_tf.skeletons.H36M` (``pose.POINTS`` adds ``R_Toe``, ``L_Toe``, which
only drive the feet in retargeting and never become labels). Human3.6M places its joints
at joint centres from its marker-based skeleton; the matching points here are:

==========  ===========================================================================
Pelvis      midpoint of the two hip joints (as H36M's root is the hip-centre midpoint)
R/L_Hip     head of ``upperleg01.R/L``: the femoral-head centre the thigh rotates about
R/L_Knee    head of ``lowerleg01.R/L``: the knee's rotation centre
R/L_Ankle   head of ``foot.R/L``: the ankle's rotation centre
Torso       head of ``spine02`` (H36M "Spine": the mid back, about halfway up from the
            pelvis to the base of the neck)
Neck        head of ``neck01`` (H36M "Thorax"/neck base: the top of the thoracic spine,
            between the clavicles)
Nose        the nose-tip vertex (on the face surface; a fixed vertex of the template,
            the most forward vertex on the midline between the eyes and the mouth)
Head        the crown vertex (head top; the highest midline vertex of the template)
L/R_Shoulder head of ``upperarm01.L/R``: the gleno-humeral rotation centre
L/R_Elbow   head of ``lowerarm01.L/R``
L/R_Wrist   head of ``wrist.L/R``
Thorax      midpoint of the shoulders (MobileHumanPose's 18th joint)
R/L_Toe     tail of ``foot.R/L`` (ball of the foot; retargeting only)
==========  ===========================================================================

Joint-centre points are bone heads, so they are exactly the rotation centres of the
skinning and keep each body's bone lengths in every frame; the two surface points are
fixed vertices, so they stay on the skin whatever the shape or pose.
"""

from typing import Dict, Optional

import numpy as np

from mhp_tf_datasets.synthetic import pose as pose_lib

# point -> bone whose head it is
HEAD_OF = {
    "R_Hip": "upperleg01.R", "L_Hip": "upperleg01.L",
    "R_Knee": "lowerleg01.R", "L_Knee": "lowerleg01.L",
    "R_Ankle": "foot.R", "L_Ankle": "foot.L",
    "Torso": "spine02", "Neck": "neck01",
    "L_Shoulder": "upperarm01.L", "R_Shoulder": "upperarm01.R",
    "L_Elbow": "lowerarm01.L", "R_Elbow": "lowerarm01.R",
    "L_Wrist": "wrist.L", "R_Wrist": "wrist.R",
}
TAIL_OF = {"R_Toe": "foot.R", "L_Toe": "foot.L"}


def surface_vertices(template: np.ndarray, bone_heads: Dict[str, np.ndarray]) -> Dict[str, int]:
    """Indices of the nose-tip and crown vertices, found once on the template mesh.

    ``bone_heads``: rest heads by bone name (uses ``eye.L``/``eye.R`` and ``jaw``/``head``).
    """
    v = np.asarray(template)
    midline = np.abs(v[:, 1]) < 0.004
    eye_z = 0.5 * (bone_heads["eye.L"][2] + bone_heads["eye.R"][2])
    skull_z = bone_heads["head"][2]
    face = midline & (v[:, 2] < eye_z - 0.01) & (v[:, 2] > eye_z - 0.07)
    top = midline & (v[:, 2] > skull_z)
    if not face.any() or not top.any():
        raise ValueError("template mesh has no midline vertices on the face or the crown")
    nose = int(np.flatnonzero(face)[np.argmax(v[face, 0])])
    crown = int(np.flatnonzero(top)[np.argmax(v[top, 2])])
    return {"Nose": nose, "Head": crown}


class JointRegressor:
    """Label points ``(..., 20, 3)`` (``pose.POINTS`` order) from posed heads and vertices."""

    def __init__(self, model):
        self.head_index = {p: model.bone[b] for p, b in HEAD_OF.items()}
        self.tail_bone = {p: model.bone[b] for p, b in TAIL_OF.items()}
        rest = {n: model.heads[i] for n, i in model.bone.items()}
        self.vertex_index = surface_vertices(model.vertices, rest)
        self.parents = model.parents

    def points(self, heads: np.ndarray, vertices: np.ndarray, tails: np.ndarray) -> np.ndarray:
        """``heads (..., B, 3)``, ``vertices (..., N, 3)``, ``tails (..., B, 3)`` (posed)."""
        P = pose_lib.P
        out = np.zeros(np.shape(heads)[:-2] + (pose_lib.NUM_POINTS, 3))
        for p, b in self.head_index.items():
            out[..., P[p], :] = heads[..., b, :]
        for p, b in self.tail_bone.items():
            out[..., P[p], :] = tails[..., b, :]
        for p, i in self.vertex_index.items():
            out[..., P[p], :] = vertices[..., i, :]
        out[..., P["Pelvis"], :] = 0.5 * (out[..., P["L_Hip"], :] + out[..., P["R_Hip"], :])
        out[..., P["Thorax"], :] = 0.5 * (out[..., P["L_Shoulder"], :]
                                          + out[..., P["R_Shoulder"], :])
        return out


# How far in front of each label point the body's own surface may lie and the point still
# count as seen (m): about the depth of flesh over the joint centre, seen from its most
# covered side. A joint whose pixel shows a surface nearer than that -- an arm across the
# chest, the far hip behind the near one, the nose seen from behind the head -- is hidden.
SURFACE_DEPTH_M = {
    "Pelvis": 0.14, "R_Hip": 0.12, "L_Hip": 0.12, "R_Knee": 0.07, "L_Knee": 0.07,
    "R_Ankle": 0.06, "L_Ankle": 0.06, "Torso": 0.14, "Neck": 0.09, "Nose": 0.02,
    "Head": 0.03, "L_Shoulder": 0.09, "R_Shoulder": 0.09, "L_Elbow": 0.06,
    "R_Elbow": 0.06, "L_Wrist": 0.05, "R_Wrist": 0.05, "Thorax": 0.12,
}


def seen_in_render(points_cam: np.ndarray, depth: np.ndarray, camera,
                   coverage: Optional[np.ndarray] = None) -> np.ndarray:
    """Which of the 18 label points ``[18, 3]`` (camera frame, metres) the render shows:
    inside the image, and the rendered ``depth [H, W]`` (metres, ``inf`` off the person)
    at the point's pixel no nearer than the point minus its :data:`SURFACE_DEPTH_M`;
    with ``coverage [H, W]`` (the person's visible share of each pixel, after occluders
    and other people in front), also covered at least half. Returns bool ``[18]``.

    This is what "visible" means to a viewer; the datasets' ``joints_vis`` stays "inside
    the image" -- it masks the training loss, and a hidden joint keeps exact labels.
    """
    pts = np.asarray(points_cam, np.float64)[:len(SURFACE_DEPTH_M)]
    names = pose_lib.POINTS[:len(pts)]
    h, w = depth.shape
    z = pts[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u, v = camera.project(pts).T
    inside = (z > 0) & (u > -0.5) & (u < w - 0.5) & (v > -0.5) & (v < h - 0.5)
    seen = np.zeros(len(pts), bool)
    for k in np.flatnonzero(inside):
        x, y = int(round(u[k])), int(round(v[k]))
        front = float(depth[y, x])
        seen[k] = front >= z[k] - SURFACE_DEPTH_M[names[k]] and (
            coverage is None or coverage[y, x] >= 0.5)
    return seen
