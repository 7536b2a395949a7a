"""Upright crops (mhp_tf.postprocess.upright and their use in the estimator / video / detector).

The invariance tests turn the image by 90 and 180 degrees with ``np.rot90`` (an exact
pixel permutation, and with default intrinsics an exact camera roll about the optical
axis) and the box / angle with it. The network (a random XS model at input 64: its
output means nothing but depends on every pixel of the crop) then sees the same
crop, so the returned poses must turn exactly with the image.
"""

import math

import numpy as np
import pytest

import inference_helpers as helpers
from mhp_tf.inference import detector as det
from mhp_tf.inference.estimator import PoseEstimator
from mhp_tf.inference.estimator import crop_affine
from mhp_tf.inference.estimator import warp_crops
from mhp_tf.inference.estimator import warp_crops_rotated
from mhp_tf.inference.video import VideoPoseEstimator
from mhp_tf.postprocess import camera
from mhp_tf.postprocess import upright

SIZE = 64
HEATMAP = 8


# ----------------------------------------------------------------------------- geometry


def test_angle_convention_and_mediapipe_formula():
    # Image coords (x right, y down): 0 = up, +90 degrees = head to the right.
    up, right, left, down = (0, -1), (1, 0), (-1, 0), (0, 1)
    got = upright.angle_from_points(np.zeros((4, 2)), np.array([up, right, left, down]))
    np.testing.assert_allclose(got, [0.0, np.pi / 2, -np.pi / 2, -np.pi], atol=1e-12)
    np.testing.assert_allclose(upright.rotation_matrix(np.pi / 2) @ up, right, atol=1e-12)
    # MediaPipe's DetectionsToRectsCalculator: target (90 deg) - atan2(-(y1 - y0), x1 - x0).
    rng = np.random.default_rng(0)
    d = rng.normal(size=(100, 2))
    mediapipe = upright.normalize_angle(np.pi / 2 - np.arctan2(-d[:, 1], d[:, 0]))
    np.testing.assert_allclose(upright.angle_from_points(np.zeros((100, 2)), d), mediapipe,
                               atol=1e-12)
    # R(theta) maps image up to the direction of angle theta.
    for a in upright.angle_from_points(np.zeros((100, 2)), d):
        v = upright.rotation_matrix(a) @ up
        np.testing.assert_allclose(upright.angle_from_points((0, 0), v), a, atol=1e-9)


def test_roi_from_keypoints_hand_computed():
    # Hip centre (100, 200), scale point (130, 160): distance 50 (3-4-5), leaning right
    # by atan(30 / 40) = 36.87 degrees (MediaPipe: 90 - atan2(40, 30) in degrees).
    box, angle = upright.roi_from_keypoints((100.0, 200.0), (130.0, 160.0))
    np.testing.assert_allclose(box, [50.0, 150.0, 100.0, 100.0])
    assert math.degrees(angle) == pytest.approx(36.869897645844, abs=1e-9)
    box, angle = upright.roi_from_keypoints((10.0, 10.0), (10.0, 10.0))
    assert box[2] == 0.0


def test_crop_affines_round_trip_and_angle_zero_is_todays_crop():
    rng = np.random.default_rng(1)
    for _ in range(20):
        box = np.concatenate([rng.uniform(-50, 300, 2), np.full(2, rng.uniform(10, 200))])
        angle = rng.uniform(-np.pi, np.pi)
        fwd = upright.image_to_patch_affine(box, angle, SIZE)
        inv = upright.patch_to_image_affine(box, angle, SIZE)
        np.testing.assert_allclose(fwd[:, :2] @ inv[:, :2], np.eye(2), atol=1e-12)
        np.testing.assert_allclose(fwd[:, :2] @ inv[:, 2] + fwd[:, 2], 0.0, atol=1e-9)
        # The patch centre is the box centre; the patch's up is the body axis.
        np.testing.assert_allclose(inv @ [SIZE / 2, SIZE / 2, 1], box[:2] + box[2:] / 2)
        axis = inv[:, :2] @ [0.0, -1.0]
        assert upright.angle_from_points((0, 0), axis) == pytest.approx(
            float(upright.normalize_angle(angle)), abs=1e-9)
        np.testing.assert_allclose(upright.image_to_patch_affine(box, 0.0, SIZE),
                                   crop_affine(box, SIZE), atol=1e-12)


