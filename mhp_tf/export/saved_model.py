"""Self-describing SavedModel export (MeTRAbs / TF-Hub style).

:func:`export_saved_model` writes one folder that needs nothing but TensorFlow:
``tf.saved_model.load(path)`` in a process that never imports ``mhp_tf``
gives an object with the pose estimator, its post-processing and its
description. Box processing, the crop warp, input normalisation, soft-argmax (for
``head='heatmap'`` models) and the decoding to camera coordinates all run as
TensorFlow ops inside the SavedModel. The crops are cut by the training
pipeline's own functions (:mod:`mhp_tf.data.pipeline`: ``process_bbox``,
``patch_affine``, the same source window and uint8 bilinear warp), so they are
bit-identical to the evaluation crops; the camera geometry is the TensorFlow
twin of :mod:`mhp_tf.postprocess.camera` (which is NumPy). Usage::

    estimator = tf.saved_model.load("runs/xs_h36m/saved_model")
    out = estimator.estimate_poses(image, boxes)  # uint8 [H, W, 3], float32 [N, 4]
    out["poses3d"]  # [N, J, 3] mm; estimator.joint_names, estimator.joint_edges

Signatures (``loaded.signatures[name](**inputs)``, every input required) and the
same functions as methods (``loaded.serve``, ``loaded.estimate_poses``,
``loaded.crop_images``; these take positional arguments and know the defaults)
-------------------------------------------------------------------------------

``serving_default``  crops -> joints
    inputs:  ``images``     uint8   ``[B, S, S, 3]`` RGB crops, 0..255, already cut
                                    around the person (``S = input_size``).
    outputs: ``coords``     float32 ``[B, J, 3]`` the network output in heatmap units:
                                    ``x, y`` in output-grid cells (``0 .. heatmap_size``,
                                    crop pixel ``* heatmap_size / S``), ``z`` in depth bins
                                    (``0 .. depth_bins``, the root belongs at ``depth_bins/2``).
             ``joints_mm``  float32 ``[B, J, 3]`` root-relative joints in mm, camera
                                    axes (x right, y down, z away from the camera);
                                    ``joints_mm[:, root] == 0``. ``z`` is exact:
                                    ``(z_j - z_root) / depth_bins * depth_range_mm``
                                    (the crop's depth scale is fixed by training).
                                    ``x, y`` need the crop's metric size, which a crop
                                    alone does not tell; they assume the crop spans
                                    ``crop_side_mm`` (2000 mm) at the root's depth:
                                    ``(x_j - x_root) / heatmap_size * crop_side_mm``.
                                    That is RootNet's assumption, the one behind the
                                    default root depth of ``estimate_poses``, under weak
                                    perspective (no correction for a crop seen off the
                                    optical axis or for per-joint depth). Use
                                    ``estimate_poses`` for metric poses of full images.

``estimate_poses``  full image + person boxes -> poses
    inputs:  ``image``       uint8   ``[H, W, 3]`` RGB image.
             ``boxes``       float32 ``[N, 4]`` person boxes ``(x, y, w, h)`` px (a
                                     detector's boxes; ``N = 0`` is allowed).
             ``intrinsics``  float32 ``[3, 3]`` ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``;
                                     **all zeros = not given**: then ``f = max(H, W) /
                                     (2 tan(fov_degrees / 2))``, ``(cx, cy) = ((W - 1) / 2,
                                     (H - 1) / 2)``. Default (Python call): zeros.
             ``root_depth``  float32 ``[N]`` or ``[0]`` distance ``Z`` of each person's
                                     root joint from the camera, mm; **shape [0] = not
                                     given**: then RootNet's prior ``k = sqrt(fx fy) *
                                     crop_side_mm / sqrt(w h)`` on the processed box
                                     ``(w, h)``. Default (Python call): shape [0].
    outputs: ``poses3d``     float32 ``[N, J, 3]`` camera frame, mm.
             ``poses2d``     float32 ``[N, J, 2]`` image pixels (pixel centres at
                                     integers).
             ``boxes``       float32 ``[N, 4]`` the processed crop boxes ``(x, y, w, h)``
                                     px the crops were cut from (clipped, squared, x
                                     ``bbox_scale``).
             ``root_depth``  float32 ``[N]`` the root depths used (given or prior), mm.
             ``coords``      float32 ``[N, J, 3]`` the raw network output (heatmap units).
    Decoding (``mhp_tf.evaluation.metrics.decode_to_camera``): ``u = x / heatmap_size
    * box_w + box_x``, ``Z_j = root_depth + (z / depth_bins * 2 - 1) * depth_range_mm /
    2``, ``X_j = (u - cx) / fx * Z_j``. Invalid inputs (boxes with non-finite values,
    zero size or entirely outside the image; intrinsics with non-positive focal
    lengths, skew or a last row other than ``[0, 0, 1]``; a ``root_depth`` of the wrong
    length or not positive) raise ``InvalidArgumentError`` with a message saying what
    is wrong. A box of the wrong shape (not ``[N, 4]``) is refused by the signature.

``crop_images``  full image + person boxes -> network inputs
    inputs:  ``image`` uint8 ``[H, W, 3]``, ``boxes`` float32 ``[N, 4]`` as above.
    outputs: ``crops`` uint8 ``[N, S, S, 3]`` (what ``serving_default`` takes),
             ``boxes`` float32 ``[N, 4]`` the processed crop boxes.

Method only: ``loaded.infer(x)``: normalised float32 crops ``[B, S, S, 3]`` ->
``coords [B, J, 3]`` (the network alone; one graph shared by all signatures).

Reusable SavedModel (fine-tuning with ``hub.KerasLayer(path, trainable=True)``)
------------------------------------------------------------------------------
``loaded(images, training=False)``: ``images`` float32 ``[B, S, S, 3]`` RGB in
``[0, 1]`` (the TF-Hub image convention; scaled to 0..255 and normalised inside)
-> ``coords [B, J, 3]`` heatmap units. ``training=True`` runs batch norm on batch
statistics and updates its moving averages. ``loaded.variables``,
``loaded.trainable_variables`` and ``loaded.regularization_losses`` follow the
reusable-SavedModel convention. (hub.KerasLayer refuses ``trainable=True`` together
with ``signature=``; fine-tune through the default call instead.)

Metadata (``tf.Variable``, not trainable; read with ``.numpy()``)
----------------------------------------------------------------
``joint_names`` string ``[J]``, ``joint_edges`` int32 ``[E, 2]`` (bones, index
pairs), ``skeleton`` string (joint-set name), ``root_index``, ``num_joints``,
``input_size``, ``heatmap_size``, ``depth_bins`` int32, ``depth_range_mm``, ``crop_side_mm``,
``fov_degrees``, ``bbox_scale`` float32, ``normalization`` string
(``'reference'``, ``'imagenet'`` or ``'none'``), ``model_config`` string (JSON of
the :class:`mhp_tf.ModelConfig`). They describe the graph; the signatures use the
values they had at export (assigning a new value changes nothing).
"""

