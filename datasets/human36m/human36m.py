"""Human3.6M in the mhp_tf schema, from the annotation release of the 3DMPPE authors.

Expected ``manual_dir`` layout (as released)::

    manual_dir/
      annotations/Human36M_subject{S}_data.json      COCO-style images[] / annotations[]
      annotations/Human36M_subject{S}_camera.json    {cam_idx: {R, t, f, c}}
      annotations/Human36M_subject{S}_joint_3d.json  {action: {subaction: {frame: 17x3 mm}}}
      images/s_{SS}_act_{AA}_subact_{BB}_ca_{CC}/s_..._{NNNNNN}.jpg

One example per annotated person (one per image in Human3.6M):

* the 17 released world joints get a Thorax (midpoint of the shoulders) appended,
  giving the 18-joint ``h36m`` skeleton of :mod:`mhp_tf.skeletons`;
* ``joints_cam = R @ X_world + t`` (mm, camera frame), ``joints_img`` is its pinhole
  projection ``u = fx X/Z + cx, v = fy Y/Z + cy``; ``root_cam`` is the Pelvis;
* ``joints_vis`` is 1 for every joint (motion capture: every joint is known);
* ``bbox`` is the released ground-truth box ``[x, y, w, h]``;
* ``subject`` (1..11), ``action`` (the released ``action_idx``, 2..16), ``frame``
  (the released 0-based ``frame_idx``) and ``sequence`` (``s_11_act_02_subact_01_ca_01``).

Splits follow the two evaluation protocols (BuilderConfigs "protocol2", the
default, and "protocol1"); the train split keeps frames with ``frame_idx % 5 == 0``,
the test split those with ``frame_idx % 64 == 0``. The sequence
``s_11_act_02_subact_02_ca_01`` is known to be corrupt and is skipped (counted in
the skip log).

``bbox_root_human36m_output.json`` (boxes and root depths estimated by RootNet) is
not read: the builder stores ground truth only. Evaluation with estimated boxes /
roots joins that file by ``image_id`` at evaluation time (the image id maps to
``sequence`` + ``frame`` through ``Human36M_subject{S}_data.json``).
"""

import dataclasses
import os
from typing import Tuple

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from mhp_tf.data import builder as builder_lib
from mhp_tf.data import schema

ANNOTATION_DIR = "annotations"
IMAGE_DIR = "images"
NUM_RELEASED_JOINTS = 17
CORRUPT_SEQUENCES = frozenset({"s_11_act_02_subact_02_ca_01"})
BBOX_ROOT_FILE = "bbox_root_human36m_output.json"

_INSTRUCTIONS = (
    "Download the Human3.6M images and the annotation JSON files released with 3DMPPE "
    "(https://github.com/mks0601/3DMPPE_POSENET_RELEASE, 'Human36M' data: "
    "Human36M_subject{S}_data.json, _camera.json, _joint_3d.json) and place them as "
    "manual_dir/annotations/*.json and manual_dir/images/<sequence>/<sequence>_NNNNNN.jpg.")


def sequence_name(subject: int, action: int, subaction: int, camera: int) -> str:
    """The released sequence (image folder) name, e.g. ``s_11_act_02_subact_02_ca_01``."""
    return f"s_{subject:02d}_act_{action:02d}_subact_{subaction:02d}_ca_{camera:02d}"


def annotation_paths(manual_dir: str, subject: int) -> Tuple[str, str, str]:
    """Paths of the data, camera and 3D joint JSON files of one subject."""
    base = os.path.join(manual_dir, ANNOTATION_DIR, f"Human36M_subject{subject}")
    return base + "_data.json", base + "_camera.json", base + "_joint_3d.json"


@dataclasses.dataclass(eq=False)
class Human36MConfig(tfds.core.BuilderConfig):
    """Subjects per split and the frame subsampling of each split."""

    train_subjects: Tuple[int, ...] = ()
    test_subjects: Tuple[int, ...] = ()
    train_every: int = 5
    test_every: int = 64


