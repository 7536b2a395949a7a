"""Input pipeline: geometry consistency of the warp, flips, masks, determinism."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from mhp_tf import skeletons
from mhp_tf.data import pipeline

COLOURS = {  # H36M joint index -> RGB of the dot painted at it
    0: (255, 0, 0), 1: (0, 255, 0), 4: (0, 0, 255), 10: (255, 255, 0), 13: (0, 255, 255),
    16: (255, 0, 255)}


def _fixture(width=320, height=240, outside_joint=True):
    """An image with coloured 9x9 dots at six H36M joints, and its record."""
    rng = np.random.default_rng(0)
    image = np.full((height, width, 3), 128, np.uint8)
    joints = np.zeros((18, 2), np.float32)
    vis = np.zeros(18, np.float32)
    bbox = np.array([110, 50, 100, 150], np.float32)
    for j in COLOURS:
        joints[j] = [rng.integers(120, 200), rng.integers(60, 190)]
        vis[j] = 1
    if outside_joint:
        joints[7] = [5, 5]  # far outside the person box: must leave the patch
        vis[7] = 1
    for j, colour in COLOURS.items():
        u, v = joints[j].astype(int)
        image[v - 4:v + 5, u - 4:u + 5] = colour
    ok, jpeg = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 100])
    joints_cam = np.zeros((18, 3), np.float32)
    joints_cam[:, 2] = 4000 + np.arange(18) * 10  # depth rel to root: 0..170 mm
    record = dict(bbox=bbox, joints_img=joints, joints_cam=joints_cam, joints_vis=vis,
                  have_depth=np.float32(1), focal=np.array([500, 500], np.float32),
                  principal_point=np.array([160, 120], np.float32),
                  root_cam=joints_cam[0])
    return jpeg.tobytes(), record


def _dot_centre(patch, colour):
    dist = np.abs(patch - np.array(colour, np.float32)).sum(-1)
    mask = dist < 60
    if mask.sum() < 3:
        return None
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


@pytest.mark.parametrize("seed", range(6))
def test_dots_land_on_transformed_joints(seed):
    cfg = pipeline.PipelineConfig(heatmap_size=64, depth_bins=64, normalization="none",
                                  color_factor=0.0, occlusion_prob=0.0, rotation_prob=1.0)
    jpeg, record = _fixture()
    out = pipeline.preprocess_example(pipeline.example_from_numpy(jpeg, record),
                                      pipeline.seed_tensor(seed), cfg, True, "h36m")
    patch = out["image"].numpy()
    coords = out["coords"].numpy() * (cfg.input_size / cfg.heatmap_size)
    vis = out["vis"].numpy()
    flip = bool(out["flip"].numpy())
    perm = skeletons.H36M.flip_permutation()
    # Dots are 9 px wide in the source; skip those cut by the patch border.
    margin = 5 * np.abs(out["affine"].numpy()[:, :2]).sum(1).max() + 1
    checked = 0
    for j, colour in COLOURS.items():
        target = perm[j] if flip else j  # a flipped dot of joint j is labelled as its twin
        centre = _dot_centre(patch, colour)
        if vis[target] == 0 or not np.all((coords[target, :2] > margin)
                                           & (coords[target, :2] < cfg.input_size - margin)):
            continue
        assert centre is not None, (j, coords[target])
        np.testing.assert_allclose(centre, coords[target, :2], atol=1.0)
        checked += 1
    assert checked >= 3
    # The joint placed far outside the box leaves the patch and is masked.
    assert vis[7] == 0


def test_flip_swaps_left_and_right():
    cfg = pipeline.PipelineConfig(normalization="none", color_factor=0.0, occlusion_prob=0.0,
                                  flip_prob=1.0, rotation_prob=0.0, scale_factor=0.0)
    plain_cfg = pipeline.PipelineConfig(normalization="none")
    jpeg, record = _fixture(outside_joint=False)
    ex = pipeline.example_from_numpy(jpeg, record)
    flipped = pipeline.preprocess_example(ex, pipeline.seed_tensor(0), cfg, True, "h36m")
    plain = pipeline.preprocess_example(ex, pipeline.seed_tensor(0), plain_cfg, False, "h36m")
    assert bool(flipped["flip"].numpy())
    size = cfg.heatmap_size
    c_f, c_p = flipped["coords"].numpy(), plain["coords"].numpy()
    # R_Hip (1) in the flipped sample is the mirror image of L_Hip (4) in the plain one:
    # x_f = W - 1 - x and the box centre moves the same way, so u_f = S - u (hand-derived).
    np.testing.assert_allclose(c_f[1, 0], size - c_p[4, 0], atol=1e-3)
    np.testing.assert_allclose(c_f[1, 1:], c_p[4, 1:], atol=1e-3)
    # The patch itself is mirrored: column k of the flipped patch is column S - k of the
    # plain one, i.e. column k - 1 of the plain patch reversed.
    a = flipped["image"].numpy()
    b = plain["image"].numpy()[:, ::-1]
    # (uint8 warp: equal up to one grey level of rounding)
    np.testing.assert_allclose(a[:, 1:], b[:, :-1], atol=1.0)


def test_z_targets_and_depth_mask():
    cfg = pipeline.PipelineConfig(depth_bins=64, depth_range_mm=2000.0)
    jpeg, record = _fixture(outside_joint=False)
    record["joints_cam"][10, 2] = record["joints_cam"][0, 2] + 1200  # beyond +1 m: masked
    out = pipeline.preprocess_example(pipeline.example_from_numpy(jpeg, record),
                                      pipeline.seed_tensor(0), cfg, False, "h36m")
    z = out["coords"].numpy()[:, 2]
    rel = record["joints_cam"][:, 2] - record["joints_cam"][0, 2]
    np.testing.assert_allclose(z[[0, 1, 4]], (rel[[0, 1, 4]] / 1000 + 1) / 2 * 64, atol=1e-4)
    assert out["vis"].numpy()[10] == 0 and out["vis"].numpy()[1] == 1


def test_process_bbox_matches_hand_computation():
    box, valid = pipeline.process_bbox([-10.0, 20.0, 60.0, 100.0], 200, 100)
    # clip: x1=0, y1=20, x2=min(199, 0+59)=59, y2=min(99, 20+99)=99 -> w=59, h=79
    # square around centre (29.5, 59.5) with side 79, x1.25 -> 98.75
    np.testing.assert_allclose(box.numpy(), [29.5 - 49.375, 59.5 - 49.375, 98.75, 98.75],
                               atol=1e-4)
    assert bool(valid)
    _, valid = pipeline.process_bbox([300.0, 20.0, 60.0, 100.0], 200, 100)
    assert not bool(valid)


def test_identity_warp_without_augmentation():
    """Evaluation warp maps the processed box exactly onto the patch."""
    cfg = pipeline.PipelineConfig(normalization="none")
    jpeg, record = _fixture(outside_joint=False)
    out = pipeline.preprocess_example(pipeline.example_from_numpy(jpeg, record),
                                      pipeline.seed_tensor(0), cfg, False, "h36m")
    bbox = out["bbox"].numpy()
    m = out["affine"].numpy()
    corner = m[:, :2] @ bbox[:2] + m[:, 2]
    np.testing.assert_allclose(corner, [0, 0], atol=1e-3)
    np.testing.assert_allclose(m[:, :2], np.eye(2) * 256 / bbox[2], atol=1e-5)


def test_determinism_and_seed_dependence():
    cfg = pipeline.PipelineConfig()
    jpeg, record = _fixture()
    ex = pipeline.example_from_numpy(jpeg, record)
    a = pipeline.preprocess_example(ex, pipeline.seed_tensor(3, 7), cfg, True, "h36m")
    b = pipeline.preprocess_example(ex, pipeline.seed_tensor(3, 7), cfg, True, "h36m")
    c = pipeline.preprocess_example(ex, pipeline.seed_tensor(4, 7), cfg, True, "h36m")
    np.testing.assert_array_equal(a["image"].numpy(), b["image"].numpy())
    np.testing.assert_array_equal(a["coords"].numpy(), b["coords"].numpy())
    assert np.abs(a["image"].numpy() - c["image"].numpy()).max() > 0


def test_occlusion_paints_noise_inside_the_box():
    cfg = pipeline.PipelineConfig(normalization="none", occlusion_prob=1.0, color_factor=0.0,
                                  rotation_prob=0.0, scale_factor=0.0, flip_prob=0.0)
    jpeg, record = _fixture(outside_joint=False)
    ex = pipeline.example_from_numpy(jpeg, record)
    clean_cfg = pipeline.PipelineConfig(normalization="none")
    clean = pipeline.preprocess_example(ex, pipeline.seed_tensor(0), clean_cfg, False, "h36m")
    noisy_any = False
    for s in range(5):
        occl = pipeline.preprocess_example(ex, pipeline.seed_tensor(s), cfg, True, "h36m")
        diff = np.abs(occl["image"].numpy() - clean["image"].numpy()).max(-1) > 30
        noisy_any |= diff.sum() > 50
    assert noisy_any


def test_normalizations():
    x = tf.fill([2, 2, 3], 255.0)
    ref = pipeline.normalize(x, "reference").numpy()[0, 0]
    imn = pipeline.normalize(x, "imagenet").numpy()[0, 0]
    np.testing.assert_allclose(ref, (255 - np.array(pipeline.PIXEL_MEAN)) / pipeline.PIXEL_STD,
                               rtol=1e-5)
    np.testing.assert_allclose(imn, (1 - np.array(pipeline.PIXEL_MEAN)) / pipeline.PIXEL_STD,
                               rtol=1e-5)
    for mode in pipeline.NORMALIZATIONS:
        np.testing.assert_allclose(
            pipeline.denormalize(pipeline.normalize(x, mode), mode).numpy(), 255.0, rtol=1e-5)
    with pytest.raises(ValueError, match="normalization"):
        pipeline.PipelineConfig(normalization="zscore")


def test_2d_dataset_mapped_by_name():
    cfg = pipeline.PipelineConfig(skeleton="h36m")
    jpeg, record = _fixture(outside_joint=False)
    mpii = skeletons.MPII
    rec = dict(record)
    rec["joints_img"] = np.tile([[160.0, 120.0]], (16, 1)).astype(np.float32)
    rec["joints_vis"] = np.ones(16, np.float32)
    rec["joints_cam"] = np.zeros((16, 3), np.float32)
    rec["have_depth"] = np.float32(0)
    out = pipeline.preprocess_example(pipeline.example_from_numpy(jpeg, rec),
                                      pipeline.seed_tensor(0), cfg, False, mpii.name)
    vis = out["vis"].numpy()
    assert vis.shape == (18,)
    assert vis[skeletons.H36M.index("Nose")] == 0 and vis[skeletons.H36M.index("Torso")] == 0
    assert vis[skeletons.H36M.index("R_Ankle")] == 1
    assert float(out["have_depth"]) == 0


def test_mix_alternates_and_cycles():
    a = tf.data.Dataset.from_tensor_slices([1, 2, 3]).repeat()
    b = tf.data.Dataset.from_tensor_slices([10]).repeat()
    got = list(pipeline.mix_datasets(a, b).take(6).as_numpy_iterator())
    assert got == [1, 10, 2, 10, 3, 10]
    c = tf.data.Dataset.from_tensor_slices([100, 200]).repeat()
    got = list(pipeline.mix_datasets(a, b, c, first=4).take(6).as_numpy_iterator())
    assert got == [10, 100, 1, 10, 200, 2]  # continues after 4 elements: b, c, a, ...


def test_map_examples_is_deterministic_under_parallelism():
    cfg = pipeline.PipelineConfig(input_size=64, heatmap_size=16)
    jpeg, record = _fixture()
    ex = pipeline.example_from_numpy(jpeg, record)
    ds = tf.data.Dataset.from_tensors(ex).repeat(6)
    run = lambda: [e["image"] for e in pipeline.map_examples(  # noqa: E731
        ds, cfg, True, "h36m", seed=1, num_parallel_calls=4).as_numpy_iterator()]
    first, second = run(), run()
    assert len(first) == 6
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    assert np.abs(first[0] - first[1]).max() > 0  # different elements, different augmentation


def _pixel_augmentation_patches(seeds, **on):
    """``(off, on)`` training patches of the fixture for each seed, without and with the
    pixel augmentation ``on`` (e.g. ``photometric_prob=1.0``), after checking that it
    changes none of the targets, gives the same patch for the same seed and stays in
    0..255."""
    base = dict(normalization="none", occlusion_prob=0.0, rotation_prob=0.5)
    off_cfg = pipeline.PipelineConfig(**base)
    on_cfg = pipeline.PipelineConfig(**on, **base)
    jpeg, record = _fixture()
    ex = pipeline.example_from_numpy(jpeg, record)
    out = []
    for s in seeds:
        a = pipeline.preprocess_example(ex, pipeline.seed_tensor(s), off_cfg, True, "h36m")
        b = pipeline.preprocess_example(ex, pipeline.seed_tensor(s), on_cfg, True, "h36m")
        b2 = pipeline.preprocess_example(ex, pipeline.seed_tensor(s), on_cfg, True, "h36m")
        for key in ("coords", "vis", "affine", "joints_cam"):
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
        np.testing.assert_array_equal(b["image"].numpy(), b2["image"].numpy())
        img = b["image"].numpy()
        assert img.shape == a["image"].shape and img.min() >= 0 and img.max() <= 255
        out.append((a["image"].numpy(), img))
    return out


def test_photometric_augmentation_changes_pixels_not_labels():
    """photometric_prob=1 changes the patch but none of the targets; the same seed gives the
    same patch; 0 leaves the pipeline as it was."""
    pairs = _pixel_augmentation_patches(range(8), photometric_prob=1.0)
    assert sum(np.abs(b - a).mean() > 1.0 for a, b in pairs) >= 6


def test_low_resolution_changes_pixels_not_labels():
    """low_res_prob=1 changes the patch (the joints' dots smear) but none of the targets;
    the same seed gives the same patch."""
    pairs = _pixel_augmentation_patches(range(6), low_res_prob=1.0)
    assert all(np.abs(b - a).max() > 40 for a, b in pairs)


def test_pipeline_config_refuses_probabilities_outside_0_1():
    with pytest.raises(ValueError, match="low_res_prob must be in"):
        pipeline.PipelineConfig(low_res_prob=1.5)
    with pytest.raises(ValueError, match="photometric_prob must be in"):
        pipeline.PipelineConfig(photometric_prob=-0.1)


def test_low_resolution_keeps_things_where_they_are():
    """A bright square on a dark patch: shrunk (by 1.5-4x), maybe JPEG-compressed and
    enlarged back. The resizes keep pixel centres: its centre of brightness moves by no
    more than JPEG's ringing at the small size (under half a small pixel, 1.5 px here) and
    not at all on average over seeds (the labels need no change); its mean level stays
    within a few grey levels and its edges are softened."""
    size = 96
    img = np.full((size, size, 3), 20.0, np.float32)
    img[30:62, 41:71] = 230.0

    def centre(x):
        w = x.mean(-1) - 20.0
        ys, xs = np.mgrid[0:size, 0:size]
        return np.array([(w * ys).sum(), (w * xs).sum()]) / w.sum()

    shifts = []
    for seed in range(12):
        out = pipeline.low_resolution(tf.constant(img), pipeline.seed_tensor(seed)).numpy()
        assert out.shape == img.shape
        shifts.append(centre(out) - centre(img))
        assert abs(out.mean() - img.mean()) < 3.0
        assert np.abs(np.diff(out.mean(-1), axis=1)).max() < 0.9 * 210.0  # a softened step
    shifts = np.array(shifts)
    assert np.abs(shifts).max() < 1.5
    assert np.abs(shifts.mean(0)).max() < 0.3


def test_photometric_draws_stay_in_their_ranges():
    """On a flat grey patch: brightness and contrast keep it within 0.7-1.3 of its level
    (plus noise), the grey option makes the channels equal for some seeds, blur keeps a
    flat patch flat."""
    flat = tf.fill([32, 32, 3], 100.0)
    means, greys = [], 0
    colour = tf.concat([tf.fill([32, 32, 1], 200.0), tf.fill([32, 32, 2], 50.0)], -1)
    for s in range(60):
        out = pipeline.photometric(flat, pipeline.seed_tensor(s)).numpy()
        means.append(out.mean())
        c = pipeline.photometric(colour, pipeline.seed_tensor(s)).numpy()
        greys += np.abs(c[..., 0] - c[..., 1]).max() < 1e-3
    means = np.array(means)
    # noise sigma <= 8 over 3072 values moves the mean by < 1 level
    assert means.min() >= 70 - 1 and means.max() <= 130 + 1
    assert means.max() - means.min() > 20
    assert 1 <= greys <= 20
    # a flat patch stays flat up to the noise (the blur reflects at the borders)
    for s in range(10):
        out = pipeline.photometric(flat, pipeline.seed_tensor(s)).numpy()
        assert out.std() < 9.0
        assert abs(out[:3].mean() - out[10:20].mean()) < 3.0
