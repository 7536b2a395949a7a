"""Base class of the mhp_tf dataset builders (tensorflow-datasets, offline ``manual_dir``).

A concrete builder (in ``datasets/<name>/``) sets ``SKELETON``, ``SPLITS`` and
``MANUAL_DOWNLOAD_INSTRUCTIONS`` and implements :meth:`PoseBuilder._iter_records`,
which yields ``(key, image_path, record)`` with ``record`` holding the schema
fields (:mod:`mhp_tf.data.schema`) except the image. The base class

* fails with a clear message when ``manual_dir`` or a required file is missing,
* validates every record (shapes, NaN/inf, box inside the image) and skips
  invalid ones with a per-reason count in the log, never silently,
* reads each image once, checks it decodes (missing, zero-byte and undecodable
  images are skipped and counted like bad annotations: one bad file never aborts
  a build), and stores the original JPEG bytes (other formats are re-encoded).

A subclass skips a record itself by yielding ``(key, reason, None)``, where
``reason`` is a short string or a :class:`schema.InvalidAnnotation` (then its
``reason`` is the count category and its message the logged example). It may
override :meth:`PoseBuilder._check_files` to fail early, before any example is
written, when a required annotation file is missing.

Build one::

    builder = Human36M(data_dir="~/tensorflow_datasets")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir="/data/h36m"))
    ds = builder.as_dataset(split="test")
"""

import json
import os
from typing import Any, Iterator, Optional, Sequence, Tuple

import cv2
import numpy as np
import tensorflow_datasets as tfds

from mhp_tf import skeletons
from mhp_tf.data import schema

JPEG_MAGIC = b"\xff\xd8"


