"""MS-COCO 2017 person keypoints in the mhp_tf schema (2D only, 19 joints).

Expected ``manual_dir`` layout (the official release)::

    manual_dir/
      annotations/person_keypoints_train2017.json
      annotations/person_keypoints_val2017.json
      images/train2017/<file_name>
      images/val2017/<file_name>

Splits: ``train`` (train2017) and ``validation`` (val2017). One example per
annotated person: ``joints_img`` the 17 COCO keypoints followed by Thorax (midpoint
of the shoulders) and Pelvis (midpoint of the hips), the ``coco`` skeleton of
:mod:`mhp_tf.skeletons`; ``joints_vis = v > 0``, an added joint is visible only if
both its parents are. ``bbox`` as annotated. No depth: ``have_depth = 0`` and
``joints_cam``, ``root_cam``, ``focal``, ``principal_point`` are zeros,
``subject``/``action``/``frame`` are -1, ``sequence`` is empty. Crowd annotations
and people with no annotated keypoint are skipped (counted in the log).
"""

import os

import numpy as np

from mhp_tf import skeletons
from mhp_tf.data import builder as builder_lib
from mhp_tf.data import schema

NUM_KEYPOINTS = 17
SPLIT_FOLDERS = {"train": "train2017", "validation": "val2017"}
PERSON_CATEGORY = 1

_INSTRUCTIONS = (
    "Download the COCO 2017 train/val images and the 'annotations_trainval2017' archive "
    "(https://cocodataset.org/#download); place them as "
    "manual_dir/annotations/person_keypoints_{train2017,val2017}.json and "
    "manual_dir/images/{train2017,val2017}/*.jpg.")


def annotation_path(manual_dir: str, split: str) -> str:
    return os.path.join(manual_dir, "annotations",
                        f"person_keypoints_{SPLIT_FOLDERS[split]}.json")


def add_midpoint_joints(joints: np.ndarray, vis: np.ndarray):
    """Append the joints of ``skeletons.COCO_ADDED_JOINTS`` to the 17 COCO keypoints.

    Each added joint is the midpoint of its two parents and is visible only if
    both parents are. Returns ``(joints [19, 2], vis [19])``.
    """
    names = skeletons.COCO.joints
    extra_xy, extra_vis = [], []
    for name in names[NUM_KEYPOINTS:]:
        a, b = (names.index(p) for p in skeletons.COCO_ADDED_JOINTS[name])
        extra_xy.append((joints[a] + joints[b]) * 0.5)
        extra_vis.append(vis[a] * vis[b])
    return (np.concatenate([joints, np.stack(extra_xy)], axis=0),
            np.concatenate([vis, np.asarray(extra_vis)], axis=0))


class COCO(builder_lib.PoseBuilder):
    """COCO 2017 person keypoints, 17 + Thorax + Pelvis joints, 2D only."""

    name = "mhp_coco"
    SKELETON = "coco"
    SPLITS = ("train", "validation")
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

    def _check_files(self, manual_dir: str) -> None:
        for split in self.SPLITS:
            builder_lib.require_file(annotation_path(manual_dir, split),
                                     f"COCO {split} keypoint annotation", _INSTRUCTIONS)

    def _iter_records(self, manual_dir, split):
        path = annotation_path(manual_dir, split)
        images, annotations = builder_lib.load_coco_style(
            path, f"COCO {split} keypoint annotation", _INSTRUCTIONS)
        image_dir = os.path.join(manual_dir, "images", SPLIT_FOLDERS[split])
        for key, img, joints, vis, bbox in builder_lib.coco_people(
                annotations, images, NUM_KEYPOINTS, key_digits=8,
                person_category=PERSON_CATEGORY):
            if joints is None:
                yield key, img, None  # skipped; img holds the reason
                continue
            joints, vis = add_midpoint_joints(joints, vis)
            yield (key, os.path.join(image_dir, img["file_name"]),
                   schema.record_2d(bbox, joints, vis))
