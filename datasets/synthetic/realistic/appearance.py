"""Skin, clothing, shoes and hair painted per pixel from a G-buffer's part/along/around.

A :class:`Look` is drawn from a random generator alone (:func:`sample_look`), then
:func:`paint` turns it into a linear albedo image for one :class:`~.gbuffer.GBuffer` -- so
the same look can dress any pose, and nothing about the pose steers the look.

Skin tones. The ten swatches of the Monk Skin Tone scale (Ellis Monk, 2019; released by
Google in 2022 under CC-BY-4.0, https://skintone.google) span the human range from the
lightest (MST-1, sRGB #f6ede4) to the darkest (MST-10, #292420); their published sRGB values
are, in order, f6ede4 f3e7db f7ead0 eadaba d7bd96 a07e56 825c43 604134 3a312a 292420. A tone is
a uniformly random point along that locus (linear interpolation in linear RGB between
neighbouring swatches), with a small hue/brightness jitter. The swatches are display colours;
as an albedo we scale them by 0.75 so the lightest skin reflects about 0.6 of the light,
near measured diffuse reflectances of light skin in the visible.

Clothing. Garment regions are bands of ``along`` on the parts they cover: a top (chest,
belly, the upper pelvis when untucked, upper arms down to the sleeve length: none/short/
long), a bottom (trousers, shorts or a skirt: pelvis, thighs and shins down to its length),
shoes (feet and the bottom of the shins), sometimes a bare torso or a one-piece dress. Hair
covers the head above a hairline that runs low at the back and high at the front (through
``around``), sometimes down the back of the neck; sometimes a cap covers the crown instead.
Patterns live in surface coordinates in metres (``s`` round the part, ``t`` up the body), so a
stripe has the same width on a sleeve and a chest: solid, stripes, checks, dots, a blobby
print, or a real texture photo (tinted or as is).

Loose cloth. Painting alone dresses the naked body's silhouette; real clothes and hair stand
off it. A look therefore also says how far its top (a shirt, a jacket to the hips or a coat
whose hem reaches down the thighs), its bottom (wider for wide trousers, flaring towards a
skirt's hem) and its hair (more for long hair, which also hangs beside the neck) stand off
the body, and :func:`loosen` applies that to the G-buffer before painting: each garment
grows outwards over the background nearest to it, and a skirt, dress or coat fills the
convex hull of its hip and thigh pixels, so it spans the gap between the legs. New pixels
copy the surface attributes of the pixel they grew from, so :func:`paint` gives them the
same garment; the body's own pixels are never removed.
"""

import colorsys
import dataclasses
import functools
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from mhp_tf_datasets.synthetic.realistic.camera_effects import srgb_to_linear
from mhp_tf_datasets.synthetic.realistic.gbuffer import GBuffer
from mhp_tf_datasets.synthetic.realistic.gbuffer import PART
from mhp_tf_datasets.synthetic.realistic.gbuffer import PARTS

MONK_SKIN_TONES = ("f6ede4", "f3e7db", "f7ead0", "eadaba", "d7bd96",
                   "a07e56", "825c43", "604134", "3a312a", "292420")
SKIN_ALBEDO_SCALE = 0.75

# part -> (t at along = 0, dt/d(along), circumference): approximate metres on a 1.75 m adult,
# t measured up from the ground; limbs run downwards from their proximal joint.
PART_GEOMETRY = {
    "head": (1.55, 0.22, 0.57), "neck": (1.42, 0.13, 0.36), "chest": (1.17, 0.25, 0.95),
    "belly": (1.00, 0.17, 0.85), "pelvis": (0.85, 0.15, 0.95),
    "l_upper_arm": (1.42, -0.29, 0.30), "r_upper_arm": (1.42, -0.29, 0.30),
    "l_forearm": (1.13, -0.26, 0.25), "r_forearm": (1.13, -0.26, 0.25),
    "l_hand": (0.87, -0.17, 0.20), "r_hand": (0.87, -0.17, 0.20),
    "l_thigh": (0.92, -0.43, 0.50), "r_thigh": (0.92, -0.43, 0.50),
    "l_shin": (0.49, -0.42, 0.35), "r_shin": (0.49, -0.42, 0.35),
    "l_foot": (0.07, -0.05, 0.25), "r_foot": (0.07, -0.05, 0.25),
}

