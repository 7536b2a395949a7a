"""Post-processing: camera geometry round trips, RootNet prior, 1-Euro filter, tracking."""

import math

import numpy as np
import pytest
import tensorflow as tf

from mhp_tf.data import pipeline
from mhp_tf.evaluation import metrics
from mhp_tf.postprocess import camera
from mhp_tf.postprocess import filters
from mhp_tf.postprocess import tracking

HEATMAP, BINS, SIZE = 64, 64, 256

# A standing H36M-17 skeleton of a 1.75 m adult: (x, height above the ground, z) in mm,
# x to the person's left, z towards the camera.
_TEMPLATE_175 = np.array([
    [0, 960, 0], [-120, 950, 0], [-120, 520, 20], [-120, 90, 0],  # pelvis, right leg
    [120, 950, 0], [120, 520, 20], [120, 90, 0],  # left leg
    [0, 1200, -10], [0, 1480, 0], [0, 1590, 100], [0, 1750, 0],  # torso, neck, nose, head top
    [190, 1450, 0], [230, 1170, -20], [250, 900, 0],  # left arm
    [-190, 1450, 0], [-230, 1170, -20], [-250, 900, 0],  # right arm
], np.float64)


def person_in_camera(height_mm, position, yaw_deg=0.0):
    """Camera-frame joints [17, 3] of a standing person whose pelvis is at ``position``."""
    j = _TEMPLATE_175 * (height_mm / 1750.0)
    j = j - j[0]
    yaw = math.radians(yaw_deg)
    rot = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0],
                    [-math.sin(yaw), 0, math.cos(yaw)]])
    # Body frame (x left, y up, z to camera) -> camera frame (x right, y down, z away).
    cam = (j @ rot.T) * [-1.0, -1.0, -1.0]
    return cam + np.asarray(position, np.float64)


def tight_box(points_px):
    lo, hi = points_px.min(0), points_px.max(0)
    return np.concatenate([lo, hi - lo])


# ----------------------------------------------------------------------------- (a) round trip


def test_crop_camera_round_trip_and_pipeline_conventions():
    rng = np.random.default_rng(0)
    k = np.array([[1500.0, 0, 955.3], [0, 1480.0, 541.2], [0, 0, 1]])  # fx != fy on purpose
    n, j = 6, 17
    root = np.stack([rng.uniform(-1200, 1200, n), rng.uniform(-400, 400, n),
                     rng.uniform(2500, 8000, n)], 1)
    joints = root[:, None] + np.clip(rng.normal(0, 300, (n, j, 3)), -900, 900)
    joints[:, 0] = root
    uv = camera.project(joints, k)
    raw = np.stack([tight_box(p) for p in uv])
    crop, valid = camera.process_boxes(raw, 1920, 1080)
    assert valid.all()

    coords = camera.camera_to_crop_joints(joints, crop, k, HEATMAP, BINS)
    back = camera.crop_joints_to_camera(coords, crop, k, root[:, 2], HEATMAP, BINS)
    np.testing.assert_allclose(back, joints, atol=1e-3, rtol=0)
    np.testing.assert_allclose(camera.crop_joints_to_image(coords, crop, HEATMAP), uv,
                               atol=1e-6, rtol=0)
    # Root lands in the heatmap's depth centre; decoding is evaluation's decode_to_camera.
    np.testing.assert_allclose(coords[:, 0, 2], BINS / 2)
    np.testing.assert_allclose(
        back, metrics.decode_to_camera(coords, crop, root[:, 2], np.tile([1500.0, 1480.0], (n, 1)),
                                       np.tile([955.3, 541.2], (n, 1)), HEATMAP, BINS),
        atol=1e-9)

    # Same boxes and the same targets as the TF input pipeline (no augmentation).
    for i in range(n):
        box_tf, ok = pipeline.process_bbox(raw[i], 1920, 1080)
        assert bool(ok)
        np.testing.assert_allclose(crop[i], box_tf.numpy(), rtol=1e-5, atol=1e-3)
        center = tf.constant(crop[i, :2] + crop[i, 2:] / 2, tf.float32)
        fwd = pipeline.patch_affine(center, float(crop[i, 2]), float(crop[i, 3]), 1.0, 0.0,
                                    False, 1920, SIZE)
        target_xy = pipeline.apply_affine(fwd, tf.constant(uv[i], tf.float32)).numpy()
        np.testing.assert_allclose(coords[i, :, :2], target_xy * HEATMAP / SIZE, atol=2e-3)
        depth_rel = joints[i, :, 2] - joints[i, 0, 2]
        np.testing.assert_allclose(coords[i, :, 2], (depth_rel / 1000.0 + 1) / 2 * BINS)

    # No people in the frame: empty in, empty out.
    none = camera.crop_joints_to_camera(np.zeros((0, j, 3)), np.zeros((0, 4)), k, [], HEATMAP,
                                        BINS)
    assert none.shape == (0, j, 3)
    assert camera.crop_joints_to_image(np.zeros((0, j, 3)), np.zeros((0, 4)), HEATMAP).shape == (
        0, j, 2)
    assert camera.root_depth_prior(np.zeros((0, 4)), k).shape == (0,)


