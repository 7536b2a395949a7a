"""The world behind the person, seen through the frame's own camera: ground, backdrop, horizon.

A person pasted at a random place over a close-up photo floats: no ground under the feet, a
horizon (if any) that has nothing to do with the camera. The backgrounds here are built from
the camera that renders the person (its intrinsics, pose and the floor height), in one of two
ways:

* **stage** (:func:`stage_background`): a ray cast per pixel against two planes: the floor
  ``z = floor_z`` with a floor texture (tiles, parquet, paving, grass, ...; a tile of
  0.4-2.5 m) and a vertical backdrop facing the camera 1.5-12 m behind the person: a wall
  texture (bricks, plaster, stone; indoor) or a photograph spread over 6-40 m (outdoor;
  any of the photos). Texels are taken from a mip pyramid chosen per pixel by the texel
  footprint, so the far floor does not alias. Both planes are lit by the frame's light
  (irradiance at their normals), the far floor fades into a haze.
* **horizon photo** (:func:`horizon_photo_background`): one of the landscape photos whose
  horizon row is known (:data:`SCENE_HORIZONS`), scaled, rotated and shifted so that its
  horizon falls on the camera's horizon line (the vanishing line of the floor). Only used
  when that line crosses the frame's upper part at a modest tilt.

Both return linear RGB in about [0, 1] (like the photo backgrounds of :mod:`.compose`). They
depend on the person only through the camera and the floor height, never on the labels.
"""

from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from mhp_tf_datasets.synthetic.realistic import camera_effects

# Horizon rows (fraction of the height from the top) of the background photos that show a
# scene a person can stand in (ground below the horizon), by asset name; read off each photo.
SCENE_HORIZONS: Dict[str, float] = {
    "lomiri.Bridge_by_Sander_Klootwijk": 0.80,
    "lomiri.Wine_by_Jakkub_Mede": 0.30,
    "lomiri.aitzgorri_by_Aitzol_Berasategi": 0.50,
    "lomiri.life_by_Aitzol_Berasategi": 0.40,
    "lomiri.picosdeeuropa_by_Aitzol_Berasategi": 0.55,
    "lomiri.sunset_by_Aitzol_Berasategi": 0.50,
    "mate.Storm": 0.60,
    "plasma.BytheWater": 0.30,
    "plasma.ColdRipple": 0.45,
    "plasma.EveningGlow": 0.45,
    "plasma.Path": 0.45,
}

# Texture assets by the surface they suit (names without the package prefix).
FLOOR_TEXTURES = ("beigeTile", "blackAndWhiteTiles", "blueTiles", "darkBlueTile", "greyTile",
                  "lightBlueTile", "oldWoodenFloor", "pavingStone", "pebbles", "redTiles",
                  "stoneTiles", "woodenFloor", "grass", "ground1", "parque1", "parque2",
                  "parque3", "wood1", "wood2", "wood3", "wood4", "rock", "slate", "stone33",
                  "terra", "granite1")
WALL_TEXTURES = ("smallBricks", "smallRedBricks", "smallWhiteBricks", "stone2Wall", "stone3Wall",
                 "stoneWall", "roughcast", "wallBeigeTile", "marbleWall", "brick", "marble1",
                 "pink_marble", "corkboard", "paper", "wood5", "walnut", "burlwood", "pine")
OUTDOOR_FLOORS = ("grass", "ground1", "pavingStone", "pebbles", "rock", "stone33", "terra",
                  "stoneTiles", "slate", "granite1")


def _short(name: str) -> str:
    return name.split(".", 1)[-1]


def pick(textures: Sequence[Tuple[str, np.ndarray]], names: Sequence[str]):
    """The textures of ``textures`` whose short name is in ``names``."""
    return [(n, t) for n, t in textures if _short(n) in names]


def scene_photos(photos: Sequence[Tuple[str, np.ndarray]]):
    """``(name, photo, horizon fraction)`` of the photos listed in :data:`SCENE_HORIZONS`."""
    return [(n, p, SCENE_HORIZONS[n]) for n, p in photos if n in SCENE_HORIZONS]


