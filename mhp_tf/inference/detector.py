"""Person detectors for the top-down pipeline: BlazePose (MediaPipe) and OpenCV's HOG.

A detector is a callable ``detector(image) -> (boxes [N, 4], scores [N])`` on an RGB
uint8 image ``[H, W, 3]``; boxes are ``(x, y, w, h)`` in image pixels, best first.
:meth:`PersonDetector.detect` returns richer :class:`Detection` records.

BlazePose person detector
-------------------------
``pose_detection.tflite`` from the ``mediapipe==0.10.21`` wheel (Apache-2.0),
installed by ``python -m mhp_tf.inference.fetch_models``; never downloaded at
inference time. Our decoding follows MediaPipe's public graph
``mediapipe/modules/pose_detection/pose_detection_cpu.pbtxt``:

* Input: the image letterboxed (aspect ratio kept, black padding) to 224 x 224 RGB,
  bilinear, scaled to [-1, 1].
* 2254 SSD anchors (``SsdAnchorsCalculator``: 5 layers, strides 8, 16, 32, 32, 32,
  scales 0.1484375 .. 0.75, one aspect ratio 1.0 plus the interpolated-scale anchor,
  offsets 0.5, ``fixed_anchor_size``: every anchor is 1 x 1). Layers with the same
  stride share one grid: 28 x 28 x 2 + 14 x 14 x 2 + 7 x 7 x 6 = 2254 anchors, in
  row-major cell order, anchors of a cell consecutive.
* Outputs: regressors ``[1, 2254, 12]`` (box centre x, y, width, height, then 4
  keypoints x, y -- ``reverse_output_order``: x before y) in 224-pixel units relative
  to the anchor centre, and score logits ``[1, 2254, 1]``. Decoding:
  ``x = raw / 224 * anchor_w + anchor_x`` (same for y, keypoints), ``w = raw / 224 *
  anchor_w``; score ``sigmoid(clip(logit, -100, 100))``, kept above 0.2.
* Weighted non-maximum suppression (``NonMaxSuppressionCalculator``, ``WEIGHTED``,
  IoU threshold 0.3): the best remaining detection absorbs every detection that
  overlaps it by IoU > 0.3; box and keypoints become the score-weighted mean of the
  group, the score stays the best one's.
* The letterbox is removed and the detection is mapped to image pixels.

The model's own box is the *face*. Its 4 keypoints are the mid-hip centre, a point
whose distance from it gives the full-body size (and rotation), the mid-shoulder
centre and the upper-body size point. As MediaPipe's ``PoseDetectionToRoi`` does, the
person box is the square centred on the mid-hip with side twice the hip-to-scale-
point distance (``AlignmentPointsRectsCalculator``), and :attr:`Detection.angle` is
the rotation that turns the hip -> scale-point vector upright (target angle 90
degrees). The box is kept as the axis-aligned square (centre and side say it all);
the crop is turned by the angle only for upright crops
(:mod:`mhp_tf.postprocess.upright`), and the margin is left to the pose pipeline's
1.25x box enlargement (MediaPipe enlarges by 1.25 too). Detections scoring below
``min_score`` (0.5, MediaPipe's default ``min_detection_confidence``) are dropped.

HOG people detector
-------------------
OpenCV 4.x ``HOGDescriptor`` with ``getDefaultPeopleDetector()`` (Dalal & Triggs
linear SVM, 64 x 128 window), multi-scale. Images are upscaled so that people
down to ``min_person_height`` pixels fit the window. Its raw windows contain a
margin (the person is about the central 96 x 64 px of 128 x 64), so boxes are
shrunk to that part. The score is ``sigmoid(svm_margin)`` (not calibrated); NMS
at IoU 0.4. It finds upright, walking/standing people only.

``make_detector('auto')`` uses BlazePose when its model is installed and HOG otherwise.
"""

import dataclasses
import os
from typing import Callable, List, Optional, Sequence, Tuple, Union

from absl import logging
import cv2
import numpy as np

from mhp_tf.fileio import sha256_of  # noqa: F401  (re-exported for fetch_models)
from mhp_tf.postprocess.camera import validate_image
from mhp_tf.postprocess.upright import roi_from_keypoints

# ----------------------------------------------------------------------------- model files

