"""Put a shaded person into a photograph: background, light, contact shadow, occluders, camera.

:func:`render` takes one :class:`~.gbuffer.GBuffer` and a seed and returns the final uint8
image, in these stages (each with its own random stream, spawned from the seed, so that
changing one stage's draws never shifts another's):

1. *background*: a real photo (:mod:`.assets`) scaled to cover the frame (1-1.6x), randomly
   cropped and mirrored; without photos a procedural backdrop (``synthetic.scene.backdrop``).
2. *light*: an HDRI's 9 SH coefficients, random yaw and exposure (:mod:`.lighting`); the
   person's exposure then follows the photo's brightness (the square root of its mean linear
   luminance over 0.2, clipped to 0.5-1.6, times 0.8), so a person in a dark photo is dark
   too, and takes about a third of the photo's colour cast (its mean colour over its
   luminance, per channel, to the power 0.35, clipped to 0.8-1.25). One frame in ten
   (:data:`BACKLIT_P`) is shot against the light: the scene is brightened 1.3-2.2x (bright
   parts burn out) and the person darkened to 0.25-0.6 of that exposure.
3. *look*: skin, clothes and hair (:mod:`.appearance`), shaded with that light. Loose
   clothes and hair first widen the G-buffer (:func:`.appearance.loosen`, its scale in pixels
   per metre from the camera's focal length over the body's median depth, or from the
   person's pixel height): painting, shading, ambient occlusion, compositing and the
   returned ``person_alpha`` all see the dressed silhouette. Screen-space ambient occlusion
   from the depth buffer darkens body pixels that lie behind their surroundings (arm in
   front of the chest, inner thighs). Given the posed mesh (``caster``), the body also
   shadows itself from the light's key (:mod:`.shadows`: a shadow map from the light's
   dominant direction, used when its directionality is at least
   :data:`SELF_SHADOW_MIN_DIRECTIONALITY`; the penumbra widens from 4 mm to 5 cm as the
   light gets diffuse): an arm across the chest in sunlight leaves a shadow on it. Given
   the camera, the clothes fold (:mod:`.folds`): rings round sleeves and trouser legs,
   drape down the trunk and skirts, as a relief that bends the normals, so the folds are
   lit from the scene's light, with darker valleys.
4. *shadows*: a contact shadow -- soft dark ellipses on the background under each foot and a
   wider, fainter one under both (anisotropic Gaussians; widths 7% and 20% of the person's
   height in pixels, heights a quarter of that): what a ground plane's ambient occlusion
   looks like from a standing camera -- and a cast shadow, the silhouette laid on the ground
   away from the light's dominant direction (:func:`cast_shadow`), as dark as the light is
   directional. Both need only the 2D sole points and the person's pixel height. The cast
   shadow (and the occluder placement, 6.) use the body's silhouette widened evenly by the
   look's mean cloth standoff rather than the dressed one: the dressed outline depends on
   the part labels, and these reach far from the person.
5. *bystanders* (given by the generator): other people seen by the same camera, each dressed
   and lit like the person with its own look and shadows, behind or in front of it by depth.
   *compositing* with antialiased edges: if the G-buffer has ``k`` times the output's size
   (``supersample=k``) the premultiplied person and its coverage are area-averaged; otherwise
   the one-pixel band round the silhouette is blurred (Gaussian, sigma 0.7 px) in
   premultiplied form.
6. *occluders* (20% of images): a textured band (a texture photo or a piece of another
   background) entering from one side of the person's box and hiding 10-35% of it, or a few
   blobs; lit flat by the same light.
7. *camera*: motion blur, defocus, white balance, noise, sRGB, JPEG (:mod:`.camera_effects`).

Labels never reach the pixels: parts, ``along`` and ``around`` only choose materials inside
the person's mask and, through the loose cloth, a few centimetres round it; further out the
image depends on the person only through the shadows on the ground, the occluder placement
(beside the person's box), where bystanders stand (beside its pelvis, hiding at most half of
it) and the blur of the camera.
"""