NEUTRALS = {  # sRGB hex of common garment colours
    "black": "1c1c1e", "charcoal": "3b3d42", "grey": "8a8d91", "white": "ecebe6",
    "navy": "1f2a44", "denim": "3c5a80", "light denim": "7b9bbf", "khaki": "b8a77f",
    "beige": "d6c6a8", "olive": "5b5f3a", "brown": "5a3f2b", "burgundy": "6b1f2a",
}
HAIR_COLOURS = {"black": "141110", "dark brown": "2e1f16", "brown": "55392a",
                "auburn": "7a3a1e", "blond": "b8925a", "light blond": "d6b98a",
                "grey": "8e8a85", "white": "c9c6c0"}
PATTERNS = ("solid", "stripes", "checks", "dots", "print", "texture")
PATTERN_P = (0.42, 0.14, 0.1, 0.06, 0.1, 0.18)


def hex_to_linear(code: str) -> np.ndarray:
    rgb = np.array([int(code[i:i + 2], 16) for i in (0, 2, 4)], np.float32) / 255.0
    return srgb_to_linear(rgb)


@dataclasses.dataclass
class Garment:
    """A material: colours (linear albedo), a pattern and its parameters."""

    colour: np.ndarray
    colour2: np.ndarray
    pattern: str = "solid"
    period: float = 0.05        # metres (stripes, checks, dots, print scale, texture tile)
    angle: float = 0.0          # radians; 0 = vertical stripes (constant along t)
    texture: Optional[np.ndarray] = None  # linear float [h, w, 3]
    tint: bool = True           # texture luminance x colour (True) or the texture as is
    gloss: float = 0.05
    wrinkles: float = 0.08      # depth of the fold shading
    phases: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((6, 4)))


@dataclasses.dataclass
class Look:
    """Everything :func:`paint` needs; drawn by :func:`sample_look`."""

    skin: np.ndarray
    skin_phases: np.ndarray
    top: Optional[Garment]
    sleeve: str                 # "none", "short", "long"
    sleeve_end: float           # along on the upper arm (short) or forearm (long)
    top_tucked: bool
    bottom: Garment
    bottom_kind: str            # "trousers", "shorts", "skirt", "dress"
    bottom_end: float           # along on the thigh (shorts, skirt) or shin (trousers)
    shoes: Optional[Garment]    # None = barefoot
    shoe_top: float             # along on the shin where shoes/boots end
    hair: Optional[Garment]
    hairline_front: float
    hairline_back: float
    long_hair: bool
    cap: Optional[Garment]
    cap_line: float
    # loose cloth and hair volume (:func:`loosen`); the defaults are skin-tight
    top_kind: str = "shirt"     # "shirt", "jacket", "coat" (a coat's hem reaches the thighs)
    coat_end: float = 0.0       # along on the thigh where a coat's hem lies
    top_loose: float = 0.0      # metres the top stands off the body (at most)
    bottom_loose: float = 0.0   # metres the bottom stands off the body (a skirt: at its hem)
    hair_volume: float = 0.0    # metres of hair beyond the scalp
    hair_fall: float = 0.0      # metres long hair hangs below its lowest point on the head
    drape_phases: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((2, 3)))


def _garment_colour(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.7:  # most clothes people wear are neutral (black, grey, navy, denim...)
        names = sorted(NEUTRALS)
        c = hex_to_linear(NEUTRALS[names[int(rng.integers(len(names)))]])
        return np.clip(c * rng.uniform(0.85, 1.15), 0.005, 0.85)
    rgb = np.array(colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.25, 0.75),
                                       rng.uniform(0.2, 0.85)), np.float32)
    return np.clip(srgb_to_linear(np.clip(rgb, 0, 1)), 0.005, 0.85)


def sample_garment(rng: np.random.Generator, textures: Sequence[Tuple[str, np.ndarray]] = (),
                   pattern: Optional[str] = None, gloss: float = 0.05) -> Garment:
    """A random garment material; texture patterns use ``textures`` (sRGB uint8), falling
    back to a print when there are none."""
    colour = _garment_colour(rng)
    colour2 = _garment_colour(rng) if rng.random() < 0.7 else np.clip(
        colour * rng.uniform(0.2, 3.0), 0.005, 0.9)
    if pattern is None:
        pattern = PATTERNS[int(rng.choice(len(PATTERNS), p=PATTERN_P))]
    g = Garment(colour=colour, colour2=colour2, pattern=pattern, gloss=gloss,
                wrinkles=float(rng.uniform(0.03, 0.15)),
                phases=rng.uniform(0, 2 * np.pi, (6, 4)))
    g.phases[:, 1:3] = rng.normal(0, 1, (6, 2)) * np.array([[6.0, 14.0]])  # fold frequencies
    if pattern == "stripes":
        g.period = float(rng.uniform(0.01, 0.12))
        g.angle = float(rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)], p=[0.3, 0.55, 0.15]))
    elif pattern == "checks":
        g.period = float(rng.uniform(0.015, 0.1))
    elif pattern == "dots":
        g.period = float(rng.uniform(0.015, 0.06))
    elif pattern == "print":
        g.period = float(rng.uniform(0.03, 0.15))
    elif pattern == "texture":
        if len(textures):
            _, tex = textures[int(rng.integers(len(textures)))]
            g.texture = srgb_to_linear(np.asarray(tex, np.float32) / 255.0)
            g.period = float(rng.uniform(0.08, 0.4))
            g.tint = bool(rng.random() < 0.6)
        else:
            g.pattern, g.period = "print", float(rng.uniform(0.03, 0.15))
    return g


