"""MuPoTS-3D evaluation: matching rule, 3DPCK/AUC arithmetic, both conventions, end to end."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

import mhp_tf
from mhp_tf.data import builder as builder_lib
from mhp_tf.data import datasets
from mhp_tf.data import pipeline
from mhp_tf.evaluation import mupots

J = 17
ROOT = 14
# A standing MuPoTS-17 person (mm, camera axes: y down), root (Pelvis) at the origin.
TEMPLATE = np.array([
    [0, -750, 0], [0, -500, 0], [-180, -480, 0], [-220, -220, 20], [-240, 0, 40],
    [180, -480, 0], [220, -220, -20], [240, 0, -40], [-120, 0, 0], [-130, 420, 30],
    [-140, 850, 0], [120, 0, 0], [130, 420, -30], [140, 850, 0], [0, 0, 0], [0, -250, 10],
    [0, -620, 10]], np.float64)
PERFECT_AUC = 100.0 * 30 / 31  # no error is < 0 mm: the 0 mm threshold never counts


def _people(n, seed=0, noise=30.0):
    rng = np.random.default_rng(seed)
    return TEMPLATE + rng.normal(0, noise, (n, J, 3)) + [0, 0, 3000]


# ----------------------------------------------------------------------------- matching


def _pose2d(x, y, n=J):
    return np.tile([float(x), float(y)], (n, 1))


def test_match_swapped_order_and_empty():
    gt = np.stack([_pose2d(100, 100), _pose2d(300, 100)])
    pred = np.stack([_pose2d(305, 98), _pose2d(97, 103)])
    np.testing.assert_array_equal(mupots.match_people(pred, gt), [1, 0])
    np.testing.assert_array_equal(mupots.match_people(np.zeros((0, J, 2)), gt), [-1, -1])
    assert mupots.match_people(pred, np.zeros((0, J, 2))).shape == (0,)


def test_match_per_axis_box_is_strict():
    gt = _pose2d(100, 100)[None]
    # (39, 39) px off: 55 px away, but inside the per-axis 40 px box -> matched.
    np.testing.assert_array_equal(mupots.match_people(_pose2d(139, 61)[None], gt), [0])
    # exactly 40 px on one axis: not < 40 -> no joint votes -> unmatched.
    np.testing.assert_array_equal(mupots.match_people(_pose2d(140, 100)[None], gt), [-1])
    # a custom threshold
    np.testing.assert_array_equal(
        mupots.match_people(_pose2d(140, 100)[None], gt, threshold=41), [0])


def test_match_only_joints_1_to_13_vote():
    gt = _pose2d(100, 100)[None]
    pred = _pose2d(500, 500)
    pred[[0, 14, 15, 16]] = 100  # Head_top, Pelvis, Spine, Head on the GT: they do not vote
    np.testing.assert_array_equal(mupots.match_people(pred[None], gt), [-1])
    pred[5] = 100  # one voting joint (L_Shoulder) is enough
    np.testing.assert_array_equal(mupots.match_people(pred[None], gt), [0])
    np.testing.assert_array_equal(mupots.match_people(pred[None], gt, joints=[3]), [-1])


def test_match_invisible_prediction_joints_do_not_vote():
    gt = _pose2d(10, 10)[None]  # within 40 px of the origin
    pred = np.zeros((1, J, 2))  # every joint at (0, 0) = not predicted
    np.testing.assert_array_equal(mupots.match_people(pred, gt), [-1])
    np.testing.assert_array_equal(
        mupots.match_people(pred, gt, pred_visible=np.ones((1, J), bool)), [0])
    gt_vis = np.zeros((1, J), bool)
    np.testing.assert_array_equal(
        mupots.match_people(_pose2d(10, 10)[None], gt, gt_visible=gt_vis), [-1])


def test_match_greedy_in_gt_order_and_ties():
    gt = np.stack([_pose2d(100, 100), _pose2d(120, 100)])
    best_for_both = _pose2d(110, 100)        # all 13 voting joints close to both GT people
    partial = _pose2d(500, 500)
    partial[[1, 2, 3]] = [125, 100]          # 3 joints close to GT1 only (GT0 is 25 px off too)
    partial[[4]] = [170, 100]                # close to neither
    # GT0 takes the 13-vote prediction first; GT1 falls back to the 3-vote one.
    np.testing.assert_array_equal(
        mupots.match_people(np.stack([partial, best_for_both]), gt), [1, 0])
    # Reversed GT order: the first visited GT person takes the best one.
    np.testing.assert_array_equal(
        mupots.match_people(np.stack([partial, best_for_both]), gt[::-1]), [1, 0])
    # Ties go to the lowest prediction index.
    np.testing.assert_array_equal(
        mupots.match_people(np.stack([best_for_both, best_for_both]), gt[:1]), [0])
    # A prediction is used once: the second GT person finds nothing left.
    np.testing.assert_array_equal(mupots.match_people(best_for_both[None], gt), [0, -1])


def test_match_shape_errors():
    with pytest.raises(ValueError, match="gt_2d"):
        mupots.match_people(np.zeros((1, J, 2)), np.zeros((J, 2)))
    with pytest.raises(ValueError, match="pred_2d"):
        mupots.match_people(np.zeros((1, 14, 2)), np.zeros((1, J, 2)))


def test_assign_by_frame_returns_global_indices():
    gt = np.stack([_pose2d(100, 100), _pose2d(300, 100), _pose2d(100, 100)])
    gt_frames = [("TS1", 0), ("TS1", 0), ("TS2", 5)]
    pred = np.stack([_pose2d(101, 100), _pose2d(301, 100), _pose2d(99, 100), _pose2d(0, 900)])
    pred_frames = [("TS2", 5), ("TS1", 0), ("TS1", 0), ("TS1", 0)]
    np.testing.assert_array_equal(
        mupots.assign_by_frame(pred, pred_frames, gt, gt_frames), [2, 1, 0])
    np.testing.assert_array_equal(
        mupots.assign_by_frame(pred[:1], pred_frames[:1], gt, gt_frames), [-1, -1, 0])


# ----------------------------------------------------------------------------- metrics


def test_perfect_prediction():
    gt = _people(6)
    pred = gt + [120.0, -40.0, 700.0]  # root offset only: gone after root alignment
    r = mupots.score_mupots(pred, gt, ["TS1"] * 4 + ["TS3"] * 2)
    for key in ("pck_all", "pck_matched"):
        assert r[key] == pytest.approx(100.0, abs=1e-12)
        assert r["pooled"][key] == pytest.approx(100.0, abs=1e-12)
    for key in ("auc_all", "auc_matched"):
        assert r[key] == pytest.approx(PERFECT_AUC, abs=1e-9)
    assert r["mpjpe_matched"] < 1e-6
    assert list(r["per_sequence"]) == ["TS1", "TS3"]
    assert r["per_sequence"]["TS1"]["num_people"] == 4
    assert r["num_people"] == r["num_matched"] == 6
    assert r["auc_thresholds_mm"] == [5.0 * i for i in range(31)]
    assert r["pck_joints"][0] == "Head_top" and len(r["pck_joints"]) == 14
    assert "Pelvis" not in r["pck_joints"]


@pytest.mark.parametrize("offset,counted_thresholds", [(200.0, 0), (102.0, 10), (147.5, 1)])
def test_known_offsets_on_known_joints(offset, counted_thresholds):
    gt = _people(5, seed=1)
    pred = gt.copy()
    pred[:, [3, 12], 0] += offset       # R_Elbow, L_Knee off by `offset` mm
    pred[:, 15] += [0.0, 0.0, 900.0]    # Spine is not scored
    r = mupots.score_mupots(pred, gt, ["TS2"] * 5, rescale=False)
    pck = 100.0 * (12 + 2 * (offset < 150)) / 14
    # 12 exact joints count at 5..150 mm (30 thresholds), 2 joints at thresholds > offset.
    auc = 100.0 * (12 * 30 + 2 * counted_thresholds) / (14 * 31)
    assert r["pck_all"] == pytest.approx(pck, abs=1e-9)
    assert r["auc_all"] == pytest.approx(auc, abs=1e-9)
    assert r["mpjpe_matched"] == pytest.approx(2 * offset / 14, abs=1e-9)


def _official_rescale(pred, gt):
    """Independent re-statement of mpii_map_to_gt_bone_lengths with the official tables
    (1-based o1 of mpii_get_joints('relevant') and safe_traversal_order(2:end))."""
    o1 = np.array([2, 16, 2, 3, 4, 2, 6, 7, 15, 9, 10, 15, 12, 13, 15, 15, 2]) - 1
    order = np.array([16, 2, 1, 17, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]) - 1
    out = pred.copy()
    for idx in order:
        length = np.linalg.norm(gt[idx] - gt[o1[idx]])
        bone = pred[idx] - pred[o1[idx]]
        out[idx] = out[o1[idx]] + bone * length / np.linalg.norm(bone)
    return out


def test_bone_rescaling_matches_official_rule():
    gt = _people(8, seed=2)
    rng = np.random.default_rng(3)
    pred = 1.3 * (gt - gt[:, ROOT:ROOT + 1]) + rng.normal(0, 40, gt.shape)
    errors = mupots.person_errors(pred, gt)
    gt_rel = gt - gt[:, ROOT:ROOT + 1]
    pred_rel = pred - pred[:, ROOT:ROOT + 1]
    expected = np.stack([np.linalg.norm(_official_rescale(p, g) - g, axis=-1)
                         for p, g in zip(pred_rel, gt_rel)])
    np.testing.assert_allclose(errors, expected, atol=1e-9)


def test_bone_rescaling_changes_pck_as_predicted():
    gt = _people(4, seed=4)
    gt_rel = gt - gt[:, ROOT:ROOT + 1]
    pred = 1.5 * gt_rel  # right directions, bones 50 % too long
    seqs = ["TS1", "TS1", "TS2", "TS2"]
    scaled = mupots.score_mupots(pred, gt, seqs)
    assert scaled["pck_all"] == pytest.approx(100.0)
    assert scaled["auc_all"] == pytest.approx(PERFECT_AUC)
    raw = mupots.score_mupots(pred, gt, seqs, rescale=False)
    err = 0.5 * np.linalg.norm(gt_rel[:, :14], axis=-1)
    per_seq = [100 * np.mean(err[:2] < 150), 100 * np.mean(err[2:] < 150)]
    assert 0 < raw["pck_all"] < 100
    assert raw["pck_all"] == pytest.approx(np.mean(per_seq))
    assert raw["pooled"]["pck_all"] == pytest.approx(100 * np.mean(err < 150))


def test_head_top_hangs_from_thorax():
    gt = TEMPLATE[None].copy()
    pred = gt.copy()
    # Head_top predicted 250 mm to the right of the Thorax (GT: 250 mm above it).
    pred[0, 0] = pred[0, 1] + [250.0, 0.0, 0.0]
    err = mupots.person_errors(pred, gt)[0]
    np.testing.assert_allclose(err[0], np.hypot(250.0, 250.0), atol=1e-9)
    np.testing.assert_allclose(np.delete(err, 0), 0.0, atol=1e-9)


def test_both_conventions():
    gt = _people(5, seed=5)
    pred = gt[[0, 2, 3, 4]].copy()
    pred[1, 2] += [0.0, 300.0, 0.0]  # GT 2's R_Shoulder is off
    seqs = ["TS1", "TS1", "TS1", "TS2", "TS2"]
    assignment = [0, -1, 1, 2, 3]     # GT 1 (TS1) was not detected
    r = mupots.score_mupots(pred, gt, seqs, assignment)
    ts1, ts2 = r["per_sequence"]["TS1"], r["per_sequence"]["TS2"]
    # The shoulder error also moves the elbow and wrist hanging from it (bones rescaled).
    errors = mupots.person_errors(pred[1:2], gt[2:3])[0, :14]
    bad = int(np.sum(errors >= 150))
    assert bad >= 1
    assert ts1["pck_all"] == pytest.approx(100 * (14 + 14 - bad) / (3 * 14))
    assert ts1["pck_matched"] == pytest.approx(100 * (28 - bad) / 28)
    assert ts2["pck_all"] == ts2["pck_matched"] == pytest.approx(100.0)
    assert r["pck_all"] == pytest.approx((ts1["pck_all"] + 100) / 2)
    assert r["pck_matched"] == pytest.approx((ts1["pck_matched"] + 100) / 2)
    assert r["pooled"]["pck_all"] == pytest.approx(100 * (56 - bad) / 70)
    assert r["pooled"]["pck_matched"] == pytest.approx(100 * (56 - bad) / 56)
    assert (ts1["num_people"], ts1["num_matched"]) == (3, 2)
    assert (r["num_people"], r["num_matched"]) == (5, 4)
    assert ts1["auc_all"] < ts1["auc_matched"] < PERFECT_AUC
    assert ts2["auc_all"] == pytest.approx(PERFECT_AUC)
    # Nothing matched in a sequence: "all" is 0, "matched" undefined and skipped in the mean.
    r = mupots.score_mupots(pred, gt, seqs, [0, 1, 2, -1, -1])
    assert r["per_sequence"]["TS2"]["pck_all"] == 0.0
    assert np.isnan(r["per_sequence"]["TS2"]["pck_matched"])
    assert r["pck_matched"] == pytest.approx(r["per_sequence"]["TS1"]["pck_matched"])
    table = mupots.format_mupots_result(r)
    assert "TS1" in table and "TS2" in table and "pooled" in table


def test_sequences_sorted_numerically_and_errors():
    gt = _people(3)
    r = mupots.score_mupots(gt, gt, [b"TS10", "TS2", "TS1"])
    assert list(r["per_sequence"]) == ["TS1", "TS2", "TS10"]
    with pytest.raises(ValueError, match="assignment"):
        mupots.score_mupots(gt, gt, ["TS1"] * 3, [0, 1, 3])
    with pytest.raises(ValueError, match="one prediction per GT"):
        mupots.score_mupots(gt[:2], gt, ["TS1"] * 3)
    with pytest.raises(ValueError, match="NaN"):
        bad = gt.copy()
        bad[0, 0, 0] = np.nan
        mupots.score_mupots(bad, gt, ["TS1"] * 3)


# ----------------------------------------------------------------------------- end to end

W, H = 128, 96
FOCAL, CENTER = 80.0, (64.0, 48.0)
# frame file name -> horizontal root offsets (mm) of the people in it
FRAMES = {"TS1/img_000000.jpg": (-2000, 0, 2000), "TS1/img_000004.jpg": (-1000, 1500),
          "TS2/img_000002.jpg": (0, 2100)}


def _fake_records(manual_dir):
    rng = np.random.default_rng(7)
    out = []
    for name, offsets in FRAMES.items():
        path = os.path.join(manual_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        cv2.imwrite(path, rng.integers(0, 255, (H, W, 3), np.uint8))
        for k, dx in enumerate(offsets):
            cam = TEMPLATE + rng.normal(0, 20, (J, 3)) + [dx, 0, 3000 + rng.uniform(-200, 200)]
            uv = cam[:, :2] / cam[:, 2:] * FOCAL + CENTER
            lo, hi = uv.min(0) - 3, uv.max(0) + 3
            seq, frame = mupots_split(name)
            out.append((f"{name}/{k}", path, {
                "bbox": [lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], "joints_img": uv,
                "joints_cam": cam, "joints_vis": np.ones(J), "have_depth": 1.0,
                "focal": [FOCAL, FOCAL], "principal_point": list(CENTER), "root_cam": cam[ROOT],
                "sequence": seq, "frame": frame}))
    return out


def mupots_split(name):
    seq, file_name = name.split("/")
    return seq, int(file_name[4:10])


class MhpFakeMupots(builder_lib.PoseBuilder):
    SKELETON = "mupots"
    SPLITS = ("test",)

    def _iter_records(self, manual_dir, split):
        yield from _fake_records(manual_dir)


def install():
    """Resolve the dataset name ``mupots`` to the fake builder."""
    datasets.builder_class = lambda name: MhpFakeMupots


@pytest.fixture(scope="module")
def fake_mupots(tmp_path_factory):
    root = tmp_path_factory.mktemp("mupots_eval")
    manual, data_dir = str(root / "manual"), str(root / "tfds")
    os.makedirs(manual)
    _fake_records(manual)
    old = datasets.builder_class
    install()
    MhpFakeMupots(data_dir=data_dir).download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual))
    yield data_dir, _fake_records(manual)
    datasets.builder_class = old


def test_pipeline_passes_sequence_through(fake_mupots):
    data_dir, records = fake_mupots
    cfg = pipeline.PipelineConfig(input_size=64, heatmap_size=16, depth_bins=8,
                                  skeleton="mupots")
    ds = datasets.build_dataset("mupots", "test", data_dir, config=cfg,
                                training_keys_only=False)
    got = sorted((ex["sequence"].decode(), int(ex["frame"])) for ex in ds.as_numpy_iterator())
    assert got == sorted((r[2]["sequence"], r[2]["frame"]) for r in records)
    # Schema examples without a sequence still work (empty string).
    rec = records[0][2]
    with open(records[0][1], "rb") as f:
        example = pipeline.example_from_numpy(f.read(), rec)
    out = pipeline.preprocess_example(example, pipeline.seed_tensor(0), cfg, False, "mupots")
    assert out["sequence"].numpy() == b"" and int(out["frame"]) == -1


@pytest.mark.parametrize("skeleton,num_joints", [("mupots", 17), ("muco", 21)])
def test_end_to_end_tiny_model(fake_mupots, skeleton, num_joints):
    data_dir, records = fake_mupots
    model = mhp_tf.build_model("xs", num_joints=num_joints, input_size=64, embedding_size=32,
                               depth_bins=8)
    cfg = pipeline.PipelineConfig.for_model(model.mhp_config, skeleton=skeleton)
    data = mupots.predict_mupots(model, "mupots", "test", data_dir, cfg, batch_size=3,
                                 progress=False)
    n = len(records)
    assert data["pred_cam"].shape == data["gt_cam"].shape == (n, J, 3)
    assert data["pred_2d"].shape == data["gt_2d"].shape == (n, J, 2)
    # GT round trip through the crop: camera joints and image-pixel 2D joints come back.
    roots = np.array([r[2]["root_cam"] for r in records])
    for cam, uv, seq, frame in zip(data["gt_cam"], data["gt_2d"], data["sequence"],
                                   data["frame"]):
        rec = records[int(np.argmin(np.linalg.norm(roots - cam[ROOT], axis=1)))][2]
        np.testing.assert_allclose(cam, rec["joints_cam"], atol=1e-2)
        np.testing.assert_allclose(uv, rec["joints_img"], atol=1e-2)
        assert (seq, frame) == (rec["sequence"], rec["frame"])
    # The official 2D matching pairs every GT person with itself (people > 40 px apart).
    keys = list(zip(data["sequence"], data["frame"]))
    np.testing.assert_array_equal(
        mupots.assign_by_frame(data["gt_2d"], keys, data["gt_2d"], keys), np.arange(n))
    for matching in ("gt", "2d"):
        r = mupots.evaluate_mupots(model, "mupots", "test", data_dir, cfg, batch_size=4,
                                   progress=False, matching=matching,
                                   flip_test="exact" if matching == "gt" else "none")
        assert r["num_people"] == r["num_examples"] == n
        assert set(r["per_sequence"]) == {"TS1", "TS2"}
        assert r["per_sequence"]["TS1"]["num_people"] == 5
        for key in ("pck_all", "auc_all"):
            assert 0.0 <= r[key] <= 100.0
        if matching == "gt":
            assert r["num_matched"] == n
            for key in ("pck_matched", "auc_matched", "mpjpe_matched"):
                assert np.isfinite(r[key])
        assert r["matching"] == matching
        assert "TS2" in mupots.format_mupots_result(r)
        json.dumps(r)


def test_wrong_skeleton_is_refused(fake_mupots):
    data_dir, _ = fake_mupots
    model = mhp_tf.build_model("xs", num_joints=18, input_size=64, embedding_size=32,
                               depth_bins=8)
    cfg = pipeline.PipelineConfig.for_model(model.mhp_config, skeleton="h36m")
    with pytest.raises(ValueError, match="MuPoTS-17"):
        mupots.evaluate_mupots(model, "mupots", "test", data_dir, cfg, progress=False)
    with pytest.raises(ValueError, match="skeleton for a 18-joint"):
        mupots.evaluate_mupots(model, "mupots", "test", data_dir, progress=False)
    with pytest.raises(ValueError, match="matching"):
        mupots.evaluate_mupots(model, "mupots", "test", data_dir, cfg, matching="iou")


def test_evaluate_cli_on_mupots(fake_mupots, tmp_path):
    data_dir, _ = fake_mupots
    model = mhp_tf.build_model("xs", num_joints=21, input_size=64, embedding_size=32,
                               depth_bins=8)
    model_path = str(tmp_path / "m.keras")
    model.save(model_path)
    tests = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(tests)
    script = tmp_path / "ev.py"
    script.write_text(
        "import sys; sys.path.insert(0, %r)\n"
        "import test_mupots_eval; test_mupots_eval.install()\n"
        "from absl import app\n"
        "from mhp_tf import evaluate\n"
        "evaluate.define_flags()\n"
        "app.run(evaluate.main)\n" % tests)
    out_json = tmp_path / "e.json"
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + tests)
    proc = subprocess.run([sys.executable, str(script), f"--model={model_path}",
                           "--dataset=mupots", f"--data_dir={data_dir}",
                           f"--output={out_json}", "--flip_test=none", "--mupots_matching=2d"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "TS1" in proc.stdout and "pooled" in proc.stdout
    result = json.loads(out_json.read_text())
    assert result["matching"] == "2d" and set(result["per_sequence"]) == {"TS1", "TS2"}
