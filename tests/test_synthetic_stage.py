"""The world behind a realistic synthetic person (datasets/synthetic/realistic/stage.py) and
the detector-like framing of its camera (generate.crop_camera). No network, no asset cache."""

import types

import numpy as np
import pytest

from mhp_tf_datasets.synthetic import body as body_lib
from mhp_tf_datasets.synthetic import pose as pose_lib
from mhp_tf_datasets.synthetic import scene
from mhp_tf_datasets.synthetic.realistic import compose
from mhp_tf_datasets.synthetic.realistic import demo
from mhp_tf_datasets.synthetic.realistic import generate
from mhp_tf_datasets.synthetic.realistic import lighting
from mhp_tf_datasets.synthetic.realistic import stage
from mhp_tf_datasets.synthetic.realistic.assets import Assets

P = pose_lib.P
SIZE = 96


def _pose(seed):
    rng = np.random.default_rng(seed)
    points, _ = pose_lib.sample_clip(rng, body_lib.sample_body(seed, seed), 2)
    return points[0]


def _frame(seed):
    """A stand-in for a posed body: the label points and a cloud of 'vertices' round them."""
    points = _pose(seed)
    rng = np.random.default_rng(seed)
    cloud = points[rng.integers(0, len(points), 400)] + rng.normal(0, 0.05, (400, 3))
    cloud[:, 2] = np.maximum(cloud[:, 2], points[:, 2].min() - 0.02)
    return types.SimpleNamespace(points=points, vertices=cloud)


def _camera(seed, size=SIZE):
    return generate.crop_camera(np.random.default_rng(seed), _frame(seed), size)


def _uniform_light(value=1.0):
    coeffs = np.zeros((9, 3))
    coeffs[0] = value / 0.282095
    return lighting.Light(coeffs=coeffs, rotation=np.eye(3), name="uniform")


@pytest.mark.parametrize("seed", range(6))
def test_crop_camera_is_the_full_camera_cropped_and_frames_the_person(seed):
    """The crop camera projects every point where the full camera does, up to one scale and
    shift of the image (the same pose and perspective), and the person's box fills
    1 / U(1.3, 1.75) of the frame's side, near its centre."""
    frame = _frame(seed)
    full = scene.sample_camera(np.random.default_rng(seed), frame.points, *generate.FULL_FRAME)
    crop = generate.crop_camera(np.random.default_rng(seed), frame, SIZE)
    np.testing.assert_array_equal(crop.R, full.R)
    np.testing.assert_array_equal(crop.t, full.t)
    a = full.project(full.world_to_camera(frame.points))
    b = crop.project(crop.world_to_camera(frame.points))
    # b = s * a + offset exactly (least squares over all points, residual ~ float64 eps)
    design = np.concatenate([a.reshape(-1, 1), np.tile(np.eye(2), (len(a), 1))], 1)
    coef, *_ = np.linalg.lstsq(design, b.reshape(-1), rcond=None)
    np.testing.assert_allclose(design @ coef, b.reshape(-1), atol=1e-7 * SIZE)
    uv = crop.project(crop.world_to_camera(frame.vertices))
    side = (uv.max(0) - uv.min(0)).max()
    assert SIZE / 1.75 - 1e-6 <= side <= SIZE / 1.3 + 1e-6
    centre = 0.5 * (uv.max(0) + uv.min(0))
    assert np.all(np.abs(centre - (SIZE - 1) / 2) <= 0.08 * SIZE * 1.3 + 1)


@pytest.mark.parametrize("seed", range(6))
def test_horizon_line_separates_rays_going_up_from_rays_going_down(seed):
    cam = _camera(seed, 64)
    line = stage.horizon_line(cam)
    assert line is not None
    point, direction = line
    d = stage.pixel_rays(cam, 64, 64)
    ys, xs = np.mgrid[0:64, 0:64]
    # signed distance of each pixel from the line, positive on the image-down side
    normal = np.array([-direction[1], direction[0]])
    if normal[1] < 0:
        normal = -normal
    side = (xs - point[0]) * normal[0] + (ys - point[1]) * normal[1]
    far = np.abs(side) > 0.5
    assert np.all((d[..., 2] < 0)[far] == (side > 0)[far])



