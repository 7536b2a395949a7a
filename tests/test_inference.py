"""mhp_tf.inference: crops, backends, decoding, confidence, detectors, video tracking."""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

import inference_helpers as helpers
from mhp_tf.data import pipeline
from mhp_tf.export import deploy
from mhp_tf.inference import backends
from mhp_tf.inference import detector as det
from mhp_tf.inference.estimator import PoseEstimator
from mhp_tf.inference.estimator import crop_affine
from mhp_tf.inference.estimator import warp_crops
from mhp_tf.inference.video import VideoPoseEstimator
from mhp_tf.postprocess import camera

BOXES = np.array([[40.0, 30.0, 90.0, 200.0], [200.0, 60.0, 70.0, 150.0]])


def _test_image(h=240, w=320, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255.0 / w, yy * 255.0 / h, (xx + yy) % 64 * 4.0], -1)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- crops


def test_crop_warp_equals_training_pipeline():
    image = _test_image()
    jpeg = tf.io.encode_jpeg(image, quality=100)
    decoded = tf.io.decode_jpeg(jpeg).numpy()  # what the pipeline warps
    h, w = image.shape[:2]
    size = 64
    cfg = pipeline.PipelineConfig(input_size=size, heatmap_size=8, depth_bins=32,
                                  normalization="none")
    boxes = [[40, 30, 90, 200],      # inside
             [-30, -20, 120, 100],   # starts left of / above the image
             [280, 200, 60, 60],     # runs past the right / bottom edge
             [150, 100, 12, 20],     # small box: upsampling
             [0, 0, 320, 240]]       # whole image: downsampling
    for box in boxes:
        ex = {"image": jpeg, "bbox": tf.constant(box, tf.float32),
              "joints_img": tf.zeros([18, 2]), "joints_cam": tf.fill([18, 3], 1000.0),
              "joints_vis": tf.ones([18]), "have_depth": tf.constant(1.0),
              "focal": tf.constant([300.0, 300.0]), "principal_point": tf.constant([160., 120.]),
              "root_cam": tf.constant([0.0, 0.0, 1000.0])}
        out = pipeline.preprocess_example(ex, pipeline.seed_tensor(0), cfg, False, "h36m")
        crop_box, valid = camera.process_boxes(np.array([box]), w, h)
        assert valid[0]
        np.testing.assert_allclose(crop_box[0], out["bbox"].numpy(), rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(crop_affine(crop_box[0], size), out["affine"].numpy(),
                                   rtol=1e-5, atol=1e-3)
        ours = warp_crops(decoded, crop_box, size)[0].astype(np.float32)
        theirs = out["image"].numpy()
        diff = np.abs(ours - theirs)
        # Same sampling and truncation; float32 rounding may flip a floor on rare pixels.
        assert diff.max() <= 1.0, box
        assert np.mean(diff > 0) < 0.01, box


def test_warp_crop_outside_image_is_black():
    image = np.full((50, 60, 3), 200, np.uint8)
    crops = warp_crops(image, np.array([[100.0, 100.0, 40.0, 40.0]]), 16)
    assert crops.shape == (1, 16, 16, 3) and crops.max() == 0
    assert warp_crops(image, np.zeros((0, 4)), 16).shape == (0, 16, 16, 3)


# ----------------------------------------------------------------------------- numerics


def test_soft_argmax_numpy_matches_network_layer():
    from mhp_tf.modeling import soft_argmax_3d

    logits = np.random.default_rng(0).normal(0, 3, (2, 8, 8, 18 * 4)).astype(np.float32)
    ours = backends.soft_argmax_numpy(logits, 4)
    theirs = soft_argmax_3d(tf.constant(logits), 4).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_heatmap_confidence_peaked_vs_flat():
    h, d, j = 32, 4, 2
    logits = np.zeros((1, h, h, j * d), np.float32)
    logits[0, 10, 20, 0:d] = 50.0  # joint 0: a sharp peak at x=20, y=10
    coords = backends.soft_argmax_numpy(logits, d)
    conf = backends.heatmap_confidence(logits, coords, d)
    assert conf[0, 0] > 0.99
    r = backends.confidence_radius(h)
    np.testing.assert_allclose(conf[0, 1], (2 * r + 1) ** 2 / h ** 2, rtol=1e-6)


# ----------------------------------------------------------------------------- decoding


def _plausible_pose(rng, root=(150.0, -100.0, 4500.0)):
    offsets = np.concatenate([helpers.TEMPLATE_XY - 0.5, helpers.TEMPLATE_Z[:, None]], 1)
    pose = offsets * [1000.0, 1900.0, 1000.0] + rng.normal(0, 30, (18, 3))
    pose -= pose[0]
    return pose + np.asarray(root)


def test_decode_round_trip_with_a_perfect_model():
    """A fake network that outputs the exact targets of the crop: the estimator must give
    back the 3D joints (at the true root depth) and their projections."""
    rng = np.random.default_rng(0)
    h, w = 480, 640
    k = camera.default_intrinsics(h, w)
    poses = np.stack([_plausible_pose(rng), _plausible_pose(rng, (-900.0, 50.0, 6000.0))])
    uv = camera.project(poses, k)
    boxes = np.array([np.concatenate([p.min(0) - 10, p.max(0) - p.min(0) + 20]) for p in uv])
    crop_boxes, _ = camera.process_boxes(boxes, w, h)
    hm, bins = 8, 32
    targets = camera.camera_to_crop_joints(poses, crop_boxes, k, hm, bins)
    calls = []

    def perfect(crops):  # the whole batch is the two people (one probe crop at start-up)
        calls.append(len(crops))
        return targets[:len(crops)]

    est = PoseEstimator(perfect, input_size=64, heatmap_size=hm, depth_bins=bins,
                        detector=None, batch_size=8)
    assert est.skeleton.name == "h36m"  # from the probe's 18 joints
    out = est.estimate(np.zeros((h, w, 3), np.uint8), boxes, intrinsics=k,
                       root_depth=poses[:, 0, 2])
    assert calls == [1, 2]
    for r, p, q, cb in zip(out, poses, uv, crop_boxes):
        np.testing.assert_allclose(r.joints3d_cam, p, atol=1e-6)
        np.testing.assert_allclose(r.joints2d, q, atol=1e-6)
        np.testing.assert_allclose(r.joints3d_rel, p - p[0], atol=1e-6)
        np.testing.assert_allclose(r.crop_box, cb)
        assert r.root_depth == pytest.approx(p[0, 2])
        assert np.isnan(r.confidence) and r.joint_confidence is None
    # Without the true depth: RootNet's prior, and MoVNect's global position.
    prior = est.estimate(np.zeros((h, w, 3), np.uint8), boxes, intrinsics=k)
    np.testing.assert_allclose([r.root_depth for r in prior],
                               camera.root_depth_prior(crop_boxes, k))
    for r, q in zip(prior, uv):
        np.testing.assert_allclose(r.joints2d, q, atol=1e-6)
    movnect = est.estimate(np.zeros((h, w, 3), np.uint8), boxes, intrinsics=k,
                           root_depth_method="movnect")
    for a, b in zip(movnect, prior):
        assert 0.8 < a.root_depth / b.root_depth < 1.25
        np.testing.assert_allclose(a.joints3d_rel, b.joints3d_rel, atol=1e-6)


# ----------------------------------------------------------------------------- backends


def _export_all(root, model):
    """A model as a run folder, a SavedModel (uint8 crops -> coords + heatmap, with metadata
    variables) and a float32 TFLite file (batch 1, coords only)."""
    run = helpers.save_run(model, str(root / "run"), normalization="imagenet")

    class Serving(tf.Module):
        def __init__(self, net):
            super().__init__()
            self.net = tf.keras.Model(net.inputs, [net.output, net.get_layer("head_conv").output])
            self.input_size = tf.Variable(64, trainable=False)
            self.heatmap_size = tf.Variable(8, trainable=False)
            self.depth_bins = tf.Variable(32, trainable=False)
            self.depth_range_mm = tf.Variable(2000.0, trainable=False)
            self.normalization = tf.Variable("imagenet", trainable=False)
            self.skeleton = tf.Variable("h36m", trainable=False)

        @tf.function(input_signature=[tf.TensorSpec([None, 64, 64, 3], tf.uint8)])
        def serve(self, images):
            x = (tf.cast(images, tf.float32) / 255.0 - pipeline.PIXEL_MEAN) / pipeline.PIXEL_STD
            coords, heatmap = self.net(x, training=False)
            return {"coords": coords, "heatmap": heatmap}

    module = Serving(model)
    saved = str(root / "saved_model")
    tf.saved_model.save(module, saved, signatures={"serving_default": module.serve})
    inp = tf.keras.Input((64, 64, 3), batch_size=1)
    converter = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(inp, model(inp)))
    tflite = os.path.join(run, "model.tflite")  # beside config.json: normalisation from it
    with open(tflite, "wb") as f:
        f.write(converter.convert())
    return {"model": model, "run": run, "saved_model": saved, "tflite": tflite}


