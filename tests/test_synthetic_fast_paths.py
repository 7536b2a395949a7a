"""The realistic look stage's fast paths give exactly what the whole-frame computations give.

Blurs, shades and sorts of the look stage run on the person's bounding box (grown by the
blur kernel's reach) instead of the whole frame, a radix sort replaces a merge sort, and so
on: renders must not change by a bit (built datasets keep their version). Each test
computes the plain whole-frame version here, independently, and compares bit for bit on
masks that touch the frame's edges and masks in its middle.
"""

import cv2
import numpy as np
import pytest

from mhp_tf_datasets.synthetic import scene
from mhp_tf_datasets.synthetic.realistic import compose
from mhp_tf_datasets.synthetic.realistic import crops
from mhp_tf_datasets.synthetic.realistic import rasterizer
from mhp_tf_datasets.synthetic.realistic import shadows
from mhp_tf_datasets.synthetic.realistic import stage
from mhp_tf_datasets.synthetic.realistic.gbuffer import GBuffer

H, W = 72, 88


def _blob_mask(seed: int, where: str) -> np.ndarray:
    """A lumpy person-like mask: in the middle, or cut by the frame's left/top edges."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((H, W), np.uint8)
    cx, cy = (W / 2, H / 2) if where == "middle" else (6.0, 5.0)
    for _ in range(6):
        centre = (int(cx + rng.uniform(-12, 12)), int(cy + rng.uniform(-14, 14)))
        axes = (int(rng.uniform(3, 12)), int(rng.uniform(6, 20)))
        cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, 1, -1)
    return mask.astype(bool)


def _gbuffer(seed: int, where: str) -> GBuffer:
    rng = np.random.default_rng(seed + 100)
    gb = GBuffer.empty(H, W)
    gb.mask[:] = _blob_mask(seed, where)
    gb.depth[gb.mask] = rng.uniform(2.5, 3.2, gb.mask.sum())
    n = rng.normal(size=(gb.mask.sum(), 3))
    n[:, 2] = -np.abs(n[:, 2]) - 0.5
    gb.normal[gb.mask] = n / np.linalg.norm(n, axis=1, keepdims=True)
    return gb


CASES = [(seed, where) for seed in (0, 1, 2) for where in ("middle", "edge")]


def _soft_edges_reference(premult, coverage):
    hard = coverage > 0.5
    k = np.ones((3, 3), np.uint8)
    band = (cv2.dilate(hard.astype(np.uint8), k) > 0) & ~(cv2.erode(hard.astype(np.uint8), k) > 0)
    return (np.where(band[..., None], cv2.GaussianBlur(premult, (0, 0), 0.7), premult),
            np.where(band, cv2.GaussianBlur(coverage, (0, 0), 0.7), coverage))


def test_soft_edges_equal_a_whole_frame_blur():
    """Frames of many sizes, a silhouette anywhere in them (cut by any edge). With blur boxes
    not aligned to :data:`crops.COLUMN_ALIGN` a quarter of these cases differ in the last
    bit (OpenCV's scalar tail loop rounds unlike its vector loop)."""
    rng = np.random.default_rng(1)
    for _ in range(200):
        h, w = int(rng.integers(40, 120)), int(rng.integers(40, 120))
        mask = np.zeros((h, w), np.uint8)
        cv2.ellipse(mask, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                    (int(rng.integers(3, 30)), int(rng.integers(3, 30))), 0, 0, 360, 1, -1)
        coverage = mask.astype(np.float32)
        premult = (rng.random((h, w, 3)) * coverage[..., None]).astype(np.float32)
        want_p, want_c = _soft_edges_reference(premult, coverage)
        got_p, got_c = compose._soft_edges(premult, coverage)
        np.testing.assert_array_equal(got_c, want_c)
        np.testing.assert_array_equal(got_p, want_p)


def test_blur_box_holds_the_mask_and_its_reach():
    mask = np.zeros((50, 200), bool)
    mask[20:30, 100:120] = True
    rows, cols = crops.blur_box(mask, 2.0)
    for sigma in (0.7, 2.0, 6.0, 11.3):  # the reach is the support of a blurred point
        point = np.zeros((1, 201), np.float32)
        point[0, 100] = 1.0
        support = np.flatnonzero(cv2.GaussianBlur(point, (0, 0), sigma)[0])
        assert crops.blur_reach(sigma) == 100 - support[0] == support[-1] - 100
    reach = crops.blur_reach(2.0)
    assert rows == slice(20 - reach - 1, 30 + reach + 1)
    assert cols.start % crops.COLUMN_ALIGN == 0 and cols.start <= 100 - reach - 1
    assert cols.stop == 200
    assert crops.blur_box(np.zeros((5, 5), bool), 1.0) is None



def test_masked_blur_mean_equals_a_whole_frame_normalised_blur():
    """``crops.masked_blur_mean`` (the shared helper of the penumbra and ambient occlusion)
    gives, at every mask pixel, the whole frame's blur(values x mask) / blur(mask), bit
    for bit, for masks anywhere in frames of widths that are and are not multiples of the
    column alignment, and sigmas up to a quarter of the frame."""
    rng = np.random.default_rng(11)
    for case in range(60):
        h, w = int(rng.integers(20, 90)), int(rng.choice([64, 128, int(rng.integers(20, 200))]))
        mask = np.zeros((h, w), bool)
        y0, x0 = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
        mask[y0:y0 + int(rng.integers(1, h)), x0:x0 + int(rng.integers(1, w))] = True
        mask &= rng.random((h, w)) < 0.8
        if not mask.any():
            continue
        values = rng.random((h, w)).astype(np.float32) * 3
        sigma = float(rng.uniform(0.3, 0.25 * max(h, w)))
        m = mask.astype(np.float32)
        want = (cv2.GaussianBlur(values * m, (0, 0), sigma)
                / np.maximum(cv2.GaussianBlur(m, (0, 0), sigma), 1e-6))
        box, got = crops.masked_blur_mean(values, mask, sigma)
        assert mask[box].sum() == mask.sum()  # the box holds the whole mask
        np.testing.assert_array_equal(got, want[box][mask[box]], err_msg=f"case {case}")
    assert crops.masked_blur_mean(np.ones((4, 4), np.float32), np.zeros((4, 4), bool), 1.0) \
        is None

@pytest.mark.parametrize("seed,where", CASES)
def test_ambient_occlusion_equals_whole_frame_blurs(seed, where):
    gb = _gbuffer(seed, where)
    mask = gb.mask
    rows = np.nonzero(mask.any(axis=1))[0]
    sigma = max(0.03 * (rows[-1] - rows[0] + 1), 1.0)
    depth = np.where(mask, gb.depth, 0.0).astype(np.float32)
    mean = cv2.GaussianBlur(depth, (0, 0), sigma) / np.maximum(
        cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma), 1e-6)
    want = np.ones((H, W), np.float32)
    want[mask] = 1.0 - 0.45 * np.clip((depth - mean) / 0.12, 0.0, 1.0)[mask]
    got = compose.ambient_occlusion(gb, 0.45)
    np.testing.assert_array_equal(got, want)
    assert (got[mask] < 1).any()  # the case is not trivial