MEDIAPIPE_VERSION = "0.10.21"
BLAZEPOSE_MEMBER = "mediapipe/modules/pose_detection/pose_detection.tflite"
BLAZEPOSE_FILE = "pose_detection.tflite"
# sha256 of pose_detection.tflite in the mediapipe 0.10.21 wheels.
BLAZEPOSE_SHA256 = "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"
CACHE_ENV = "MHP_TF_MODEL_CACHE"
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "mhp_tf", "models")
FETCH_COMMAND = "python -m mhp_tf.inference.fetch_models"


def model_cache_dir(path: Optional[str] = None) -> str:
    """``path``, else ``$MHP_TF_MODEL_CACHE``, else ``~/.cache/mhp_tf/models``."""
    path = path or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    return os.path.abspath(os.path.expanduser(path))


def blazepose_model_path(cache_dir: Optional[str] = None) -> str:
    return os.path.join(model_cache_dir(cache_dir), BLAZEPOSE_FILE)


def blazepose_available(cache_dir: Optional[str] = None) -> bool:
    """True when the BlazePose detector model has been fetched into the cache."""
    return os.path.isfile(blazepose_model_path(cache_dir))


class DetectorUnavailable(RuntimeError):
    """A detector's model or library is missing; the message says how to get it."""


# ----------------------------------------------------------------------------- records


@dataclasses.dataclass
class Detection:
    """One detected person.

    Attributes:
      box: ``[4]`` ``(x, y, w, h)`` person box, image pixels.
      score: detection score in [0, 1] (BlazePose: the model's sigmoid score; HOG:
        ``sigmoid(svm_margin)``).
      keypoints: BlazePose only: ``[4, 2]`` px (mid-hip, full-body scale point,
        mid-shoulder, upper-body scale point); None for HOG.
      face_box: BlazePose only: the model's face box ``(x, y, w, h)`` px.
      angle: the body axis's angle in radians, clockwise on screen from image up
        (BlazePose: of the mid-hip -> full-body scale point vector, MediaPipe's ROI
        rotation; :mod:`mhp_tf.postprocess.upright`); 0 for detectors without keypoints.
    """

    box: np.ndarray
    score: float
    keypoints: Optional[np.ndarray] = None
    face_box: Optional[np.ndarray] = None
    angle: float = 0.0


def iou_xyxy(box, boxes) -> np.ndarray:
    """IoU of one ``(x1, y1, x2, y2)`` box with ``[N, 4]`` boxes."""
    box = np.asarray(box, np.float64)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), -1)
    area = np.prod(np.clip(box[2:] - box[:2], 0, None))
    areas = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), -1)
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def hard_nms(boxes_xyxy, scores, threshold: float) -> List[int]:
    """Indices kept by greedy NMS (highest score first; IoU > ``threshold`` suppressed)."""
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    keep = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        if order:
            ious = iou_xyxy(boxes_xyxy[i], boxes_xyxy[order])
            order = [o for o, v in zip(order, ious) if v <= threshold]
    return keep


def drop_nested_duplicates(detections: Sequence["Detection"], contain: float = 0.85,
                           hip_distance: float = 0.5) -> List["Detection"]:
    """Drop the second sightings of one person that IoU-based NMS lets through.

    Searching tiles and the whole image, the BlazePose detector often sees one person twice:
    once well framed and once as a larger box around the same body, tilted, with its
    mid-hip point shifted (IoU only 0.3-0.5, because the boxes differ in size). Two
    detections are taken for one person when the smaller box lies at least ``contain``
    inside the larger (intersection over the smaller area) and their box centres (for
    BlazePose, the mid-hip keypoints the boxes are centred on) are closer than
    ``hip_distance`` times the smaller box's side. The better-scoring one is kept. Two real
    people nest this way only when one stands almost exactly behind the other.
    """
    def same_person(a, b) -> bool:
        a, b = np.asarray(a.box, np.float64), np.asarray(b.box, np.float64)
        smaller = min(_area(a), _area(b))
        if smaller <= 0 or _area(_intersect(a, b)) < contain * smaller:
            return False
        gap = np.linalg.norm((a[:2] + a[2:] / 2) - (b[:2] + b[2:] / 2))
        return gap <= hip_distance * min(a[2], a[3], b[2], b[3])

    kept: List[Detection] = []
    for d in sorted(detections, key=lambda d: -d.score):
        if not any(same_person(d, k) for k in kept):
            kept.append(d)
    return kept