@pytest.fixture(scope="module")
def tiny_exported(tmp_path_factory):
    return _export_all(tmp_path_factory.mktemp("tiny_models"), helpers.tiny_model())


@pytest.fixture(scope="module")
def xs_exported(tmp_path_factory):
    return _export_all(tmp_path_factory.mktemp("xs_models"), helpers.random_xs_model())


def test_tflite_runs_on_litert(tiny_exported, monkeypatch):
    """Every .tflite model runs on LiteRT's interpreter, not the deprecated tf.lite one."""
    from ai_edge_litert import interpreter as litert
    from mhp_tf.export import tflite

    est = PoseEstimator(tiny_exported["tflite"], detector=None)
    assert est.backend_kind == "tflite"
    assert type(est.backend.interpreter) is litert.Interpreter
    assert not isinstance(est.backend.interpreter, tf.lite.Interpreter)
    with open(tiny_exported["tflite"], "rb") as f:
        assert type(tflite.make_interpreter(f.read())) is litert.Interpreter
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(ImportError, match=r"needs LiteRT.*pip install ai-edge-litert==2\.3\.0"):
        PoseEstimator(tiny_exported["tflite"], detector=None)


@pytest.mark.parametrize("which", ["tiny", pytest.param("xs", marks=pytest.mark.slow)])
def test_backends_agree(which, request):
    """Keras object / run folder / .keras file / SavedModel / TFLite give the same poses.

    ``tiny``: a 3-conv stand-in (seconds). ``xs``: the random-weight XS network at input 64
    (slow: exporting it takes a minute or two on a small CPU)."""
    exported = request.getfixturevalue(f"{which}_exported")
    image = _test_image(seed=1)
    k = camera.default_intrinsics(240, 320)
    ests = {
        "object": PoseEstimator(exported["model"], normalization="imagenet", detector=None),
        "run": PoseEstimator(exported["run"], detector=None),
        "keras_file": PoseEstimator(os.path.join(exported["run"], "model.keras"),
                                    detector=None),
        "saved_model": PoseEstimator(exported["saved_model"], detector=None),
        "tflite": PoseEstimator(exported["tflite"], detector=None),
    }
    assert ests["run"].info.normalization == "imagenet"  # from config.json
    assert ests["tflite"].info.normalization == "imagenet"
    assert ests["saved_model"].backend_kind == "saved_model"
    for e in ests.values():
        assert e.joint_names == tuple(ests["run"].skeleton.joints)
        assert (e.input_size, e.heatmap_size, e.depth_bins) == (64, 8, 32)
    results = {name: e.estimate(image, BOXES, intrinsics=k) for name, e in ests.items()}
    ref = results["object"]
    coords = np.stack([r.coords for r in ref])
    assert np.ptp(coords[..., :2]) > 0.05, "outputs should depend on the crop"
    for name, res in results.items():
        assert len(res) == len(ref)
        for a, b in zip(res, ref):
            np.testing.assert_allclose(a.coords, b.coords, atol=2e-3, err_msg=name)
            np.testing.assert_allclose(a.joints2d, b.joints2d, atol=0.1, err_msg=name)
            np.testing.assert_allclose(a.joints3d_cam, b.joints3d_cam, atol=2.0, err_msg=name)
            np.testing.assert_allclose(a.joints3d_rel, b.joints3d_rel, atol=2.0, err_msg=name)
            if name == "tflite":  # coords only: no heatmap, boxes given -> unknown
                assert a.joint_confidence is None and np.isnan(a.confidence)
            else:
                np.testing.assert_allclose(a.joint_confidence, b.joint_confidence, atol=1e-3,
                                           err_msg=name)
                assert 0.0 <= a.confidence <= 1.0
    # The wrong normalisation changes the result (so it really is applied).
    other = PoseEstimator(exported["model"], normalization="reference", detector=None)
    moved = other.estimate(image, BOXES, intrinsics=k)
    assert np.abs(moved[0].coords - ref[0].coords).max() > 1e-3