def read_image_bytes(path: str) -> Tuple[bytes, Tuple[int, int]]:
    """Read an image file; return JPEG bytes and its (height, width).

    Raises :class:`schema.InvalidAnnotation` if the file is missing, empty
    (zero bytes) or does not decode. OpenCV raises on an empty buffer and may
    raise on some malformed headers, so both cases become a skip reason here
    instead of an exception that would abort the whole build.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise schema.InvalidAnnotation(f"cannot read image {path}: {e.strerror}",
                                       "missing image") from None
    if not data:
        raise schema.InvalidAnnotation(f"image {path} is empty (0 bytes)", "empty image file")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None or image.size == 0:
        raise schema.InvalidAnnotation(f"image {path} is not a decodable image",
                                       "unreadable image")
    if not data.startswith(JPEG_MAGIC):
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        data = encoded.tobytes()
    return data, image.shape[:2]


def require_file(path: str, what: str, instructions: str = "") -> str:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} not found: expected {path}. {instructions}".strip())
    return path


def load_json(path: str, what: str, instructions: str = "") -> Any:
    """Load a JSON annotation file; clear errors when it is missing or malformed."""
    require_file(path, what, instructions)
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{what} {path} is not valid JSON: {e}") from None


def load_coco_style(path: str, what: str, instructions: str = ""):
    """Load a COCO-style annotation file; returns ``(images by id, annotations)``.

    Clear errors when the file is missing, not JSON, or lacks ``images[]`` (with
    ids) / ``annotations[]``.
    """
    db = load_json(path, what, instructions)
    try:
        return {img["id"]: img for img in db["images"]}, db["annotations"]
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path} is not a {what} (COCO-style images[] with ids and "
                         f"annotations[] expected): missing {e}") from None


def as_array(value: Any, shape: Sequence[int], what: str, source: str = "") -> np.ndarray:
    """``value`` as a float64 array of ``shape``.

    Raises :class:`schema.InvalidAnnotation` (reason "wrong shape") when the
    value is not numeric or has another shape (e.g. a wrong joint count).
    Finiteness is not checked here (``schema.validate_example`` does it).
    """
    where = f" ({source})" if source else ""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise schema.InvalidAnnotation(f"{what} is not a numeric array{where}",
                                       "wrong shape") from None
    if arr.shape != tuple(shape):
        raise schema.InvalidAnnotation(
            f"{what} has shape {arr.shape}, expected {tuple(shape)}{where}", "wrong shape")
    return arr


def parse_coco_keypoints(values: Any, num_joints: int, source: str = ""):
    """COCO-format flat ``keypoints`` ``[x1, y1, v1, ...]`` -> ``(joints [J, 2], vis [J])``.

    ``vis`` is 1 where ``v > 0`` (labelled, visible or not), else 0. A wrong
    length raises :class:`schema.InvalidAnnotation` ("wrong shape").
    """
    kps = as_array(values, (num_joints * 3,), f"keypoints ({num_joints} joints x 3)",
                   source).reshape(num_joints, 3)
    return kps[:, :2], (kps[:, 2] > 0).astype(np.float64)


def coco_people(annotations, images, num_keypoints: int, key_digits: int = 7,
                person_category: Optional[int] = None):
    """Walk COCO-style person annotations (MPII, COCO) with the shared skip rules.

    Yields ``(key, image_entry, joints, vis, bbox)`` for usable people, and
    ``(key, reason, None, None, None)`` for skipped ones (``reason`` a string or an
    :class:`schema.InvalidAnnotation`), in file order: annotations without an image
    entry, of another category (only when ``person_category`` is given), crowd
    annotations, malformed keypoints / box, and people without annotated keypoints.
    """
    for i, ann in enumerate(annotations):
        key = f"{i:0{key_digits}d}_ann{ann.get('id')}"
        img = images.get(ann.get("image_id"))
        if img is None:
            yield key, "annotation without image entry", None, None, None
            continue
        if (person_category is not None
                and ann.get("category_id", person_category) != person_category):
            yield key, "not a person", None, None, None
            continue
        if ann.get("iscrowd", 0):
            yield key, "crowd annotation", None, None, None
            continue
        try:
            joints, vis = parse_coco_keypoints(ann.get("keypoints"), num_keypoints, key)
            bbox = as_array(ann.get("bbox"), (4,), "bbox", key)
        except schema.InvalidAnnotation as e:
            yield key, e, None, None, None
            continue
        if ann.get("num_keypoints", int(vis.sum())) == 0 or not vis.any():
            yield key, "no annotated keypoints", None, None, None
            continue
        yield key, img, joints, vis, bbox


class PoseBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared logic of the pose dataset builders; see module docstring."""

    SKELETON: str = ""
    SPLITS: Tuple[str, ...] = ("train", "test")
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First mhp_tf release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Place the released files in the manual_dir."

    @property
    def skeleton(self) -> skeletons.Skeleton:
        return skeletons.get_skeleton(self.SKELETON)

    def _info(self) -> tfds.core.DatasetInfo:
        sk = self.skeleton
        # DatasetInfo directly (not dataset_info_from_configs, which looks for README /
        # citation files next to the builder's module and fails outside a package).
        return tfds.core.DatasetInfo(
            builder=self,
            description=f"{type(self).__name__} in the mhp_tf pose schema "
                        f"({sk.name} skeleton, {sk.num_joints} joints).",
            features=schema.tfds_features(sk.num_joints),
            metadata=tfds.core.MetadataDict(skeleton=sk.name, joints=list(sk.joints)),
        )

    def _split_generators(self, dl_manager):
        try:
            manual_dir = os.fspath(dl_manager.manual_dir)
        except AssertionError as e:  # tfds: manual_dir not given, missing or empty
            raise FileNotFoundError(
                f"{type(self).__name__}: {e}\nPass the folder as download_and_prepare("
                "download_config=tfds.download.DownloadConfig(manual_dir=...)).") from None
        if not os.path.isdir(manual_dir):
            raise FileNotFoundError(
                f"{type(self).__name__}: manual_dir {manual_dir} does not exist. "
                f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
        self._check_files(manual_dir)
        return {split: self._generate_examples(manual_dir, split) for split in self.SPLITS}

    def _check_files(self, manual_dir: str) -> None:
        """Raise FileNotFoundError for missing required files (default: no check)."""

    def _iter_records(self, manual_dir: str, split: str) -> Iterator[Tuple[str, str, dict]]:
        raise NotImplementedError

    def _generate_examples(self, manual_dir: str, split: str):
        counter = schema.SkipCounter(f"{type(self).__name__}/{split}")
        # Kept on the builder so callers (and tests) can read the per-reason counts.
        self.skip_counts = getattr(self, "skip_counts", {})
        self.skip_counts[split] = counter.counts
        kept = 0
        num_joints = self.skeleton.num_joints
        for key, image_path, record in self._iter_records(manual_dir, split):
            if record is None:  # the subclass skipped it; image_path holds the reason
                if isinstance(image_path, schema.InvalidAnnotation):
                    message = str(image_path)
                    counter.skip(image_path.reason,
                                 message if str(key) in message else f"{key}: {message}")
                else:
                    counter.skip(image_path, str(key))
                continue
            try:
                data, size = read_image_bytes(image_path)
                example = schema.validate_example(record, num_joints, size, source=str(key))
            except schema.InvalidAnnotation as e:
                counter.skip(e.reason, str(e))
                continue
            example["image"] = data
            kept += 1
            yield key, example
        counter.log(kept)
