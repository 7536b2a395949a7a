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
"""

import colorsys
import dataclasses
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from mhp_tf_datasets.synthetic.realistic.camera_effects import srgb_to_linear
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
    return Look(skin=skin, skin_phases=skin_phases, top=top, sleeve=sleeve,
                sleeve_end=float(sleeve_end), top_tucked=bool(rng.random() < 0.3),
                bottom=bottom, bottom_kind=bottom_kind, bottom_end=float(bottom_end),
                shoes=shoes, shoe_top=shoe_top, hair=hair,
                hairline_front=float(rng.uniform(0.7, 0.82)),
                hairline_back=float(rng.uniform(0.05, 0.3) if long_hair else rng.uniform(0.25, 0.5)),
                long_hair=long_hair, cap=cap, cap_line=float(rng.uniform(0.68, 0.8)))


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


def _regions(look: Look, part: np.ndarray, along: np.ndarray, around: np.ndarray
             ) -> Dict[str, np.ndarray]:
    """Boolean region masks (``top``, ``bottom``, ``shoes``, ``hair``, ``cap``) over pixels."""
    def on(*names):
        return np.isin(part, [PART[n] for n in names])

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
    regions = _regions(look, part, along, around)
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
    top = "bare torso" if look.top is None else f"{look.top.pattern} top, {look.sleeve} sleeves"
    hair = "bald" if look.hair is None else ("long hair" if look.long_hair else "short hair")
    return f"{top}; {look.bottom.pattern} {look.bottom_kind}; {hair}" + (
        "; cap" if look.cap is not None else "") + ("; barefoot" if look.shoes is None else "")