class PersonDetector:
    """Base class. Subclasses implement :meth:`detect`.

    ``crop_scale``: the enlargement of this detector's boxes that frames a person in a
    pose crop as the training crops do (1.25 x a tight person box); None: the
    estimator's ``bbox_scale`` (boxes about as tight as a person box).
    """

    name = "detector"
    crop_scale: Optional[float] = None

    def detect(self, image: np.ndarray) -> List[Detection]:
        raise NotImplementedError

    def __call__(self, image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        dets = self.detect(image)
        boxes = np.array([d.box for d in dets], np.float64).reshape(-1, 4)
        scores = np.array([d.score for d in dets], np.float64)
        return boxes, scores


def _check_rgb_uint8(image) -> np.ndarray:
    image = validate_image(image, dtypes=(np.uint8, np.float32))
    if image.dtype != np.uint8:
        image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return image


# ----------------------------------------------------------------------------- BlazePose


@dataclasses.dataclass(frozen=True)
class SsdAnchorOptions:
    """The subset of MediaPipe's ``SsdAnchorsCalculatorOptions`` used by pose detection."""

    input_size_height: int = 224
    input_size_width: int = 224
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    strides: Tuple[int, ...] = (8, 16, 32, 32, 32)
    aspect_ratios: Tuple[float, ...] = (1.0,)
    interpolated_scale_aspect_ratio: float = 1.0
    fixed_anchor_size: bool = True


def _anchor_scale(min_scale, max_scale, index, count):
    if count == 1:
        return (min_scale + max_scale) * 0.5
    return min_scale + (max_scale - min_scale) * index / (count - 1.0)


def ssd_anchors(options: SsdAnchorOptions = SsdAnchorOptions()) -> np.ndarray:
    """SSD anchors ``[N, 4]`` = ``(x_center, y_center, w, h)``, normalised to [0, 1].

    Layers with equal consecutive strides share one feature map; each of their
    layers adds one anchor per aspect ratio plus, when
    ``interpolated_scale_aspect_ratio > 0``, one at the geometric mean of its scale
    and the next layer's (1.0 after the last). With ``fixed_anchor_size`` every
    anchor's size is 1 x 1 (the regressors then carry the full size).
    """
    o = options
    n = len(o.strides)
    anchors = []
    layer = 0
    while layer < n:
        scales, ratios = [], []
        last = layer
        while last < n and o.strides[last] == o.strides[layer]:
            scale = _anchor_scale(o.min_scale, o.max_scale, last, n)
            for ratio in o.aspect_ratios:
                ratios.append(ratio)
                scales.append(scale)
            if o.interpolated_scale_aspect_ratio > 0:
                nxt = 1.0 if last == n - 1 else _anchor_scale(o.min_scale, o.max_scale,
                                                              last + 1, n)
                scales.append(np.sqrt(scale * nxt))
                ratios.append(o.interpolated_scale_aspect_ratio)
            last += 1
        heights = [s / np.sqrt(r) for s, r in zip(scales, ratios)]
        widths = [s * np.sqrt(r) for s, r in zip(scales, ratios)]
        stride = o.strides[layer]
        fh = int(np.ceil(o.input_size_height / stride))
        fw = int(np.ceil(o.input_size_width / stride))
        for y in range(fh):
            for x in range(fw):
                for k in range(len(scales)):
                    w, h = (1.0, 1.0) if o.fixed_anchor_size else (widths[k], heights[k])
                    anchors.append(((x + o.anchor_offset_x) / fw, (y + o.anchor_offset_y) / fh,
                                    w, h))
        layer = last
    return np.asarray(anchors, np.float64)


def weighted_nms(boxes_xyxy: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 threshold: float = 0.3):
    """MediaPipe's ``WEIGHTED`` NMS: returns ``(boxes, keypoints, scores)`` of the groups.

    Highest score first; the group of a detection is every remaining detection
    (itself included) with IoU > ``threshold``; its box and keypoints are the
    score-weighted means over the group, its score the leader's.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = list(order)
    out_b, out_k, out_s = [], [], []
    while remaining:
        lead = remaining[0]
        ious = iou_xyxy(boxes_xyxy[lead], boxes_xyxy[remaining])
        group = [r for r, v in zip(remaining, ious) if v > threshold]
        if not group:
            group = [lead]
        w = scores[group][:, None]
        out_b.append((boxes_xyxy[group] * w).sum(0) / w.sum())
        out_k.append((keypoints[group] * w[:, :, None]).sum(0) / w.sum())
        out_s.append(scores[lead])
        remaining = [r for r in remaining if r not in set(group)]
    return (np.array(out_b).reshape(-1, 4), np.array(out_k).reshape(-1, *keypoints.shape[1:]),
            np.array(out_s))


class BlazePoseDetector(PersonDetector):
    """MediaPipe's BlazePose person detector (module docstring for the decoding).

    Args:
      model_path: the ``.tflite`` file (default: the fetched model in the cache).
      min_score: final score threshold (MediaPipe default 0.5).
      nms_threshold: IoU above which detections are merged (MediaPipe: 0.3).
      raw_score_threshold: per-anchor threshold before NMS (MediaPipe: 0.2).
      max_people: keep at most this many detections (None: all).
      num_threads: TFLite interpreter threads (None: the runtime's default).
      tile_levels: besides the whole image, also search square tiles of side
        ``min(H, W)`` (level 1) and ``min(H, W) / 2`` (level 2), overlapping by a third:
        BlazePose only finds people that fill a good part of its 224 x 224 input
        (about a third of the image height), so small people need tiles. 0: whole image
        only (one inference; 1 + 2-3 + ~12 inferences of ~20 ms at levels 1 and 2).
      min_tile: tiles smaller than this (px) are not searched.
      min_inside: a tile's detection counts only if this share of its box (within the
        image) lies inside the tile.
      merge_threshold: IoU above which detections from different windows are the same
        person (the best-scoring one is kept).
      nested_threshold: after that, a detection whose box and another's nest (the
        smaller at least this much inside the larger) with mid-hips closer than half the
        smaller side is the same person seen twice (:func:`drop_nested_duplicates`);
        ``None`` keeps them all.
    """

    name = "blazepose"
    # Its square spans the whole body with a margin (side / nose-to-ankle chain length:
    # median 1.42 on the real-frame benchmark's small pedestrians, 1.20 on its athletes),
    # so it is enlarged less than a tight box. Chosen on the benchmark's tune split
    # (scripts/benchmark_real_images.py --bbox_scales=1.0,1.1,1.25,1.4,1.6 --split=tune:
    # xs_synthetic 12.5, 12.3, 13.8, 13.5, 14.7 % error); report split 12.2 % vs 12.7 %
    # at 1.25 (BUILD.md, "Crops of detected people").
    crop_scale = 1.1
    INPUT_SIZE = 224
    NUM_ANCHORS = 2254

    def __init__(self, model_path: Optional[str] = None, min_score: float = 0.5,
                 nms_threshold: float = 0.3, raw_score_threshold: float = 0.2,
                 max_people: Optional[int] = None, num_threads: Optional[int] = None,
                 tile_levels: int = 2, min_tile: int = 112, min_inside: float = 0.8,
                 merge_threshold: float = 0.5, nested_threshold: Optional[float] = 0.85):
        from mhp_tf.inference.backends import load_tflite_interpreter

        if nested_threshold is not None and not 0.0 < nested_threshold <= 1.0:
            raise ValueError(f"nested_threshold must be in (0, 1] or None, got {nested_threshold}")
        path = model_path or blazepose_model_path()
        if not os.path.isfile(path):
            raise DetectorUnavailable(
                f"the BlazePose detector model is not installed ({path} is missing). Fetch it "
                f"once with `{FETCH_COMMAND}` (downloads the mediapipe=={MEDIAPIPE_VERSION} "
                "wheel with pip and extracts pose_detection.tflite), or use detector='hog'.")
        self.model_path = path
        self.min_score = float(min_score)
        self.nms_threshold = float(nms_threshold)
        self.raw_score_threshold = float(raw_score_threshold)
        self.max_people = max_people
        self.tile_levels = int(tile_levels)
        self.min_tile = int(min_tile)
        self.min_inside = float(min_inside)
        self.merge_threshold = float(merge_threshold)
        self.nested_threshold = nested_threshold
        self.interpreter = load_tflite_interpreter(path, num_threads)
        inp = self.interpreter.get_input_details()
        outs = self.interpreter.get_output_details()
        if len(inp) != 1 or tuple(inp[0]["shape"]) != (1, 224, 224, 3) or len(outs) != 2:
            raise ValueError(f"{path} is not MediaPipe's pose detector (input "
                             f"{[tuple(i['shape']) for i in inp]}, {len(outs)} outputs)")
        self._input = inp[0]["index"]
        by_last = {int(o["shape"][-1]): o["index"] for o in outs}
        if set(by_last) != {12, 1}:
            raise ValueError(f"{path}: unexpected outputs {[tuple(o['shape']) for o in outs]}")
        self._regressors, self._scores = by_last[12], by_last[1]
        self.anchors = ssd_anchors()
        assert len(self.anchors) == self.NUM_ANCHORS

    def preprocess(self, image: np.ndarray):
        """Letterbox to 224 x 224 in [-1, 1]; returns ``(tensor [1, 224, 224, 3], scale, offset)``
        with ``tensor_px = image_px * scale + offset``."""
        h, w = image.shape[:2]
        size = self.INPUT_SIZE
        scale = size / max(h, w)
        offset = np.array([size / 2.0 - scale * w / 2.0, size / 2.0 - scale * h / 2.0])
        m = np.array([[scale, 0.0, offset[0]], [0.0, scale, offset[1]]])
        # INTER_AREA would alias less, but MediaPipe's own converter warps bilinearly.
        tensor = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        tensor = tensor.astype(np.float32) / 127.5 - 1.0
        return tensor[None], scale, offset

    def raw_detections(self, image: np.ndarray):
        """Decoded detections before NMS: ``(boxes_xyxy [N, 4], keypoints [N, 4, 2],
        scores [N])`` in 224-pixel tensor coordinates, plus ``(scale, offset)``."""
        tensor, scale, offset = self.preprocess(image)
        it = self.interpreter
        it.set_tensor(self._input, tensor)
        it.invoke()
        raw = it.get_tensor(self._regressors)[0].astype(np.float64)  # [2254, 12]
        logits = it.get_tensor(self._scores)[0, :, 0].astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0)))
        keep = scores >= self.raw_score_threshold
        raw, scores, a = raw[keep], scores[keep], self.anchors[keep]
        size = float(self.INPUT_SIZE)
        # Normalised [0, 1] coordinates, then 224-pixel units.
        cx = raw[:, 0] / size * a[:, 2] + a[:, 0]
        cy = raw[:, 1] / size * a[:, 3] + a[:, 1]
        bw = raw[:, 2] / size * a[:, 2]
        bh = raw[:, 3] / size * a[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1) * size
        kx = raw[:, 4::2] / size * a[:, 2:3] + a[:, 0:1]
        ky = raw[:, 5::2] / size * a[:, 3:4] + a[:, 1:2]
        keypoints = np.stack([kx, ky], -1) * size
        return boxes, keypoints, scores, scale, offset

    def detect_window(self, image: np.ndarray, x0: int = 0, y0: int = 0) -> List[Detection]:
        """Detections in one image (or tile whose top-left is ``(x0, y0)`` in the full image),
        after weighted NMS and ``min_score``; boxes in full-image pixels."""
        boxes, keypoints, scores, scale, offset = self.raw_detections(image)
        if not len(scores):
            return []
        boxes, keypoints, scores = weighted_nms(boxes, keypoints, scores, self.nms_threshold)
        shift = np.array([x0, y0], np.float64)
        dets = []
        for b, k, s in zip(boxes, keypoints, scores):
            if s < self.min_score:
                continue
            b_img = (b.reshape(2, 2) - offset) / scale + shift
            k_img = (k - offset) / scale + shift
            box, angle = roi_from_keypoints(k_img[0], k_img[1])
            if not box[2] > 0:
                continue
            face = np.concatenate([b_img[0], b_img[1] - b_img[0]])
            dets.append(Detection(box=box, score=float(s), keypoints=k_img, face_box=face,
                                  angle=angle))
        return dets

    def windows(self, height: int, width: int) -> List[Tuple[int, int, int]]:
        """``(x0, y0, side)`` of the search windows: the whole image (``side`` 0), then square
        tiles of side ``min(H, W) / 2^(level - 1)`` overlapping by a third, per level."""
        wins = [(0, 0, 0)]
        short = min(height, width)
        for level in range(1, self.tile_levels + 1):
            side = int(round(short / 2 ** (level - 1)))
            if side < self.min_tile:
                break
            stride = max(1, int(round(side * 2 / 3)))
            xs = _tile_starts(width, side, stride)
            ys = _tile_starts(height, side, stride)
            if level == 1 and len(xs) == 1 and len(ys) == 1:
                continue  # a square image: the tile is the whole image
            wins += [(x, y, side) for y in ys for x in xs]
        return wins

    def detect(self, image: np.ndarray) -> List[Detection]:
        image = _check_rgb_uint8(image)
        h, w = image.shape[:2]
        found: List[Detection] = []
        for x0, y0, side in self.windows(h, w):
            if side == 0:
                found += self.detect_window(image)
                continue
            tile = image[y0:y0 + side, x0:x0 + side]
            for d in self.detect_window(tile, x0, y0):
                # A person cut by the tile border (not the image border) is left to the
                # window that sees it whole.
                in_image = _area(_intersect(d.box, (0, 0, w, h)))
                in_tile = _area(_intersect(d.box, (x0, y0, side, side)))
                if in_image > 0 and in_tile >= self.min_inside * in_image:
                    found.append(d)
        found = [d for d in found if _overlaps_image(d.box, w, h)]
        if not found:
            return []
        boxes = np.array([d.box for d in found])
        xyxy = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
        keep = hard_nms(xyxy, np.array([d.score for d in found]), self.merge_threshold)
        dets = [found[i] for i in keep]
        if self.nested_threshold is not None:
            dets = drop_nested_duplicates(dets, self.nested_threshold)
        if self.max_people is not None:
            dets = dets[:self.max_people]
        return dets


def _tile_starts(length: int, side: int, stride: int) -> List[int]:
    if side >= length:
        return [0]
    starts = list(range(0, length - side, stride)) + [length - side]
    return sorted(set(starts))


def _intersect(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return (x1, y1, max(0.0, x2 - x1), max(0.0, y2 - y1))


def _area(box) -> float:
    return float(box[2] * box[3])


def _overlaps_image(box, width, height) -> bool:
    x, y, bw, bh = box
    return x + bw > 0 and y + bh > 0 and x < width - 1 and y < height - 1


# ----------------------------------------------------------------------------- HOG


class HOGDetector(PersonDetector):
    """OpenCV's HOG + linear SVM people detector (module docstring).

    Args:
      min_score: threshold on ``sigmoid(svm_margin)`` (0.5 = margin 0).
      nms_threshold: IoU above which the weaker of two boxes is dropped.
      min_person_height: smallest person (px) to look for; the image is upscaled
        so such a person fills the detector window (at most 2x).
      max_side: larger images are downscaled to this side first (speed).
      win_stride, scale: ``detectMultiScale`` parameters.
      max_people: keep at most this many (None: all).
    """

    name = "hog"
    # The person inside the 64 x 128 window: about 64 % of its width, 78 % of its height.
    KEEP_W = 0.64
    KEEP_H = 0.78

    def __init__(self, min_score: float = 0.5, nms_threshold: float = 0.4,
                 min_person_height: float = 100.0, max_side: int = 1280,
                 win_stride: int = 8, scale: float = 1.05, max_people: Optional[int] = None):
        if not hasattr(cv2, "HOGDescriptor"):
            raise DetectorUnavailable(
                f"OpenCV {cv2.__version__} has no HOGDescriptor (removed in 5.x); install "
                "opencv-python-headless<5 or fetch the BlazePose detector with "
                f"`{FETCH_COMMAND}`")
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.min_score = float(min_score)
        self.nms_threshold = float(nms_threshold)
        self.min_person_height = float(min_person_height)
        self.max_side = int(max_side)
        self.win_stride = int(win_stride)
        self.scale = float(scale)
        self.max_people = max_people

    def detect(self, image: np.ndarray) -> List[Detection]:
        image = _check_rgb_uint8(image)
        h, w = image.shape[:2]
        factor = min(2.0, max(1.0, 128.0 * self.KEEP_H / self.min_person_height))
        factor = min(factor, self.max_side / max(h, w))
        small = image if factor == 1.0 else cv2.resize(
            image, (max(1, round(w * factor)), max(1, round(h * factor))),
            interpolation=cv2.INTER_LINEAR if factor > 1 else cv2.INTER_AREA)
        if small.shape[0] < 128 or small.shape[1] < 64:
            return []
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        rects, weights = self.hog.detectMultiScale(
            gray, winStride=(self.win_stride, self.win_stride), padding=(8, 8),
            scale=self.scale)
        if len(rects) == 0:
            return []
        rects = np.asarray(rects, np.float64).reshape(-1, 4) / factor
        margins = np.asarray(weights, np.float64).reshape(-1)
        scores = 1.0 / (1.0 + np.exp(-margins))
        keep = scores >= self.min_score
        rects, scores = rects[keep], scores[keep]
        if not len(rects):
            return []
        # Shrink the window to the person inside it (same centre).
        cx = rects[:, 0] + rects[:, 2] / 2
        cy = rects[:, 1] + rects[:, 3] / 2
        bw, bh = rects[:, 2] * self.KEEP_W, rects[:, 3] * self.KEEP_H
        boxes = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1)
        xyxy = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
        order = hard_nms(xyxy, scores, self.nms_threshold)
        dets = [Detection(box=boxes[i], score=float(scores[i])) for i in order]
        if self.max_people is not None:
            dets = dets[:self.max_people]
        return dets


# ----------------------------------------------------------------------------- factory


class CallableDetector(PersonDetector):
    """Wraps ``fn(image) -> boxes [N, 4]`` or ``(boxes, scores)``."""

    name = "callable"

    def __init__(self, fn: Callable):
        self.fn = fn

    def detect(self, image: np.ndarray) -> List[Detection]:
        out = self.fn(image)
        if isinstance(out, tuple) and len(out) == 2:
            boxes, scores = out
        else:
            boxes, scores = out, None
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scores = np.ones(len(boxes)) if scores is None else np.asarray(scores, np.float64)
        if scores.shape != (len(boxes),):
            raise ValueError(f"the detector returned {len(boxes)} boxes but scores of shape "
                             f"{scores.shape}")
        return [Detection(box=b, score=float(s)) for b, s in zip(boxes, scores)]


DetectorSpec = Union[None, str, Callable, PersonDetector]
DETECTOR_NAMES: Sequence[str] = ("auto", "blazepose", "hog")


def make_detector(spec: DetectorSpec = "auto", **kwargs) -> Optional[PersonDetector]:
    """A detector from ``'auto'``, ``'blazepose'``, ``'hog'``, None, a callable or an instance.

    ``'auto'``: BlazePose when fetched (``python -m mhp_tf.inference.fetch_models``), else
    HOG (logged). Raises :class:`DetectorUnavailable` when the named one cannot run.
    ``kwargs`` go to the detector's constructor.
    """
    if spec is None or isinstance(spec, PersonDetector):
        return spec
    if isinstance(spec, str):
        if spec == "blazepose":
            return BlazePoseDetector(**kwargs)
        if spec == "hog":
            return HOGDetector(**kwargs)
        if spec == "auto":
            if blazepose_available():
                return BlazePoseDetector(**kwargs)
            try:
                det = HOGDetector(**kwargs)
            except DetectorUnavailable:
                raise DetectorUnavailable(
                    "no person detector available: the BlazePose model is not fetched (run "
                    f"`{FETCH_COMMAND}`) and this OpenCV has no HOG detector") from None
            logging.info("person detector: OpenCV HOG (fetch BlazePose with `%s` for a better "
                         "one)", FETCH_COMMAND)
            return det
        raise ValueError(f"detector={spec!r}; expected one of {list(DETECTOR_NAMES)}, None or a "
                         "callable")
    if callable(spec):
        return CallableDetector(spec)
    raise ValueError(f"detector must be a name, None or a callable, got {type(spec).__name__}")
