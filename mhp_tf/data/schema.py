"""The one example schema shared by every dataset mhp_tf reads (real or synthetic).

Every dataset builder (``datasets/``) writes examples with exactly these
features; ``J`` is the joint count of the dataset's own skeleton
(:mod:`mhp_tf.skeletons`), mapping onto the training skeleton happens in the
input pipeline.

=================  ===========  ==========================================================
feature            dtype/shape  meaning
=================  ===========  ==========================================================
image              uint8 HxWx3  JPEG-encoded RGB image (original file bytes where possible)
bbox               f32 [4]      person box ``[x, y, w, h]`` in pixels, as annotated
joints_img         f32 [J, 2]   2D joints ``(u, v)`` in image pixels
joints_cam         f32 [J, 3]   3D joints in mm, camera frame; zeros when unknown
joints_vis         f32 [J]      1 = joint annotated/visible, 0 = missing
have_depth         f32 []       1 for 3D datasets, 0 for 2D-only ones (MPII, COCO)
focal              f32 [2]      ``(fx, fy)`` px (zeros when unknown)
principal_point    f32 [2]      ``(cx, cy)`` px (zeros when unknown)
root_cam           f32 [3]      root joint in camera frame, mm (zeros when unknown)
subject            i32 []       subject id (-1 when not applicable)
action             i32 []       action id (-1 when not applicable)
sequence           string       sequence / clip name
frame              i32 []       frame index within the sequence (-1 when not applicable)
=================  ===========  ==========================================================

Projection convention (all 3D datasets): ``u = fx * X / Z + cx``,
``v = fy * Y / Z + cy`` with ``X, Y, Z`` in the camera frame.
"""

import collections
from typing import Dict, Optional

from absl import logging
import numpy as np

FLOAT_FIELDS = {
    "bbox": lambda j: (4,),
    "joints_img": lambda j: (j, 2),
    "joints_cam": lambda j: (j, 3),
    "joints_vis": lambda j: (j,),
    "have_depth": lambda j: (),
    "focal": lambda j: (2,),
    "principal_point": lambda j: (2,),
    "root_cam": lambda j: (3,),
}
INT_FIELDS = ("subject", "action", "frame")
STRING_FIELDS = ("sequence",)


class InvalidAnnotation(ValueError):
    """An annotation that must not become a training example; the message says why.

    ``reason`` is a short category used to count skips ("non-finite values", ...).
    """

    def __init__(self, message: str, reason: Optional[str] = None):
        super().__init__(message)
        self.reason = reason or message


def tfds_features(num_joints: int):
    """The schema as a ``tfds.features.FeaturesDict`` for ``num_joints`` joints."""
    import tensorflow_datasets as tfds  # heavy import, only for builders

    feats = {"image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg")}
    for name, shape in FLOAT_FIELDS.items():
        feats[name] = tfds.features.Tensor(shape=shape(num_joints), dtype=np.float32)
    for name in INT_FIELDS:
        feats[name] = tfds.features.Tensor(shape=(), dtype=np.int32)
    for name in STRING_FIELDS:
        feats[name] = tfds.features.Text()
    return tfds.features.FeaturesDict(feats)


def validate_example(example: Dict, num_joints: int, image_size=None,
                     source: str = "") -> Dict:
    """Check and normalise one example dict (everything but ``image``) in place.

    Casts float fields to float32 arrays of the schema shapes and raises
    :class:`InvalidAnnotation` (naming ``source``) for wrong shapes, NaN/inf,
    visibility outside {0, 1}, non-positive box size or, when
    ``image_size=(height, width)`` is given, a box entirely outside the image.
    """
    where = f" ({source})" if source else ""
    for name, shape_fn in FLOAT_FIELDS.items():
        if name not in example:
            raise InvalidAnnotation(f"missing field {name!r}{where}", "missing field")
        shape = shape_fn(num_joints)
        value = np.asarray(example[name], dtype=np.float64)
        if value.shape != shape:
            raise InvalidAnnotation(
                f"{name} has shape {value.shape}, expected {shape} "
                f"({num_joints} joints){where}", "wrong shape")
        if not np.all(np.isfinite(value)):
            raise InvalidAnnotation(f"{name} contains NaN or inf{where}", "non-finite values")
        example[name] = value.astype(np.float32)
    vis = example["joints_vis"]
    if not np.all((vis == 0) | (vis == 1)):
        raise InvalidAnnotation(f"joints_vis must be 0 or 1{where}", "bad visibility")
    x, y, w, h = example["bbox"]
    if w <= 0 or h <= 0:
        raise InvalidAnnotation(f"bbox {example['bbox'].tolist()} has non-positive size{where}",
                                "empty bbox")
    if image_size is not None:
        height, width = image_size
        if x >= width or y >= height or x + w <= 0 or y + h <= 0:
            raise InvalidAnnotation(
                f"bbox {example['bbox'].tolist()} lies outside the {width}x{height} image{where}",
                "bbox outside image")
    for name in INT_FIELDS:
        example.setdefault(name, -1)
        example[name] = np.int32(example[name])
    for name in STRING_FIELDS:
        example.setdefault(name, "")
        example[name] = str(example[name])
    return example


def record_2d(bbox, joints_img, joints_vis) -> Dict:
    """A schema record for a 2D-only dataset (MPII, COCO): no depth, no camera, no ids."""
    num_joints = len(joints_img)
    return {
        "bbox": bbox,
        "joints_img": joints_img,
        "joints_cam": np.zeros((num_joints, 3)),
        "joints_vis": joints_vis,
        "have_depth": 0.0,
        "focal": np.zeros(2),
        "principal_point": np.zeros(2),
        "root_cam": np.zeros(3),
        "subject": -1,
        "action": -1,
        "sequence": "",
        "frame": -1,
    }


class SkipCounter:
    """Counts skipped annotations by reason and logs a one-line summary."""

    def __init__(self, dataset: str):
        self.dataset = dataset
        self.counts = collections.Counter()
        self.examples = {}

    def skip(self, reason: str, detail: Optional[str] = None):
        self.counts[reason] += 1
        self.examples.setdefault(reason, detail)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def log(self, kept: int):
        if not self.counts:
            logging.info("%s: kept %d examples, skipped none", self.dataset, kept)
            return
        parts = ", ".join(f"{n} {r} (e.g. {self.examples[r]})" if self.examples[r] else f"{n} {r}"
                          for r, n in self.counts.most_common())
        logging.warning("%s: kept %d examples, skipped %d: %s", self.dataset, kept, self.total,
                        parts)