@pytest.mark.parametrize("seed,where", CASES)
def test_self_shadow_penumbra_equals_whole_frame_blurs(seed, where):
    gb = _gbuffer(seed, where)
    cam = scene.Camera(120.0, 120.0, (W - 1) / 2, (H - 1) / 2, W, H, np.eye(3), np.zeros(3))
    # a caster: a vertical strip of plate in front of the person's middle, lit from
    # nearly behind the camera, so its shadow runs down the person with lit parts each side
    ys, xs = np.nonzero(gb.mask)
    mid = float(np.mean((xs - cam.cx) / cam.fx * gb.depth[ys, xs]))
    plate = np.array([[mid - 0.1, -5.0, 2.0], [mid + 0.1, -5.0, 2.0], [mid + 0.1, 5.0, 2.0],
                      [mid - 0.1, 5.0, 2.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 2, 1], [0, 3, 2]])
    caster = shadows.Caster(plate, faces)
    direction = np.array([0.05, -0.05, -1.0])
    direction /= np.linalg.norm(direction)
    hard = shadows.self_shadow(gb, cam, caster, direction, 0.0)
    assert (hard[gb.mask] < 1).any() and (hard[gb.mask] == 1).any()
    sigma = 2.3
    m = gb.mask.astype(np.float32)
    blurred = cv2.GaussianBlur(hard * m, (0, 0), sigma)
    weight = cv2.GaussianBlur(m, (0, 0), sigma)
    want = hard.copy()
    want[gb.mask] = blurred[gb.mask] / np.maximum(weight[gb.mask], 1e-6)
    np.testing.assert_array_equal(shadows.self_shadow(gb, cam, caster, direction, sigma), want)


