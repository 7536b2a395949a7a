"""3D human pose from an image: person boxes -> crops -> network -> 2D / 3D poses.

:class:`PoseEstimator` is the top-down pipeline of the paper around any exported
form of a MobileHumanPose network (``.keras`` file, run folder, SavedModel,
``.tflite``, or an in-memory ``tf.keras`` model)::

    estimator = mhp_tf.PoseEstimator("runs/xs")             # detector='auto'
    people = estimator.estimate(image_rgb)                   # uint8 [H, W, 3]
    people[0].joints3d_cam                                   # [J, 3] mm, camera frame

Per person (all NumPy, conventions of :mod:`mhp_tf.postprocess.camera`):

1. *Box*: from ``boxes=`` or the person detector (:mod:`.detector`), ``(x, y, w, h)``
   px; :func:`~mhp_tf.postprocess.process_boxes` turns it into the *crop box* exactly
   as the training pipeline does (clip to the image, square, x1.25).
2. *Crop*: the crop box is warped to the ``S x S`` network input with the training
   pipeline's affine (:func:`mhp_tf.data.pipeline.patch_affine` without
   augmentation: image px ``u`` -> patch px ``(u - x) * S / w``) and its bilinear
   sampling (pixel centres at integers, zero outside the image, result truncated to
   uint8 as TensorFlow's ``ImageProjectiveTransformV3`` does on uint8 images);
   :func:`warp_crops` reproduces the pipeline's crops to within 1 grey level on
   rare pixels. All crops of an image run through the network in batches.
   *Upright crops* (``estimate(..., angles=)``, ``PoseEstimator(upright=True)``): the
   crop box is turned by the person's body-axis angle about its centre
   (:func:`warp_crops_rotated`, OpenCV bilinear) and the decoded poses are turned back
   (:mod:`mhp_tf.postprocess.upright`); angle 0 is the crop above, bit for bit.
3. *Decode*: network output in heatmap units -> ``joints2d`` (image px) and, at a root
   depth, ``joints3d_cam`` (mm). Root depth (distance ``Z`` of the root joint):
   ``root_depth=`` when known, else ``root_depth_method='prior'``: RootNet's
   ``k = sqrt(fx fy A_real / A_box)`` on the crop box (a 2 m x 2 m crop; good for
   upright adults, too near for people who look bigger than that) or ``'movnect'``:
   MoVNect's global position (VNect's weak-perspective least squares of the 3D
   pose's x/y spread against the 2D keypoints' spread, weighted by the joint
   confidences when known). With MobileHumanPose only ``z`` is metric -- the x/y of
   the root-relative pose come from its pixels and the depth -- so ``'movnect'``
   starts from the prior-scaled pose and mainly re-centres it on all keypoints
   rather than on the root alone; its depth stays close to the prior.

Intrinsics default to :func:`~mhp_tf.postprocess.default_intrinsics` (55 degrees over
the longer side, principal point at the centre).

Confidence
----------
``PoseResult.joint_confidence [J]`` is the peakiness of each joint's heatmap
(:func:`~mhp_tf.inference.backends.heatmap_confidence`: the softmax mass within
``max(1, H // 16)`` output cells of the predicted position) when the model exposes
its heatmap logits: Keras MobileHumanPose models do (the ``head_conv`` layer, or
``head_upsample`` with ``head_before_upsample``, of a
``head='coords'`` model, or the output of a ``head='heatmap'`` model), TFLite and
SavedModel files when they output the heatmap. ``PoseResult.confidence`` is then the mean joint
confidence. Otherwise ``joint_confidence`` is None and ``confidence`` is the
detector's score of the box, or NaN when the box was given by the caller.
"""

import dataclasses
import math
import os
from typing import List, Optional, Sequence, Tuple

from absl import logging
import cv2
import numpy as np

from mhp_tf import skeletons
from mhp_tf.inference import backends as backends_lib
from mhp_tf.inference.detector import DetectorSpec
from mhp_tf.inference.detector import make_detector
from mhp_tf.postprocess import camera
from mhp_tf.postprocess import upright

ROOT_DEPTH_METHODS = ("prior", "movnect")
DEFAULT_NORMALIZATION = "reference"  # the training pipeline's default
# Detections scoring below this are cropped axis-aligned even with upright=True.
UPRIGHT_MIN_SCORE = 0.7


