"""Self-describing SavedModel export: signatures against the Keras model, the training
pipeline and mhp_tf.postprocess.camera; metadata; loading without mhp_tf; TF-Hub
fine-tuning.

One tiny XS model (64 px input, 8x8x32 heatmap) is exported once per module, with
random weights drawn so that its output depends on the input (see _randomize).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import mhp_tf
from mhp_tf import skeletons
from mhp_tf.data import pipeline
from mhp_tf.export import saved_model as sm
from mhp_tf.postprocess import camera

SIZE = 64
NUM_JOINTS = 18
FOCAL = 210.0
# Float32 graph vs float64 NumPy decoding: poses3d are ~1e3..1e4 mm, so the absolute
# tolerance is dominated by float32 rounding of Z * (u - cx) / f.
POSE3D_ATOL_MM = 0.05
POSE2D_ATOL_PX = 1e-3
# Network outputs computed two ways (a traced/SavedModel graph with fused kernels vs eager
# Keras, and inputs normalised in or outside the graph, one ulp apart) differ by float32
# rounding. The soft-argmax turns logit errors d_i into a coordinate error
#   dc = sum_i p_i (g_i - c) d_i,   so   |dc| <= extent * max|d|,
# where extent is the grid's span along that axis (heatmap_size cells for x, y; depth_bins
# for z): the tolerance must scale with the axis (a fixed 1e-4 failed on z, 32 bins).
# LOGIT_ERR bounds max|d| for these logits (|logit| <= ~17): 6 seeds gave at most 5.6e-5,
# and 2.5e-4 is 15 ppm of the logit range. A decoding mistake (an axis or bin off) moves a
# coordinate by a cell or more, 100x these bounds.
LOGIT_ERR = 2.5e-4
# Root-relative millimetres: two joints' errors, each extent * LOGIT_ERR grid units of
# crop_side / extent mm.
JOINTS_MM_ATOL = 2 * 2000.0 * LOGIT_ERR


def _assert_coords_close(actual, expected, cfg):
    """Network coordinates ``[..., 3]`` equal up to float32 rounding (see LOGIT_ERR)."""
    atol = np.array([cfg.heatmap_size, cfg.heatmap_size, cfg.depth_bins]) * LOGIT_ERR
    err = np.abs(np.asarray(actual, np.float64) - np.asarray(expected, np.float64))
    worst = err.reshape(-1, 3).max(0)
    assert np.all(worst <= atol), (
        f"coordinate error per axis (x, y, z) {worst} exceeds the float32 bound {atol}")


def _randomize(model, rng):
    """He-normal kernels, batch-norm statistics of random crops, a head giving logits of
    order 1: the output then depends on the crop (the reference initialisation makes it
    nearly constant, which would make parity checks vacuous) while float32 rounding of
    the input moves it by ~1e-5 units only (raw He weights without the statistics give
    a chaotic network that turns one-ulp input differences into 1e-3)."""
    for v in model.trainable_variables:
        if "kernel" in v.name:
            shape = v.shape.as_list()
            fan_in = np.prod(shape[:2]) if "depthwise" in v.name else np.prod(shape[:-1])
            std = np.sqrt(2.0 / fan_in) * (0.2 if v.name.startswith("head_conv") else 1.0)
            v.assign(rng.normal(0.0, std, shape).astype(np.float32))
    bns = [layer for layer in model.layers
           if isinstance(layer, tf.keras.layers.BatchNormalization)]
    for layer in bns:
        layer.momentum = 0.0  # moving statistics := this batch's statistics
    model(_normalize(rng.integers(0, 256, (8, SIZE, SIZE, 3))), training=True)
    for layer in bns:
        layer.momentum = 0.9


def _normalize(crops, normalization="reference"):
    return pipeline.normalize(tf.cast(crops, tf.float32), normalization).numpy()


def _test_image(height=150, width=200):
    """A textured RGB image, and the same pixels as a 4:4:4 JPEG for the pipeline."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:height, :width]
    img = np.stack([(xx * 1.3 + 40 * np.sin(yy / 7.0)) % 256,
                    (yy * 1.7 + 30 * np.cos(xx / 5.0)) % 256, (xx + yy) % 256], -1)
    img = np.clip(img + rng.integers(0, 40, img.shape), 0, 255).astype(np.uint8)
    jpeg = tf.io.encode_jpeg(img, quality=100, chroma_downsampling=False)
    return tf.io.decode_jpeg(jpeg).numpy(), jpeg.numpy()