def test_rotate_coords_back_round_trip_and_zero_rows_untouched():
    rng = np.random.default_rng(2)
    coords = rng.uniform(0, HEATMAP, (3, 18, 3))
    boxes = np.array([[10.0, 20.0, 80.0, 80.0], [100.0, 5.0, 50.0, 50.0], [0, 0, 30, 30]])
    angles = np.array([0.7, -2.5, 0.0])
    there = upright.rotate_coords_back(coords, boxes, angles, HEATMAP)
    back = upright.rotate_coords_back(there, boxes, -angles, HEATMAP)
    np.testing.assert_allclose(back, coords, atol=1e-12)
    assert np.array_equal(there[2], coords[2])  # angle 0: bit for bit
    assert np.array_equal(there[..., 2], coords[..., 2])  # depths unchanged
    # Distances to the crop centre are kept (a rotation about it).
    c = HEATMAP / 2
    np.testing.assert_allclose(np.hypot(*(there[..., :2] - c).transpose(2, 0, 1)),
                               np.hypot(*(coords[..., :2] - c).transpose(2, 0, 1)), atol=1e-12)


def test_virtual_camera_is_an_exact_roll_with_shifted_principal_point():
    # The derivation of the module docstring: turning the image by -theta about c is the
    # image of the camera rolled by theta about its optical axis, principal point moved.
    rng = np.random.default_rng(3)
    k = camera.default_intrinsics(480, 640)
    for _ in range(10):
        points = np.concatenate([rng.uniform(-1500, 1500, (20, 2)),
                                 rng.uniform(2000, 6000, (20, 1))], 1)
        center = rng.uniform(0, 640, 2)
        angle = rng.uniform(-np.pi, np.pi)
        u = camera.project(points, k)
        u_virtual = upright.rotate_points(u, center, -angle)
        rolled = upright.rotate_camera_points(points, -angle)
        np.testing.assert_allclose(
            camera.project(rolled, upright.virtual_intrinsics(k, center, angle)), u_virtual,
            atol=1e-9)
    with pytest.raises(ValueError, match="square pixels"):
        upright.virtual_intrinsics(np.diag([500.0, 400.0, 1.0]), (0, 0), 0.3)


def test_upright_box_from_keypoints_measures_along_the_body():
    # A thin vertical "person" 200 px tall, 40 px wide, then turned by 60 degrees.
    ys = np.linspace(0, 200, 11)
    person = np.concatenate([np.stack([np.full(11, -20.0), ys], 1),
                             np.stack([np.full(11, 20.0), ys], 1)])
    angle = math.radians(60)
    center = np.array([300.0, 250.0])
    turned = upright.rotate_points(person - [0, 100], np.zeros(2), angle) + center
    box = upright.upright_box_from_keypoints(turned, angle)
    # Along the body: 200 x (1 + 0.2) = 240 > across: 40 x 1.4; centred on the person.
    np.testing.assert_allclose(box[2:], [240.0, 240.0], atol=1e-9)
    np.testing.assert_allclose(box[:2] + box[2:] / 2, center, atol=1e-9)
    # The same figure upright (angle 0) gets the same box size.
    straight = upright.upright_box_from_keypoints(person, 0.0)
    np.testing.assert_allclose(straight, [-120.0, -20.0, 240.0, 240.0], atol=1e-9)


def test_box_corners():
    box = [10.0, 20.0, 40.0, 20.0]
    np.testing.assert_allclose(upright.box_corners(box, 0.0),
                               [[10, 20], [50, 20], [50, 40], [10, 40]])
    # A quarter turn clockwise on screen about the centre (30, 30): the top-left corner
    # (20 left of and 10 above the centre) goes 20 above and 10 right of it.
    np.testing.assert_allclose(upright.box_corners(box, np.pi / 2)[0], [40.0, 10.0],
                               atol=1e-12)


def test_bad_angles():
    with pytest.raises(ValueError, match=r"\[N=2\]"):
        upright.validate_angles([0.1, 0.2, 0.3], 2)
    with pytest.raises(ValueError, match="NaN"):
        upright.validate_angles([0.1, np.nan], 2)


# ----------------------------------------------------------------------------- estimator


