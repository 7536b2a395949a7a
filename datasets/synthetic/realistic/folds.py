"""Cloth folds as surface relief: creases that the light shades.

Painted clothes (:func:`.appearance.paint`) lie flat on the skin: their only "folds" are
albedo streaks that look the same under any light. Real cloth bunches into ridges and
valleys whose bright and dark sides follow the light, and whose valleys see less of the sky.
This module gives each garment a height field over the body's surface and bends the
G-buffer's normals by it (bump mapping), so :func:`.lighting.shade` lights every fold from
the scene's own light -- the key light's side of a ridge bright, the other side dark -- and
darkens the valleys (cavity occlusion).

The relief follows what clothes do (:func:`relief`):

* *Rings* round sleeves and trouser legs (compression folds): running round the limb, with
  a wave along it so they zig-zag, deepest at the elbow and knee (the bend) and at the hem,
  where cloth stacks.
* *Drape* on the trunk and on skirts, dresses and coat tails: folds hanging down the body,
  growing towards a skirt's or coat's hem.

Heights are metres along the surface normal, amplitudes set by how loosely the garment sits
(:attr:`.appearance.Look.top_loose`, ``bottom_loose``): a few millimetres for a fitted
shirt, up to :data:`MAX_AMPLITUDE` for a coat. Fold counts round a part are whole numbers,
so the relief is continuous across the back seam; the trunk's three parts share one count.

The normals are bent with the surface gradient of the height field (Mikkelsen, "Bump
mapping unparametrized surfaces on the GPU", 2010), from screen-space differences of the
pixels' camera-space positions and heights (:func:`bump`). Each pixel differences with the
neighbour on its own surface (the smaller depth step); where neither neighbour is (an
outline, an arm in front of the chest), it keeps its normal.

What this is not: the silhouette does not change (that is :func:`.appearance.loosen`), and a
ridge casts no shadow onto the next fold beyond what its turned-away side and the cavity
term give. Only the person's pixels change and no label enters them: the relief depends on
the look and the surface coordinates alone.
"""

import dataclasses
from typing import Optional, Tuple

import cv2
import numpy as np

from mhp_tf_datasets.synthetic.realistic import appearance
from mhp_tf_datasets.synthetic.realistic.gbuffer import PART

MAX_AMPLITUDE = 0.012  # metres: the deepest folds (a loose coat)
TRUNK_CIRCUMFERENCE = 0.9  # metres round chest, belly and pelvis, for one fold count
MAX_DEPTH_STEP = 0.03  # metres: a neighbour further in depth lies on another surface
SMOOTH_PX = 0.8  # sigma (pixels) of the smoothing of the height field before bending

# along value of each limb part's bend (elbow, knee): upper arm and thigh end there,
# forearm and shin start there
_LIMB_BEND = {"l_upper_arm": 1.0, "r_upper_arm": 1.0, "l_forearm": 0.0, "r_forearm": 0.0,
              "l_thigh": 1.0, "r_thigh": 1.0, "l_shin": 0.0, "r_shin": 0.0}
_TRUNK = ("chest", "belly", "pelvis")


@dataclasses.dataclass
class Folds:
    """How one look's clothes fold; drawn by :func:`sample_folds`."""

    top: float = 0.0              # amplitude of the top's folds, metres (0: none)
    bottom: float = 0.0           # and of the bottom's (trousers, shorts, skirt, dress)
    ring_wavelength: float = 0.06   # metres between the rings on sleeves and legs
    drape_wavelength: float = 0.1   # metres between hanging folds round the trunk
    zigzag: float = 0.01          # metres the rings wander up and down round the limb
    ridge: float = 0.25           # second-harmonic weight: sharper ridges, wider valleys
    phases: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(4))
    cavity: float = 0.0           # fold valleys lose up to this fraction of their light


def sample_folds(rng: np.random.Generator, look: appearance.Look) -> Folds:
    """Fold parameters for ``look``; uses only ``rng`` and the look (never the body)."""
    def amplitude(loose: float) -> float:
        a = (0.0015 + 0.25 * loose) * rng.uniform(0.6, 1.4)
        if rng.random() < 0.15:  # stiff or stretchy cloth that hardly folds
            a *= 0.3
        return float(min(a, MAX_AMPLITUDE))

    top = amplitude(look.top_loose) if look.top is not None else 0.0
    bottom = amplitude(look.bottom_loose)
    return Folds(top=top, bottom=bottom, ring_wavelength=float(rng.uniform(0.04, 0.09)),
                 drape_wavelength=float(rng.uniform(0.06, 0.14)),
                 zigzag=float(rng.uniform(0.0, 0.03)), ridge=float(rng.uniform(0.0, 0.4)),
                 phases=rng.uniform(0, 2 * np.pi, 4), cavity=float(rng.uniform(0.15, 0.35)))


