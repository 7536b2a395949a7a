"""MuPoTS-3D builder on a tiny fixture in the released ``MuPoTS-3D.json`` format."""

import json
import logging
import os

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from mhp_tf_datasets.mupots import MuPoTS

W, H = 64, 48
J = 17
ROOT = 14
# file name -> [(person, problem)]; problem None means the person must be built.
FRAMES = {
    "TS1/img_000000.jpg": [("p0", None), ("p1", None)],
    "TS1/img_000007.jpg": [("p2", None), ("p3", "invalid")],   # is_valid = 0
    "TS2/img_000003.jpg": [("p4", None), ("p5", "nan")],       # NaN joint
    "TS20/img_000120.jpg": [("p6", "corrupt")],                # corrupt JPEG
}


def _write_fixture(root, image_root):
    rng = np.random.default_rng(5)
    images, annotations, truth = [], [], {}
    for image_id, (name, people) in enumerate(FRAMES.items(), start=1):
        fx, fy = rng.uniform(1400, 1600, 2)
        cx, cy = rng.uniform(28, 36), rng.uniform(20, 28)
        images.append({"id": image_id, "file_name": name, "width": W, "height": H,
                       "intrinsic": [fx, fy, cx, cy]})
        path = os.path.join(image_root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if any(p == "corrupt" for _, p in people):
            with open(path, "wb") as f:
                f.write(b"\xff\xd8\xff garbage")
        else:
            cv2.imwrite(path, rng.integers(0, 255, (H, W, 3), np.uint8))
        for person, problem in people:
            cam = rng.uniform(-400, 400, size=(J, 3)) + [0, 0, rng.uniform(3000, 6000)]
            uv = cam[:, :2] / cam[:, 2:] * [fx, fy] + [cx, cy]
            bbox = [float(rng.uniform(0, 20)), float(rng.uniform(0, 15)),
                    float(rng.uniform(10, 40)), float(rng.uniform(10, 30))]
            stored = cam.tolist()
            if problem == "nan":
                stored[ROOT][2] = float("nan")
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "keypoints_cam": stored, "keypoints_img": uv.tolist(),
                                "bbox": bbox, "is_valid": 0 if problem == "invalid" else 1})
            if problem is None:
                seq, frame = name.split("/")[0], int(name[-10:-4])
                truth[person] = {"cam": cam, "uv": uv, "bbox": bbox, "f": [fx, fy],
                                 "c": [cx, cy], "seq": seq, "frame": frame}
    with open(os.path.join(root, "MuPoTS-3D.json"), "w") as fh:
        json.dump({"images": images, "annotations": annotations}, fh)
    return truth


@pytest.mark.parametrize("layout", ["MultiPersonTestSet", "flat"])
def test_build_values_and_skips(tmp_path, caplog, layout):
    manual = str(tmp_path / "mupots")
    image_root = os.path.join(manual, "MultiPersonTestSet") if layout != "flat" else manual
    os.makedirs(image_root)
    truth = _write_fixture(manual, image_root)
    caplog.set_level(logging.INFO)
    builder = MuPoTS(data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual))
    assert list(builder.info.splits.keys()) == ["test"]
    examples = list(tfds.as_numpy(builder.as_dataset(split="test")))
    by_root = {tuple(np.round(t["cam"][ROOT], 1)): p for p, t in truth.items()}
    got = {by_root[tuple(np.round(ex["root_cam"].astype(float), 1))]: ex for ex in examples}
    assert len(got) == len(examples)
    assert set(got) == {"p0", "p1", "p2", "p4"}
    for person, ex in got.items():
        t = truth[person]
        np.testing.assert_allclose(ex["joints_cam"], t["cam"], rtol=1e-6, atol=1e-3)
        np.testing.assert_allclose(ex["joints_img"], t["uv"], rtol=1e-6, atol=1e-4)
        # joints_img is the pinhole projection of joints_cam with the stored intrinsics.
        proj = ex["joints_cam"][:, :2] / ex["joints_cam"][:, 2:] * ex["focal"] \
            + ex["principal_point"]
        np.testing.assert_allclose(ex["joints_img"], proj, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(ex["focal"], t["f"], rtol=1e-6)
        np.testing.assert_allclose(ex["principal_point"], t["c"], rtol=1e-6)
        np.testing.assert_allclose(ex["bbox"], t["bbox"], rtol=1e-6)
        np.testing.assert_array_equal(ex["joints_vis"], np.ones(J))
        assert ex["have_depth"] == 1.0
        assert ex["sequence"].decode() == t["seq"]
        assert int(ex["frame"]) == t["frame"]
        assert ex["image"].shape == (H, W, 3)
    for reason in ("is_valid = 0", "non-finite values", "unreadable image"):
        assert reason in caplog.text, reason


def test_missing_inputs_raise_clear_errors(tmp_path):
    builder = MuPoTS(data_dir=str(tmp_path / "tfds"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir=str(tmp_path / "nowhere")))
    (tmp_path / "no_json" / "MultiPersonTestSet").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"MuPoTS-3D\.json"):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir=str(tmp_path / "no_json")))