@dataclasses.dataclass
class PoseResult:
    """One person's pose in one image.

    Attributes:
      box: ``[4]`` the person box ``(x, y, w, h)`` px (given or detected).
      crop_box: ``[4]`` the processed box the network crop was cut from (clipped,
        squared, x1.25), px.
      joints2d: ``[J, 2]`` image pixels (pixel centres at integers).
      joints3d_rel: ``[J, 3]`` mm, root-relative (root = 0), camera axes (x right,
        y down, z away from the camera). Its x/y scale follows ``root_depth``.
      joints3d_cam: ``[J, 3]`` mm, camera frame (``joints3d_rel + root position``).
      root_depth: distance ``Z`` of the root joint from the camera, mm.
      confidence: person confidence (module docstring), NaN when unknown.
      joint_confidence: ``[J]`` heatmap peakiness in [0, 1], or None.
      detection_score: the detector's score of ``box`` (None for given boxes).
      coords: ``[J, 3]`` raw network output in heatmap units (of the crop as the network
        saw it: turned by ``angle`` for upright crops).
      angle: the crop's rotation in radians (:mod:`mhp_tf.postprocess.upright`; 0: an
        unrotated crop).
    """

    box: np.ndarray
    crop_box: np.ndarray
    joints2d: np.ndarray
    joints3d_rel: np.ndarray
    joints3d_cam: np.ndarray
    root_depth: float
    confidence: float
    joint_confidence: Optional[np.ndarray] = None
    detection_score: Optional[float] = None
    coords: Optional[np.ndarray] = None
    angle: float = 0.0


# ----------------------------------------------------------------------------- crops


def crop_affine(crop_box, size: int) -> np.ndarray:
    """Forward affine ``[2, 3]``: image px -> patch px, the pipeline's ``patch_affine`` at
    scale 1, no rotation, no flip: ``p = (u - x) * size / w`` (same for ``v``)."""
    x, y, w, h = np.asarray(crop_box, np.float64)
    return np.array([[size / w, 0.0, -x * size / w], [0.0, size / h, -y * size / h]])


def _sample_axis(start: float, extent: float, size: int, length: int):
    """Source coordinates of the output pixels along one axis (float32 as in TF) and their
    floor index / weight / validity of both neighbours."""
    coord = (np.float32(start) + np.arange(size, dtype=np.float32)
             * np.float32(extent / size)).astype(np.float32)
    lo = np.floor(coord)
    i0 = lo.astype(np.int64)
    i1 = i0 + 1
    w1 = (coord - lo).astype(np.float32)  # weight of i1; (i1 - coord) of i0
    w0 = (lo + 1.0 - coord).astype(np.float32)
    ok0 = (i0 >= 0) & (i0 < length)
    ok1 = (i1 >= 0) & (i1 < length)
    return i0, i1, w0, w1, ok0, ok1


def warp_crop(image: np.ndarray, crop_box, size: int) -> np.ndarray:
    """One ``[size, size, 3]`` uint8 crop of ``crop_box`` (module docstring, step 2).

    The warp has no rotation, so the bilinear interpolation is separable: x first,
    then y, in float32, truncated to uint8 -- the order and rounding of TensorFlow's
    ``ImageProjectiveTransformV3`` that the training pipeline uses.
    """
    h_img, w_img = image.shape[:2]
    x, y, w, h = (float(v) for v in crop_box)
    xi0, xi1, xw0, xw1, xok0, xok1 = _sample_axis(x, w, size, w_img)
    yi0, yi1, yw0, yw1, yok0, yok1 = _sample_axis(y, h, size, h_img)

    if not (xok0.any() or xok1.any()) or not (yok0.any() or yok1.any()):
        return np.zeros((size, size, 3), np.uint8)
    # Only the source columns the crop touches.
    lo = int(max(0, min(xi0.min(), w_img - 1)))
    hi = int(min(w_img, max(xi1.max(), 0) + 1))
    sub = image[:, lo:hi]
    xa, xb = xi0 - lo, xi1 - lo
    width = hi - lo
    xa_ok = xok0 & (xa >= 0) & (xa < width)
    xb_ok = xok1 & (xb >= 0) & (xb < width)

    def rows_sub(idx, ok):
        r = sub[np.clip(idx, 0, h_img - 1)].astype(np.float32)
        r[~ok] = 0.0
        return r

    def cols_sub(r, idx, ok):
        c = r[:, np.clip(idx, 0, width - 1)]
        c[:, ~ok] = 0.0
        return c

    top = rows_sub(yi0, yok0)
    bottom = rows_sub(yi1, yok1)
    xw0_ = xw0[None, :, None]
    xw1_ = xw1[None, :, None]
    v_top = xw0_ * cols_sub(top, xa, xa_ok) + xw1_ * cols_sub(top, xb, xb_ok)
    v_bottom = xw0_ * cols_sub(bottom, xa, xa_ok) + xw1_ * cols_sub(bottom, xb, xb_ok)
    out = yw0[:, None, None] * v_top + yw1[:, None, None] * v_bottom
    return np.clip(np.floor(out), 0, 255).astype(np.uint8)