@pytest.mark.parametrize("feet", [[[40.0, 60.0], [52.0, 61.0]], [[-3.0, 70.0]], [[80.0, 2.0]]])
def test_contact_shadow_box_holds_every_shade_below_one(feet):
    feet = np.asarray(feet)
    height_px, strength = 55.0, 0.6
    ys, xs = np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64)
    occlusion = np.zeros((H, W), np.float32)
    for (fx, fy), rel, weight in [(f, 0.07, 1.0) for f in feet] + [(feet.mean(0), 0.2, 0.5)]:
        sx = max(rel * height_px, 1.0)
        sy = max(0.25 * sx, 0.7)
        gy = weight * np.exp(-0.5 * ((ys - fy - 0.3 * sy) / sy) ** 2)
        gx = np.exp(-0.5 * ((xs - fx) / sx) ** 2)
        occlusion = np.maximum(occlusion, np.outer(gy, gx).astype(np.float32))
    want = (1.0 - strength * occlusion).astype(np.float32)
    np.testing.assert_array_equal(compose.contact_shadow(H, W, feet, height_px, strength), want)
    box, shade = compose._contact_shadow_box(H, W, feet, height_px, strength)
    outside = np.ones((H, W), bool)
    outside[box] = False
    assert (want[outside] == 1.0).all() and (shade < 1).any()
    np.testing.assert_array_equal(shade, want[box])


def test_stage_sample_equals_a_merge_sorted_lookup():
    """``stage._sample`` sorts points by pyramid level with a radix sort of uint8 levels:
    the same looked-up colours as a plain merge sort of the int32 levels."""
    rng = np.random.default_rng(5)
    base = rng.random((64, 64, 3)).astype(np.float32)
    pyramid = [base]
    while pyramid[-1].shape[0] > 2:
        pyramid.append(cv2.pyrDown(pyramid[-1]))
    n = 5000
    tx, ty = rng.uniform(-50, 150, n), rng.uniform(-50, 150, n)
    footprint = np.exp(rng.uniform(-1, 5, n))
    got = stage._sample(pyramid, tx, ty, footprint, cv2.BORDER_WRAP)
    # the reference: every point looked up at its two levels, one at a time
    level = np.clip(np.log2(np.maximum(footprint, 1e-6)), 0.0, len(pyramid) - 1.0)
    lo = np.floor(level).astype(np.int32)
    want = np.zeros((n, 3), np.float32)
    for k, tex in enumerate(pyramid):
        frac = (level - lo).astype(np.float32)
        for sel, wk in ((lo == k - 1, frac), (lo == k, 1.0 - frac)):
            if not sel.any():
                continue
            mx = np.mod((tx[sel] * 0.5 ** k).astype(np.float32), tex.shape[1]).astype(np.float32)
            my = np.mod((ty[sel] * 0.5 ** k).astype(np.float32), tex.shape[0]).astype(np.float32)
            want[sel] += cv2.remap(tex, mx[None], my[None], cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_WRAP)[0] * wk[sel][:, None]
    np.testing.assert_array_equal(got, want)


