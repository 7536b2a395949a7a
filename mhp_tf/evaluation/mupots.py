"""MuPoTS-3D evaluation: 3DPCK_rel and AUC per sequence, "all ground truth" and "matched only".

Protocol (the official ``mpii_mupots_multiperson_eval.m`` and its helpers, in
relative mode):

* **People.** Every valid annotation (``isValidFrame``) of every frame of
  TS1..TS20 is one ground-truth (GT) person.
* **Matching.** Per frame, GT people are visited in order; each takes, among the
  predictions not yet taken, the one with the most *matching joints*: joints
  1..13 (Thorax, shoulders, elbows, wrists, hips, knees, ankles; MuPoTS-17
  indices, 0-based) whose 2D image positions differ by less than 40 px in
  *both* x and y (a per-axis box, not a Euclidean radius), counting only joints
  visible in both (GT joints are all visible; a predicted joint at exactly
  ``(0, 0)`` is invisible). Ties go to the lowest prediction index; a score of 0
  leaves the GT person unmatched. See :func:`match_people`.
* **Pose error.** Prediction and GT are made root-relative (Pelvis, joint 14);
  every predicted bone is rescaled to the GT bone length keeping its predicted
  direction, walking out from the pelvis over the official parent table
  (:data:`PARENTS`: note Head_top and Head both hang from Thorax there, unlike
  the drawing skeleton); the per-joint error is the Euclidean distance in mm.
* **Scores.** 3DPCK = % of (person, joint) pairs with error ``< 150`` mm (strict)
  over the 14 joints of the official PCK groups (:data:`PCK_JOINTS`: Head_top,
  Thorax, shoulders, elbows, wrists, hips, knees, ankles; Pelvis, Spine and Head
  are not scored). AUC = mean 3DPCK over thresholds 0, 5, ..., 150 mm (31 values;
  a perfect prediction scores 30/31 = 96.77 %, since no error is ``< 0``).
  Computed per sequence; the headline is the mean of the per-sequence values
  (the official script writes per-sequence tables only); the pooled value over
  all people is reported too.
* **Conventions.** "all ground truth": an unmatched GT person counts with every
  joint wrong. "matched only": unmatched GT people are left out.

With ground-truth boxes (``matching='gt'``, the paper's setting) each GT person
is matched to the prediction made from its own box. ``matching='2d'`` runs the
official 2D matching on those predictions instead (as the reference pipeline
followed by the MATLAB script does), and :func:`assign_by_frame` serves for
predictions that do not come from GT boxes (e.g. detector boxes).

Known difference: the official script compares with ``univ_annot3`` (poses
rescaled to a universal skeleton height); the prepared MuPoTS dataset stores the
``keypoints_cam`` of ``MuPoTS-3D.json``, and that is what is compared here.
"""

import collections
import re
import time
from typing import Dict, Optional, Sequence

from absl import logging
import numpy as np
import tensorflow as tf

from mhp_tf import skeletons
from mhp_tf.data import datasets
from mhp_tf.data import pipeline
from mhp_tf.evaluation import evaluator
from mhp_tf.evaluation import metrics

NUM_JOINTS = 17
ROOT = 14  # Pelvis
# Official parent of each MuPoTS-17 joint (``o1`` of mpii_get_joints('relevant'), 0-based);
# the root is its own parent.
PARENTS = (1, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, 14, 14, 1)
RESCALE_BONES = tuple((PARENTS[j], j) for j in range(NUM_JOINTS) if j != ROOT)
MATCHING_JOINTS = tuple(range(1, 14))
MATCH_THRESHOLD_PX = 40.0
PCK_JOINTS = tuple(range(14))
PCK_THRESHOLD_MM = 150.0
AUC_STEPS = 31  # thresholds 0:5:150 mm
MATCHING_MODES = ("gt", "2d")


# ----------------------------------------------------------------------------- matching