def sample_skin(rng: np.random.Generator) -> np.ndarray:
    """A linear skin albedo, uniform along the Monk Skin Tone locus (see the module notes)."""
    swatches = np.stack([hex_to_linear(c) for c in MONK_SKIN_TONES])
    x = rng.uniform(0, len(swatches) - 1)
    i = min(int(x), len(swatches) - 2)
    tone = swatches[i] * (1 - (x - i)) + swatches[i + 1] * (x - i)
    tone = tone * rng.uniform(0.9, 1.1) * np.exp(rng.normal(0, 0.03, 3))
    return np.clip(tone * SKIN_ALBEDO_SCALE, 0.005, 0.9).astype(np.float32)


def sample_look(rng: np.random.Generator,
                textures: Sequence[Tuple[str, np.ndarray]] = ()) -> Look:
    """A random outfit, skin and hair. Uses only ``rng`` (and ``textures`` for photo
    patterns), never the body, so the look is independent of the pose and labels."""
    skin = sample_skin(rng)
    skin_phases = rng.uniform(0, 2 * np.pi, (6, 4))
    skin_phases[:, 1:3] = rng.normal(0, 1, (6, 2)) * 20.0
    bottom_kind = str(rng.choice(["trousers", "shorts", "skirt", "dress"],
                                 p=[0.6, 0.17, 0.13, 0.1]))
    bottom = sample_garment(rng, textures, pattern=None if rng.random() < 0.5 else "solid")
    if bottom_kind == "dress":
        top = bottom
    elif rng.random() < 0.07:
        top = None  # bare torso
    else:
        top = sample_garment(rng, textures)
    sleeve = str(rng.choice(["none", "short", "long"], p=[0.15, 0.45, 0.4]))
    sleeve_end = {"none": 0.0, "short": rng.uniform(0.3, 0.75),
                  "long": rng.uniform(0.8, 1.0)}[sleeve]
    bottom_end = {"trousers": rng.uniform(0.88, 1.0), "shorts": rng.uniform(0.25, 0.75),
                  "skirt": rng.uniform(0.3, 1.0), "dress": rng.uniform(0.3, 1.0)}[bottom_kind]
    shoes = None if rng.random() < 0.05 else sample_garment(
        rng, (), pattern="solid", gloss=float(rng.uniform(0.1, 0.6)))
    if shoes is not None:
        shoes.colour = np.clip(shoes.colour * rng.uniform(0.3, 1.0), 0.005, 0.85)
    shoe_top = float(rng.uniform(0.55, 0.85)) if rng.random() < 0.15 else float(
        rng.uniform(0.92, 0.97))
    hair = None
    if rng.random() > 0.1:
        names = sorted(HAIR_COLOURS)
        weights = np.array([4, 4, 3, 1, 1.5, 1, 1, 0.5])
        name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        hair = Garment(colour=hex_to_linear(HAIR_COLOURS[name]) * rng.uniform(0.8, 1.2),
                       colour2=hex_to_linear(HAIR_COLOURS[name]) * 0.6, pattern="hair",
                       gloss=0.4, wrinkles=0.0, phases=rng.uniform(0, 2 * np.pi, (6, 4)))
        hair.phases[:, 1:3] = rng.normal(0, 1, (6, 2)) * np.array([[300.0, 20.0]])
    long_hair = bool(hair is not None and rng.random() < 0.35)
    cap = sample_garment(rng, textures, pattern="solid") if rng.random() < 0.12 else None
    look = Look(skin=skin, skin_phases=skin_phases, top=top, sleeve=sleeve,
                sleeve_end=float(sleeve_end), top_tucked=bool(rng.random() < 0.3),
                bottom=bottom, bottom_kind=bottom_kind, bottom_end=float(bottom_end),
                shoes=shoes, shoe_top=shoe_top, hair=hair,
                hairline_front=float(rng.uniform(0.7, 0.82)),
                hairline_back=float(rng.uniform(0.05, 0.3) if long_hair else rng.uniform(0.25, 0.5)),
                long_hair=long_hair, cap=cap, cap_line=float(rng.uniform(0.68, 0.8)))
    # loose cloth, drawn last so that the draws above keep their values
    if look.top is not None and look.sleeve == "long" and bottom_kind != "dress":
        look.top_kind = str(rng.choice(["shirt", "jacket", "coat"], p=[0.45, 0.35, 0.2]))
    look.coat_end = float(rng.uniform(0.3, 0.9))
    look.top_loose = float({"shirt": rng.uniform(0.0, 0.03) * rng.random() ** 0.5,
                            "jacket": rng.uniform(0.015, 0.045),
                            "coat": rng.uniform(0.025, 0.06)}[look.top_kind])
    wide = rng.random() < 0.25  # wide trousers, a full skirt
    look.bottom_loose = float(rng.uniform(0.0, 0.02) + (rng.uniform(0.0, 0.02) if wide else 0.0))
    if bottom_kind in ("skirt", "dress"):
        look.bottom_loose += 0.01
    if look.top is None:
        look.top_loose = 0.0
    if look.hair is not None:
        look.hair_volume = float(rng.uniform(0.025, 0.04) if long_hair
                                 else rng.uniform(0.01, 0.025))
        look.hair_fall = float(rng.uniform(0.08, 0.25)) if long_hair else 0.0
    look.drape_phases = np.stack([rng.uniform(0, np.pi, 2), rng.uniform(0.12, 0.3, 2),
                                  rng.uniform(0, 2 * np.pi, 2)], 1)
    return look


