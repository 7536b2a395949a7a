"""Pose metrics (NumPy): MPJPE, PA-MPJPE (two alignments), 3DPCK and AUC.

Conventions follow the paper's evaluation code:

* coordinates are decoded with the ground-truth box and root depth, then made
  root-relative (both prediction and ground truth) before any error;
* ``pa_mpjpe`` with ``alignment='rigid'`` is the reference's number (rotation
  + translation, no scale, fitted on all joints before dropping non-evaluated
  ones); ``alignment='similarity'`` is the standard Procrustes with scale used
  by most other papers. Report both, labelled.
"""

from typing import Optional, Sequence

import numpy as np


def decode_to_camera(coords, bbox, root_depth, focal, principal_point, heatmap_size,
                     depth_bins, depth_range_mm: float = 2000.0) -> np.ndarray:
    """Heatmap-unit coordinates ``[..., J, 3]`` -> camera-frame joints in mm.

    ``x_img = x / W * bbox_w + bbox_x`` (same for y), ``Z = (z / D * 2 - 1) *
    range / 2 + root_depth``, ``X = (x_img - cx) / fx * Z``. ``bbox`` is the
    processed (square, 1.25x) box the crop was taken from, ``[..., 4]``.
    """
    coords = np.asarray(coords, np.float64)
    bbox = np.asarray(bbox, np.float64)[..., None, :]
    focal = np.asarray(focal, np.float64)[..., None, :]
    pp = np.asarray(principal_point, np.float64)[..., None, :]
    root_depth = np.asarray(root_depth, np.float64)[..., None]
    u = coords[..., 0] / heatmap_size * bbox[..., 2] + bbox[..., 0]
    v = coords[..., 1] / heatmap_size * bbox[..., 3] + bbox[..., 1]
    z = (coords[..., 2] / depth_bins * 2.0 - 1.0) * (depth_range_mm / 2.0) + root_depth
    x = (u - pp[..., 0]) / focal[..., 0] * z
    y = (v - pp[..., 1]) / focal[..., 1] * z
    return np.stack([x, y, z], -1)


def rigid_align(pred, gt, scale: bool = False) -> np.ndarray:
    """Align ``pred [J, 3]`` to ``gt [J, 3]`` by rotation + translation (+ scale).

    Least-squares (Kabsch / Umeyama) with the reflection fix.
    """
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    mu_p, mu_g = pred.mean(0), gt.mean(0)
    p, g = pred - mu_p, gt - mu_g
    u, s, vt = np.linalg.svd(p.T @ g)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    fix = np.diag([1.0, 1.0, d])
    rot = vt.T @ fix @ u.T
    k = (s * np.diag(fix)).sum() / (p ** 2).sum() if scale else 1.0
    return k * p @ rot.T + mu_g


def similarity_align(pred, gt) -> np.ndarray:
    """Standard Procrustes alignment with scale."""
    return rigid_align(pred, gt, scale=True)


def root_relative(pred, gt, root: int):
    """Validate ``[N, J, 3]`` pred/gt (same shape, finite) and subtract each one's root."""
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"pred and gt must both be [N, J, 3], got {pred.shape} and {gt.shape}")
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(gt))):
        raise ValueError("pred or gt contains NaN or inf")
    return pred - pred[:, root:root + 1], gt - gt[:, root:root + 1]


def joint_errors(pred, gt, root: int, eval_joints: Optional[Sequence[int]] = None,
                 alignment: Optional[str] = None) -> np.ndarray:
    """Per-joint Euclidean errors ``[N, J_eval]`` after root alignment.

    ``alignment``: ``None`` (MPJPE), ``'rigid'`` (reference PA: rotation +
    translation) or ``'similarity'`` (with scale). The alignment is fitted on
    all joints, then the evaluated joints are kept, as in the reference.
    """
    pred, gt = root_relative(pred, gt, root)
    if alignment in ("rigid", "similarity"):
        pred = np.stack([rigid_align(p, g, scale=alignment == "similarity")
                         for p, g in zip(pred, gt)])
    elif alignment is not None:
        raise ValueError(f"alignment={alignment!r}; expected None, 'rigid' or 'similarity'")
    err = np.linalg.norm(pred - gt, axis=-1)
    if eval_joints is not None:
        err = err[:, list(eval_joints)]
    return err


def mpjpe(pred, gt, root: int = 0, eval_joints=None, alignment=None) -> float:
    """Mean per-joint position error (mm) over samples and evaluated joints."""
    return float(joint_errors(pred, gt, root, eval_joints, alignment).mean())


def rescale_bones(pred, gt, bones, root: int) -> np.ndarray:
    """Rescale each predicted bone to the ground-truth length (MuPoTS protocol).

    Walks the kinematic tree from ``root``: every child keeps its predicted
    direction from its (already rescaled) parent with the ground-truth length.
    """
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    out = pred.copy()
    children = {}
    for a, b in bones:
        children.setdefault(a, []).append(b)
        children.setdefault(b, []).append(a)
    seen = {root}
    stack = [root]
    while stack:
        parent = stack.pop()
        for child in children.get(parent, []):
            if child in seen:
                continue
            seen.add(child)
            direction = pred[..., child, :] - pred[..., parent, :]
            norm = np.linalg.norm(direction, axis=-1, keepdims=True)
            length = np.linalg.norm(gt[..., child, :] - gt[..., parent, :], axis=-1,
                                    keepdims=True)
            out[..., child, :] = out[..., parent, :] + direction / np.maximum(norm, 1e-9) * length
            stack.append(child)
    return out


def pck3d(errors, threshold: float = 150.0) -> float:
    """Percentage of joints with error below ``threshold`` mm (3DPCK)."""
    return float(100.0 * (np.asarray(errors) < threshold).mean())


def auc_pck(errors, max_threshold: float = 150.0, steps: int = 31) -> float:
    """Area under the 3DPCK curve for thresholds ``0 .. max`` (MuPoTS: 0:5:150), in %."""
    errors = np.asarray(errors)
    thresholds = np.linspace(0.0, max_threshold, steps)
    return float(np.mean([pck3d(errors, t) for t in thresholds]))