def match_people(pred_2d, gt_2d, pred_visible=None, gt_visible=None,
                 threshold: float = MATCH_THRESHOLD_PX,
                 joints: Optional[Sequence[int]] = MATCHING_JOINTS) -> np.ndarray:
    """Greedy identity matching of one frame's predictions to its GT people (official rule).

    Args:
      pred_2d: ``[P, J, 2]`` predicted 2D joints in image pixels.
      gt_2d: ``[G, J, 2]`` GT 2D joints in image pixels.
      pred_visible: ``[P, J]`` bool; default: a joint is invisible iff it is exactly
        ``(0, 0)`` (the official convention for missing predicted joints).
      gt_visible: ``[G, J]`` bool; default: all visible (as the official script).
      threshold: per-axis pixel tolerance (strict ``<``), 40 px officially.
      joints: the joints that vote (default: 1..13, the official ``matching_joints``);
        ``None`` = all.

    Returns:
      ``int64 [G]``: for each GT person (visited in order) the index of the
      prediction it takes, among those not yet taken, with the most joints within
      ``threshold`` in both x and y (visible in both; ties to the lowest index),
      or -1 when that count is 0.
    """
    pred_2d = np.asarray(pred_2d, np.float64)
    gt_2d = np.asarray(gt_2d, np.float64)
    if pred_2d.size == 0 and gt_2d.ndim == 3:  # no predictions in this frame
        pred_2d = pred_2d.reshape((0,) + gt_2d.shape[1:])
    if gt_2d.ndim != 3 or gt_2d.shape[-1] != 2:
        raise ValueError(f"gt_2d must be [G, J, 2], got {gt_2d.shape}")
    if pred_2d.ndim != 3 or pred_2d.shape[1:] != gt_2d.shape[1:]:
        raise ValueError(f"pred_2d must be [P, J, 2] with the GT's J={gt_2d.shape[1]}, "
                         f"got {pred_2d.shape}")
    num_gt, num_pred = len(gt_2d), len(pred_2d)
    if pred_visible is None:
        pred_visible = ~np.all(pred_2d == 0, axis=-1)
    if gt_visible is None:
        gt_visible = np.ones(gt_2d.shape[:2], bool)
    pred_visible = np.asarray(pred_visible, bool)
    gt_visible = np.asarray(gt_visible, bool)
    if pred_visible.shape != pred_2d.shape[:2] or gt_visible.shape != gt_2d.shape[:2]:
        raise ValueError("pred_visible / gt_visible must be [P, J] / [G, J]")
    sel = list(range(gt_2d.shape[1])) if joints is None else list(joints)
    out = np.full(num_gt, -1, np.int64)
    if num_gt == 0 or num_pred == 0:
        return out
    taken = np.zeros(num_pred, bool)
    for g in range(num_gt):
        close = np.all(np.abs(pred_2d[:, sel] - gt_2d[g, sel]) < threshold, axis=-1)  # [P, J']
        counted = close & pred_visible[:, sel] & gt_visible[g, sel]
        score = counted.sum(-1)
        score[taken] = 0
        best = int(np.argmax(score))  # first maximum, as MATLAB's max
        if score[best] > 0:
            out[g] = best
            taken[best] = True
    return out