def test_process_boxes_matches_pipeline_on_clipped_boxes():
    boxes = np.array([[-50.0, 10, 100, 300], [600, 400, 90, 120], [10, 20, 400, 50]])
    ours, valid = camera.process_boxes(boxes, 640, 480)
    for b, o, v in zip(boxes, ours, valid):
        ref, ok = pipeline.process_bbox(b, 640, 480)
        assert bool(ok) == bool(v)
        np.testing.assert_allclose(o, ref.numpy(), rtol=1e-5, atol=1e-3)


def test_default_intrinsics():
    k = camera.default_intrinsics(480, 640)
    # 55 degrees across the 640 px side: f = 320 / tan(27.5 deg).
    assert k[0, 0] == pytest.approx(320 / math.tan(math.radians(27.5)))
    assert k[1, 1] == k[0, 0]
    assert (k[0, 2], k[1, 2]) == (319.5, 239.5)
    np.testing.assert_array_equal(k[2], [0, 0, 1])
    assert camera.default_intrinsics(1920, 1080)[0, 0] == pytest.approx(
        960 / math.tan(math.radians(27.5)))


# ----------------------------------------------------------------------------- (b) RootNet k


def test_rootnet_k_value_recovers_depth_of_a_standing_adult():
    # Why A_real = 2000 x 2000 mm fits: RootNet measures the *processed* box (squared
    # and enlarged 1.25x), so the 2000 mm crop side stands for a 2000 / 1.25 = 1600 mm
    # person box. The box drawn around the joints of a standing 1.70-1.80 m adult spans
    # from the ankles (~8 cm above the floor) to the top of the head, i.e. 1.61-1.71 m,
    # and k = f * 2000 / (1.25 * f * H_box / Z) = Z * 1600 / H_box is 0.93-0.99 Z (down to
    # 0.91 Z at 2.5 m, where perspective enlarges the limbs nearer to the camera).
    k = camera.default_intrinsics(1920, 1080)  # portrait phone frame, f = 1844 px
    for height in (1700.0, 1750.0, 1800.0):
        for depth in (2500.0, 4000.0, 6000.0, 9000.0):
            for yaw in (0.0, 40.0, 90.0):
                joints = person_in_camera(height, [depth * 0.05, -50.0, depth], yaw)
                raw = tight_box(camera.project(joints, k))[None]
                crop, valid = camera.process_boxes(raw, 1080, 1920)
                assert valid.all()
                prior = camera.root_depth_prior(crop, k)[0]
                assert abs(prior - depth) / depth < 0.10, (height, depth, yaw, prior)


def test_rootnet_k_value_formula():
    k = np.array([[1000.0, 0, 500], [0, 1200.0, 400], [0, 0, 1]])
    crop = np.array([[10.0, 20, 250, 250], [0, 0, 100, 400]])
    expected = np.sqrt(1000 * 1200 * 2000.0 ** 2 / np.array([250 * 250, 100 * 400]))
    np.testing.assert_allclose(camera.root_depth_prior(crop, k), expected)


