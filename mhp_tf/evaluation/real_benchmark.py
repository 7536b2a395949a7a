"""2D accuracy on real frames against BlazePose GHUM heavy as the reference (no human labels).

Used by ``scripts/benchmark_real_images.py``. Real frames come from
:mod:`mhp_tf.evaluation.real_frames`; people are found by the BlazePose person detector and
the reference is BlazePose heavy run on MediaPipe's upright ROI
(:mod:`mhp_tf.inference.blazepose`). The reference is a strong model, not ground truth:
the numbers measure agreement with it, which is what a model trained only on synthetic
images most needs checking on.

Joints compared
---------------
The 12 joints whose definitions match between BlazePose's 33 landmarks and our H36M-18
joints (:data:`COMPARED_JOINTS`): shoulders, elbows, wrists, hips, knees, ankles.
Left/right are the person's own sides in both. Not compared: H36M's Pelvis, Torso,
Neck, Thorax (no BlazePose landmark; midpoints would be definitions of our own), Head
(the head *top*; BlazePose has none) and Nose (H36M's "Nose" is a marker-derived point
between the neck and the head top, and the synthetic skeleton's is a point in front of
the neck -- neither is BlazePose's nose tip). Hip centres differ in spirit too: H36M hips
are the mocap skeleton's joint centres, BlazePose's are closer to the surface landmarks
of COCO-style labels; expect a systematic hip offset for every model trained on H36M
definitions, the synthetic data included.

Metrics
-------
* Body height ``L`` of a reference pose (:func:`body_height`): the length of the chain
  nose -> mid-shoulder -> mid-hip -> knee -> ankle (legs: the mean of both sides), in
  pixels. It is the head-to-ankle extent for a standing person and does not shrink when
  the person bends or sits (a bounding-box height would).
* A joint is scored when the reference sees it: BlazePose visibility >= 0.5 and the
  reference point inside the image.
* Error: ``|pred - ref| / L`` in % of body height, averaged over scored joints (pooled
  over people: a person with more visible joints weighs more).
* PCK@0.1: the share of scored joints with ``|pred - ref| < 0.1 L``.
"""

import dataclasses
import inspect
from typing import Dict, List, Optional, Sequence

import numpy as np

from mhp_tf import skeletons
from mhp_tf.inference import blazepose as bp

COMPARED_JOINTS = ("L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist",
                   "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle")
BLAZEPOSE_INDEX = tuple(bp.h36m_from_blazepose()[j] for j in COMPARED_JOINTS)
MIN_VISIBILITY = 0.5
H36M_JOINTS = skeletons.H36M.joints  # the synthetic dataset's joints (average pose)
PCK_THRESHOLD = 0.1


def blazepose_to_compared(landmarks: np.ndarray) -> np.ndarray:
    """``[..., 33, C]`` BlazePose landmarks -> ``[..., 12, C]`` in :data:`COMPARED_JOINTS` order."""
    landmarks = np.asarray(landmarks)
    if landmarks.shape[-2] != bp.NUM_LANDMARKS:
        raise ValueError(f"expected {bp.NUM_LANDMARKS} BlazePose landmarks, got shape "
                         f"{landmarks.shape}")
    return np.take(landmarks, BLAZEPOSE_INDEX, axis=-2)


def skeleton_to_compared(joints: np.ndarray, joint_names: Sequence[str]) -> np.ndarray:
    """``[..., J, C]`` joints named ``joint_names`` (e.g. H36M-18) -> ``[..., 12, C]``."""
    joints = np.asarray(joints)
    names = list(joint_names)
    missing = [j for j in COMPARED_JOINTS if j not in names]
    if missing:
        raise ValueError(f"the model's joints lack {missing} (joints: {names})")
    if joints.shape[-2] != len(names):
        raise ValueError(f"{len(names)} joint names for joints of shape {joints.shape}")
    return np.take(joints, [names.index(j) for j in COMPARED_JOINTS], axis=-2)