def assign_by_frame(pred_2d, pred_frames, gt_2d, gt_frames, **match_kwargs) -> np.ndarray:
    """Run :func:`match_people` frame by frame over a whole test set.

    ``pred_frames`` / ``gt_frames`` are hashable frame keys per prediction / GT
    person (e.g. ``(sequence, frame)``); the order within a frame is the order in
    the arrays. Returns ``int64 [G]``: for each GT person the *global* index of
    its prediction, or -1.
    """
    pred_2d = np.asarray(pred_2d, np.float64)
    gt_2d = np.asarray(gt_2d, np.float64)
    if len(pred_frames) != len(pred_2d) or len(gt_frames) != len(gt_2d):
        raise ValueError("one frame key per prediction and per GT person is needed")
    pred_groups = collections.defaultdict(list)
    for i, key in enumerate(pred_frames):
        pred_groups[key].append(i)
    gt_groups = collections.defaultdict(list)
    for i, key in enumerate(gt_frames):
        gt_groups[key].append(i)
    out = np.full(len(gt_2d), -1, np.int64)
    for key, gt_idx in gt_groups.items():
        pred_idx = pred_groups.get(key, [])
        if not pred_idx:
            continue
        local = match_people(pred_2d[pred_idx], gt_2d[gt_idx], **match_kwargs)
        for g, p in zip(gt_idx, local):
            if p >= 0:
                out[g] = pred_idx[p]
    return out


# ----------------------------------------------------------------------------- scoring


def person_errors(pred_cam, gt_cam, root: int = ROOT, bones=RESCALE_BONES,
                  rescale: bool = True) -> np.ndarray:
    """Per-joint errors ``[N, J]`` (mm) of matched people, MuPoTS style.

    Both poses are made root-relative; with ``rescale`` every predicted bone gets
    the GT length (predicted direction kept, walking out from ``root`` over
    ``bones``), as the official ``mpii_map_to_gt_bone_lengths``.
    """
    pred, gt = metrics.root_relative(pred_cam, gt_cam, root)
    if rescale:
        pred = metrics.rescale_bones(pred, gt, bones, root)
    return np.linalg.norm(pred - gt, axis=-1)


def _pck_auc(errors, joints):
    """(3DPCK, AUC) in % over ``errors[:, joints]``; NaN when there are no people."""
    if len(errors) == 0:
        return float("nan"), float("nan")
    err = errors[:, list(joints)]
    return (metrics.pck3d(err, PCK_THRESHOLD_MM),
            metrics.auc_pck(err, PCK_THRESHOLD_MM, AUC_STEPS))


def _sequence_order(name: str):
    match = re.fullmatch(r"TS(\d+)", name)
    return (0, int(match.group(1)), name) if match else (1, 0, name)


