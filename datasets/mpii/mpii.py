"""MPII Human Pose in the mhp_tf schema (2D only), from the COCO-style ``train.json``.

Expected ``manual_dir`` layout::

    manual_dir/
      annotations/train.json   COCO keypoint format: images[] {id, file_name, width, height},
                               annotations[] {id, image_id, keypoints (16*3), num_keypoints, bbox}
      images/<file_name>       the MPII images (a file_name that already starts with
                               "images/" is taken relative to manual_dir)

One example per annotated person: ``joints_img`` the 16 MPII joints (order of
``mhp_tf.skeletons.MPII``), ``joints_vis = v > 0``, ``bbox`` as annotated. MPII has
no depth: ``have_depth = 0`` and ``joints_cam``, ``root_cam``, ``focal``,
``principal_point`` are zeros, ``subject``/``action``/``frame`` are -1 and
``sequence`` is empty. People with no annotated keypoint and crowd annotations
are skipped (counted). Only a train split exists (the reference trains on it).
"""

import os


from mhp_tf.data import builder as builder_lib
from mhp_tf.data import schema

NUM_JOINTS = 16
ANNOTATION_FILE = os.path.join("annotations", "train.json")
IMAGE_DIR = "images"

_INSTRUCTIONS = (
    "Download the MPII Human Pose images (http://human-pose.mpi-inf.mpg.de) and the "
    "COCO-style annotation train.json released with 3DMPPE "
    "(https://github.com/mks0601/3DMPPE_POSENET_RELEASE, 'MPII' data); place them as "
    "manual_dir/annotations/train.json and manual_dir/images/*.jpg.")


def image_path(manual_dir: str, file_name: str) -> str:
    """Path of an image named in ``train.json`` (relative to ``images/``)."""
    parts = file_name.replace("\\", "/").split("/")
    if parts[0] == IMAGE_DIR and len(parts) > 1:
        return os.path.join(manual_dir, *parts)
    return os.path.join(manual_dir, IMAGE_DIR, *parts)


class MPII(builder_lib.PoseBuilder):
    """MPII Human Pose, 16 joints, 2D only (train split)."""

    name = "mhp_mpii"
    SKELETON = "mpii"
    SPLITS = ("train",)
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

    def _check_files(self, manual_dir: str) -> None:
        builder_lib.require_file(os.path.join(manual_dir, ANNOTATION_FILE),
                                 "MPII annotation file", _INSTRUCTIONS)

    def _iter_records(self, manual_dir, split):
        path = os.path.join(manual_dir, ANNOTATION_FILE)
        images, annotations = builder_lib.load_coco_style(
            path, "MPII annotation file", _INSTRUCTIONS)
        for key, img, joints, vis, bbox in builder_lib.coco_people(
                annotations, images, NUM_JOINTS, key_digits=7):
            if joints is None:
                yield key, img, None  # skipped; img holds the reason
                continue
            yield key, image_path(manual_dir, img["file_name"]), schema.record_2d(bbox, joints, vis)
