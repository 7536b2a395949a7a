"""MuPoTS-3D in the mhp_tf schema (17 joints, 3D; test split), from ``MuPoTS-3D.json``.

Expected ``manual_dir`` layout (as released)::

    manual_dir/
      MuPoTS-3D.json           images[] {id, file_name "TS{n}/img_%06d.jpg", width, height,
                                         intrinsic [fx, fy, cx, cy]};
                               annotations[] {id, image_id, keypoints_cam 17x3 mm,
                                              keypoints_img 17x2 px, bbox, is_valid}
      MultiPersonTestSet/TS{n}/img_%06d.jpg   (or TS{n}/... directly in manual_dir)

Images are read from ``manual_dir/MultiPersonTestSet`` when that folder exists,
else from ``manual_dir`` itself.

One example per annotation with ``is_valid`` = 1 (as in the reference loader and
the official evaluation, which ignores annotations of invalid frames);
``is_valid`` = 0 annotations are counted in the skip log. Fields:
``joints_cam`` = ``keypoints_cam``, ``joints_img`` = ``keypoints_img``,
``joints_vis`` = 1, ``root_cam`` = joint 14 (Pelvis), ``focal``/``principal_point``
from ``intrinsic``, ``have_depth`` = 1, ``sequence`` = ``TS{n}``, ``frame`` = the
image number of the file name, ``subject``/``action`` = -1.
"""

import os
import re

import numpy as np

from mhp_tf.data import builder as builder_lib
from mhp_tf.data import schema

NUM_JOINTS = 17
ROOT = 14  # Pelvis
ANNOTATION_FILE = "MuPoTS-3D.json"
IMAGE_FOLDER = "MultiPersonTestSet"
_FRAME_RE = re.compile(r"(\d+)\.[A-Za-z]+$")

_INSTRUCTIONS = (
    "Download MultiPersonTestSet of MuPoTS-3D (https://vcai.mpi-inf.mpg.de/projects/"
    "SingleShotMultiPerson/) and MuPoTS-3D.json released with 3DMPPE "
    "(https://github.com/mks0601/3DMPPE_POSENET_RELEASE); place them as "
    "manual_dir/MuPoTS-3D.json and manual_dir/MultiPersonTestSet/TS1..TS20/img_NNNNNN.jpg.")


def split_file_name(file_name: str):
    """``"TS3/img_000120.jpg"`` -> ``("TS3", 120)`` (frame -1 when the name has no number)."""
    parts = file_name.replace("\\", "/").split("/")
    sequence = parts[0] if len(parts) > 1 else ""
    match = _FRAME_RE.search(parts[-1])
    return sequence, int(match.group(1)) if match else -1


class MuPoTS(builder_lib.PoseBuilder):
    """MuPoTS-3D, 17 joints, 3D (test split only)."""

    name = "mhp_mupots"
    SKELETON = "mupots"
    SPLITS = ("test",)
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

    def _check_files(self, manual_dir: str) -> None:
        builder_lib.require_file(os.path.join(manual_dir, ANNOTATION_FILE),
                                 "MuPoTS-3D annotation file", _INSTRUCTIONS)

    def _iter_records(self, manual_dir, split):
        path = os.path.join(manual_dir, ANNOTATION_FILE)
        images, annotations = builder_lib.load_coco_style(
            path, "MuPoTS-3D annotation file", _INSTRUCTIONS)
        image_root = os.path.join(manual_dir, IMAGE_FOLDER)
        if not os.path.isdir(image_root):
            image_root = manual_dir
        for i, ann in enumerate(annotations):
            key = f"img{ann.get('image_id')}/ann{ann.get('id', i)}"
            img = images.get(ann.get("image_id"))
            if img is None:
                yield key, "annotation without image entry", None
                continue
            if not ann.get("is_valid", 1):
                yield key, "is_valid = 0", None
                continue
            try:
                cam = builder_lib.as_array(ann.get("keypoints_cam"), (NUM_JOINTS, 3),
                                           "keypoints_cam", key)
                uv = builder_lib.as_array(ann.get("keypoints_img"), (NUM_JOINTS, 2),
                                          "keypoints_img", key)
                bbox = builder_lib.as_array(ann.get("bbox"), (4,), "bbox", key)
                intrinsic = builder_lib.as_array(img.get("intrinsic"), (4,), "intrinsic", key)
                file_name = str(img["file_name"])
            except KeyError:
                yield key, schema.InvalidAnnotation(f"image entry has no file_name ({key})",
                                                    "bad image entry"), None
                continue
            except schema.InvalidAnnotation as e:
                yield key, e, None
                continue
            sequence, frame = split_file_name(file_name)
            yield key, os.path.join(image_root, file_name), {
                "bbox": bbox,
                "joints_img": uv,
                "joints_cam": cam,
                "joints_vis": np.ones(NUM_JOINTS),
                "have_depth": 1.0,
                "focal": intrinsic[:2],
                "principal_point": intrinsic[2:],
                "root_cam": cam[ROOT],
                "subject": -1,
                "action": -1,
                "sequence": sequence,
                "frame": frame,
            }
