"""MuCo-3DHP builder on a tiny fixture in the released ``MuCo-3DHP.json`` format."""

import json
import logging
import os

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from mhp_tf_datasets.muco import MuCo, select_people

W, H = 64, 48
J = 21
ROOT = 14

# Per image: (name, root XYZ in mm, planted problem or None). The roots are chosen so
# that the selection rule has a known answer (see EXPECTED_KEPT).
IMAGES = {
    "augmented_set/img_a.jpg": [("A", (0, 0, 3000)),        # nearest
                                ("B", (1000, 0, 4000)),     # >= 500 mm from A and C
                                ("C", (0, 100, 5000))],     # 100 mm from A in X-Y
    "augmented_set/img_b.jpg": [("D", (0, 0, 6000)),
                                ("E", (200, 0, 2000))],     # nearest; D is 200 mm away in X-Y
    "unaugmented_set/img_c.jpg": [("F", (0, 0, 4000)),
                                  ("G", (600, 0, 3000)),    # nearest
                                  ("I", (0, 450, 5000))],   # 450 mm from F: I and F dropped
    "unaugmented_set/img_d.jpg": [("NAN", (0, 0, 2000)),    # NaN joint: skipped, no say
                                  ("K", (100, 0, 4000)),    # nearest valid person
                                  ("L", (900, 0, 4500)),
                                  ("BAD", (2000, 0, 3000))],  # 20 joints: skipped
    "unaugmented_set/missing.jpg": [("M", (0, 0, 3500))],   # image file absent
}
EXPECTED_KEPT = {"A", "B", "E", "G", "K", "L"}


def _reference_rule(roots):
    """Independent statement of the rule: nearest, plus X-Y isolated (>= 500 mm) people."""
    roots = np.asarray(roots, float)
    nearest = int(np.argmin(roots[:, 2]))
    xy = np.linalg.norm(roots[:, None, :2] - roots[None, :, :2], axis=-1)
    np.fill_diagonal(xy, np.inf)
    return {i for i in range(len(roots)) if i == nearest or xy[i].min() >= 500}


def _write_fixture(root):
    rng = np.random.default_rng(4)
    images, annotations, truth = [], [], {}
    for image_id, (name, people) in enumerate(IMAGES.items(), start=1):
        f, c = [float(rng.uniform(1400, 1600))] * 2, [32.0, 24.0]
        images.append({"id": image_id, "file_name": name, "width": W, "height": H,
                       "f": f, "c": c})
        os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
        if not name.endswith("missing.jpg"):
            cv2.imwrite(os.path.join(root, name), rng.integers(0, 255, (H, W, 3), np.uint8))
        for person, root_xyz in people:
            cam = rng.uniform(-400, 400, size=(J, 3)) + np.asarray(root_xyz, float)
            cam[ROOT] = root_xyz
            uv = cam[:, :2] / cam[:, 2:] * f + c
            bbox = [float(rng.uniform(0, 20)), float(rng.uniform(0, 15)),
                    float(rng.uniform(10, 40)), float(rng.uniform(10, 30))]
            stored = cam.tolist()
            if person == "NAN":
                stored[3][0] = float("nan")
            if person == "BAD":
                stored = stored[:20]
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "keypoints_cam": stored, "keypoints_img": uv.tolist(),
                                "bbox": bbox})
            truth[person] = {"cam": cam, "uv": uv, "bbox": bbox, "f": f, "c": c,
                             "seq": os.path.dirname(name)}
    with open(os.path.join(root, "MuCo-3DHP.json"), "w") as fh:
        json.dump({"images": images, "annotations": annotations}, fh)
    return truth


def test_selection_rule_fixture_agrees_with_independent_rule():
    names_kept = set()
    for name, people in IMAGES.items():
        valid = [(p, r) for p, r in people if p not in ("NAN", "BAD")]
        picked = _reference_rule([r for _, r in valid])
        names_kept |= {valid[i][0] for i in picked if not name.endswith("missing.jpg")}
        assert set(select_people([r for _, r in valid])) == picked, name
    assert names_kept == EXPECTED_KEPT
    # Ties on depth keep the first; the 3D distance never rescues an X-Y neighbour.
    assert select_people([(0, 0, 3000), (2000, 0, 3000)]) == [0, 1]
    assert select_people([(0, 0, 3000), (0, 0, 9000)]) == [0]
    assert select_people([]) == []


def test_build_keeps_expected_people(tmp_path, caplog):
    manual = str(tmp_path / "muco")
    truth = _write_fixture(manual)
    caplog.set_level(logging.INFO)
    builder = MuCo(data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual))
    assert builder.info.features["joints_cam"].shape == (21, 3)
    examples = list(tfds.as_numpy(builder.as_dataset(split="train")))
    by_root = {tuple(np.round(t["cam"][ROOT], 1)): p for p, t in truth.items()}
    got = {by_root[tuple(np.round(ex["root_cam"].astype(float), 1))]: ex for ex in examples}
    assert len(got) == len(examples)
    assert set(got) == EXPECTED_KEPT
    for person, ex in got.items():
        t = truth[person]
        np.testing.assert_allclose(ex["joints_cam"], t["cam"], rtol=1e-6, atol=1e-3)
        np.testing.assert_allclose(ex["joints_img"], t["uv"], rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(ex["root_cam"], t["cam"][ROOT], rtol=1e-6)
        np.testing.assert_allclose(ex["bbox"], t["bbox"], rtol=1e-6)
        np.testing.assert_allclose(ex["focal"], t["f"], rtol=1e-6)
        np.testing.assert_allclose(ex["principal_point"], t["c"], rtol=1e-6)
        np.testing.assert_array_equal(ex["joints_vis"], np.ones(J))
        assert ex["have_depth"] == 1.0
        assert ex["sequence"].decode() == t["seq"]
        assert ex["image"].shape == (H, W, 3)
    for reason in ("not selected", "non-finite values", "wrong shape", "missing image"):
        assert reason in caplog.text, reason


def test_missing_inputs_raise_clear_errors(tmp_path):
    builder = MuCo(data_dir=str(tmp_path / "tfds"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir=str(tmp_path / "nowhere")))
    (tmp_path / "no_json" / "augmented_set").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"MuCo-3DHP\.json"):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir=str(tmp_path / "no_json")))
