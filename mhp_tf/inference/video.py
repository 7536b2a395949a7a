"""3D poses of several people across video frames: detection, tracking, 1-Euro smoothing.

:class:`VideoPoseEstimator` wraps a :class:`~mhp_tf.inference.PoseEstimator` in MoVNect's
inference loop (Hwang et al., WACV 2020, sections 3.1 and 3.3) with
:class:`~mhp_tf.postprocess.PoseTracker`:

* The person detector runs on the first frame and whenever the tracker asks for it
  (a track lost its person, nobody is tracked, or every ``redetect_every`` frames).
* Otherwise each person is cropped with the box grown around their previous 2D
  keypoints (MoVNect's buffer, smoothed with momentum 0.75).
* Poses are associated with tracks by box IoU; each track keeps a stable id.
* The 2D keypoints (px) and the camera-frame 3D joints (mm) of each track are 1-Euro
  filtered (:data:`~mhp_tf.postprocess.DEFAULT_2D` / ``DEFAULT_3D``); the root-relative
  pose and the root depth are taken from the filtered 3D joints.

::

    video = VideoPoseEstimator(PoseEstimator("runs/xs"), fps=30)
    for frame in frames:                       # RGB uint8
        result = video.process(frame)
        for person in result.poses:
            person.track_id, person.joints3d_cam

When the model exposes heatmaps, keypoints with a confidence below
``min_joint_score`` do not shape the next box (and a pose with fewer than 5 such
keypoints counts as lost); models without heatmaps use all keypoints.

Upright crops (``upright=True``, default: the estimator's ``upright``): on detector
frames each person's crop is turned by the detector's angle (BlazePose; HOG gives
none), on tracked frames by the angle of the previous frame's pelvis -> thorax (or
neck) vector of the track's smoothed 2D pose (kept from the frame before when either
joint is not confident), and the box is MoVNect's keypoint box measured across and
along the body (:func:`~mhp_tf.postprocess.upright.upright_box_from_keypoints`),
smoothed with the tracker's box momentum. Association still uses the tracker's
axis-aligned boxes.
"""

import dataclasses
from typing import Dict, List, Optional

import numpy as np

from mhp_tf.inference.estimator import PoseEstimator
from mhp_tf.inference.estimator import PoseResult
from mhp_tf.inference.estimator import _as_uint8_image
from mhp_tf.postprocess import upright as upright_lib
from mhp_tf.postprocess.filters import DEFAULT_2D
from mhp_tf.postprocess.filters import DEFAULT_3D
from mhp_tf.postprocess.filters import OneEuroParams
from mhp_tf.postprocess.tracking import PoseTracker
from mhp_tf.postprocess.tracking import smooth_box

# Body-axis joints for the next frame's crop angle: start -> first end joint present.
AXIS_START = "Pelvis"
AXIS_ENDS = ("Thorax", "Neck")


@dataclasses.dataclass
class TrackedPose(PoseResult):
    """A :class:`PoseResult` of one tracked person in one frame.

    ``joints2d``, ``joints3d_cam``, ``joints3d_rel`` and ``root_depth`` are the smoothed
    values (when smoothing is on); ``joints2d_raw`` and ``joints3d_cam_raw`` are this
    frame's unfiltered estimates. ``box`` is the box the crop was made from (detector
    or tracker).
    """

    track_id: int = -1
    joints2d_raw: Optional[np.ndarray] = None
    joints3d_cam_raw: Optional[np.ndarray] = None


@dataclasses.dataclass
class FrameResult:
    """The poses of one frame. ``detected``: the person detector ran on this frame."""

    index: int
    timestamp: float
    poses: List[TrackedPose]
    detected: bool

    @property
    def track_ids(self) -> List[int]:
        return [p.track_id for p in self.poses]


