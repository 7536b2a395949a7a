"""Loose clothes and hair volume of the realistic synthetic look (appearance.loosen): a
screen-space transform of the G-buffer that grows garments and hair beyond the body."""

import dataclasses

import cv2
import numpy as np
import pytest

from mhp_tf_datasets.synthetic.realistic import appearance
from mhp_tf_datasets.synthetic.realistic import compose
from mhp_tf_datasets.synthetic.realistic import demo
from mhp_tf_datasets.synthetic.realistic.gbuffer import GBuffer
from mhp_tf_datasets.synthetic.realistic.gbuffer import PART

FIELDS = [f.name for f in dataclasses.fields(GBuffer) if f.name != "uv"]
LEGS = [PART[n] for n in ("l_thigh", "r_thigh", "l_shin", "r_shin")]


def _figure(yaw=0.0, seed=None):
    rng = None if seed is None else np.random.default_rng(seed)
    fig = demo.render_figure(192, 128, yaw=yaw, fill=0.85, rng=rng)
    return fig.gbuffer, compose.pixels_per_metre(fig.gbuffer, None, fig.height_px)


def _tight(**overrides):
    """A look of seed 0 made skin-tight (a shirt, trousers, no hair volume), then changed."""
    look = appearance.sample_look(np.random.default_rng(0))
    look.top = appearance.sample_garment(np.random.default_rng(1), pattern="solid")
    look.top_kind, look.bottom_kind, look.bottom_end = "shirt", "trousers", 0.95
    look.sleeve, look.sleeve_end = "short", 0.5
    look.top_loose = look.bottom_loose = look.hair_volume = look.hair_fall = 0.0
    look.cap = None
    for k, v in overrides.items():
        setattr(look, k, v)
    return look


def _regions(gb, look):
    """Garment masks ``[H, W]`` of a G-buffer (appearance.garment_regions over its pixels)."""
    m = gb.mask
    flat = appearance.garment_regions(look, gb.part[m], gb.along[m], gb.around[m])
    out = {}
    for key, sel in flat.items():
        full = np.zeros(m.shape, bool)
        full[m] = sel
        out[key] = full
    return out


def _distance_to(mask):
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _copy(gb):
    return GBuffer(**{f: np.copy(getattr(gb, f)) for f in FIELDS})


@pytest.mark.parametrize("seed", range(8))
def test_loosen_keeps_every_body_pixel_and_its_surface(seed):
    gb, ppm = _figure(yaw=seed * 0.8, seed=seed)
    look = appearance.sample_look(np.random.default_rng(seed))
    before = _copy(gb)
    out = appearance.loosen(gb, look, ppm)
    for f in FIELDS:  # the input is left as it was
        np.testing.assert_array_equal(getattr(gb, f), getattr(before, f), f)
    assert np.all(out.mask[gb.mask])
    changed = gb.mask & ((out.part != gb.part) | (out.along != gb.along)
                         | (out.around != gb.around))
    if look.bottom_kind in ("skirt", "dress") or look.top_kind == "coat":
        assert np.all(np.isin(gb.part[changed], LEGS))  # bare legs behind a skirt only
    else:
        assert not changed.any()
    new = out.mask & ~gb.mask
    assert np.all(out.part[new] >= 0) and np.all(np.isfinite(out.depth[new]))
    np.testing.assert_allclose(np.linalg.norm(out.normal[out.mask], axis=-1), 1.0, atol=1e-5)
    assert np.all(out.normal[new][:, 2] < 0)  # facing the camera
    np.testing.assert_array_equal(out.normal[gb.mask & ~changed], gb.normal[gb.mask & ~changed])
    assert np.all((out.along[out.mask] >= 0) & (out.along[out.mask] <= 1))


