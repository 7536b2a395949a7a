"""Image-based lighting from HDR environment maps by 9 spherical-harmonic coefficients.

The irradiance a Lambertian surface with normal ``n`` receives from a distant environment of
radiance ``L(w)`` is ``E(n) = integral of L(w) max(0, n.w) dw``. Ramamoorthi & Hanrahan,
"An Efficient Representation for Irradiance Environment Maps" (SIGGRAPH 2001), show that the
clamped cosine is so smooth that the spherical harmonics of order l <= 2 (9 per channel)
give ``E`` to within a few percent:

    L_lm = integral of L(w) Y_lm(w) dw,        E(n) = sum_lm A_l L_lm Y_lm(n),
    A_0 = pi,  A_1 = 2 pi / 3,  A_2 = pi / 4,

with the real basis ``Y_00 = 0.282095``, ``Y_1m = 0.488603 (y, z, x)``,
``Y_2,-2 = 1.092548 xy``, ``Y_2,-1 = 1.092548 yz``, ``Y_20 = 0.315392 (3 z^2 - 1)``,
``Y_21 = 1.092548 xz``, ``Y_22 = 0.546274 (x^2 - y^2)`` (their eq. 3; the basis is written in
whatever orthonormal frame the directions are given in -- ours below, with z "up" replaced by
the environment's own axes; the set spans the same space in any frame). A constant map of
radiance ``c`` gives ``E = pi c`` for every normal. Shading divides by pi:
``radiance out = albedo * E / pi`` (a white Lambertian surface under a uniform sky of
radiance 1 is 1).

Frames. The environment frame is Y-up: pixel ``(i, j)`` of an ``H x W`` equirectangular map
looks along ``theta = pi (i + 0.5) / H`` from +Y (row 0 is the zenith) and
``phi = 2 pi (j + 0.5) / W`` about it, ``w = (sin theta sin phi, cos theta, sin theta cos phi)``.
Normals come in camera coordinates (x right, y down, z forward); :func:`camera_to_env` maps
them: camera up (-y) is the environment's +Y (tilted by the camera's pitch and roll), and a
yaw turns the environment about the vertical. Each row's solid angle is exact,
``dphi (cos theta_top - cos theta_bottom)``.
"""

import dataclasses
from typing import Optional, Sequence, Tuple

import numpy as np

A_BAND = np.array([np.pi] + [2 * np.pi / 3] * 3 + [np.pi / 4] * 5)


def sh_basis(d: np.ndarray) -> np.ndarray:
    """The 9 real SH basis functions ``[..., 9]`` of unit directions ``[..., 3]``."""
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    return np.stack([
        np.full_like(x, 0.282095),
        0.488603 * y, 0.488603 * z, 0.488603 * x,
        1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3 * z * z - 1),
        1.092548 * x * z, 0.546274 * (x * x - y * y)], -1)


def equirect_directions(height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Unit directions ``[H, W, 3]`` of the pixel centres and solid angles ``[H, W]``."""
    theta_edges = np.linspace(0.0, np.pi, height + 1)
    theta = 0.5 * (theta_edges[:-1] + theta_edges[1:])
    phi = 2 * np.pi * (np.arange(width) + 0.5) / width
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    d = np.stack([st * np.sin(phi)[None], np.broadcast_to(ct, (height, width)),
                  st * np.cos(phi)[None]], -1)
    row_area = (2 * np.pi / width) * (np.cos(theta_edges[:-1]) - np.cos(theta_edges[1:]))
    return d, np.broadcast_to(row_area[:, None], (height, width))


def project_sh(env: np.ndarray) -> np.ndarray:
    """SH coefficients ``[9, C]`` of an equirectangular radiance map ``[H, W, C]``."""
    env = np.asarray(env, np.float64)
    if env.ndim != 3:
        raise ValueError(f"environment map must be [H, W, C], got shape {env.shape}")
    d, area = equirect_directions(*env.shape[:2])
    basis = sh_basis(d) * area[..., None]
    return np.einsum("hwk,hwc->kc", basis, env)


def irradiance(coeffs: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Irradiance ``[..., C]`` at unit normals ``[..., 3]`` (environment frame); >= 0."""
    e = np.einsum("...k,kc->...c", sh_basis(np.asarray(normals, np.float64)),
                  A_BAND[:, None] * coeffs)
    return np.maximum(e, 0.0)


def rotation_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def camera_to_env(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """3x3 matrix taking camera-frame directions to the environment frame.

    ``pitch`` > 0 tilts the camera down (its optical axis points below the horizon),
    ``roll`` turns it about its optical axis, ``yaw`` turns the environment about its
    vertical axis.
    """
    flip = np.diag([1.0, -1.0, 1.0])  # camera y down -> env Y up
    cp, sp = np.cos(pitch), np.sin(pitch)
    pitch_m = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])  # about camera x
    cr, sr = np.cos(roll), np.sin(roll)
    roll_m = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return rotation_y(yaw) @ pitch_m @ flip @ roll_m


