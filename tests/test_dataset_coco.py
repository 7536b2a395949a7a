"""COCO builder on a tiny fixture in the official person_keypoints format."""

import json
import logging
import os

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from mhp_tf_datasets.coco import COCO

W, H = 64, 48
K = 17
L_SHO, R_SHO, L_HIP, R_HIP = 5, 6, 11, 12  # COCO keypoint order


def _person(rng, v=None, bbox=None):
    v = rng.integers(1, 3, K) if v is None else np.asarray(v)
    xy = rng.uniform(0, [W, H], size=(K, 2)).round(2)
    xy[v == 0] = 0.0
    kps = np.concatenate([xy, v[:, None]], 1)
    bbox = bbox or [float(rng.uniform(0, 20)), float(rng.uniform(0, 15)),
                    float(rng.uniform(10, 40)), float(rng.uniform(10, 30))]
    return {"keypoints": kps.reshape(-1).tolist(), "num_keypoints": int((v > 0).sum()),
            "bbox": bbox, "iscrowd": 0, "category_id": 1, "area": 100.0}


def _write_split(root, folder, people, rng):
    """people: [(file_name, person dict, keep)]; return {bbox: keypoints [K, 3]} kept."""
    os.makedirs(os.path.join(root, "images", folder))
    names = sorted({p[0] for p in people})
    images = []
    for i, name in enumerate(names):
        images.append({"id": 10 + i, "file_name": name, "width": W, "height": H})
        if name != "missing.jpg":
            cv2.imwrite(os.path.join(root, "images", folder, name),
                        rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    ids = {name: 10 + i for i, name in enumerate(names)}
    annotations, kept = [], {}
    for n, (name, person, keep) in enumerate(people):
        annotations.append(dict(person, id=500 + n, image_id=ids[name]))
        if keep:
            kept[tuple(person["bbox"])] = np.reshape(person["keypoints"], (K, 3))
    with open(os.path.join(root, "annotations", f"person_keypoints_{folder}.json"), "w") as f:
        json.dump({"images": images, "annotations": annotations,
                   "categories": [{"id": 1, "name": "person"}]}, f)
    return kept


def _write_fixture(root):
    rng = np.random.default_rng(3)
    os.makedirs(os.path.join(root, "annotations"))
    v_no_lsho = np.full(K, 2)
    v_no_lsho[L_SHO] = 0
    v_no_rhip = np.full(K, 1)
    v_no_rhip[R_HIP] = 0
    nan_person = _person(rng)
    nan_person["keypoints"][3 * 4] = float("nan")
    train = [
        ("a.jpg", _person(rng), True),
        ("a.jpg", _person(rng, v=v_no_lsho), True),         # Thorax invisible
        ("b.jpg", _person(rng, v=v_no_rhip), True),         # Pelvis invisible
        ("b.jpg", dict(_person(rng), iscrowd=1), False),    # crowd
        ("b.jpg", _person(rng, v=np.zeros(K, int)), False),  # zero keypoints
        ("b.jpg", nan_person, False),                       # NaN keypoint
        ("missing.jpg", _person(rng), False),               # image file absent
    ]
    val = [("c.jpg", _person(rng), True), ("c.jpg", dict(_person(rng), iscrowd=1), False)]
    return {"train": _write_split(root, "train2017", train, rng),
            "validation": _write_split(root, "val2017", val, rng)}


def _build(tmp_path, manual_dir):
    builder = COCO(data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    return builder


def _key(bbox):
    return tuple(np.round(np.float32(bbox), 4))


def test_build_values_added_joints_and_skips(tmp_path, caplog):
    manual = str(tmp_path / "coco")
    kept = _write_fixture(manual)
    caplog.set_level(logging.INFO)
    builder = _build(tmp_path, manual)
    assert set(builder.info.splits.keys()) == {"train", "validation"}
    assert builder.info.features["joints_img"].shape == (19, 2)
    for split in ("train", "validation"):
        examples = list(tfds.as_numpy(builder.as_dataset(split=split)))
        got = {_key(ex["bbox"]): ex for ex in examples}
        assert len(got) == len(examples)
        assert set(got) == {_key(b) for b in kept[split]}, split
        for bbox, kps in kept[split].items():
            ex = got[_key(bbox)]
            vis = (kps[:, 2] > 0).astype(np.float32)
            thorax = (kps[L_SHO, :2] + kps[R_SHO, :2]) / 2
            pelvis = (kps[L_HIP, :2] + kps[R_HIP, :2]) / 2
            np.testing.assert_allclose(ex["joints_img"][:K], kps[:, :2], rtol=1e-6)
            np.testing.assert_allclose(ex["joints_img"][17], thorax, rtol=1e-6)
            np.testing.assert_allclose(ex["joints_img"][18], pelvis, rtol=1e-6)
            np.testing.assert_array_equal(ex["joints_vis"][:K], vis)
            assert ex["joints_vis"][17] == vis[L_SHO] * vis[R_SHO]
            assert ex["joints_vis"][18] == vis[L_HIP] * vis[R_HIP]
            np.testing.assert_array_equal(ex["joints_cam"], np.zeros((19, 3)))
            assert ex["have_depth"] == 0.0 and not ex["root_cam"].any()
            assert ex["image"].shape == (H, W, 3)
    # The fixture has one person each without Thorax and without Pelvis.
    train = list(tfds.as_numpy(builder.as_dataset(split="train")))
    assert sorted(int(ex["joints_vis"][17]) for ex in train) == [0, 1, 1]
    assert sorted(int(ex["joints_vis"][18]) for ex in train) == [0, 1, 1]
    for reason in ("crowd annotation", "no annotated keypoints", "non-finite values",
                   "missing image"):
        assert reason in caplog.text, reason


def test_missing_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _build(tmp_path, str(tmp_path / "nowhere"))
    partial = tmp_path / "partial"
    (partial / "annotations").mkdir(parents=True)
    (partial / "annotations" / "person_keypoints_train2017.json").write_text(
        json.dumps({"images": [], "annotations": []}))
    with pytest.raises(FileNotFoundError, match=r"person_keypoints_val2017\.json.*cocodataset"):
        _build(tmp_path, str(partial))