@pytest.fixture(scope="module")
def xs_estimator():
    model = helpers.random_xs_model(seed=0)
    return PoseEstimator(model, normalization="imagenet", skeleton="h36m", heatmap_size=HEATMAP,
                         depth_bins=32, detector=None, batch_size=1)


def _noise_image(h=96, w=128, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _rot90_box(box, k, height, width):
    """``(x, y, w, h)`` box after ``np.rot90(image, k)`` (counter-clockwise on screen);
    pixel ``(x, y)`` -> ``(y, W - 1 - x)`` per quarter turn, extents inclusive."""
    x, y, w, h = box
    for _ in range(k % 4):
        x, y, w, h = y, width - x - w, h, w
        height, width = width, height
    return np.array([x, y, w, h])


def _rot90_points(points, k, height, width):
    p = np.asarray(points, np.float64)
    for _ in range(k % 4):
        p = np.stack([p[..., 1], width - 1 - p[..., 0]], -1)
        height, width = width, height
    return p


def _rot90_camera(points, k):
    p = np.asarray(points, np.float64)
    for _ in range(k % 4):
        p = np.stack([p[..., 1], -p[..., 0], p[..., 2]], -1)
    return p


# A 65 x 65 box: crop side (65 - 1) x 1.25 = 80 px -> 1.25 image px per patch px, integer
# centre: every sample lies on OpenCV's 1/32-px grid, so its bilinear sampling is exact
# and the crops of the turned images are equal bit for bit.
DYADIC_BOX = np.array([20.0, 10.0, 65.0, 65.0])


@pytest.mark.parametrize("k", [1, 2])
def test_rot90_gives_the_same_crop_and_the_turned_pose(xs_estimator, k):
    image = _noise_image()
    h, w = image.shape[:2]
    base_angle = -np.pi / 2  # nonzero in all cases: both crops through cv2.warpAffine
    turned = np.ascontiguousarray(np.rot90(image, k))
    box = _rot90_box(DYADIC_BOX, k, h, w)
    # np.rot90 turns the picture counter-clockwise: the body axis turns by -90 degrees.
    angle = float(upright.normalize_angle(base_angle - k * np.pi / 2))
    assert angle != 0
    crop_a = warp_crops_rotated(image, xs_estimator.crop_boxes(DYADIC_BOX[None], w, h),
                                [base_angle], SIZE)
    crop_b = warp_crops_rotated(
        turned, xs_estimator.crop_boxes(box[None], *turned.shape[1::-1]), [angle], SIZE)
    assert np.array_equal(crop_a, crop_b)

    a = xs_estimator.estimate(image, DYADIC_BOX[None], angles=base_angle)[0]
    b = xs_estimator.estimate(turned, box[None], angles=[angle])[0]
    assert np.array_equal(a.coords, b.coords)  # the network saw the same crop
    assert b.angle == pytest.approx(angle)
    np.testing.assert_allclose(b.joints2d, _rot90_points(a.joints2d, k, h, w), atol=1e-9)
    np.testing.assert_allclose(b.joints3d_cam, _rot90_camera(a.joints3d_cam, k), atol=1e-7)
    assert b.root_depth == pytest.approx(a.root_depth, rel=1e-12)
    # The pose really depends on the angle (not all joints at the crop centre).
    assert np.ptp(a.joints2d, 0).max() > 5.0


def test_rot90_from_an_axis_aligned_crop_differs_by_rounding_only(xs_estimator):
    # Angle 0 keeps the pipeline's sampling (float32 bilinear, truncated); the turned image
    # needs -90 degrees, sampled by OpenCV (rounded). On the dyadic grid both compute the
    # same exact bilinear value, so they differ by at most 1 grey level.
    image = _noise_image(seed=1)
    h, w = image.shape[:2]
    turned = np.ascontiguousarray(np.rot90(image, 1))
    box = _rot90_box(DYADIC_BOX, 1, h, w)
    crop_a = warp_crops(image, xs_estimator.crop_boxes(DYADIC_BOX[None], w, h), SIZE)
    crop_b = warp_crops_rotated(turned, xs_estimator.crop_boxes(box[None], h, w),
                                [-np.pi / 2], SIZE)
    diff = np.abs(crop_a.astype(int) - crop_b)
    assert diff.max() <= 1 and diff.mean() < 0.75


@pytest.mark.parametrize("k", [1, 2])
def test_rot90_at_an_arbitrary_angle_gives_nearly_the_same_crop(xs_estimator, k):
    # OpenCV floors every sample position to 1/32 px (after rounding to 1/1024), so the
    # two sample positions of a pixel differ by < 1/32 + 1/1024 px per axis; bilinear
    # values then differ by at most that times the image's neighbour differences (gx, gy)
    # plus 1 for the two roundings and 4 x 255 / 2^15 for the 15-bit weights.
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float64)
    image = np.stack([127 + 100 * np.sin(xx / 9.0 + yy / 13.0),
                      127 + 100 * np.cos(yy / 7.0), 127 + 90 * np.sin((xx - yy) / 11.0)], -1)
    image = np.round(image).astype(np.uint8)
    gx = np.abs(np.diff(image.astype(int), axis=1)).max()
    gy = np.abs(np.diff(image.astype(int), axis=0)).max()
    tol = 1 + (gx + gy) * (1 / 32 + 1 / 1024) + 4 * 255 / 2 ** 15
    h, w = image.shape[:2]
    box = np.array([40.3, 25.7, 40.0, 45.0])  # the crop stays inside the image
    base_angle = math.radians(30)
    turned = np.ascontiguousarray(np.rot90(image, k))
    crop_a = warp_crops_rotated(image, xs_estimator.crop_boxes(box[None], w, h), [base_angle],
                                SIZE)
    crop_b = warp_crops_rotated(
        turned, xs_estimator.crop_boxes(_rot90_box(box, k, h, w)[None], *turned.shape[1::-1]),
        [base_angle - k * np.pi / 2], SIZE)
    diff = np.abs(crop_a.astype(int) - crop_b)
    assert diff.max() <= tol, (diff.max(), tol)
    assert diff.mean() < 1.0


