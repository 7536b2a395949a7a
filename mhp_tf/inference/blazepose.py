"""BlazePose GHUM landmark models (MediaPipe): 33 body landmarks from an upright person crop.

A real, pretrained 2D/3D pose model that runs offline, for benchmarking our networks on real
frames (``scripts/benchmark_real_images.py``), and later for pseudo-labels and as a teacher.

Model files
-----------
``pose_landmark_{lite,full,heavy}.tflite`` (Apache-2.0), installed into the model cache by
``python -m mhp_tf.inference.fetch_models`` (full from the ``mediapipe==0.10.21`` wheel,
lite and heavy from the npm package ``@mediapipe/pose@0.5.1675469404``, whose tarball also
carries the same full model, byte for byte). Nothing is downloaded at inference time.

Pipeline (after MediaPipe's public graphs ``pose_detection_to_roi.pbtxt``,
``pose_landmark_by_roi_cpu.pbtxt`` and ``tensors_to_pose_landmarks_and_segmentation.pbtxt``;
facts taken from them, code our own):

* **ROI** (:func:`roi_from_keypoints`): from the person detector's first two keypoints (the
  mid-hip centre and a point that marks the body's extent along its axis). The ROI is the
  square centred on the mid-hip, of side ``2 * |scale_point - hip| * 1.25``, rotated by
  ``pi/2 - atan2(-(y1 - y0), x1 - x0)`` so that the hip->scale-point axis points up in the
  crop (y grows downwards in images, hence the minus sign).
* **Crop** (:func:`crop_roi`): the rotated square is resampled bilinearly to 256 x 256 RGB,
  float in [0, 1]; outside the image the border pixels are repeated (MediaPipe's default
  border mode). The ROI is square, so no letterboxing is needed.
* **Outputs** (5 tensors): ``[1, 195]`` landmarks = 39 x (x, y, z, visibility logit,
  presence logit), x/y in crop pixels of the 256 x 256 input (0..256 spans the crop, corner
  to corner), z in the same units; ``[1, 1]`` pose presence score (already a probability,
  thresholded at 0.5 by MediaPipe); ``[1, 256, 256, 1]`` segmentation logits;
  ``[1, 64, 64, 39]`` heatmaps; ``[1, 117]`` world landmarks = 39 x (x, y, z) metres,
  hip-centred. Landmarks 0..32 are the body (:data:`LANDMARK_NAMES`), 33..34 the auxiliary
  ROI points (mid-hip and scale point for tracking), 35..38 unused here.
* **Decoding** (:func:`decode_landmarks`): ``t = raw_xy / 256`` (normalised crop
  coordinates), image point ``p = c + side * R(theta) (t - 0.5)`` with ``c`` the ROI
  centre and ``R`` the rotation ``[[cos, -sin], [sin, cos]]`` (MediaPipe's
  ``LandmarkProjectionCalculator``); visibility and presence are ``sigmoid`` of their
  logits. World landmarks are rotated by the same ``R`` about the hip centre.

Not reproduced: MediaPipe's heatmap refinement (``RefineLandmarksFromHeatmapCalculator``,
a small local correction of x/y from the 64 x 64 heatmaps) and its temporal smoothing /
landmark-based ROI tracking across video frames: every frame here is a fresh detection.

Coordinates: image pixels with pixel centres at integers (as :mod:`.estimator`). The
formula above is independent of that convention as long as ``c`` and ``p`` share it; the
tensor pixel ``j`` (centre) sits at ``t = (j + 0.5) / 256``.
"""

import dataclasses
import math
import os
from typing import Dict, List, Optional, Sequence, Union

import cv2
import numpy as np

from mhp_tf.inference.detector import Detection
from mhp_tf.inference.detector import FETCH_COMMAND
from mhp_tf.inference.detector import MEDIAPIPE_VERSION
from mhp_tf.inference.detector import model_cache_dir
from mhp_tf.postprocess import upright
from mhp_tf.postprocess.camera import validate_image

INPUT_SIZE = 256
NUM_OUTPUT_LANDMARKS = 39
NUM_LANDMARKS = 33
ROI_SCALE = 1.25

LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index")