def score_mupots(pred_cam, gt_cam, sequences, assignment=None,
                 pck_joints: Sequence[int] = PCK_JOINTS, rescale: bool = True) -> Dict:
    """3DPCK_rel and AUC, overall and per sequence, in both MuPoTS conventions.

    Args:
      pred_cam: ``[P, 17, 3]`` predicted camera-frame joints (mm; MuPoTS-17 order).
      gt_cam: ``[G, 17, 3]`` GT camera-frame joints, one row per GT person.
      sequences: ``[G]`` sequence name of each GT person (``"TS1"`` ...).
      assignment: ``[G]`` index into ``pred_cam`` of each GT person's prediction, -1
        when unmatched; default: the identity (``P == G``, GT boxes).
      pck_joints: the scored joints (default: the official 14).
      rescale: rescale predicted bones to the GT lengths (the protocol; turn off
        only to study its effect).

    Returns:
      A dict: ``pck_all``, ``auc_all``, ``pck_matched``, ``auc_matched`` (mean over
      sequences, %), ``pooled`` (the same four over all people at once),
      ``mpjpe_matched`` (mm, after rescaling, scored joints), ``num_people``,
      ``num_matched`` and ``per_sequence`` (name -> the same numbers), sequences
      in TS1..TS20 order.
    """
    pred_cam = np.asarray(pred_cam, np.float64)
    gt_cam = np.asarray(gt_cam, np.float64)
    sequences = [s.decode() if isinstance(s, bytes) else str(s) for s in sequences]
    if gt_cam.ndim != 3 or pred_cam.ndim != 3 or len(sequences) != len(gt_cam):
        raise ValueError(f"need pred_cam [P, J, 3], gt_cam [G, J, 3] and G sequence names; got "
                         f"{pred_cam.shape}, {gt_cam.shape}, {len(sequences)} names")
    if assignment is None:
        if len(pred_cam) != len(gt_cam):
            raise ValueError("without an assignment there must be one prediction per GT person")
        assignment = np.arange(len(gt_cam))
    assignment = np.asarray(assignment, np.int64)
    if assignment.shape != (len(gt_cam),) or np.any(assignment >= len(pred_cam)):
        raise ValueError(f"assignment must be [G={len(gt_cam)}] with indices < {len(pred_cam)}")
    if len(gt_cam) == 0:
        raise ValueError("no ground-truth people to evaluate")
    matched = assignment >= 0
    errors = np.full(gt_cam.shape[:2], np.inf)  # unmatched: every joint wrong
    if matched.any():
        errors[matched] = person_errors(pred_cam[assignment[matched]], gt_cam[matched],
                                        rescale=rescale)
    seq_arr = np.asarray(sequences, dtype=object)

    def summarize(mask):
        pck_all, auc_all = _pck_auc(errors[mask], pck_joints)
        pck_m, auc_m = _pck_auc(errors[mask & matched], pck_joints)
        m_err = errors[mask & matched][:, list(pck_joints)]
        return {"num_people": int(mask.sum()), "num_matched": int((mask & matched).sum()),
                "pck_all": pck_all, "auc_all": auc_all,
                "pck_matched": pck_m, "auc_matched": auc_m,
                "mpjpe_matched": float(m_err.mean()) if m_err.size else float("nan")}

    per_sequence = collections.OrderedDict(
        (name, summarize(seq_arr == name)) for name in sorted(set(sequences), key=_sequence_order))
    pooled = summarize(np.ones(len(gt_cam), bool))
    result = {key: float(np.nanmean([r[key] for r in per_sequence.values()]))
              if any(np.isfinite(r[key]) for r in per_sequence.values()) else float("nan")
              for key in ("pck_all", "auc_all", "pck_matched", "auc_matched")}
    result.update({
        "pooled": {k: pooled[k] for k in ("pck_all", "auc_all", "pck_matched", "auc_matched")},
        "mpjpe_matched": pooled["mpjpe_matched"],
        "num_people": pooled["num_people"], "num_matched": pooled["num_matched"],
        "num_sequences": len(per_sequence),
        "per_sequence": per_sequence,
        "pck_threshold_mm": PCK_THRESHOLD_MM,
        "auc_thresholds_mm": np.linspace(0.0, PCK_THRESHOLD_MM, AUC_STEPS).tolist(),
        "pck_joints": [skeletons.MUPOTS.joints[j] for j in pck_joints]
        if max(pck_joints) < NUM_JOINTS else list(pck_joints),
        "bones_rescaled": bool(rescale),
    })
    return result


# ----------------------------------------------------------------------------- model runs


def _check_skeleton(name: str) -> skeletons.Skeleton:
    sk = skeletons.get_skeleton(name)
    if tuple(sk.joints[:NUM_JOINTS]) != tuple(skeletons.MUPOTS.joints):
        raise ValueError(f"MuPoTS evaluation needs a skeleton whose first {NUM_JOINTS} joints are "
                         f"MuPoTS-17 ('mupots' or 'muco'), got {name!r}")
    return sk