import json
import math
import os
from typing import Optional

import numpy as np
import tensorflow as tf

from mhp_tf import skeletons
from mhp_tf.data import pipeline
from mhp_tf.modeling.layers import soft_argmax_3d

SERVING_SIGNATURE = "serving_default"
ESTIMATE_POSES_SIGNATURE = "estimate_poses"
CROP_IMAGES_SIGNATURE = "crop_images"
# RootNet's real-world crop box, 2000 mm x 2000 mm (mhp_tf.postprocess.camera.ROOTNET_AREA_MM2).
DEFAULT_CROP_SIDE_MM = 2000.0
DEFAULT_FOV_DEGREES = 55.0


class PoseEstimatorModule(tf.Module):
    """The exported object: a MobileHumanPose Keras model with pre/post-processing.

    Build it with :func:`export_saved_model` (which also saves it); the module
    docstring lists its signatures and attributes.
    """

    # tf.Module computes ``variables`` and ``trainable_variables`` on demand and does
    # not save them; the reusable-SavedModel convention (hub.KerasLayer) reads them as
    # attributes of the loaded object, so the module stores them as tracked lists.
    variables = None
    trainable_variables = None

    def __init__(self, model: tf.keras.Model, normalization: str, skeleton: str,
                 depth_range_mm: float = 2000.0, fov_degrees: float = DEFAULT_FOV_DEGREES,
                 bbox_scale: float = 1.25, crop_side_mm: float = DEFAULT_CROP_SIDE_MM,
                 name: str = "mobilehumanpose_estimator"):
        super().__init__(name=name)
        cfg = getattr(model, "mhp_config", None)
        if cfg is None:
            raise ValueError("export needs a MobileHumanPose model (one with .mhp_config), "
                             f"got {type(model).__name__}")
        if normalization not in pipeline.NORMALIZATIONS:
            raise ValueError(f"normalization={normalization!r}, expected one of "
                             f"{pipeline.NORMALIZATIONS}")
        sk = skeletons.get_skeleton(skeleton)
        if sk.num_joints != cfg.num_joints:
            raise ValueError(f"skeleton {skeleton!r} has {sk.num_joints} joints but the model "
                             f"predicts {cfg.num_joints}")
        for label, value in (("depth_range_mm", depth_range_mm), ("bbox_scale", bbox_scale),
                             ("crop_side_mm", crop_side_mm)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{label} must be positive, got {value}")
        if not (math.isfinite(fov_degrees) and 0.0 < fov_degrees < 180.0):
            raise ValueError(f"fov_degrees must be in (0, 180), got {fov_degrees}")

        # The Keras model is held in a closure, not as a tracked attribute: saving it
        # as a child would add Keras' per-layer traces (~800 functions), which made
        # export and loading several times slower. Its variables are tracked through the lists
        # below and captured by the functions.
        self._run_model = lambda x, training: model(x, training=training)
        self._head = cfg.head
        self._size = cfg.input_size
        self._num_joints = cfg.num_joints
        self._hm = cfg.heatmap_size
        self._bins = cfg.depth_bins
        self._root = sk.root
        self._norm = normalization
        self._range = float(depth_range_mm)
        self._fov = float(fov_degrees)
        self._scale = float(bbox_scale)
        self._side = float(crop_side_mm)

        self.variables = list(model.variables)
        self.trainable_variables = list(model.trainable_variables)
        self.regularization_losses = (
            [tf.function(lambda: tf.add_n(model.losses), input_signature=[])]
            if model.losses else [])

        def meta(value, dtype):
            return tf.Variable(value, dtype=dtype, trainable=False)

        self.joint_names = meta(list(sk.joints), tf.string)
        self.joint_edges = meta(np.asarray(sk.bones, np.int32).reshape(-1, 2), tf.int32)
        self.skeleton = meta(sk.name, tf.string)
        self.root_index = meta(sk.root, tf.int32)
        self.num_joints = meta(cfg.num_joints, tf.int32)
        self.input_size = meta(cfg.input_size, tf.int32)
        self.heatmap_size = meta(cfg.heatmap_size, tf.int32)
        self.depth_bins = meta(cfg.depth_bins, tf.int32)
        self.depth_range_mm = meta(self._range, tf.float32)
        self.crop_side_mm = meta(self._side, tf.float32)
        self.fov_degrees = meta(self._fov, tf.float32)
        self.bbox_scale = meta(self._scale, tf.float32)
        self.normalization = meta(normalization, tf.string)
        self.model_config = meta(json.dumps(cfg.to_dict(), sort_keys=True), tf.string)

        size = self._size
        self.infer = tf.function(
            self._infer, input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
        self.serve = tf.function(
            self._serve, input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8)])
        self.crop_images = tf.function(self._crop_images, input_signature=[
            tf.TensorSpec([None, None, 3], tf.uint8, name="image"),
            tf.TensorSpec([None, 4], tf.float32, name="boxes")])
        self.estimate_poses = tf.function(self._estimate_poses, input_signature=[
            tf.TensorSpec([None, None, 3], tf.uint8, name="image"),
            tf.TensorSpec([None, 4], tf.float32, name="boxes"),
            tf.TensorSpec([3, 3], tf.float32, name="intrinsics"),
            tf.TensorSpec([None], tf.float32, name="root_depth")])

    # ------------------------------------------------------------------ network

    def _coords(self, normalized, training):
        out = self._run_model(normalized, training)
        if self._head == "heatmap":
            out = soft_argmax_3d(out, self._bins)
        return tf.cast(out, tf.float32)

    def _infer(self, normalized):
        """Inference on normalised crops; one traced graph shared by every signature."""
        # TensorFlow's CPU convolution mishandles an empty batch (it returns its input),
        # so zero crops skip the network.
        return tf.cond(tf.shape(normalized)[0] > 0, lambda: self._coords(normalized, False),
                       lambda: tf.zeros([0, self._num_joints, 3]))

    @tf.function
    def __call__(self, images, training=False):
        """float32 ``[B, S, S, 3]`` RGB in [0, 1] -> ``coords [B, J, 3]`` heatmap units."""
        x = pipeline.normalize(tf.cast(images, tf.float32) * 255.0, self._norm)
        return self._coords(x, True) if training else self.infer(x)

    def _serve(self, images):
        coords = self.infer(pipeline.normalize(tf.cast(images, tf.float32), self._norm))
        rel = coords - coords[:, self._root:self._root + 1]
        joints_mm = tf.concat([rel[..., :2] / self._hm * self._side,
                               rel[..., 2:] / self._bins * self._range], -1)
        return {"coords": coords, "joints_mm": joints_mm}

    # ------------------------------------------------------------------ full images

    def _crop_boxes(self, boxes, width, height):
        """Person boxes ``[N, 4]`` -> processed crop boxes ``[N, 4]`` (with input checks)."""
        w_img = tf.cast(width, tf.float32)
        h_img = tf.cast(height, tf.float32)
        checks = [
            tf.debugging.assert_equal(
                tf.reduce_all(tf.math.is_finite(boxes)), True,
                message="boxes must be finite [N, 4] (x, y, w, h) pixel boxes"),
            tf.debugging.assert_equal(
                tf.reduce_all((boxes[:, 2] > 0) & (boxes[:, 3] > 0)), True,
                message="boxes must have positive width and height (x, y, w, h)"),
            tf.debugging.assert_equal(
                tf.reduce_any((boxes[:, 0] + boxes[:, 2] <= 0) | (boxes[:, 1] + boxes[:, 3] <= 0)
                              | (boxes[:, 0] > w_img - 1) | (boxes[:, 1] > h_img - 1)), False,
                message="a box lies entirely outside the image"),
        ]
        with tf.control_dependencies(checks):
            # pipeline.process_bbox works element-wise on (x, y, w, h): give it [4, N].
            crop, valid = pipeline.process_bbox(tf.transpose(boxes), width, height, 1.0,
                                                self._scale)
        with tf.control_dependencies([tf.debugging.assert_equal(
                tf.reduce_all(valid), True, message="a box is empty after clipping")]):
            return tf.identity(tf.transpose(crop))

    def _crops(self, image, crop_boxes):
        """uint8 crops ``[N, S, S, 3]``: the training pipeline's warp without augmentation.

        Same arithmetic as :func:`mhp_tf.data.pipeline.preprocess_example` with
        ``training=False``, including its source window (the part of the image the
        patch covers, + 2 px), so the crops are bit-identical to the ones the model
        was evaluated on: warping the whole image instead shifts the sampling
        positions by float rounding and flips about 1 pixel in 10^4 by one level.
        """
        size = self._size
        shape = tf.shape(image)

        def crop(box):
            fwd = pipeline.patch_affine(box[:2] + box[2:] / 2.0, box[2], box[3], 1.0, 0.0,
                                        tf.constant(False), shape[1], size)
            inv = pipeline.invert_affine(fwd)  # patch pixel -> image pixel
            lo, hi = pipeline.source_window(inv, shape[1], shape[0], size)
            return pipeline.warp_window(image[lo[1]:hi[1], lo[0]:hi[0]], inv, lo, size)

        return tf.map_fn(crop, crop_boxes,
                         fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))

    def _intrinsics(self, intrinsics, width, height):
        """The given intrinsics (checked), or the default ones when all zeros."""
        given = tf.reduce_any(tf.not_equal(intrinsics, 0.0))
        k = intrinsics

        def check(ok, message):
            return tf.debugging.assert_equal(tf.logical_or(tf.logical_not(given), ok), True,
                                             message=message)

        checks = [
            check(tf.reduce_all(tf.math.is_finite(k)), "intrinsics contain NaN or inf"),
            check((k[0, 0] > 0) & (k[1, 1] > 0),
                  "intrinsics focal lengths K[0, 0], K[1, 1] must be positive"),
            check((k[0, 1] == 0) & (k[1, 0] == 0),
                  "intrinsics with skew (K[0, 1] or K[1, 0] != 0) are not supported"),
            check(tf.reduce_all(tf.equal(k[2], tf.constant([0.0, 0.0, 1.0]))),
                  "intrinsics last row must be [0, 0, 1] (or pass all zeros for the default)"),
        ]
        w = tf.cast(width, tf.float32)
        h = tf.cast(height, tf.float32)
        f = tf.maximum(w, h) / (2.0 * math.tan(math.radians(self._fov) / 2.0))
        default = tf.stack([tf.stack([f, 0.0, (w - 1.0) / 2.0]),
                            tf.stack([0.0, f, (h - 1.0) / 2.0]),
                            tf.constant([0.0, 0.0, 1.0])])
        with tf.control_dependencies(checks):
            return tf.where(given, k, default)

    def _root_depth(self, root_depth, crop_boxes, focal):
        n = tf.shape(crop_boxes)[0]
        m = tf.shape(root_depth)[0]
        checks = [
            tf.debugging.assert_equal(
                (m == 0) | (m == n), True,
                message="root_depth must have one value per box [N] (mm), or shape [0] for "
                        "the RootNet prior"),
            tf.debugging.assert_equal(
                tf.reduce_all(tf.math.is_finite(root_depth) & (root_depth > 0)), True,
                message="root_depth must be positive and finite (mm)"),
        ]
        prior = (tf.sqrt(focal[0] * focal[1]) * self._side
                 / tf.sqrt(crop_boxes[:, 2] * crop_boxes[:, 3]))
        with tf.control_dependencies(checks):
            return tf.cond(m > 0, lambda: tf.identity(root_depth), lambda: prior)

    def _crop_images(self, image, boxes):
        shape = tf.shape(image)
        with tf.control_dependencies([tf.debugging.assert_positive(
                shape[:2], message="image must be a non-empty [H, W, 3] uint8 array")]):
            crop_boxes = self._crop_boxes(boxes, shape[1], shape[0])
        return {"crops": self._crops(image, crop_boxes), "boxes": crop_boxes}

    def _estimate_poses(self, image, boxes, intrinsics=np.zeros((3, 3), np.float32),
                        root_depth=np.zeros((0,), np.float32)):
        shape = tf.shape(image)
        height, width = shape[0], shape[1]
        cropped = self._crop_images(image, boxes)
        crops, crop_boxes = cropped["crops"], cropped["boxes"]
        coords = self.infer(pipeline.normalize(tf.cast(crops, tf.float32), self._norm))
        k = self._intrinsics(intrinsics, width, height)
        focal = tf.stack([k[0, 0], k[1, 1]])
        center = tf.stack([k[0, 2], k[1, 2]])
        depth = self._root_depth(root_depth, crop_boxes, focal)

        b = crop_boxes[:, None, :]
        uv = coords[..., :2] / self._hm * b[..., 2:] + b[..., :2]
        z = (coords[..., 2:] / self._bins * 2.0 - 1.0) * (self._range / 2.0) + depth[:, None, None]
        xy = (uv - center) / focal * z
        return {"poses3d": tf.concat([xy, z], -1), "poses2d": uv, "boxes": crop_boxes,
                "root_depth": depth, "coords": coords}


