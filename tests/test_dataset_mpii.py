"""MPII builder on a tiny fixture in the released COCO-style ``train.json`` format."""

import json
import logging
import os

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from mhp_tf_datasets.mpii import MPII

W, H = 64, 48
J = 16


def _person(rng, v=None, bbox=None):
    v = rng.integers(0, 3, J) if v is None else np.asarray(v)
    xy = rng.uniform(0, [W, H], size=(J, 2))
    xy[v == 0] = 0.0  # MPII stores unlabelled joints at (0, 0)
    kps = np.concatenate([xy, v[:, None]], 1)
    bbox = bbox or [float(rng.uniform(0, 20)), float(rng.uniform(0, 15)),
                    float(rng.uniform(10, 40)), float(rng.uniform(10, 30))]
    return {"keypoints": kps.reshape(-1).tolist(), "num_keypoints": int((v > 0).sum()),
            "bbox": bbox, "iscrowd": 0, "category_id": 1}


def _write_fixture(root):
    """Return {bbox tuple: (keypoints [J, 3]) } of the people that must be kept."""
    rng = np.random.default_rng(2)
    os.makedirs(os.path.join(root, "annotations"))
    os.makedirs(os.path.join(root, "images"))
    names = ["000001.jpg", "000002.jpg", "000003.jpg", "000004.jpg"]
    for name in names[:3]:
        cv2.imwrite(os.path.join(root, "images", name),
                    rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    with open(os.path.join(root, "images", names[3]), "wb") as f:
        f.write(b"corrupt, not an image")
    images = [{"id": i + 1, "file_name": n, "width": W, "height": H} for i, n in enumerate(names)]
    # A file name that already carries the images/ folder.
    images.append({"id": 5, "file_name": "images/000002.jpg", "width": W, "height": H})
    people = [
        (1, _person(rng), True),
        (1, _person(rng, v=[1, 0] * 8), True),           # second person, half unlabelled
        (2, _person(rng, v=np.zeros(J, int)), False),    # no keypoint: skipped
        (2, dict(_person(rng), iscrowd=1), False),       # crowd: skipped
        (3, dict(_person(rng), keypoints=[1.0] * 45), False),  # 15 joints: skipped
        (3, _person(rng, bbox=[70.0, 5.0, 10.0, 10.0]), False),  # box right of the image
        (4, _person(rng), False),                        # corrupt JPEG: skipped
        (5, _person(rng), True),
        (3, _person(rng, v=[2] * J), True),
    ]
    annotations, kept = [], {}
    for n, (image_id, person, keep) in enumerate(people):
        annotations.append(dict(person, id=100 + n, image_id=image_id))
        if keep:
            kept[tuple(person["bbox"])] = np.reshape(person["keypoints"], (J, 3))
    with open(os.path.join(root, "annotations", "train.json"), "w") as f:
        json.dump({"images": images, "annotations": annotations,
                   "categories": [{"id": 1, "name": "person"}]}, f)
    return kept


def _build(tmp_path, manual_dir):
    builder = MPII(data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    return builder


def test_build_values_and_skips(tmp_path, caplog):
    manual = str(tmp_path / "mpii")
    kept = _write_fixture(manual)
    caplog.set_level(logging.INFO)
    builder = _build(tmp_path, manual)
    assert list(builder.info.splits.keys()) == ["train"]
    examples = list(tfds.as_numpy(builder.as_dataset(split="train")))
    got = {tuple(np.round(ex["bbox"], 4)): ex for ex in examples}
    assert len(got) == len(examples) == len(kept)
    assert set(got) == {tuple(np.round(np.float32(b), 4)) for b in kept}
    for bbox, kps in kept.items():
        ex = got[tuple(np.round(np.float32(bbox), 4))]
        np.testing.assert_allclose(ex["joints_img"], kps[:, :2], rtol=1e-6)
        np.testing.assert_array_equal(ex["joints_vis"], (kps[:, 2] > 0).astype(np.float32))
        np.testing.assert_array_equal(ex["joints_cam"], np.zeros((J, 3)))
        for name in ("focal", "principal_point", "root_cam"):
            assert not ex[name].any(), name
        assert ex["have_depth"] == 0.0
        assert int(ex["subject"]) == int(ex["action"]) == int(ex["frame"]) == -1
        assert ex["image"].shape == (H, W, 3)
    for reason in ("no annotated keypoints", "crowd annotation", "wrong shape",
                   "bbox outside image", "unreadable image"):
        assert reason in caplog.text, reason


def test_missing_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _build(tmp_path, str(tmp_path / "nowhere"))
    (tmp_path / "empty_annotations" / "images").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"annotations/train\.json"):
        _build(tmp_path, str(tmp_path / "empty_annotations"))
