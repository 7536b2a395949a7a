"""Self-shadowing: where the body keeps the key light off itself.

Spherical-harmonic light (:mod:`.lighting`) shades every point as if nothing stood between it
and the sky, which makes bodies look plastic in sunlight: no arm shadow on the chest, no dark
far leg behind the near one, no shade under the chin. This module gives the shading a
*visibility* of the environment's key light (:meth:`.lighting.Light.key`) per body pixel, by
a shadow map -- the textbook two-pass test:

1. The posed mesh (:class:`Caster`, camera coordinates) is drawn by
   :func:`.rasterizer.depth_map` into an orthographic z-buffer seen from the key light
   (:func:`light_frame`), its square fitted to the body (:data:`MAP_SIZE` texels, about
   1 cm each for a standing person).
2. Each body pixel of the G-buffer goes back to camera space through its depth, is pushed
   off its surface along the normal by :data:`NORMAL_OFFSET_TEXELS` (so a lit surface does
   not shadow itself through the map's stair steps, "shadow acne"), and compared with the
   map at 3 x 3 neighbouring texels (percentage-closer filtering): the fraction of them
   that are not nearer the light than it by more than a bias is its visibility. The bias
   grows with the tangent of the light's incidence (a surface the light grazes climbs
   several texels of depth from one texel to the next).
3. The visibility is blurred over the person's pixels by a penumbra that grows as the light
   gets less directional (a sun's shadow is sharp, a bright window's is soft).

The map sees only the body mesh, not the loose clothes and hair that
:func:`.appearance.loosen` adds in screen space; those pixels take the visibility of the
body surface they are reconstructed on. The floor shadow stays 2D
(:func:`.compose.cast_shadow`). Everything here depends on the mesh and the light only --
no label is drawn into the pixels, and nothing outside the person changes.
"""

import dataclasses

import numpy as np

from mhp_tf_datasets.synthetic.realistic import crops
from mhp_tf_datasets.synthetic.realistic import rasterizer

MAP_SIZE = 256              # texels per side of the shadow map
NORMAL_OFFSET_TEXELS = 1.5  # how far a receiver is pushed off its surface, in texels
DEPTH_BIAS_TEXELS = 1.0     # and how much nearer than the map it may be and still be lit,
SLOPE_BIAS_TEXELS = 1.5     # plus this times the tangent of the light's incidence (<= 5)


@dataclasses.dataclass
class Caster:
    """A closed, outward-wound mesh in camera coordinates (metres): what casts the shadows."""

    vertices: np.ndarray  # (N, 3)
    faces: np.ndarray     # (F, 3)

    @classmethod
    def from_world(cls, camera, vertices_world: np.ndarray, faces: np.ndarray) -> "Caster":
        return cls(np.asarray(camera.world_to_camera(vertices_world), np.float64),
                   np.asarray(faces))


@dataclasses.dataclass
class ShadowMap:
    rotation: np.ndarray  # (3, 3): rows are the light frame's axes in camera coordinates
    origin: np.ndarray    # (2,) light-frame (x, y) of texel (0, 0)'s centre, metres
    scale: float          # texels per metre
    depth: np.ndarray     # (S, S) distance along the light's rays, metres; inf = empty


def light_frame(direction: np.ndarray) -> np.ndarray:
    """Rotation ``[3, 3]`` whose rows are a right-handed frame looking *along* the light's
    rays: z is minus ``direction`` (the unit vector towards the light), x and y span the
    map's plane."""
    z = -np.asarray(direction, np.float64)
    z = z / max(np.linalg.norm(z), 1e-12)
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    y = np.cross(z, helper)
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    return np.stack([x, y, z])


def shadow_map(caster: Caster, direction: np.ndarray, size: int = MAP_SIZE) -> ShadowMap:
    """The caster's depth seen from ``direction`` (camera-frame unit vector towards the
    light), in a square map fitted to its extent with a 2-texel border."""
    rot = light_frame(direction)
    q = caster.vertices @ rot.T
    # (per column: numpy's reduction over axis 0 of the strided [N, 2] is several times
    # slower, and a minimum or maximum is exact either way)
    lo = np.array([q[:, 0].min(), q[:, 1].min()])
    extent = max(float((np.array([q[:, 0].max(), q[:, 1].max()]) - lo).max()), 1e-6)
    scale = (size - 5) / extent
    origin = lo - 2.0 / scale
    pts = np.column_stack([(q[:, :2] - origin) * scale, q[:, 2]])
    return ShadowMap(rot, origin, float(scale), rasterizer.depth_map(pts, caster.faces, size, size))


def visibility(smap: ShadowMap, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Fraction ``[K]`` in [0, 1] of the key light reaching camera-frame ``points [K, 3]``
    with unit ``normals [K, 3]`` (3 x 3 percentage-closer filtering; outside the map: lit)."""
    texel = 1.0 / smap.scale
    p = np.asarray(points, np.float64) + NORMAL_OFFSET_TEXELS * texel * np.asarray(normals)
    q = p @ smap.rotation.T
    uv = (q[:, :2] - smap.origin) * smap.scale
    size_y, size_x = smap.depth.shape
    cos = np.clip(-(np.asarray(normals) @ smap.rotation[2]), 1e-3, 1.0)  # n . towards light
    tangent = np.minimum(np.sqrt(1.0 - cos ** 2) / cos, 5.0)
    limit = q[:, 2] - (DEPTH_BIAS_TEXELS + SLOPE_BIAS_TEXELS * tangent) * texel
    lit = np.zeros(len(q))
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            x = np.rint(uv[:, 0] + dx).astype(np.int64)
            y = np.rint(uv[:, 1] + dy).astype(np.int64)
            inside = (x >= 0) & (x < size_x) & (y >= 0) & (y < size_y)
            blocker = np.full(len(q), np.inf)
            blocker[inside] = smap.depth[y[inside], x[inside]]
            lit += blocker >= limit
    return lit / 9.0


def self_shadow(gbuffer, camera, caster: Caster, direction: np.ndarray,
                penumbra_px: float = 0.0, size: int = MAP_SIZE) -> np.ndarray:
    """Key-light visibility ``[H, W]`` float32 of the G-buffer's person pixels (1 elsewhere).

    ``camera``: the pinhole of the G-buffer (``fx``, ``fy``, ``cx``, ``cy`` at its size);
    ``direction``: camera-frame unit vector towards the light; ``penumbra_px``: the sigma
    of the blur over the person's pixels (0: the 3 x 3 filter only).
    """
    mask = gbuffer.mask
    out = np.ones(mask.shape, np.float32)
    if not mask.any():
        return out
    ys, xs = np.nonzero(mask)
    z = gbuffer.depth[ys, xs].astype(np.float64)
    pts = np.column_stack([(xs - camera.cx) / camera.fx * z, (ys - camera.cy) / camera.fy * z, z])
    smap = shadow_map(caster, direction, size)
    out[ys, xs] = visibility(smap, pts, gbuffer.normal[ys, xs])
    if penumbra_px >= 0.3:
        # the penumbra: visibility averaged over the person's own pixels round each one
        box, mean = crops.masked_blur_mean(out, mask, penumbra_px)
        out[box][mask[box]] = mean
    return out