def body_height(landmarks: np.ndarray) -> float:
    """Nose -> mid-shoulder -> mid-hip -> knee -> ankle chain length of ``[33, 2]`` BlazePose
    landmarks (legs: mean of both sides), px."""
    p = np.asarray(landmarks, np.float64)[:, :2]
    n = bp.LANDMARK_NAMES.index
    nose = p[n("nose")]
    shoulders = (p[n("left_shoulder")] + p[n("right_shoulder")]) / 2.0
    hips = (p[n("left_hip")] + p[n("right_hip")]) / 2.0
    legs = [np.linalg.norm(p[n(f"{s}_knee")] - p[n(f"{s}_hip")])
            + np.linalg.norm(p[n(f"{s}_ankle")] - p[n(f"{s}_knee")]) for s in ("left", "right")]
    return float(np.linalg.norm(shoulders - nose) + np.linalg.norm(hips - shoulders)
                 + np.mean(legs))


def scored_mask(reference: bp.PoseLandmarks, width: int, height: int,
                min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
    """``[12]`` bool: compared joints the reference sees (visible and inside the image)."""
    xy = blazepose_to_compared(reference.landmarks)
    vis = blazepose_to_compared(reference.visibility[:, None])[:, 0]
    inside = (xy[:, 0] >= -0.5) & (xy[:, 0] <= width - 0.5) & (xy[:, 1] >= -0.5) & \
        (xy[:, 1] <= height - 0.5)
    return (vis >= min_visibility) & inside


def normalized_errors(pred: np.ndarray, ref: np.ndarray, height: float) -> np.ndarray:
    """``|pred - ref| / height`` per joint (``[..., 12, 2]`` px -> ``[..., 12]``)."""
    if not height > 0:
        raise ValueError(f"body height must be positive, got {height}")
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(ref, np.float64),
                          axis=-1) / height


@dataclasses.dataclass
class Score:
    """Pooled scores of one model on some people."""

    people: int
    joints: int
    error_pct: float   # mean |err| / body height, %
    pck: float         # share of joints within PCK_THRESHOLD x body height

    def as_dict(self) -> Dict:
        return dataclasses.asdict(self)


def pool(errors: Sequence[np.ndarray], masks: Sequence[np.ndarray],
         threshold: float = PCK_THRESHOLD) -> Score:
    """Pool per-person normalised errors ``[12]`` over their scored joints ``[12]``."""
    e = [np.asarray(err, np.float64)[np.asarray(m, bool)] for err, m in zip(errors, masks)]
    flat = np.concatenate(e) if e else np.zeros(0)
    if not flat.size:
        return Score(people=len(e), joints=0, error_pct=float("nan"), pck=float("nan"))
    return Score(people=len(e), joints=int(flat.size), error_pct=float(100.0 * flat.mean()),
                 pck=float((flat < threshold).mean()))


@dataclasses.dataclass
class Person:
    """One detected person of one frame, with the reference and every model's prediction."""

    source: str
    frame: str
    box: np.ndarray                  # detector box (x, y, w, h)
    roi: bp.Roi                      # upright ROI (BlazePose and --upright crops)
    reference: bp.PoseLandmarks
    height: float
    mask: np.ndarray                 # [12] scored joints
    predictions: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # [12, 2]

    def errors(self, model: str) -> np.ndarray:
        return normalized_errors(self.predictions[model],
                                 blazepose_to_compared(self.reference.landmarks), self.height)


def score_table(people: Sequence[Person], models: Sequence[str]) -> List[Dict]:
    """Rows ``{source, frames, people, joints, model, error_pct, pck}`` per source and model,
    then ``source='all'`` rows pooled over every person."""
    rows = []
    sources = sorted(set(p.source for p in people))
    for source in sources + ["all"]:
        group = [p for p in people if source == "all" or p.source == source]
        frames = len(set(p.frame for p in group))
        for model in models:
            have = [p for p in group if model in p.predictions]
            s = pool([p.errors(model) for p in have], [p.mask for p in have])
            rows.append({"source": source, "frames": frames, "model": model, **s.as_dict()})
    return rows