def test_rasterizer_interpolates_the_corners_as_einsum_does():
    """``rasterize`` writes the barycentric sums of normals and circle vectors out by hand
    and culls with an element-wise minimum: the normals equal einsum's. (Bit for bit on the
    machine that built the datasets; einsum may use fused multiply-adds elsewhere, so this
    allows float64 rounding: a few ulps of values of magnitude 1.)"""
    rng = np.random.default_rng(3)
    # a bumpy closed-ish surface: a grid facing the camera
    gy, gx = np.mgrid[0:9, 0:9].astype(np.float64)
    verts = np.stack([(gx - 4) * 0.1, (gy - 4) * 0.1, 2.0 + 0.05 * rng.random(gx.shape)], -1)
    verts = verts.reshape(-1, 3)
    idx = np.arange(81).reshape(9, 9)
    upper = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:]], -1).reshape(-1, 3)
    lower = np.stack([idx[:-1, :-1], idx[1:, 1:], idx[1:, :-1]], -1).reshape(-1, 3)
    faces = np.concatenate([upper, lower])
    normals = rng.normal(size=verts.shape)
    normals[:, 2] = -np.abs(normals[:, 2])
    part = np.zeros(81, np.int8)
    along, around = rng.random(81).astype(np.float32), rng.random(81).astype(np.float32)
    faces = faces[:, ::-1].copy()  # wound clockwise on the screen: front faces
    cam = scene.Camera(80.0, 80.0, 23.5, 23.5, 48, 48, np.eye(3), np.zeros(3))
    gb = rasterizer.rasterize(cam, verts, faces, normals, part, along, around)
    assert gb.mask.sum() > 300
    # the reference interpolation of the winners, from the same fragments
    vc = verts
    px = cam.fx * vc[:, 0] / vc[:, 2] + cam.cx
    py = cam.fy * vc[:, 1] / vc[:, 2] + cam.cy
    (ax, ay), (bx, by), (cx, cy) = [(px[faces[:, i]], py[faces[:, i]]) for i in range(3)]
    det = (ax - cx) * (by - cy) - (bx - cx) * (ay - cy)
    tri, pix, l1, l2 = rasterizer._fragments(ax, ay, bx, by, cx, cy, det, 48, 48)
    z = vc[:, 2][faces[tri]]
    wa, wb, wc = l1 / z[:, 0], l2 / z[:, 1], (1.0 - l1 - l2) / z[:, 2]
    iz = wa + wb + wc
    depth = 1.0 / iz
    zbuf = np.full(48 * 48, np.inf)
    np.minimum.at(zbuf, pix, depth)
    win = depth <= zbuf[pix]
    bary = np.stack([wa[win], wb[win], wc[win]], 1) / iz[win, None]
    corners = faces[tri[win]]
    n = np.einsum("kc,kc...->k...", bary, normals[corners])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    ray = np.stack([(pix[win] % 48 - cam.cx) / cam.fx, (pix[win] // 48 - cam.cy) / cam.fy,
                    np.ones(win.sum())], 1)
    n *= np.where(np.einsum("ki,ki->k", n, ray) > 0, -1.0, 1.0)[:, None]
    want = np.zeros((48 * 48, 3), np.float32)
    want[pix[win]] = n
    np.testing.assert_allclose(gb.normal.reshape(-1, 3), want, rtol=0, atol=1e-6)
    # float32 storage: within one float32 ulp of the float64 reference at worst
    assert np.abs(gb.normal.reshape(-1, 3) - want).max() <= 2.0 ** -23