@pytest.mark.parametrize("seed", range(6))
def test_grown_pixels_stay_within_the_standoff(seed):
    gb, ppm = _figure(yaw=seed * 1.1, seed=seed)
    look = appearance.sample_look(np.random.default_rng(100 + seed))
    look.bottom_kind = "trousers" if look.bottom_kind in ("skirt", "dress") else look.bottom_kind
    look.top_kind = "jacket" if look.top is not None else "shirt"
    look.top_loose = 0.06 if look.top is not None else 0.0
    look.hair_fall = 0.0
    out = appearance.loosen(gb, look, ppm)
    new = out.mask & ~gb.mask
    reach = max(look.top_loose, look.bottom_loose, look.hair_volume) * ppm
    assert reach > 5 and new.sum() > 50
    assert _distance_to(gb.mask)[new].max() <= reach + 2


def test_each_garment_grows_as_itself():
    gb, ppm = _figure()
    for key, changes in (("top", dict(top_loose=0.05)), ("bottom", dict(bottom_loose=0.04)),
                         ("hair", dict(hair=appearance.sample_garment(np.random.default_rng(2)),
                                       hair_volume=0.04))):
        look = _tight(**changes)
        out = appearance.loosen(gb, look, ppm)
        new = out.mask & ~gb.mask
        assert new.sum() > 30, key
        regions = _regions(out, look)
        assert np.all(regions[key][new]), key   # painted as the garment it grew from
        others = [k for k in ("top", "bottom", "hair") if k != key]
        if key != "bottom":  # (trousers and top overlap nowhere; hair vs cloth neither)
            assert not any(regions[k][new].any() for k in others), key


def test_long_hair_hangs_near_the_head():
    gb, ppm = _figure()
    hair = appearance.sample_garment(np.random.default_rng(2))
    look = _tight(hair=hair, long_hair=True, hairline_back=0.1, hair_volume=0.03,
                  hair_fall=0.2)
    out = appearance.loosen(gb, look, ppm)
    new = out.mask & ~gb.mask
    assert new.sum() > 20
    head = gb.part == PART["head"]
    d = _distance_to(head)[new]
    assert d.max() <= (look.hair_volume + look.hair_fall) * ppm + 2
    # it hangs beside the face and neck well below the hair on the head; all of it is hair
    lowest = np.nonzero(_regions(gb, look)["hair"])[0].max()
    assert np.nonzero(new)[0].max() > lowest + 0.08 * ppm
    assert np.all(_regions(out, look)["hair"][new])
    short = appearance.loosen(gb, dataclasses.replace(look, hair_fall=0.0), ppm)
    grown = short.mask & ~gb.mask
    assert grown.sum() < new.sum()
    assert np.nonzero(grown)[0].max() <= lowest + look.hair_volume * ppm + 2


def test_a_coat_covers_the_thighs_above_its_hem():
    gb, ppm = _figure()
    look = _tight(top_kind="coat", sleeve="long", sleeve_end=0.95, coat_end=0.6)
    regions = _regions(gb, look)
    thigh = gb.part == PART["l_thigh"]
    assert thigh.sum() > 50
    above, below = thigh & (gb.along < 0.58), thigh & (gb.along > 0.62)
    assert np.all(regions["top"][above]) and not regions["bottom"][above].any()
    assert not regions["top"][below].any() and np.all(regions["bottom"][below])
    assert np.all(regions["top"][gb.part == PART["pelvis"]])  # over the hips
    shirt = _regions(gb, dataclasses.replace(look, top_kind="shirt"))
    assert not shirt["top"][thigh].any()
    # painted: the coat's colour on the upper thigh
    albedo, _ = appearance.paint(gb, look)
    top_colour = appearance.garment_albedo(look.top, np.zeros(1), np.zeros(1))[0]
    assert np.allclose(albedo[above].mean(0), top_colour, atol=0.15 * top_colour.max() + 0.02)