@pytest.mark.slow
def test_saved_model_from_the_exporter(xs_exported, tmp_path):
    """mhp_tf.export.saved_model's SavedModel runs through the SavedModel backend (slow)."""
    saved_model = pytest.importorskip("mhp_tf.export.saved_model")
    path = saved_model.export_saved_model(xs_exported["model"], str(tmp_path / "sm"),
                                          normalization="imagenet")
    image = _test_image(seed=3)
    ours = PoseEstimator(xs_exported["run"], detector=None).estimate(image, BOXES)
    exported = PoseEstimator(path, detector=None)
    assert exported.info.normalization == "imagenet" and exported.heatmap_size == 8
    for a, b in zip(exported.estimate(image, BOXES), ours):
        np.testing.assert_allclose(a.joints3d_cam, b.joints3d_cam, atol=2.0)
        np.testing.assert_allclose(a.joints2d, b.joints2d, atol=0.1)


def test_batching_does_not_change_results(tiny_exported):
    exported = tiny_exported
    image = _test_image(seed=2)
    boxes = np.concatenate([BOXES, BOXES + [5, 5, 0, 0], BOXES + [10, 0, 10, 10]])
    one = PoseEstimator(exported["model"], normalization="imagenet", detector=None,
                        batch_size=1).estimate(image, boxes)
    many = PoseEstimator(exported["model"], normalization="imagenet", detector=None,
                         batch_size=4).estimate(image, boxes)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a.joints3d_cam, b.joints3d_cam, atol=1e-3)


