"""Run a model over an evaluation split and compute the paper's metrics.

Decoding uses the ground-truth box and root depth, as the paper's protocol does.
Flip test (``flip_test``):

* ``'reference'``: average with the prediction on the mirrored crop, un-mirrored
  as the reference does (``x -> W - 1 - x`` in heatmap units) and pair-swapped;
* ``'exact'``: the exact inverse of the image mirror, ``x -> W - W/S - x``
  (a pixel ``u`` of an ``S``-wide crop goes to ``S - 1 - u``); the reference's
  formula is off by ``1 - W/S`` heatmap units (0.75 for L/S);
* ``'none'``: no flip test.
"""

import collections
import time
from typing import Dict, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from mhp_tf import skeletons
from mhp_tf.data import datasets
from mhp_tf.data import pipeline
from mhp_tf.evaluation import metrics
from mhp_tf.modeling import movnect

FLIP_TESTS = ("reference", "exact", "none")

# Human3.6M action ids (released action_idx 2..16) -> names, for per-action tables.
H36M_ACTIONS = {2: "Directions", 3: "Discussion", 4: "Eating", 5: "Greeting", 6: "Phoning",
                7: "Posing", 8: "Purchases", 9: "Sitting", 10: "SittingDown", 11: "Smoking",
                12: "Photo", 13: "Waiting", 14: "Walking", 15: "WalkDog", 16: "WalkTogether"}


def predict_movnect(model, images, skeleton: skeletons.Skeleton, flip_test: str = "none"):
    """MoVNect read-out ``[B, J, 3]``: root-relative joints (mm) from the location maps at
    each heatmap maximum, with an optional flip test (the mirrored crop's joints, x negated
    and left/right swapped, averaged in; 'reference' and 'exact' coincide here)."""
    if flip_test not in FLIP_TESTS:
        raise ValueError(f"flip_test={flip_test!r}, expected one of {FLIP_TESTS}")
    joints = movnect.movnect_readout(model(images, training=False))["joints_3d"]
    if flip_test == "none":
        return joints
    flipped = movnect.movnect_readout(model(tf.reverse(images, axis=[2]),
                                            training=False))["joints_3d"]
    flipped = tf.gather(flipped * tf.constant([-1.0, 1.0, 1.0]), skeleton.flip_permutation(),
                        axis=1)
    return (joints + flipped) / 2.0


def predict_coords(model, images, skeleton: skeletons.Skeleton, flip_test: str = "none"):
    """Model coordinates ``[B, J, 3]`` (heatmap units) with an optional flip test."""
    if flip_test not in FLIP_TESTS:
        raise ValueError(f"flip_test={flip_test!r}, expected one of {FLIP_TESTS}")
    coords = model(images, training=False)
    if flip_test == "none":
        return coords
    flipped = model(tf.reverse(images, axis=[2]), training=False)
    if not hasattr(model, "mhp_config"):
        raise ValueError("the flip test needs a MobileHumanPose model (for its heatmap size)")
    width = model.mhp_config.heatmap_size
    size = images.shape[2]
    offset = width - 1.0 if flip_test == "reference" else width - width / size
    x = offset - flipped[..., 0]
    flipped = tf.concat([x[..., None], flipped[..., 1:]], -1)
    flipped = tf.gather(flipped, skeleton.flip_permutation(), axis=1)
    return (coords + flipped) / 2.0


