"""The training / evaluation input pipeline as tf.data, following the reference recipe.

Per example (all inside the TensorFlow graph)::

  JPEG bytes --(extract shape)--> bbox processing (clip, square, x1.25)
    -> augmentation parameters (stateless RNG: deterministic for a seed,
       independent of parallelism)
    -> decode only the source window the patch needs (decode_and_crop_jpeg)
    -> synthetic occlusion on the source pixels (reference: uniform noise box)
    -> ONE affine warp to the input size (flip, scale, rotation folded in)
    -> per-channel colour gain, clipped to [0, 255]
    -> targets in heatmap units + visibility / have_depth masks
    -> normalisation.

Augmentation follows the reference (``data/dataset.py`` of
SangbumChoi/MobileHumanPose): scale ``1 + 0.25 * clip(N(0,1), -1, 1)``,
rotation ``30 deg * clip(N(0,1), -2, 2)`` with p=0.6 (else 0), horizontal
flip p=0.5 (``x' = W - 1 - x``, left/right joints and their visibility
swapped), colour gain ``U(0.8, 1.2)`` per channel, synthetic occlusion p=0.5
(a box of ``U(0, 0.7)`` x bbox area with aspect ``U(0.3, 1/0.3)`` inside the
bbox and the image, filled with uniform noise). One deliberate difference: the
reference re-samples the occluder until it fits, forever; we try
``occlusion_tries`` times and otherwise leave the image unoccluded.
"""

import dataclasses
import math
from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from mhp_tf import skeletons