@pytest.mark.parametrize("seed", range(4))
def test_float32_pixel_rays_are_the_float64_ones_rounded(seed):
    """The stage casts its rays in float32 (builder 1.8.0): each component is the float64
    ray's within float32 rounding of a 3-term dot product (inputs rounded once, three
    products and two sums: under 8 ulps of the largest term |u|, |v| or 1)."""
    cam = _camera(seed, 64)
    d64 = stage.pixel_rays(cam, 64, 48)
    d32 = stage.pixel_rays(cam, 64, 48, np.float32)
    assert d32.dtype == np.float32 and d32.shape == d64.shape == (64, 48, 3)
    u = (np.arange(48) - cam.cx) / cam.fx
    v = (np.arange(64) - cam.cy) / cam.fy
    term = np.maximum(np.maximum(np.abs(u)[None, :], np.abs(v)[:, None]), 1.0)[..., None]
    err = np.abs(d32 - d64)
    assert np.all(err <= 8 * np.finfo(np.float32).eps * term)
    assert err.max() > 0  # it is float32 arithmetic, not the float64 rays cast down


def test_channel_mean_is_the_mean_summed_in_float64():
    rng = np.random.default_rng(0)
    pixels = (rng.random((321, 7, 3)) * np.array([1.0, 10.0, 0.01])).astype(np.float32)
    want = pixels.reshape(-1, 3).astype(np.float64).mean(0)
    got = stage.channel_mean(pixels)
    assert got.dtype == np.float32 and got.shape == (3,)
    np.testing.assert_allclose(got, want, rtol=2 * np.finfo(np.float32).eps, atol=0)
    np.testing.assert_array_equal(stage.channel_mean(pixels[:0].reshape(0, 3)), np.zeros(3))

def _flat(colour, n=16):
    return np.full((n, n, 3), colour, np.uint8)


@pytest.mark.parametrize("seed", range(6))
def test_stage_puts_floor_under_the_feet_and_backdrop_above_the_horizon(seed):
    """A white floor texture and a black wall texture: the pixels where the person's soles
    project are floor, pixels well above the camera's horizon are backdrop."""
    frame = _frame(seed)
    cam = generate.crop_camera(np.random.default_rng(seed), frame, SIZE)
    floor_z = float(frame.vertices[:, 2].min())
    textures = [("sh3d.greyTile", _flat(255)), ("sh3d.smallBricks", _flat(0))]
    distance = float(np.linalg.norm(cam.world_to_camera(frame.points[P["Pelvis"]])))
    img, name = stage.stage_background(np.random.default_rng(seed), cam, floor_z, SIZE, SIZE,
                                       textures, [], _uniform_light(), distance)
    assert name == "stage:greyTile/smallBricks"
    assert img.shape == (SIZE, SIZE, 3) and img.dtype == np.float32 and np.all(np.isfinite(img))
    feet = np.array([frame.points[P[n]] for n in ("R_Ankle", "L_Ankle")])
    feet[:, 2] = floor_z
    uv = cam.project(cam.world_to_camera(feet))
    lum = img.mean(-1)
    floor_level = lum.max()
    for u, v in np.round(uv).astype(int):
        if 0 <= u < SIZE and 0 <= v < SIZE:
            assert lum[v, u] > 0.5 * floor_level
    point, direction = stage.horizon_line(cam)
    normal = np.array([-direction[1], direction[0]])
    if normal[1] < 0:
        normal = -normal
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    above = (xs - point[0]) * normal[0] + (ys - point[1]) * normal[1] < -1
    if above.any():
        assert lum[above].max() < 0.2 * floor_level