import dataclasses
import time
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from mhp_tf_datasets.synthetic import scene as procedural
from mhp_tf_datasets.synthetic.realistic import appearance
from mhp_tf_datasets.synthetic.realistic import camera_effects
from mhp_tf_datasets.synthetic.realistic import crops
from mhp_tf_datasets.synthetic.realistic import folds
from mhp_tf_datasets.synthetic.realistic import lighting
from mhp_tf_datasets.synthetic.realistic import shadows
from mhp_tf_datasets.synthetic.realistic import stage
from mhp_tf_datasets.synthetic.realistic.assets import Assets
from mhp_tf_datasets.synthetic.realistic.camera_effects import srgb_to_linear
from mhp_tf_datasets.synthetic.realistic.gbuffer import GBuffer
from mhp_tf_datasets.synthetic.realistic.gbuffer import PART

STAGES = ("background", "light", "loosen", "self_shadow", "folds", "look", "shadow",
          "bystanders", "composite", "occluders", "camera")
EMPTY_ASSETS = Assets([], [], [], [])
# Share of frames shot against the light (a dark person before a bright, burnt-out scene).
BACKLIT_P = 0.1
# Lights less directional than this (an even overcast) cast no self-shadow worth a map.
SELF_SHADOW_MIN_DIRECTIONALITY = 0.1


@dataclasses.dataclass
class Rendered:
    image: np.ndarray            # uint8 [H, W, 3] sRGB
    person_alpha: np.ndarray     # float32 [H, W]: visible coverage of the person
    occluder_alpha: np.ndarray   # float32 [H, W]
    background: str
    light: str
    look: str
    timings_ms: Dict[str, float]
    bystanders: int = 0          # other people drawn (partly) into the frame


@dataclasses.dataclass
class Bystander:
    """Another person in the scene, seen by the same camera: not labelled, drawn with a look
    of its own, in front of or behind the person by depth, with its own shadows."""

    gbuffer: GBuffer
    caster: Optional[shadows.Caster] = None   # its posed mesh (self-shadowing)
    feet_px: Optional[np.ndarray] = None      # shadow placement, as for the person
    person_height_px: Optional[float] = None


@dataclasses.dataclass
class _Layer:
    premult: np.ndarray   # [h, w, 3] premultiplied linear radiance (output size)
    coverage: np.ndarray  # [h, w]
    outline: np.ndarray   # [h, w]: the body's silhouette widened by the mean standoff
    depth: np.ndarray     # [gh, gw]: the dressed person's depth (G-buffer size)
    mask: np.ndarray      # [gh, gw]: the dressed person's pixels


def background(rng: np.random.Generator, height: int, width: int,
               photos: Sequence[Tuple[str, np.ndarray]] = ()) -> Tuple[np.ndarray, str]:
    """Linear float ``[H, W, 3]`` background and its name (a photo or ``procedural``)."""
    if not len(photos):
        return srgb_to_linear(procedural.backdrop(rng, height, width)), "procedural"
    name, photo = photos[int(rng.integers(len(photos)))]
    ph, pw = photo.shape[:2]
    scale = max(height / ph, width / pw) * rng.uniform(1.0, 1.6)
    crop_h = min(ph, int(np.ceil(height / scale)))
    crop_w = min(pw, int(np.ceil(width / scale)))
    y0 = int(rng.integers(0, ph - crop_h + 1))
    x0 = int(rng.integers(0, pw - crop_w + 1))
    crop = photo[y0:y0 + crop_h, x0:x0 + crop_w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    crop = cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=cv2.INTER_AREA)
    return camera_effects.srgb8_to_linear(crop), name


def contact_shadow(height: int, width: int, feet_px: np.ndarray, person_height_px: float,
                   strength: float = 0.5) -> np.ndarray:
    """Multiplicative shading ``[H, W]`` in (0, 1] darkening the ground under the feet.

    ``feet_px``: ``[K, 2]`` image points (x, y) under the soles; ``person_height_px``: the
    person's standing height in pixels (sets the blob sizes); ``strength``: the darkening at
    the centre of a foot blob.
    """
    out = np.ones((height, width), np.float32)
    box, shade = _contact_shadow_box(height, width, feet_px, person_height_px, strength)
    if box is not None:
        out[box] = shade
    return out