# ImageNet statistics used by the reference (RGB order).
PIXEL_MEAN = (0.485, 0.456, 0.406)
PIXEL_STD = (0.229, 0.224, 0.225)
NORMALIZATIONS = ("reference", "imagenet", "none")
# What a training step needs; evaluation also keeps box, affine and 3D metadata.
TRAINING_KEYS = ("image", "coords", "vis", "have_depth")
# Every key of a preprocessed example (see preprocess_example).
EXAMPLE_KEYS = ("subject", "action", "frame", "sequence", "image", "coords", "vis",
                "have_depth", "valid", "bbox", "affine", "flip", "joints_cam", "root_cam",
                "focal", "principal_point")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything the input pipeline needs to know.

    Attributes:
      input_size: side of the square network input (256 in the paper).
      heatmap_size: side of the output heatmap (64 for L/S, 32 for XS).
      depth_bins: D of the volumetric heatmap.
      depth_range_mm: depth span of the heatmap around the root (2000 = +-1 m).
      skeleton: joint set the targets are expressed in (``'h36m'`` or ``'muco'``);
        examples of other sets are mapped onto it by joint name.
      bbox_scale: box enlargement after squaring (1.25).
      normalization: ``'reference'``: ``(rgb - mean) / std`` on 0..255 values,
        the reference code's behaviour (ToTensor on a float array does not
        divide by 255; needed for imported PyTorch weights);
        ``'imagenet'``: ``(rgb / 255 - mean) / std``; ``'none'``: 0..255 floats.
      scale_factor, rotation_factor, rotation_prob, flip_prob, color_factor,
      occlusion_prob, occlusion_tries: augmentation (reference values).
      photometric_prob: share of training samples given the camera-like photometric
        augmentation of :func:`photometric` (brightness, contrast, saturation or grey,
        blur, sensor noise); 0 (the reference) turns it off.
      low_res_prob: share of training samples seen as a small person in a low-resolution
        video (:func:`low_resolution`: shrunk, often JPEG-compressed, enlarged back);
        0 (the reference) turns it off.
    """

    input_size: int = 256
    heatmap_size: int = 64
    depth_bins: int = 64
    depth_range_mm: float = 2000.0
    skeleton: str = "h36m"
    bbox_scale: float = 1.25
    normalization: str = "reference"
    scale_factor: float = 0.25
    rotation_factor: float = 30.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    color_factor: float = 0.2
    occlusion_prob: float = 0.5
    occlusion_tries: int = 16
    photometric_prob: float = 0.0
    low_res_prob: float = 0.0

    def __post_init__(self):
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization={self.normalization!r}, expected one of "
                             f"{NORMALIZATIONS}")
        skeletons.get_skeleton(self.skeleton)
        for name in ("input_size", "heatmap_size", "depth_bins"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("rotation_prob", "flip_prob", "occlusion_prob", "photometric_prob",
                     "low_res_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    @classmethod
    def for_model(cls, model_config, skeleton: str = "h36m", **overrides) -> "PipelineConfig":
        """Pipeline settings matching a :class:`mhp_tf.ModelConfig` or a
        :class:`mhp_tf.modeling.MoVNectConfig`. MoVNect has no depth bins: its ``z`` target
        only masks joints outside ``depth_range_mm`` of the root, so any bin count serves
        (the heatmap size is used)."""
        depth_bins = getattr(model_config, "depth_bins", model_config.heatmap_size)
        return cls(input_size=model_config.input_size, heatmap_size=model_config.heatmap_size,
                   depth_bins=depth_bins, skeleton=skeleton, **overrides)


# ----------------------------------------------------------------------------- geometry


def process_bbox(bbox, image_width, image_height, aspect_ratio: float = 1.0,
                 scale: float = 1.25):
    """Reference bbox processing: clip to the image, grow to ``aspect_ratio``, scale.

    Returns ``(bbox [4] float32, valid bool)``; ``valid`` is False for boxes
    that are empty after clipping.
    """
    bbox = tf.cast(bbox, tf.float32)
    width = tf.cast(image_width, tf.float32)
    height = tf.cast(image_height, tf.float32)
    x, y, w, h = tf.unstack(bbox)
    x1 = tf.maximum(0.0, x)
    y1 = tf.maximum(0.0, y)
    x2 = tf.minimum(width - 1.0, x1 + tf.maximum(0.0, w - 1.0))
    y2 = tf.minimum(height - 1.0, y1 + tf.maximum(0.0, h - 1.0))
    valid = (w * h > 0) & (x2 >= x1) & (y2 >= y1)
    w, h = x2 - x1, y2 - y1
    cx, cy = x1 + w / 2.0, y1 + h / 2.0
    w_new = tf.where(w > aspect_ratio * h, w, h * aspect_ratio)
    h_new = tf.where(w > aspect_ratio * h, w / aspect_ratio, h)
    w_new, h_new = w_new * scale, h_new * scale
    return tf.stack([cx - w_new / 2.0, cy - h_new / 2.0, w_new, h_new]), valid


def patch_affine(center, box_w, box_h, scale, rotation_deg, flip, image_width, out_size):
    """Forward affine ``[2, 3]`` from source-image pixels to patch pixels.

    Same mapping as the reference's ``gen_trans_from_patch_cv`` (box centre
    -> patch centre, box scaled by ``scale``, rotated by ``rotation_deg``),
    preceded by the horizontal flip ``x -> W - 1 - x`` when ``flip``.
    """
    out = tf.cast(out_size, tf.float32)
    rot = rotation_deg * math.pi / 180.0
    cos, sin = tf.cos(rot), tf.sin(rot)
    sx = out / (box_w * scale)
    sy = out / (box_h * scale)
    # A = diag(sx, sy) @ R(-rot)
    a = tf.stack([tf.stack([sx * cos, sx * sin]), tf.stack([-sy * sin, sy * cos])])
    w1 = tf.cast(image_width, tf.float32) - 1.0
    # Flip F(p) = (W - 1 - x, y) = Fm p + ft; the box centre moves with it.
    fm = tf.where(flip, tf.constant([[-1.0, 0.0], [0.0, 1.0]]), tf.eye(2))
    ft = tf.where(flip, tf.stack([w1, 0.0]), tf.zeros([2]))
    c = tf.linalg.matvec(fm, center) + ft
    lin = tf.matmul(a, fm)
    offset = tf.linalg.matvec(a, ft - c) + out / 2.0
    return tf.concat([lin, offset[:, None]], axis=1)


def invert_affine(m):
    lin, t = m[:, :2], m[:, 2]
    inv = tf.linalg.inv(lin)
    return tf.concat([inv, -tf.linalg.matvec(inv, t)[:, None]], axis=1)


def apply_affine(m, points):
    """``points [N, 2]`` -> ``[N, 2]``."""
    return tf.linalg.matvec(m[None, :, :2], points) + m[None, :, 2]


# ----------------------------------------------------------------------------- augmentation


def sample_augmentation(seed, cfg: PipelineConfig, training: bool) -> Dict[str, tf.Tensor]:
    """Augmentation parameters from a stateless seed ``[2]`` (identity when not training)."""
    if not training:
        return {"scale": tf.constant(1.0), "rotation": tf.constant(0.0),
                "flip": tf.constant(False), "color": tf.ones([3]),
                "occlude": tf.constant(False), "occ_draws": tf.zeros([cfg.occlusion_tries, 4])}
    seeds = tf.random.experimental.stateless_split(seed, 7)
    normal = lambda s: tf.random.stateless_normal([], s)  # noqa: E731
    uniform = lambda s, shape=(): tf.random.stateless_uniform(shape, s)  # noqa: E731
    scale = 1.0 + cfg.scale_factor * tf.clip_by_value(normal(seeds[0]), -1.0, 1.0)
    rotation = tf.where(uniform(seeds[2]) <= cfg.rotation_prob,
                        cfg.rotation_factor * tf.clip_by_value(normal(seeds[1]), -2.0, 2.0), 0.0)
    flip = uniform(seeds[3]) <= cfg.flip_prob
    color = 1.0 + cfg.color_factor * (2.0 * uniform(seeds[4], [3]) - 1.0)
    occlude = uniform(seeds[5]) <= cfg.occlusion_prob
    occ_draws = uniform(seeds[6], [cfg.occlusion_tries, 4])
    return {"scale": scale, "rotation": rotation, "flip": flip, "color": color,
            "occlude": occlude, "occ_draws": occ_draws}


def occlusion_box(bbox, image_width, image_height, draws):
    """First of the candidate occluders (reference sampling) that fits in the image.

    ``draws [T, 4]`` uniform numbers (area, ratio, x, y) per try. Returns
    ``(xmin, ymin, w, h)`` as int32 and whether any try fitted.
    """
    bx, by, bw, bh = tf.unstack(bbox)
    area = draws[:, 0] * 0.7 * bw * bh
    ratio = draws[:, 1] * (1 / 0.3 - 0.3) + 0.3
    h = tf.sqrt(area * ratio)
    w = tf.sqrt(area / ratio)
    xmin = draws[:, 2] * (bw - w - 1.0) + bx
    ymin = draws[:, 3] * (bh - h - 1.0) + by
    width = tf.cast(image_width, tf.float32)
    height = tf.cast(image_height, tf.float32)
    fits = (xmin >= 0) & (ymin >= 0) & (xmin + w < width) & (ymin + h < height)
    first = tf.argmax(tf.cast(fits, tf.int32))
    box = tf.cast(tf.stack([xmin[first], ymin[first], w[first], h[first]]), tf.int32)
    return box, tf.reduce_any(fits)


def _paint_noise(crop, box, origin, seed):
    """Fill ``box`` (x, y, w, h in image px) of ``crop`` (whose top-left is image px
    ``origin``) with uniform uint8 noise. Only the part inside the crop is generated."""
    shape = tf.shape(crop)
    x0 = tf.clip_by_value(box[0] - origin[0], 0, shape[1])
    y0 = tf.clip_by_value(box[1] - origin[1], 0, shape[0])
    x1 = tf.clip_by_value(box[0] + box[2] - origin[0], 0, shape[1])
    y1 = tf.clip_by_value(box[1] + box[3] - origin[1], 0, shape[0])
    h, w = y1 - y0, x1 - x0
    # Four uniform bytes per 32-bit draw: 0..255, as the reference's rand * 255 (0..254).
    words = (h * w * 3 + 3) // 4
    bits = tf.random.stateless_uniform([words], seed, minval=None, maxval=None, dtype=tf.uint32)
    noise = tf.reshape(tf.bitcast(bits, tf.uint8), [-1])[:h * w * 3]
    noise = tf.reshape(noise, [h, w, 3])
    return tf.raw_ops.TensorStridedSliceUpdate(
        input=crop, begin=tf.stack([y0, x0, 0]), end=tf.stack([y1, x1, 3]),
        strides=tf.constant([1, 1, 1]), value=noise)


def normalize(image, normalization: str):
    """Network input from 0..255 RGB floats (see ``PipelineConfig.normalization``).

    Works on float32 tensors and on float32 NumPy arrays alike (the result has the
    input's kind); the inference backends use it on NumPy crops.
    """
    if normalization == "none":
        return image
    mean = np.asarray(PIXEL_MEAN, np.float32)
    std = np.asarray(PIXEL_STD, np.float32)
    if normalization == "imagenet":
        return (image / 255.0 - mean) / std
    return (image - mean) / std  # 'reference': 0..255 input, no division by 255


def denormalize(image, normalization: str = "reference"):
    """Inverse of the pipeline normalisation: back to 0..255 RGB floats."""
    image = tf.convert_to_tensor(image, tf.float32)
    if normalization == "none":
        return image
    mean = tf.constant(PIXEL_MEAN, tf.float32)
    std = tf.constant(PIXEL_STD, tf.float32)
    if normalization == "imagenet":
        return (image * std + mean) * 255.0
    return image * std + mean


# ----------------------------------------------------------------------------- one example


def source_window(inv, width, height, size: int):
    """``(lo, hi)`` int32 ``(x, y)`` corners of the image window a ``size`` patch samples.

    ``inv`` maps patch pixels to image pixels; the window covers the warped patch
    corners plus 2 px for the bilinear neighbours, clipped to the image and never
    empty. Decoding or slicing only this window keeps the warp exact and cheap.
    """
    corners = tf.constant([[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]],
                          tf.float32)
    src_corners = apply_affine(inv, corners)
    lo = tf.cast(tf.floor(tf.reduce_min(src_corners, 0)), tf.int32) - 2
    hi = tf.cast(tf.math.ceil(tf.reduce_max(src_corners, 0)), tf.int32) + 3
    wh = tf.stack([width, height])
    lo = tf.clip_by_value(lo, 0, wh - 1)
    hi = tf.clip_by_value(hi, lo + 1, wh)
    return lo, hi


def warp_window(window, inv, lo, size: int):
    """The ``[size, size, C]`` patch (window dtype) from a source ``window`` starting at ``lo``.

    Bilinear on the uint8 source, as cv2.warpAffine does in the reference (its patch
    is uint8 too); outside the image is black.
    """
    # Output pixel -> window pixel.
    window_inv = tf.concat([inv[:, :2], (inv[:, 2] - tf.cast(lo, tf.float32))[:, None]], 1)
    transform = tf.concat([tf.reshape(window_inv, [6]), tf.zeros([2])], 0)[None]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=window[None], transforms=transform,
        output_shape=tf.constant([size, size]), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")[0]


def photometric(patch, seed):
    """Camera-like photometric changes of a float ``[S, S, 3]`` patch in 0..255, drawn from
    the stateless ``seed``: brightness x U(0.7, 1.3) and contrast x U(0.65, 1.35) about the
    mean, saturation x U(0.4, 1.4) (grey with p = 0.1), a Gaussian blur with
    sigma U(0, 1.5) px (p = 0.35) and Gaussian sensor noise with sigma U(0, 8) levels
    (p = 0.35); clipped to 0..255. Geometry is untouched, so labels stay as they are."""
    seeds = tf.random.experimental.stateless_split(seed, 9)
    u = lambda i, lo=0.0, hi=1.0: tf.random.stateless_uniform([], seeds[i], lo, hi)  # noqa
    x = patch * u(0, 0.7, 1.3)
    mean = tf.reduce_mean(x)
    x = (x - mean) * u(1, 0.65, 1.35) + mean
    grey = tf.reduce_sum(x * tf.constant([0.299, 0.587, 0.114]), -1, keepdims=True)
    sat = tf.where(u(2) < 0.1, 0.0, u(3, 0.4, 1.4))
    x = grey + sat * (x - grey)
    sigma = u(4, 0.0, 1.5)
    taps = tf.range(-3.0, 4.0)
    kernel = tf.exp(-0.5 * tf.square(taps / tf.maximum(sigma, 1e-3)))
    kernel = kernel / tf.reduce_sum(kernel)
    padded = tf.pad(x[None], [[0, 0], [3, 3], [3, 3], [0, 0]], mode="REFLECT")
    blur = tf.nn.depthwise_conv2d(
        tf.nn.depthwise_conv2d(padded, tf.tile(kernel[:, None, None, None], [1, 1, 3, 1]),
                               [1, 1, 1, 1], "VALID"),
        tf.tile(kernel[None, :, None, None], [1, 1, 3, 1]), [1, 1, 1, 1], "VALID")[0]
    x = tf.where(u(5) < 0.35, blur, x)
    noise = tf.random.stateless_normal(tf.shape(x), seeds[6]) * u(7, 0.0, 8.0)
    x = tf.where(u(8) < 0.35, x + noise, x)
    return tf.clip_by_value(x, 0.0, 255.0)


LOW_RES_FACTORS = (1.5, 4.0)   # shrink factor range of low_resolution
LOW_RES_JPEG = (0.5, 25, 85)   # share JPEG-compressed at the small size, quality range


def low_resolution(patch, seed):
    """A float ``[S, S, 3]`` patch in 0..255 as a person filmed small looks once the crop is
    enlarged to the network's input (a pedestrian 80 px tall in a surveillance video, a
    distant player): shrunk by area averaging to a side of ``S / f``, ``f ~ U(1.5, 4)``,
    JPEG-compressed there at quality U(25, 85) for half the samples (the blocks and ringing
    of video codecs at that scale), then enlarged back bilinearly. Both resizes keep pixel
    centres aligned, so the labels stay as they are."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    size = tf.shape(patch)[0]
    f = tf.random.stateless_uniform([], seeds[0], *LOW_RES_FACTORS)
    small = tf.maximum(tf.cast(tf.round(tf.cast(size, tf.float32) / f), tf.int32), 8)
    x = tf.image.resize(patch[None], tf.stack([small, small]), method="area")[0]
    share, q_lo, q_hi = LOW_RES_JPEG
    quality = tf.random.stateless_uniform([], seeds[1], q_lo, q_hi + 1, dtype=tf.int32)
    x8 = tf.cast(tf.round(tf.clip_by_value(x, 0.0, 255.0)), tf.uint8)
    jpeg = tf.cast(tf.image.adjust_jpeg_quality(x8, quality), tf.float32)
    x = tf.where(tf.random.stateless_uniform([], seeds[2]) < share, jpeg, x)
    x = tf.image.resize(x[None], tf.stack([size, size]), method="bilinear")[0]
    return tf.clip_by_value(x, 0.0, 255.0)


