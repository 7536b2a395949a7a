"""Metrics against hand computations and independent implementations."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mhp_tf.evaluation import metrics


def test_mpjpe_by_hand():
    gt = np.zeros((1, 3, 3))
    gt[0, 1] = [100, 0, 0]
    gt[0, 2] = [0, 100, 0]
    pred = gt.copy()
    pred[0, 1] += [3, 4, 0]  # 5 mm off
    pred[0, 2] += [0, 0, 12]  # 12 mm off
    # Root (joint 0) exact: errors 0, 5, 12 -> mean 17/3; over joints 1-2 only: 8.5
    assert metrics.mpjpe(pred, gt, root=0) == pytest.approx(17 / 3)
    assert metrics.mpjpe(pred, gt, root=0, eval_joints=[1, 2]) == pytest.approx(8.5)


def test_root_alignment_removes_translation():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 300, (4, 17, 3))
    assert metrics.mpjpe(gt + [50, -20, 400], gt) == pytest.approx(0, abs=1e-9)


def test_rigid_and_similarity_alignment_recover_transforms():
    rng = np.random.default_rng(1)
    gt = rng.normal(0, 300, (17, 3))
    rot = Rotation.from_euler("xyz", [20, -35, 70], degrees=True).as_matrix()
    moved = gt @ rot.T + [10, 20, 30]
    np.testing.assert_allclose(metrics.rigid_align(moved, gt), gt, atol=1e-6)
    scaled = 0.8 * moved
    # Rigid alignment cannot undo scale; similarity can.
    assert np.abs(metrics.rigid_align(scaled, gt) - gt).max() > 1.0
    np.testing.assert_allclose(metrics.similarity_align(scaled, gt), gt, atol=1e-6)


def test_alignment_never_reflects():
    rng = np.random.default_rng(2)
    gt = rng.normal(0, 300, (17, 3))
    mirrored = gt * [-1, 1, 1]
    aligned = metrics.rigid_align(mirrored, gt)
    # A proper rotation: the aligned pose keeps the mirrored handedness.
    a = np.linalg.det(np.stack([aligned[1] - aligned[0], aligned[2] - aligned[0],
                                aligned[3] - aligned[0]]))
    m = np.linalg.det(np.stack([mirrored[1] - mirrored[0], mirrored[2] - mirrored[0],
                                mirrored[3] - mirrored[0]]))
    assert np.sign(a) == np.sign(m)


def test_similarity_matches_scipy_procrustes_disparity():
    from scipy.spatial import procrustes
    rng = np.random.default_rng(3)
    gt = rng.normal(0, 300, (17, 3))
    pred = gt + rng.normal(0, 40, gt.shape)
    aligned = metrics.similarity_align(pred, gt)
    # scipy normalises both shapes to unit Frobenius norm after centring.
    g = gt - gt.mean(0)
    ours = ((aligned - gt.mean(0) - g) ** 2).sum() / (g ** 2).sum()
    _, _, disparity = procrustes(gt, pred)
    assert ours == pytest.approx(disparity, rel=1e-6)


def test_decode_to_camera_round_trip():
    rng = np.random.default_rng(4)
    cam = rng.normal(0, 300, (17, 3)) + [0, 0, 4000]
    f, c = np.array([1145.0, 1143.0]), np.array([512.0, 515.0])
    uv = cam[:, :2] / cam[:, 2:] * f + c
    bbox = np.array([300.0, 200.0, 500.0, 500.0])
    hm, depth = 64, 64
    coords = np.stack([(uv[:, 0] - bbox[0]) / bbox[2] * hm, (uv[:, 1] - bbox[1]) / bbox[3] * hm,
                       ((cam[:, 2] - cam[0, 2]) / 1000 + 1) / 2 * depth], -1)
    out = metrics.decode_to_camera(coords, bbox, cam[0, 2], f, c, hm, depth)
    np.testing.assert_allclose(out, cam, atol=1e-6)


def test_rescale_bones_keeps_directions_and_takes_gt_lengths():
    gt = np.array([[0, 0, 0], [0, 100, 0], [0, 100, 50]], float)
    pred = np.array([[0, 0, 0], [0, 10, 0], [10, 10, 0]], float)
    out = metrics.rescale_bones(pred, gt, [(0, 1), (1, 2)], root=0)
    np.testing.assert_allclose(out, [[0, 0, 0], [0, 100, 0], [50, 100, 0]])


def test_pck_and_auc_by_hand():
    errors = np.array([10.0, 100.0, 149.0, 151.0])
    assert metrics.pck3d(errors, 150) == 75.0
    # thresholds 0,5,...,150: fraction below t for each t, averaged.
    t = np.arange(0, 151, 5)
    want = np.mean([(errors < x).mean() * 100 for x in t])
    assert metrics.auc_pck(errors) == pytest.approx(want)


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        metrics.mpjpe(np.full((1, 3, 3), np.nan), np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match=r"\[N, J, 3\]"):
        metrics.mpjpe(np.zeros((3, 3)), np.zeros((3, 3)))


def test_coord_l1_loss_by_hand():
    from mhp_tf.training.losses import coord_l1_loss
    pred = np.zeros((2, 2, 3), np.float32)
    target = np.array([[[3, 6, 9], [1, 1, 1]], [[3, 6, 9], [0, 0, 0]]], np.float32)
    vis = np.array([[1, 0], [1, 1]], np.float32)
    have_depth = np.array([1, 0], np.float32)
    loss = coord_l1_loss(pred, target, vis, have_depth).numpy()
    # sample 0: joint0 (3+6+9)/3 = 6, joint1 masked -> mean 3
    # sample 1: joint0 (3+6)/3 = 3 (z masked), joint1 0 -> mean 1.5
    np.testing.assert_allclose(loss, [3.0, 1.5])
