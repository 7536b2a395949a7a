"""The synthetic dataset (mhp_tf_datasets.synthetic): build, labels, determinism, splits,
occlusion/depth cues, procedural poses and the mocap readers."""

import io
import json
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from mhp_tf import skeletons
from mhp_tf.data import schema
from mhp_tf_datasets.synthetic import generate
from mhp_tf_datasets.synthetic import mocap
from mhp_tf_datasets.synthetic import pose
from mhp_tf_datasets.synthetic import raster
from mhp_tf_datasets.synthetic import render
from mhp_tf_datasets.synthetic import scene
from mhp_tf_datasets.synthetic.body import sample_body

LABEL_KEYS = ("bbox", "joints_img", "joints_cam", "joints_vis", "have_depth", "focal",
              "principal_point", "root_cam")


def _examples(split="train", n=8, seed=0, size=128, start=0):
    config = generate.GeneratorConfig(image_size=size, seed=seed, mocap=False)
    return [ex for _, ex in generate.generate_examples(split, n, config, start=start)]


def _standing_pose(body, yaw_deg=0.0):
    angles = np.zeros(len(pose.ANGLES))
    angles[pose.A["root_yaw"]] = yaw_deg
    angles[pose.A["l_shoulder_abd"]] = angles[pose.A["r_shoulder_abd"]] = 10.0
    return pose.place_on_ground(pose.forward_kinematics(angles, body))


def _front_camera(points_world, distance, focal, size=160):
    """Camera on the +x axis (the rest pose faces +x) at pelvis height, looking at it."""
    pelvis = points_world[pose.P["Pelvis"]]
    R, t = scene.look_at(pelvis + np.array([distance, 0.0, 0.0]), pelvis)
    c = (size - 1) / 2
    return scene.Camera(focal, focal, c, c, size, size, R, t)


# ----------------------------------------------------------------------------- tfds build


def test_tiny_config_builds_and_round_trips(tmp_path):
    import tensorflow_datasets as tfds

    from mhp_tf_datasets.synthetic import Synthetic

    builder = Synthetic(config="tiny", data_dir=str(tmp_path))
    builder.download_and_prepare()
    cfg = builder.builder_config
    assert builder.info.splits["train"].num_examples == cfg.num_train == 12
    assert builder.info.splits["test"].num_examples == cfg.num_test == 6
    assert builder.info.metadata["skeleton"] == "h36m"

    gen_config = cfg.generator_config()
    for split, n in (("train", cfg.num_train), ("test", cfg.num_test)):
        expected = {ex["joints_cam"].tobytes(): ex
                    for _, ex in generate.generate_examples(split, n, gen_config)}
        stored = list(builder.as_dataset(split=split).as_numpy_iterator())
        raw = {ex["joints_cam"].tobytes(): ex["image"] for ex in builder.as_dataset(
            split=split, decoders={"image": tfds.decode.SkipDecoding()}).as_numpy_iterator()}
        assert len(stored) == n
        for ex in stored:
            ref = expected.pop(ex["joints_cam"].tobytes())
            assert ex["image"].shape == (cfg.image_size, cfg.image_size, 3)
            # The stored file is exactly our JPEG of the rendered image, and decodes near it.
            assert raw[ex["joints_cam"].tobytes()] == generate.encode_jpeg(ref["image"],
                                                                           cfg.jpeg_quality)
            assert np.abs(ex["image"].astype(float) - ref["image"]).mean() < 10.0
            for key in LABEL_KEYS:
                np.testing.assert_array_equal(ex[key], np.asarray(ref[key], np.float32), key)
                assert ex[key].dtype == np.float32
            assert ex["sequence"].decode() == ref["sequence"]
            assert (ex["frame"], ex["subject"], ex["action"]) == (
                ref["frame"], ref["subject"], -1)
            assert ex["have_depth"] == 1.0
        assert not expected  # every example came back once