def preprocess_example(example: Dict[str, tf.Tensor], seed, cfg: PipelineConfig,
                       training: bool, source_skeleton: str) -> Dict[str, tf.Tensor]:
    """Turn one schema example (JPEG bytes + labels) into network input and targets.

    Returns a dict with ``image [S, S, 3]`` (normalised float32), ``coords
    [J, 3]`` targets in heatmap units (x, y in the output grid, z in depth
    bins), ``vis [J]``, ``have_depth []``, ``valid []`` (False for an empty
    box) and, for evaluation, ``bbox`` (processed box, px), ``affine`` (source
    px -> patch px), ``flip``, ``joints_cam``, ``root_cam``, ``focal``,
    ``principal_point`` (target skeleton order where per-joint) and the ids
    ``subject``/``action``/``frame`` (-1 when absent) and ``sequence`` (string,
    ``""`` when absent).
    """
    src_sk = skeletons.get_skeleton(source_skeleton)
    dst_sk = skeletons.get_skeleton(cfg.skeleton)
    size = cfg.input_size

    shape = tf.io.extract_jpeg_shape(example["image"])
    height, width = shape[0], shape[1]
    bbox, valid = process_bbox(example["bbox"], width, height, 1.0, cfg.bbox_scale)
    aug = sample_augmentation(seed, cfg, training)

    center = bbox[:2] + bbox[2:] / 2.0
    fwd = patch_affine(center, bbox[2], bbox[3], aug["scale"], aug["rotation"], aug["flip"],
                       width, size)
    inv = invert_affine(fwd)

    lo, hi = source_window(inv, width, height, size)
    crop_size = hi - lo
    crop = tf.io.decode_and_crop_jpeg(
        example["image"], tf.stack([lo[1], lo[0], crop_size[1], crop_size[0]]), channels=3)

    if training:
        occ_box, fits = occlusion_box(bbox, width, height, aug["occ_draws"])
        crop = tf.cond(aug["occlude"] & fits,
                       lambda: _paint_noise(crop, occ_box, lo, tf.random.experimental
                                            .stateless_fold_in(seed, 1)),
                       lambda: crop)

    patch = warp_window(crop, inv, lo, size)
    patch = tf.clip_by_value(tf.cast(patch, tf.float32) * aug["color"], 0.0, 255.0)
    patch.set_shape([size, size, 3])
    if training and cfg.low_res_prob > 0:
        lseed = tf.random.experimental.stateless_fold_in(seed, 3)
        apply = tf.random.stateless_uniform([], lseed) < cfg.low_res_prob
        patch = tf.cond(apply, lambda: low_resolution(
            patch, tf.random.experimental.stateless_fold_in(lseed, 1)), lambda: patch)
        patch.set_shape([size, size, 3])
    if training and cfg.photometric_prob > 0:
        pseed = tf.random.experimental.stateless_fold_in(seed, 2)
        apply = tf.random.stateless_uniform([], pseed) < cfg.photometric_prob
        patch = tf.cond(apply, lambda: photometric(
            patch, tf.random.experimental.stateless_fold_in(pseed, 1)), lambda: patch)

    # Targets, in the source skeleton first (flip swaps joints of that skeleton).
    joints_img = tf.cast(example["joints_img"], tf.float32)
    joints_cam = tf.cast(example["joints_cam"], tf.float32)
    vis = tf.cast(example["joints_vis"], tf.float32)
    perm = tf.constant(src_sk.flip_permutation(), tf.int32)
    joints_img = tf.where(aug["flip"], tf.gather(joints_img, perm), joints_img)
    vis = tf.where(aug["flip"], tf.gather(vis, perm), vis)
    joints_cam_flip = tf.gather(joints_cam, perm) * tf.constant([-1.0, 1.0, 1.0])
    joints_cam_out = tf.where(aug["flip"], joints_cam_flip, joints_cam)
    uv = apply_affine(fwd, joints_img)
    depth_rel = joints_cam[:, 2] - joints_cam[src_sk.root, 2]
    depth_rel = tf.where(aug["flip"], tf.gather(depth_rel, perm), depth_rel)
    z01 = (depth_rel / (cfg.depth_range_mm / 2.0) + 1.0) / 2.0
    inside = ((uv[:, 0] >= 0) & (uv[:, 0] < size) & (uv[:, 1] >= 0) & (uv[:, 1] < size)
              & (z01 >= 0) & (z01 < 1))
    vis = vis * tf.cast(inside, tf.float32)
    coords = tf.concat([uv * (cfg.heatmap_size / size), (z01 * cfg.depth_bins)[:, None]], 1)

    if src_sk.name != dst_sk.name:
        idx = skeletons.mapping_indices(src_sk.name, dst_sk.name)
        have = tf.constant(idx >= 0)
        gather_idx = tf.constant(np.maximum(idx, 0), tf.int32)
        coords = tf.where(have[:, None], tf.gather(coords, gather_idx), 0.0)
        vis = tf.where(have, tf.gather(vis, gather_idx), 0.0)
        joints_cam_out = tf.where(have[:, None], tf.gather(joints_cam_out, gather_idx), 0.0)

    ids = {k: tf.cast(example[k], tf.int32) if k in example else tf.constant(-1)
           for k in ("subject", "action", "frame")}
    sequence = example["sequence"] if "sequence" in example else tf.constant("")
    return {
        **ids,
        "sequence": sequence,
        "image": normalize(patch, cfg.normalization),
        "coords": coords,
        "vis": vis,
        "have_depth": tf.cast(example["have_depth"], tf.float32),
        "valid": valid,
        "bbox": bbox,
        "affine": fwd,
        "flip": aug["flip"],
        "joints_cam": joints_cam_out,
        "root_cam": tf.cast(example["root_cam"], tf.float32),
        "focal": tf.cast(example["focal"], tf.float32),
        "principal_point": tf.cast(example["principal_point"], tf.float32),
    }