def evaluate(model, dataset: str, split: str = "test", data_dir: Optional[str] = None,
             config: Optional[pipeline.PipelineConfig] = None, batch_size: int = 32,
             flip_test: str = "none", max_examples: Optional[int] = None,
             progress: bool = True) -> Dict:
    """MPJPE / PA-MPJPE (rigid and similarity) on a 3D dataset split.

    Returns a dict with the overall numbers (mm), ``per_action`` (Human3.6M
    action names when the ids are known, else ids), ``num_examples`` and the
    settings used.
    """
    is_movnect = movnect.is_movnect_model(model)
    if config is None and is_movnect:
        raise ValueError("evaluating a MoVNect model needs its PipelineConfig "
                         "(ExperimentConfig.pipeline_config())")
    cfg = config or pipeline.PipelineConfig.for_model(model.mhp_config)
    skeleton = skeletons.get_skeleton(cfg.skeleton)
    if is_movnect and model.movnect_config.num_joints != skeleton.num_joints:
        raise ValueError(f"the model predicts {model.movnect_config.num_joints} joints, "
                         f"skeleton {cfg.skeleton!r} has {skeleton.num_joints}")
    ds = datasets.build_dataset(dataset, split, data_dir, training=False, batch_size=batch_size,
                                config=cfg, training_keys_only=False)
    bar = None
    if progress:
        total = datasets.split_size(dataset, split, data_dir)
        if max_examples is not None:
            total = min(total, max_examples)
        bar = tf.keras.utils.Progbar(total or None, unit_name="example")
    preds, gts, actions = [], [], []
    seen = 0
    start = time.time()

    @tf.function
    def forward(images):
        if is_movnect:
            return predict_movnect(model, images, skeleton, flip_test)
        return predict_coords(model, images, skeleton, flip_test)

    for batch in ds:
        if max_examples is not None and seen >= max_examples:
            break
        coords = forward(batch["image"]).numpy()
        b = {k: v.numpy() for k, v in batch.items() if k != "image"}
        keep = b["have_depth"] > 0
        if is_movnect:  # root-relative mm; placed at the true root (MPJPE is root-aligned)
            cam = coords + b["root_cam"][:, None, :]
        else:
            cam = metrics.decode_to_camera(coords, b["bbox"], b["root_cam"][:, 2], b["focal"],
                                           b["principal_point"], cfg.heatmap_size,
                                           cfg.depth_bins, cfg.depth_range_mm)
        preds.append(cam[keep])
        gts.append(b["joints_cam"][keep])
        actions.append(b.get("action", np.full(len(coords), -1))[keep])
        seen += len(coords)
        if bar:
            bar.update(min(seen, bar.target or seen))
    if not preds or sum(len(p) for p in preds) == 0:
        raise ValueError(f"{dataset}/{split} has no 3D examples to evaluate")
    pred = np.concatenate(preds)[: max_examples]
    gt = np.concatenate(gts)[: max_examples]
    act = np.concatenate(actions)[: max_examples]
    root, eval_joints = skeleton.root, skeleton.eval_joints
    err = metrics.joint_errors(pred, gt, root, eval_joints)
    err_rigid = metrics.joint_errors(pred, gt, root, eval_joints, "rigid")
    err_sim = metrics.joint_errors(pred, gt, root, eval_joints, "similarity")
    per_action = collections.OrderedDict()
    for a in sorted(set(act.tolist())):
        m = act == a
        name = H36M_ACTIONS.get(a, str(a)) if a >= 0 else "all"
        per_action[name] = {"mpjpe": float(err[m].mean()),
                            "pa_mpjpe_rigid": float(err_rigid[m].mean()),
                            "pa_mpjpe_similarity": float(err_sim[m].mean()),
                            "num_examples": int(m.sum())}
    result = {
        "dataset": dataset, "split": split, "num_examples": int(len(pred)),
        "mpjpe": float(err.mean()),
        "pa_mpjpe_rigid": float(err_rigid.mean()),
        "pa_mpjpe_similarity": float(err_sim.mean()),
        "per_action": per_action, "flip_test": flip_test,
        "seconds": time.time() - start,
    }
    logging.info("%s/%s: MPJPE %.1f mm, PA-MPJPE %.1f (rigid) / %.1f (similarity) mm on %d",
                 dataset, split, result["mpjpe"], result["pa_mpjpe_rigid"],
                 result["pa_mpjpe_similarity"], len(pred))
    return result


def mean_pose_baseline(train_dataset: str, test_dataset: str, split: str = "test",
                       data_dir: Optional[str] = None, skeleton: str = "h36m",
                       max_examples: Optional[int] = None) -> Dict:
    """MPJPE of always predicting the mean root-relative training pose (no images read).

    A floor every trained model must beat. Uses the 3D training dataset (the first
    part of a ``a+b`` mix); both datasets' joints are mapped onto ``skeleton`` by name
    (every joint of ``skeleton`` must exist in them).
    """
    sk = skeletons.get_skeleton(skeleton)

    def poses(name, split_name, limit=None):
        ds, src, _ = datasets.load_split(name, split_name, data_dir)
        idx = skeletons.mapping_indices(src, sk.name)
        if (idx < 0).any():
            missing = [sk.joints[j] for j in np.flatnonzero(idx < 0)]
            raise ValueError(f"mean-pose baseline needs every {sk.name} joint; {name} ({src}) "
                             f"lacks {missing}")
        out = []
        for ex in ds.map(lambda e: {"j": e["joints_cam"], "d": e["have_depth"]}) \
                .as_numpy_iterator():
            if ex["d"] > 0:
                j = ex["j"][idx]
                out.append(j - j[sk.root])
            if limit and len(out) >= limit:
                break
        return np.stack(out)

    mean = poses(train_dataset.split("+")[0], "train").mean(0)
    gt = poses(test_dataset, split, max_examples)
    pred = np.broadcast_to(mean, gt.shape)
    return {"dataset": test_dataset, "split": split, "num_examples": int(len(gt)),
            "mpjpe": metrics.mpjpe(pred, gt, sk.root, sk.eval_joints)}


def format_result(result: Dict) -> str:
    """A readable table of an :func:`evaluate` result."""
    lines = [f"{result['dataset']} / {result['split']}: {result['num_examples']} examples, "
             f"flip test: {result['flip_test']}",
             f"{'action':<14}{'MPJPE':>9}{'PA rigid':>10}{'PA sim.':>9}{'n':>7}"]
    for name, r in result["per_action"].items():
        lines.append(f"{name:<14}{r['mpjpe']:>9.1f}{r['pa_mpjpe_rigid']:>10.1f}"
                     f"{r['pa_mpjpe_similarity']:>9.1f}{r['num_examples']:>7}")
    lines.append(f"{'average':<14}{result['mpjpe']:>9.1f}{result['pa_mpjpe_rigid']:>10.1f}"
                 f"{result['pa_mpjpe_similarity']:>9.1f}{result['num_examples']:>7}")
    lines.append("PA rigid = rotation+translation alignment (the paper's PA-MPJPE); "
                 "PA sim. = similarity Procrustes with scale (the usual PA-MPJPE). Units: mm.")
    return "\n".join(lines)