# Drawing edges between the 33 landmarks (face, arms, torso, legs, feet).
EDGES = ((0, 2), (0, 5), (2, 7), (5, 8), (9, 10), (11, 12), (11, 13), (13, 15), (12, 14),
         (14, 16), (15, 17), (15, 19), (15, 21), (16, 18), (16, 20), (16, 22), (11, 23),
         (12, 24), (23, 24), (23, 25), (25, 27), (24, 26), (26, 28), (27, 29), (29, 31),
         (27, 31), (28, 30), (30, 32), (28, 32))

NPM_PACKAGE = "@mediapipe/pose"
NPM_VERSION = "0.5.1675469404"
WHEEL_FULL_MEMBER = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"


@dataclasses.dataclass(frozen=True)
class LandmarkModelFile:
    name: str
    file: str
    sha256: str
    npm_member: str
    wheel_member: Optional[str] = None


# sha256 of the files in @mediapipe/pose@0.5.1675469404 (and, for full, in the
# mediapipe 0.10.21 wheels: the same bytes).
LANDMARK_MODELS: Dict[str, LandmarkModelFile] = {
    "lite": LandmarkModelFile(
        "lite", "pose_landmark_lite.tflite",
        "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61",
        "package/pose_landmark_lite.tflite"),
    "full": LandmarkModelFile(
        "full", "pose_landmark_full.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        "package/pose_landmark_full.tflite", WHEEL_FULL_MEMBER),
    "heavy": LandmarkModelFile(
        "heavy", "pose_landmark_heavy.tflite",
        "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe",
        "package/pose_landmark_heavy.tflite"),
}


class LandmarkModelUnavailable(RuntimeError):
    """A BlazePose landmark model is not in the cache; the message says how to fetch it."""


def landmark_model_path(name: str, cache_dir: Optional[str] = None) -> str:
    if name not in LANDMARK_MODELS:
        raise ValueError(f"unknown BlazePose landmark model {name!r}; expected one of "
                         f"{sorted(LANDMARK_MODELS)} or a .tflite path")
    return os.path.join(model_cache_dir(cache_dir), LANDMARK_MODELS[name].file)


def landmark_model_available(name: str, cache_dir: Optional[str] = None) -> bool:
    return os.path.isfile(landmark_model_path(name, cache_dir))


# ----------------------------------------------------------------------------- geometry


@dataclasses.dataclass(frozen=True)
class Roi:
    """A rotated square region of an image.

    Attributes:
      center: ``(x, y)`` image px (pixel centres at integers).
      size: side length, px.
      rotation: radians; the crop's "up" is the image direction ``R(rotation) (0, -1)``.
    """

    center: tuple
    size: float
    rotation: float

    def matrix(self) -> np.ndarray:
        """``[2, 2]`` rotation ``R`` of the crop axes in the image."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        return np.array([[c, -s], [s, c]])

    def corners(self) -> np.ndarray:
        """``[4, 2]`` image px of the crop's top-left, top-right, bottom-right, bottom-left."""
        t = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
        return crop_to_image(t, self)


def roi_from_keypoints(center, scale_point, scale: float = ROI_SCALE) -> Roi:
    """The upright ROI of a person from the detector's mid-hip ``center`` and body-axis
    ``scale_point`` (both image px): side ``2 * |scale_point - center| * scale``."""
    c = np.asarray(center, np.float64).reshape(2)
    p = np.asarray(scale_point, np.float64).reshape(2)
    # The same square and angle as our own upright crops (postprocess.upright).
    box, rotation = upright.roi_from_keypoints(c, p)
    if not box[2] > 0:
        raise ValueError(f"degenerate ROI: center {c.tolist()} and scale point {p.tolist()} "
                         "coincide")
    return Roi(center=(float(c[0]), float(c[1])), size=float(box[2]) * scale,
               rotation=rotation)


def roi_from_detection(detection: Detection, scale: float = ROI_SCALE) -> Roi:
    """:func:`roi_from_keypoints` of a BlazePose :class:`~.detector.Detection`."""
    if detection.keypoints is None:
        raise ValueError("the detection has no keypoints: upright ROIs need the BlazePose "
                         "person detector (not HOG or given boxes)")
    return roi_from_keypoints(detection.keypoints[0], detection.keypoints[1], scale)


def roi_from_box(box, scale: float = ROI_SCALE) -> Roi:
    """An axis-aligned ROI around a box ``(x, y, w, h)``: square of the longer side x scale."""
    x, y, w, h = np.asarray(box, np.float64).reshape(4)
    return Roi(center=(float(x + w / 2.0), float(y + h / 2.0)), size=float(max(w, h) * scale),
               rotation=0.0)


def crop_to_image(t, roi: Roi) -> np.ndarray:
    """Normalised crop coordinates ``t [..., 2]`` (0..1 corner to corner) -> image px."""
    t = np.asarray(t, np.float64)
    return np.asarray(roi.center) + roi.size * (t - 0.5) @ roi.matrix().T


def image_to_crop(p, roi: Roi) -> np.ndarray:
    """Image px ``p [..., 2]`` -> normalised crop coordinates (inverse of :func:`crop_to_image`)."""
    p = np.asarray(p, np.float64)
    return (p - np.asarray(roi.center)) @ roi.matrix() / roi.size + 0.5


def crop_inverse_affine(roi: Roi, size: int = INPUT_SIZE) -> np.ndarray:
    """``[2, 3]`` affine: tensor pixel ``j`` (centres at integers) -> image px."""
    r = roi.matrix()
    a = r * (roi.size / size)
    b = np.asarray(roi.center) + roi.size * r @ np.array([0.5 / size - 0.5] * 2)
    return np.concatenate([a, b[:, None]], 1)


def crop_roi(image: np.ndarray, roi: Roi, size: int = INPUT_SIZE) -> np.ndarray:
    """The ROI of an RGB uint8 image as a ``[size, size, 3]`` float32 crop in [0, 1]."""
    m = crop_inverse_affine(roi, size)
    out = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    return out.astype(np.float32) / 255.0


# ----------------------------------------------------------------------------- decoding


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


@dataclasses.dataclass
class PoseLandmarks:
    """One person's BlazePose landmarks.

    Attributes:
      landmarks: ``[33, 2]`` image px (:data:`LANDMARK_NAMES`).
      z: ``[33]`` depth relative to the hips, in image px (MediaPipe's z scaled like x).
      visibility: ``[33]`` probability that the landmark is visible (not occluded).
      presence: ``[33]`` probability that the landmark is inside the crop.
      score: pose presence probability (MediaPipe keeps poses above 0.5).
      roi: the ROI the landmarks were computed in.
      world: ``[33, 3]`` metres, hip-centred, image-aligned axes (x right, y down).
      auxiliary: ``[2, 2]`` image px of the model's mid-hip and scale point (next ROI).
    """

    landmarks: np.ndarray
    z: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    score: float
    roi: Roi
    world: Optional[np.ndarray] = None
    auxiliary: Optional[np.ndarray] = None


def decode_landmarks(raw, roi: Roi, size: int = INPUT_SIZE):
    """Raw landmark tensor ``[195]`` (or ``[39, 5]``) -> ``(xy [39, 2] image px, z [39] px,
    visibility [39], presence [39])``."""
    raw = np.asarray(raw, np.float64).reshape(-1)
    if raw.size != NUM_OUTPUT_LANDMARKS * 5:
        raise ValueError(f"expected {NUM_OUTPUT_LANDMARKS * 5} landmark values "
                         f"({NUM_OUTPUT_LANDMARKS} x 5), got {raw.size}")
    raw = raw.reshape(NUM_OUTPUT_LANDMARKS, 5)
    xy = crop_to_image(raw[:, :2] / size, roi)
    z = raw[:, 2] / size * roi.size
    return xy, z, _sigmoid(raw[:, 3]), _sigmoid(raw[:, 4])


def decode_world(raw, roi: Roi) -> np.ndarray:
    """Raw world tensor ``[117]`` -> ``[39, 3]`` metres, x/y rotated into the image axes."""
    raw = np.asarray(raw, np.float64).reshape(-1)
    if raw.size != NUM_OUTPUT_LANDMARKS * 3:
        raise ValueError(f"expected {NUM_OUTPUT_LANDMARKS * 3} world values, got {raw.size}")
    w = raw.reshape(NUM_OUTPUT_LANDMARKS, 3).copy()
    w[:, :2] = w[:, :2] @ roi.matrix().T
    return w


# ----------------------------------------------------------------------------- runner


class BlazePoseLandmarker:
    """Runs a BlazePose GHUM landmark model on person ROIs.

    Args:
      model: ``'lite'``, ``'full'``, ``'heavy'`` (fetched into the model cache) or a path to
        a ``pose_landmark_*.tflite`` file.
      cache_dir: model cache (default ``$MHP_TF_MODEL_CACHE`` or ``~/.cache/mhp_tf/models``).
      num_threads: TFLite interpreter threads (None: the runtime's default).
      roi_scale: ROI margin around the detector's body extent (MediaPipe: 1.25).
    """

    def __init__(self, model: str = "heavy", cache_dir: Optional[str] = None,
                 num_threads: Optional[int] = None, roi_scale: float = ROI_SCALE):
        from mhp_tf.inference.backends import load_tflite_interpreter

        if model in LANDMARK_MODELS:
            path = landmark_model_path(model, cache_dir)
            self.name = f"blazepose_{model}"
        else:
            path = model
            self.name = os.path.splitext(os.path.basename(path))[0]
        if not os.path.isfile(path):
            raise LandmarkModelUnavailable(
                f"the BlazePose landmark model {model!r} is not installed ({path} is missing). "
                f"Fetch it once with `{FETCH_COMMAND}` (the mediapipe=={MEDIAPIPE_VERSION} wheel "
                f"and the npm package {NPM_PACKAGE}@{NPM_VERSION}).")
        self.model_path = path
        self.roi_scale = float(roi_scale)
        self.interpreter = load_tflite_interpreter(path, num_threads)
        inp = self.interpreter.get_input_details()
        if len(inp) != 1 or tuple(inp[0]["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"{path} is not a BlazePose landmark model (input "
                             f"{[tuple(i['shape']) for i in inp]})")
        self._input = inp[0]["index"]
        outs = {tuple(int(v) for v in o["shape"][1:]): o["index"]
                for o in self.interpreter.get_output_details()}
        need = {"landmarks": (NUM_OUTPUT_LANDMARKS * 5,), "score": (1,),
                "world": (NUM_OUTPUT_LANDMARKS * 3,)}
        missing = [k for k, shape in need.items() if shape not in outs]
        if missing:
            raise ValueError(f"{path}: no output for {missing} (outputs {sorted(outs)})")
        self._outputs = {k: outs[shape] for k, shape in need.items()}

    def run_crop(self, crop: np.ndarray):
        """Raw outputs ``(landmarks [195], score, world [117])`` of one ``[256, 256, 3]`` crop
        in [0, 1]."""
        it = self.interpreter
        it.set_tensor(self._input, np.asarray(crop, np.float32)[None])
        it.invoke()
        get = lambda k: it.get_tensor(self._outputs[k])[0].astype(np.float64)  # noqa: E731
        return get("landmarks"), float(get("score").reshape(-1)[0]), get("world")

    def predict_roi(self, image: np.ndarray, roi: Roi) -> PoseLandmarks:
        """Landmarks of the person in ``roi`` of an RGB uint8 image."""
        image = validate_image(image, dtypes=(np.uint8,))
        raw, score, world = self.run_crop(crop_roi(image, roi))
        xy, z, vis, pres = decode_landmarks(raw, roi)
        n = NUM_LANDMARKS
        return PoseLandmarks(landmarks=xy[:n], z=z[:n], visibility=vis[:n], presence=pres[:n],
                             score=score, roi=roi, world=decode_world(world, roi)[:n],
                             auxiliary=xy[n:n + 2])

    def predict(self, image: np.ndarray, detections: Sequence[Detection]) -> List[PoseLandmarks]:
        """Landmarks for each BlazePose detection (upright ROIs), in detection order."""
        return [self.predict_roi(image, roi_from_detection(d, self.roi_scale))
                for d in detections]


def h36m_from_blazepose() -> Dict[str, int]:
    """H36M joint name -> BlazePose landmark index, for the joints whose definitions match
    (shoulders, elbows, wrists, hips, knees, ankles). H36M's Pelvis, Torso, Neck, Nose,
    Head (top) and Thorax have no BlazePose counterpart with the same definition."""
    out = {}
    for side, long in (("L", "left"), ("R", "right")):
        for joint in ("Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle"):
            out[f"{side}_{joint}"] = LANDMARK_NAMES.index(f"{long}_{joint.lower()}")
    return out


def load_landmarkers(names: Union[str, Sequence[str]], cache_dir: Optional[str] = None,
                     num_threads: Optional[int] = None) -> Dict[str, BlazePoseLandmarker]:
    """``{name: BlazePoseLandmarker}`` for several model names."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n]
    return {n: BlazePoseLandmarker(n, cache_dir, num_threads) for n in names}