def test_returned_3d_is_the_virtual_camera_pose_rolled_back(xs_estimator):
    image = _noise_image(120, 160, seed=2)
    k = camera.default_intrinsics(120, 160)
    boxes = np.array([[5.0, 10.0, 60.0, 90.0], [90.0, 30.0, 50.0, 70.0]])
    angles = np.array([0.9, -2.2])
    people = xs_estimator.estimate(image, boxes, intrinsics=k, angles=angles)
    crop_boxes = xs_estimator.crop_boxes(boxes, 160, 120)
    prior = camera.root_depth_prior(crop_boxes, k)  # the unrotated box, as without angles
    for p, cb, a, depth in zip(people, crop_boxes, angles, prior):
        assert p.angle == pytest.approx(a)
        assert p.root_depth == pytest.approx(depth, rel=1e-12)
        # 3D reprojects onto the returned 2D.
        np.testing.assert_allclose(camera.project(p.joints3d_cam, k), p.joints2d, atol=1e-9)
        # Independent route: decode the raw output in the virtual camera, roll it back.
        center = cb[:2] + cb[2:] / 2
        virtual = camera.crop_joints_to_camera(
            p.coords[None], cb[None], upright.virtual_intrinsics(k, center, a), depth, HEATMAP,
            32)[0]
        np.testing.assert_allclose(p.joints3d_cam, upright.rotate_camera_points(virtual, a),
                                   atol=1e-7)
        # 2D: the patch positions turned about the crop centre.
        patch_px = p.coords[:, :2] * SIZE / HEATMAP
        inv = upright.patch_to_image_affine(cb, a, SIZE)
        np.testing.assert_allclose(p.joints2d, patch_px @ inv[:, :2].T + inv[:, 2], atol=1e-9)


def test_zero_angles_are_todays_crops_exactly(xs_estimator):
    image = _noise_image(seed=3)
    boxes = np.array([[10.0, 5.0, 40.0, 70.0], [60.0, 20.0, 50.0, 60.0]])
    plain = xs_estimator.estimate(image, boxes)
    for angles in (0.0, [0.0, 0.0]):
        same = xs_estimator.estimate(image, boxes, angles=angles)
        for p, q in zip(plain, same):
            assert np.array_equal(p.joints3d_cam, q.joints3d_cam) and q.angle == 0.0
    mixed = xs_estimator.estimate(image, boxes, angles=[0.0, 0.4])
    assert np.array_equal(mixed[0].joints2d, plain[0].joints2d)
    assert np.array_equal(mixed[0].joints3d_cam, plain[0].joints3d_cam)
    assert not np.allclose(mixed[1].joints2d, plain[1].joints2d)
    with pytest.raises(ValueError, match=r"angles must be a scalar or \[N=2\]"):
        xs_estimator.estimate(image, boxes, angles=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="angles= needs boxes="):
        xs_estimator.estimate(image, angles=[0.1])