# ----------------------------------------------------------------------------- datasets


def map_examples(ds: tf.data.Dataset, cfg: PipelineConfig, training: bool,
                 source_skeleton: str, seed: int = 0,
                 num_parallel_calls=tf.data.AUTOTUNE, start: int = 0) -> tf.data.Dataset:
    """Apply :func:`preprocess_example` with a per-element stateless seed.

    Element ``i`` of ``ds`` gets seed ``(seed, start + i)``, so results do not
    depend on parallelism or scheduling (``start`` continues the numbering of a
    stream that was fast-forwarded); drops examples whose box is empty.
    """
    def fn(index, example):
        return preprocess_example(example, tf.stack([tf.cast(seed, tf.int64), index]), cfg,
                                  training, source_skeleton)

    ds = ds.enumerate(start=start).map(fn, num_parallel_calls=num_parallel_calls,
                                       deterministic=True)
    return ds.filter(lambda ex: ex["valid"])


def mix_datasets(*datasets: tf.data.Dataset, first: int = 0) -> tf.data.Dataset:
    """Take from N (already repeated) datasets in turn, element by element: an exact
    equal mix (50/50 for two).

    Pass repeated datasets: the shorter ones are then cycled, as in the reference's
    ``MultipleDatasets(make_same_len=True)``. ``first`` picks the stream of the first
    element (``first % N``: a mix that had produced ``first`` elements continues).
    """
    if len(datasets) < 2:
        raise ValueError(f"mix_datasets needs at least two datasets, got {len(datasets)}")
    selector = tf.data.Dataset.range(len(datasets)).repeat().skip(first % len(datasets))
    return tf.data.Dataset.choose_from_datasets(list(datasets), selector)


def example_from_numpy(image_jpeg: bytes, record: Dict[str, np.ndarray]) -> Dict[str, tf.Tensor]:
    """A schema example as tensors (for tests and tools working without tfds)."""
    out = {k: tf.constant(v) for k, v in record.items() if k in (
        "bbox", "joints_img", "joints_cam", "joints_vis", "have_depth", "focal",
        "principal_point", "root_cam")}
    out["image"] = tf.constant(image_jpeg)
    return out


def seed_tensor(seed: Optional[int], index: int = 0):
    return tf.constant([seed or 0, index], tf.int64)