# Below this darkening the float32 shade 1 - x rounds to exactly 1 (x < 2**-25).
_NO_SHADE = 1e-9


def _contact_shadow_box(height: int, width: int, feet_px: np.ndarray,
                        person_height_px: float, strength: float):
    """:func:`contact_shadow` where it is not exactly 1: ``(box, shade)`` with ``box`` a
    pair of slices and ``shade`` its values, or ``(None, None)``. Each blob is an outer
    product of a row and a column profile of at most 1, so outside every blob's rows or
    columns above :data:`_NO_SHADE` the darkening is below it and the shade is 1."""
    feet = np.asarray(feet_px, np.float64).reshape(-1, 2)
    if len(feet) == 0 or person_height_px <= 0:
        return None, None
    ys, xs = np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64)
    blobs = [(f, 0.07, 1.0) for f in feet] + [(feet.mean(0), 0.2, 0.5)]
    profiles = []
    for (fx, fy), rel, weight in blobs:
        sx = max(rel * person_height_px, 1.0)
        sy = max(0.25 * sx, 0.7)
        # the Gaussian is separable: an outer product of a column and a row profile
        gy = weight * np.exp(-0.5 * ((ys - fy - 0.3 * sy) / sy) ** 2)
        gx = np.exp(-0.5 * ((xs - fx) / sx) ** 2)
        profiles.append((gy, gx))
    rows = np.zeros(height, bool)
    cols = np.zeros(width, bool)
    for gy, gx in profiles:
        rows |= gy > _NO_SHADE
        cols |= gx > _NO_SHADE
    if not rows.any() or not cols.any():
        return None, None
    r, c = np.flatnonzero(rows), np.flatnonzero(cols)
    box = (slice(r[0], r[-1] + 1), slice(c[0], c[-1] + 1))
    occlusion = np.zeros((r[-1] + 1 - r[0], c[-1] + 1 - c[0]), np.float32)
    for gy, gx in profiles:
        np.maximum(occlusion, np.outer(gy[box[0]], gx[box[1]]).astype(np.float32),
                   out=occlusion)
    return box, (1.0 - strength * occlusion).astype(np.float32)


def cast_shadow(coverage: np.ndarray, feet_px: np.ndarray, person_height_px: float,
                light_dir_cam: np.ndarray, strength: float,
                ground_foreshortening: float = 0.3) -> np.ndarray:
    """Multiplicative shading ``[H, W]``: the person's silhouette laid on the ground away
    from the light (a 2D drop shadow).

    Model: a vertical person of height ``h`` px standing at the mean sole point casts a shadow
    of length ``h / tan(elevation)`` (at most ``2.5 h``) along the ground direction opposite
    the light's horizontal direction; a ground direction ``(gx, gz)`` (camera x right, z
    forward) appears in the image as ``(gx, -gz * ground_foreshortening)`` (a camera looking
    slightly down on the ground). The silhouette is mapped there by the affine map keeping
    image x-offsets and sending the head-above-feet vector to the shadow tip (whose vertical
    extent is at least 6 % of the height, so a sideways shadow is a thin band), then blurred
    by 1.5 % of the height. ``light_dir_cam``: unit vector towards the light (camera frame,
    y down); lights at or below the horizon cast nothing.
    """
    h, w = coverage.shape
    feet = np.asarray(feet_px, np.float64).reshape(-1, 2)
    d = np.asarray(light_dir_cam, np.float64)
    elevation = np.arcsin(np.clip(-d[1], -1.0, 1.0))
    if len(feet) == 0 or person_height_px <= 0 or elevation <= 0.02 or strength <= 0:
        return np.ones((h, w), np.float32)
    horizontal = np.array([d[0], d[2]])
    norm = np.linalg.norm(horizontal)
    ground = -horizontal / norm if norm > 1e-6 else np.zeros(2)
    length = min(person_height_px / np.tan(elevation), 2.5 * person_height_px)
    tip = length * np.array([ground[0], -ground[1] * ground_foreshortening])
    # a shadow straight across the image still has some depth: at least 6 % of the height
    tip[1] = np.copysign(max(abs(tip[1]), 0.06 * person_height_px), tip[1] if tip[1] else 1.0)
    anchor = feet.mean(0)
    a = np.array([[1.0, -tip[0] / person_height_px], [0.0, -tip[1] / person_height_px]])
    m = np.concatenate([a, (anchor - a @ anchor)[:, None]], 1)
    shadow = cv2.warpAffine(coverage.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR,
                            borderValue=0.0)
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(0.015 * person_height_px, 0.5))
    return (1.0 - strength * np.clip(shadow, 0.0, 1.0)).astype(np.float32)