def test_flip_test_mirrors_back_exactly_and_swaps_sides():
    """A stand-in network that reads the crop: every joint sits at the brightest pixel's
    column (heatmap x = u W / S), left joints 1.5 heatmap px to the person's left of it,
    right joints to the right -- as a network sees the mirrored person, whose left is the
    original's right. Mirrored back and swapped, the flipped pass must give exactly the
    plain pass, so their average does too; a W - 1 offset or a missing swap would not."""
    from mhp_tf import skeletons
    sk = skeletons.get_skeleton("h36m")
    side = np.zeros(18)
    for i, name in enumerate(sk.joints):
        side[i] = 1.0 if name.startswith("L_") else (-1.0 if name.startswith("R_") else 0.0)
    size, hm = 64, 16

    def fn(crops):
        crops = np.asarray(crops, np.float64).sum(-1)
        out = np.zeros((len(crops), 18, 3))
        for b, c in enumerate(crops):
            v, u = np.unravel_index(np.argmax(c), c.shape)
            # seen from the front, the person's left is the image's right: + x
            out[b, :, 0] = u * hm / size + 1.5 * side
            out[b, :, 1] = v * hm / size
            out[b, :, 2] = 8.0 + v / size   # depth does not mirror
        return out

    crops = np.zeros((3, size, size, 3), np.uint8)
    for b, (v, u) in enumerate([(10, 5), (40, 33), (63, 62)]):
        crops[b, v, u] = 255
    plain = PoseEstimator(fn, input_size=size, heatmap_size=hm, depth_bins=16, detector=None,
                          skeleton="h36m")
    flip = PoseEstimator(fn, input_size=size, heatmap_size=hm, depth_bins=16, detector=None,
                         skeleton="h36m", flip_test=True)
    want, _ = plain.predict_crops(crops)
    got, _ = flip.predict_crops(crops)
    np.testing.assert_allclose(got, want, atol=1e-9)
    # The flipped pass alone, unmirrored, is the plain pass too.
    mirrored, _ = plain.predict_crops(np.ascontiguousarray(crops[:, :, ::-1]))
    np.testing.assert_allclose(flip._unflip(mirrored), want, atol=1e-9)
    # ... but not with the reference code's W - 1 offset.
    ref = np.array(mirrored)
    ref[..., 0] = hm - 1.0 - ref[..., 0]
    assert np.abs(ref[:, sk.flip_permutation()] - want).max() > 0.5


# ----------------------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def fake_estimator():
    def fn(crops):
        return np.tile(np.concatenate([helpers.TEMPLATE_XY * 8, np.full((18, 1), 16.0)], 1),
                       (len(crops), 1, 1))

    return PoseEstimator(fn, input_size=32, heatmap_size=8, depth_bins=32, detector=None)


@pytest.mark.parametrize("image, message", [
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    (np.zeros((10, 0, 3), np.uint8), "empty"),
    (np.zeros((10, 10), np.uint8), r"\[height, width, 3\]"),
    (np.zeros((10, 10, 4), np.uint8), "3 \\(RGB\\) channels"),
    (np.zeros((10, 10, 3), np.int32), "dtype"),
    (np.zeros((10, 10, 3), np.float64), "dtype"),
    ([[1, 2, 3]], "numpy array"),
])
def test_bad_images(fake_estimator, image, message):
    with pytest.raises(ValueError, match=message):
        fake_estimator.estimate(image, [[0, 0, 5, 5]])