def test_parallel_rendering_after_opencv_threads_ran():
    """Forking render workers after OpenCV's thread pool has run (any earlier parallel cv2
    call in the process, e.g. another test's warps) must not deadlock the workers. Run in
    a fresh interpreter so a regression fails on the timeout instead of hanging the suite."""
    script = (
        "import cv2, numpy as np\n"
        "cv2.setNumThreads(2)\n"
        "img = np.random.default_rng(0).integers(0, 255, (1500, 1500, 3), np.uint8)\n"
        "for _ in range(5):\n"
        "    cv2.warpAffine(img, np.array([[0.9, 0.1, 3], [-0.1, 0.9, 5]]), (1400, 1400))\n"
        "from mhp_tf_datasets.synthetic import generate\n"
        "config = generate.GeneratorConfig(image_size=64, mocap=False)\n"
        "out = list(generate.render_encoded(config, 'train', range(24), num_workers=2))\n"
        "print(len(out), cv2.getNumThreads())\n")
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=240)
    except subprocess.TimeoutExpired:
        pytest.fail("render workers forked after OpenCV's thread pool ran hung")
    assert done.returncode == 0, done.stderr[-2000:]
    # All 24 examples, and the parent's OpenCV thread count is restored afterwards.
    assert done.stdout.split() == ["24", "2"]