def _profile(x: np.ndarray, ridge: float, phase: float) -> np.ndarray:
    """A fold's cross-section over phase ``x`` (radians), in [-1, 1]."""
    return (np.sin(x) + ridge * np.cos(2 * x + phase)) / (1.0 + ridge)


def _gain(wavelength: float, px_per_m: Optional[float]) -> float:
    """Folds closer than a few pixels cannot be drawn: fade them out from 8 px per fold
    to none at 3 px (a person far away shows only the wider ones)."""
    if px_per_m is None:
        return 1.0
    return float(np.clip((wavelength * px_per_m - 3.0) / 5.0, 0.0, 1.0))


def relief(look: appearance.Look, folds: Folds, part: np.ndarray, along: np.ndarray,
           around: np.ndarray, px_per_m: Optional[float] = None
           ) -> Tuple[np.ndarray, np.ndarray]:
    """Height (metres, along the normal) of the cloth's folds at surface points ``[N]``
    (``part``/``along``/``around`` as in the G-buffer), and the amplitude of the garment
    there (``|height| <= amplitude``); both 0 on skin, shoes, hair and caps. ``px_per_m``
    (the image scale on the body), when given, fades out folds too fine to draw."""
    h = np.zeros(len(part), np.float32)
    if len(part) == 0 or max(folds.top, folds.bottom) <= 0:
        return h, h.copy()
    regions = appearance.garment_regions(look, part, along, around)
    top, bottom = regions["top"], regions["bottom"] & ~regions["top"]
    covered = (top | bottom) & ~regions["shoes"] & ~regions["hair"] & ~regions["cap"]
    amp = np.where(covered, np.where(top, folds.top, folds.bottom), 0.0).astype(np.float32)
    _, t = appearance.surface_coords(part, along, around)
    ph = folds.phases
    ring_gain = _gain(folds.ring_wavelength, px_per_m)
    drape_gain = _gain(folds.drape_wavelength, px_per_m)
    skirt = look.bottom_kind in ("skirt", "dress")
    for name, bend in _LIMB_BEND.items():
        sel = covered & (part == PART[name])
        if not sel.any():
            continue
        a = along[sel]
        thigh = name.endswith("thigh")
        hanging = top[sel] if look.top_kind == "coat" else np.zeros(sel.sum(), bool)
        if thigh and skirt:
            hanging |= bottom[sel]
        # rings: deepest at the bend and, on the forearm and shin, towards the wrist and
        # ankle, where long sleeves and trouser legs stack
        env = np.exp(-((a - bend) / 0.3) ** 2)
        if name.endswith(("forearm", "shin")):
            env = np.maximum(env, 0.8 * np.exp(-((a - 1.0) / 0.15) ** 2))
        env = 0.35 + 0.65 * env
        # rings zig-zag along the limb and fade out part of the way round it
        turn = 2 * np.pi * around[sel]
        wander = folds.zigzag * (np.sin(2 * turn + ph[1]) + 0.5 * np.sin(3 * turn + ph[3]))
        rings = ring_gain * env * (0.65 + 0.35 * np.sin(turn + ph[0])) * _profile(
            2 * np.pi * (t[sel] + wander) / folds.ring_wavelength, folds.ridge, ph[2])
        # drape on a skirt's or coat's thigh: hanging folds, growing towards the hem
        count = max(1, round(appearance.PART_GEOMETRY[name][2] / folds.drape_wavelength))
        drape = drape_gain * (0.3 + 0.7 * a) * _profile(2 * np.pi * count * around[sel] + ph[0],
                                           folds.ridge, ph[3])
        h[sel] = amp[sel] * np.where(hanging, drape, rings)
    trunk = covered & np.isin(part, [PART[n] for n in _TRUNK])
    if trunk.any():
        count = max(1, round(TRUNK_CIRCUMFERENCE / folds.drape_wavelength))
        sway = 0.15 * np.sin(2 * np.pi * t[trunk] / 0.35 + ph[1])  # folds are not plumb lines
        h[trunk] = amp[trunk] * drape_gain * 0.6 * _profile(
            2 * np.pi * (count * around[trunk] + sway) + ph[0], folds.ridge, ph[3])
    return h, amp


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                     a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], -1)