# ----------------------------------------------------------------------------- global position


def test_global_position_movnect():
    k = camera.default_intrinsics(1080, 1920)
    people = np.stack([person_in_camera(1750, [x, -100, z], yaw)
                       for x, z, yaw in ((-800, 4000, 0), (300, 6000, 30), (1500, 5000, 70))])
    kp = camera.project(people, k)
    rel = people - people[:, :1]
    exact = camera.global_position_movnect(kp, rel, k, method="perspective")
    np.testing.assert_allclose(exact, people[:, 0], atol=1e-6)
    # The paper's weak-perspective closed form: a few percent of the distance.
    approx = camera.global_position_movnect(kp, rel, k)
    err = np.linalg.norm(approx - people[:, 0], axis=1) / people[:, 0, 2]
    assert np.all(err < 0.05), err
    # fx = fy = f: our focal-normalised form is the paper's pixel formula.
    kbar = kp[0] - k[:2, 2]
    s = np.sqrt(np.sum((rel[0, :, :2] - rel[0, :, :2].mean(0)) ** 2)) / np.sqrt(
        np.sum((kbar - kbar.mean(0)) ** 2))
    paper = s * np.array([*kbar.mean(0), k[0, 0]]) - [*rel[0, :, :2].mean(0), 0]
    np.testing.assert_allclose(approx[0], paper, rtol=1e-9)
    # Zero-weight joints are ignored.
    noisy = kp.copy()
    noisy[:, 3] += 500
    weights = np.ones(kp.shape[:2])
    weights[:, 3] = 0
    np.testing.assert_allclose(
        camera.global_position_movnect(noisy, rel, k, weights, method="perspective"),
        people[:, 0], atol=1e-6)


# ----------------------------------------------------------------------------- (c) 1-Euro by hand


def test_one_euro_matches_hand_computation():
    # Casiez et al. 2012, Algorithm 1, min_cutoff = 1 Hz, beta = 0.5, d_cutoff = 2 Hz,
    # irregular timestamps. alpha(f, Te) = 1 / (1 + tau / Te), tau = 1 / (2 pi f).
    def alpha(cutoff, te):
        return 1.0 / (1.0 + (1.0 / (2.0 * math.pi * cutoff)) / te)

    xs = [0.0, 1.0, 3.0, 2.0, 2.5]
    ts = [0.0, 0.1, 0.2, 0.25, 0.35]
    f = filters.OneEuroFilter(min_cutoff=1.0, beta=0.5, d_cutoff=2.0)
    out = [f(x, t) for x, t in zip(xs, ts)]

    # Sample 0: passes through; xhat0 = 0, edx0 = 0.
    assert out[0] == 0.0
    # Sample 1: Te = 0.1 s. a_d = 1 / (1 + 0.0795775 / 0.1) = 0.5568627
    a_d = alpha(2.0, 0.1)
    assert a_d == pytest.approx(0.5568627241, abs=1e-9)
    dx1 = (1.0 - 0.0) / 0.1  # = 10 (speed against the previous *filtered* value)
    edx1 = 0.0 + a_d * (dx1 - 0.0)  # = 5.5686272
    fc1 = 1.0 + 0.5 * abs(edx1)  # = 3.7843136 Hz
    x1 = 0.0 + alpha(fc1, 0.1) * (1.0 - 0.0)  # alpha = 0.7039453
    assert x1 == pytest.approx(0.7039453171, abs=1e-9)
    # Sample 2: Te = 0.1 s.
    dx2 = (3.0 - x1) / 0.1  # = 22.9605468
    edx2 = edx1 + a_d * (dx2 - edx1)  # = 15.2535390
    fc2 = 1.0 + 0.5 * abs(edx2)  # = 8.6267695 Hz
    x2 = x1 + alpha(fc2, 0.1) * (3.0 - x1)  # alpha = 0.8442455
    assert x2 == pytest.approx(2.6423790884, abs=1e-9)
    # Sample 3: Te = 0.05 s, so both alphas change: a_d = 1 / (1 + 0.0795775 / 0.05).
    a_d3 = alpha(2.0, 0.05)
    assert a_d3 == pytest.approx(0.3858695451, abs=1e-9)
    dx3 = (2.0 - x2) / 0.05  # = -12.8475818
    edx3 = edx2 + a_d3 * (dx3 - edx2)  # = 4.4101723
    fc3 = 1.0 + 0.5 * abs(edx3)  # = 3.2050861 Hz
    x3 = x2 + alpha(fc3, 0.05) * (2.0 - x2)  # alpha = 0.5017209
    assert x3 == pytest.approx(2.3200840526, abs=1e-9)
    # Sample 4: Te = 0.1 s.
    dx4 = (2.5 - x3) / 0.1  # = 1.7991595
    edx4 = edx3 + a_d * (dx4 - edx3)  # = 2.9561966
    fc4 = 1.0 + 0.5 * abs(edx4)  # = 2.4780983 Hz
    x4 = x3 + alpha(fc4, 0.1) * (2.5 - x3)  # alpha = 0.6089221
    assert x4 == pytest.approx(2.4296388426, abs=1e-9)

    np.testing.assert_allclose(out, [0.0, x1, x2, x3, x4], rtol=0, atol=1e-12)