def predict_mupots(model, dataset: str = "mupots", split: str = "test",
                   data_dir: Optional[str] = None,
                   config: Optional[pipeline.PipelineConfig] = None, batch_size: int = 32,
                   flip_test: str = "none", max_examples: Optional[int] = None,
                   progress: bool = True) -> Dict[str, np.ndarray]:
    """Run ``model`` on MuPoTS-3D person crops (GT boxes); predictions and GT as arrays.

    Decodes with the GT box and root depth (as the paper) and keeps the first 17
    joints (MuPoTS-17 = the first 17 of MuCo-21, so a 21-joint MuCo model runs
    with ``PipelineConfig(skeleton='muco')``; default: ``'mupots'`` for a 17-joint
    model, ``'muco'`` for a 21-joint one).

    Returns ``pred_cam``, ``gt_cam`` ``[N, 17, 3]`` (camera frame, mm),
    ``pred_2d``, ``gt_2d`` ``[N, 17, 2]`` (image pixels), ``sequence [N]`` (str)
    and ``frame [N]``, one row per person, in dataset order.
    """
    if config is None:
        num_joints = getattr(getattr(model, "mhp_config", None), "num_joints", None)
        name = {NUM_JOINTS: "mupots", 21: "muco"}.get(num_joints)
        if name is None:
            raise ValueError(f"cannot pick a skeleton for a {num_joints}-joint model; pass "
                             "config=PipelineConfig(skeleton='mupots' or 'muco', ...)")
        config = pipeline.PipelineConfig.for_model(model.mhp_config, skeleton=name)
    cfg = config
    skeleton = _check_skeleton(cfg.skeleton)
    ds = datasets.build_dataset(dataset, split, data_dir, training=False, batch_size=batch_size,
                                config=cfg, training_keys_only=False)
    bar = tf.keras.utils.Progbar(None, unit_name="person") if progress else None

    @tf.function
    def forward(images):
        return evaluator.predict_coords(model, images, skeleton, flip_test)

    cols = collections.defaultdict(list)
    seen = 0
    for batch in ds:
        if max_examples is not None and seen >= max_examples:
            break
        coords = forward(batch["image"]).numpy()
        if coords.shape[1] != skeleton.num_joints:
            raise ValueError(f"the model predicts {coords.shape[1]} joints, the pipeline "
                             f"skeleton {skeleton.name!r} has {skeleton.num_joints}")
        b = {k: v.numpy() for k, v in batch.items() if k != "image"}
        coords = coords[:, :NUM_JOINTS].astype(np.float64)
        gt_coords = b["coords"][:, :NUM_JOINTS].astype(np.float64)
        bbox = b["bbox"].astype(np.float64)
        cols["pred_cam"].append(metrics.decode_to_camera(
            coords, bbox, b["root_cam"][:, 2], b["focal"], b["principal_point"],
            cfg.heatmap_size, cfg.depth_bins, cfg.depth_range_mm))
        cols["gt_cam"].append(b["joints_cam"][:, :NUM_JOINTS].astype(np.float64))
        # Image pixels: the evaluation crop maps the processed box exactly onto the patch.
        scale = bbox[:, None, 2:] / cfg.heatmap_size
        cols["pred_2d"].append(coords[..., :2] * scale + bbox[:, None, :2])
        cols["gt_2d"].append(gt_coords[..., :2] * scale + bbox[:, None, :2])
        cols["sequence"].append(np.array([s.decode() for s in b["sequence"]], dtype=object))
        cols["frame"].append(b["frame"].astype(np.int64))
        seen += len(coords)
        if bar:
            bar.add(len(coords))
    if not cols:
        raise ValueError(f"{dataset}/{split} has no examples to evaluate")
    return {k: np.concatenate(v)[:max_examples] for k, v in cols.items()}


