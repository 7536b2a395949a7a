r"""2D accuracy on real frames of people, against BlazePose GHUM heavy as the reference.

No labelled real pose data can be had here, so the reference is the strongest pretrained
model that ships as a file (BlazePose heavy on MediaPipe's upright ROI); the numbers say how
far a model is from it, in % of body height and PCK@0.1, on the 12 joints whose definitions
match (:mod:`mhp_tf.evaluation.real_benchmark` for the joints and metrics).

1. Frames: :mod:`mhp_tf.evaluation.real_frames` (registry files fetched and cached on first
   use; a source that cannot be fetched is skipped with a warning). Only the ``report``
   split by default (``--split``); tune anything on ``tune`` only.
2. People: the BlazePose person detector (tiles as the estimator uses it, at most
   ``--max_people`` per frame); a person is kept when the heavy reference's pose score is
   >= 0.5. Frames without a kept person are dropped.
3. Models, every one given the same detections:
   * ``blazepose_lite`` / ``blazepose_full`` (``--blazepose``): the same upright ROI;
   * ``average_pose`` (``--average_pose``): the mean 2D pose of the synthetic training
     targets in their crop boxes (``--average_pose_dataset``'s generator, ``--average_pose_
     examples`` training examples), placed in the crop box our models get for the detection
     (the detector box squared and grown by the detector's ``crop_scale``, 1.1, as
     :class:`mhp_tf.PoseEstimator` crops detected people);
   * our networks (``--models=RUN_DIR_OR_FILE[,..]``) through :class:`mhp_tf.PoseEstimator`
     with the detector's boxes; ``--upright`` also passes each ROI's angle when the
     estimator accepts ``angles=`` (else the crops stay axis-aligned, with a warning).

    python -m mhp_tf.inference.fetch_models            # once: detector + landmark models
    python scripts/benchmark_real_images.py
    python scripts/benchmark_real_images.py --models=runs/quickstart --upright \
        --json=real.json --grid=real_grid.png
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from mhp_tf.evaluation import real_benchmark as rb  # noqa: E402
from mhp_tf.evaluation import real_frames  # noqa: E402
from mhp_tf.inference import blazepose as bp  # noqa: E402
from mhp_tf.inference.detector import BlazePoseDetector  # noqa: E402
from mhp_tf.inference.detector import DetectorUnavailable  # noqa: E402
from mhp_tf.postprocess.camera import process_boxes  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("sources", list(real_frames.SOURCES), "Real-frame sources.")
flags.DEFINE_enum("split", "report", ["report", "tune", "all"], "Which frames to score.")
flags.DEFINE_integer("frames_per_video", real_frames.DEFAULT_FRAMES_PER_VIDEO,
                     "Frames sampled per video (half of them tune, half report).", lower_bound=2)
flags.DEFINE_integer("max_people", 4, "At most this many detected people per frame.",
                     lower_bound=1)
flags.DEFINE_list("blazepose", ["lite", "full"], "BlazePose landmark models to compare "
                  "(the reference is heavy).")
flags.DEFINE_bool("average_pose", True, "Also score the average training pose.")
flags.DEFINE_string("average_pose_dataset", "quickstart", "Synthetic config whose generator "
                    "gives the average pose (its image size; mocap if cached).")
flags.DEFINE_integer("average_pose_examples", 300, "Training examples rendered for the "
                     "average pose.", lower_bound=1)
flags.DEFINE_list("models", [], "Our models: run folders or .keras/.tflite files.")
flags.DEFINE_bool("upright", False, "Give our models upright crops (the ROI angles) when "
                  "PoseEstimator.estimate accepts angles=.")
flags.DEFINE_float("min_reference_score", 0.5, "Keep people whose reference pose score is "
                   "at least this.")
flags.DEFINE_string("cache_dir", None, "Real-frame cache (default ~/.cache/mhp_tf/real_frames).")
flags.DEFINE_list("bbox_scales", ["detector"], "Our models' crop enlargement of the "
                  "detector's boxes: 'detector' (its crop_scale, as PoseEstimator uses it "
                  "for detected people; BlazePose: 1.1) or numbers (training crops are 1.25 "
                  "x a tight person box). Several values: every model at each, rows get a "
                  "_s<scale> suffix. Choose on --split=tune only.")
flags.DEFINE_bool("flip_test", False, "Our models also see each crop mirrored and average "
                  "it in (PoseEstimator(flip_test=True)); rows get a _flip suffix.")
flags.DEFINE_bool("side_swaps", False, "Also print, for every model but the reference, how "
                  "many people it sees with left and right exchanged (nearer the reference "
                  "once swapped) and its error with those put back.")
flags.DEFINE_bool("fetch", True, "Fetch missing sources from the registries.")
flags.DEFINE_string("json", None, "Also write the rows (and the setup) to this JSON file.")
flags.DEFINE_string("grid", None, "Also write a PNG of people with the reference (white) and "
                    "--grid_model (colour) drawn.")
flags.DEFINE_string("grid_model", None, "Model drawn in --grid (default: the last model).")
flags.DEFINE_integer("grid_people", 16, "People in --grid.", lower_bound=1)
flags.DEFINE_integer("num_threads", None, "TFLite interpreter threads.")

REFERENCE = "blazepose_heavy"


def synthetic_mean_pose(config_name: str, num_examples: int) -> np.ndarray:
    """Mean H36M-18 pose ``[18, 2]`` of a synthetic config's training examples, in their crop
    boxes (0..1 across the processed box), rendered for the exact training boxes."""
    from mhp_tf_datasets.synthetic import builder
    from mhp_tf_datasets.synthetic import generate

    configs = {c.name: c for c in builder.Synthetic.BUILDER_CONFIGS}
    if config_name not in configs:
        raise ValueError(f"--average_pose_dataset={config_name!r}; expected one of "
                         f"{sorted(configs)}")
    cfg = configs[config_name]
    gen_cfg = generate.GeneratorConfig(image_size=cfg.image_size, seed=cfg.seed, mocap="auto",
                                       procedural_fraction=cfg.procedural_fraction,
                                       download=False)
    gen = generate.ExampleGenerator(gen_cfg, "train", generate.load_clips(gen_cfg))
    indices = np.unique(np.round(np.linspace(0, cfg.num_train - 1, num_examples)).astype(int))
    joints, boxes, vis = [], [], []
    bar = tf_progbar(len(indices), "average pose")
    for k, i in enumerate(indices):
        ex = gen.example(int(i))
        crop, _ = process_boxes(ex["bbox"][None], cfg.image_size, cfg.image_size)
        joints.append(ex["joints_img"][:, :2])
        boxes.append(crop[0])
        vis.append(ex["joints_vis"])
        bar.update(k + 1)
    logging.info("average pose: %d %s training examples (mocap: %s)", len(indices),
                 config_name, gen.uses_mocap)
    return rb.mean_pose_in_crop(np.stack(joints), np.stack(boxes), np.stack(vis))


def tf_progbar(target: int, name: str):
    import tensorflow as tf

    print(f"{name}:", file=sys.stderr)
    return tf.keras.utils.Progbar(target, stateful_metrics=None, verbose=1 if sys.stderr.isatty()
                                  else 2)


def load_estimators(paths, upright: bool):
    """``{name: (PoseEstimator, passes_angles)}`` for --models (at each --bbox_scales)."""
    try:
        scales = [BlazePoseDetector.crop_scale if v == "detector" else float(v)
                  for v in FLAGS.bbox_scales]
    except ValueError:
        raise ValueError(f"--bbox_scales must be numbers or 'detector', got "
                         f"{FLAGS.bbox_scales}") from None
    if not scales or any(not v > 0 for v in scales):
        raise ValueError(f"--bbox_scales must be positive numbers, got {FLAGS.bbox_scales}")
    out = {}
    for path in paths:
        for scale in scales:
            _add_estimator(out, path, upright, scale, len(scales) > 1)
    return out


def _add_estimator(out, path, upright: bool, scale: float, suffix_scale: bool):
    """Add ``path`` at crop scale ``scale`` to ``out`` under a name of its own."""
    from mhp_tf.inference.estimator import PoseEstimator

    # the boxes come from the BlazePose detector: crops at its scale (bbox_scale is what
    # estimate() uses for given boxes)
    est = PoseEstimator(path, detector=None, num_threads=FLAGS.num_threads,
                        flip_test=FLAGS.flip_test, bbox_scale=scale)
    accepts_angles = rb.estimate_accepts_angles(est)
    if upright and not accepts_angles:
        logging.warning("--upright: this PoseEstimator.estimate has no angles= argument; "
                        "%s gets axis-aligned crops", path)
    name = os.path.basename(os.path.normpath(path))
    if name in ("model.keras",):
        name = os.path.basename(os.path.dirname(os.path.normpath(path)))
    name = os.path.splitext(name)[0]
    suffix = ("_upright" if upright and accepts_angles else "") + (
        "_flip" if FLAGS.flip_test else "") + (f"_s{scale:.2f}" if suffix_scale else "")
    if name + suffix in out:
        # Two snapshots called step_2000.keras in different runs: say which run.
        parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
        if parent == "snapshots":
            parent = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(path))))
        name = f"{parent}/{name}"
    name += suffix
    if name in out:
        raise ValueError(f"--models: {path} would be reported as {name!r}, like an earlier "
                         "model; give each model its own file or folder name")
    out[name] = (est, upright and accepts_angles)


def predict_ours(est, passes_angles: bool, image, boxes, rois):
    kwargs = {"angles": np.array([r.rotation for r in rois])} if passes_angles else {}
    results = est.estimate(image, boxes=boxes, **kwargs)
    return [rb.skeleton_to_compared(r.joints2d, est.joint_names) for r in results]


def collect(frames, detector, landmarkers, mean_pose, estimators):
    """Run the reference and every model on every detected person of every frame."""
    reference = landmarkers[REFERENCE]
    people, dropped = [], 0
    bar = tf_progbar(len(frames), "frames")
    for k, frame in enumerate(frames):
        image = frame.image
        h, w = image.shape[:2]
        dets = detector.detect(image)[:FLAGS.max_people]
        kept, rois = [], []
        for d in dets:
            roi = bp.roi_from_detection(d)
            ref = reference.predict_roi(image, roi)
            if ref.score < FLAGS.min_reference_score:
                dropped += 1
                continue
            person = rb.Person(source=frame.source, frame=frame.key, box=d.box, roi=roi,
                               reference=ref, height=rb.body_height(ref.landmarks),
                               mask=rb.scored_mask(ref, w, h))
            for name, lm in landmarkers.items():
                if name != REFERENCE:
                    person.predictions[name] = rb.blazepose_to_compared(
                        lm.predict_roi(image, roi).landmarks)
            if mean_pose is not None:
                crop, _ = process_boxes(d.box[None], w, h, scale=BlazePoseDetector.crop_scale)
                person.predictions["average_pose"] = rb.skeleton_to_compared(
                    rb.place_mean_pose(mean_pose, crop[0]), rb.H36M_JOINTS)
            kept.append(person)
            rois.append(roi)
        if kept and estimators:
            boxes = np.stack([p.box for p in kept])
            for name, (est, angles) in estimators.items():
                for p, pred in zip(kept, predict_ours(est, angles, image, boxes, rois)):
                    p.predictions[name] = pred
        people += kept
        bar.update(k + 1)
    return people, dropped


COMPARED_EDGES = ((0, 1), (0, 2), (2, 4), (1, 3), (3, 5), (0, 6), (1, 7), (6, 7), (6, 8),
                  (8, 10), (7, 9), (9, 11))


def _draw(img, pts, colour, thickness):
    for a, b in COMPARED_EDGES:
        cv2.line(img, tuple(np.round(pts[a] * 16).astype(int)),
                 tuple(np.round(pts[b] * 16).astype(int)), colour, thickness, cv2.LINE_AA, 4)
    for p in pts:
        cv2.circle(img, tuple(np.round(p * 16).astype(int)), 2 * 16, colour, -1, cv2.LINE_AA, 4)


def write_grid(path, people, frames_by_key, model, count, size=256):
    from mhp_tf.visualize import image_grid

    step = max(1, len(people) // count)
    tiles = []
    for p in people[::step][:count]:
        image = frames_by_key[p.frame]
        x, y, w, h = p.box
        side = max(w, h) * 1.25
        x0, y0 = x + w / 2 - side / 2, y + h / 2 - side / 2
        m = np.array([[size / side, 0, -x0 * size / side], [0, size / side, -y0 * size / side]])
        tile = cv2.warpAffine(image, m, (size, size), borderMode=cv2.BORDER_CONSTANT)
        to_tile = lambda q: q @ m[:, :2].T + m[:, 2]  # noqa: E731
        _draw(tile, to_tile(rb.blazepose_to_compared(p.reference.landmarks)), (255, 255, 255), 3)
        if model in p.predictions:
            _draw(tile, to_tile(p.predictions[model]), (255, 60, 200), 2)
        cv2.putText(tile, p.frame, (4, size - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1,
                    cv2.LINE_AA)
        tiles.append(tile)
    grid = image_grid(tiles, columns=4)
    cv2.imwrite(path, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))


def main(argv):
    del argv
    start = time.time()
    try:
        detector = BlazePoseDetector(num_threads=FLAGS.num_threads)
        names = ["heavy"] + [n for n in FLAGS.blazepose if n and n != "heavy"]
        landmarkers = {f"blazepose_{n}": bp.BlazePoseLandmarker(n, num_threads=FLAGS.num_threads)
                       for n in names}
    except (DetectorUnavailable, bp.LandmarkModelUnavailable, ValueError) as e:
        print(f"benchmark_real_images: {e}", file=sys.stderr)
        return 1
    estimators = load_estimators(FLAGS.models, FLAGS.upright) if FLAGS.models else {}
    frames, skipped = real_frames.load_frames(FLAGS.sources, FLAGS.split, FLAGS.frames_per_video,
                                              FLAGS.cache_dir, FLAGS.fetch)
    for name, why in skipped.items():
        print(f"skipped source {name}: {why}", file=sys.stderr)
    if not frames:
        print("benchmark_real_images: no frames (every source was skipped)", file=sys.stderr)
        return 1
    mean_pose = (synthetic_mean_pose(FLAGS.average_pose_dataset, FLAGS.average_pose_examples)
                 if FLAGS.average_pose else None)
    people, dropped = collect(frames, detector, landmarkers, mean_pose, estimators)
    if not people:
        print("benchmark_real_images: the detector found nobody the reference accepts",
              file=sys.stderr)
        return 1
    models = [n for n in landmarkers if n != REFERENCE] + \
        (["average_pose"] if mean_pose is not None else []) + list(estimators)
    rows = rb.score_table(people, models)
    print(f"\nReal frames ({FLAGS.split} split, {len(set(p.frame for p in people))} of "
          f"{len(frames)} frames with a person; {len(people)} people, {dropped} detections the "
          f"reference rejected). Reference: {REFERENCE} on upright ROIs; error = mean |pred - "
          f"ref| / body height over the 12 joints the reference sees.\n")
    print(rb.format_table(rows))
    swaps = []
    if FLAGS.side_swaps:
        print("\nLeft/right exchanged (people nearer the reference with their sides swapped; "
              "error with those put back):")
        for name in [n for n in landmarkers if n != REFERENCE] + list(estimators):
            for r in rb.side_swap_table(people, name):
                swaps.append(r)
                print(f"{r['source']:<18}{r['model']:<28} {r['swapped']:>3} of {r['people']:>3} "
                      f"people  error {r['error_pct']:.1f} % -> {r['error_pct_unswapped']:.1f} %")
    print(f"\n{time.time() - start:.0f} s")
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump({"split": FLAGS.split, "reference": REFERENCE, "skipped": skipped,
                       "frames_per_video": FLAGS.frames_per_video, "rows": rows,
                       "compared_joints": list(rb.COMPARED_JOINTS),
                       **({"side_swaps": swaps} if swaps else {})}, f, indent=1)
        print(f"wrote {FLAGS.json}")
    if FLAGS.grid:
        model = FLAGS.grid_model or models[-1]
        write_grid(FLAGS.grid, people, {f.key: f.image for f in frames}, model, FLAGS.grid_people)
        print(f"wrote {FLAGS.grid} (white: {REFERENCE}, magenta: {model})")
    return 0


if __name__ == "__main__":
    app.run(main)