def test_one_euro_arrays_fixed_rate_and_reset():
    rng = np.random.default_rng(3)
    seq = rng.normal(0, 5, (12, 2, 3))
    f = filters.OneEuroFilter(min_cutoff=0.7, beta=0.1, d_cutoff=1.0, rate=25.0)
    arr = np.stack([f(x) for x in seq])
    # Elementwise: each element equals a scalar filter run on its own; a fixed rate equals
    # timestamps 1 / rate apart.
    for idx in np.ndindex(2, 3):
        g = filters.OneEuroFilter(min_cutoff=0.7, beta=0.1, d_cutoff=1.0)
        scalar = [g(x[idx], i / 25.0) for i, x in enumerate(seq)]
        np.testing.assert_allclose(arr[(slice(None),) + idx], scalar, rtol=1e-12)
    f.reset()
    assert not f.initialized
    np.testing.assert_array_equal(f(seq[5]), seq[5])


# ----------------------------------------------------------------------------- (d) 1-Euro defaults


def _jitter_and_lag(params, amplitude, sigma, step, seed):
    """Frame-to-frame variance reduction on a noisy slow sine, and the lag on a step.

    Lag: the input jumps from 0 to ``step`` at frame t0; the lag is the number of frames
    after t0 until the output first reaches 50 % of the step (0: on frame t0 itself).
    """
    fps = 30.0
    t = np.arange(300) / fps
    noisy = amplitude * np.sin(2 * np.pi * 0.25 * t) + np.random.default_rng(seed).normal(
        0, sigma, t.shape)
    f = filters.OneEuroFilter.from_params(params, fps)
    smooth = np.array([f(x) for x in noisy])
    reduction = np.var(np.diff(noisy)) / np.var(np.diff(smooth))
    f = filters.OneEuroFilter.from_params(params, fps)
    t0 = 30
    out = np.array([f(x) for x in np.r_[np.zeros(t0), np.full(15, step)]])
    lag = int(np.argmax(out[t0:] >= 0.5 * step))
    return reduction, lag


@pytest.mark.parametrize("params,amplitude,sigma,step", [
    (filters.DEFAULT_2D, 30.0, 2.0, 40.0),  # keypoints, px
    (filters.DEFAULT_3D, 200.0, 15.0, 300.0),  # joints, mm
])
def test_one_euro_defaults_reduce_jitter_with_little_lag(params, amplitude, sigma, step):
    for seed in range(3):
        reduction, lag = _jitter_and_lag(params, amplitude, sigma, step, seed)
        assert reduction >= 3.0, reduction
        assert lag < 2, lag
    # A half-size step is still half covered within one frame.
    assert _jitter_and_lag(params, amplitude, sigma, step / 2, 0)[1] < 2


# ----------------------------------------------------------------------------- (e) tracking


def _keypoints_2d(center_x, center_y, height_px):
    j = _TEMPLATE_175[:, :2] * (height_px / 1750.0)
    return np.stack([center_x + j[:, 0], center_y - (j[:, 1] - 960 * height_px / 1750)], 1)