def ambient_occlusion(gbuffer, strength: float = 0.5, radius_m: float = 0.12) -> np.ndarray:
    """Screen-space ambient occlusion ``[H, W]`` in (0, 1] from the G-buffer's depth: a body
    pixel behind the mean depth of the body round it (an arm in front of the chest, the
    inner thighs, under the chin) is darkened by ``strength * clip(excess / radius_m, 0, 1)``,
    the neighbourhood being a Gaussian of about a tenth of the person's pixel height."""
    mask = gbuffer.mask
    out = np.ones(mask.shape, np.float32)
    rows = np.nonzero(mask.any(axis=1))[0]
    if len(rows) == 0:
        return out
    sigma = max(0.03 * (rows[-1] - rows[0] + 1), 1.0)
    # only body pixels are darkened, by their depth behind the body's mean depth round them
    # (on a blur box: the values of whole-frame blurs)
    box = crops.blur_box(mask, sigma)
    mb = mask[box]
    depth = np.where(mb, gbuffer.depth[box], 0.0).astype(np.float32)
    excess = np.clip((depth[mb] - crops.normalised_blur(depth, mb, sigma)) / radius_m, 0.0, 1.0)
    out[box][mb] = 1.0 - strength * excess
    return out


def feet_from_gbuffer(gbuffer) -> Tuple[np.ndarray, float]:
    """Sole points ``[K, 2]`` (the lowest pixel of each visible foot part, else of the
    person) and the person's height in pixels (the mask's row extent), for
    :func:`contact_shadow` when the renderer gives no projected joints. Crude for people who
    are not standing (the extent then underestimates the scale)."""
    rows = np.nonzero(gbuffer.mask.any(axis=1))[0]
    if len(rows) == 0:
        return np.zeros((0, 2)), 0.0
    feet = []
    for name in ("l_foot", "r_foot"):
        ys, xs = np.nonzero(gbuffer.part == PART[name])
        if len(ys):
            low = ys == ys.max()
            feet.append([xs[low].mean(), ys.max() + 0.5])
    if not feet:
        ys, xs = np.nonzero(gbuffer.mask)
        low = ys == ys.max()
        feet.append([xs[low].mean(), ys.max() + 0.5])
    return np.array(feet, np.float64), float(rows[-1] - rows[0] + 1)


def pixels_per_metre(gbuffer, camera=None, person_height_px: Optional[float] = None) -> float:
    """Image pixels per metre at the person: the focal length over the body's median depth
    when there is a camera (of the G-buffer's size), else the pixel height of a 1.7 m person
    (``person_height_px``, or the mask's row extent); 0 for an empty buffer."""
    mask = gbuffer.mask
    rows = np.nonzero(mask.any(axis=1))[0]
    if len(rows) == 0:
        return 0.0
    fx = getattr(camera, "fx", None)
    if fx:
        depth = gbuffer.depth[mask][::5]
        return float(fx) / max(float(np.median(depth)), 1e-3)
    if person_height_px:
        return float(person_height_px) / 1.7
    return float(rows[-1] - rows[0] + 1) / 1.7