def warp_crops(image: np.ndarray, crop_boxes, size: int) -> np.ndarray:
    """Crops ``[N, size, size, 3]`` uint8 of an RGB uint8 image for crop boxes ``[N, 4]``."""
    boxes = np.asarray(crop_boxes, np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack([warp_crop(image, b, size) for b in boxes])


def warp_crop_rotated(image: np.ndarray, crop_box, angle: float, size: int) -> np.ndarray:
    """One ``[size, size, 3]`` uint8 crop of ``crop_box`` turned by ``angle`` (radians) about its
    centre (:func:`mhp_tf.postprocess.upright.patch_to_image_affine`), by OpenCV's bilinear
    ``warpAffine`` (pixel centres at integers, zero outside the image). ``angle = 0`` gives
    :func:`warp_crop` (the training pipeline's sampling) instead."""
    if angle == 0:
        return warp_crop(image, crop_box, size)
    m = upright.patch_to_image_affine(crop_box, angle, size)
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def warp_crops_rotated(image: np.ndarray, crop_boxes, angles, size: int) -> np.ndarray:
    """Crops ``[N, size, size, 3]`` for crop boxes ``[N, 4]`` turned by ``angles [N]`` (radians)."""
    boxes = np.asarray(crop_boxes, np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros((0, size, size, 3), np.uint8)
    angles = upright.validate_angles(angles, len(boxes))
    return np.stack([warp_crop_rotated(image, b, a, size) for b, a in zip(boxes, angles)])


# ----------------------------------------------------------------------------- estimator


def _as_uint8_image(image) -> np.ndarray:
    """A validated RGB image as uint8; float images must hold 0..255 values.

    A float image with all values in ``(0, 1]`` (the [0, 1] convention of
    ``tf.image.convert_image_dtype`` / skimage) is refused, not rescaled: it cannot
    be told apart from a nearly black 0..255 image, and running it as 0..255 gives
    wrong poses without any sign. Float values outside ``[-0.5, 255.5]`` (16-bit or
    mean/std-normalised images) are refused too instead of being clipped.
    """
    image = camera.validate_image(image)
    if image.dtype != np.uint8:
        if not np.all(np.isfinite(image)):
            raise ValueError("image contains NaN or inf")
        lo, hi = float(image.min()), float(image.max())
        if 0.0 < hi <= 1.0 and lo >= 0.0:
            raise ValueError(
                f"image is {image.dtype} with all values in [0, 1] (max {hi:.3g}); mhp_tf reads "
                "float images as 0..255: pass np.round(image * 255).astype(np.uint8) (or "
                "image * 255)")
        if lo < -0.5 or hi > 255.5:
            raise ValueError(
                f"image is {image.dtype} with values in [{lo:.4g}, {hi:.4g}]; float images must "
                "hold 0..255 (not normalised, not 16-bit): rescale it or pass uint8")
        image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return image


def _skeleton_for(name: Optional[str], joint_names: Optional[Sequence[str]],
                  num_joints: Optional[int]) -> skeletons.Skeleton:
    if name is not None:
        sk = skeletons.get_skeleton(name) if isinstance(name, str) else name
    elif joint_names is not None:
        matches = [skeletons.get_skeleton(n) for n in ("h36m", "muco")
                   if tuple(skeletons.get_skeleton(n).joints) == tuple(joint_names)]
        if not matches:
            raise ValueError(f"the model's joint names {list(joint_names)} match no known "
                             "skeleton; pass skeleton=")
        sk = matches[0]
    elif num_joints == 18:
        sk = skeletons.get_skeleton("h36m")
    elif num_joints == 21:
        sk = skeletons.get_skeleton("muco")
    else:
        raise ValueError(f"cannot tell the skeleton of a model with {num_joints} joints; pass "
                         "skeleton='h36m' or 'muco'")
    if num_joints is not None and sk.num_joints != num_joints:
        raise ValueError(f"skeleton {sk.name!r} has {sk.num_joints} joints but the model "
                         f"predicts {num_joints}")
    return sk


def _positive_scale(value, name: str = "bbox_scale") -> float:
    scale = float(value)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"{name} must be positive, got {value}")
    return scale


class PoseEstimator:
    """Top-down 3D pose estimation on RGB images (module docstring for the pipeline).

    Args:
      model: a ``.keras`` file (its run folder's ``config.json``, beside it or one level
        up, gives the normalisation and skeleton), a run folder, a SavedModel folder,
        a ``.tflite`` file, a ``tf.keras.Model`` or a function ``crops uint8 [B, S, S, 3]
        -> coords [B, J, 3]`` (then ``input_size`` is required).
      normalization: input normalisation the model was trained with (``'reference'``,
        ``'imagenet'``, ``'none'``); default from the run config / SavedModel, else
        ``'reference'`` (with a warning). Ignored by models that take uint8 crops.
      skeleton: joint set name; default from the config / model, else from the joint
        count (18: ``'h36m'``, 21: ``'muco'``).
      detector: ``'auto'`` (BlazePose if fetched, else HOG), ``'blazepose'``, ``'hog'``,
        None (boxes must be given), a callable ``image -> boxes`` / ``(boxes, scores)``
        or a :class:`~mhp_tf.inference.detector.PersonDetector`. Created on first use.
      batch_size: crops per network call.
      heatmap_size, depth_bins, depth_range_mm, input_size: override what the model
        files say (needed for formats that do not say it, e.g. a bare ``.tflite``
        without a ``config.json`` or ``<name>.json`` next to it).
      bbox_scale: box enlargement of the crop for given boxes (training: 1.25 x a tight
        person box).
      detector_bbox_scale: the enlargement for the detector's boxes; None: the
        detector's own ``crop_scale`` (BlazePose: 1.1, its square already holds a
        margin), else ``bbox_scale``. See :attr:`detector_crop_scale`.
      fov_degrees: field of view of the default intrinsics.
      min_detection_score: detections below this score are ignored.
      num_threads: TFLite threads.
      upright: crops of detected people are turned so that their body axis is vertical
        when the detector gives it (BlazePose; :mod:`mhp_tf.postprocess.upright`);
        False: axis-aligned crops. Given boxes use ``estimate(..., angles=)`` instead.
      upright_min_score: detections scoring below this keep an axis-aligned crop: their
        keypoints, hence angles, are unreliable (on ``vtest.avi`` every wild angle, a
        static false positive at ~81 degrees and an upside-down duplicate, scored below
        0.7 while all pedestrians at or above it were within 27 degrees of upright;
        ``scripts/check_upright_detector.py``).
      flip_test: also run each crop mirrored and average its poses in (mirrored back,
        left and right swapped; the evaluator's ``'exact'`` flip test: a crop pixel ``u``
        mirrors to ``S - 1 - u``). Twice the network time.
    """

    def __init__(self, model, normalization: Optional[str] = None,
                 skeleton: Optional[str] = None, detector: DetectorSpec = "auto",
                 batch_size: int = 16, heatmap_size: Optional[int] = None,
                 depth_bins: Optional[int] = None, depth_range_mm: Optional[float] = None,
                 input_size: Optional[int] = None, bbox_scale: float = 1.25,
                 detector_bbox_scale: Optional[float] = None,
                 fov_degrees: float = camera.DEFAULT_FOV_DEGREES,
                 min_detection_score: float = 0.0, num_threads: Optional[int] = None,
                 upright: bool = False, upright_min_score: float = UPRIGHT_MIN_SCORE,
                 flip_test: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        bbox_scale = _positive_scale(bbox_scale)
        if detector_bbox_scale is not None:
            detector_bbox_scale = _positive_scale(detector_bbox_scale, "detector_bbox_scale")
        if not 0 < fov_degrees < 180:
            raise ValueError(f"fov_degrees must be in (0, 180), got {fov_degrees}")
        self.backend, found = self._load(model, input_size, num_threads)
        given = backends_lib.ModelInfo(input_size=input_size, heatmap_size=heatmap_size,
                                       depth_bins=depth_bins, depth_range_mm=depth_range_mm,
                                       normalization=normalization, skeleton=skeleton)
        info = given.fill(self.backend.info).fill(found)
        if info.depth_range_mm is None:
            info.depth_range_mm = backends_lib.DEFAULT_DEPTH_RANGE_MM
        if info.normalization is None and self.backend.needs_normalization:
            logging.warning("PoseEstimator: the model's input normalization is unknown (no "
                            "config.json found); assuming %r. Pass normalization= to be sure.",
                            DEFAULT_NORMALIZATION)
            info.normalization = DEFAULT_NORMALIZATION
        missing = [n for n in ("input_size", "heatmap_size", "depth_bins")
                   if getattr(info, n) is None]
        if missing:
            raise ValueError(f"the model does not say its {', '.join(missing)}: pass "
                             f"{', '.join(m + '=' for m in missing)} (or keep the training "
                             "config.json next to the model file)")
        self.backend.info.depth_bins = self.backend.info.depth_bins or info.depth_bins
        self.backend.set_normalization(info.normalization)
        if info.num_joints is None and info.skeleton is None and info.joint_names is None:
            # Ask the model: one black crop tells its joint count.
            probe, _ = self.backend(np.zeros((1, info.input_size, info.input_size, 3), np.uint8))
            probe = np.asarray(probe)
            if probe.ndim != 3 or probe.shape[0] != 1 or probe.shape[2] != 3:
                raise ValueError(f"the model must map crops [B, S, S, 3] to coords [B, J, 3]; "
                                 f"for one crop it returned shape {probe.shape}")
            info.num_joints = int(probe.shape[1])
        self.info = info
        self.skeleton = _skeleton_for(info.skeleton, info.joint_names, info.num_joints)
        self.batch_size = int(batch_size)
        self.bbox_scale = bbox_scale
        self.detector_bbox_scale = detector_bbox_scale
        self.fov_degrees = float(fov_degrees)
        self.min_detection_score = float(min_detection_score)
        self.upright = bool(upright)
        if not 0.0 <= upright_min_score <= 1.0:
            raise ValueError(f"upright_min_score must be in [0, 1], got {upright_min_score}")
        self.upright_min_score = float(upright_min_score)
        self.flip_test = bool(flip_test)
        self._detector_spec = detector
        self._detector = None

    # ------------------------------------------------------------------ loading

    @staticmethod
    def _load(model, input_size, num_threads) -> Tuple[backends_lib.Backend,
                                                       backends_lib.ModelInfo]:
        import tensorflow as tf

        if isinstance(model, tf.keras.Model):
            return backends_lib.KerasBackend(model), backends_lib.ModelInfo()
        if isinstance(model, (str, os.PathLike)):
            kind, path = backends_lib.resolve_model_path(str(model))
            found = backends_lib.info_from_run_config(backends_lib.read_run_config(path))
            found = backends_lib.read_sidecar(path).fill(found)
            if kind == "keras":
                import mhp_tf.modeling  # noqa: F401  (registers the custom layers)

                try:
                    keras_model = tf.keras.models.load_model(path, compile=False)
                except Exception as e:  # noqa: BLE001 - report any loader failure plainly
                    raise ValueError(f"cannot load the Keras model {path}: "
                                     f"{type(e).__name__}: {str(e).splitlines()[0]}") from None
                return backends_lib.KerasBackend(keras_model), found
            if kind == "saved_model":
                return backends_lib.SavedModelBackend(path), found
            return backends_lib.TFLiteBackend(path, num_threads), found
        if callable(model):
            if input_size is None:
                raise ValueError("a callable model needs input_size=")
            return backends_lib.CallableBackend(model, input_size), backends_lib.ModelInfo()
        raise ValueError(f"model must be a path, a tf.keras.Model or a callable, got "
                         f"{type(model).__name__}")

    # ------------------------------------------------------------------ properties

    @property
    def joint_names(self) -> Tuple[str, ...]:
        return tuple(self.skeleton.joints)

    @property
    def edges(self) -> Tuple[Tuple[int, int], ...]:
        """Skeleton bones as joint index pairs (for drawing)."""
        return tuple(self.skeleton.bones)

    @property
    def root_index(self) -> int:
        return self.skeleton.root

    @property
    def input_size(self) -> int:
        return int(self.info.input_size)

    @property
    def heatmap_size(self) -> int:
        return int(self.info.heatmap_size)

    @property
    def depth_bins(self) -> int:
        return int(self.info.depth_bins)

    @property
    def depth_range_mm(self) -> float:
        return float(self.info.depth_range_mm)

    @property
    def backend_kind(self) -> str:
        return self.backend.kind

    @property
    def detector(self):
        """The person detector (created on first use; None when disabled)."""
        if self._detector is None and self._detector_spec is not None:
            self._detector = make_detector(self._detector_spec)
        return self._detector

    # ------------------------------------------------------------------ steps

    def detect(self, image) -> Tuple[np.ndarray, np.ndarray]:
        """Person boxes ``[N, 4]`` (x, y, w, h px) and scores ``[N]`` of an RGB image."""
        boxes, scores, _ = self.detect_rois(image)
        return boxes, scores

    def detect_rois(self, image) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`detect` plus each person's body-axis angle ``[N]`` (radians, 0 when the
        detector does not give one; :mod:`mhp_tf.postprocess.upright`)."""
        image = _as_uint8_image(image)
        det = self.detector
        if det is None:
            raise ValueError("no person detector (detector=None): pass boxes= to estimate()")
        dets = det.detect(image)
        boxes = np.array([d.box for d in dets], np.float64).reshape(-1, 4)
        scores = np.array([d.score for d in dets], np.float64).reshape(-1)
        angles = np.array([d.angle for d in dets], np.float64).reshape(-1)
        height, width = image.shape[:2]
        # Drop what no crop can be cut from: non-finite, empty, or off-image boxes.
        keep = (np.all(np.isfinite(boxes), 1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
                & (boxes[:, 0] + boxes[:, 2] > 0) & (boxes[:, 1] + boxes[:, 3] > 0)
                & (boxes[:, 0] <= width - 1) & (boxes[:, 1] <= height - 1)
                & (scores >= self.min_detection_score))
        return boxes[keep], scores[keep], angles[keep]

    @property
    def detector_crop_scale(self) -> float:
        """The crop enlargement of boxes from :attr:`detector`: ``detector_bbox_scale`` when
        given, else the detector's ``crop_scale`` when it has one, else ``bbox_scale``."""
        if self.detector_bbox_scale is not None:
            return self.detector_bbox_scale
        scale = getattr(self.detector, "crop_scale", None)
        return self.bbox_scale if scale is None else float(scale)

    def crop_boxes(self, boxes, image_width: int, image_height: int,
                   bbox_scale: Optional[float] = None) -> np.ndarray:
        """Processed crop boxes ``[N, 4]`` for person boxes (clip, square, x ``bbox_scale``,
        default the estimator's)."""
        scale = self.bbox_scale if bbox_scale is None else _positive_scale(bbox_scale)
        b = camera.validate_boxes(boxes, image_width, image_height)
        crop, valid = camera.process_boxes(b, image_width, image_height, 1.0, scale)
        bad = np.flatnonzero(~valid)
        if bad.size:
            raise ValueError(f"boxes: box {int(bad[0])} {b[bad[0]].tolist()} is empty after "
                             f"clipping to the {image_width}x{image_height} image")
        return crop

    def predict_crops(self, crops: np.ndarray):
        """Network on uint8 crops ``[N, S, S, 3]`` -> ``(coords [N, J, 3], joint_conf [N, J] |
        None)``, in batches of ``batch_size``."""
        crops = np.asarray(crops)
        n = len(crops)
        j = self.skeleton.num_joints
        if n == 0:
            return np.zeros((0, j, 3)), None
        coords, confs = [], []
        for start in range(0, n, self.batch_size):
            batch = crops[start:start + self.batch_size]
            c, heatmap = self.backend(batch)
            if c.ndim != 3 or c.shape[1:] != (j, 3):
                raise ValueError(f"the model returned coords of shape {c.shape}, expected "
                                 f"[B, {j}, 3]")
            if self.flip_test:
                mirrored, _ = self.backend(np.ascontiguousarray(batch[:, :, ::-1]))
                c = (np.asarray(c, np.float64) + self._unflip(mirrored)) / 2.0
            coords.append(c)
            if heatmap is not None:
                confs.append(backends_lib.heatmap_confidence(heatmap, c, self.depth_bins))
        conf = np.concatenate(confs) if len(confs) == len(coords) else None
        return np.concatenate(coords), conf

    def _unflip(self, coords) -> np.ndarray:
        """Coords predicted on mirrored crops -> the unmirrored crops' coords: heatmap x
        ``W - W / S - x`` (crop pixel ``u`` -> ``S - 1 - u`` at ``x = u W / S``), left and
        right joints swapped."""
        c = np.array(coords, np.float64)
        w = float(self.heatmap_size)
        c[..., 0] = w - w / float(self.input_size) - c[..., 0]
        return c[:, self.skeleton.flip_permutation()]

    def intrinsics_for(self, image_height: int, image_width: int, intrinsics=None) -> np.ndarray:
        if intrinsics is None:
            return camera.default_intrinsics(int(image_height), int(image_width),
                                             self.fov_degrees)
        return camera.validate_intrinsics(intrinsics, (int(image_height), int(image_width)))

    # ------------------------------------------------------------------ main entry

    def estimate(self, image, boxes=None, intrinsics=None, root_depth=None,
                 root_depth_method: str = "prior", detection_scores=None,
                 angles=None, bbox_scale: Optional[float] = None) -> List[PoseResult]:
        """Poses of the people in one RGB image.

        Args:
          image: ``[H, W, 3]`` RGB, uint8 (or float32 0..255, rounded to uint8). A
            float image in [0, 1] is refused with a ValueError (multiply it by 255),
            as are float values outside 0..255.
            OpenCV reads BGR: convert with ``cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)``.
          boxes: ``[N, 4]`` person boxes ``(x, y, w, h)`` px; None runs the detector.
          intrinsics: ``[3, 3]`` camera matrix (px); None: 55-degree default.
          root_depth: scalar or ``[N]``, the root joints' distances ``Z`` in mm;
            overrides ``root_depth_method``.
          root_depth_method: ``'prior'`` (RootNet's k) or ``'movnect'``.
          detection_scores: optional ``[N]`` scores of given ``boxes`` (used as the
            confidence when the model exposes no heatmap).
          angles: optional scalar or ``[N]`` body-axis angles of given ``boxes``, radians,
            clockwise on screen from image up (``pi/2``: head to the right): each crop is
            turned by its angle about the crop box centre so the person stands upright in
            it, and the poses are turned back (:mod:`mhp_tf.postprocess.upright`). None or
            0: axis-aligned crops, exactly as without it. Detected people (``boxes=None``)
            get the detector's angles when the estimator was made with ``upright=True``.
          bbox_scale: crop enlargement of these boxes; None: :attr:`detector_crop_scale`
            for detected people, the estimator's ``bbox_scale`` for given boxes. Pass
            ``est.detector_crop_scale`` with boxes taken from ``est.detect_rois``.

        Returns:
          One :class:`PoseResult` per box, in box order (detections: best first).
        """
        if root_depth_method not in ROOT_DEPTH_METHODS:
            raise ValueError(f"root_depth_method={root_depth_method!r}; expected one of "
                             f"{ROOT_DEPTH_METHODS}")
        image = _as_uint8_image(image)
        height, width = image.shape[:2]
        k = self.intrinsics_for(height, width, intrinsics)
        if boxes is None:
            if angles is not None:
                raise ValueError("angles= needs boxes=; detected people get the detector's "
                                 "angles with PoseEstimator(upright=True)")
            boxes, scores, angles = self.detect_rois(image)
            angles = (np.where(scores >= self.upright_min_score, angles, 0.0) if self.upright
                      else None)
            if bbox_scale is None:
                bbox_scale = self.detector_crop_scale
        else:
            boxes = camera.validate_boxes(boxes, width, height)
            if angles is not None:
                angles = upright.validate_angles(angles, len(boxes))
            scores = None
            if detection_scores is not None:
                scores = np.asarray(detection_scores, np.float64).reshape(-1)
                if scores.shape != (len(boxes),):
                    raise ValueError(f"detection_scores must be [N={len(boxes)}], got "
                                     f"{scores.shape}")
        n = len(boxes)
        if root_depth is not None:
            depth = np.asarray(root_depth, np.float64)
            if depth.ndim > 1 or (depth.ndim == 1 and depth.shape[0] != n):
                raise ValueError(f"root_depth must be a scalar or [N={n}] (mm), got shape "
                                 f"{depth.shape}")
            depth = np.broadcast_to(depth, (n,)).astype(np.float64)
            if not (np.all(np.isfinite(depth)) and np.all(depth > 0)):
                raise ValueError(f"root_depth must be positive and finite (mm), got "
                                 f"{depth.tolist()}")
        if n == 0:
            return []
        crop_boxes = self.crop_boxes(boxes, width, height, bbox_scale)
        turned = angles is not None and bool(np.any(angles != 0))
        crops = (warp_crops_rotated(image, crop_boxes, angles, self.input_size) if turned
                 else warp_crops(image, crop_boxes, self.input_size))
        coords, joint_conf = self.predict_crops(crops)
        results = self.decode(
            upright.rotate_coords_back(coords, crop_boxes, angles, self.heatmap_size)
            if turned else coords, crop_boxes, k, boxes=boxes, joint_conf=joint_conf,
            detection_scores=scores, root_depth=depth if root_depth is not None else None,
            root_depth_method=root_depth_method)
        if turned:
            for result, raw, angle in zip(results, np.asarray(coords, np.float64), angles):
                result.coords, result.angle = raw, float(angle)
        return results

    __call__ = estimate

    def decode(self, coords, crop_boxes, intrinsics, boxes=None, joint_conf=None,
               detection_scores=None, root_depth=None,
               root_depth_method: str = "prior") -> List[PoseResult]:
        """Network outputs ``[N, J, 3]`` (heatmap units) of crops cut from ``crop_boxes`` ->
        :class:`PoseResult` list (the decoding half of :meth:`estimate`)."""
        k = camera.validate_intrinsics(intrinsics)
        crop_boxes = camera.validate_boxes(crop_boxes, name="crop_boxes")
        coords = np.asarray(coords, np.float64)
        n = len(crop_boxes)
        hm, bins, rng = self.heatmap_size, self.depth_bins, self.depth_range_mm
        joints2d = camera.crop_joints_to_image(coords, crop_boxes, hm)
        root = self.root_index
        if root_depth is None:
            depth = camera.root_depth_prior(crop_boxes, k)
        else:
            depth = np.broadcast_to(np.asarray(root_depth, np.float64), (n,))
        cam = camera.crop_joints_to_camera(coords, crop_boxes, k, depth, hm, bins, rng)
        rel = cam - cam[:, root:root + 1]
        if root_depth is None and root_depth_method == "movnect":
            weights = None
            if joint_conf is not None:
                weights = np.maximum(joint_conf, 1e-6)
            t = camera.global_position_movnect(joints2d, rel, k, weights=weights)
            cam = rel + t[:, None]
            depth = cam[:, root, 2]
            camera.check_in_front(cam, k)
        results = []
        for i in range(n):
            jc = None if joint_conf is None else np.asarray(joint_conf[i], np.float64)
            det_score = None if detection_scores is None else float(detection_scores[i])
            if jc is not None:
                conf = float(np.mean(jc))
            elif det_score is not None:
                conf = det_score
            else:
                conf = float("nan")
            results.append(PoseResult(
                box=(np.asarray(boxes[i], np.float64) if boxes is not None
                     else crop_boxes[i].copy()),
                crop_box=crop_boxes[i].copy(), joints2d=joints2d[i], joints3d_rel=rel[i],
                joints3d_cam=cam[i], root_depth=float(depth[i]), confidence=conf,
                joint_confidence=jc, detection_score=det_score, coords=coords[i]))
        return results


def stack_results(results: Sequence[PoseResult], field: str) -> np.ndarray:
    """``np.stack`` of one field over results (``[0, ...]``-shaped arrays when empty)."""
    shapes = {"joints2d": (0, 0, 2), "joints3d_cam": (0, 0, 3), "joints3d_rel": (0, 0, 3),
              "box": (0, 4), "crop_box": (0, 4)}
    if not results:
        return np.zeros(shapes.get(field, (0,)))
    return np.stack([np.asarray(getattr(r, field), np.float64) for r in results])