class _IndexedTracker(PoseTracker):
    """A :class:`PoseTracker` that remembers which observation each track got this frame."""

    def update(self, keypoints2d, scores=None, poses3d=None, timestamp=None,
               from_detection=False):
        self._frame_keypoints = np.asarray(keypoints2d, np.float64)
        self.observation_of: Dict[int, int] = {}
        return super().update(self._frame_keypoints, scores, poses3d, timestamp,
                              from_detection)

    def _observe(self, track, keypoints, scores, pose3d, box, timestamp) -> None:
        super()._observe(track, keypoints, scores, pose3d, box, timestamp)
        rows = self._frame_keypoints
        for i in range(len(rows)):
            if np.shares_memory(keypoints, rows[i]):
                self.observation_of[track.track_id] = i
                return
        for i in range(len(rows)):  # the tracker copied the row: compare values
            if np.array_equal(keypoints, rows[i]):
                self.observation_of[track.track_id] = i
                return


class VideoPoseEstimator:
    """Per-frame poses with track ids (module docstring).

    Args:
      estimator: the single-image :class:`PoseEstimator` (its detector finds people).
      fps: frame rate used for timestamps when :meth:`process` gets none.
      intrinsics: ``[3, 3]`` camera matrix (None: the estimator's default per frame size).
      root_depth_method: ``'prior'`` or ``'movnect'`` (see :class:`PoseEstimator`).
      smooth: 1-Euro filter the outputs (False: raw per-frame estimates, still tracked).
      filter2d, filter3d: 1-Euro parameters for keypoints (px) and joints (mm).
      redetect_every: also run the detector every this many frames (new people).
      max_people: track at most this many (the best-scoring detections).
      min_joint_score: joint confidence needed for a keypoint to count as found.
      iou_threshold, max_missed: association threshold and how many frames a track
        survives without its person (:class:`~mhp_tf.postprocess.PoseTracker`).
      upright: turn each crop so the body axis is vertical (module docstring); None:
        the estimator's ``upright``.
    """

    def __init__(self, estimator: PoseEstimator, fps: float = 30.0, intrinsics=None,
                 root_depth_method: str = "prior", smooth: bool = True,
                 filter2d: OneEuroParams = DEFAULT_2D, filter3d: OneEuroParams = DEFAULT_3D,
                 redetect_every: Optional[int] = 30, max_people: Optional[int] = None,
                 min_joint_score: float = 0.2, iou_threshold: float = 0.3,
                 max_missed: int = 5, upright: Optional[bool] = None):
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if max_people is not None and max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {max_people}")
        self.estimator = estimator
        self.fps = float(fps)
        self.intrinsics = intrinsics
        self.root_depth_method = root_depth_method
        self.smooth = smooth
        self.max_people = max_people
        self.upright = estimator.upright if upright is None else bool(upright)
        joints = list(estimator.joint_names)
        ends = [joints.index(n) for n in AXIS_ENDS if n in joints]
        self._axis = ((joints.index(AXIS_START), ends[0])
                      if AXIS_START in joints and ends else None)
        self.tracker = _IndexedTracker(
            iou_threshold=iou_threshold, min_score=min_joint_score, max_missed=max_missed,
            filter2d=filter2d, filter3d=filter3d, rate=self.fps,
            redetect_every=redetect_every)
        self.reset()

    def reset(self) -> None:
        """Start a new video: no tracks, frame counter at 0."""
        self.tracker.reset()
        self.index = 0
        self._last_time = None
        self._det_scores: Dict[int, float] = {}
        self._angles: Dict[int, float] = {}
        self._upright_boxes: Dict[int, np.ndarray] = {}

    def process(self, frame, timestamp: Optional[float] = None) -> FrameResult:
        """Poses in one RGB frame (uint8 ``[H, W, 3]``); ``timestamp`` in seconds."""
        image = _as_uint8_image(frame)
        height, width = image.shape[:2]
        self.tracker.image_size = (width, height)
        t = self.index / self.fps if timestamp is None else float(timestamp)
        if self._last_time is not None and not t > self._last_time:
            raise ValueError(f"timestamps must increase: {t} after {self._last_time}")
        detect = self.tracker.needs_detection
        if detect:
            boxes, scores, angles = self.estimator.detect_rois(image)
            if self.max_people is not None:
                boxes, scores = boxes[:self.max_people], scores[:self.max_people]
                angles = angles[:self.max_people]
        else:
            boxes = self.tracker.boxes()
            ids = [tr.track_id for tr in self.tracker.tracks]
            scores = np.array([self._det_scores.get(i, np.nan) for i in ids])
            angles = np.zeros(len(boxes))
            if self.upright:
                boxes, angles = self._upright_rois(boxes)
            inside = ((boxes[:, 0] + boxes[:, 2] > 0) & (boxes[:, 1] + boxes[:, 3] > 0)
                      & (boxes[:, 0] < width - 1) & (boxes[:, 1] < height - 1))
            boxes, scores, angles = boxes[inside], scores[inside], angles[inside]
        # detector boxes are enlarged as the detector needs, keypoint boxes as person boxes
        results = self.estimator.estimate(
            image, boxes, intrinsics=self.intrinsics, root_depth_method=self.root_depth_method,
            detection_scores=scores, angles=angles if self.upright else None,
            bbox_scale=self.estimator.detector_crop_scale if detect else None
        ) if len(boxes) else []
        poses = self._track(results, t, detect)
        self.index += 1
        self._last_time = t
        return FrameResult(index=self.index - 1, timestamp=t, poses=poses, detected=detect)

    __call__ = process

    def _upright_rois(self, boxes: np.ndarray):
        """Boxes ``[T, 4]`` and angles ``[T]`` of upright crops for the current tracks."""
        boxes = boxes.copy()
        angles = np.zeros(len(boxes))
        min_score = self.tracker.min_score
        for k, track in enumerate(self.tracker.tracks):
            angle = self._angles.get(track.track_id, 0.0)
            if self._axis is not None and all(track.scores[j] >= min_score for j in self._axis):
                found = upright_lib.body_axis_angle(track.keypoints2d, *self._axis)
                angle = angle if found is None else found
            try:
                box = upright_lib.upright_box_from_keypoints(
                    track.keypoints2d, angle, track.scores, min_score, self.tracker.margin_x,
                    self.tracker.margin_y)
            except ValueError:  # too few confident keypoints: the tracker's box
                box = boxes[k]
            box = smooth_box(self._upright_boxes.get(track.track_id), box,
                             self.tracker.box_momentum)
            self._upright_boxes[track.track_id] = box
            boxes[k], angles[k] = box, angle
        return boxes, angles

    def _track(self, results: List[PoseResult], t: float, detect: bool) -> List[TrackedPose]:
        n = len(results)
        j = self.estimator.skeleton.num_joints
        kp = np.array([r.joints2d for r in results]).reshape(n, j, 2)
        cam = np.array([r.joints3d_cam for r in results]).reshape(n, j, 3)
        conf = [r.joint_confidence for r in results]
        scores = np.array(conf) if n and all(c is not None for c in conf) else None
        tracks = self.tracker.update(kp, scores, cam, timestamp=t, from_detection=detect)
        root = self.estimator.root_index
        out = []
        for track in tracks:
            i = self.tracker.observation_of.get(track.track_id)
            if i is None:
                continue
            r = results[i]
            if detect and r.detection_score is not None:
                self._det_scores[track.track_id] = r.detection_score
            self._angles[track.track_id] = r.angle
            if detect:  # a detector box starts the upright box afresh
                self._upright_boxes.pop(track.track_id, None)
            if self.smooth:
                joints2d, joints_cam = track.keypoints2d.copy(), track.pose3d.copy()
            else:
                joints2d, joints_cam = r.joints2d.copy(), r.joints3d_cam.copy()
            fields = {f.name: getattr(r, f.name) for f in dataclasses.fields(PoseResult)}
            fields.update(joints2d=joints2d, joints3d_cam=joints_cam,
                          joints3d_rel=joints_cam - joints_cam[root],
                          root_depth=float(joints_cam[root, 2]))
            out.append(TrackedPose(**fields, track_id=int(track.track_id),
                                   joints2d_raw=r.joints2d, joints3d_cam_raw=r.joints3d_cam))
        alive = {tr.track_id for tr in self.tracker.tracks}
        for table in (self._det_scores, self._angles, self._upright_boxes):
            for stale in set(table) - alive:
                del table[stale]
        return out