def export_saved_model(model: tf.keras.Model, export_dir: str, normalization: str = "reference",
                       skeleton: str = "h36m", depth_range_mm: float = 2000.0,
                       fov_degrees: float = DEFAULT_FOV_DEGREES, bbox_scale: float = 1.25,
                       crop_side_mm: float = DEFAULT_CROP_SIDE_MM) -> str:
    """Write ``model`` as a self-describing SavedModel to ``export_dir``.

    Args:
      model: a MobileHumanPose Keras model (``head='coords'`` or ``'heatmap'``).
      export_dir: output folder (created; an existing SavedModel is overwritten).
      normalization: the input normalisation the model was trained with
        (``data.normalization`` of the run: ``'reference'``, ``'imagenet'``, ``'none'``).
      skeleton: joint set of the model's output (``data.skeleton`` of the run).
      depth_range_mm: depth span of the heatmap around the root (pipeline: 2000).
      fov_degrees: field of view over the longer image side for the default intrinsics.
      bbox_scale: person-box enlargement of the crop (pipeline: 1.25).
      crop_side_mm: real-world side of a crop box assumed by the default root depth
        (RootNet's 2000 mm) and by the x, y of ``serving_default``'s ``joints_mm``.

    Returns:
      ``export_dir``. The module docstring lists the signatures and attributes.
    """
    module = PoseEstimatorModule(model, normalization, skeleton, depth_range_mm, fov_degrees,
                                 bbox_scale, crop_side_mm)
    size = module._size
    images = tf.TensorSpec([None, size, size, 3], tf.float32)
    # hub.KerasLayer calls __call__ with a Python bool `training`: trace both.
    module.__call__.get_concrete_function(images, training=False)
    module.__call__.get_concrete_function(images, training=True)
    signatures = {SERVING_SIGNATURE: module.serve.get_concrete_function(),
                  ESTIMATE_POSES_SIGNATURE: module.estimate_poses.get_concrete_function(),
                  CROP_IMAGES_SIGNATURE: module.crop_images.get_concrete_function()}
    tf.saved_model.save(module, export_dir, signatures=signatures)
    return export_dir


def export_run(model_dir: str, export_dir: Optional[str] = None,
               model_path: Optional[str] = None, **overrides) -> str:
    """Export a training run (``model_dir/model.keras`` + ``config.json``).

    Normalisation, skeleton, depth range and box scale come from the run's
    :class:`mhp_tf.training.config.ExperimentConfig`; ``overrides`` (any keyword of
    :func:`export_saved_model`) replace them. ``export_dir`` defaults to
    ``model_dir/saved_model``; ``model_path`` to ``model_dir/model.keras``.
    """
    from mhp_tf.training.config import ExperimentConfig

    cfg = ExperimentConfig.load(model_dir)
    model_path = model_path or os.path.join(model_dir, "model.keras")
    if not os.path.exists(model_path):
        raise FileNotFoundError(f"no model to export: {model_path!r} does not exist")
    model = tf.keras.models.load_model(model_path)
    pipe = cfg.pipeline_config()
    kwargs = dict(normalization=cfg.data.normalization, skeleton=cfg.data.skeleton,
                  depth_range_mm=pipe.depth_range_mm, bbox_scale=pipe.bbox_scale)
    kwargs.update(overrides)
    return export_saved_model(model, export_dir or os.path.join(model_dir, "saved_model"),
                              **kwargs)
