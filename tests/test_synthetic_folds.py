"""Cloth folds of the realistic synthetic look (:mod:`...realistic.folds`): the bent normals
against the normal of a displaced surface, the relief's layout over the garments, and its
use in :func:`compose.render`."""

import dataclasses

import cv2
import numpy as np

from mhp_tf_datasets.synthetic import scene
from mhp_tf_datasets.synthetic.realistic import appearance
from mhp_tf_datasets.synthetic.realistic import compose
from mhp_tf_datasets.synthetic.realistic import folds
from mhp_tf_datasets.synthetic.realistic import lighting
from mhp_tf_datasets.synthetic.realistic.gbuffer import GBuffer
from mhp_tf_datasets.synthetic.realistic.gbuffer import PART
from mhp_tf_datasets.synthetic.realistic.gbuffer import PARTS
from synthetic_helpers import flat_patch


def _unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


def _camera(size=48, f=100.0):
    c = (size - 1) / 2.0
    return scene.Camera(f, f, c, c, size, size, np.eye(3), np.zeros(3))


def _plane_gbuffer(cam, normal, offset, size, depth_override=None):
    """A G-buffer of the plane ``normal . P = offset`` seen by ``cam`` (all pixels), and the
    camera-space points of its pixels (from the stored float32 depth)."""
    xs = (np.arange(size) - cam.cx) / cam.fx
    ys = (np.arange(size) - cam.cy) / cam.fy
    rays = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], 1.0), -1)
    depth = (offset / (rays @ normal)).astype(np.float32)
    if depth_override is not None:
        depth = np.where(np.isnan(depth_override), depth, depth_override).astype(np.float32)
    gb = GBuffer(mask=np.ones((size, size), bool), depth=depth,
                 normal=np.broadcast_to(normal, (size, size, 3)).astype(np.float32).copy(),
                 part=np.full((size, size), PART["chest"], np.int8),
                 along=np.full((size, size), 0.5, np.float32),
                 around=np.zeros((size, size), np.float32))
    return gb, rays * depth[..., None].astype(np.float64)


def test_bent_normal_is_the_normal_of_the_displaced_surface():
    """A tilted plane displaced along its normal by a height that grows linearly along one
    of its tangents is another plane; its normal (the cross product of the displaced
    tangents) is what bump must give at every pixel -- forward and backward differences
    are exact for a linear height."""
    size, cam = 48, _camera(48)
    n = _unit([0.3, -0.2, -1.0])  # facing the camera (which looks down +z)
    e1 = _unit(np.cross(n, [0.0, 1.0, 0.0]))
    e2 = np.cross(n, e1)
    gb, points = _plane_gbuffer(cam, n, n @ [0.0, 0.0, 4.0], size)
    for slope in (0.5, -1.2):
        height = slope * (points @ e1)
        # displaced tangents: moving by u along e1 raises the surface by slope * u along n
        expected = _unit(np.cross(e1 + slope * n, e2))
        expected *= np.sign(expected @ n)
        bent = folds.bump(gb, height, cam)
        np.testing.assert_allclose(bent, np.broadcast_to(expected, bent.shape), atol=1e-4)
        assert np.degrees(np.arccos(np.clip(expected @ n, -1, 1))) > 25  # it did bend
    flat = folds.bump(gb, np.zeros((size, size)), cam)
    np.testing.assert_allclose(flat, gb.normal, atol=1e-6)


def test_pixels_without_a_neighbour_on_their_surface_keep_their_normal():
    """A one-pixel column 1 m in front of the plane (a strand of something else): its
    pixels have no x neighbour on their own surface and keep their normal; the plane's
    pixels beside it difference with their other neighbour and bend as the rest."""
    size, cam = 32, _camera(32)
    n = np.array([0.0, 0.0, -1.0])
    override = np.full((size, size), np.nan)
    override[:, 16] = 3.0
    gb, points = _plane_gbuffer(cam, n, -4.0, size, override)
    height = 0.8 * points[..., 0]
    height[:, 16] += 0.05  # the strand's own relief must not leak into the plane's normals
    bent = folds.bump(gb, height, cam)
    np.testing.assert_array_equal(bent[:, 16], gb.normal[:, 16])
    expected = _unit([-0.8, 0.0, -1.0])
    for col in (15, 17, 5):
        np.testing.assert_allclose(bent[1:-1, col], np.broadcast_to(expected, (size - 2, 3)),
                                   atol=1e-4)


def _surface_points(step=0.02):
    part, along, around = [], [], []
    grid_a, grid_r = np.meshgrid(np.arange(0.0, 1.0 + 1e-9, step), np.arange(0.0, 1.0, step))
    for i in range(len(PARTS)):
        part.append(np.full(grid_a.size, i))
        along.append(grid_a.ravel())
        around.append(grid_r.ravel())
    return (np.concatenate(part).astype(np.int8), np.concatenate(along).astype(np.float32),
            np.concatenate(around).astype(np.float32))


def _look(seed=0, **changes):
    look = appearance.sample_look(np.random.default_rng(seed))
    top = look.top or appearance.sample_garment(np.random.default_rng(seed + 100))
    base = dict(top=top, sleeve="long", sleeve_end=0.9, bottom_kind="trousers",
                bottom_end=0.95, top_kind="shirt", top_loose=0.02, bottom_loose=0.01)
    base.update(changes)
    return dataclasses.replace(look, **base)


