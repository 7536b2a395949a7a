"""Tracking people across video frames from their own keypoints (MoVNect style).

MoVNect (Hwang et al., WACV 2020, section 3.1 "Inference") crops each frame with a
box derived from the previous frame's 2D keypoints, with a buffer of 0.2 x the
keypoints' height vertically and 0.4 x their width horizontally, smoothed over
frames with a momentum of 0.75; keypoints and 3D joints are smoothed with the
1-Euro filter (section 3.3). A person detector is only needed to start tracks
and when tracking is lost.

Here several people are tracked at once: each frame's poses are associated with
the existing tracks by the IoU of their keypoint boxes with the tracks' boxes,
matched greedily (highest IoU first; no Hungarian solver, scipy is not a runtime
dependency). NumPy only.

Typical loop::

    tracker = PoseTracker()
    for frame in video:
        boxes = detector(frame) if tracker.needs_detection else tracker.boxes()
        keypoints2d, scores, poses3d = estimate(frame, boxes)   # one row per box
        tracks = tracker.update(keypoints2d, scores, poses3d, timestamp=t,
                                from_detection=tracker.needs_detection)
"""

import dataclasses
import itertools
from typing import List, Optional, Tuple

import numpy as np

from mhp_tf.postprocess.filters import DEFAULT_2D
from mhp_tf.postprocess.filters import DEFAULT_3D
from mhp_tf.postprocess.filters import OneEuroFilter
from mhp_tf.postprocess.filters import OneEuroParams

# MoVNect's buffer (total, split evenly between the two sides) and box momentum.
MARGIN_X = 0.4
MARGIN_Y = 0.2
BOX_MOMENTUM = 0.75


def box_from_keypoints(keypoints, scores=None, min_score: float = 0.3,
                       margin_x: float = MARGIN_X, margin_y: float = MARGIN_Y) -> np.ndarray:
    """Person box ``[4]`` = ``(x, y, w, h)`` around the confident 2D keypoints ``[J, 2]``.

    The extent of the keypoints with ``scores >= min_score`` (all of them when
    ``scores`` is None) grows by ``margin_y x height`` vertically and ``margin_x x
    width`` horizontally, half on each side (MoVNect: 0.2 and 0.4; we read the
    buffer as the total growth, which matches the 1.2x keypoint boxes of the
    3DMPPE annotations vertically). Raises ``ValueError`` with fewer than 2
    confident keypoints.
    """
    kp = np.asarray(keypoints, np.float64)
    if kp.ndim != 2 or kp.shape[1] != 2:
        raise ValueError(f"keypoints must be [J, 2], got shape {kp.shape}")
    keep = np.all(np.isfinite(kp), 1)
    if scores is not None:
        s = np.asarray(scores, np.float64)
        if s.shape != kp.shape[:1]:
            raise ValueError(f"scores must be [J={len(kp)}], got shape {s.shape}")
        keep &= s >= min_score
    if keep.sum() < 2:
        raise ValueError(f"need at least 2 confident keypoints for a box, got {int(keep.sum())}")
    lo, hi = kp[keep].min(0), kp[keep].max(0)
    size = hi - lo
    grow = size * np.array([margin_x, margin_y])
    return np.concatenate([lo - grow / 2.0, size + grow])


def smooth_box(previous, current, momentum: float = BOX_MOMENTUM) -> np.ndarray:
    """``momentum * previous + (1 - momentum) * current`` (``previous`` None: ``current``)."""
    current = np.asarray(current, np.float64)
    if previous is None:
        return current.copy()
    return momentum * np.asarray(previous, np.float64) + (1.0 - momentum) * current