@pytest.mark.parametrize("seed", range(6))
def test_horizon_photo_lies_on_the_camera_horizon(seed):
    """A photo white above its horizon row (60 % down) and black below, placed through the
    camera: along the frame's centre column the white/black edge is on the horizon line."""
    cam = _camera(seed, SIZE)
    photo = np.zeros((200, 300, 3), np.uint8)
    photo[:120] = 255
    name = "plasma.Path"
    old = stage.SCENE_HORIZONS[name]
    stage.SCENE_HORIZONS[name] = 0.6
    try:
        got = stage.horizon_photo_background(np.random.default_rng(seed), cam, SIZE, SIZE,
                                             [(name, photo)])
    finally:
        stage.SCENE_HORIZONS[name] = old
    point, direction = stage.horizon_line(cam)
    x = (SIZE - 1) / 2
    y_line = point[1] + (x - point[0]) * direction[1] / direction[0]
    if got is None:  # only when the horizon is outside the upper 80 % or steep
        assert not (-0.1 * SIZE <= y_line <= 0.8 * SIZE) or abs(direction[1] / direction[0]) > 0.3
        return
    img, label = got
    assert label == "horizon:" + name
    column = img[:, int(x)].mean(-1)
    edge = np.argmax(column < 0.5) if column[0] > 0.5 else 0
    if 0 <= y_line < SIZE - 1:
        assert abs(edge - y_line) <= 2.0, (edge, y_line)


def test_render_uses_the_camera_for_the_background_and_stays_deterministic():
    """With a camera the background comes from the stage or a horizon photo for most seeds,
    the output is a pure function of the seed, and the floor darkens under the feet
    (contact shadow) as before."""
    fig = demo.render_figure(SIZE, SIZE, fill=0.6)
    frame = _frame(0)
    cam = generate.crop_camera(np.random.default_rng(0), frame, SIZE)
    rng = np.random.default_rng(0)
    kit = Assets(backgrounds=[("plasma.Path", rng.integers(0, 256, (60, 80, 3)).astype(np.uint8))],
                 hdris=[], textures=[("sh3d.greyTile", _flat(200)),
                                     ("sh3d.smallBricks", _flat(90))], manifest=[])
    names = []
    for seed in range(12):
        a = compose.render(fig.gbuffer, seed, kit, fig.feet_px, fig.height_px, camera=cam,
                           floor_z=0.0, person_distance=4.0)
        b = compose.render(fig.gbuffer, seed, kit, fig.feet_px, fig.height_px, camera=cam,
                           floor_z=0.0, person_distance=4.0)
        np.testing.assert_array_equal(a.image, b.image)
        names.append(a.background.split(":")[0])
    assert names.count("stage") + names.count("horizon") >= 6
    assert set(names) <= {"stage", "horizon", "plasma.Path"}


def _texture(seed, h=37, w=53):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("border", ["wrap", "reflect"])
def test_texture_sampling_blends_the_two_nearest_pyramid_levels(border):
    """The sorted, per-level sampler gives, for every point, (1 - f) x level lo + f x level
    lo + 1 of the mip pyramid, each looked up by OpenCV's own full-frame bilinear remap at
    the point's coordinates scaled to that level (an independent per-point reference)."""
    import cv2
    mode = cv2.BORDER_WRAP if border == "wrap" else cv2.BORDER_REFLECT
    pyramid = stage.linear_pyramid(_texture(0, 64, 96))
    rng = np.random.default_rng(1)
    n = 3000  # more than one 1024-wide row of the sampler's map, not a multiple of it
    tx, ty = rng.uniform(-200, 400, n), rng.uniform(-100, 300, n)
    footprint = 2.0 ** rng.uniform(-1.5, len(pyramid) + 0.5, n)  # clamped at both ends
    got = stage._sample(pyramid, tx, ty, footprint, mode)
    level = np.clip(np.log2(footprint), 0, len(pyramid) - 1)
    want = np.zeros((n, 3), np.float32)
    for k, tex in enumerate(pyramid):
        mx = (tx * 0.5 ** k).astype(np.float32)[None]
        my = (ty * 0.5 ** k).astype(np.float32)[None]
        if mode == cv2.BORDER_WRAP:
            mx = np.mod(mx, tex.shape[1]).astype(np.float32)
            my = np.mod(my, tex.shape[0]).astype(np.float32)
        look = cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=mode)[0]
        weight = np.clip(1.0 - np.abs(level - k), 0.0, 1.0)
        want += look * weight[:, None].astype(np.float32)
    # float32 sums of two products of values <= 1: a few ulp
    np.testing.assert_allclose(got, want, rtol=0, atol=4e-6)


