"""Small tfds datasets written by the tests (no download), registered under real names.

``prepare(data_dir)`` writes two tiny prepared datasets; ``install()`` points the
dataset registry's ``human36m`` / ``mpii`` names at them. Images are random
textures with a bright blob whose position and size follow the joints, so a
network can learn something in a few steps.
"""

import os

import cv2
import numpy as np
import tensorflow_datasets as tfds

from mhp_tf.data import builder as builder_lib
from mhp_tf.data import datasets


def _images(manual_dir, n, seed=0):
    os.makedirs(manual_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        img = rng.integers(0, 80, (96, 96, 3), dtype=np.uint8)
        centre = rng.uniform(35, 60, 2)
        cv2.circle(img, (int(centre[0]), int(centre[1])), 6, (255, 255, 255), -1)
        cv2.imwrite(os.path.join(manual_dir, f"{i}.jpg"), img)
        joints = centre + rng.normal(0, 3, (18, 2))
        cam = np.concatenate([rng.normal(0, 200, (18, 2)),
                              3000 + rng.normal(0, 150, (18, 1))], 1)
        cam[0, 2] = 3000
        records.append((joints, cam))
    return records


def write_bad_images(folder):
    """Write a zero-byte ``empty.jpg`` and an undecodable ``garbage.jpg`` (random bytes
    after a JPEG header) into ``folder``; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    empty = os.path.join(folder, "empty.jpg")
    garbage = os.path.join(folder, "garbage.jpg")
    open(empty, "wb").close()
    with open(garbage, "wb") as f:
        f.write(b"\xff\xd8\xff\xe0" + np.random.default_rng(0).bytes(200))
    return empty, garbage


class MhpFakePoses3d(builder_lib.PoseBuilder):
    SKELETON = "h36m"

    def _iter_records(self, manual_dir, split):
        records = _images(manual_dir, 48)
        chosen = range(0, 40) if split == "train" else range(40, 48)
        for i in chosen:
            joints, cam = records[i]
            yield f"{i}", os.path.join(manual_dir, f"{i}.jpg"), dict(
                bbox=[20, 20, 56, 56], joints_img=joints, joints_cam=cam,
                joints_vis=np.ones(18), have_depth=1.0, focal=[500, 500],
                principal_point=[48, 48], root_cam=cam[0], action=2 + i % 3, frame=i)


class MhpFakePoses2d(builder_lib.PoseBuilder):
    SKELETON = "mpii"
    SPLITS = ("train",)

    def _iter_records(self, manual_dir, split):
        records = _images(manual_dir + "_2d", 12, seed=1)
        for i, (joints, _) in enumerate(records):
            yield f"{i}", os.path.join(manual_dir + "_2d", f"{i}.jpg"), dict(
                bbox=[20, 20, 56, 56], joints_img=joints[:16], joints_cam=np.zeros((16, 3)),
                joints_vis=np.ones(16), have_depth=0.0, focal=[0, 0],
                principal_point=[0, 0], root_cam=[0, 0, 0])


CLASSES = {"human36m": MhpFakePoses3d, "mpii": MhpFakePoses2d}


_REAL_BUILDER_CLASS = datasets.builder_class


def install():
    """Make the dataset registry resolve human36m / mpii to the fake builders; every
    other name (synthetic, ...) still resolves to the real builder."""
    datasets.builder_class = lambda name: CLASSES.get(name) or _REAL_BUILDER_CLASS(name)


def prepare(data_dir):
    install()
    manual = os.path.join(os.path.dirname(data_dir.rstrip("/")), "manual")
    _images(manual, 1)  # tfds wants an existing, non-empty manual_dir
    for cls in CLASSES.values():
        cls(data_dir=data_dir).download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=manual))
    return data_dir