class _AngledDetector(det.PersonDetector):
    """A detector that reports fixed boxes with body-axis angles (as BlazePose does)."""

    def __init__(self, boxes, angles, scores=None):
        self.boxes, self.angles = np.asarray(boxes, np.float64), list(angles)
        self.scores = list(scores) if scores is not None else [0.9] * len(self.angles)

    def detect(self, image):
        return [det.Detection(box=b, score=s, angle=a)
                for b, a, s in zip(self.boxes, self.angles, self.scores)]


def _template_fn(crops):
    """Always the standing template pose (pelvis straight below the thorax) in the crop."""
    pose = np.concatenate([helpers.TEMPLATE_XY * HEATMAP, np.full((18, 1), 16.0)], 1)
    return np.tile(pose, (len(crops), 1, 1))


def test_detector_angles_used_only_when_upright():
    image = _noise_image(seed=4)
    boxes, angles = np.array([[20.0, 10.0, 60.0, 60.0]]), [1.1]
    make = lambda up: PoseEstimator(_template_fn, input_size=32, heatmap_size=HEATMAP,  # noqa
                                    depth_bins=32, detector=_AngledDetector(boxes, angles),
                                    upright=up)
    assert make(True).detect_rois(image)[2].tolist() == angles
    on, off = make(True).estimate(image)[0], make(False).estimate(image)[0]
    assert on.angle == pytest.approx(1.1) and off.angle == 0.0
    given = make(False).estimate(image, boxes, angles=angles)[0]
    np.testing.assert_allclose(on.joints2d, given.joints2d)
    # The upright template pose comes back turned by the detector's angle.
    pelvis, thorax = on.joints2d[0], on.joints2d[17]
    assert float(upright.angle_from_points(pelvis, thorax)) == pytest.approx(1.1, abs=1e-9)


def test_low_score_detections_keep_axis_aligned_crops():
    image = _noise_image(seed=6)
    boxes = np.array([[20.0, 10.0, 60.0, 60.0], [5.0, 40.0, 40.0, 40.0]])
    estimator = PoseEstimator(_template_fn, input_size=32, heatmap_size=HEATMAP, depth_bins=32,
                              upright=True, detector=_AngledDetector(boxes, [1.1, -0.9],
                                                                     [0.95, 0.5]))
    got = estimator.estimate(image)
    assert got[0].angle == pytest.approx(1.1) and got[1].angle == 0.0
    assert estimator.upright_min_score == 0.7
    with pytest.raises(ValueError, match="upright_min_score"):
        PoseEstimator(_template_fn, input_size=32, heatmap_size=HEATMAP, depth_bins=32,
                      upright_min_score=1.5)


def test_video_turns_the_next_crop_by_the_previous_pose():
    image = _noise_image(240, 320, seed=5)
    angle = -0.8
    estimator = PoseEstimator(_template_fn, input_size=32, heatmap_size=HEATMAP, depth_bins=32,
                              skeleton="h36m", upright=True,
                              detector=_AngledDetector([[120.0, 60.0, 100.0, 100.0]], [angle]))
    video = VideoPoseEstimator(estimator, redetect_every=None)
    frames = [video.process(image) for _ in range(3)]
    assert [f.detected for f in frames] == [True, False, False]
    # Frame 0: the detector's angle; the template pose, upright in the crop, comes back
    # turned by it. Every next frame: the angle of the previous frame's (smoothed)
    # pelvis -> thorax vector.
    assert frames[0].poses[0].angle == angle
    for before, after in zip(frames, frames[1:]):
        pelvis, thorax = before.poses[0].joints2d[0], before.poses[0].joints2d[17]
        assert after.poses[0].angle == pytest.approx(
            float(upright.angle_from_points(pelvis, thorax)), abs=1e-9)
    assert frames[1].poses[0].angle == pytest.approx(angle, abs=1e-9)
    pose = frames[1].poses[0]
    # The tracked box is square (upright box) and the crop box follows it.
    assert pose.box[2] == pytest.approx(pose.box[3])
    off = VideoPoseEstimator(estimator, redetect_every=None, upright=False)
    assert all(f.poses[0].angle == 0.0 for f in [off.process(image) for _ in range(2)])


