"""The look of the realistic synthetic set (mhp_tf_datasets.synthetic.realistic): asset
parsers and the no-network fallback, spherical-harmonic lighting, appearance, compositing and
camera effects. Nothing here needs the network or the asset cache."""

import struct
import warnings

import numpy as np
import pytest

from mhp_tf_datasets.synthetic.realistic import assets


# ----------------------------------------------------------------------------- assets

DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: example

Files: *
Copyright: 2020 Someone
License: GPL-2+

Files: photos/a.jpg
       photos/b*.jpg
Copyright: 2018, Alice
 2019, Bob
License: CC-BY-4.0
 Full text of the licence
 goes here.

Files: photos/bad.jpg
Copyright: 2018, Carol
License: CC-BY-NC-4.0

License: GPL-2+
 Standalone licence paragraph (no Files field).
"""


def test_dep5_parser_reads_multiline_fields_and_last_match_wins():
    stanzas = assets.parse_dep5(DEP5)
    assert [s["license"] for s in stanzas] == ["GPL-2+", "CC-BY-4.0", "CC-BY-NC-4.0"]
    assert stanzas[1]["files"] == ["photos/a.jpg", "photos/b*.jpg"]
    assert stanzas[1]["copyright"] == "2018, Alice 2019, Bob"
    assert assets.dep5_licence(stanzas, "photos/a.jpg") == ("CC-BY-4.0", "2018, Alice 2019, Bob")
    assert assets.dep5_licence(stanzas, "photos/b2.jpg")[0] == "CC-BY-4.0"
    assert assets.dep5_licence(stanzas, "photos/c.jpg")[0] == "GPL-2+"
    assert assets.dep5_licence(stanzas, "photos/bad.jpg")[0] == "CC-BY-NC-4.0"
    assert assets.dep5_licence([], "x.jpg") == ("", "")


def test_noncommercial_or_unclear_licences_are_never_recorded():
    ok = assets._record("background", "n", "f", "p", "1", "s", "CC-BY-4.0", "c")
    assert ok is not None and ok["licence"] == "CC-BY-4.0"
    for bad in ("CC-BY-NC-4.0", "CC BY-NC-SA 3.0", "free for non-commercial use", ""):
        assert assets._record("background", "n", "f", "p", "1", "s", bad, "c") is None


def _gimp_pattern(pixels: np.ndarray, name: bytes = b"Test pattern") -> bytes:
    h, w = pixels.shape[:2]
    bpp = 1 if pixels.ndim == 2 else pixels.shape[2]
    header = struct.pack(">5I", 0, 1, w, h, bpp) + b"GPAT" + name + b"\0"
    header = struct.pack(">I", len(header)) + header[4:]
    return header + pixels.astype(np.uint8).tobytes()


@pytest.mark.parametrize("bpp", [1, 2, 3, 4])
def test_gimp_pattern_reader(bpp):
    rng = np.random.default_rng(bpp)
    pixels = rng.integers(0, 256, (5, 7, bpp) if bpp > 1 else (5, 7)).astype(np.uint8)
    img = assets.read_gimp_pattern(_gimp_pattern(pixels))
    assert img.shape == (5, 7, 3) and img.dtype == np.uint8
    grey = pixels if bpp == 1 else pixels[..., 0]
    expected = np.stack([grey] * 3, -1) if bpp <= 2 else pixels[..., :3]
    np.testing.assert_array_equal(img, expected)


def test_gimp_pattern_reader_rejects_bad_files():
    good = _gimp_pattern(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="magic"):
        assets.read_gimp_pattern(good[:20] + b"XXXX" + good[24:])
    with pytest.raises(ValueError, match="truncated"):
        assets.read_gimp_pattern(good[:-5])
    with pytest.raises(ValueError, match="shorter"):
        assets.read_gimp_pattern(b"GPAT")


def test_missing_apt_get_degrades_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "APT_GET", "no-such-apt-get-here")
    monkeypatch.setattr(assets, "_LOADED", {})
    with pytest.warns(UserWarning, match="unavailable"):
        loaded = assets.load_assets(str(tmp_path), download=True)
    assert loaded.backgrounds == [] and loaded.hdris == [] and loaded.textures == []


def test_uncached_without_download_warns(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "_LOADED", {})
    with pytest.warns(UserWarning, match="not cached"):
        loaded = assets.load_assets(str(tmp_path), download=False)
    assert loaded.backgrounds == [] and loaded.manifest == []


def test_cached_records_are_loaded(tmp_path, monkeypatch):
    """A hand-made cache (one package) is read back: images in RGB order, HDRI as float."""
    import json
    import os

    import cv2
    monkeypatch.setattr(assets, "_LOADED", {})
    out = assets.cache_dir(str(tmp_path))
    os.makedirs(os.path.join(out, "backgrounds"))
    os.makedirs(os.path.join(out, "hdri"))
    bg = np.zeros((8, 12, 3), np.uint8)
    bg[..., 0] = 200  # red
    cv2.imwrite(os.path.join(out, "backgrounds", "x.png"), bg[..., ::-1])
    np.save(os.path.join(out, "hdri", "h.npy"), np.ones((4, 8, 3), np.float32))
    records = [{"kind": "background", "name": "x", "file": "backgrounds/x.png"},
               {"kind": "hdri", "name": "h", "file": "hdri/h.npy"}]
    with open(os.path.join(out, "manifest.lomiri-wallpapers-16.04.json"), "w") as f:
        json.dump(records, f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the other packages are missing
        loaded = assets.load_assets(str(tmp_path), download=False)
    assert [n for n, _ in loaded.backgrounds] == ["x"]
    np.testing.assert_array_equal(loaded.backgrounds[0][1][..., 0], 200)
    assert loaded.hdris[0][1].dtype == np.float32


# ----------------------------------------------------------------------------- lighting

from mhp_tf_datasets.synthetic.realistic import appearance  # noqa: E402
from mhp_tf_datasets.synthetic.realistic import camera_effects  # noqa: E402
from mhp_tf_datasets.synthetic.realistic import compose  # noqa: E402
from mhp_tf_datasets.synthetic.realistic import demo  # noqa: E402
from mhp_tf_datasets.synthetic.realistic import lighting  # noqa: E402
from mhp_tf_datasets.synthetic.realistic.gbuffer import GBuffer  # noqa: E402
from mhp_tf_datasets.synthetic.realistic.gbuffer import PART  # noqa: E402


def _unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _midpoint_bound(height):
    """Error bound of the midpoint rule over theta for smooth integrands: O(dtheta^2)."""
    return 3 * (np.pi / height) ** 2


@pytest.mark.parametrize("value", [0.3, 1.0, 7.5])
def test_constant_environment_gives_pi_times_radiance(value):
    h = 64
    env = np.full((h, 2 * h, 3), value)
    coeffs = lighting.project_sh(env)
    normals = _unit(np.random.default_rng(0).normal(size=(200, 3)))
    e = lighting.irradiance(coeffs, normals)
    np.testing.assert_allclose(e, np.pi * value, rtol=_midpoint_bound(h))


def _band_limited_field(d):
    """A radiance made of SH bands l <= 2 only, so the 9-term irradiance is exact."""
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    return np.stack([1 + 0.5 * x + 0.3 * y * z, 0.8 + 0.4 * y + 0.2 * (x * x - z * z),
                     1.2 - 0.3 * z + 0.25 * x * y], -1)


def test_sh_irradiance_matches_numeric_integration():
    """E(n) = sum over a fine grid of L(w) max(0, n.w) dw (brute force) vs the 9-term SH."""
    h = 64
    d, _ = lighting.equirect_directions(h, 2 * h)
    coeffs = lighting.project_sh(_band_limited_field(d))
    normals = _unit(np.random.default_rng(1).normal(size=(40, 3)))
    fine_d, fine_area = lighting.equirect_directions(384, 768)
    cosines = np.maximum(np.einsum("nk,hwk->nhw", normals, fine_d), 0.0) * fine_area
    brute = np.einsum("nhw,hwc->nc", cosines, _band_limited_field(fine_d))
    got = lighting.irradiance(coeffs, normals)
    np.testing.assert_allclose(got, brute, atol=_midpoint_bound(h) * 2.0)


def test_light_from_above_brightens_upward_normals():
    h = 32
    d, _ = lighting.equirect_directions(h, 2 * h)
    env = np.where(d[..., 1:2] > 0.8, 10.0, 0.0) * np.ones(3)  # a bright cap at the zenith
    light = lighting.Light(coeffs=lighting.project_sh(env), rotation=lighting.camera_to_env())
    up, side, down = light.irradiance(np.array([[0, -1.0, 0], [1.0, 0, 0], [0, 1.0, 0]]))[:, 0]
    assert up > side > down
    assert down < 0.05 * up
    # the cap has solid angle 2 pi (1 - 0.8); an upward normal sees it at cos >= 0.8
    cap = 2 * np.pi * (1 - 0.8) * 10.0
    assert 0.8 * cap < up < cap * 1.05


def test_yaw_turns_the_environment_about_the_vertical():
    h = 32
    d, _ = lighting.equirect_directions(h, 2 * h)
    env = np.exp(20 * (d @ np.array([1.0, 0.0, 0.0]) - 1))[..., None] * np.ones(3)  # from env +x
    coeffs = lighting.project_sh(env)
    normals = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 0, 1.0], [0, 0, -1.0]])  # camera frame
    still = lighting.Light(coeffs, lighting.camera_to_env(0.0)).irradiance(normals)[:, 0]
    turned = lighting.Light(coeffs, lighting.camera_to_env(np.pi / 2)).irradiance(normals)[:, 0]
    assert np.argmax(still) == 0      # camera right = env +x without yaw
    assert np.argmax(turned) == 2     # a quarter turn brings env +x to the camera's forward


def test_sampled_light_is_normalised_and_deterministic():
    env = np.random.default_rng(0).uniform(0, 5, (16, 32, 3)).astype(np.float32)
    a = lighting.sample_light(np.random.default_rng(3), [("m", env)], exposure_stops=(0, 0))
    b = lighting.sample_light(np.random.default_rng(3), [("m", env)], exposure_stops=(0, 0))
    np.testing.assert_array_equal(a.coeffs, b.coeffs)
    lum = a.mean_radiance() @ np.array([0.2126, 0.7152, 0.0722])
    assert lum == pytest.approx(1.0, rel=1e-6)
    sky = lighting.sample_light(np.random.default_rng(3), [])
    assert sky.name == "procedural_sky" and np.all(np.isfinite(sky.coeffs))


# ----------------------------------------------------------------------------- appearance


def _figure(h=96, w=64, yaw=0.0, k=1):
    return demo.render_figure(h * k, w * k, yaw=yaw, fill=0.9)


def test_look_is_deterministic_and_albedo_is_bounded():
    gb = _figure().gbuffer
    a1, g1 = appearance.paint(gb, appearance.sample_look(np.random.default_rng(5)))
    a2, g2 = appearance.paint(gb, appearance.sample_look(np.random.default_rng(5)))
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(g1, g2)
    assert a1.shape == gb.shape + (3,) and a1.dtype == np.float32
    assert np.all(a1[~gb.mask] == 0) and a1.min() >= 0 and a1.max() <= 1
    assert np.all(a1[gb.mask].sum(-1) > 0)


def test_skin_tones_cover_the_monk_scale():
    rng = np.random.default_rng(0)
    skins = np.stack([appearance.sample_skin(rng) for _ in range(2000)])
    weights = np.array([0.2126, 0.7152, 0.0722])
    lum = skins @ weights
    ends = [appearance.hex_to_linear(c) @ weights * appearance.SKIN_ALBEDO_SCALE
            for c in appearance.MONK_SKIN_TONES]
    # both ends of the locus are reached, and nothing goes beyond them by more than the
    # jitter: brightness U(0.9, 1.1) times exp(N(0, 0.03)) per channel (5 sigma: 0.15)
    assert lum.min() < ends[8] and lum.max() > ends[1]
    assert lum.min() > ends[9] * 0.9 * np.exp(-0.15)
    assert lum.max() < ends[0] * 1.1 * np.exp(0.15)


def _solid(colour):
    return appearance.Garment(colour=np.array(colour, np.float32),
                              colour2=np.array(colour, np.float32), wrinkles=0.0)


def _plain_look(**overrides):
    look = appearance.sample_look(np.random.default_rng(0))
    look.skin = np.array([0.4, 0.3, 0.2], np.float32)
    look.top = _solid([0.0, 0.6, 0.0])
    look.bottom = _solid([0.0, 0.0, 0.6])
    look.bottom_kind, look.bottom_end = "trousers", 0.95
    look.shoes, look.hair, look.cap = _solid([0.6, 0.0, 0.0]), None, None
    for k, v in overrides.items():
        setattr(look, k, v)
    return look


def _near(albedo, colour, tol=0.08):
    return np.all(np.abs(albedo - np.asarray(colour)) <= tol * max(np.max(colour), 0.1) + 1e-6,
                  axis=-1)


@pytest.mark.parametrize("sleeve,end,upper_covered,fore_covered",
                         [("none", 0.0, 0.0, 0.0), ("short", 0.5, 0.5, 0.0),
                          ("long", 0.9, 1.0, 0.9)])
def test_sleeve_length(sleeve, end, upper_covered, fore_covered):
    gb = _figure(192, 128).gbuffer
    albedo, _ = appearance.paint(gb, _plain_look(sleeve=sleeve, sleeve_end=end))
    green = _near(albedo, [0.0, 0.6, 0.0])
    for part, covered in (("l_upper_arm", upper_covered), ("l_forearm", fore_covered)):
        sel = gb.part == PART[part]
        along = gb.along[sel]
        if sleeve == "none":  # straps over the shoulder only
            assert not green[sel][along > 0.1].any()
            continue
        assert green[sel][along < covered - 0.02].all()
        assert not green[sel][along > covered + 0.02].any()


def test_trousers_shoes_and_skin_regions():
    gb = _figure(192, 128).gbuffer
    albedo, _ = appearance.paint(gb, _plain_look(sleeve="short", sleeve_end=0.5))
    thigh = gb.part == PART["l_thigh"]
    assert _near(albedo[thigh], [0.0, 0.0, 0.6]).all()
    assert _near(albedo[gb.part == PART["l_foot"]], [0.6, 0.0, 0.0]).all()
    hand = gb.part == PART["l_hand"]
    assert _near(albedo[hand], [0.4, 0.3, 0.2], tol=0.07).all()  # skin +-5% blotches


def test_hair_reaches_lower_at_the_back():
    gb_front = _figure(192, 128, yaw=0.0).gbuffer
    gb_back = _figure(192, 128, yaw=np.pi).gbuffer
    look = _plain_look(hair=_solid([0.05, 0.03, 0.02]), hairline_front=0.8, hairline_back=0.3,
                       long_hair=False)
    fractions = []
    for gb in (gb_front, gb_back):
        albedo, _ = appearance.paint(gb, look)
        head = gb.part == PART["head"]
        fractions.append(_near(albedo[head], [0.05, 0.03, 0.02]).mean())
    assert fractions[1] > fractions[0] + 0.2  # seen from behind the head is mostly hair


# ----------------------------------------------------------------------------- compositing


def _tiny_assets():
    """Small in-memory stand-ins for the cached assets (no network, no cache)."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (60, 80, 3)).astype(np.uint8)
    tex = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    env = rng.uniform(0, 3, (16, 32, 3)).astype(np.float32)
    return assets.Assets(backgrounds=[("photo", photo)], hdris=[("env", env)],
                         textures=[("gimp.burlap", tex)], manifest=[])


