"""Human3.6M builder on a tiny fixture written in the released 3DMPPE format."""

import json
import logging
import os

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from mhp_tf_datasets.human36m import Human36M

W, H = 64, 48
ALL_SUBJECTS = (1, 5, 6, 7, 8, 9, 11)
# (subject, action, subaction, camera) -> number of frames in the fixture
SEQUENCES = {(s, 2, 1, 1): 12 for s in (1, 5, 6, 7, 8)}
SEQUENCES.update({(9, 2, 1, 1): 70, (11, 3, 1, 2): 130, (11, 2, 2, 1): 65})
CORRUPT = (11, 2, 2, 1)
# Invalid inputs planted in the fixture (subject, action, subaction, camera, frame).
NAN_JOINT = (1, 2, 1, 1, 5)
WRONG_JOINT_COUNT = (7, 2, 1, 1, 5)
MISSING_IMAGE = (5, 2, 1, 1, 10)
CORRUPT_JPEG = (6, 2, 1, 1, 0)
INVALID = {NAN_JOINT, WRONG_JOINT_COUNT, MISSING_IMAGE, CORRUPT_JPEG}


def _seq(s, a, b, c):
    return f"s_{s:02d}_act_{a:02d}_subact_{b:02d}_ca_{c:02d}"


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _write_fixture(root):
    """Write the released files; return {(s, a, b, c, frame): truth dict} and the cameras."""
    rng = np.random.default_rng(1)
    ann_dir = os.path.join(root, "annotations")
    os.makedirs(ann_dir)
    truth, cameras = {}, {}
    image_id = 1000
    for subject in ALL_SUBJECTS:
        cams = {}
        for cam in (1, 2):
            cams[str(cam)] = {"R": _rotation(rng).tolist(),
                              "t": [float(rng.uniform(-300, 300)), float(rng.uniform(-300, 300)),
                                    float(rng.uniform(4500, 5500))],
                              "f": [float(rng.uniform(1100, 1200)), float(rng.uniform(1100, 1200))],
                              "c": [float(rng.uniform(28, 36)), float(rng.uniform(20, 28))]}
        cameras[subject] = cams
        images, annotations, joints = [], [], {}
        for (s, a, b, c), n in SEQUENCES.items():
            if s != subject:
                continue
            seq = _seq(s, a, b, c)
            os.makedirs(os.path.join(root, "images", seq))
            for frame in range(n):
                world = rng.uniform(-800, 800, size=(17, 3))
                bbox = [float(rng.uniform(0, 20)), float(rng.uniform(0, 15)),
                        float(rng.uniform(10, 40)), float(rng.uniform(10, 30))]
                ident = (s, a, b, c, frame)
                stored = world.tolist()
                if ident == NAN_JOINT:
                    stored[3][1] = float("nan")
                if ident == WRONG_JOINT_COUNT:
                    stored = stored[:16]
                joints.setdefault(str(a), {}).setdefault(str(b), {})[str(frame)] = stored
                file_name = f"{seq}/{seq}_{frame + 1:06d}.jpg"
                images.append({"id": image_id, "file_name": file_name, "width": W, "height": H,
                               "subject": s, "action_name": "x", "action_idx": a,
                               "subaction_idx": b, "cam_idx": c, "frame_idx": frame})
                annotations.append({"id": image_id, "image_id": image_id,
                                    "keypoints_vis": [True] * 17, "bbox": bbox})
                image_id += 1
                path = os.path.join(root, "images", file_name)
                if ident == CORRUPT_JPEG:
                    with open(path, "wb") as f:
                        f.write(b"\xff\xd8\xff\xe0 this is not a jpeg")
                elif ident != MISSING_IMAGE:
                    cv2.imwrite(path, rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
                truth[ident] = {"world": world, "bbox": bbox}
        with open(os.path.join(ann_dir, f"Human36M_subject{subject}_data.json"), "w") as f:
            json.dump({"images": images, "annotations": annotations}, f)
        with open(os.path.join(ann_dir, f"Human36M_subject{subject}_camera.json"), "w") as f:
            json.dump(cams, f)
        with open(os.path.join(ann_dir, f"Human36M_subject{subject}_joint_3d.json"), "w") as f:
            json.dump(joints, f)
    # The optional RootNet output is present but must not change the (ground-truth) build.
    os.makedirs(os.path.join(root, "bbox_root"))
    with open(os.path.join(root, "bbox_root", "bbox_root_human36m_output.json"), "w") as f:
        json.dump([{"image_id": 1000, "bbox": [1.0, 1.0, 5.0, 5.0],
                    "root_cam": [0.0, 0.0, 1.0]}], f)
    return truth, cameras


def _expected(subjects, every):
    return {(s, a, b, c, fr) for (s, a, b, c), n in SEQUENCES.items() if s in subjects
            for fr in range(0, n, every)
            if (s, a, b, c) != CORRUPT and (s, a, b, c, fr) not in INVALID}


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("h36m_manual"))
    truth, cameras = _write_fixture(root)
    return root, truth, cameras