def _two_legs(h=96, w=96):
    """A hand-made G-buffer: a pelvis and two spread legs (thighs, shins), facing the
    camera, background between the legs."""
    gb = GBuffer.empty(h, w)

    def box(name, y0, y1, x0, x1):
        gb.mask[y0:y1, x0:x1] = True
        gb.part[y0:y1, x0:x1] = PART[name]
        gb.along[y0:y1, x0:x1] = np.linspace(0, 1, y1 - y0)[:, None]
        gb.depth[y0:y1, x0:x1] = 3.0
        gb.normal[y0:y1, x0:x1] = (0.0, 0.0, -1.0)

    box("pelvis", 15, 30, 28, 68)
    gb.along[15:30] = gb.along[15:30][::-1]  # pelvis: hip line (bottom) to waist (top)
    box("r_thigh", 30, 60, 28, 40)
    box("l_thigh", 30, 60, 56, 68)
    box("r_shin", 60, 88, 28, 38)
    box("l_shin", 60, 88, 58, 68)
    return gb


def test_a_skirt_spans_between_spread_legs():
    gb = _two_legs()
    look = _tight(bottom_kind="skirt", bottom_end=0.8)
    out = appearance.loosen(gb, look, 40.0)
    between = (slice(32, 50), slice(44, 52))      # background between the thighs
    assert not gb.mask[between].any()
    assert np.all(out.mask[between])
    assert np.all(_regions(out, look)["bottom"][between])
    assert np.all(out.depth[between] >= 3.0) and np.all(out.depth[between] < 3.2)
    assert not out.mask[70:88, 42:54].any()       # below the hem the legs stay apart
    assert np.array_equal(out.mask[:14], gb.mask[:14])  # nothing above the waist
    # trousers leave the gap open
    trousers = appearance.loosen(gb, dataclasses.replace(look, bottom_kind="trousers"), 40.0)
    assert not trousers.mask[between].any()


def test_a_tight_look_leaves_the_gbuffer_as_it_is():
    gb, ppm = _figure()
    for look in (_tight(), _tight(hair=appearance.sample_garment(np.random.default_rng(2)),
                                  long_hair=True), _tight(top=None)):
        out = appearance.loosen(gb, look, ppm)
        assert out is not gb
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(out, f), getattr(gb, f), f)
    loose = appearance.loosen(gb, _tight(top_loose=0.05), ppm)
    assert (loose.mask & ~gb.mask).any()


def test_pixels_per_metre():
    gb, _ = _figure()
    cam = type("Cam", (), {"fx": 300.0})()
    depth = float(np.median(gb.depth[gb.mask]))
    assert compose.pixels_per_metre(gb, cam) == pytest.approx(300.0 / depth, rel=0.02)
    assert compose.pixels_per_metre(gb, None, 170.0) == pytest.approx(100.0)
    rows = np.nonzero(gb.mask.any(1))[0]
    assert compose.pixels_per_metre(gb) == pytest.approx((rows[-1] - rows[0] + 1) / 1.7)
    assert compose.pixels_per_metre(GBuffer.empty(8, 8)) == 0.0


def test_render_dresses_the_silhouette_and_is_deterministic(monkeypatch):
    fig = demo.render_figure(96, 64, fill=0.9)
    outs = [compose.render(fig.gbuffer, 11, compose.EMPTY_ASSETS, fig.feet_px, fig.height_px)
            for _ in range(2)]
    np.testing.assert_array_equal(outs[0].image, outs[1].image)
    np.testing.assert_array_equal(outs[0].person_alpha, outs[1].person_alpha)
    coat = _tight(top_kind="coat", sleeve="long", sleeve_end=0.95, coat_end=0.7, top_loose=0.06)
    monkeypatch.setattr(appearance, "sample_look", lambda rng, textures=(): coat)
    dressed = compose.render(fig.gbuffer, 11, compose.EMPTY_ASSETS, fig.feet_px, fig.height_px,
                             occluder_p=0.0)
    again = compose.render(fig.gbuffer, 11, compose.EMPTY_ASSETS, fig.feet_px, fig.height_px,
                           occluder_p=0.0)
    np.testing.assert_array_equal(dressed.image, again.image)
    assert (dressed.person_alpha > 0.5).sum() > fig.gbuffer.mask.sum() + 40
    assert "coat" in dressed.look