@pytest.mark.parametrize("use_assets", [False, True])
def test_render_is_deterministic_uint8(use_assets):
    fig = _figure(96, 64)
    kit = _tiny_assets() if use_assets else compose.EMPTY_ASSETS
    outs = [compose.render(fig.gbuffer, 7, kit, fig.feet_px, fig.height_px) for _ in range(2)]
    assert outs[0].image.dtype == np.uint8 and outs[0].image.shape == (96, 64, 3)
    np.testing.assert_array_equal(outs[0].image, outs[1].image)
    assert outs[0].background == ("photo" if use_assets else "procedural")
    other = compose.render(fig.gbuffer, 8, kit, fig.feet_px, fig.height_px)
    assert not np.array_equal(other.image, outs[0].image)


def _relabelled(gb, rng):
    """The same surface (mask, depth, normals) with other part ids and along/around."""
    m = gb.mask
    part = gb.part.copy()
    part[m] = rng.integers(0, 17, int(m.sum()))
    along = np.where(m, rng.uniform(0, 1, m.shape), 0).astype(np.float32)
    around = np.where(m, rng.uniform(0, 0.999, m.shape), 0).astype(np.float32)
    return GBuffer(mask=gb.mask, depth=gb.depth, normal=gb.normal, part=part, along=along,
                   around=around)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_labels_do_not_reach_the_pixels_outside_the_person(seed):
    """Changing every part id / along / around changes the person only: pixels further than
    the camera blur (<= 6 px here) and a JPEG colour block (16 px) can carry from the mask
    are equal."""
    import cv2
    fig = demo.render_figure(160, 160, fill=0.45)
    kit = _tiny_assets()
    a = compose.render(fig.gbuffer, seed, kit, fig.feet_px, fig.height_px, occluder_p=0.5)
    b = compose.render(_relabelled(fig.gbuffer, np.random.default_rng(seed)), seed, kit,
                       fig.feet_px, fig.height_px, occluder_p=0.5)
    near = cv2.dilate(fig.gbuffer.mask.astype(np.uint8), np.ones((49, 49), np.uint8)) > 0
    assert (~near).sum() > 0.25 * near.size
    np.testing.assert_array_equal(a.image[~near], b.image[~near])
    assert not np.array_equal(a.image[fig.gbuffer.mask], b.image[fig.gbuffer.mask])