def bump(gbuffer, height: np.ndarray, camera) -> np.ndarray:
    """The G-buffer's normals bent by ``height`` ``[H, W]`` (metres along the normal, 0 off
    the cloth): ``[H, W, 3]`` float32 unit vectors, unchanged where the height is flat or a
    pixel has no neighbour on its own surface in x or y. ``camera``: the G-buffer's pinhole
    (``fx``, ``fy``, ``cx``, ``cy``).

    Per pixel, positions and heights are differenced with the neighbour in x (and in y)
    that lies on the same surface: right or left, whichever has the smaller depth step (the
    right one on a tie), none if that step exceeds :data:`MAX_DEPTH_STEP`. Only pixels on
    or next to the relief are visited."""
    mask = gbuffer.mask
    out = gbuffer.normal.astype(np.float32, copy=True)
    relief_px = (mask & (height != 0)).astype(np.uint8)
    ys, xs = np.nonzero(cv2.dilate(relief_px, np.ones((3, 3), np.uint8)) & mask)
    if len(ys) == 0:
        return out
    hh, ww = mask.shape
    stride = ww + 2
    z = np.full((hh + 2, ww + 2), np.nan, np.float32)
    z[1:-1, 1:-1] = np.where(mask, gbuffer.depth, np.nan)
    h = np.zeros((hh + 2, ww + 2), np.float32)
    h[1:-1, 1:-1] = np.where(mask, height, 0.0)
    z, h = z.ravel(), h.ravel()
    ys, xs = ys.astype(np.int64), xs.astype(np.int64)
    centre = (ys + 1) * stride + xs + 1
    zc = z[centre]

    def point(yy, xx, zz):
        return np.stack([(xx - camera.cx) / camera.fx * zz, (yy - camera.cy) / camera.fy * zz,
                         zz], -1).astype(np.float32)

    pc = point(ys, xs, zc)

    def difference(offset, dy, dx):
        after, before = z[centre + offset], z[centre - offset]
        step_a = np.abs(np.nan_to_num(after - zc, nan=np.inf))
        step_b = np.abs(np.nan_to_num(before - zc, nan=np.inf))
        use_a = step_a <= step_b
        sign = np.where(use_a, 1, -1)
        nz = np.where(use_a, after, before)
        dp = sign[:, None] * (point(ys + sign * dy, xs + sign * dx, nz) - pc)
        dh = sign * (h[centre + sign * offset] - h[centre])
        ok = np.minimum(step_a, step_b) <= MAX_DEPTH_STEP
        return np.nan_to_num(dp), dh, ok

    dpdx, dhdx, ok_x = difference(1, 0, 1)
    dpdy, dhdy, ok_y = difference(stride, 1, 0)
    normal = out[ys, xs]
    # Mikkelsen's surface gradient: bent = |det| n - sign(det) (dh/dx R1 + dh/dy R2)
    r1 = _cross(dpdy, normal)
    r2 = _cross(normal, dpdx)
    det = (dpdx * r1).sum(-1)
    grad = np.sign(det)[:, None] * (dhdx[:, None] * r1 + dhdy[:, None] * r2)
    bent = np.abs(det)[:, None] * normal - grad
    length = np.sqrt((bent * bent).sum(-1))
    use = ok_x & ok_y & (np.abs(det) > 0) & (length > 0)
    out[ys[use], xs[use]] = bent[use] / length[use][:, None]
    return out


def cavity(height: np.ndarray, amplitude: np.ndarray, strength: float) -> np.ndarray:
    """Light kept in fold valleys: 1 on ridges, ``1 - strength`` at the bottom of a valley
    (``height = -amplitude``), linear in between; 1 where there is no fold."""
    depth = np.where(amplitude > 0, -height / np.maximum(amplitude, 1e-9), -1.0)
    return (1.0 - strength * np.clip(0.5 * (1.0 + depth), 0.0, 1.0)).astype(np.float32)


def apply(gbuffer, look: appearance.Look, folds: Folds, camera
          ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Bent normals ``[H, W, 3]``, the cavity factor ``[H, W]`` and the height field
    ``[H, W]`` (``None`` when there is no cloth to fold) of ``gbuffer`` dressed in ``look``.

    The height field is smoothed over the person's pixels (a Gaussian of
    :data:`SMOOTH_PX`): pixels that :func:`.appearance.loosen` grew copy the surface
    coordinates of their source, which would leave steps in it."""
    m = gbuffer.mask
    px_per_m = camera.fx / float(np.median(gbuffer.depth[m])) if m.any() else None
    h_flat, amp_flat = relief(look, folds, gbuffer.part[m], gbuffer.along[m],
                              gbuffer.around[m], px_per_m)
    if not np.any(h_flat):
        return gbuffer.normal, np.ones(m.shape, np.float32), None
    height = np.zeros(m.shape, np.float32)
    amp = np.zeros(m.shape, np.float32)
    height[m], amp[m] = h_flat, amp_flat
    ys, xs = np.nonzero(m)
    pad = int(np.ceil(4 * SMOOTH_PX))
    box = (slice(max(ys.min() - pad, 0), ys.max() + pad + 1),
           slice(max(xs.min() - pad, 0), xs.max() + pad + 1))
    inside = m[box]
    weight = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), SMOOTH_PX)
    smooth = cv2.GaussianBlur(height[box], (0, 0), SMOOTH_PX)
    height[box][inside] = smooth[inside] / np.maximum(weight[inside], 1e-6)
    return bump(gbuffer, height, camera), cavity(height, amp, folds.cavity), height