@dataclasses.dataclass
class Light:
    """An environment light: SH coefficients ``[9, 3]`` (exposure included) and the
    camera->environment rotation."""

    coeffs: np.ndarray
    rotation: np.ndarray
    name: str = ""
    specular: float = 0.0  # strength of the mild highlight (0 = Lambertian only)

    def irradiance(self, normals_cam: np.ndarray) -> np.ndarray:
        return irradiance(self.coeffs, np.asarray(normals_cam) @ self.rotation.T)

    def mean_radiance(self) -> np.ndarray:
        """Mean radiance of the environment over the sphere (``L_00 Y_00``), per channel."""
        return self.coeffs[0] * 0.282095

    def dominant_direction(self) -> Tuple[np.ndarray, float]:
        """Camera-frame unit direction towards the light's centroid (the luminance of the
        l = 1 band) and its directionality in [0, 1] (0: uniform, 1: a single direction)."""
        lum = self.coeffs @ np.array([0.2126, 0.7152, 0.0722])
        v_env = np.array([lum[3], lum[1], lum[2]])  # (x, y, z) of the l = 1 band
        norm = np.linalg.norm(v_env)
        if norm < 1e-12 or lum[0] <= 0:
            return np.array([0.0, -1.0, 0.0]), 0.0
        # a delta light has |L_1| / L_00 = sqrt(3); a constant map has 0
        strength = float(np.clip(norm / (lum[0] * np.sqrt(3.0)), 0.0, 1.0))
        return self.rotation.T @ (v_env / norm), strength

    def key(self) -> Tuple[np.ndarray, np.ndarray]:
        """The environment's directional part as a key light: camera-frame unit direction
        towards it (:meth:`dominant_direction`) and its irradiance ``[3]`` on a surface
        facing it, ``max(0, L_1 . d) / 0.488603`` per channel.

        A distant point light of irradiance ``I`` has ``L_1m = I Y_1m(d)``, so the l = 1
        band along its own direction is ``0.488603 I``: the key gives back ``I`` exactly,
        also when the light sits in a uniform sky (which adds nothing to the l = 1 band);
        a uniform environment has no key. This is the part of the light a body can shadow
        (:func:`shade`'s ``visibility``); the rest stays ambient. With the key taken off, a
        shadowed surface facing the light is about as dark as one facing away from it
        (the bundled HDRIs' key is 0.4-0.9 of the irradiance facing it). A bright sky
        gradient without a sun also has an l = 1 band; its shadows are made soft instead
        (:func:`.compose.render` widens the penumbra as the directionality falls).
        """
        direction, _ = self.dominant_direction()
        d_env = self.rotation @ direction
        band1 = self.coeffs[[3, 1, 2]]  # (x, y, z) of the l = 1 band, per channel
        return direction, np.maximum(d_env @ band1, 0.0) / 0.488603