def test_supersampled_and_soft_edges():
    fig2 = _figure(96, 64, k=2)
    out = compose.render(fig2.gbuffer, 3, compose.EMPTY_ASSETS, fig2.feet_px, fig2.height_px,
                         supersample=2, occluder_p=0.0)
    assert out.image.shape == (96, 64, 3)
    partial = (out.person_alpha > 0.05) & (out.person_alpha < 0.95)
    assert partial.any() and out.person_alpha.max() == pytest.approx(1.0)
    fig1 = _figure(96, 64)
    soft = compose.render(fig1.gbuffer, 3, compose.EMPTY_ASSETS, occluder_p=0.0)
    assert ((soft.person_alpha > 0.05) & (soft.person_alpha < 0.95)).any()
    with pytest.raises(ValueError, match="supersample"):
        compose.render(fig1.gbuffer, 3, supersample=5)


def test_contact_shadow_darkens_under_the_feet_only():
    feet = np.array([[30.0, 50.0], [50.0, 52.0]])
    shade = compose.contact_shadow(64, 80, feet, person_height_px=50.0, strength=0.6)
    assert shade.shape == (64, 80) and shade.dtype == np.float32
    assert shade[50, 30] < 0.5 and shade[52, 50] < 0.5
    assert shade[5, 5] > 0.999 and shade[20, 40] > 0.99  # far above the feet
    assert shade.min() >= 0.4 - 1e-6
    np.testing.assert_array_equal(compose.contact_shadow(8, 8, np.zeros((0, 2)), 10.0), 1.0)
    # against the blobs written out in 2D (three anisotropic Gaussians, their maximum)
    yy, xx = np.mgrid[0:64, 0:80].astype(np.float64)
    occ = np.zeros((64, 80))
    for (fx, fy), sx, weight in ((feet[0], 3.5, 1.0), (feet[1], 3.5, 1.0),
                                 (feet.mean(0), 10.0, 0.5)):
        sy = 0.25 * sx
        occ = np.maximum(occ, weight * np.exp(-0.5 * (((xx - fx) / sx) ** 2
                                                      + ((yy - fy - 0.3 * sy) / sy) ** 2)))
    np.testing.assert_allclose(shade, 1 - 0.6 * occ, atol=1e-6)