class Human36M(builder_lib.PoseBuilder):
    """Human3.6M, 18 joints (17 released + Thorax), ground-truth boxes and roots."""

    name = "mhp_human36m"
    SKELETON = "h36m"
    SPLITS = ("train", "test")
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
    BUILDER_CONFIGS = [
        Human36MConfig(
            name="protocol2",
            description="Protocol 2 (MPJPE): train S1,5,6,7,8 every 5th frame; "
                        "test S9,11 every 64th frame.",
            train_subjects=(1, 5, 6, 7, 8), test_subjects=(9, 11)),
        Human36MConfig(
            name="protocol1",
            description="Protocol 1 (PA-MPJPE): train S1,5,6,7,8,9 every 5th frame; "
                        "test S11 every 64th frame.",
            train_subjects=(1, 5, 6, 7, 8, 9), test_subjects=(11,)),
    ]

    def _split_config(self, split: str) -> Tuple[Tuple[int, ...], int]:
        cfg = self.builder_config
        if split == "train":
            return tuple(cfg.train_subjects), int(cfg.train_every)
        if split == "test":
            return tuple(cfg.test_subjects), int(cfg.test_every)
        raise ValueError(f"unknown split {split!r}; expected one of {self.SPLITS}")

    def _check_files(self, manual_dir: str) -> None:
        for split in self.SPLITS:
            subjects, every = self._split_config(split)
            if every < 1:
                raise ValueError(f"{split}: subsampling step must be >= 1, got {every}")
            for subject in subjects:
                for path in annotation_paths(manual_dir, subject):
                    builder_lib.require_file(path, f"Human3.6M annotation of subject {subject}",
                                             _INSTRUCTIONS)
        builder_lib.require_file(os.path.join(manual_dir, IMAGE_DIR), "Human3.6M image folder",
                                 _INSTRUCTIONS)
        for folder in ("bbox_root", ANNOTATION_DIR, ""):
            path = os.path.join(manual_dir, folder, BBOX_ROOT_FILE)
            if os.path.exists(path):
                logging.info("%s: %s is not read (ground-truth boxes and roots are stored; "
                             "join RootNet outputs by image_id at evaluation time)",
                             type(self).__name__, path)

    def _iter_records(self, manual_dir, split):
        subjects, every = self._split_config(split)
        for subject in subjects:
            yield from self._iter_subject(manual_dir, subject, every)

    def _iter_subject(self, manual_dir: str, subject: int, every: int):
        data_path, camera_path, joints_path = annotation_paths(manual_dir, subject)
        data = builder_lib.load_json(data_path, "Human3.6M data annotation", _INSTRUCTIONS)
        cameras = builder_lib.load_json(camera_path, "Human3.6M camera file", _INSTRUCTIONS)
        joints_world = builder_lib.load_json(joints_path, "Human3.6M 3D joint file",
                                             _INSTRUCTIONS)
        try:
            images = {img["id"]: img for img in data["images"]}
            annotations = data["annotations"]
        except (KeyError, TypeError) as e:
            raise ValueError(f"{data_path} is not a Human3.6M data file (COCO-style images[] "
                             f"and annotations[] with ids expected): missing {e}") from None

        sk = self.skeleton
        l_sho, r_sho = sk.index("L_Shoulder"), sk.index("R_Shoulder")
        for ann in annotations:
            key = f"S{subject}/ann{ann.get('id')}"
            img = images.get(ann.get("image_id"))
            if img is None:
                yield key, "annotation without image entry", None
                continue
            try:
                frame = int(img["frame_idx"])
                action, subaction, cam = (int(img["action_idx"]), int(img["subaction_idx"]),
                                          int(img["cam_idx"]))
                file_name = str(img["file_name"])
                img_subject = int(img.get("subject", subject))
            except (KeyError, TypeError, ValueError) as e:
                yield key, schema.InvalidAnnotation(f"image entry lacks or garbles a field: {e}",
                                                    "incomplete image entry"), None
                continue
            if frame % every != 0:
                continue  # protocol subsampling, not a skip
            seq = sequence_name(subject, action, subaction, cam)
            key = f"{seq}/{frame:06d}/ann{ann.get('id')}"
            if img_subject != subject:
                yield key, "subject differs from its annotation file", None
                continue
            folder = os.path.dirname(file_name.replace("\\", "/"))
            if seq in CORRUPT_SEQUENCES or folder in CORRUPT_SEQUENCES:
                yield key, f"corrupt sequence {seq}", None
                continue
            try:
                record = self._make_record(ann, cameras, joints_world, subject, action,
                                           subaction, cam, frame, seq, l_sho, r_sho, key)
            except schema.InvalidAnnotation as e:
                yield key, e, None
                continue
            yield key, os.path.join(manual_dir, IMAGE_DIR, file_name), record

    def _make_record(self, ann, cameras, joints_world, subject, action, subaction, cam, frame,
                     seq, l_sho, r_sho, key):
        cam_param = cameras.get(str(cam))
        if cam_param is None:
            raise schema.InvalidAnnotation(f"no camera {cam} for subject {subject} ({key})",
                                           "missing camera")
        try:
            world = joints_world[str(action)][str(subaction)][str(frame)]
        except (KeyError, TypeError):
            raise schema.InvalidAnnotation(
                f"no 3D joints for action {action} subaction {subaction} frame {frame} ({key})",
                "missing 3D joints") from None
        try:
            rot = builder_lib.as_array(cam_param["R"], (3, 3), "camera R", key)
            trans = builder_lib.as_array(np.reshape(cam_param["t"], -1), (3,), "camera t", key)
            focal = builder_lib.as_array(cam_param["f"], (2,), "camera f", key)
            center = builder_lib.as_array(cam_param["c"], (2,), "camera c", key)
        except (KeyError, ValueError) as e:
            raise schema.InvalidAnnotation(f"camera {cam} is malformed: {e} ({key})",
                                           "bad camera") from None
        world = builder_lib.as_array(world, (NUM_RELEASED_JOINTS, 3), "3D joints", key)
        world = np.concatenate([world, (world[l_sho] + world[r_sho])[None] * 0.5], axis=0)
        cam_xyz = world @ rot.T + trans
        depth = cam_xyz[:, 2]
        if np.all(np.isfinite(depth)) and np.any(depth <= 0):
            raise schema.InvalidAnnotation(f"joint at or behind the camera plane ({key})",
                                           "joint behind camera")
        with np.errstate(divide="ignore", invalid="ignore"):
            joints_img = cam_xyz[:, :2] / depth[:, None] * focal + center
        return {
            "bbox": builder_lib.as_array(ann.get("bbox"), (4,), "bbox", key),
            "joints_img": joints_img,
            "joints_cam": cam_xyz,
            "joints_vis": np.ones(len(world)),
            "have_depth": 1.0,
            "focal": focal,
            "principal_point": center,
            "root_cam": cam_xyz[self.skeleton.root],
            "subject": subject,
            "action": action,
            "sequence": seq,
            "frame": frame,
        }