def _build(tmp_path, manual_dir, config):
    builder = Human36M(data_dir=str(tmp_path / "tfds"), config=config)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    return builder


def _read(builder, split):
    return list(tfds.as_numpy(builder.as_dataset(split=split)))


def _check_example(ex, truth, cameras):
    s, a, fr = int(ex["subject"]), int(ex["action"]), int(ex["frame"])
    seq = ex["sequence"].decode()
    parts = seq.split("_")
    b, c = int(parts[5]), int(parts[7])
    assert seq == _seq(s, a, b, c)
    t = truth[(s, a, b, c, fr)]
    cam = cameras[s][str(c)]
    R, tr = np.array(cam["R"]), np.array(cam["t"])
    fx, fy = cam["f"]
    cx, cy = cam["c"]
    world = t["world"]
    thorax_world = (world[11] + world[14]) / 2  # L_Shoulder, R_Shoulder in H36M order
    world18 = np.vstack([world, thorax_world])
    expected_cam = np.einsum("ij,nj->ni", R, world18) + tr
    u = fx * expected_cam[:, 0] / expected_cam[:, 2] + cx
    v = fy * expected_cam[:, 1] / expected_cam[:, 2] + cy
    np.testing.assert_allclose(ex["joints_cam"], expected_cam, rtol=1e-5, atol=1e-2)
    np.testing.assert_allclose(ex["joints_img"], np.stack([u, v], 1), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(ex["joints_cam"][17],
                               (ex["joints_cam"][11] + ex["joints_cam"][14]) / 2, atol=1e-2)
    np.testing.assert_allclose(ex["root_cam"], expected_cam[0], rtol=1e-5, atol=1e-2)
    np.testing.assert_allclose(ex["bbox"], t["bbox"], rtol=1e-6)
    np.testing.assert_allclose(ex["focal"], [fx, fy], rtol=1e-6)
    np.testing.assert_allclose(ex["principal_point"], [cx, cy], rtol=1e-6)
    np.testing.assert_array_equal(ex["joints_vis"], np.ones(18))
    assert ex["have_depth"] == 1.0
    assert ex["image"].shape == (H, W, 3)


def test_protocol2_splits_values_and_skips(fixture_dir, tmp_path, caplog):
    root, truth, cameras = fixture_dir
    caplog.set_level(logging.INFO)
    builder = _build(tmp_path, root, "protocol2")
    assert builder.info.features["joints_img"].shape == (18, 2)
    got = {}
    for split, subjects, every in (("train", (1, 5, 6, 7, 8), 5), ("test", (9, 11), 64)):
        examples = _read(builder, split)
        ids = set()
        for ex in examples:
            parts = ex["sequence"].decode().split("_")
            ids.add((int(ex["subject"]), int(ex["action"]), int(parts[5]), int(parts[7]),
                     int(ex["frame"])))
            _check_example(ex, truth, cameras)
        assert len(ids) == len(examples)
        assert ids == _expected(subjects, every), split
        got[split] = ids
    # The test split picks frames 0, 64 and 128 only, and never the corrupt sequence.
    assert {k[4] for k in got["test"]} == {0, 64, 128}
    assert not any(k[:4] == CORRUPT for k in got["test"])
    assert {k[4] for k in got["train"]} == {0, 5, 10}
    log = caplog.text
    assert "bbox_root_human36m_output.json is not read" in log
    assert "corrupt sequence s_11_act_02_subact_02_ca_01" in log
    for reason in ("non-finite values", "wrong shape", "missing image", "unreadable image"):
        assert reason in log, reason


def test_protocol1_subjects(fixture_dir, tmp_path):
    root, truth, cameras = fixture_dir
    builder = _build(tmp_path, root, "protocol1")
    train = _read(builder, "train")
    test = _read(builder, "test")
    train_ids = {(int(e["subject"]), int(e["frame"])) for e in train}
    assert {s for s, _ in train_ids} == {1, 5, 6, 7, 8, 9}
    assert {f for s, f in train_ids if s == 9} == set(range(0, 70, 5))
    assert len(train) == len(_expected((1, 5, 6, 7, 8, 9), 5))
    assert {int(e["subject"]) for e in test} == {11}
    assert len(test) == len(_expected((11,), 64)) == 3
    for ex in test[:2]:
        _check_example(ex, truth, cameras)


def test_missing_inputs_raise_clear_errors(fixture_dir, tmp_path):
    root, _, _ = fixture_dir
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _build(tmp_path, str(tmp_path / "nowhere"), "protocol2")
    partial = tmp_path / "partial"
    (partial / "annotations").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"Human36M_subject1_data\.json.*3DMPPE"):
        _build(tmp_path, str(partial), "protocol2")