def test_occluder_covers_part_of_the_person_sometimes():
    fig = _figure(96, 64)
    kit = _tiny_assets()
    covered = []
    for seed in range(12):
        out = compose.render(fig.gbuffer, seed, kit, occluder_p=1.0)
        person = fig.gbuffer.mask
        covered.append(float((out.occluder_alpha[person] > 0.5).mean()))
        np.testing.assert_allclose(out.person_alpha,
                                   np.clip(out.person_alpha, 0, 1))
    covered = np.array(covered)
    assert (covered > 0.02).mean() > 0.5 and covered.max() < 0.95


# ----------------------------------------------------------------------------- camera


def test_srgb_curve_known_values():
    # IEC 61966-2-1 reference points: linear 0.5 -> 0.735357, 0.0031308 at the knee -> 0.04045
    np.testing.assert_allclose(camera_effects.linear_to_srgb(np.array([0.0, 0.0031308, 0.5, 1.0])),
                               [0.0, 0.04045, 0.735357, 1.0], atol=2e-5)
    x = np.linspace(0, 1, 101, dtype=np.float32)
    np.testing.assert_allclose(camera_effects.srgb_to_linear(camera_effects.linear_to_srgb(x)),
                               x, atol=1e-5)


def test_blur_kernels_are_normalised_and_effects_off_is_identity():
    for length, angle in ((1.5, 0.0), (5.0, 1.0), (9.3, 2.5)):
        k = camera_effects.motion_kernel(length, angle)
        assert k.sum() == pytest.approx(1.0, abs=1e-5) and k.min() >= 0
    for radius in (0.6, 1.5, 3.0):
        k = camera_effects.disc_kernel(radius)
        assert k.sum() == pytest.approx(1.0, abs=1e-5)
        assert k[k.shape[0] // 2, k.shape[1] // 2] == k.max()
    img = np.random.default_rng(0).uniform(0, 1, (16, 16, 3)).astype(np.float32)
    out = camera_effects.apply_effects(img, camera_effects.CameraEffects(),
                                       np.random.default_rng(0))
    exact = np.round(camera_effects.linear_to_srgb(img) * 255).astype(np.uint8)
    # the 16-bit table rounds like the exact curve except within 1/65535 of a code boundary
    assert np.abs(out.astype(int) - exact).max() <= 1 and (out == exact).mean() > 0.99


def test_quantised_gaussian_noise_is_standard_normal():
    for seed in range(3):
        x = camera_effects.gaussian_noise(np.random.default_rng(seed), (256, 256, 3))
        assert x.dtype == np.float32 and x.shape == (256, 256, 3)
        # n = 196,608 draws: sd of the sample mean 0.0023, of the sample sd 0.0016
        assert abs(x.mean()) < 0.012 and abs(x.std() - 1) < 0.01
        # normal probabilities of |x| < 1 and |x| < 2 (sd of the fractions < 0.0012)
        assert abs((np.abs(x) < 1).mean() - 0.682689) < 0.006
        assert abs((np.abs(x) < 2).mean() - 0.954500) < 0.006
    np.testing.assert_array_equal(camera_effects.gaussian_noise(np.random.default_rng(5), (9,)),
                                  camera_effects.gaussian_noise(np.random.default_rng(5), (9,)))


def test_srgb_tables_match_the_curves():
    codes = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(camera_effects.srgb8_to_linear(codes),
                                  camera_effects.srgb_to_linear(codes / np.float32(255)))
    x = np.random.default_rng(1).uniform(-0.1, 1.1, 200000).astype(np.float32)
    exact = np.round(camera_effects.linear_to_srgb(x).astype(np.float64) * 255)
    table = camera_effects.linear_to_srgb8(x)
    assert np.abs(table - exact).max() <= 1 and (table == exact).mean() > 0.995
    # a code boundary value away from the table's step: both agree
    np.testing.assert_array_equal(camera_effects.linear_to_srgb8(np.float32([0, 0.5, 1, 2])),
                                  [0, 188, 255, 255])


def test_camera_effects_change_the_image_plausibly():
    img = np.zeros((64, 64, 3), np.float32)
    img[:, 32:] = 0.5
    fx = camera_effects.CameraEffects(motion_length=5.0, defocus_radius=1.5, jpeg_quality=50,
                                      shot_noise=1e-3, read_noise=3e-3)
    out = camera_effects.apply_effects(img, fx, np.random.default_rng(0)).astype(np.float32)
    ref = np.round(camera_effects.linear_to_srgb(img) * 255)
    assert np.abs(out - ref).mean() > 0.5            # something happened
    assert np.abs(out[:, :24] - ref[:, :24]).mean() < 12   # but far from the edge, little
    edge = out[32, 28:36, 1]
    assert edge[0] < edge[3] < edge[-1]              # the step is blurred, still monotone-ish


def test_feet_from_gbuffer_matches_the_projected_soles():
    fig = demo.render_figure(160, 120, fill=0.8)
    feet, height = compose.feet_from_gbuffer(fig.gbuffer)
    assert feet.shape == (2, 2)
    # sole centres projected by the figure vs the lowest foot pixels: a few px apart at most
    assert np.abs(np.sort(feet[:, 0]) - np.sort(fig.feet_px[:, 0])).max() < 6
    assert np.abs(feet[:, 1].max() - fig.feet_px[:, 1].max()) < 6
    assert abs(height - fig.height_px) < 0.06 * fig.height_px
    none, zero = compose.feet_from_gbuffer(GBuffer.empty(8, 8))
    assert none.shape == (0, 2) and zero == 0.0


def _shadow_centroid_offset(direction):
    fig = demo.render_figure(128, 128, fill=0.5)
    cov = fig.gbuffer.mask.astype(np.float32)
    shade = compose.cast_shadow(cov, fig.feet_px, fig.height_px, _unit(direction), 0.6)
    dark = (1.0 - shade) * (1.0 - cov)  # the shadow where it is seen (off the person)
    assert dark.sum() > 0 and shade.min() >= 0.4 - 1e-6
    ys, xs = np.mgrid[0:128, 0:128]
    centroid = np.array([(dark * xs).sum(), (dark * ys).sum()]) / dark.sum()
    return centroid - fig.feet_px.mean(0)


def test_cast_shadow_falls_away_from_the_light():
    from_left = _shadow_centroid_offset([-0.8, -0.5, 0.0])
    from_right = _shadow_centroid_offset([0.8, -0.5, 0.0])
    assert from_left[0] > 5 and from_right[0] < -5          # opposite side of the feet
    behind = _shadow_centroid_offset([0.0, -0.5, 0.8])        # light beyond the person
    assert behind[1] > 2                                      # shadow comes towards the camera
    cov = np.ones((8, 8), np.float32)
    below = compose.cast_shadow(cov, np.array([[4.0, 7.0]]), 6.0, _unit([0, 0.3, 1]), 0.6)
    np.testing.assert_array_equal(below, 1.0)                 # light below the horizon


def test_ambient_occlusion_darkens_surfaces_behind_nearer_ones():
    h, w = 64, 64
    gb = GBuffer.empty(h, w)
    gb.mask[8:56, 8:56] = True
    gb.depth[8:56, 8:56] = 3.0
    gb.depth[8:56, 28:36] = 2.7        # a bar 30 cm in front of the back plane
    ao = compose.ambient_occlusion(gb, strength=0.5, radius_m=0.12)
    assert np.all(ao[~gb.mask] == 1.0)
    assert ao[30, 26] < 0.9            # back plane beside the bar: occluded
    assert ao[30, 10] > ao[30, 26]     # further from the bar: less
    assert np.all(ao[:, 28:36] == 1.0)  # the bar itself is in front of its surroundings
    assert ao.min() >= 0.5 - 1e-6


def _serve_fake_deb(tmp_path, monkeypatch, pkg, photos, copyright_text):
    """Build a .deb of ``photos`` (name -> uint8 image) and a copyright file (if not None),
    and point assets.APT_GET at a script that "downloads" it into the working directory."""
    import subprocess

    import cv2
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {pkg}\nVersion: 20.04.0-2\nArchitecture: all\nMaintainer: t <t@t>\n"
        "Description: test\n")
    folder = root / "usr/share/backgrounds"
    folder.mkdir(parents=True)
    for name, img in photos.items():
        cv2.imwrite(str(folder / name), img)
    if copyright_text is not None:
        doc = root / f"usr/share/doc/{pkg}"
        doc.mkdir(parents=True)
        (doc / "copyright").write_text(copyright_text)
    deb = tmp_path / "served.deb"
    subprocess.run(["dpkg-deb", "--build", str(root), str(deb)], check=True,
                   capture_output=True)
    fake = tmp_path / "fake-apt-get"
    fake.write_text(f"#!/bin/sh\n[ \"$1\" = download ] || exit 2\n"
                    f"cp '{deb}' ./{pkg}_20.04.0-2_all.deb\n")
    fake.chmod(0o755)
    monkeypatch.setattr(assets, "APT_GET", str(fake))