@pytest.mark.skipif(generate.blas_threads() is None, reason="NumPy links no OpenBLAS here")
def test_render_workers_inherit_one_blas_thread():
    """Each render worker is one process per core; its BLAS must not start a thread per
    core too (on 2 cores that halved the realistic build's speed). Workers are forked
    under fork_settings, which sets this process's BLAS to one thread for the fork only;
    the children read it through function pointers resolved here (no dlopen after fork)."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    before = generate.blas_threads()
    with generate.fork_settings():
        pool = ctx.Pool(1)
    with pool:
        assert pool.apply(generate.blas_threads) == 1
    assert generate.blas_threads() == before          # restored here
    if before > 1:
        with ctx.Pool(1) as plain:                    # without it the child would have more
            assert plain.apply(generate.blas_threads) == before


def test_parallel_rendering_gives_the_same_examples_in_order():
    config = generate.GeneratorConfig(image_size=64, mocap=False)
    indices = list(range(3, 27))
    serial = list(generate.render_encoded(config, "train", indices, num_workers=1))
    parallel = list(generate.render_encoded(config, "train", indices, num_workers=2))
    assert [i for i, _, _ in parallel] == indices
    for (i, a, shape_a), (j, b, shape_b) in zip(serial, parallel):
        assert i == j and shape_a == shape_b == (64, 64)
        assert a["image"] == b["image"]  # identical JPEG bytes
        for key in LABEL_KEYS:
            np.testing.assert_array_equal(a[key], b[key])
        assert (a["sequence"], a["frame"], a["subject"]) == (b["sequence"], b["frame"],
                                                              b["subject"])
    # ... and they are the plain generator's examples.
    ref = _examples(n=1, size=64, start=indices[-1])[0]
    assert parallel[-1][1]["image"] == generate.encode_jpeg(ref["image"])
    with pytest.raises(ValueError, match="num_workers"):
        next(generate.render_encoded(config, "train", indices, num_workers=0))


# ----------------------------------------------------------------------------- labels


def test_3d_labels_project_to_2d_labels():
    for ex in _examples(n=10) + _examples("test", n=4):
        schema.validate_example(dict(ex, image=None), 18, ex["image"].shape[:2])
        X = ex["joints_cam"].astype(np.float64)
        fx, fy = ex["focal"].astype(np.float64)
        cx, cy = ex["principal_point"].astype(np.float64)
        u = fx * X[:, 0] / X[:, 2] + cx
        v = fy * X[:, 1] / X[:, 2] + cy
        np.testing.assert_allclose(ex["joints_img"], np.stack([u, v], 1), atol=1e-3)
        np.testing.assert_array_equal(ex["root_cam"], ex["joints_cam"][0])
        assert np.all(X[:, 2] > 1000) and 1500 < X[0, 2] < 8500  # metres 2-8 from camera
        h, w = ex["image"].shape[:2]
        inside = (u >= 0) & (u <= w - 1) & (v >= 0) & (v <= h - 1)
        np.testing.assert_array_equal(ex["joints_vis"], inside.astype(np.float32))
        assert inside.sum() >= 15
        x0, y0, bw, bh = ex["bbox"]
        assert x0 >= -0.5 and y0 >= -0.5 and x0 + bw <= w - 0.5 + 1e-3 and y0 + bh <= h - 0.5 + 1e-3
        assert np.all((u[inside] >= x0) & (u[inside] <= x0 + bw))
        assert np.all((v[inside] >= y0) & (v[inside] <= y0 + bh))
        # Bone lengths are human (mm).
        bones = pose.h36m_bone_lengths(X)
        assert np.all(bones > 50) and np.all(bones < 600)


def test_render_example_with_intrinsics_only_and_18_joints():
    body = sample_body(3)
    pts = _standing_pose(body, yaw_deg=180)
    cam = _front_camera(pts, 4.0, 300.0)
    pose_cam_mm = cam.world_to_camera(pts)[:18] * 1000.0
    bare = scene.Camera(cam.fx, cam.fy, cam.cx, cam.cy, cam.width, cam.height)
    ex = render.render_example(pose_cam_mm, bare, body, seed=1, return_buffers=True)
    assert ex["image"].shape == (160, 160, 3) and ex["image"].dtype == np.uint8
    assert ex["joints_cam"].shape == (18, 3) and ex["joints_vis"].sum() == 18
    assert ex["person_mask"].sum() > 200
    # Seen from behind: the person's right is on the image right, the nose farther than
    # the neck and the face hidden. Turned to face the camera: the other way round (labels
    # are not mirrored, and the rendered face is on the side of the Nose joint).
    for yaw, from_behind in ((180, True), (0, False)):
        pts = _standing_pose(body, yaw_deg=yaw)
        jc = cam.world_to_camera(pts)
        uv = cam.project(jc)
        assert (uv[pose.P["R_Hip"], 0] > uv[pose.P["L_Hip"], 0]) == from_behind
        assert (jc[pose.P["Nose"], 2] > jc[pose.P["Neck"], 2]) == from_behind
        ex = render.render_example(jc * 1000, cam, body, seed=1, background=False,
                                   ground=False, occluders=0, objects_behind=0,
                                   return_buffers=True)
        nose_visible = np.any(ex["part"] == render.PART["nose"])
        assert nose_visible != from_behind
    with pytest.raises(ValueError, match="pose must be"):
        render.render_example(np.zeros((17, 3)), bare, body, seed=1)


# ----------------------------------------------------------------------------- determinism


def test_same_seed_is_byte_identical_and_seeds_differ():
    a = _examples(n=4, seed=5, size=96)
    b = _examples(n=4, seed=5, size=96)
    for ea, eb in zip(a, b):
        assert generate.encode_jpeg(ea["image"]) == generate.encode_jpeg(eb["image"])
        for key in LABEL_KEYS:
            assert np.asarray(ea[key]).tobytes() == np.asarray(eb[key]).tobytes()
        assert (ea["sequence"], ea["frame"], ea["subject"]) == (
            eb["sequence"], eb["frame"], eb["subject"])
    # An example does not depend on the ones generated before it.
    alone = _examples(n=1, seed=5, size=96, start=3)[0]
    assert alone["image"].tobytes() == a[3]["image"].tobytes()
    c = _examples(n=4, seed=6, size=96)
    for ea, ec in zip(a, c):
        assert ea["image"].tobytes() != ec["image"].tobytes()
        assert not np.array_equal(ea["joints_cam"], ec["joints_cam"])


# ----------------------------------------------------------------------------- splits


def test_train_and_test_share_no_clip_and_no_body():
    config = generate.GeneratorConfig(image_size=64, mocap=False)
    seqs, subjects = {}, {}
    for split in ("train", "test"):
        gen = generate.ExampleGenerator(config, split)
        rows = [gen.pose(i, np.random.default_rng([0, i])) for i in range(40)]
        seqs[split] = {r[0] for r in rows}
        subjects[split] = {r[2].body_id for r in rows}
        assert all(s.startswith(f"proc_{split}_") for s in seqs[split])
    assert not seqs["train"] & seqs["test"]
    assert not subjects["train"] & subjects["test"]
    # Mocap clips are split by clip name (never by frame).
    names = ["deepmimic_walk", "deepmimic_kick", "deepmimic_run", "climb_seq_0", "climb_seq_4"]
    train, test = mocap.split_clips(names, "train"), mocap.split_clips(names, "test")
    assert set(train) | set(test) == set(names) and not set(train) & set(test)
    assert set(test) == {"deepmimic_kick", "climb_seq_4"}


# ----------------------------------------------------------------------------- depth cues


def test_ray_casting_matches_brute_force_inside_test():
    rng = np.random.default_rng(0)
    a, b = np.array([0.1, -0.2, 3.0]), np.array([-0.2, 0.3, 3.4])
    ra, rb = 0.15, 0.06
    target = 0.5 * (a + b) + rng.normal(0, 0.2, (60, 3))
    rd = target / np.linalg.norm(target, axis=1, keepdims=True)
    t, n = raster.intersect_round_cone(rd, a, b, ra, rb)
    s = np.linspace(0, 1, 300)
    centres = a + s[:, None] * (b - a)
    radii = ra + s * (rb - ra)
    ts = np.linspace(2.0, 4.5, 2500)
    for i in range(len(rd)):
        p = rd[i] * ts[:, None]
        inside = (np.linalg.norm(p[:, None] - centres[None], axis=-1) <= radii).any(1)
        first = ts[inside.argmax()] if inside.any() else np.inf
        if np.isfinite(first) or np.isfinite(t[i]):
            assert abs(first - t[i]) < 2e-3, (i, first, t[i])


def test_nearer_limb_occludes_farther_one_at_the_crossing():
    ras_args = (200.0, 200.0, 49.5, 49.5, 100, 100)
    red, blue = raster.solid([1, 0, 0]), raster.solid([0, 0, 1])
    for near_is_a in (True, False):
        za, zb = (3.0, 3.3) if near_is_a else (3.3, 3.0)
        ras = raster.Raster(*ras_args)
        # Two capsules crossing in an X through the optical axis, at different depths.
        prims = [raster.cone([-0.4, -0.4, za], [0.4, 0.4, za], 0.05, 0.05, red, 1),
                 raster.cone([-0.4, 0.4, zb], [0.4, -0.4, zb], 0.05, 0.05, blue, 2)]
        for order in (prims, prims[::-1]):  # the z-buffer makes drawing order irrelevant
            ras = raster.Raster(*ras_args)
            for p in order:
                ras.draw(p)
            centre = ras.part[49:51, 49:51]
            assert np.all(centre == (1 if near_is_a else 2))
            assert abs(ras.depth[49, 49] - (min(za, zb) - 0.05)) < 0.01

    # The same through the body renderer: a forearm held in front of the chest hides the chest
    # at the wrist's pixel; held behind the back, the chest hides it.
    body = sample_body(1)
    pts = _standing_pose(body)
    cam = _front_camera(pts, 3.0, 400.0, size=200)
    for x_offset, expect_arm in ((0.25, True), (-0.25, False)):
        p = pts.copy()
        chest = 0.5 * (p[pose.P["Torso"]] + p[pose.P["Neck"]])
        p[pose.P["R_Elbow"]] = chest + np.array([x_offset, -0.25, -0.05])
        p[pose.P["R_Wrist"]] = chest + np.array([x_offset, 0.02, 0.0])
        ex = render.render_example(cam.world_to_camera(p) * 1000, cam, body, seed=0,
                                   background=False, ground=False, occluders=0,
                                   objects_behind=0, return_buffers=True)
        u, v = np.rint(ex["joints_img"][pose.P["R_Wrist"]]).astype(int)
        part = ex["part"][v, u]
        arm_parts = {render.PART["R_forearm"], render.PART["R_hand"]}
        assert (part in arm_parts) == expect_arm, (x_offset, render.PART_NAMES[part])
        if not expect_arm:
            assert render.PART_NAMES[part] in ("chest", "hips")


def test_person_size_in_pixels_falls_with_distance():
    body = sample_body(2)
    pts = _standing_pose(body, yaw_deg=30)
    sizes = {}
    for d in (3.0, 6.0):
        cam = _front_camera(pts, d, 250.0, size=256)
        ex = render.render_example(cam.world_to_camera(pts) * 1000, cam, body, seed=0,
                                   background=False, ground=False, occluders=0,
                                   objects_behind=0, return_buffers=True)
        sizes[d] = (ex["bbox"][3], ex["person_mask"].sum())
    height_ratio = sizes[3.0][0] / sizes[6.0][0]
    area_ratio = sizes[3.0][1] / sizes[6.0][1]
    assert 1.8 < height_ratio < 2.2, height_ratio
    assert 3.3 < area_ratio < 4.7, area_ratio


def test_pixel_colours_do_not_encode_depth():
    """Doubling the distance and the focal length leaves the person's picture (nearly) the
    same: colours come from clothes and light only, so depth must be read from geometry
    (size given the focal length, occlusion, shading), not from a colour code."""
    body = sample_body(4)
    pts = _standing_pose(body, yaw_deg=-40)
    out = []
    for d, f in ((3.0, 300.0), (6.0, 600.0)):
        cam = _front_camera(pts, d, f, size=200)
        ex = render.render_example(cam.world_to_camera(pts) * 1000, cam, body, seed=3,
                                   background=False, ground=False, occluders=0,
                                   objects_behind=0, post=False, return_buffers=True)
        out.append(ex)
    m0, m1 = out[0]["person_mask"], out[1]["person_mask"]
    iou = (m0 & m1).sum() / (m0 | m1).sum()
    assert iou > 0.85, iou
    both = m0 & m1
    mean0 = out[0]["image"][both].astype(float).mean(0)
    mean1 = out[1]["image"][both].astype(float).mean(0)
    np.testing.assert_allclose(mean0, mean1, atol=3.0)
    assert out[1]["root_cam"][2] == pytest.approx(2 * out[0]["root_cam"][2], rel=1e-5)


# ----------------------------------------------------------------------------- poses


def test_procedural_poses_respect_limits_and_keep_bone_lengths():
    rng = np.random.default_rng(0)
    for clip in range(12):
        body = sample_body(clip)
        points, angles = pose.sample_clip(rng, body, num_frames=32)
        assert points.shape == (32, 20, 3)
        assert np.all(angles >= pose.LOWER - 1e-9) and np.all(angles <= pose.UPPER + 1e-9)
        bones = pose.h36m_bone_lengths(points)
        assert np.all(bones.std(0) < 1e-9), bones.std(0).max()
        bone_index = {b: i for i, b in enumerate(skeletons.H36M.bones)}
        np.testing.assert_allclose(bones[:, bone_index[(1, 2)]], body.lengths["thigh"])
        np.testing.assert_allclose(bones[:, bone_index[(5, 6)]], body.lengths["shin"])
        np.testing.assert_allclose(bones[:, bone_index[(12, 13)]], body.lengths["forearm"])
        for side in ("L", "R"):
            knee = pose.joint_angle(points, f"{side}_Hip", f"{side}_Knee", f"{side}_Ankle")
            elbow = pose.joint_angle(points, f"{side}_Shoulder", f"{side}_Elbow",
                                     f"{side}_Wrist")
            assert np.all(knee <= 140 + 1e-6) and np.all(elbow <= 145 + 1e-6)
        assert not pose.self_collision(points).any()
        # Standing on the ground: lowest body surface at z = 0.
        np.testing.assert_allclose(np.min(points[..., 2] - pose.CLEARANCE, -1), 0, atol=1e-9)
    # Bending directions: knees bend backwards, elbows and hips forwards (the body faces +x).
    body = sample_body(0)

    def moved(name, value, joint, parent):
        a = np.zeros(len(pose.ANGLES))
        a[pose.A[name]] = value
        p = pose.forward_kinematics(a, body)
        return p[pose.P[joint]] - p[pose.P[parent]]
    assert moved("r_knee", 90, "R_Ankle", "R_Knee")[0] < -0.4
    assert moved("l_elbow", 90, "L_Wrist", "L_Elbow")[0] > 0.2
    assert moved("r_hip_flex", 90, "R_Knee", "R_Hip")[0] > 0.4
    assert moved("l_shoulder_abd", 90, "L_Elbow", "L_Shoulder")[1] > 0.25  # outwards (+y)
    assert moved("r_shoulder_abd", 90, "R_Elbow", "R_Shoulder")[1] < -0.25


def test_retarget_keeps_directions_and_sets_body_lengths():
    body_a, body_b = sample_body(1), sample_body(2)
    points, _ = pose.sample_clip(np.random.default_rng(1), body_a, num_frames=8)
    out = pose.retarget(points, body_b)
    ref, _ = pose.sample_clip(np.random.default_rng(1), body_b, num_frames=8)
    np.testing.assert_allclose(pose.h36m_bone_lengths(out), pose.h36m_bone_lengths(ref),
                               atol=1e-9)
    for child, parent in pose.PARENTS.items():
        d0 = points[:, pose.P[child]] - points[:, pose.P[parent]]
        d1 = out[:, pose.P[child]] - out[:, pose.P[parent]]
        cos = np.sum(d0 * d1, -1) / np.linalg.norm(d0, axis=-1) / np.linalg.norm(d1, axis=-1)
        assert np.all(cos > 1 - 1e-9)
    mirrored = pose.mirror(points)
    np.testing.assert_allclose(mirrored[:, pose.P["L_Wrist"], 1],
                               -points[:, pose.P["R_Wrist"], 1])


# ----------------------------------------------------------------------------- mocap

_URDF_JOINTS = [  # name, type, parent link, child link, xyz (4x scale, as in pybullet_data)
    ("root", "fixed", "base", "root", "0 0 0"),
    ("chest", "spherical", "root", "chest", "0 0.944604 0"),
    ("neck", "spherical", "chest", "neck", "0 0.895576 0"),
    ("right_hip", "spherical", "root", "right_hip", "0 0 0.339548"),
    ("right_knee", "revolute", "right_hip", "right_knee", "0 -1.686184 0"),
    ("right_ankle", "spherical", "right_knee", "right_ankle", "0 -1.639480 0"),
    ("right_shoulder", "spherical", "chest", "right_shoulder", "-0.0962 0.974 0.73244"),
    ("right_elbow", "revolute", "right_shoulder", "right_elbow", "0 -1.099152 0"),
    ("right_wrist", "fixed", "right_elbow", "right_wrist", "0 -1.035788 0"),
    ("left_hip", "spherical", "root", "left_hip", "0 0 -0.339548"),
    ("left_knee", "revolute", "left_hip", "left_knee", "0 -1.686184 0"),
    ("left_ankle", "spherical", "left_knee", "left_ankle", "0 -1.639480 0"),
    ("left_shoulder", "spherical", "chest", "left_shoulder", "-0.0962 0.974 -0.73244"),
    ("left_elbow", "revolute", "left_shoulder", "left_elbow", "0 -1.099152 0"),
    ("left_wrist", "fixed", "left_elbow", "left_wrist", "0 -1.035788 0"),
]


def _fake_pybullet_wheel(path):
    joints = "".join(
        f'<joint name="{n}" type="{t}"><parent link="{p}"/><child link="{c}"/>'
        f'<origin rpy="0 0 0" xyz="{xyz}"/>'
        + ('<axis xyz="0 0 1"/>' if t == "revolute" else "") + "</joint>\n"
        for n, t, p, c, xyz in _URDF_JOINTS)
    urdf = f'<robot name="dumpUrdf">\n{joints}</robot>\n\x00'
    ident = [1.0, 0.0, 0.0, 0.0]
    # duration, root xyz, root/chest/neck/R hip q, R knee, R ankle/shoulder q, R elbow,
    # L hip q, L knee, L ankle/shoulder q, L elbow: 44 numbers.
    rest = [0.0333, 0.0, 0.9, 0.0] + ident * 4 + [0.0] + ident * 2 + [0.0] + ident + [0.0] \
        + ident * 2 + [0.0]
    turned = list(rest)
    turned[4:8] = [np.cos(np.pi / 4), 0.0, np.sin(np.pi / 4), 0.0]  # root +90 deg about y-up
    bent = list(rest)
    bent[20] = -np.pi / 2  # right knee flexed
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("pybullet_data/humanoid/humanoid.urdf", urdf)
        z.writestr("pybullet_data/data/motions/humanoid3d_walk.txt",
                   json.dumps({"Loop": "wrap", "Frames": [rest, turned, bent]}))
        z.writestr("pybullet_data/data/motions/humanoid3d_kick.txt",
                   json.dumps({"Loop": "none", "Frames": [rest]}))
        z.writestr("pybullet_data/data/motions/README.txt", "not a clip")


_CLIMB_NAMES = ["Hips", "Spine", "Spine1", "Neck", "Head", "LeftShoulder", "LeftArm",
                "LeftForeArm", "LeftHand", "RightShoulder", "RightArm", "RightForeArm",
                "RightHand", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RightUpLeg",
                "RightLeg", "RightFoot", "RightToeBase"]


def _fake_climb_wheel(path):
    rng = np.random.default_rng(0)
    base = {"Hips": (0, 0, 1.0), "Spine": (0, 0, 1.08), "Spine1": (0, 0, 1.3),
            "Neck": (0, 0, 1.55), "Head": (0, 0, 1.68), "LeftShoulder": (0, 0.05, 1.5),
            "LeftArm": (0, 0.18, 1.48), "LeftForeArm": (0, 0.2, 1.2), "LeftHand": (0, 0.21, 0.95),
            "RightShoulder": (0, -0.05, 1.5), "RightArm": (0, -0.18, 1.48),
            "RightForeArm": (0, -0.2, 1.2), "RightHand": (0, -0.21, 0.95),
            "LeftUpLeg": (0, 0.1, 0.95), "LeftLeg": (0, 0.1, 0.52), "LeftFoot": (0, 0.1, 0.08),
            "LeftToeBase": (0.14, 0.1, 0.02), "RightUpLeg": (0, -0.1, 0.95),
            "RightLeg": (0, -0.1, 0.52), "RightFoot": (0, -0.1, 0.08),
            "RightToeBase": (0.14, -0.1, 0.02)}
    frames = np.array([[base[n] for n in _CLIMB_NAMES]] * 4, np.float32)
    frames += rng.normal(0, 0.005, frames.shape).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, frames)
    source = "X = 1\nMOCAP_DEMO_JOINTS = [\n" + "".join(f'    "{n}",\n' for n in _CLIMB_NAMES) \
        + "]\nOTHER = []\n"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("holosoma_retargeting/config_types/data_type.py", source)
        z.writestr("holosoma_retargeting/demo_data/climb/mocap_climb_seq_4/"
                   "mocap_climb_seq_4_joint_positions_f0-3.npy", buf.getvalue())
        z.writestr("holosoma_retargeting/demo_data/climb/mocap_climb_seq_4/box.obj", "v 0 0 0")
    return frames


def test_mocap_parsing_on_fake_wheels(tmp_path):
    cache = str(tmp_path)
    with pytest.raises(mocap.MocapUnavailable, match="pip download --no-deps pybullet==3.2.7"):
        mocap.load_mocap(cache, download=False, sources=("deepmimic",))
    # Without mocap, "auto" falls back to procedural poses and True fails clearly.
    offline = dict(image_size=64, download=False, mocap_cache_dir=cache)
    assert generate.load_clips(generate.GeneratorConfig(mocap="auto", **offline)) is None
    with pytest.raises(mocap.MocapUnavailable):
        generate.load_clips(generate.GeneratorConfig(mocap=True, **offline))
    _fake_pybullet_wheel(tmp_path / "pybullet-3.2.7-cp311-cp311-manylinux_2_17_x86_64.whl")
    frames = _fake_climb_wheel(tmp_path / "holosoma_retargeting-0.1.0-py3-none-any.whl")
    clips = mocap.load_mocap(cache, download=False)
    assert mocap.is_cached(cache)
    assert sorted(clips) == ["climb_seq_4", "deepmimic_kick", "deepmimic_walk"]
    P = pose.P

    walk = clips["deepmimic_walk"].astype(np.float64)
    assert walk.shape == (3, 20, 3)
    rest, turned, bent = walk
    # Y-up -> Z-up, URDF offsets scaled by 1/4, +z (character's right) -> world -y.
    np.testing.assert_allclose(rest[P["Pelvis"]], [0, 0, 0.9], atol=1e-6)
    np.testing.assert_allclose(rest[P["R_Hip"]], [0, -0.084887, 0.9], atol=1e-6)
    np.testing.assert_allclose(rest[P["L_Knee"]], [0, 0.084887, 0.9 - 0.421546], atol=1e-6)
    np.testing.assert_allclose(rest[P["R_Ankle"]][2], 0.9 - 0.421546 - 0.40987, atol=1e-6)
    np.testing.assert_allclose(rest[P["Torso"]], [0, 0, 0.9 + 0.236151], atol=1e-6)
    np.testing.assert_allclose(rest[P["Neck"]], [0, 0, 0.9 + 0.236151 + 0.223894], atol=1e-6)
    np.testing.assert_allclose(rest[P["Thorax"]],
                               0.5 * (rest[P["L_Shoulder"]] + rest[P["R_Shoulder"]]))
    assert rest[P["Head"]][2] > rest[P["Nose"]][2] > rest[P["Neck"]][2]
    assert rest[P["Nose"]][0] > 0 and rest[P["R_Toe"]][0] > 0  # facing +x
    # Root turned 90 degrees about up: the right hip moves from -y to +x.
    np.testing.assert_allclose(turned[P["R_Hip"]], [0.084887, 0, 0.9], atol=1e-6)
    # Knee flexion swings the shin backwards.
    assert bent[P["R_Ankle"]][0] < -0.4 and bent[P["R_Ankle"]][2] == pytest.approx(
        bent[P["R_Knee"]][2], abs=1e-6)

    climb = clips["climb_seq_4"].astype(np.float64)
    assert climb.shape == (4, 20, 3)
    idx = {n: i for i, n in enumerate(_CLIMB_NAMES)}
    for ours, theirs in (("Pelvis", "Hips"), ("Torso", "Spine1"), ("L_Shoulder", "LeftArm"),
                         ("R_Wrist", "RightHand"), ("L_Ankle", "LeftFoot"),
                         ("R_Toe", "RightToeBase"), ("R_Knee", "RightLeg")):
        np.testing.assert_allclose(climb[:, P[ours]], frames[:, idx[theirs]], atol=1e-6)
    assert np.all(climb[:, P["Head"], 2] > frames[:, idx["Head"], 2] + 0.1)
    assert np.all(climb[:, P["Nose"], 0] > frames[:, idx["Head"], 0] + 0.05)  # face forward

    # The cache is used afterwards (wheels no longer needed).
    for name in os.listdir(cache):
        if name.endswith(".whl"):
            os.remove(os.path.join(cache, name))
    assert sorted(mocap.load_mocap(cache, download=False)) == sorted(clips)
    # And it drives the generator: test split = the held-out clips only.
    config = generate.GeneratorConfig(image_size=64, mocap=True, download=False,
                                      procedural_fraction=0.0, mocap_cache_dir=cache)
    exs = [ex for _, ex in generate.generate_examples("test", 3, config)]
    assert {ex["sequence"] for ex in exs} <= {"deepmimic_kick", "climb_seq_4"}


@pytest.mark.skipif(not mocap.is_cached(), reason="real mocap not in the cache "
                    f"({mocap.cache_dir()}); see mhp_tf_datasets/synthetic/mocap.py")
def test_real_mocap_from_cache():
    clips = mocap.load_mocap(download=False)
    deepmimic = [n for n in clips if n.startswith("deepmimic_")]
    climbs = [n for n in clips if n.startswith("climb_")]
    assert len(deepmimic) == 15 and len(climbs) == 5
    assert sum(len(clips[n]) for n in deepmimic) == 1620
    assert sum(len(clips[n]) for n in climbs) == 12939
    for name, pts in clips.items():
        bones = pose.h36m_bone_lengths(pts.astype(np.float64))
        assert np.all(bones.std(0) < 0.006), name     # rigid skeletons (m)
        assert np.all((bones.mean(0) > 0.08) & (bones.mean(0) < 0.5)), name
        # Left/right labels agree with a right-handed world: the toes point where
        # (Neck - Pelvis) x (R_Hip - L_Hip) says the person faces.
        fwd = np.cross(pts[:, pose.P["Neck"]] - pts[:, pose.P["Pelvis"]],
                       pts[:, pose.P["R_Hip"]] - pts[:, pose.P["L_Hip"]])
        toes = (pts[:, pose.P["R_Toe"]] - pts[:, pose.P["R_Ankle"]]
                + pts[:, pose.P["L_Toe"]] - pts[:, pose.P["L_Ankle"]])
        assert np.mean(np.sum(fwd * toes, 1) > 0) > 0.75, name
    walk = clips["deepmimic_walk"]
    assert np.all(walk[:, pose.P["Head"], 2] > walk[:, pose.P["Pelvis"], 2] + 0.5)
    config = generate.GeneratorConfig(image_size=96, mocap=True, download=False,
                                      procedural_fraction=0.0)
    for split in ("train", "test"):
        allowed = set(mocap.split_clips(clips, split))
        for _, ex in generate.generate_examples(split, 3, config, clips=clips):
            assert ex["sequence"] in allowed
            schema.validate_example(dict(ex, image=None), 18, ex["image"].shape[:2])


# ----------------------------------------------------------------------------- speed


def test_render_speed():
    config = generate.GeneratorConfig(image_size=256, mocap=False)
    gen = generate.ExampleGenerator(config, "train")
    gen.example(0)
    start = time.perf_counter()
    n = 12
    for i in range(1, n + 1):
        gen.example(i)
    rate = n / (time.perf_counter() - start)
    # About 30 images/s on one idle core; lenient here because the test machine is shared.
    assert rate > 5.0, rate