def test_relief_lies_on_the_cloth_within_its_amplitude():
    part, along, around = _surface_points()
    for seed in range(6):
        look = _look(seed)
        f = folds.sample_folds(np.random.default_rng(seed), look)
        h, amp = folds.relief(look, f, part, along, around)
        regions = appearance.garment_regions(look, part, along, around)
        cloth = (regions["top"] | regions["bottom"]) & ~regions["shoes"] & ~regions["hair"] \
            & ~regions["cap"]
        assert np.all(h[~cloth] == 0) and np.all(amp[~cloth] == 0)
        assert np.all(np.abs(h) <= amp + 1e-7)
        assert 0 < f.top <= folds.MAX_AMPLITUDE and 0 < f.bottom <= folds.MAX_AMPLITUDE
        assert np.abs(h[cloth]).max() > 0.3 * min(f.top, f.bottom)
        for name in ("l_forearm", "r_shin", "chest"):  # folds vary over every garment part
            assert np.ptp(h[part == PART[name]]) > 0
    bare = _look(0, top=None, top_loose=0.0)
    h, _ = folds.relief(bare, folds.sample_folds(np.random.default_rng(0), bare), part, along,
                        around)
    trunk = np.isin(part, [PART["chest"], PART["belly"]])
    assert np.all(h[trunk] == 0) and np.any(h[part == PART["l_thigh"]] != 0)


def test_relief_is_continuous_round_each_part_and_rings_run_round_limbs():
    look = _look(3)
    f = folds.sample_folds(np.random.default_rng(3), look)
    along = np.linspace(0.1, 0.8, 50).astype(np.float32)
    for name in ("chest", "belly", "l_upper_arm", "r_thigh"):
        part = np.full(50, PART[name], np.int8)
        at_zero, _ = folds.relief(look, f, part, along, np.zeros(50, np.float32))
        at_one, _ = folds.relief(look, f, part, along, np.full(50, 1 - 1e-6, np.float32))
        np.testing.assert_allclose(at_zero, at_one, atol=1e-6)
    # trunk drape hangs: it changes round the body much faster than up it; rings the opposite
    part, along, around = _surface_points(0.01)
    h, _ = folds.relief(look, f, part, along, around)
    for name, hanging in (("chest", True), ("l_shin", False)):
        grid = h[part == PART[name]].reshape(100, -1)  # rows: around, columns: along
        round_change = np.abs(np.diff(grid, axis=0)).mean()
        along_change = np.abs(np.diff(grid, axis=1)).mean()
        assert (round_change > 2 * along_change) if hanging else (
            along_change > 2 * round_change)


def test_folds_too_fine_for_the_pixels_fade_out():
    look = _look(1)
    f = dataclasses.replace(folds.sample_folds(np.random.default_rng(1), look),
                            ring_wavelength=0.05, drape_wavelength=0.1)
    part, along, around = _surface_points()
    full, _ = folds.relief(look, f, part, along, around)
    near, _ = folds.relief(look, f, part, along, around, px_per_m=400.0)  # 20 px per ring
    far, _ = folds.relief(look, f, part, along, around, px_per_m=50.0)    # 2.5 and 5 px
    np.testing.assert_array_equal(full, near)
    limbs = np.isin(part, [PART["l_forearm"], PART["r_shin"]])
    assert np.all(far[limbs] == 0) and np.any(full[limbs] != 0)
    trunk = part == PART["chest"]
    np.testing.assert_allclose(far[trunk], 0.4 * full[trunk], atol=1e-7)


def _patch_gbuffer(size=96):
    """A flat chest patch facing the camera 3 m away over the middle two thirds."""
    middle = slice(size // 6, size - size // 6)
    return flat_patch(size, middle, middle, 3.0)


def test_render_lights_the_folds_and_changes_nothing_beyond_the_person(monkeypatch):
    towards = _unit([1.0, -0.3, -0.6])  # a sun from the side: ridges lit on one flank
    d, _ = lighting.equirect_directions(64, 128)
    env = np.full((64, 128, 3), 0.2)
    env[np.unravel_index(np.argmax(d @ towards), (64, 128))] += 3000.0
    light = lighting.Light(lighting.project_sh(env), np.eye(3))
    monkeypatch.setattr(lighting, "sample_light", lambda rng, hdris=(), **kw: light)
    real = appearance.sample_look
    monkeypatch.setattr(appearance, "sample_look", lambda rng, textures=(): dataclasses.replace(
        real(rng, textures), top=appearance.sample_garment(rng, pattern="solid"),
        top_kind="coat", top_loose=0.05, bottom_kind="trousers"))
    cam, gb = _camera(96, 600.0), _patch_gbuffer(96)  # 200 px per metre: the patch is 32 cm
    kw = dict(camera=cam, occluder_p=0.0)
    plain = compose.render(gb, 4, compose.EMPTY_ASSETS, cloth_folds=False, **kw)
    folded = compose.render(gb, 4, compose.EMPTY_ASSETS, **kw)
    assert compose.render(gb, 4, compose.EMPTY_ASSETS, **kw).image.tobytes() == \
        folded.image.tobytes()
    lum = lambda im: im.astype(np.float64) @ [0.2126, 0.7152, 0.0722]  # noqa: E731
    inside = cv2.erode(gb.mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    # the flat patch is evenly lit (noise, JPEG); folds make light and dark bands across it
    assert lum(folded.image)[inside].std() > 2 * lum(plain.image)[inside].std() + 3
    far = cv2.dilate(gb.mask.astype(np.uint8), np.ones((33, 33), np.uint8)) == 0
    np.testing.assert_array_equal(plain.image[far], folded.image[far])
    assert folded.timings_ms["folds"] >= 0.0
