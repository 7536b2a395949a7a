"""MuCo-3DHP in the mhp_tf schema (21 joints, 3D), from the 3DMPPE ``MuCo-3DHP.json``.

Expected ``manual_dir`` layout (as released)::

    manual_dir/
      MuCo-3DHP.json    images[] {id, file_name, width, height, f [fx, fy], c [cx, cy]};
                        annotations[] {id, image_id, keypoints_cam 21x3 mm,
                                       keypoints_img 21x2 px, bbox [x, y, w, h]}
      <file_name>       the composited images (augmented_set/..., unaugmented_set/...)

Only a train split exists. Per image, the people kept are the reference's choice
(:func:`select_people`): the person whose root (Pelvis, joint 14) is nearest the
camera (smallest Z; the first one on a tie), plus every other person whose root is at
least 500 mm from the root of *every* other person of the image (kept or not),
measured both in the X-Y plane and in 3D (the X-Y condition implies the 3D one).
People not kept are counted in the skip log as "not selected". An annotation
with a wrong joint count or non-finite coordinates is skipped (counted) before the
selection and takes no part in it.

Fields: ``joints_cam`` = ``keypoints_cam``, ``joints_img`` = ``keypoints_img``,
``joints_vis`` = 1, ``root_cam`` = joint 14, ``focal``/``principal_point`` from the
image's ``f``/``c``, ``have_depth`` = 1, ``sequence`` = the image's folder,
``subject``/``action``/``frame`` = -1.
"""

import collections
import math
import os
from typing import List, Sequence

import numpy as np

from mhp_tf.data import builder as builder_lib
from mhp_tf.data import schema

NUM_JOINTS = 21
ROOT = 14  # Pelvis
MIN_ROOT_DISTANCE_MM = 500.0
ANNOTATION_FILE = "MuCo-3DHP.json"

_INSTRUCTIONS = (
    "Download MuCo-3DHP (generated with the MuCo-3DHP scripts from MPI-INF-3DHP, or the "
    "copy linked from https://github.com/mks0601/3DMPPE_POSENET_RELEASE) and place "
    "MuCo-3DHP.json and the image folders it names (augmented_set/, unaugmented_set/) "
    "directly in manual_dir.")


def select_people(roots: Sequence[Sequence[float]],
                  min_distance: float = MIN_ROOT_DISTANCE_MM) -> List[int]:
    """Indices of the people kept from one image, given their root joints ``[N, 3]`` (mm).

    The nearest person (smallest root Z, first on a tie) first, then, in input
    order, every other person whose root is at least ``min_distance`` from every
    other person's root both in the X-Y plane and in 3D.
    """
    roots = np.asarray(roots, dtype=np.float64).reshape(-1, 3)
    if len(roots) == 0:
        return []
    depths = [float(r[2]) for r in roots]
    nearest = depths.index(min(depths))
    keep = [nearest]
    for i in range(len(roots)):
        if i == nearest:
            continue
        isolated = True
        for j in range(len(roots)):
            if i == j:
                continue
            diff = roots[i] - roots[j]
            dist_xy = math.sqrt(float(np.sum(diff[:2] ** 2)))
            dist_3d = math.sqrt(float(np.sum(diff ** 2)))
            if dist_xy < min_distance or dist_3d < min_distance:
                isolated = False
                break
        if isolated:
            keep.append(i)
    return keep


class MuCo(builder_lib.PoseBuilder):
    """MuCo-3DHP, 21 joints, 3D (train split)."""

    name = "mhp_muco"
    SKELETON = "muco"
    SPLITS = ("train",)
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

    def _check_files(self, manual_dir: str) -> None:
        builder_lib.require_file(os.path.join(manual_dir, ANNOTATION_FILE),
                                 "MuCo-3DHP annotation file", _INSTRUCTIONS)

    def _iter_records(self, manual_dir, split):
        path = os.path.join(manual_dir, ANNOTATION_FILE)
        db = builder_lib.load_json(path, "MuCo-3DHP annotation file", _INSTRUCTIONS)
        try:
            images = db["images"]
            annotations = db["annotations"]
        except (KeyError, TypeError) as e:
            raise ValueError(f"{path} is not a MuCo-3DHP annotation file: missing {e}") from None
        image_ids = {img.get("id") for img in images}
        by_image = collections.defaultdict(list)
        for i, ann in enumerate(annotations):
            if ann.get("image_id") not in image_ids:
                yield f"ann{ann.get('id', i)}", "annotation without image entry", None
                continue
            by_image[ann["image_id"]].append((i, ann))
        for img in images:
            yield from self._image_records(manual_dir, img, by_image.get(img.get("id"), []))

    def _image_records(self, manual_dir, img, anns):
        image_id = img.get("id")
        valid = []  # (key, joints_cam, joints_img, bbox)
        for i, ann in anns:
            key = f"img{image_id}/ann{ann.get('id', i)}"
            try:
                cam = builder_lib.as_array(ann.get("keypoints_cam"), (NUM_JOINTS, 3),
                                           "keypoints_cam", key)
                uv = builder_lib.as_array(ann.get("keypoints_img"), (NUM_JOINTS, 2),
                                          "keypoints_img", key)
                bbox = builder_lib.as_array(ann.get("bbox"), (4,), "bbox", key)
                if not (np.all(np.isfinite(cam)) and np.all(np.isfinite(uv))):
                    raise schema.InvalidAnnotation(f"joints contain NaN or inf ({key})",
                                                   "non-finite values")
            except schema.InvalidAnnotation as e:
                yield key, e, None
                continue
            valid.append((key, cam, uv, bbox))
        if not valid:
            return
        try:
            focal = builder_lib.as_array(img.get("f"), (2,), "image f", f"img{image_id}")
            center = builder_lib.as_array(img.get("c"), (2,), "image c", f"img{image_id}")
            file_name = str(img["file_name"])
        except (schema.InvalidAnnotation, KeyError) as e:
            for key, *_ in valid:
                yield key, schema.InvalidAnnotation(f"image entry is malformed: {e}",
                                                    "bad image entry"), None
            return
        keep = set(select_people([cam[ROOT] for _, cam, _, _ in valid]))
        sequence = os.path.dirname(file_name.replace("\\", "/"))
        for n, (key, cam, uv, bbox) in enumerate(valid):
            if n not in keep:
                yield key, "not selected (root within 500 mm of another person)", None
                continue
            yield key, os.path.join(manual_dir, file_name), {
                "bbox": bbox,
                "joints_img": uv,
                "joints_cam": cam,
                "joints_vis": np.ones(NUM_JOINTS),
                "have_depth": 1.0,
                "focal": focal,
                "principal_point": center,
                "root_cam": cam[ROOT],
                "subject": -1,
                "action": -1,
                "sequence": sequence,
                "frame": -1,
            }