def evaluate_mupots(model, dataset: str = "mupots", split: str = "test",
                    data_dir: Optional[str] = None,
                    config: Optional[pipeline.PipelineConfig] = None, batch_size: int = 32,
                    flip_test: str = "none", max_examples: Optional[int] = None,
                    progress: bool = True, matching: str = "gt",
                    rescale: bool = True) -> Dict:
    """MuPoTS-3D 3DPCK_rel / AUC of ``model`` with GT boxes and GT root depth.

    Runs :func:`predict_mupots`, assigns predictions to GT people and scores
    them with :func:`score_mupots`. ``matching``: ``'gt'`` (each GT person keeps
    the prediction from its own box; the paper's setting) or ``'2d'`` (the
    official per-frame 2D matching, :func:`match_people`, on the decoded 2D
    joints). Returns the :func:`score_mupots` dict plus ``dataset``, ``split``,
    ``matching``, ``flip_test``, ``num_examples`` and ``seconds``.
    """
    if matching not in MATCHING_MODES:
        raise ValueError(f"matching={matching!r}, expected one of {MATCHING_MODES}")
    start = time.time()
    data = predict_mupots(model, dataset, split, data_dir, config, batch_size, flip_test,
                          max_examples, progress)
    if not all(data["sequence"]):
        logging.warning("%s/%s: some examples carry no sequence name; they are grouped "
                        "under ''", dataset, split)
    if matching == "gt":
        assignment = np.arange(len(data["gt_cam"]))
    else:
        keys = list(zip(data["sequence"].tolist(), data["frame"].tolist()))
        if any(f < 0 for _, f in keys):
            raise ValueError("matching='2d' needs frame numbers (per-frame grouping); "
                             f"{dataset}/{split} has examples without one")
        assignment = assign_by_frame(data["pred_2d"], keys, data["gt_2d"], keys)
    result = score_mupots(data["pred_cam"], data["gt_cam"], data["sequence"], assignment,
                          rescale=rescale)
    result.update({"dataset": dataset, "split": split, "matching": matching,
                   "flip_test": flip_test, "num_examples": int(len(data["gt_cam"])),
                   "seconds": time.time() - start})
    logging.info("%s/%s: 3DPCK_rel %.1f%% (all GT) / %.1f%% (matched), AUC %.1f / %.1f, "
                 "%d people", dataset, split, result["pck_all"], result["pck_matched"],
                 result["auc_all"], result["auc_matched"], result["num_people"])
    return result


def format_mupots_result(result: Dict) -> str:
    """A readable per-sequence table of an :func:`evaluate_mupots` / :func:`score_mupots` result."""
    head = (f"{result.get('dataset', 'mupots')} / {result.get('split', 'test')}: "
            f"{result['num_people']} people, {result['num_matched']} matched "
            f"(matching: {result.get('matching', 'given')}), "
            f"flip test: {result.get('flip_test', '-')}")
    lines = [head,
             f"{'sequence':<10}{'PCK all':>9}{'PCK match':>11}{'AUC all':>9}{'AUC match':>11}"
             f"{'MPJPE':>8}{'people':>8}{'matched':>9}"]

    def row(name, r):
        return (f"{name:<10}{r['pck_all']:>9.1f}{r['pck_matched']:>11.1f}{r['auc_all']:>9.1f}"
                f"{r['auc_matched']:>11.1f}{r['mpjpe_matched']:>8.1f}{r['num_people']:>8}"
                f"{r['num_matched']:>9}")

    for name, r in result["per_sequence"].items():
        lines.append(row(name or "(none)", r))
    seq_mpjpe = [r["mpjpe_matched"] for r in result["per_sequence"].values()
                 if np.isfinite(r["mpjpe_matched"])]
    lines.append(row("average", {**result, "mpjpe_matched": float(np.mean(seq_mpjpe))
                                 if seq_mpjpe else float("nan")}))
    pooled = {**result["pooled"], "mpjpe_matched": result["mpjpe_matched"],
              "num_people": result["num_people"], "num_matched": result["num_matched"]}
    lines.append(row("pooled", pooled))
    lines.append(f"3DPCK_rel: % of joints within {result['pck_threshold_mm']:.0f} mm after root "
                 "alignment, predicted bones rescaled to GT lengths; AUC over 0:5:150 mm; "
                 "MPJPE (mm) of matched people.")
    lines.append("'all' counts unmatched GT people as all-joints-wrong, 'match' leaves them "
                 "out; average = mean of the per-sequence values, pooled = over all people.")
    lines.append("Joints: " + ", ".join(map(str, result["pck_joints"])) + ".")
    return "\n".join(lines)