# ----------------------------------------------------------------------------- painting


def surface_coords(part: np.ndarray, along: np.ndarray, around: np.ndarray):
    """Metric surface coordinates ``(s, t)``: s round the part (0 at the front, seam at the
    back), t up the body (metres above the ground for a 1.75 m adult)."""
    table = np.array([PART_GEOMETRY[name] for name in PARTS], np.float32)
    idx = np.clip(part.astype(np.int64), 0, len(PARTS) - 1)
    t0, dt, circ = table[idx, 0], table[idx, 1], table[idx, 2]
    wrapped = np.mod(around + 0.5, 1.0) - 0.5
    return wrapped * circ, t0 + along * dt


def _waves(s, t, phases, amplitude=1.0):
    """A smooth random field: a sum of sinusoids with frequencies/phases from ``phases``."""
    out = np.zeros_like(s)
    for ph in phases:
        out += np.sin(ph[1] * s + ph[2] * t + ph[0]) * (0.5 + 0.5 * np.cos(ph[3]))
    return amplitude * out / max(len(phases), 1)


def _soft_step(x, sharpness=6.0):
    return 0.5 + 0.5 * np.tanh(sharpness * x)


def garment_albedo(g: Garment, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Albedo ``[N, 3]`` of garment ``g`` at surface coordinates ``(s, t)`` ``[N]``."""
    c1, c2 = g.colour[None], g.colour2[None]
    if g.pattern == "stripes":
        u = (s * np.cos(g.angle) + t * np.sin(g.angle)) / g.period
        w = _soft_step(np.sin(2 * np.pi * u))[:, None]
        out = c1 * (1 - w) + c2 * w
    elif g.pattern == "checks":
        w1 = _soft_step(np.sin(2 * np.pi * s / g.period))[:, None]
        w2 = _soft_step(np.sin(2 * np.pi * t / g.period))[:, None]
        out = c1 * (1 - 0.5 * (w1 + w2)) + c2 * 0.5 * (w1 + w2)
    elif g.pattern == "dots":
        fs = np.mod(s / g.period + 0.5 * np.floor(t / g.period), 1.0) - 0.5
        ft = np.mod(t / g.period, 1.0) - 0.5
        w = _soft_step(0.28 - np.hypot(fs, ft), 40.0)[:, None]
        out = c1 * (1 - w) + c2 * w
    elif g.pattern == "print":
        f = _waves(s / g.period, t / g.period, g.phases * np.array([1.0, 0.15, 0.15, 1.0]))
        w = _soft_step(f, 12.0)[:, None]
        out = c1 * (1 - w) + c2 * w
    elif g.pattern == "texture" and g.texture is not None:
        h, w_ = g.texture.shape[:2]
        ix = np.mod(np.floor(s / g.period * w_).astype(np.int64), w_)
        iy = np.mod(np.floor(-t / g.period * h).astype(np.int64), h)
        tex = g.texture[iy, ix]
        if g.tint:
            lum = tex @ np.array([0.2126, 0.7152, 0.0722], np.float32)
            out = c1 * (lum / max(float(g.texture.mean()), 1e-3))[:, None]
        else:
            out = tex
    elif g.pattern == "hair":  # strands running down the head: fine streaks along t
        f = _waves(s, t, g.phases)
        out = c1 * (1 - 0.35 * _soft_step(f, 3.0))[:, None] + c2 * 0.35 * _soft_step(f, 3.0)[:, None]
    else:
        out = np.broadcast_to(c1, (len(s), 3))
    if g.wrinkles > 0:  # folds: mostly horizontal creases, a little noise
        out = out * (1.0 + g.wrinkles * _waves(s, t, g.phases))[:, None]
    return np.clip(out, 0.0, 1.0)


@functools.lru_cache(maxsize=None)
def _part_table(names: Tuple[str, ...]) -> np.ndarray:
    table = np.zeros(len(PARTS) + 1, bool)
    table[[PART[n] + 1 for n in names]] = True
    return table


def _on(part: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``part`` is one of the parts ``names`` (a table look-up: np.isin is slow on small
    arrays)."""
    return _part_table(tuple(names))[part.astype(np.intp) + 1]


def garment_regions(look: Look, part: np.ndarray, along: np.ndarray, around: np.ndarray
             ) -> Dict[str, np.ndarray]:
    """Boolean region masks (``top``, ``bottom``, ``shoes``, ``hair``, ``cap``) over pixels."""
    def on(*names):
        return _on(part, names)

    back = np.abs(around - 0.5)  # 0 at the back, 0.5 at the front
    regions = {}
    top = on("chest", "belly")
    if look.sleeve == "short":
        top |= on("l_upper_arm", "r_upper_arm") & (along < look.sleeve_end)
    elif look.sleeve == "long":
        top |= on("l_upper_arm", "r_upper_arm") | (
            on("l_forearm", "r_forearm") & (along < look.sleeve_end))
    else:  # sleeveless: straps over the shoulder tops only
        top |= on("l_upper_arm", "r_upper_arm") & (along < 0.08)
    waist = 0.85 if look.top_tucked else 0.35
    if look.top_kind == "jacket":
        waist = 0.15
    elif look.top_kind == "coat":  # over the hips and down the thighs to its hem
        waist = 0.0
        top |= on("l_thigh", "r_thigh") & (along < look.coat_end)
    bottom = on("pelvis") & (along < waist)
    top |= on("pelvis") & (along >= waist)
    if look.bottom_kind == "trousers":
        bottom |= on("l_thigh", "r_thigh") | (on("l_shin", "r_shin") & (along < look.bottom_end))
    else:
        bottom |= on("l_thigh", "r_thigh") & (along < look.bottom_end)
    if look.top is None:
        top &= False
    regions["top"] = top
    regions["bottom"] = bottom & ~top if look.bottom_kind != "dress" else bottom | top
    shoes = on("l_foot", "r_foot") | (on("l_shin", "r_shin") & (along > look.shoe_top))
    regions["shoes"] = shoes if look.shoes is not None else shoes & False
    if look.hair is not None:
        # hairline: high at the front (around 0), low at the back (around 0.5)
        line = look.hairline_back + (look.hairline_front - look.hairline_back) * (2 * back) ** 1.5
        hair = on("head") & (along > line)
        if look.long_hair:
            hair |= on("neck") & (back < 0.22)
        regions["hair"] = hair
    else:
        regions["hair"] = np.zeros_like(top)
    regions["cap"] = (on("head") & (along > look.cap_line)) if look.cap is not None else (
        np.zeros_like(top))
    return regions


# ----------------------------------------------------------------------------- loose cloth

_SKIRT_PARTS = ("pelvis", "l_thigh", "r_thigh")
_LEG_PARTS = ("l_thigh", "r_thigh", "l_shin", "r_shin")


def _drape(look: Look, px_per_m: float, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """A slow factor in [0.7, 1] over image positions: cloth and hair stand off the body by
    varying amounts, so the outline is no exact offset curve."""
    f = np.zeros(len(ys), np.float32)
    for angle, wavelength, phase in look.drape_phases:
        k = 2 * np.pi / max(wavelength * px_per_m, 1.0)
        f += np.sin(k * (xs * np.cos(angle) + ys * np.sin(angle)) + phase).astype(np.float32)
    return 0.85 + 0.075 * f


def _standoff(look: Look, regions: Dict[str, np.ndarray], part: np.ndarray,
              along: np.ndarray) -> np.ndarray:
    """Metres each surface point's visible material stands off the body (0 for skin, shoes
    and caps), layered like :func:`paint`: bottom, top, shoes, hair, cap."""
    r = np.zeros(len(part), np.float32)
    legs = _on(part, ("l_thigh", "r_thigh"))
    bottom = np.full(len(part), look.bottom_loose, np.float32)
    if look.bottom_kind in ("skirt", "dress"):  # A-line: tight at the hips, full at the hem
        hang = np.where(legs, np.clip(along / max(look.bottom_end, 0.1), 0, 1), 0.0)
        bottom *= 0.3 + 0.7 * hang
    r[regions["bottom"]] = bottom[regions["bottom"]]
    top = np.full(len(part), look.top_loose, np.float32)
    if look.top_kind == "coat":  # hangs wider towards its hem
        top *= np.where(legs, 0.8 + 0.2 * np.clip(along / max(look.coat_end, 0.1), 0, 1), 0.8)
    r[regions["top"]] = top[regions["top"]]
    r[regions["shoes"]] = 0.0
    r[regions["hair"]] = look.hair_volume
    r[regions["cap"]] = 0.0
    return r


def _nearest(seeds: np.ndarray, box: Optional[Tuple[int, int, int, int]] = None):
    """Inside ``box`` (y0, y1, x0, x1; all of ``seeds`` by default): every pixel's distance
    (px) to the nearest ``True`` of ``seeds`` there, ``[y1 - y0, x1 - x0]``, and a function
    from flat indices over the box to that seed's flat index into ``seeds``
    (:func:`cv2.distanceTransformWithLabels` numbers the seeds in row-major order)."""
    y0, y1, x0, x1 = box or (0, seeds.shape[0], 0, seeds.shape[1])
    sub = seeds[y0:y1, x0:x1]
    dist, lab = cv2.distanceTransformWithLabels((~sub).astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    sy, sx = np.divmod(np.flatnonzero(sub), x1 - x0)
    seed_index = (sy + y0) * seeds.shape[1] + sx + x0
    return dist, lambda local: seed_index[np.maximum(lab.flat[local], 1) - 1]


def loosen(gbuffer: GBuffer, look: Look, px_per_m: float) -> GBuffer:
    """The G-buffer of ``gbuffer``'s person dressed in ``look``'s loose cloth and hair.

    Screen-space and cheap: the top, the bottom and the hair grow outwards into background
    pixels whose nearest body pixel wears them, by their standoff (:func:`_standoff`, metres
    x ``px_per_m``, varied by :func:`_drape`); long hair also hangs straight down (the head's
    image "down") beside the neck by ``hair_fall``; a skirt, dress or coat fills the convex
    hull of its pelvis and thigh pixels, across the background and bare leg skin behind it,
    so it spans between the legs. Each new pixel copies the part/along/around (hence the
    garment) and depth of the pixel it grew from (a little deeper) and, towards the rim, a
    normal turned sideways like a silhouette edge's. Body pixels are never removed; only
    bare leg skin inside a skirt's hull is covered. Returns a new buffer (arrays shared with
    the input when nothing changes); ``gbuffer`` is left as it is.
    """
    mask = gbuffer.mask
    hull_kind = look.bottom_kind in ("skirt", "dress") or look.top_kind == "coat"
    reach = px_per_m * max(look.top_loose, look.bottom_loose, look.hair_volume + look.hair_fall)
    rows = np.flatnonzero(mask.any(axis=1))
    if (len(rows) == 0 or not np.isfinite(reach) or not px_per_m > 0
            or (reach < 0.5 and not hull_kind)):
        return dataclasses.replace(gbuffer)
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    margin = int(np.ceil(reach)) + 2
    y0, y1 = max(rows[0] - margin, 0), min(rows[-1] + margin + 1, h)
    x0, x1 = max(cols[0] - margin, 0), min(cols[-1] + margin + 1, w)
    out = GBuffer(mask=mask.copy(), depth=gbuffer.depth.copy(), normal=gbuffer.normal.copy(),
                  part=gbuffer.part.copy(), along=gbuffer.along.copy(),
                  around=gbuffer.around.copy(),
                  uv=None if gbuffer.uv is None else gbuffer.uv.copy())
    win = (slice(y0, y1), slice(x0, x1))
    m0 = mask[win]                       # the body (read only)
    m = out.mask[win]                    # views into the new buffer
    part, along, around, depth = out.part[win], out.along[win], out.around[win], out.depth[win]
    normal = out.normal[win]
    uv = None if out.uv is None else out.uv[win]
    cw = x1 - x0

    def take(targets, sources, dist, rim, facing=0.0, deeper=0.5):
        """New pixels ``targets`` (flat, in the window) copy ``sources``; normals turn
        sideways (away from the source) by ``rim`` in [0, 1], or towards the camera."""
        part.flat[targets] = part.flat[sources]
        along.flat[targets] = along.flat[sources]
        around.flat[targets] = around.flat[sources]
        depth.flat[targets] = depth.flat[sources] + deeper * dist / px_per_m
        ty, tx = np.divmod(targets, cw)
        sy, sx = np.divmod(sources, cw)
        if uv is not None:
            uv[ty, tx] = uv[sy, sx]
        side = np.stack([tx - sx, ty - sy, np.zeros(len(targets))], 1).astype(np.float32)
        side /= np.maximum(np.linalg.norm(side, axis=1, keepdims=True), 1e-6)
        side[:, 2] = -0.25
        n = (normal[sy, sx] * (1 - rim[:, None]) + side * rim[:, None]
             + np.array([0.0, 0.0, -facing], np.float32))
        normal[ty, tx] = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-6)
        m.flat[targets] = True

    # 1. grow each garment into the background pixels nearest to it
    edge = m0 & ~(cv2.erode(m0.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    eidx = np.flatnonzero(edge)
    e_part, e_along = part.flat[eidx], along.flat[eidx]
    e_regions = garment_regions(look, e_part, e_along, around.flat[eidx])
    standoff = np.zeros(m0.shape, np.float32)
    standoff.flat[eidx] = _standoff(look, e_regions, e_part, e_along) * px_per_m
    if standoff.max() >= 0.5:
        dist, src = _nearest(m0)
        cand = np.flatnonzero(~m0 & (dist <= standoff.max()))
        sources = src(cand)
        cy, cx = np.divmod(cand, cw)
        limit = standoff.flat[sources] * _drape(look, px_per_m, cy + y0, cx + x0)
        d = dist.flat[cand]
        grow = (d <= limit) & (limit >= 0.5)
        take(cand[grow], sources[grow], d[grow], 0.5 + 0.5 * np.clip(
            d[grow] / np.maximum(limit[grow], 1.0), 0, 1))

    # 2. long hair hangs down beside the neck, a curtain as wide as the hair above it
    if look.hair is not None and look.hair_fall > 0:
        head = _on(part, ("head", "neck")) & m0
        hidx = np.flatnonzero(head)
        h_regions = garment_regions(look, part.flat[hidx], along.flat[hidx], around.flat[hidx])
        hair = np.zeros(m0.shape, bool)
        hair.flat[hidx[h_regions["hair"] & ~h_regions["cap"]]] = True
        if hair.any():
            down = np.array([0.0, 1.0])
            neck = part == PART["neck"]
            hy, hx = np.nonzero(part == PART["head"])
            if neck.sum() >= 3 and len(hy):
                ny, nx = np.nonzero(neck)
                v = np.array([nx.mean() - hx.mean(), ny.mean() - hy.mean()])
                if np.linalg.norm(v) > 1e-3:
                    down = v / np.linalg.norm(v)
            fall, vol = look.hair_fall * px_per_m, max(look.hair_volume * px_per_m, 1.0)
            ys, xs = np.nonzero(hair)
            pad = int(np.ceil(fall + vol)) + 1
            box = (max(ys.min() - pad, 0), min(ys.max() + pad + 1, m.shape[0]),
                   max(xs.min() - pad, 0), min(xs.max() + pad + 1, m.shape[1]))
            dist, src = _nearest(hair, box)
            local = np.flatnonzero(~m[box[0]:box[1], box[2]:box[3]] & (dist <= fall + vol))
            ly, lx = np.divmod(local, box[3] - box[2])
            cand, sources = (ly + box[0]) * cw + lx + box[2], src(local)
            cy, cx = np.divmod(cand, cw)
            sy, sx = np.divmod(sources, cw)
            dy, dx = (cy - sy).astype(np.float32), (cx - sx).astype(np.float32)
            below = dx * down[0] + dy * down[1]
            across = np.abs(dx * down[1] - dy * down[0])
            drape = _drape(look, px_per_m, cy + y0, cx + x0)
            hang = (below > 0) & (below <= fall * drape) & (across <= vol * drape)
            d = dist.flat[local][hang]
            take(cand[hang], sources[hang], d, np.full(len(d), 0.3, np.float32),
                 facing=0.5, deeper=0.0)
            depth.flat[cand[hang]] += 0.05  # behind the neck and shoulders

    # 3. a skirt, dress or coat spans the gap between the legs: its convex hull
    if hull_kind:
        skirt = np.zeros(len(eidx), bool)
        if look.bottom_kind in ("skirt", "dress"):
            skirt |= e_regions["bottom"]
        if look.top_kind == "coat":
            skirt |= e_regions["top"]
        skirt &= _on(e_part, _SKIRT_PARTS)
        if skirt.sum() >= 3:
            sy, sx = np.divmod(eidx[skirt], cw)
            hull = cv2.convexHull(np.stack([sx, sy], 1).astype(np.int32))
            fill = np.zeros(m0.shape, np.uint8)
            cv2.fillConvexPoly(fill, hull, 1)
            inside = fill > 0
            legs = np.flatnonzero(inside & m0 & _on(part, _LEG_PARTS))
            l_regions = garment_regions(look, part.flat[legs], along.flat[legs], around.flat[legs])
            bare = legs[~(l_regions["top"] | l_regions["bottom"] | l_regions["shoes"])]
            seeds = np.zeros(m0.shape, bool)
            seeds.flat[eidx[skirt]] = True
            bx, by, bw, bh = cv2.boundingRect(hull)
            dist, src = _nearest(seeds, (by, by + bh, bx, bx + bw))
            targets = np.concatenate([np.flatnonzero(inside & ~m), bare])
            ty, tx = np.divmod(targets, cw)
            local = (ty - by) * bw + (tx - bx)
            sources = src(local)
            d = dist.flat[local]
            keep = ~m0.flat[targets] | (depth.flat[targets] >= depth.flat[sources] - 0.02)
            take(targets[keep], sources[keep], d[keep],
                 np.full(int(keep.sum()), 0.2, np.float32), facing=1.0, deeper=0.0)
            depth.flat[targets[keep]] += 0.02
    return out


def _face(look: Look, along, around, albedo):
    """Darker eyes/brows and a redder mouth on the front of the head (in place)."""
    front = np.mod(around + 0.5, 1.0) - 0.5  # 0 at the front
    eyes = np.exp(-(((along - 0.52) / 0.035) ** 2) - ((np.abs(front) - 0.055) / 0.02) ** 2)
    mouth = np.exp(-(((along - 0.26) / 0.025) ** 2) - (front / 0.04) ** 2)
    albedo *= (1 - 0.6 * eyes)[:, None]
    albedo *= (1 - 0.25 * mouth[:, None] * np.array([0.3, 1.0, 1.0], np.float32))


def paint(gbuffer, look: Look) -> Tuple[np.ndarray, np.ndarray]:
    """Linear albedo ``[H, W, 3]`` float32 (0 off-body) and specular weight ``[H, W]``."""
    h, w = gbuffer.shape
    albedo = np.zeros((h, w, 3), np.float32)
    gloss = np.zeros((h, w), np.float32)
    m = gbuffer.mask
    part, along, around = gbuffer.part[m], gbuffer.along[m], gbuffer.around[m]
    s, t = surface_coords(part, along, around)
    # skin everywhere first, with a gentle blotchy variation
    vals = look.skin[None] * (1.0 + 0.05 * _waves(s, t, look.skin_phases))[:, None]
    head = part == PART["head"]
    if head.any():
        face_vals = vals[head].copy()
        _face(look, along[head], around[head], face_vals)
        vals[head] = face_vals
    spec = np.full(len(s), 0.25, np.float32)
    regions = garment_regions(look, part, along, around)
    layers = [("bottom", look.bottom), ("top", look.top), ("shoes", look.shoes),
              ("hair", look.hair), ("cap", look.cap)]
    for key, garment in layers:
        sel = regions[key]
        if garment is None or not sel.any():
            continue
        vals[sel] = garment_albedo(garment, s[sel], t[sel])
        spec[sel] = garment.gloss
    albedo[m] = np.clip(vals, 0.0, 1.0)
    gloss[m] = spec
    return albedo, gloss


def describe(look: Look) -> str:
    """A one-line summary (for previews and debugging)."""
    top = "bare torso" if look.top is None else (
        f"{look.top.pattern} {look.top_kind}, {look.sleeve} sleeves")
    hair = "bald" if look.hair is None else ("long hair" if look.long_hair else "short hair")
    return f"{top}; {look.bottom.pattern} {look.bottom_kind}; {hair}" + (
        "; cap" if look.cap is not None else "") + ("; barefoot" if look.shoes is None else "")