def test_linear_pyramid_is_cached_per_texture_and_matches_a_fresh_one():
    texture = _texture(2)
    first = stage.linear_pyramid(texture)
    assert stage.linear_pyramid(texture) is first
    fresh = stage._pyramid(stage.camera_effects.srgb8_to_linear(texture.copy()))
    assert len(fresh) == len(first)
    for a, b in zip(first, fresh):
        np.testing.assert_array_equal(a, b)
    other = _texture(3)
    assert not np.array_equal(stage.linear_pyramid(other)[0], first[0])


@pytest.mark.parametrize("seed", range(8))
def test_full_size_framing_gives_the_pipeline_a_crop_of_at_least_256_px(seed):
    """Builder 1.5.0's realistic configs: frames of 1.5-1.56x the person's box, so the
    pipeline's crop (1.25x the box's longer side, centred on the box) spans at least 256
    source pixels and lies inside the frame (no padding whose edge reveals the box)."""
    from mhp_tf_datasets.synthetic import builder
    framing = builder.REALISTIC_FRAMING
    size = framing["image_size"]
    crop = generate.crop_camera(np.random.default_rng(seed), _frame(seed), size,
                                margin=framing["frame_margin"])
    uv = crop.project(crop.world_to_camera(_frame(seed).vertices))
    lo, hi = uv.min(0), uv.max(0)
    side = (hi - lo).max()
    assert 1.25 * side >= 256 - 1e-6
    assert side <= size / framing["frame_margin"][0] + 1e-6
    centre = 0.5 * (lo + hi)
    assert np.all(centre - 0.625 * side >= -0.5) and np.all(centre + 0.625 * side <= size - 0.5)


def _view(cam):
    """Height of the camera above the floor (z = 0) and how far down its optical axis
    points (degrees)."""
    centre = -np.asarray(cam.R).T @ np.asarray(cam.t)
    axis = np.asarray(cam.R).T @ np.array([0.0, 0.0, 1.0])
    return centre[2], np.degrees(np.arcsin(-axis[2]))


def test_elevated_cameras_look_down_from_high_and_still_frame_the_person():
    """elevated_p=1: every camera is 2.5-8 m up and looks down on the pelvis (by up to 64
    degrees), and the crop still frames the person as usual; elevated_p=0: the cameras of
    earlier versions (no extra draw), never above 2.5 m."""
    heights, downs = [], []
    for seed in range(40):
        frame = _frame(seed)
        cam = generate.crop_camera(np.random.default_rng(seed), frame, SIZE, elevated_p=1.0)
        height, down = _view(cam)
        heights.append(height)
        downs.append(down)
        uv = cam.project(cam.world_to_camera(frame.vertices))
        side = (uv.max(0) - uv.min(0)).max()
        assert SIZE / 1.75 - 1e-6 <= side <= SIZE / 1.3 + 1e-6
        low = generate.crop_camera(np.random.default_rng(seed), frame, SIZE)
        np.testing.assert_array_equal(
            low.R, generate.crop_camera(np.random.default_rng(seed), frame, SIZE,
                                        elevated_p=0.0).R)
        assert _view(low)[0] <= 2.5 + 1e-9
    heights, downs = np.array(heights), np.array(downs)
    assert heights.min() >= scene.ELEVATED_HEIGHT[0] and heights.max() <= scene.ELEVATED_HEIGHT[1]
    assert downs.min() > 0 and downs.max() <= np.degrees(np.arcsin(scene.ELEVATED_MAX_DOWN)) + 1e-9
    assert np.median(downs) > 15


def test_only_the_high_config_mounts_cameras_high():
    """realistic_high (added at builder 1.7.0 without changing built data) has every camera
    elevated; every other config keeps elevated_p=0, so its renders are unchanged."""
    from mhp_tf_datasets.synthetic import builder
    named = {c.name: c for c in builder.Synthetic.BUILDER_CONFIGS}
    for name, c in named.items():
        assert c.generator_config().elevated_p == (1.0 if name == "realistic_high" else 0.0)
    assert named["realistic_high"].family == "realistic"
    with pytest.raises(ValueError, match="elevated_p must be in"):
        generate.GeneratorConfig(elevated_p=1.2)