@pytest.mark.parametrize("kwargs, message", [
    (dict(boxes=[[500, 500, 20, 20]]), "entirely outside"),
    (dict(boxes=[[-50, 10, 20, 20]]), "entirely outside"),
    (dict(boxes=[[10, 10, 0, 20]]), "positive width and height"),
    (dict(boxes=[[10, 10, 20, -1]]), "positive width and height"),
    (dict(boxes=[10, 10, 20, 20]), r"\[N, 4\]"),
    (dict(boxes=[[10, 10, np.nan, 20]]), "NaN"),
    (dict(boxes=[[10, 10, 20, 20]], intrinsics=np.eye(2)), "3x3"),
    (dict(boxes=[[10, 10, 20, 20]], intrinsics=[[100, 1, 50], [0, 100, 50], [0, 0, 1]]),
     "skew"),
    (dict(boxes=[[10, 10, 20, 20]], intrinsics=[[-100, 0, 50], [0, 100, 50], [0, 0, 1]]),
     "focal"),
    (dict(boxes=[[10, 10, 20, 20]], root_depth=-5.0), "root_depth"),
    (dict(boxes=[[10, 10, 20, 20]], root_depth=[1000.0, 2000.0]), "root_depth"),
    (dict(boxes=[[10, 10, 20, 20]], root_depth_method="magic"), "root_depth_method"),
    (dict(boxes=None), "no person detector"),
])
def test_bad_arguments(fake_estimator, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fake_estimator.estimate(np.zeros((100, 120, 3), np.uint8), **kwargs)


@pytest.mark.parametrize("intrinsics, message", [
    ([[1e-300, 0, 60], [0, 1e-300, 50], [0, 0, 1]], r"intrinsics focal lengths must be at least"),
    ([[0, 0, 60], [0, 100, 50], [0, 0, 1]], r"intrinsics focal lengths must be positive"),
    ([[100, 0, 60], [0, -100, 50], [0, 0, 1]], r"intrinsics focal lengths must be positive"),
    ([[np.inf, 0, 60], [0, 100, 50], [0, 0, 1]], r"intrinsics contain NaN or inf"),
    ([[100, 0, np.nan], [0, 100, 50], [0, 0, 1]], r"intrinsics contain NaN or inf"),
    ([[100, 0, 60], [0, 100, 50], [0, 0, -1]], r"intrinsics last row"),
    # 5 px on a 120 px wide image: a 2 atan(12) = 170.5 degree field of view.
    ([[5, 0, 60], [0, 100, 50], [0, 0, 1]], r"intrinsics fx=5.*170.5 degree horizontal"),
    ([[100, 0, 60], [0, 1e5, 50], [0, 0, 1]], r"intrinsics .*fy=100000.*vertical field"),
])
def test_implausible_intrinsics_are_refused(fake_estimator, intrinsics, message):
    with pytest.raises(ValueError, match=message):
        fake_estimator.estimate(np.zeros((100, 120, 3), np.uint8), [[10, 10, 60, 80]],
                                intrinsics=intrinsics)


def test_joints_behind_the_camera_name_the_intrinsics():
    def fn(crops):  # every joint but the root at depth bin 0: 1000 mm in front of the root
        out = np.zeros((len(crops), 18, 3))
        out[:, :, :2] = 4.0
        out[:, 0, 2] = 16.0
        return out

    est = PoseEstimator(fn, input_size=32, heatmap_size=8, depth_bins=32, detector=None)
    image, box = np.zeros((100, 120, 3), np.uint8), [[10, 10, 60, 80]]
    ok = [[100, 0, 60], [0, 100, 50], [0, 0, 1]]
    assert np.all(est.estimate(image, box, intrinsics=ok)[0].joints3d_cam[:, 2] > 0)
    # A 6 px focal length (inside the field-of-view limit on this image) makes RootNet's
    # prior depth 6 * 2000 / 98.75 = 121.519 mm (crop side (80 - 1) * 1.25 = 98.75 px):
    # the other joints land at 121.519 - 1000 = -878.481 mm.
    with pytest.raises(ValueError, match=r"behind the camera \(Z = -878.481 mm\).* with "
                                         r"intrinsics fx=6, fy=6, cx=60, cy=50"):
        est.estimate(image, box, intrinsics=[[6, 0, 60], [0, 6, 50], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"behind the camera .* root depths \[1.0\] mm with "
                                         r"intrinsics fx=100"):
        est.estimate(image, box, intrinsics=ok, root_depth=1.0)


@pytest.mark.parametrize("scale, message", [
    (1.0 / 255.0, r"all values in \[0, 1\].*image \* 255"),  # a [0, 1] float image
    (1.0 / 255.0 / 4.0, r"all values in \[0, 1\]"),            # a dark [0, 1] image
    (256.0, r"values in \[0, 6.528e\+04\].*not 16-bit"),      # 16-bit range
])
def test_float_images_outside_0_255_are_refused(fake_estimator, scale, message):
    image = np.random.default_rng(0).integers(0, 256, (100, 120, 3)).astype(np.float32) * scale
    with pytest.raises(ValueError, match=message):
        fake_estimator.estimate(image, [[10, 10, 60, 80]])


def test_normalised_float_image_is_refused(fake_estimator):
    image = np.random.default_rng(0).normal(0, 1, (100, 120, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=r"float images must hold 0..255"):
        fake_estimator.estimate(image, [[10, 10, 60, 80]])


def test_float_0_255_image_equals_uint8(fake_estimator):
    rgb = np.random.default_rng(0).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    black = np.zeros((100, 120, 3), np.float32)  # black reads the same in both conventions
    for image in (rgb, black):
        ref = fake_estimator.estimate(image.astype(np.uint8), [[10, 10, 60, 80]])[0]
        got = fake_estimator.estimate(image.astype(np.float32), [[10, 10, 60, 80]])[0]
        np.testing.assert_array_equal(got.joints3d_cam, ref.joints3d_cam)


def test_no_boxes_gives_no_people(fake_estimator):
    assert fake_estimator.estimate(np.zeros((100, 120, 3), np.uint8), np.zeros((0, 4))) == []


def test_bad_models(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        PoseEstimator(str(tmp_path / "nothing.keras"))
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="unsupported model file"):
        PoseEstimator(str(tmp_path / "weights.bin"))
    (tmp_path / "broken.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(ValueError, match="cannot load the TFLite model"):
        PoseEstimator(str(tmp_path / "broken.tflite"))
    with pytest.raises(ValueError, match="input_size"):
        PoseEstimator(lambda crops: crops)
    with pytest.raises(ValueError, match="heatmap_size"):
        PoseEstimator(lambda crops: crops, input_size=32)
    with pytest.raises(ValueError, match=r"coords \[B, J, 3\]"):
        PoseEstimator(lambda crops: crops, input_size=32, heatmap_size=8, depth_bins=8)
    with pytest.raises(ValueError, match="detector="):
        PoseEstimator(lambda c: np.zeros((len(c), 18, 3)), input_size=32, heatmap_size=8,
                      depth_bins=8, detector="yolo").detector


# ----------------------------------------------------------------------------- detectors


def test_ssd_anchors_match_mediapipe_layout():
    a = det.ssd_anchors()
    assert a.shape == (2254, 4)
    np.testing.assert_array_equal(a[:, 2:], 1.0)  # fixed_anchor_size
    # Stride 8: 28 x 28 cells x 2 anchors, row-major, both anchors of a cell together.
    np.testing.assert_allclose(a[0, :2], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1, :2], a[0, :2])
    np.testing.assert_allclose(a[2, :2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1567, :2], [27.5 / 28, 27.5 / 28])
    # Stride 16: 14 x 14 x 2; the three stride-32 layers share a 7 x 7 grid, 6 per cell.
    np.testing.assert_allclose(a[1568, :2], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(a[1960:1966, :2], [[0.5 / 7, 0.5 / 7]] * 6)
    np.testing.assert_allclose(a[-1, :2], [6.5 / 7, 6.5 / 7])


def test_weighted_nms_merges_overlaps():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float64)
    kps = np.array([[[5, 5]], [[7, 5]], [[55, 55]]], np.float64)
    scores = np.array([0.9, 0.3, 0.8])
    b, k, s = det.weighted_nms(boxes, kps, scores, 0.3)
    assert len(s) == 2 and s[0] == 0.9 and s[1] == 0.8
    np.testing.assert_allclose(b[0], (boxes[0] * 0.9 + boxes[1] * 0.3) / 1.2)
    np.testing.assert_allclose(k[0, 0], [(5 * 0.9 + 7 * 0.3) / 1.2, 5])
    np.testing.assert_allclose(b[1], boxes[2])


def test_blazepose_missing_model_message(tmp_path):
    with pytest.raises(det.DetectorUnavailable, match="fetch_models"):
        det.BlazePoseDetector(model_path=str(tmp_path / "none.tflite"))


def test_fetch_models_checks_the_extracted_file(tmp_path):
    import zipfile

    from mhp_tf.inference import fetch_models

    wheel = tmp_path / "mediapipe-0.10.21-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(det.BLAZEPOSE_MEMBER, b"not the model")
    with pytest.raises(fetch_models.FetchError, match="sha256"):
        fetch_models.fetch_blazepose(str(tmp_path / "cache"), wheel=str(wheel))
    assert not os.listdir(tmp_path / "cache")
    with zipfile.ZipFile(tmp_path / "empty.whl", "w") as zf:
        zf.writestr("other.txt", b"")
    with pytest.raises(fetch_models.FetchError, match="cannot read"):
        fetch_models.extract_detector(str(tmp_path / "empty.whl"), str(tmp_path / "c2"))


def test_detector_boxes_off_the_image_are_dropped(fake_estimator):
    image = np.zeros((100, 120, 3), np.uint8)
    est = PoseEstimator(fake_estimator.backend.fn, input_size=32, heatmap_size=8, depth_bins=32,
                        detector=lambda im: (np.array([[10, 10, 30, 60], [500, 10, 30, 60],
                                                       [10, 10, 0, 60], [np.nan, 0, 5, 5]]),
                                             np.array([0.9, 0.8, 0.7, 0.6])))
    people = est.estimate(image)
    assert len(people) == 1 and people[0].detection_score == 0.9
    assert people[0].confidence == 0.9  # no heatmap: the detector's score


def test_auto_falls_back_to_hog(monkeypatch, tmp_path):
    monkeypatch.setenv(det.CACHE_ENV, str(tmp_path))
    assert isinstance(det.make_detector("auto"), det.HOGDetector)


@pytest.fixture(scope="module")
def real_frame():
    path = helpers.real_video()
    if path is None:
        pytest.skip(f"no real video could be fetched: {helpers.last_error}")
    return path, helpers.read_frame(path, 10)


def _expected_people(path):
    # vtest.avi frame 10: three walking pedestrians in full view; sports2d: two people.
    return 3 if path.endswith("vtest.avi") else 2


def test_hog_finds_people_in_a_real_frame(real_frame):
    path, frame = real_frame
    boxes, scores = det.HOGDetector()(frame)
    assert len(boxes) >= _expected_people(path) - 1, (boxes, scores)
    assert np.all(scores >= 0.5) and np.all(np.diff(scores) <= 0)
    h = frame.shape[0]
    assert np.all((boxes[:, 3] > 0.08 * h) & (boxes[:, 3] < 0.9 * h))
    assert np.all(boxes[:, 3] > boxes[:, 2])  # upright people


def test_blazepose_finds_people_in_a_real_frame(real_frame):
    model = helpers.blazepose_model()
    if model is None:
        pytest.skip(f"BlazePose model not fetchable: {helpers.last_error.get('blazepose')}")
    path, frame = real_frame
    detector = det.BlazePoseDetector(model)
    dets = detector.detect(frame)
    assert len(dets) >= _expected_people(path) - 1, [(d.box, d.score) for d in dets]
    for d in dets:
        assert d.score >= 0.5
        hip, scale_pt, shoulder = d.keypoints[0], d.keypoints[1], d.keypoints[2]
        assert shoulder[1] < hip[1]  # upright: shoulders above hips
        assert d.face_box[1] < hip[1]
        np.testing.assert_allclose(d.box[:2] + d.box[2:] / 2, hip)
        np.testing.assert_allclose(d.box[2] / 2, np.linalg.norm(scale_pt - hip))
    # The HOG and BlazePose people agree: every BlazePose person's hip lies in a HOG box
    # grown by 50 % (HOG may miss people, BlazePose may find more).
    hog_boxes, _ = det.HOGDetector()(frame)
    if len(hog_boxes):
        grown = hog_boxes + np.stack([-hog_boxes[:, 2] / 4, -hog_boxes[:, 3] / 4,
                                      hog_boxes[:, 2] / 2, hog_boxes[:, 3] / 2], 1)
        hits = 0
        for d in dets:
            hx, hy = d.keypoints[0]
            hits += np.any((grown[:, 0] <= hx) & (hx <= grown[:, 0] + grown[:, 2])
                           & (grown[:, 1] <= hy) & (hy <= grown[:, 1] + grown[:, 3]))
        assert hits >= min(len(dets), len(hog_boxes)) - 1


def _det(box, score):
    box = np.asarray(box, np.float64)
    hip = box[:2] + box[2:] / 2   # BlazePose boxes are centred on the mid-hip
    return det.Detection(box=box, score=score, keypoints=np.stack([hip, hip - [0, box[3] / 2]]))


def test_nested_duplicate_of_one_person_is_dropped():
    person = _det([100, 100, 80, 80], 0.95)
    # The same body seen again as a larger box with a shifted mid-hip: IoU 0.25, so the
    # IoU-based NMS keeps both; nested and centres within half the smaller side -> dropped.
    ghost = _det([70, 60, 160, 160], 0.9)
    assert det.iou_xyxy([100, 100, 180, 180], [[70, 60, 230, 220]])[0] < 0.3
    kept = det.drop_nested_duplicates([ghost, person])
    assert [d.score for d in kept] == [0.95]
    # The better score wins whichever box is larger.
    ghost_best = _det([70, 60, 160, 160], 0.99)
    assert [d.score for d in det.drop_nested_duplicates([person, ghost_best])] == [0.99]


def test_nested_boxes_of_two_people_are_kept():
    near = _det([0, 0, 200, 200], 0.95)
    # Inside the near person's box but with the mid-hip far from it: someone behind.
    far = _det([20, 20, 50, 50], 0.9)
    assert len(det.drop_nested_duplicates([near, far])) == 2
    # Side by side, overlapping by a third: not nested.
    a, b = _det([0, 0, 90, 90], 0.9), _det([60, 0, 90, 90], 0.8)
    assert len(det.drop_nested_duplicates([a, b])) == 2
    # Threshold 1.0 asks for full containment; a box poking out by 10 % survives.
    person = _det([100, 100, 80, 80], 0.95)
    ghost = _det([70, 60, 120, 112], 0.9)
    assert len(det.drop_nested_duplicates([person, ghost], contain=1.0)) == 2
    assert len(det.drop_nested_duplicates([person, ghost], contain=0.85)) == 1
    with pytest.raises(ValueError, match="nested_threshold"):
        det.BlazePoseDetector("missing.tflite", nested_threshold=1.5)


def test_blazepose_sees_each_person_of_the_sample_photo_once():
    """docs/sample_people.jpg: two people; without the nested-duplicate rule the tiled
    search also returned a tilted 509 px box around the walking woman."""
    model = helpers.blazepose_model()
    if model is None:
        pytest.skip(f"BlazePose model not fetchable: {helpers.last_error.get('blazepose')}")
    import cv2
    image = cv2.cvtColor(cv2.imread(helpers.SAMPLE_PEOPLE), cv2.COLOR_BGR2RGB)
    everything = det.BlazePoseDetector(model, nested_threshold=None).detect(image)
    dets = det.BlazePoseDetector(model).detect(image)
    assert len(everything) > len(dets) == 2, [(d.box, d.score) for d in everything]
    # One box per person: hip centres inside the hand-drawn person boxes.
    for x0, y0, x1, y1 in helpers.SAMPLE_PEOPLE_XYXY:
        inside = [d for d in dets if x0 <= d.keypoints[0][0] <= x1 and y0 <= d.keypoints[0][1] <= y1]
        assert len(inside) == 1, ((x0, y0, x1, y1), [(d.box, d.keypoints[0]) for d in dets])


# ----------------------------------------------------------------------------- video


@pytest.fixture(scope="module")
def template_estimator_factory():
    model = helpers.template_model()

    def make(detector):
        return PoseEstimator(model, normalization="imagenet", skeleton="h36m",
                             heatmap_size=8, depth_bins=32, detector=detector)
    return make


def test_video_tracks_one_person_with_stable_id(tmp_path, template_estimator_factory):
    path = str(tmp_path / "synthetic.avi")
    gt_boxes, _, k = helpers.synthetic_video(path, frames=8)
    frames = [helpers.read_frame(path, i) for i in range(8)]
    calls = []

    def detector(image):
        calls.append(len(calls))
        return gt_boxes[:1], np.array([0.9])

    video = VideoPoseEstimator(template_estimator_factory(detector), fps=10.0, intrinsics=k,
                               redetect_every=None)
    results = [video.process(f) for f in frames]
    assert results[0].detected and len(calls) == 1  # detected once, then tracked
    assert all(len(r.poses) == 1 for r in results)
    assert {r.track_ids[0] for r in results} == {0}
    np.testing.assert_allclose([r.timestamp for r in results], np.arange(8) / 10.0)
    p = results[-1].poses[0]
    assert p.detection_score == pytest.approx(0.9)  # carried over from the detection
    np.testing.assert_allclose(p.joints3d_rel, p.joints3d_cam - p.joints3d_cam[0])
    assert p.joints2d_raw.shape == (18, 2) and p.joints3d_cam_raw.shape == (18, 3)
    # Smoothing: the filtered 2D track moves less from frame to frame than the raw one.
    raw = np.stack([r.poses[0].joints2d_raw for r in results])
    smooth = np.stack([r.poses[0].joints2d for r in results])
    assert np.abs(np.diff(smooth, axis=0)).mean() <= np.abs(np.diff(raw, axis=0)).mean() + 1e-9
    # The tracked box stays on the person.
    gt_centres = gt_boxes[:, :2] + gt_boxes[:, 2:] / 2
    centres = np.stack([r.poses[0].box[:2] + r.poses[0].box[2:] / 2 for r in results])
    assert np.max(np.linalg.norm(centres - gt_centres, axis=1)) < 0.5 * gt_boxes[:, 3].mean()


def test_video_multiple_people_and_lost_tracks(template_estimator_factory):
    image = np.zeros((240, 320, 3), np.uint8)
    state = {"boxes": np.array([[20.0, 20.0, 60.0, 150.0], [200.0, 40.0, 60.0, 150.0]])}

    def detector(img):
        return state["boxes"], np.array([0.8, 0.7])[:len(state["boxes"])]

    video = VideoPoseEstimator(template_estimator_factory(detector), redetect_every=4,
                               max_missed=0)
    frames = [video.process(image) for _ in range(5)]
    # PoseTracker counts redetect_every frames after the detection frame.
    assert [f.detected for f in frames] == [True, False, False, False, False]
    assert all(sorted(f.track_ids) == [0, 1] for f in frames)
    state["boxes"] = state["boxes"][1:]  # the first person leaves before the re-detection
    sixth = video.process(image)
    assert sixth.detected and sixth.track_ids == [1]
    assert [t.track_id for t in video.tracker.tracks] == [1]
    with pytest.raises(ValueError, match="timestamps must increase"):
        video.process(image, timestamp=0.0)


def test_keras_backend_reads_full_resolution_logits_of_a_reordered_head():
    """With ``head_before_upsample`` the heatmap logits come from ``head_upsample``: same
    confidences as the reference graph with the same weights."""
    import mhp_tf

    ref = helpers.random_xs_model()
    fast = mhp_tf.build_model("xs", input_size=64, initializer="torch_default",
                              head_before_upsample=True)
    deploy.copy_weights_by_name(ref, fast, "reordering the head")
    image = _test_image(seed=2)
    k = camera.default_intrinsics(240, 320)
    a, b = (PoseEstimator(m, normalization="imagenet", detector=None).estimate(
        image, BOXES, intrinsics=k) for m in (ref, fast))
    for ra, rb in zip(a, b):
        np.testing.assert_allclose(rb.coords, ra.coords, atol=1e-3)
        assert rb.joint_confidence is not None
        np.testing.assert_allclose(rb.joint_confidence, ra.joint_confidence, atol=1e-3)