def shade(albedo: np.ndarray, normals_cam: np.ndarray, light: Light,
          gloss: Optional[np.ndarray] = None,
          visibility: Optional[np.ndarray] = None) -> np.ndarray:
    """Linear radiance ``[H, W, 3]``: ``albedo * E(n) / pi`` plus, where ``gloss`` (per-pixel
    specular weight in [0, 1]) and ``light.specular`` are non-zero, a Blinn-Phong highlight
    (exponent 24) towards the light's dominant direction, viewed along the optical axis.

    ``visibility`` (same leading shape as the normals, in [0, 1]): how much of the key light
    (:meth:`Light.key`) reaches each point -- 0 where the body shadows itself. The shadowed
    part ``(1 - visibility) * key * max(0, n . d)`` is taken off the irradiance (never more
    than 85 % of it, so shadows keep some fill light) and the highlight is scaled by it.
    """
    e = light.irradiance(normals_cam)
    if visibility is not None:
        direction, key = light.key()
        facing = np.maximum(np.asarray(normals_cam) @ direction, 0.0)
        lost = (1.0 - np.clip(visibility, 0.0, 1.0))[..., None] * facing[..., None] * key
        e = e - np.minimum(lost, 0.85 * e)
    out = albedo * (e / np.pi)
    if gloss is not None and light.specular > 0:
        direction, strength = light.dominant_direction()
        half = direction + np.array([0.0, 0.0, -1.0])
        half /= max(np.linalg.norm(half), 1e-9)
        nh = np.maximum(np.asarray(normals_cam) @ half, 0.0)
        colour = light.irradiance(direction[None])[0] / np.pi
        spec = light.specular * strength * gloss * nh ** 24
        if visibility is not None:
            spec = spec * np.clip(visibility, 0.0, 1.0)
        out = out + spec[..., None] * colour
    return out.astype(np.float32)


# ----------------------------------------------------------------------------- sampling


def procedural_sky(rng: np.random.Generator, height: int = 32, width: int = 64) -> np.ndarray:
    """A stand-in environment when no HDRI is available: a blue-to-white sky, a darker
    ground and a sun of random elevation, size and colour (linear radiance)."""
    d, _ = equirect_directions(height, width)
    up = d[..., 1:2]
    sky = np.array([0.35, 0.5, 0.9]) * rng.uniform(0.5, 1.5)
    horizon = np.array([0.9, 0.9, 0.95]) * rng.uniform(0.5, 1.5)
    ground = np.array([0.25, 0.22, 0.18]) * rng.uniform(0.3, 1.2)
    t = np.clip(up, 0, 1) ** 0.5
    env = np.where(up > 0, horizon * (1 - t) + sky * t, ground)
    elevation = rng.uniform(0.1, 1.3)
    azimuth = rng.uniform(0, 2 * np.pi)
    sun = np.array([np.cos(elevation) * np.sin(azimuth), np.sin(elevation),
                    np.cos(elevation) * np.cos(azimuth)])
    width_rad = rng.uniform(0.05, 0.3)
    blob = np.exp((d @ sun - 1.0) / (width_rad ** 2))[..., None]
    sun_colour = np.array([1.0, 0.9, 0.75]) * rng.uniform(5, 60) * rng.uniform(0, 1) ** 0.5
    return (env + blob * sun_colour).astype(np.float32)


_SH_CACHE = {}


def sample_light(rng: np.random.Generator, hdris: Sequence[Tuple[str, np.ndarray]] = (),
                 exposure_stops: Tuple[float, float] = (-0.7, 0.5), pitch: float = 0.0,
                 roll: float = 0.0, specular: Tuple[float, float] = (0.0, 0.25)) -> Light:
    """A random environment light: one of ``hdris`` (else :func:`procedural_sky`), random
    yaw, normalised so the environment's mean luminance is 1 and then exposed by
    ``2 ** U(exposure_stops)``."""
    if len(hdris):
        name, env = hdris[int(rng.integers(len(hdris)))]
    else:
        name, env = "procedural_sky", procedural_sky(rng)
    if name == "procedural_sky":
        coeffs = project_sh(env)
    else:  # the maps are fixed: project each once
        key = (name, env.shape, float(env[::7, ::7].sum()))
        if key not in _SH_CACHE:
            _SH_CACHE[key] = project_sh(env)
        coeffs = _SH_CACHE[key]
    mean_lum = float(coeffs[0] @ np.array([0.2126, 0.7152, 0.0722]) * 0.282095)
    scale = 2.0 ** rng.uniform(*exposure_stops) / max(mean_lum, 1e-6)
    return Light(coeffs=coeffs * scale,
                 rotation=camera_to_env(rng.uniform(0, 2 * np.pi), pitch, roll),
                 name=name, specular=float(rng.uniform(*specular)))