def test_box_from_keypoints_uses_movnect_buffer_and_momentum():
    kp = np.array([[100.0, 50], [200, 50], [150, 450], [0, 0]])
    scores = np.array([1.0, 1.0, 1.0, 0.0])  # the last one is not found
    box = tracking.box_from_keypoints(kp, scores)
    # Extent 100 x 400 -> +0.4 * 100 wide and +0.2 * 400 high, centred.
    np.testing.assert_allclose(box, [80, 10, 140, 480])
    np.testing.assert_allclose(tracking.smooth_box([0, 0, 100, 100], [40, 0, 100, 140]),
                               [10, 0, 100, 110])


def test_greedy_matching_is_global_not_row_by_row():
    # Row 0 prefers column 1 slightly, but row 1 overlaps column 1 far more: matching row by
    # row would give (0, 1), (1, 0) and swap two people; greedy-by-IoU keeps them apart.
    iou = np.array([[0.55, 0.60], [0.10, 0.90]])
    assert sorted(tracking.greedy_match(iou, 0.3)) == [(0, 0), (1, 1)]
    assert sorted(tracking.greedy_match(iou[::-1], 0.3)) == [(0, 1), (1, 0)]
    assert tracking.greedy_match(np.zeros((0, 2)), 0.3) == []
    assert tracking.greedy_match([[0.2]], 0.3) == []
    np.testing.assert_allclose(tracking.box_iou([[0, 0, 10, 10]], [[5, 0, 10, 10], [20, 20, 1, 1]]),
                               [[50 / 150, 0.0]])


def test_tracker_follows_two_people_and_asks_for_redetection():
    rng = np.random.default_rng(7)
    tracker = tracking.PoseTracker(max_missed=2)
    assert tracker.needs_detection  # nothing tracked yet
    ids = {}
    frames = 40
    for f in range(frames):
        # A walks right, B walks left; their boxes overlap more and more.
        people = {"A": _keypoints_2d(500 + 8 * f, 540, 420), "B": _keypoints_2d(1200 - 8 * f, 560,
                                                                                   380)}
        names = list(people)
        rng.shuffle(names)
        kp = np.stack([people[n] for n in names]) + rng.normal(0, 1.5, (2, 17, 2))
        pose3d = rng.normal(0, 10, (2, 17, 3))
        tracks = tracker.update(kp, np.ones((2, 17)), pose3d, from_detection=f == 0)
        assert len(tracks) == 2
        for t in tracks:
            # Identify each track's person by its (filtered) keypoints.
            name = min(people, key=lambda n: np.abs(t.keypoints2d - people[n]).mean())
            assert ids.setdefault(name, t.track_id) == t.track_id
        assert not tracker.needs_detection
    assert ids["A"] != ids["B"]
    final_iou = tracking.box_iou(tracker.boxes()[:1], tracker.boxes()[1:])[0, 0]
    assert final_iou > 0.1  # the boxes did overlap by the end

    # B's keypoints become unreliable: tracking B is lost -> re-detection is needed.
    kp_a = _keypoints_2d(500 + 8 * frames, 540, 420)
    kp_b = _keypoints_2d(1200 - 8 * frames, 560, 380)
    scores_b = np.full(17, 0.05)
    scores_b[:3] = 0.9  # 3 < min_keypoints confident keypoints
    tracks = tracker.update(np.stack([kp_a, kp_b]), np.stack([np.ones(17), scores_b]))
    assert [t.track_id for t in tracks] == [ids["A"]]
    assert tracker.needs_detection
    lost = [t for t in tracker.tracks if t.track_id == ids["B"]]
    assert len(lost) == 1 and lost[0].missed == 1
    # A degenerate box (all keypoints on one spot) is lost too.
    tracks = tracker.update(np.stack([kp_a, np.full((17, 2), 700.0)]))
    assert [t.track_id for t in tracks] == [ids["A"]] and tracker.needs_detection
    # The detector finds B again where it was: the track (and its id) comes back.
    tracks = tracker.update(np.stack([kp_b, kp_a]), from_detection=True)
    assert sorted(t.track_id for t in tracks) == sorted(ids.values())
    assert not tracker.needs_detection
    # An empty frame: every track misses it.
    assert tracker.update(np.zeros((0, 17, 2))) == [] and tracker.needs_detection
    assert all(t.missed == 1 for t in tracker.tracks)
    tracker.update(np.stack([kp_a, kp_b]))
    # Gone for more than max_missed frames: the track is dropped.
    for _ in range(3):
        tracker.update(kp_a[None])
    assert [t.track_id for t in tracker.tracks] == [ids["A"]]
    # A new person gets a new id.
    tracks = tracker.update(np.stack([kp_a, _keypoints_2d(1600, 500, 300)]))
    assert len(tracks) == 2 and max(t.track_id for t in tracks) > max(ids.values())