needs_dpkg = pytest.mark.skipif(__import__("shutil").which("dpkg-deb") is None,
                                reason="needs dpkg-deb")


@needs_dpkg
def test_fetch_and_cache_a_package_end_to_end(tmp_path, monkeypatch):
    """A hand-made .deb served by a stand-in apt-get: unpacked, licences read per file, the
    non-commercial and the excluded photo left out, the big photo downscaled, manifest written."""
    import json
    import os

    import cv2
    pkg = "lomiri-wallpapers-16.04"
    big = np.random.default_rng(0).integers(0, 256, (600, 2048, 3)).astype(np.uint8)
    _serve_fake_deb(tmp_path, monkeypatch, pkg, {
        name: big for name in ("open_by_A.jpg", "nc_by_B.jpg",
                               "analogpattern_by_Peter_Nerlich.jpg")},
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: 16.04/open_by_A.jpg\n       16.04/analogpattern_by_Peter_Nerlich.jpg\n"
        "Copyright: 2018, A\nLicense: CC-BY-4.0\n\n"
        "Files: 16.04/nc_by_B.jpg\nCopyright: 2018, B\nLicense: CC-BY-NC-4.0\n")
    with pytest.warns(UserWarning, match="commercial"):
        records = assets.build_cache(str(tmp_path / "cache"), packages=[pkg])
    assert [r["name"] for r in records] == ["lomiri.open_by_A"]
    r = records[0]
    assert r["licence"] == "CC-BY-4.0" and r["copyright"] == "2018, A"
    assert r["version"] == "20.04.0-2" and r["source"] == "/usr/share/backgrounds/open_by_A.jpg"
    out = assets.cache_dir(str(tmp_path / "cache"))
    img = cv2.imread(os.path.join(out, r["file"]))
    assert max(img.shape[:2]) == assets.BACKGROUND_LONG_SIDE
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["files"] == records and "excluded" in manifest


@needs_dpkg
def test_a_broken_package_degrades_with_a_warning(tmp_path, monkeypatch):
    pkg = "lomiri-wallpapers-16.04"
    _serve_fake_deb(tmp_path, monkeypatch, pkg, {"x.jpg": np.zeros((4, 4, 3), np.uint8)},
                    copyright_text=None)  # no debian/copyright in the package
    with pytest.warns(UserWarning, match="unavailable"):
        records = assets.build_cache(str(tmp_path / "cache"), packages=[pkg])
    assert records == []


def test_an_empty_gbuffer_renders_the_background_only():
    out = compose.render(GBuffer.empty(40, 30), 0, _tiny_assets(), np.zeros((0, 2)), 0.0,
                         occluder_p=1.0)
    assert out.image.shape == (40, 30, 3) and out.image.dtype == np.uint8
    assert np.all(out.person_alpha == 0)