def mirrored_sides(pose: np.ndarray) -> np.ndarray:
    """The compared joints ``[..., 12, 2]`` with left and right exchanged (the same points,
    each named as its other-side twin)."""
    order = [COMPARED_JOINTS.index(("R_" + n[2:]) if n.startswith("L_") else ("L_" + n[2:]))
             for n in COMPARED_JOINTS]
    return np.asarray(pose)[..., order, :]


def side_swap_table(people: Sequence[Person], model: str) -> List[Dict]:
    """How much of ``model``'s error is left/right confusion, per source and ``'all'``:
    ``people`` scored, ``swapped`` = those whose pose is nearer the reference with its
    left and right exchanged (a person seen from the back taken as seen from the front,
    or the near and far limbs of a side view exchanged), ``error_pct`` as scored, and
    ``error_pct_unswapped``: the error if each of those people's sides were put back
    (an oracle: how far the rest of the pose is off)."""
    rows = []
    have = [p for p in people if model in p.predictions and np.asarray(p.mask, bool).any()]
    for source in sorted(set(p.source for p in have)) + ["all"]:
        group = [p for p in have if source == "all" or p.source == source]
        errors, best, swapped = [], [], 0
        for p in group:
            e = p.errors(model)
            e_swap = normalized_errors(mirrored_sides(p.predictions[model]),
                                       blazepose_to_compared(p.reference.landmarks), p.height)
            m = np.asarray(p.mask, bool)
            is_swapped = e_swap[m].mean() < e[m].mean()
            swapped += int(is_swapped)
            errors.append(e)
            best.append(e_swap if is_swapped else e)
        masks = [p.mask for p in group]
        rows.append({"source": source, "model": model, "people": len(group), "swapped": swapped,
                     "error_pct": pool(errors, masks).error_pct,
                     "error_pct_unswapped": pool(best, masks).error_pct})
    return rows


def format_table(rows: Sequence[Dict]) -> str:
    head = f"{'source':<18}{'frames':>7}{'people':>7}{'joints':>7}  {'model':<22}" \
           f"{'err %height':>12}{'PCK@0.1':>9}"
    lines = [head, "-" * len(head)]
    last = None
    for r in rows:
        if last is not None and r["source"] != last:
            lines.append("")
        last = r["source"]
        lines.append(f"{r['source']:<18}{r['frames']:>7}{r['people']:>7}{r['joints']:>7}  "
                     f"{r['model']:<22}{r['error_pct']:>12.1f}{r['pck']:>9.3f}")
    return "\n".join(lines)


def place_mean_pose(mean_in_crop: np.ndarray, crop_box) -> np.ndarray:
    """Mean pose ``[J, 2]`` in crop-box units (0..1 across the box) -> image px in ``crop_box``."""
    x, y, w, h = np.asarray(crop_box, np.float64).reshape(4)
    return np.array([x, y]) + np.asarray(mean_in_crop, np.float64) * np.array([w, h])


def mean_pose_in_crop(joints_img: np.ndarray, crop_boxes: np.ndarray,
                      visible: Optional[np.ndarray] = None) -> np.ndarray:
    """The mean over examples of joints ``[N, J, 2]`` (px) in their crop boxes ``[N, 4]``,
    per joint over the examples where it is visible."""
    j = np.asarray(joints_img, np.float64)
    b = np.asarray(crop_boxes, np.float64)
    rel = (j - b[:, None, :2]) / b[:, None, 2:]
    vis = np.ones(j.shape[:2], bool) if visible is None else np.asarray(visible) > 0
    count = vis.sum(0)
    if (count == 0).any():
        raise ValueError(f"joints {np.flatnonzero(count == 0).tolist()} are never visible")
    return (rel * vis[..., None]).sum(0) / count[:, None]


def estimate_accepts_angles(estimator) -> bool:
    """Whether ``estimator.estimate`` takes ``angles=`` (upright crops; a newer PoseEstimator)."""
    try:
        return "angles" in inspect.signature(estimator.estimate).parameters
    except (TypeError, ValueError, AttributeError):
        return False