def test_demo_json_records_the_crop_angles():
    from mhp_tf import demo

    pose = PoseEstimator(_template_fn, input_size=32, heatmap_size=HEATMAP, depth_bins=32,
                         detector=None).estimate(_noise_image(), [[40.0, 40.0, 60.0, 60.0]],
                                                 angles=[0.5])[0]
    assert demo.frame_record(0, None, [pose], [0])["angles"] == [0.5]
    # The overlay draws the box turned with the crop: its turned corners are coloured, the
    # corner of the unturned box is not.
    est = PoseEstimator(_template_fn, input_size=32, heatmap_size=HEATMAP, depth_bins=32,
                        detector=None)
    drawn = demo.draw_frame(np.zeros((200, 200, 3), np.uint8), [pose], est)
    for x, y in np.round(upright.box_corners(pose.box, 0.5)).astype(int):
        assert tuple(drawn[y, x]) == (255, 220, 0)
    assert tuple(drawn[40, 40]) != (255, 220, 0)


def test_blazepose_angles_of_real_people_follow_the_frame():
    # vtest.avi (pedestrians, opencv-doc): upright people come out near 0, and in the frame
    # turned by np.rot90 (counter-clockwise) near -90 degrees. BlazePose is not exactly
    # rotation-equivariant: `scripts/check_upright_detector.py --frames 10` measures
    # |angle| <= 7.7 and errors <= 11.8 degrees on this frame (max 37.8 over 5 frames),
    # hence bounds of 20 and 25 degrees; a sign error gives 180.
    path = helpers.vtest_avi()
    model = helpers.blazepose_model()
    if path is None or model is None:
        pytest.skip(f"vtest.avi or BlazePose not fetchable: {helpers.last_error}")
    frame = helpers.read_frame(path, 10)
    h, w = frame.shape[:2]
    detector = det.BlazePoseDetector(model)
    people = [d for d in detector.detect(frame) if d.score >= 0.7]
    assert len(people) >= 2
    turned = detector.detect(np.ascontiguousarray(np.rot90(frame, 1)))
    for d in people:
        assert abs(math.degrees(d.angle)) < 20.0
        hip = _rot90_points(d.keypoints[0], 1, h, w)
        match = min(turned, key=lambda t: np.linalg.norm(t.keypoints[0] - hip))
        assert np.linalg.norm(match.keypoints[0] - hip) < 0.25 * d.box[2]
        error = upright.normalize_angle(match.angle - (d.angle - np.pi / 2))
        assert abs(math.degrees(error)) < 25.0


@pytest.fixture(scope="module")
def tiny_exported(tmp_path_factory):
    import test_inference

    return test_inference._export_all(tmp_path_factory.mktemp("tiny_upright"),
                                      helpers.tiny_model())


def test_savedmodel_and_tflite_get_the_same_upright_crops(tiny_exported):
    # The crops are cut in NumPy before any backend runs, so every backend sees the same
    # turned crops; tolerances as in test_inference.test_backends_agree.
    image = _noise_image(240, 320, seed=6)
    boxes = np.array([[40.0, 30.0, 90.0, 200.0], [200.0, 60.0, 70.0, 150.0]])
    angles = [0.6, -2.0]
    ests = {"keras": PoseEstimator(tiny_exported["model"], normalization="imagenet",
                                   detector=None),
            "saved_model": PoseEstimator(tiny_exported["saved_model"], detector=None),
            "tflite": PoseEstimator(tiny_exported["tflite"], detector=None)}
    ref = ests["keras"].estimate(image, boxes, angles=angles)
    plain = ests["keras"].estimate(image, boxes)
    assert np.abs(ref[1].coords - plain[1].coords).max() > 1e-3  # the turn reaches the model
    for name, est in ests.items():
        for a, b in zip(est.estimate(image, boxes, angles=angles), ref):
            assert a.angle == b.angle
            np.testing.assert_allclose(a.coords, b.coords, atol=2e-3, err_msg=name)
            np.testing.assert_allclose(a.joints2d, b.joints2d, atol=0.1, err_msg=name)
            np.testing.assert_allclose(a.joints3d_cam, b.joints3d_cam, atol=2.0, err_msg=name)