def test_tracker_periodic_redetection_and_filtering():
    tracker = tracking.PoseTracker(redetect_every=3)
    kp = _keypoints_2d(600, 500, 400)
    tracker.update(kp[None], from_detection=True)
    for _ in range(2):
        tracker.update(kp[None])
        assert not tracker.needs_detection
    tracker.update(kp[None])
    assert tracker.needs_detection
    # Jitter on a still person is smoothed by the track's 2D filter.
    rng = np.random.default_rng(1)
    tracker = tracking.PoseTracker()
    raw, smooth = [], []
    for _ in range(60):
        noisy = kp + rng.normal(0, 2.0, kp.shape)
        raw.append(noisy)
        smooth.append(tracker.update(noisy[None])[0].keypoints2d)
    assert np.var(np.diff(smooth, axis=0)) * 3 < np.var(np.diff(raw, axis=0))


# ----------------------------------------------------------------------------- (f) bad inputs


@pytest.mark.parametrize("intrinsics,message", [
    (np.eye(3)[:2], "3x3"),
    (np.full((3, 3), np.nan), "NaN or inf"),
    (np.diag([0.0, 1000.0, 1.0]), "focal lengths must be positive"),
    (np.diag([-1000.0, 1000.0, 1.0]), "focal lengths must be positive"),
    (np.array([[1000.0, 5, 0], [0, 1000, 0], [0, 0, 1]]), "skew"),
    ("not a matrix", "numeric 3x3"),
])
def test_bad_intrinsics(intrinsics, message):
    with pytest.raises(ValueError, match=message):
        camera.validate_intrinsics(intrinsics)


@pytest.mark.parametrize("boxes,message", [
    (np.array([10.0, 10, 50, 50]), r"\[N, 4\]"),
    (np.zeros((2, 3)), r"\[N, 4\]"),
    (np.array([[10.0, 10, 0, 50]]), "positive width and height"),
    (np.array([[10.0, 10, 50, -5]]), "positive width and height"),
    (np.array([[10.0, np.inf, 50, 50]]), "NaN or inf"),
    (np.array([[700.0, 10, 50, 50]]), "entirely outside"),
    (np.array([[-100.0, 10, 50, 50]]), "entirely outside"),
])
def test_bad_boxes(boxes, message):
    with pytest.raises(ValueError, match=message):
        camera.validate_boxes(boxes, image_width=640, image_height=480)


@pytest.mark.parametrize("image,message", [
    (np.zeros((0, 640, 3), np.uint8), "empty"),
    (np.zeros((480, 640, 3), np.int64), "dtype"),
    (np.zeros((480, 640, 3), bool), "dtype"),
    (np.zeros((480, 640, 4), np.uint8), "3 \\(RGB\\) channels"),
    (np.zeros((480, 640), np.uint8), r"\[height, width, 3\]"),
    ([[0, 0, 0]], "numpy array"),
])
def test_bad_images(image, message):
    with pytest.raises(ValueError, match=message):
        camera.validate_image(image)