def _outline(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """Coverage ``[H, W]`` float32 of ``mask`` dilated by a disc of ``radius_px``."""
    out = mask.astype(np.uint8)
    r = int(round(radius_px))
    if r >= 1 and mask.any():
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        out = cv2.dilate(out, disc)
    return out.astype(np.float32)


def _soft_edges(premult: np.ndarray, coverage: np.ndarray, sigma: float = 0.7):
    """Blur the premultiplied colour and coverage in the band round the silhouette only.

    The blur runs on a :func:`.crops.blur_box` round the band: the same values as a blur of
    the whole frame, at a fraction of the cost."""
    hard = coverage > 0.5
    kernel = np.ones((3, 3), np.uint8)
    band = (cv2.dilate(hard.astype(np.uint8), kernel) > 0) & ~(
        cv2.erode(hard.astype(np.uint8), kernel) > 0)
    box = crops.blur_box(band, sigma)
    premult, coverage = premult.copy(), coverage.copy()
    if box is None:
        return premult, coverage
    b = band[box]
    coverage[box][b] = cv2.GaussianBlur(np.ascontiguousarray(coverage[box]), (0, 0), sigma)[b]
    premult[box][b] = cv2.GaussianBlur(np.ascontiguousarray(premult[box]), (0, 0), sigma)[b]
    return premult, coverage


def _person_box(coverage: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
    ys, xs = np.nonzero(coverage > 0.5)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def occluder(rng: np.random.Generator, height: int, width: int,
             box: Optional[Tuple[int, int, int, int]], textures, photos,
             light: lighting.Light, exposure) -> Tuple[np.ndarray, np.ndarray]:
    """A random occluder near the person's box: linear colour ``[H, W, 3]`` and alpha."""
    alpha = np.zeros((height, width), np.float32)
    if box is None:
        box = (width // 4, height // 4, 3 * width // 4, 3 * height // 4)
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    pick = rng.random()
    if len(photos) and pick < 0.35:  # a piece of another photo
        colour, _ = background(rng, height, width, photos)
    elif len(textures) and pick < 0.85:  # a texture photo, tiled at a random scale
        _, src = textures[int(rng.integers(len(textures)))]
        tile = srgb_to_linear(np.asarray(src, np.float32) / 255.0)
        f = rng.uniform(0.5, 2.0) * max(height, width) / 256
        tile = cv2.resize(tile, (max(2, int(tile.shape[1] * f)), max(2, int(tile.shape[0] * f))),
                          interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        reps = (height // tile.shape[0] + 2, width // tile.shape[1] + 2)
        oy, ox = int(rng.integers(0, tile.shape[0])), int(rng.integers(0, tile.shape[1]))
        colour = np.ascontiguousarray(np.tile(tile, (reps[0], reps[1], 1))[
            oy:oy + height, ox:ox + width])
    else:
        c = appearance.sample_garment(rng, pattern="solid").colour
        colour = np.broadcast_to(c, (height, width, 3)).astype(np.float32)
    if rng.random() < 0.75:  # a band from one side covering part of the box
        side = rng.choice(["bottom", "left", "right", "top"], p=[0.5, 0.22, 0.22, 0.06])
        f = rng.uniform(0.1, 0.35) if side != "top" else rng.uniform(0.05, 0.25)
        tilt = rng.uniform(-0.15, 0.15)
        if side in ("bottom", "top"):
            edge = y1 - f * bh if side == "bottom" else y0 + f * bh
            xs = np.array([-width, 2 * width])
            ys = edge + tilt * (xs - (x0 + x1) / 2)
            far = 2 * height if side == "bottom" else -height
            pts = np.array([[xs[0], ys[0]], [xs[1], ys[1]], [xs[1], far], [xs[0], far]])
        else:
            edge = x0 + f * bw if side == "left" else x1 - f * bw
            ys = np.array([-height, 2 * height])
            xs = edge + tilt * (ys - (y0 + y1) / 2)
            far = -width if side == "left" else 2 * width
            pts = np.array([[xs[0], ys[0]], [xs[1], ys[1]], [far, ys[1]], [far, ys[0]]])
        cv2.fillPoly(alpha, [np.round(pts * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
    else:  # a few blobs (foliage, clutter) over the box
        for _ in range(int(rng.integers(1, 4))):
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0 + 0.3 * bh, y1)
            axes = (rng.uniform(0.15, 0.5) * bw + 2, rng.uniform(0.08, 0.25) * bh + 2)
            cv2.ellipse(alpha, (int(cx * 16), int(cy * 16)),
                        (int(axes[0] * 16), int(axes[1] * 16)), rng.uniform(0, 180), 0, 360,
                        1.0, -1, cv2.LINE_AA, shift=4)
    shade = light.irradiance(np.array([[0.0, -0.5, -0.866]]))[0] / np.pi * exposure
    return (colour * shade * rng.uniform(0.6, 1.0)).astype(np.float32), alpha


def _person_layer(gbuffer, look, light: lighting.Light, exposure, camera,
                  caster: Optional[shadows.Caster], person_height_px: Optional[float],
                  k: int, ao_strength: float, folds_seq: Optional[np.random.SeedSequence],
                  lap=lambda name: None) -> _Layer:
    """One dressed, lit person as a premultiplied layer (see :func:`render`, step 3)."""
    h, w = gbuffer.shape[0] // k, gbuffer.shape[1] // k
    px_per_m = pixels_per_metre(gbuffer, camera, person_height_px)
    body_mask = gbuffer.mask
    gbuffer = appearance.loosen(gbuffer, look, px_per_m)
    lap("loosen")
    body = gbuffer.mask  # shading is per pixel: only the dressed person's pixels need it
    visibility = None
    direction, directionality = light.dominant_direction()
    if (caster is not None and camera is not None and body.any()
            and directionality >= SELF_SHADOW_MIN_DIRECTIONALITY):
        penumbra_px = px_per_m * (0.004 + 0.046 * (1.0 - directionality))
        visibility = shadows.self_shadow(gbuffer, camera, caster, direction, penumbra_px)[body]
    lap("self_shadow")
    normals, fold_light = gbuffer.normal, None
    if folds_seq is not None and camera is not None and body.any():
        rng_folds = np.random.default_rng(folds_seq)
        normals, fold_light, _ = folds.apply(gbuffer, look, folds.sample_folds(rng_folds, look),
                                             camera)
    lap("folds")
    albedo, gloss = appearance.paint(gbuffer, look)
    radiance = np.zeros(albedo.shape, np.float32)
    radiance[body] = lighting.shade(albedo[body], normals[body], light, gloss[body],
                                    visibility)
    coverage = gbuffer.mask.astype(np.float32)
    premult = np.zeros_like(radiance)
    # radiance is 0 beyond the body, and stays 0 under every factor: only its box is scaled
    box = crops.box(body)
    if box is not None:
        r = radiance[box]
        r *= exposure
        r *= ambient_occlusion(gbuffer, ao_strength)[box][..., None]
        if fold_light is not None:
            r *= fold_light[box][..., None]
        premult[box] = r * coverage[box][..., None]
    # Far from the person (shadow, occluder placement) only the body's own silhouette
    # counts, grown by the look's mean standoff: that is label-free, as the cloth is not.
    outline = _outline(body_mask, 0.5 * (look.top_loose + look.bottom_loose) * px_per_m)
    if k > 1:
        premult = cv2.resize(premult, (w, h), interpolation=cv2.INTER_AREA)
        coverage = cv2.resize(coverage, (w, h), interpolation=cv2.INTER_AREA)
        outline = cv2.resize(outline, (w, h), interpolation=cv2.INTER_AREA)
    else:
        premult, coverage = _soft_edges(premult, coverage)
    lap("look")
    return _Layer(premult, coverage, outline, gbuffer.depth, gbuffer.mask)


def _ground_shadows(bg, feet_px, person_height_px, outline, k: int, light: lighting.Light,
                    rng: np.random.Generator):
    """``bg`` with one person's contact and cast shadows (step 4 of :func:`render`); no
    change (and no draw) without its sole points and height. ``outline``: its widened body
    silhouette at ``bg``'s size; ``feet_px``/``person_height_px``: at the G-buffer's."""
    if feet_px is None or not person_height_px:
        return bg
    h, w = bg.shape[:2]
    direction, directionality = light.dominant_direction()
    feet, height_px = np.asarray(feet_px) / k, person_height_px / k
    # the contact shade is exactly 1 outside its box: only the box is multiplied
    box, shade = _contact_shadow_box(h, w, feet, height_px, rng.uniform(0.3, 0.65))
    bg = bg.copy()
    if box is not None:
        bg[box] *= shade[..., None]
    strength = rng.uniform(0.5, 0.9) * directionality
    return bg * cast_shadow(outline, feet, height_px, direction, strength,
                            rng.uniform(0.15, 0.45))[..., None]


def render(gbuffer, seed, assets: Assets = EMPTY_ASSETS, feet_px: Optional[np.ndarray] = None,
           person_height_px: Optional[float] = None, supersample: int = 1,
           occluder_p: float = 0.2, camera=None, floor_z: Optional[float] = None,
           person_distance: Optional[float] = None,
           caster: Optional[shadows.Caster] = None, cloth_folds: bool = True,
           bystanders: Sequence[Bystander] = ()) -> Rendered:
    """Shade ``gbuffer`` into a background with light, shadow, occluders and camera effects.

    ``seed``: an int or ``np.random.SeedSequence``; the output is a pure function of it, the
    G-buffer and the assets. ``feet_px``/``person_height_px``: in G-buffer pixels, for the
    contact shadow (skipped when missing; :func:`feet_from_gbuffer` estimates them).
    ``supersample``: the G-buffer's size over the output's (an integer that divides both
    sides).

    ``camera`` (with its pose ``R``, ``t``), ``floor_z`` (world floor height, m) and
    ``person_distance`` (m), when given, let the background be built through the frame's
    camera (:mod:`.stage`): a photo with its horizon on the camera's (35 %), a floor and
    backdrop ray cast from textures and photos (the rest, and whenever the horizon does not
    fit), or a plain photo (10 %). Without them the background is a plain photo.

    ``caster``: the posed body mesh in the camera's coordinates; with it (and ``camera``,
    the G-buffer's pinhole) the person shadows itself (:mod:`.shadows`). Only the person's
    pixels change: every random draw is the same with and without it.

    ``cloth_folds``: bend the cloth's normals by fold relief (:mod:`.folds`; needs
    ``camera``). Again only the person's pixels change, and no other draw.

    ``bystanders``: other people seen by the same camera (:class:`Bystander`), each dressed
    and lit like the person with a look of its own, casting its own shadows, and drawn in
    front of or behind the person by depth. Their draws come from a stream of their own:
    without them every pixel is as before. ``person_alpha`` is the person's coverage left
    visible by occluders and bystanders in front.
    """
    timings = {}
    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + 1000 * (now - clock[0])
        clock[0] = now

    gh, gw = gbuffer.shape
    k = int(supersample)
    if k < 1 or gh % k or gw % k:
        raise ValueError(f"supersample={supersample} must be a positive integer dividing the "
                         f"G-buffer's size {gh}x{gw}")
    h, w = gh // k, gw // k
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rng_bg, rng_light, rng_look, rng_shadow, rng_occ, rng_cam = [
        np.random.default_rng(s) for s in seq.spawn(6)]

    light = lighting.sample_light(rng_light, assets.hdris)
    staged = None
    if camera is not None and getattr(camera, "R", None) is not None:
        r = rng_bg.random()
        cam = camera if k == 1 else camera.crop(0.0, 0.0, 1.0 / k, w, h)
        if r < 0.35:
            staged = stage.horizon_photo_background(rng_bg, cam, h, w, assets.backgrounds)
        if staged is None and r < 0.9 and stage.pick(assets.textures, stage.FLOOR_TEXTURES):
            staged = stage.stage_background(
                rng_bg, cam, 0.0 if floor_z is None else float(floor_z), h, w, assets.textures,
                assets.backgrounds, light, 4.0 if person_distance is None else person_distance)
    if staged is not None:
        bg, bg_name = staged
    else:
        bg, bg_name = background(rng_bg, h, w, assets.backgrounds)
    lap("background")
    bg_mean = stage.channel_mean(bg)  # (float64 sums; numpy's float32 mean before 1.8.0)
    bg_lum = float(bg_mean @ np.array([0.2126, 0.7152, 0.0722]))
    # exposure follows the photo's brightness, and a third of its colour cast (harmonisation)
    tint = np.clip((bg_mean / max(bg_lum, 1e-4)) ** 0.35, 0.8, 1.25).astype(np.float32)
    exposure = 0.8 * float(np.clip(np.sqrt(bg_lum / 0.2), 0.5, 1.6)) * tint
    if rng_light.random() < BACKLIT_P:
        # against the light (sky, window, low sun): the camera exposes for the bright scene,
        # which burns out, and the person's side facing it is in shade
        bg = bg * rng_light.uniform(1.3, 2.2)
        exposure = exposure * rng_light.uniform(0.25, 0.6)
    lap("light")
    look = appearance.sample_look(rng_look, assets.cloth_textures)
    ao_strength = rng_look.uniform(0.3, 0.6)
    # the fold draws and the bystanders' come from streams spawned after the six above, so
    # every other draw is the same with and without them
    folds_seq, others_seq = seq.spawn(2)
    main = _person_layer(gbuffer, look, light, exposure, camera, caster, person_height_px, k,
                         ao_strength, folds_seq if cloth_folds else None, lap)
    premult, coverage, outline = main.premult, main.coverage, main.outline
    bg = _ground_shadows(bg, feet_px, person_height_px, outline, k, light, rng_shadow)
    lap("shadow")
    layers = []  # (layer, share of each pixel where it is in front of the person)
    rng_others = np.random.default_rng(others_seq)
    for other in bystanders:
        if not other.gbuffer.mask.any():
            continue
        o_look = appearance.sample_look(rng_others, assets.cloth_textures)
        o_ao = rng_others.uniform(0.3, 0.6)
        o_folds = others_seq.spawn(1)[0] if cloth_folds else None
        layer = _person_layer(other.gbuffer, o_look, light, exposure, camera, other.caster,
                              other.person_height_px, k, o_ao, o_folds)
        bg = _ground_shadows(bg, other.feet_px, other.person_height_px, layer.outline, k,
                             light, rng_others)
        front = (layer.mask & (~main.mask | (layer.depth < main.depth))).astype(np.float32)
        if k > 1:
            front = cv2.resize(front, (w, h), interpolation=cv2.INTER_AREA)
        layers.append((layer, front))
    lap("bystanders")
    # behind the person: the bystanders over the background; then the person; then those
    # in front of it (per pixel, by depth)
    image = bg
    for layer, front in layers:
        image = image * (1.0 - (layer.coverage * (1.0 - front))[..., None]) + \
            layer.premult * (1.0 - front)[..., None]
    image = image * (1.0 - coverage[..., None]) + premult
    hidden = np.zeros((h, w), np.float32)
    for layer, front in layers:
        image = image * (1.0 - (layer.coverage * front)[..., None]) + \
            layer.premult * front[..., None]
        hidden = 1.0 - (1.0 - hidden) * (1.0 - layer.coverage * front)
    lap("composite")
    occ_alpha = np.zeros((h, w), np.float32)
    if rng_occ.random() < occluder_p:
        occ_colour, occ_alpha = occluder(rng_occ, h, w, _person_box(outline), assets.textures,
                                         assets.backgrounds, light, exposure)
        image = image * (1.0 - occ_alpha[..., None]) + occ_colour * occ_alpha[..., None]
    lap("occluders")
    fx = camera_effects.sample_effects(rng_cam, max(h, w))
    out = camera_effects.apply_effects(image, fx, rng_cam)
    lap("camera")
    return Rendered(image=out, person_alpha=coverage * (1.0 - occ_alpha) * (1.0 - hidden),
                    occluder_alpha=occ_alpha, background=bg_name, light=light.name,
                    look=appearance.describe(look), timings_ms=timings,
                    bystanders=len(layers))