def pixel_rays(camera, height: int, width: int, dtype=np.float64) -> np.ndarray:
    """World-frame ray directions ``[H, W, 3]`` (not normalised) through the pixel centres,
    of ``dtype``."""
    u = ((np.arange(width, dtype=np.float64) - camera.cx) / camera.fx).astype(dtype)
    v = ((np.arange(height, dtype=np.float64) - camera.cy) / camera.fy).astype(dtype)
    d_cam = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((height, width), dtype)),
                     -1)
    return d_cam @ np.asarray(camera.R, dtype)  # R^T d for row vectors


def channel_mean(pixels: np.ndarray) -> np.ndarray:
    """Per-channel mean (float32 ``[3]``) of ``[..., 3]`` pixels, summed in float64."""
    flat = np.ascontiguousarray(pixels, np.float32).reshape(-1, 1, 3)
    if not len(flat):
        return np.zeros(3, np.float32)
    return np.asarray(cv2.mean(flat)[:3], np.float32)


def horizon_line(camera) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The floor's vanishing line in the image: ``(point, unit direction)`` in pixels, or
    None when the optical axis is (nearly) vertical."""
    R = np.asarray(camera.R, np.float64)
    forward = R.T @ np.array([0.0, 0.0, 1.0])
    horiz = np.array([forward[0], forward[1], 0.0])
    if np.linalg.norm(horiz) < 1e-3:
        return None
    horiz /= np.linalg.norm(horiz)
    side = np.cross(horiz, [0.0, 0.0, 1.0])
    directions = np.stack([R @ d for d in (horiz, horiz + 0.2 * side)])  # camera frame
    if np.any(directions[:, 2] <= 1e-6):
        return None
    pts = camera.project(directions)  # their vanishing points
    direction = pts[1] - pts[0]
    return pts[0], direction / np.linalg.norm(direction)


def _pyramid(texture_linear: np.ndarray, levels: int = 5):
    out = [texture_linear]
    for _ in range(levels - 1):
        if min(out[-1].shape[:2]) < 8:
            break
        out.append(cv2.pyrDown(out[-1]))
    return out


# id(sRGB uint8 asset) -> (the asset, its linear mip pyramid): the assets live as long as the
# process, so each texture and photo is decoded and filtered once, not once per image.
_PYRAMIDS: Dict[int, Tuple[np.ndarray, list]] = {}


def linear_pyramid(texture_srgb8: np.ndarray) -> list:
    """The linear-light mip pyramid of an sRGB uint8 texture, cached per array."""
    hit = _PYRAMIDS.get(id(texture_srgb8))
    if hit is None or hit[0] is not texture_srgb8:
        hit = (texture_srgb8, _pyramid(camera_effects.srgb8_to_linear(texture_srgb8)))
        _PYRAMIDS[id(texture_srgb8)] = hit
    return hit[1]


def _remap_points(tex: np.ndarray, mx: np.ndarray, my: np.ndarray, border: int) -> np.ndarray:
    """Bilinear look-ups of ``tex`` at the 1-D float32 coordinates ``mx``, ``my``: ``[N, 3]``."""
    n = len(mx)
    cols = 1024
    rows = -(-n // cols)
    pad = rows * cols - n
    mx = np.concatenate([mx, np.zeros(pad, np.float32)]).reshape(rows, cols)
    my = np.concatenate([my, np.zeros(pad, np.float32)]).reshape(rows, cols)
    return cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=border).reshape(-1, 3)[:n]


def _sample(pyramid, tx: np.ndarray, ty: np.ndarray, footprint: np.ndarray,
            border: int) -> np.ndarray:
    """Texture look-ups ``[N, 3]`` at the 1-D texel coordinates of level 0 ``tx``, ``ty``
    from the pyramid level that matches ``footprint`` (texels per pixel), linearly blended
    between the two nearest levels. The points are sorted by level once, so each level is
    looked up at the contiguous run of points that use it, not at every point."""
    n_levels = len(pyramid)
    level = np.clip(np.log2(np.maximum(footprint, 1e-6)), 0.0, n_levels - 1.0)
    lo = np.floor(level).astype(np.int32)
    # a stable sort of small integers: as uint8 numpy uses a radix sort (the same order,
    # several times faster than its merge sort of int32)
    order = np.argsort(lo.astype(np.uint8) if n_levels <= 256 else lo, kind="stable")
    lo = lo[order]
    frac = (level[order] - lo).astype(np.float32)
    tx, ty = tx[order], ty[order]
    bounds = np.searchsorted(lo, np.arange(n_levels + 1))  # lo == k on bounds[k]:bounds[k+1]
    out = np.zeros((len(tx), 3), np.float32)
    for k, tex in enumerate(pyramid):
        a, b = bounds[max(k - 1, 0)], bounds[k + 1]  # the points with lo in {k - 1, k}
        if a == b:
            continue
        wk = np.where(lo[a:b] == k, 1.0 - frac[a:b], frac[a:b])
        scale = 0.5 ** k
        mx = (tx[a:b] * scale).astype(np.float32)
        my = (ty[a:b] * scale).astype(np.float32)
        if border == cv2.BORDER_WRAP:  # remap wraps only near the edge: reduce modulo first
            # (x - floor(x / W) W: within rounding of [0, W], which the wrap border takes;
            # several times faster than the np.mod used before builder 1.8.0)
            mx -= np.floor(mx * np.float32(1.0 / tex.shape[1])) * np.float32(tex.shape[1])
            my -= np.floor(my * np.float32(1.0 / tex.shape[0])) * np.float32(tex.shape[0])
        out[a:b] += _remap_points(tex, mx, my, border) * wk[:, None]
    result = np.empty_like(out)
    result[order] = out
    return result


def stage_background(rng: np.random.Generator, camera, floor_z: float, height: int, width: int,
                     textures: Sequence[Tuple[str, np.ndarray]],
                     photos: Sequence[Tuple[str, np.ndarray]], light,
                     person_distance: float) -> Tuple[np.ndarray, str]:
    """Floor + backdrop through ``camera`` (see the module doc); linear ``[H, W, 3]``, name."""
    floors = pick(textures, FLOOR_TEXTURES)
    walls = pick(textures, WALL_TEXTURES)
    outdoor = (rng.random() < 0.5 and len(photos) > 0) or not walls
    if outdoor:
        floors = pick(textures, OUTDOOR_FLOORS) or floors
    if not floors:
        raise ValueError("no floor textures")
    fname, ftex = floors[int(rng.integers(len(floors)))]
    if outdoor:
        bname, btex = photos[int(rng.integers(len(photos)))]
    else:
        bname, btex = walls[int(rng.integers(len(walls)))]
    # float32 from here on (builder 1.8.0; float64 before): half the memory traffic. Even
    # at the ray-length cap of 1e4 m a float32 point is within 1 mm, far below a texel of
    # the mip level such a distance samples.
    d = pixel_rays(camera, height, width, np.float32).reshape(-1, 3)
    centre = np.asarray(camera.centre, np.float32)
    norm_d = np.sqrt(np.einsum("ij,ij->i", d, d))

    # the backdrop plane: vertical, facing the camera, behind the person
    forward = np.asarray(camera.R, np.float64).T @ np.array([0.0, 0.0, 1.0])
    n = np.array([forward[0], forward[1], 0.0])
    n = n / max(np.linalg.norm(n), 1e-6)
    yaw = rng.uniform(-0.5, 0.5)  # the wall need not face the camera squarely
    c, s = np.cos(yaw), np.sin(yaw)
    n = np.array([c * n[0] - s * n[1], s * n[0] + c * n[1], 0.0])
    wall_dist = person_distance + (rng.uniform(4.0, 30.0) if outdoor else rng.uniform(1.5, 8.0))
    d_n = d @ n.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.float32(floor_z - centre[2]) / d[:, 2]
        t_wall = np.float32(wall_dist) / d_n
    t_floor = np.where(np.isfinite(t_floor) & (t_floor > 0), t_floor, np.inf)
    t_wall = np.where(np.isfinite(t_wall) & (t_wall > 0), t_wall, np.inf)
    on_floor = t_floor < t_wall
    t = np.minimum(t_floor, t_wall)
    t = np.where(np.isfinite(t), t, np.float32(1e4))
    dist = t * norm_d
    f = 0.5 * (camera.fx + camera.fy)
    # each pixel sees one plane: texture and light are worked out for its own plane only
    fi, wi = np.flatnonzero(on_floor), np.flatnonzero(~on_floor)

    # floor texture: a tile of tile_m metres, rotated and shifted at random
    fpyr = linear_pyramid(ftex)
    tile_m = rng.uniform(1.0, 2.5) if outdoor else rng.uniform(0.4, 1.6)
    ang = rng.uniform(0, np.pi)
    ca, sa = np.float32(np.cos(ang)), np.float32(np.sin(ang))
    d_f = np.take(d, fi, axis=0)  # (take: a faster gather than d[fi])
    p_f = centre + d_f * t[fi, None]
    texel_per_m = fpyr[0].shape[1] / tile_m
    # texel coordinates straight away (the products by texel_per_m of before, folded)
    fx_m = (ca * p_f[:, 0] + sa * p_f[:, 1] + np.float32(rng.uniform(0, tile_m))) \
        * np.float32(texel_per_m)
    fy_m = (-sa * p_f[:, 0] + ca * p_f[:, 1] + np.float32(rng.uniform(0, tile_m))) \
        * np.float32(texel_per_m)
    slant = np.abs(d_f[:, 2]) / norm_d[fi]  # cosine of the ray with the floor's normal
    foot_floor = dist[fi] * np.float32(texel_per_m / f) / np.sqrt(np.maximum(slant, 0.15))
    floor_rgb = _sample(fpyr, fx_m, fy_m, foot_floor, cv2.BORDER_WRAP)

    # backdrop: wall texture tiles, or one photo spread wide
    bpyr = linear_pyramid(btex)
    e = np.cross(n, [0.0, 0.0, 1.0])
    p_w = centre + np.take(d, wi, axis=0) * t[wi, None]
    sx = p_w @ e.astype(np.float32)
    sz = p_w[:, 2] - floor_z
    if outdoor:
        span_m = rng.uniform(0.8, 1.6) * 2 * wall_dist * np.tan(0.5 * rng.uniform(0.6, 1.1))
        px_per_m = bpyr[0].shape[1] / span_m
        top = bpyr[0].shape[0] / px_per_m * rng.uniform(0.75, 1.0)  # the photo stands on the floor
        bx = (sx - float(centre @ e) + 0.5 * span_m * rng.uniform(0.6, 1.4)) * px_per_m
        by = (top - sz) * px_per_m
        border = cv2.BORDER_REFLECT
    else:
        wall_tile = rng.uniform(0.5, 2.0)
        px_per_m = bpyr[0].shape[1] / wall_tile
        bx = (sx + rng.uniform(0, wall_tile)) * px_per_m
        by = (-sz + rng.uniform(0, wall_tile)) * px_per_m
        border = cv2.BORDER_WRAP
    facing = np.abs(d_n[wi]) / norm_d[wi]
    foot_wall = dist[wi] * np.float32(px_per_m / f) / np.sqrt(np.maximum(facing, 0.15))
    wall_rgb = _sample(bpyr, bx, by, foot_wall, border)

    # light: irradiance at each plane's normal (camera frame), relative to a camera-facing one
    R = np.asarray(camera.R, np.float64)
    normals = np.stack([R @ np.array([0.0, 0.0, 1.0]), R @ n * -1.0, [0.0, 0.0, -1.0]])
    irr = light.irradiance(normals)  # [3, 3]
    ref = max(float(np.mean(irr[2])), 1e-6)
    shade_floor = np.clip(irr[0] / ref, 0.25, 1.6).astype(np.float32)
    shade_wall = np.clip(irr[1] / ref, 0.25, 1.6).astype(np.float32)
    if outdoor:  # a photo carries its own light
        shade_wall = np.clip(0.5 + 0.5 * shade_wall, 0.6, 1.3).astype(np.float32)
    img = np.empty((height * width, 3), np.float32)
    img[fi] = floor_rgb * shade_floor
    img[wi] = wall_rgb * shade_wall
    # haze on the far floor (and nothing sharper than the horizon): the backdrop's colour
    # outdoors (the floor's where no backdrop is in view), the frame's mean indoors
    # (means by cv2.mean: a float64 sum, faster than numpy's float32 mean over axis 0)
    if outdoor and len(wi):
        haze_colour = channel_mean(wall_rgb)
    else:
        haze_colour = channel_mean(img)
    haze = 1.0 - np.exp(-dist * np.float32(1.0 / rng.uniform(25.0, 80.0)))
    # in place: the same float32 operations as img * (1 - haze) + haze_colour * haze
    img *= (1.0 - haze)[:, None]
    img += haze_colour * haze[:, None]
    img *= np.float32(rng.uniform(0.8, 1.15))
    img = np.clip(img, 0.0, 1.5, out=img).reshape(height, width, 3)
    return img.astype(np.float32, copy=False), f"stage:{_short(fname)}/{_short(bname)}"


def horizon_photo_background(rng: np.random.Generator, camera, height: int, width: int,
                             photos) -> Optional[Tuple[np.ndarray, str]]:
    """A :data:`SCENE_HORIZONS` photo placed so its horizon lies on the camera's; None when
    the camera's horizon is off the frame's upper 80 % or tilted more than ~17 degrees."""
    scenes = scene_photos(photos)
    line = horizon_line(camera)
    if not scenes or line is None:
        return None
    point, direction = line
    if direction[0] < 0:
        direction = -direction
    angle = np.arctan2(direction[1], direction[0])
    if abs(angle) > 0.3:
        return None
    # the horizon's row at the frame's centre column
    x_mid = (width - 1) / 2
    y_mid = point[1] + (x_mid - point[0]) * direction[1] / max(direction[0], 1e-6)
    if not (-0.1 * height <= y_mid <= 0.8 * height):
        return None
    name, photo, frac = scenes[int(rng.integers(len(scenes)))]
    ph, pw = photo.shape[:2]
    hy = frac * ph
    margin = 1.0 + abs(np.sin(angle)) + 0.05
    need = max(width * margin / pw, (y_mid + 2) * margin / max(hy, 1.0),
               (height - y_mid + 2) * margin / max(ph - hy, 1.0))
    scale = need * rng.uniform(1.0, 1.5)
    mirror = rng.random() < 0.5
    # photo point (px, hy) -> frame point (x_mid, y_mid), rotated by the horizon's angle
    span = pw * scale - width * margin
    px = (pw / 2 + rng.uniform(-0.5, 0.5) * max(span, 0.0) / scale)
    c, s = np.cos(angle), np.sin(angle)
    a = scale * np.array([[c, -s], [s, c]])
    m = np.concatenate([a, (np.array([x_mid, y_mid]) - a @ np.array([px, hy]))[:, None]], 1)
    lin = linear_pyramid(photo)[0]  # decoded once per process, not once per image
    if mirror:
        lin = np.ascontiguousarray(lin[:, ::-1])
    if scale < 1:  # shrink by area first (a warp would alias), then warp at unit scale
        lin = cv2.resize(lin, (max(1, int(round(pw * scale))), max(1, int(round(ph * scale)))),
                         interpolation=cv2.INTER_AREA)
        m[:, :2] /= scale
    out = cv2.warpAffine(lin, m, (width, height), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
    return out.astype(np.float32), f"horizon:{name}"