def box_iou(boxes_a, boxes_b) -> np.ndarray:
    """IoU ``[N, M]`` between ``(x, y, w, h)`` boxes ``[N, 4]`` and ``[M, 4]``."""
    a = np.asarray(boxes_a, np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), -1)
    area_a = np.prod(np.clip(a[:, 2:], 0.0, None), -1)
    area_b = np.prod(np.clip(b[:, 2:], 0.0, None), -1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def greedy_match(iou, threshold: float) -> List[Tuple[int, int]]:
    """Greedy one-to-one matching on ``iou [N, M]``: highest pair first, pairs >= ``threshold``.

    Returns ``(row, column)`` pairs. Unlike matching row by row, the result does not
    depend on the order of the rows or columns (ties aside).
    """
    iou = np.asarray(iou, np.float64)
    pairs = []
    if iou.size == 0:
        return pairs
    order = np.argsort(-iou, axis=None, kind="stable")
    used_r, used_c = set(), set()
    for flat in order:
        r, c = np.unravel_index(flat, iou.shape)
        if iou[r, c] < threshold:
            break
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        pairs.append((int(r), int(c)))
    return pairs


@dataclasses.dataclass(eq=False)
class Track:
    """One tracked person.

    Attributes:
      track_id: stable id (never reused by the tracker).
      box: smoothed ``(x, y, w, h)`` box to crop the next frame with.
      keypoints2d: 1-Euro filtered 2D keypoints ``[J, 2]`` (px).
      scores: the last keypoint confidences ``[J]``.
      pose3d: 1-Euro filtered 3D joints ``[J, 3]`` (mm), None when not given.
      hits: frames with an associated pose; missed: consecutive frames without.
    """

    track_id: int
    box: np.ndarray
    keypoints2d: np.ndarray
    scores: np.ndarray
    pose3d: Optional[np.ndarray]
    filter2d: OneEuroFilter = dataclasses.field(repr=False)
    filter3d: OneEuroFilter = dataclasses.field(repr=False)
    hits: int = 1
    missed: int = 0

    @property
    def lost(self) -> bool:
        return self.missed > 0


class PoseTracker:
    """Associates per-frame poses with tracks, smooths them and asks for re-detection.

    Args:
      iou_threshold: minimum IoU between a pose's keypoint box and a track's box for
        them to be associated.
      min_score: keypoint confidence for a keypoint to count as found.
      min_keypoints: a pose with fewer found keypoints is unusable (tracking lost).
      min_box_size: a keypoint box narrower or lower than this (px) is degenerate.
      max_missed: a track without a usable pose for more frames than this is dropped
        (0: dropped at once).
      image_size: optional ``(width, height)``; boxes entirely outside it are degenerate.
      box_momentum, margin_x, margin_y: MoVNect's box smoothing and buffer.
      filter2d, filter3d: 1-Euro parameters for keypoints (px) and 3D joints (mm).
      rate: frame rate (Hz) used when ``update`` gets no timestamps.
      redetect_every: if set, also ask for detection this many frames after the last
        frame marked ``from_detection`` (to find people who entered the view).
    """

    def __init__(self, iou_threshold: float = 0.3, min_score: float = 0.3,
                 min_keypoints: int = 5, min_box_size: float = 8.0, max_missed: int = 5,
                 image_size: Optional[Tuple[int, int]] = None,
                 box_momentum: float = BOX_MOMENTUM, margin_x: float = MARGIN_X,
                 margin_y: float = MARGIN_Y, filter2d: OneEuroParams = DEFAULT_2D,
                 filter3d: OneEuroParams = DEFAULT_3D, rate: float = 30.0,
                 redetect_every: Optional[int] = None):
        if not 0.0 <= iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
        if not 0.0 <= box_momentum < 1.0:
            raise ValueError(f"box_momentum must be in [0, 1), got {box_momentum}")
        if min_keypoints < 2:
            raise ValueError(f"min_keypoints must be >= 2, got {min_keypoints}")
        if max_missed < 0:
            raise ValueError(f"max_missed must be >= 0, got {max_missed}")
        if redetect_every is not None and redetect_every < 1:
            raise ValueError(f"redetect_every must be >= 1, got {redetect_every}")
        self.iou_threshold = iou_threshold
        self.min_score = min_score
        self.min_keypoints = min_keypoints
        self.min_box_size = min_box_size
        self.max_missed = max_missed
        self.image_size = image_size
        self.box_momentum = box_momentum
        self.margin_x = margin_x
        self.margin_y = margin_y
        self.filter2d = filter2d
        self.filter3d = filter3d
        self.rate = rate
        self.redetect_every = redetect_every
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (ids keep increasing)."""
        self.tracks: List[Track] = []
        self._ids = getattr(self, "_ids", itertools.count())
        self._since_detection = 0
        self._lost_this_frame = False

    # ------------------------------------------------------------------ queries

    @property
    def needs_detection(self) -> bool:
        """True when the next frame should run the person detector.

        That is: no tracks, a track lost its person in the last update (too few
        confident keypoints, a degenerate box or no pose overlapping it), or
        ``redetect_every`` frames passed since the last detection.
        """
        if not self.tracks or self._lost_this_frame or any(t.lost for t in self.tracks):
            return True
        return self.redetect_every is not None and self._since_detection >= self.redetect_every

    def boxes(self) -> np.ndarray:
        """Boxes ``[T, 4]`` of the current tracks, to crop the next frame with."""
        return np.array([t.box for t in self.tracks]).reshape(-1, 4)

    def usable_box(self, keypoints, scores=None) -> Optional[np.ndarray]:
        """The keypoint box of one pose, or None when tracking it is lost."""
        kp = np.asarray(keypoints, np.float64)
        found = np.all(np.isfinite(kp), 1)
        if scores is not None:
            found &= np.asarray(scores, np.float64) >= self.min_score
        if found.sum() < self.min_keypoints:
            return None
        box = box_from_keypoints(kp[found], None, self.min_score, self.margin_x, self.margin_y)
        if box[2] < self.min_box_size or box[3] < self.min_box_size:
            return None
        if self.image_size is not None:
            width, height = self.image_size
            if (box[0] + box[2] <= 0 or box[1] + box[3] <= 0 or box[0] >= width
                    or box[1] >= height):
                return None
        return box

    # ------------------------------------------------------------------ update

    def update(self, keypoints2d, scores=None, poses3d=None, timestamp: Optional[float] = None,
               from_detection: bool = False) -> List[Track]:
        """Feed one frame's poses; returns the tracks that have a pose in this frame.

        Args:
          keypoints2d: ``[N, J, 2]`` image pixels, one row per person (any order).
          scores: optional ``[N, J]`` keypoint confidences (None: all found).
          poses3d: optional ``[N, J, 3]`` joints in mm (camera frame or root-relative).
          timestamp: seconds, strictly increasing; None uses ``rate``.
          from_detection: the boxes of this frame came from the person detector.
        """
        kp = np.asarray(keypoints2d, np.float64)
        if kp.ndim != 3 or kp.shape[-1] != 2:
            raise ValueError(f"keypoints2d must be [N, J, 2], got shape {kp.shape}")
        n = len(kp)
        sc = None if scores is None else np.asarray(scores, np.float64)
        if sc is not None and sc.shape != kp.shape[:2]:
            raise ValueError(f"scores must be [N, J] = {kp.shape[:2]}, got {sc.shape}")
        p3 = None if poses3d is None else np.asarray(poses3d, np.float64)
        if p3 is not None and p3.shape != kp.shape[:2] + (3,):
            raise ValueError(f"poses3d must be [N, J, 3] = {kp.shape[:2] + (3,)}, "
                             f"got {p3.shape}")
        self._since_detection = 0 if from_detection else self._since_detection + 1

        obs_boxes = [self.usable_box(kp[i], None if sc is None else sc[i]) for i in range(n)]
        usable = [i for i in range(n) if obs_boxes[i] is not None]
        self._lost_this_frame = len(usable) < n
        track_boxes = self.boxes()
        iou = box_iou(track_boxes, np.array([obs_boxes[i] for i in usable]).reshape(-1, 4))
        matches = greedy_match(iou, self.iou_threshold)

        old_tracks = self.tracks
        matched = set()
        current: List[Track] = []
        for t_idx, o_idx in matches:
            i = usable[o_idx]
            track = old_tracks[t_idx]
            matched.add(t_idx)
            self._observe(track, kp[i], None if sc is None else sc[i],
                          None if p3 is None else p3[i], obs_boxes[i], timestamp)
            current.append(track)
        kept = []
        for t_idx, track in enumerate(old_tracks):
            if t_idx not in matched:
                track.missed += 1
                if track.missed > self.max_missed:
                    continue
            kept.append(track)
        matched_obs = {o for _, o in matches}
        for o_idx in range(len(usable)):
            if o_idx in matched_obs:
                continue
            i = usable[o_idx]
            track = Track(track_id=next(self._ids), box=obs_boxes[i],
                          keypoints2d=kp[i].copy(), scores=np.ones(kp.shape[1]), pose3d=None,
                          filter2d=OneEuroFilter.from_params(self.filter2d, self.rate),
                          filter3d=OneEuroFilter.from_params(self.filter3d, self.rate), hits=0)
            self._observe(track, kp[i], None if sc is None else sc[i],
                          None if p3 is None else p3[i], None, timestamp)
            kept.append(track)
            current.append(track)
        self.tracks = kept
        return sorted(current, key=lambda t: t.track_id)

    def _observe(self, track: Track, keypoints, scores, pose3d, box, timestamp) -> None:
        """Update a track with its pose of this frame (``box`` None: keep the box)."""
        if box is not None:
            track.box = smooth_box(track.box, box, self.box_momentum)
        if track.missed > 0:  # the person was gone for a while: do not smooth across the gap
            track.filter2d.reset()
            track.filter3d.reset()
        track.keypoints2d = track.filter2d(keypoints, timestamp)
        track.scores = np.ones(len(keypoints)) if scores is None else np.array(scores)
        if pose3d is not None:
            track.pose3d = track.filter3d(pose3d, timestamp)
        track.hits += 1
        track.missed = 0