# Inside, partly left of, and partly right of / below the 200x150 image.
BOXES = np.array([[30, 20, 50, 90], [-10, 60, 70, 40], [150, 100, 80, 80]], np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tf.keras.utils.set_random_seed(0)
    model = mhp_tf.build_model("xs", input_size=SIZE, num_joints=NUM_JOINTS)
    _randomize(model, np.random.default_rng(0))
    head = model.get_layer("head_conv")
    model.add_loss(lambda: 1e-3 * tf.reduce_sum(tf.square(head.kernel)))
    path = str(tmp_path_factory.mktemp("export") / "saved_model")
    sm.export_saved_model(model, path, normalization="reference", skeleton="h36m")
    return model, path, tf.saved_model.load(path)


def _pipeline_reference(model, jpeg, box):
    """Crop and network output exactly as the evaluation input pipeline makes them."""
    cfg = pipeline.PipelineConfig.for_model(model.mhp_config, normalization="reference")
    j = NUM_JOINTS
    record = {"bbox": box, "joints_img": np.zeros((j, 2), np.float32),
              "joints_cam": np.zeros((j, 3), np.float32), "joints_vis": np.zeros(j, np.float32),
              "have_depth": np.float32(1), "focal": np.ones(2, np.float32),
              "principal_point": np.zeros(2, np.float32), "root_cam": np.zeros(3, np.float32)}
    ex = pipeline.preprocess_example(pipeline.example_from_numpy(jpeg, record),
                                     pipeline.seed_tensor(0), cfg, False, "h36m")
    return ex["image"].numpy(), ex["bbox"].numpy()


def test_metadata(exported):
    model, _, loaded = exported
    sk = skeletons.get_skeleton("h36m")
    assert [n.decode() for n in loaded.joint_names.numpy()] == list(sk.joints)
    np.testing.assert_array_equal(loaded.joint_edges.numpy(), np.array(sk.bones))
    assert loaded.joint_edges.dtype == tf.int32
    assert loaded.skeleton.numpy() == b"h36m"
    assert int(loaded.root_index.numpy()) == sk.root
    assert int(loaded.num_joints.numpy()) == NUM_JOINTS
    cfg = model.mhp_config
    assert int(loaded.input_size.numpy()) == SIZE
    assert int(loaded.heatmap_size.numpy()) == cfg.heatmap_size
    assert int(loaded.depth_bins.numpy()) == cfg.depth_bins
    assert float(loaded.depth_range_mm.numpy()) == 2000.0
    assert float(loaded.crop_side_mm.numpy()) == 2000.0
    assert float(loaded.fov_degrees.numpy()) == 55.0
    assert float(loaded.bbox_scale.numpy()) == 1.25
    assert loaded.normalization.numpy() == b"reference"
    assert json.loads(loaded.model_config.numpy()) == cfg.to_dict()
    assert sorted(loaded.signatures) == ["crop_images", "estimate_poses", "serving_default"]
    est = loaded.signatures["estimate_poses"]
    assert {k: (v.dtype, v.shape.as_list()) for k, v in est.structured_input_signature[1].items()} \
        == {"image": (tf.uint8, [None, None, 3]), "boxes": (tf.float32, [None, 4]),
            "intrinsics": (tf.float32, [3, 3]), "root_depth": (tf.float32, [None])}
    assert set(est.structured_outputs) == {"poses3d", "poses2d", "boxes", "root_depth", "coords"}


def test_serving_default_matches_keras(exported):
    model, _, loaded = exported
    crops = np.random.default_rng(2).integers(0, 256, (3, SIZE, SIZE, 3), dtype=np.uint8)
    out = loaded.signatures["serving_default"](images=tf.constant(crops))
    expected = model(_normalize(crops), training=False).numpy()
    assert np.ptp(expected, 0).max() > 0.5  # the output really depends on the crop
    cfg = model.mhp_config
    _assert_coords_close(out["coords"].numpy(), expected, cfg)

    rel = expected - expected[:, :1]  # h36m root is joint 0
    joints_mm = out["joints_mm"].numpy()
    np.testing.assert_allclose(joints_mm[:, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(joints_mm[..., 2], rel[..., 2] / cfg.depth_bins * 2000.0,
                               atol=JOINTS_MM_ATOL)
    np.testing.assert_allclose(joints_mm[..., :2], rel[..., :2] / cfg.heatmap_size * 2000.0,
                               atol=JOINTS_MM_ATOL)
    # The reusable-SavedModel call (float RGB in [0, 1]) is the same network.
    _assert_coords_close(loaded(tf.constant(crops / 255.0, tf.float32)).numpy(), expected, cfg)


def test_crop_images_match_training_pipeline(exported):
    model, _, loaded = exported
    image, jpeg = _test_image()
    out = loaded.crop_images(image, BOXES)
    for i, box in enumerate(BOXES):
        patch, crop_box = _pipeline_reference(model, jpeg, box)
        np.testing.assert_array_equal(_normalize(out["crops"][i]), patch)  # bit-exact
        np.testing.assert_allclose(out["boxes"][i].numpy(), crop_box, atol=1e-4)
    np.testing.assert_allclose(out["boxes"].numpy(),
                               camera.process_boxes(BOXES, 200, 150)[0], atol=1e-4)


def test_estimate_poses_matches_numpy_path(exported):
    model, _, loaded = exported
    image, jpeg = _test_image()
    k = np.array([[FOCAL, 0, 95.0], [0, FOCAL * 1.1, 80.0], [0, 0, 1]], np.float32)
    root_depth = np.array([3000.0, 4500.0, 6000.0], np.float32)
    out = loaded.estimate_poses(image, BOXES, intrinsics=k, root_depth=root_depth)
    cfg = model.mhp_config
    patches, crop_boxes = zip(*(_pipeline_reference(model, jpeg, b) for b in BOXES))
    # The crops are bit-identical (test above).
    _assert_coords_close(out["coords"].numpy(),
                         model(np.stack(patches), training=False).numpy(), cfg)
    # Decoding: TF float32 in the SavedModel vs NumPy float64, on the same coords.
    coords = out["coords"].numpy()
    expected3d = camera.crop_joints_to_camera(coords, np.stack(crop_boxes), k, root_depth,
                                              cfg.heatmap_size, cfg.depth_bins, 2000.0)
    np.testing.assert_allclose(out["poses3d"].numpy(), expected3d, atol=POSE3D_ATOL_MM, rtol=0)
    expected2d = camera.crop_joints_to_image(coords, np.stack(crop_boxes), cfg.heatmap_size)
    np.testing.assert_allclose(out["poses2d"].numpy(), expected2d, atol=POSE2D_ATOL_PX, rtol=0)
    np.testing.assert_allclose(out["root_depth"].numpy(), root_depth)


def test_estimate_poses_defaults(exported):
    model, _, loaded = exported
    image, _ = _test_image()
    cfg = model.mhp_config
    out = loaded.estimate_poses(image, BOXES)
    k = camera.default_intrinsics(150, 200, 55.0)
    crop_boxes = camera.process_boxes(BOXES, 200, 150)[0]
    prior = camera.root_depth_prior(crop_boxes, k)
    np.testing.assert_allclose(out["root_depth"].numpy(), prior, rtol=1e-5)
    expected = camera.crop_joints_to_camera(out["coords"].numpy(), crop_boxes, k, prior,
                                            cfg.heatmap_size, cfg.depth_bins, 2000.0)
    np.testing.assert_allclose(out["poses3d"].numpy(), expected, atol=POSE3D_ATOL_MM, rtol=0)
    # Signature callers pass the sentinels: all-zero intrinsics, empty root_depth.
    sig = loaded.signatures["estimate_poses"](
        image=tf.constant(image), boxes=tf.constant(BOXES), intrinsics=tf.zeros([3, 3]),
        root_depth=tf.zeros([0]))
    np.testing.assert_allclose(sig["poses3d"].numpy(), out["poses3d"].numpy(), atol=1e-3)
    # z of serving_default's joints_mm is the exact root-relative depth of poses3d.
    crops = loaded.crop_images(image, BOXES)["crops"]
    joints_mm = loaded.signatures["serving_default"](images=crops)["joints_mm"].numpy()
    p3 = out["poses3d"].numpy()
    np.testing.assert_allclose(joints_mm[..., 2], p3[..., 2] - p3[:, :1, 2], atol=0.05)


def test_estimate_poses_without_boxes(exported):
    _, _, loaded = exported
    image, _ = _test_image()
    out = loaded.estimate_poses(image, np.zeros((0, 4), np.float32))
    assert out["poses3d"].shape == (0, NUM_JOINTS, 3)
    assert out["poses2d"].shape == (0, NUM_JOINTS, 2)
    assert out["boxes"].shape == (0, 4)


BAD_INPUTS = [
    (dict(boxes=[[10, 10, 0, 20]]), "positive width and height"),
    (dict(boxes=[[10, 10, np.nan, 20]]), "must be finite"),
    (dict(boxes=[[500, 10, 20, 20]]), "entirely outside the image"),
    (dict(intrinsics=[[100, 1, 50], [0, 100, 50], [0, 0, 1]]), "skew"),
    (dict(intrinsics=[[-100, 0, 50], [0, 100, 50], [0, 0, 1]]), "focal lengths"),
    (dict(intrinsics=[[100, 0, 50], [0, 100, 50], [0, 0, 2]]), "last row"),
    (dict(root_depth=[3000.0, 3000.0]), "one value per box"),
    (dict(root_depth=[-5.0]), "positive and finite"),
]


def test_estimate_poses_bad_inputs(exported):
    # One test, not parametrized: conftest's clear_session() between tests makes every
    # test pay ~2 s to re-instantiate the restored function.
    _, _, loaded = exported
    image, _ = _test_image()
    for kwargs, message in BAD_INPUTS:
        args = {k: np.asarray(v, np.float32) for k, v in
                {"boxes": [[30, 20, 50, 90]], **kwargs}.items()}
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            loaded.estimate_poses(image, **args)
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-empty"):
        loaded.estimate_poses(np.zeros((0, 5, 3), np.uint8), np.zeros((0, 4), np.float32))
    # A box array of the wrong shape does not match the signature.
    with pytest.raises((TypeError, ValueError), match="4"):
        loaded.estimate_poses(image, np.zeros((2, 5), np.float32))


def test_heatmap_head_model_decodes_in_graph(exported):
    coords_model = exported[0]
    heat_model = mhp_tf.build_model("xs", input_size=SIZE, num_joints=NUM_JOINTS,
                                    head="heatmap")
    heat_model.set_weights(coords_model.get_weights())
    module = sm.PoseEstimatorModule(heat_model, "imagenet", "h36m")
    crops = np.random.default_rng(4).integers(0, 256, (2, SIZE, SIZE, 3), dtype=np.uint8)
    expected = coords_model(_normalize(crops, "imagenet"), training=False).numpy()
    # The module's Python function (eager): no tracing needed for this check.
    _assert_coords_close(module._serve(crops)["coords"].numpy(), expected,
                         coords_model.mhp_config)


def test_export_rejects_bad_settings(exported):
    model = exported[0]
    with pytest.raises(ValueError, match="21 joints"):
        sm.PoseEstimatorModule(model, "reference", "muco")
    with pytest.raises(ValueError, match="normalization"):
        sm.PoseEstimatorModule(model, "bgr", "h36m")
    with pytest.raises(ValueError, match="fov_degrees"):
        sm.PoseEstimatorModule(model, "reference", "h36m", fov_degrees=180.0)
    with pytest.raises(ValueError, match="MobileHumanPose"):
        sm.PoseEstimatorModule(tf.keras.Sequential([tf.keras.layers.Dense(1)]), "none",
                               "h36m")


def test_export_run_reads_config(tmp_path, monkeypatch):
    from mhp_tf.training.config import make_config

    cfg = make_config("xs", 21, {"model.input_size": "64", "data.normalization": "imagenet",
                                 "data.skeleton": "muco"})
    cfg.save(str(tmp_path))
    (tmp_path / "model.keras").write_bytes(b"")
    loaded_paths, calls = [], []
    stub = object()
    monkeypatch.setattr(tf.keras.models, "load_model",
                        lambda p: loaded_paths.append(p) or stub)
    monkeypatch.setattr(sm, "export_saved_model",
                        lambda model, d, **kw: calls.append((model, d, kw)) or d)
    assert sm.export_run(str(tmp_path), fov_degrees=60.0) == str(tmp_path / "saved_model")
    assert loaded_paths == [str(tmp_path / "model.keras")]
    assert calls == [(stub, str(tmp_path / "saved_model"), dict(
        normalization="imagenet", skeleton="muco", depth_range_mm=2000.0, bbox_scale=1.25,
        fov_degrees=60.0))]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sm.export_run(str(tmp_path), model_path=str(tmp_path / "missing.keras"))


def test_loads_in_fresh_process_without_mhp_tf(exported, tmp_path):
    _, path, loaded = exported
    image, _ = _test_image()
    crops = loaded.crop_images(image, BOXES)["crops"]
    np.save(tmp_path / "image.npy", image)
    np.save(tmp_path / "crops.npy", crops.numpy())
    script = textwrap.dedent(f"""
        import json, sys
        sys.modules["mhp_tf"] = None  # any import of mhp_tf would now fail
        import numpy as np
        import tensorflow as tf
        m = tf.saved_model.load({path!r})
        image = np.load({str(tmp_path / "image.npy")!r})
        out = m.estimate_poses(image, np.array({BOXES.tolist()!r}, np.float32))
        crops = tf.constant(np.load({str(tmp_path / "crops.npy")!r}))
        serve = m.signatures["serving_default"](images=crops)
        print(json.dumps({{"poses3d": out["poses3d"].numpy().tolist(),
                          "coords": serve["coords"].numpy().tolist(),
                          "joints": [n.decode() for n in m.joint_names.numpy()],
                          "mhp_tf_loaded": any(k.startswith("mhp_tf") and sys.modules[k]
                                               for k in sys.modules)}}))
    """)
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not result["mhp_tf_loaded"]
    assert result["joints"] == list(skeletons.get_skeleton("h36m").joints)
    expected = loaded.estimate_poses(image, BOXES)
    np.testing.assert_allclose(result["poses3d"], expected["poses3d"].numpy(), atol=1e-3)
    np.testing.assert_allclose(result["coords"], expected["coords"].numpy(), atol=1e-5)


def test_hub_keras_layer_fine_tuning(exported):
    hub = pytest.importorskip(
        "tensorflow_hub", reason="needs tensorflow-hub==0.16.1 (dev extra), which imports "
        "pkg_resources: setuptools<82")
    model, path, _ = exported
    layer = hub.KerasLayer(path, trainable=True)
    assert len(layer.trainable_weights) == len(model.trainable_weights)
    assert len(layer.weights) == len(model.weights)
    inputs = tf.keras.Input((SIZE, SIZE, 3))
    net = tf.keras.Model(inputs, layer(inputs))
    assert len(net.losses) == 1  # the exported regularisation loss
    np.testing.assert_allclose(net.losses[0].numpy(), model.losses[0].numpy(), rtol=1e-6)

    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (4, SIZE, SIZE, 3)).astype(np.float32)
    y = rng.uniform(0, 8, (4, NUM_JOINTS, 3)).astype(np.float32)
    before = net(x, training=False).numpy()
    _assert_coords_close(before, model(_normalize(x * 255.0), training=False).numpy(),
                         model.mhp_config)
    net.compile(optimizer=tf.keras.optimizers.SGD(0.01), loss="mae")
    net.train_on_batch(x, y)
    after = net(x, training=False).numpy()
    assert np.abs(after - before).max() > 1e-3