def test_bad_decoding_and_filter_inputs():
    k = camera.default_intrinsics(480, 640)
    crop = np.array([[100.0, 50, 200, 200]])
    coords = np.full((1, 17, 3), 32.0)
    with pytest.raises(ValueError, match=r"coords must be \[N, J, 3\]"):
        camera.crop_joints_to_camera(coords[0], crop, k, 3000.0, HEATMAP, BINS)
    with pytest.raises(ValueError, match="2 people but 1 crop boxes"):
        camera.crop_joints_to_camera(np.concatenate([coords, coords]), crop, k, 3000.0, HEATMAP,
                                     BINS)
    with pytest.raises(ValueError, match="root_depth must be positive"):
        camera.crop_joints_to_camera(coords, crop, k, -5.0, HEATMAP, BINS)
    with pytest.raises(ValueError, match="crop_boxes must have positive width"):
        camera.root_depth_prior([[0.0, 0, 0, 10]], k)
    with pytest.raises(ValueError, match="fewer than 2 joints"):
        camera.global_position_movnect(np.zeros((1, 3, 2)), np.zeros((1, 3, 3)), k,
                                       weights=[[1.0, 0, 0]])
    with pytest.raises(ValueError, match="method"):
        camera.global_position_movnect(np.zeros((1, 3, 2)), np.zeros((1, 3, 3)), k,
                                       method="hungarian")
    with pytest.raises(ValueError, match="fov_degrees"):
        camera.default_intrinsics(480, 640, fov_degrees=180)
    f = filters.OneEuroFilter()
    f(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="timestamps must increase"):
        f(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="call reset"):
        f(np.zeros(4), 2.0)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        filters.OneEuroFilter(beta=-1.0)
    with pytest.raises(ValueError, match="min_cutoff must be a positive"):
        filters.OneEuroFilter(min_cutoff=0.0)
    with pytest.raises(ValueError, match="need at least 2 confident keypoints"):
        tracking.box_from_keypoints(np.zeros((5, 2)), np.zeros(5))
    with pytest.raises(ValueError, match=r"keypoints2d must be \[N, J, 2\]"):
        tracking.PoseTracker().update(np.zeros((17, 2)))


@pytest.mark.parametrize("intrinsics,image_size,message", [
    (np.diag([1e-300, 1e-300, 1.0]), None, "intrinsics focal lengths must be at least 1 px"),
    (np.diag([0.5, 500.0, 1.0]), None, "intrinsics focal lengths must be at least 1 px"),
    (np.diag([500.0, -np.inf, 1.0]), None, "intrinsics contain NaN or inf"),
    # 2 atan(640 / (2 * 20)) = 172.8 degrees across a 640 px wide image.
    (np.diag([20.0, 500.0, 1.0]), (480, 640), "172.8 degree horizontal field of view"),
    # 2 atan(480 / (2 * 60000)) = 0.458 degrees.
    (np.diag([500.0, 60000.0, 1.0]), (480, 640), "0.4584 degree vertical field of view"),
])
def test_implausible_intrinsics(intrinsics, image_size, message):
    with pytest.raises(ValueError, match=message):
        camera.validate_intrinsics(intrinsics, image_size)


def test_default_intrinsics_pass_the_field_of_view_check():
    for fov in (1.0, 55.0, 169.0):
        k = camera.default_intrinsics(480, 640, fov)
        np.testing.assert_array_equal(camera.validate_intrinsics(k, (480, 640)), k)


def test_decoding_behind_the_camera_names_the_intrinsics():
    # A 2 px focal length: RootNet's prior is 2 * 2000 / 200 = 20 mm for a 200 px crop,
    # and a joint at depth bin 0 lies 1000 mm in front of the root.
    k = np.array([[2.0, 0, 320], [0, 2.0, 240], [0, 0, 1]])
    crop = np.array([[100.0, 50, 200, 200]])
    coords = np.full((1, 17, 3), BINS / 2.0)
    coords[0, 3, 2] = 0.0
    depth = camera.root_depth_prior(crop, k)
    np.testing.assert_allclose(depth, [20.0])
    with pytest.raises(ValueError, match=r"behind the camera \(Z = -980 mm\) at root depths "
                                         r"\[20.0\] mm with intrinsics fx=2, fy=2, cx=320"):
        camera.crop_joints_to_camera(coords, crop, k, depth, HEATMAP, BINS)
