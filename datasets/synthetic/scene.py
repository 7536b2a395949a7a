"""Cameras, lights, backgrounds, ground planes and occluders of the synthetic scenes.

World frame: metres, Z up, ground plane ``z = 0``. A :class:`Camera` maps world points to
its frame (x right, y down, z forward) with ``X_cam = R X_world + t`` and projects with
``u = fx X/Z + cx, v = fy Y/Z + cy`` (integer pixel coordinates are pixel centres).
"""

import dataclasses
from typing import List, Optional, Tuple

import cv2
import numpy as np

from mhp_tf_datasets.synthetic import raster
from mhp_tf_datasets.synthetic.pose import NUM_JOINTS
from mhp_tf_datasets.synthetic.pose import P


@dataclasses.dataclass
class Camera:
    """A pinhole camera: intrinsics (px) and, optionally, its pose in the world (metres).

    ``R``/``t`` (world -> camera, ``X_cam = R X_world + t``) let the renderer draw the ground
    plane ``z = 0`` and place objects on it; without them the world is inferred from the pose
    (up = camera -y, ground under the feet).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    R: Optional[np.ndarray] = None
    t: Optional[np.ndarray] = None

    @property
    def centre(self) -> np.ndarray:
        """Camera centre in world coordinates (metres)."""
        return -self.R.T @ self.t

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points) @ self.R.T + self.t

    def camera_to_world(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points) - self.t) @ self.R

    def crop(self, x0: float, y0: float, scale: float, width: int, height: int) -> "Camera":
        """The camera of the image window whose top-left corner is ``(x0, y0)`` (this
        image's pixels), resampled by ``scale`` to ``width`` x ``height``: same pose, focal
        lengths times ``scale``, principal point moved (pixel centres at integers)."""
        return Camera(self.fx * scale, self.fy * scale, (self.cx - x0 + 0.5) * scale - 0.5,
                      (self.cy - y0 + 0.5) * scale - 0.5, width, height, self.R, self.t)

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """``(..., 3)`` camera-frame points -> ``(..., 2)`` pixel coordinates."""
        p = np.asarray(points_cam, np.float64)
        return np.stack([self.fx * p[..., 0] / p[..., 2] + self.cx,
                         self.fy * p[..., 1] / p[..., 2] + self.cy], -1)


def look_at(centre: np.ndarray, target: np.ndarray, roll: float = 0.0):
    """World->camera ``(R, t)`` of a camera at ``centre`` looking at ``target`` (Z-up world)."""
    fwd = target - centre
    fwd = fwd / np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:  # looking straight up/down
        right = np.array([1.0, 0.0, 0.0])
    right = right / np.linalg.norm(right)
    down = np.cross(fwd, right)
    c, s = np.cos(roll), np.sin(roll)
    right, down = c * right + s * down, -s * right + c * down
    R = np.stack([right, down, fwd])
    return R, -R @ centre


# Elevated cameras (sample_camera's elevated_p): mounted high, further away, looking down
# (surveillance cameras, balconies, bridges over a road).
ELEVATED_HEIGHT = (2.5, 8.0)     # m above the floor
ELEVATED_DISTANCE = (4.0, 14.0)  # m from the target point near the pelvis
ELEVATED_MAX_DOWN = 0.9          # sine of the steepest view down (64 degrees)


def sample_camera(rng: np.random.Generator, points_world: np.ndarray, width: int, height: int,
                  distance: Tuple[float, float] = (2.0, 8.0), min_visible: int = 15,
                  max_tries: int = 40, elevated_p: float = 0.0) -> Camera:
    """A random pinhole camera 2-8 m from the person, looking near the pelvis.

    Camera height 0.3-2.5 m, random azimuth (= person yaw), small roll, focal length
    ``min(W, H) * U(0.8, 1.6) * sqrt(D / 4 m)`` (so the person's size in pixels still falls
    with distance, about as ``D^-0.5``), principal point near the image centre. Redrawn until
    at least ``min_visible`` of the 18 joints project inside the image.

    ``elevated_p``: the share of cameras mounted high instead, :data:`ELEVATED_HEIGHT` above
    the floor and :data:`ELEVATED_DISTANCE` away, looking down by up to 64 degrees. With 0
    (the default) no extra number is drawn: the cameras are those of earlier versions.
    """
    pelvis = points_world[P["Pelvis"]]
    side = min(width, height)
    best, best_count = None, -1
    for attempt in range(max_tries):
        high = elevated_p > 0 and rng.random() < elevated_p
        d = rng.uniform(*(ELEVATED_DISTANCE if high else distance))
        target = pelvis + np.array([rng.normal(0, 0.08), rng.normal(0, 0.08),
                                    rng.normal(0.05, 0.12)])
        cam_z = rng.uniform(*(ELEVATED_HEIGHT if high else (0.3, 2.5)))
        steepest = ELEVATED_MAX_DOWN if high else 0.75
        dz = np.clip(cam_z - target[2], -0.75 * d, steepest * d)
        horiz = np.sqrt(d * d - dz * dz)
        az = rng.uniform(0, 2 * np.pi)
        centre = target + np.array([horiz * np.cos(az), horiz * np.sin(az), dz])
        centre[2] = max(centre[2], 0.15)
        roll = np.deg2rad(rng.normal(0, 4)) if rng.random() < 0.5 else 0.0
        R, t = look_at(centre, target, roll)
        f = side * rng.uniform(0.8, 1.6) * np.sqrt(d / 4.0)
        if attempt >= max_tries // 2:  # widen the view when the person keeps leaving it
            f *= 0.7
        cx = (width - 1) / 2 + rng.uniform(-0.02, 0.02) * width
        cy = (height - 1) / 2 + rng.uniform(-0.02, 0.02) * height
        cam = Camera(f, f, cx, cy, width, height, R, t)
        pc = cam.world_to_camera(points_world)
        if np.any(pc[:, 2] < 0.5):
            continue
        uv = cam.project(pc[:NUM_JOINTS])
        inside = np.sum((uv[:, 0] >= 0) & (uv[:, 0] <= width - 1) & (uv[:, 1] >= 0)
                        & (uv[:, 1] <= height - 1))
        if inside >= min_visible:
            return cam
        if inside > best_count:
            best, best_count = cam, inside
    if best is None:
        raise RuntimeError("could not place a camera in front of the pose")
    return best


def default_world(points_cam: np.ndarray):
    """World ``(R, t)`` for a pose given only in camera coordinates: up = camera -y, the
    ground just under the lowest foot point."""
    R = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # world->camera
    # camera y (down) = -world z; ground at the largest y of the feet (+ clearance).
    feet = [P["R_Ankle"], P["L_Ankle"], P["R_Toe"], P["L_Toe"]]
    ground_y = float(np.max(points_cam[feet, 1] + np.array([0.075, 0.075, 0.03, 0.03])))
    # X_cam = R X_world + t with world z = 0 at camera y = ground_y.
    t = np.array([0.0, ground_y, 0.0])
    return R, t


# ----------------------------------------------------------------------------- lighting


@dataclasses.dataclass
class Light:
    direction: np.ndarray   # unit, camera frame, from surfaces towards the light
    up: np.ndarray          # world up in the camera frame (for the sky/ground ambient)
    colour: np.ndarray
    ambient: float
    diffuse: float


def sample_light(rng: np.random.Generator, R: np.ndarray) -> Light:
    """A directional light 15-80 degrees above the horizon from any azimuth, plus ambient."""
    elev = np.deg2rad(rng.uniform(15, 80))
    az = rng.uniform(0, 2 * np.pi)
    d_world = np.array([np.cos(elev) * np.cos(az), np.cos(elev) * np.sin(az), np.sin(elev)])
    colour = rng.uniform(0.88, 1.12, 3)
    colour = colour / colour.mean()
    ambient = rng.uniform(0.25, 0.5)
    return Light(direction=R @ d_world, up=R @ np.array([0.0, 0.0, 1.0]), colour=colour,
                 ambient=ambient, diffuse=rng.uniform(0.6, 0.95))


def shade(albedo, normals, specular, view_dirs, light: Light, shadow=None) -> np.ndarray:
    """Lambert + hemispheric ambient + Blinn-Phong highlight; arrays (..., 3).

    ``shadow`` (...,) in [0, 1] removes the direct light (diffuse and highlight) where the
    light is blocked.
    """
    ndl = np.clip(np.sum(normals * light.direction, -1), 0.0, None)
    if shadow is not None:
        ndl = ndl * (1.0 - shadow)
    hemi = 0.75 + 0.25 * np.sum(normals * light.up, -1)
    half = light.direction - view_dirs
    half = half / np.maximum(np.linalg.norm(half, axis=-1, keepdims=True), 1e-9)
    ndh = np.clip(np.sum(normals * half, -1), 0.0, None)
    lit = albedo * (light.ambient * hemi + light.diffuse * ndl)[..., None]
    lit = lit + (specular * ndh ** 24 * (ndl > 0))[..., None]
    return lit * light.colour


# ----------------------------------------------------------------------------- backdrop


def _random_colour(rng, lo=0.05, hi=0.95):
    base = rng.uniform(lo, hi)
    return np.clip(base + rng.normal(0, 0.18, 3), 0, 1)


def value_noise(rng: np.random.Generator, height: int, width: int, channels: int = 1,
                octaves: int = 4, base: int = 3) -> np.ndarray:
    """Smooth multi-octave value noise in [0, 1], shape (H, W, channels)."""
    out = np.zeros((height, width, channels), np.float32)
    total = 0.0
    for o in range(octaves):
        cells = base * 2 ** o
        grid = rng.random((cells + 1, cells + 1, channels)).astype(np.float32)
        layer = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        if layer.ndim == 2:
            layer = layer[..., None]
        w = 0.5 ** o
        out += w * layer
        total += w
    out /= total
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def backdrop(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A procedural 2D background (H, W, 3) float in [0, 1]: gradient, noise, stripes, shapes."""
    kind = rng.choice(["gradient", "noise", "flat", "stripes"], p=[0.35, 0.35, 0.1, 0.2])
    c1, c2 = _random_colour(rng), _random_colour(rng)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "gradient":
        ang = rng.uniform(0, 2 * np.pi)
        s = xx * np.cos(ang) + yy * np.sin(ang)
        s = (s - s.min()) / max(s.max() - s.min(), 1e-6)
        img = c1 * (1 - s[..., None]) + c2 * s[..., None]
    elif kind == "noise":
        n = value_noise(rng, height, width, 1, octaves=int(rng.integers(2, 6)),
                        base=int(rng.integers(2, 6)))
        img = c1 * (1 - n) + c2 * n
    elif kind == "stripes":
        ang = rng.uniform(0, np.pi)
        period = rng.uniform(0.03, 0.25) * max(height, width)
        s = (xx * np.cos(ang) + yy * np.sin(ang)) / period
        sharp = rng.uniform(1, 8)
        w = 0.5 + 0.5 * np.tanh(sharp * np.sin(2 * np.pi * s))
        img = c1 * (1 - w[..., None]) + c2 * w[..., None]
    else:
        img = np.broadcast_to(c1, (height, width, 3)).copy()
    img = img.astype(np.float32)
    if rng.random() < 0.6:  # random shapes
        for _ in range(int(rng.integers(1, 12))):
            col = tuple(float(c) for c in _random_colour(rng))
            shape = rng.integers(4)
            x0, y0 = int(rng.uniform(-0.1, 1.1) * width), int(rng.uniform(-0.1, 1.1) * height)
            size = int(rng.uniform(0.05, 0.5) * max(height, width)) + 1
            if shape == 0:
                cv2.rectangle(img, (x0, y0), (x0 + size, y0 + int(size * rng.uniform(0.2, 2))),
                              col, -1)
            elif shape == 1:
                cv2.circle(img, (x0, y0), size // 2, col, -1, cv2.LINE_AA)
            elif shape == 2:
                pts = (np.array([[x0, y0]]) + rng.normal(0, size / 2, (int(rng.integers(3, 7)), 2)))
                cv2.fillPoly(img, [pts.astype(np.int32)], col, cv2.LINE_AA)
            else:
                x1, y1 = int(rng.uniform(0, width)), int(rng.uniform(0, height))
                cv2.line(img, (x0, y0), (x1, y1), col, int(rng.integers(1, 8)), cv2.LINE_AA)
    if rng.random() < 0.5:
        img = img * (0.85 + 0.3 * value_noise(rng, height, width, 1, octaves=3, base=4))
    return np.clip(img, 0, 1)


# ----------------------------------------------------------------------------- ground


@dataclasses.dataclass
class Ground:
    kind: str
    colour1: np.ndarray
    colour2: np.ndarray
    scale: float
    angle: float
    texture: np.ndarray  # small noise texture (N, N, 1)


def sample_ground(rng: np.random.Generator) -> Ground:
    kind = str(rng.choice(["checker", "planks", "noise", "plain"], p=[0.3, 0.25, 0.3, 0.15]))
    c1 = _random_colour(rng, 0.1, 0.8)
    c2 = np.clip(c1 * rng.uniform(0.5, 1.5) + rng.normal(0, 0.08, 3), 0, 1)
    return Ground(kind, c1, c2, float(rng.uniform(0.25, 1.2)), float(rng.uniform(0, np.pi)),
                  value_noise(rng, 64, 64, 1, octaves=3, base=4))


def ground_albedo(ground: Ground, gx: np.ndarray, gy: np.ndarray,
                  footprint: np.ndarray) -> np.ndarray:
    """Albedo (k, 3) of ground points (world x, y in metres); ``footprint``: metres/pixel,
    used to fade the pattern to its mean far away (no aliasing)."""
    c, s = np.cos(ground.angle), np.sin(ground.angle)
    x = (c * gx + s * gy) / ground.scale
    y = (-s * gx + c * gy) / ground.scale
    if ground.kind == "checker":
        w = ((np.floor(x) + np.floor(y)) % 2).astype(np.float64)
    elif ground.kind == "planks":
        plank = np.floor(x * 3)
        w = 0.5 + 0.5 * np.sin(plank * 12.9898) * np.cos(plank * 4.1414)
        w = np.where((x * 3) % 1 < 0.06, 0.0, w)
    else:
        w = _sample_wrapped(ground.texture[..., 0], x * ground.texture.shape[0] * 0.5,
                            y * ground.texture.shape[0] * 0.5)
        if ground.kind == "plain":
            w = 0.5 + 0.2 * (w - 0.5)
    fade = np.clip(footprint * 4.0 / ground.scale, 0.0, 1.0)
    w = w * (1 - fade) + 0.5 * fade
    return ground.colour1 * (1 - w[:, None]) + ground.colour2 * w[:, None]


def _sample_wrapped(texture: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a tiling 2D texture at continuous texel coordinates."""
    n_y, n_x = texture.shape
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    x0 = x0.astype(np.int64) % n_x
    y0 = y0.astype(np.int64) % n_y
    x1, y1 = (x0 + 1) % n_x, (y0 + 1) % n_y
    top = texture[y0, x0] * (1 - fx) + texture[y0, x1] * fx
    bottom = texture[y1, x0] * (1 - fx) + texture[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float64)


# Body segments (joint a, joint b, radius in m) that cast the person's shadow on the ground.
SHADOW_SEGMENTS = [("Pelvis", "Neck", 0.14), ("Neck", "Head", 0.09), ("L_Hip", "R_Hip", 0.1),
                   ("L_Shoulder", "R_Shoulder", 0.07)]
for _s in ("L", "R"):
    SHADOW_SEGMENTS += [
        (f"{_s}_Hip", f"{_s}_Knee", 0.075), (f"{_s}_Knee", f"{_s}_Ankle", 0.05),
        (f"{_s}_Ankle", f"{_s}_Toe", 0.04), (f"{_s}_Shoulder", f"{_s}_Elbow", 0.045),
        (f"{_s}_Elbow", f"{_s}_Wrist", 0.035)]


def cast_shadow(gx, gy, points_world: np.ndarray, light_world: np.ndarray,
                softness: float = 0.03) -> np.ndarray:
    """Shadow (k,) in [0, 1] of the body on ground points: the body's segments projected
    along the light direction onto z = 0, as soft-edged capsules."""
    out = np.zeros_like(gx)
    if light_world[2] <= 1e-3:
        return out
    proj = points_world[:, :2] - light_world[:2] * (points_world[:, 2] / light_world[2])[:, None]
    lo, hi = proj.min(0) - 0.25, proj.max(0) + 0.25
    sel = (gx >= lo[0]) & (gx <= hi[0]) & (gy >= lo[1]) & (gy <= hi[1])
    if not sel.any():
        return out
    q = np.stack([gx[sel], gy[sel]], 1)
    dist = np.full(len(q), np.inf)
    for a, b, r in SHADOW_SEGMENTS:
        pa, pb = proj[P[a]], proj[P[b]]
        ab = pb - pa
        s = np.clip((q - pa) @ ab / max(ab @ ab, 1e-12), 0.0, 1.0)
        d = np.linalg.norm(q - (pa + s[:, None] * ab), axis=1) - r
        dist = np.minimum(dist, d)
    out[sel] = np.clip(0.5 - dist / softness, 0.0, 1.0)
    return out


def contact_shadow(gx, gy, points_world: np.ndarray) -> np.ndarray:
    """Soft darkening (k,) in [0, 1) of ground points under the body (ambient occlusion)."""
    out = np.zeros_like(gx)
    for name, strength in (("Pelvis", 0.35), ("Torso", 0.25), ("L_Knee", 0.3), ("R_Knee", 0.3),
                           ("L_Ankle", 0.5), ("R_Ankle", 0.5), ("L_Toe", 0.45),
                           ("R_Toe", 0.45), ("L_Wrist", 0.25), ("R_Wrist", 0.25)):
        px, py, pz = points_world[P[name]]
        h = max(pz, 0.0)
        sigma = 0.07 + 0.3 * h
        k = strength * np.exp(-h / 0.5)
        out = np.maximum(out, k * np.exp(-((gx - px) ** 2 + (gy - py) ** 2) / (2 * sigma ** 2)))
    return out


# ----------------------------------------------------------------------------- occluders


def _object_material(rng: np.random.Generator, frame_axes: np.ndarray, centre: np.ndarray):
    """Plain, striped or checked colour in the object's own frame (moves with the object)."""
    c1, c2 = _random_colour(rng), _random_colour(rng)
    kind = rng.integers(3)
    period = rng.uniform(0.05, 0.3)
    spec = rng.uniform(0.0, 0.3)

    def material(points, normals):
        k = len(points)
        if kind == 0:
            return np.broadcast_to(c1, (k, 3)), np.full(k, spec)
        q = (points - centre) @ frame_axes / period
        if kind == 1:
            w = (np.floor(q[:, 0]) % 2)
        else:
            w = (np.floor(q[:, 0]) + np.floor(q[:, 1]) + np.floor(q[:, 2])) % 2
        return c1 * (1 - w[:, None]) + c2 * w[:, None], np.full(k, spec)
    return material


def _random_axes(rng, upright: bool):
    yaw = rng.uniform(0, 2 * np.pi)
    c, s = np.cos(yaw), np.sin(yaw)
    axes = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    if not upright:
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        axes = q
    return axes


def sample_objects(rng: np.random.Generator, camera: Camera, points_world: np.ndarray,
                   has_ground: bool, front: int, back: int, part_base: int = 100
                   ) -> List[raster.Primitive]:
    """``front`` occluders between the camera and the person and ``back`` objects behind it.

    Objects (boxes, panels, poles, bars, balls) sit on the line of sight to a random joint,
    at a fraction ``s`` of its distance (``s < 1`` in front, ``s > 1`` behind), standing on
    the ground when there is one, sized so they never touch the person. Returned in the camera
    frame.
    """
    centre_cam = camera.centre
    body_cam = camera.world_to_camera(points_world)
    prims = []
    body_radius = 0.35
    for i in range(front + back):
        in_front = i < front
        j = int(rng.integers(NUM_JOINTS))
        target = points_world[j]
        dist = np.linalg.norm(target - centre_cam)
        if in_front:
            s = rng.uniform(0.35, 0.85)
            # Not touching the person, and hiding at most a part of it: the half-size seen
            # from the camera is at most 12-40 % of a 1.7 m person at the joint's distance.
            max_extent = min((1 - s) * dist - body_radius, s * rng.uniform(0.12, 0.4) * 1.7)
        else:
            s = rng.uniform(1.25, 2.5)
            max_extent = (s - 1) * dist - body_radius
        if max_extent < 0.08:
            continue
        pos = centre_cam + s * (target - centre_cam)
        lateral = np.cross(target - centre_cam, [0.0, 0.0, 1.0])
        lateral /= max(np.linalg.norm(lateral), 1e-9)
        pos = pos + lateral * rng.normal(0, 0.25 * s)
        kind = str(rng.choice(["box", "panel", "pole", "bar", "ball"],
                              p=[0.3, 0.15, 0.2, 0.15, 0.2]))
        part = part_base + i
        if kind in ("box", "panel"):
            axes = _random_axes(rng, upright=has_ground)
            if kind == "box":
                half = rng.uniform(0.1, 0.55, 3)
            else:
                half = np.array([rng.uniform(0.2, 0.7), rng.uniform(0.01, 0.03),
                                 rng.uniform(0.2, 0.6)])
            half = np.minimum(half, max_extent)
            if has_ground:
                pos[2] = half[2] if kind == "box" else rng.uniform(half[2], half[2] + 1.2)
            prim = raster.box(camera.world_to_camera(pos), camera.R @ axes, half,
                              _object_material(rng, camera.R @ axes,
                                               camera.world_to_camera(pos)), part)
        elif kind == "pole":
            r = min(rng.uniform(0.02, 0.12), max_extent)
            top = rng.uniform(1.0, 3.0)
            a = np.array([pos[0], pos[1], 0.0 if has_ground else pos[2] - top / 2])
            b = a + np.array([0.0, 0.0, top])
            prim = raster.cone(camera.world_to_camera(a), camera.world_to_camera(b), r, r,
                               raster.solid(_random_colour(rng), rng.uniform(0, 0.3)), part)
        elif kind == "bar":
            r = min(rng.uniform(0.015, 0.07), max_extent)
            half_len = min(rng.uniform(0.3, 1.0), max_extent)
            d = lateral * np.cos(rng.uniform(-0.5, 0.5)) + np.array([0, 0, rng.normal(0, 0.3)])
            d /= np.linalg.norm(d)
            prim = raster.cone(camera.world_to_camera(pos - d * half_len),
                               camera.world_to_camera(pos + d * half_len), r, r,
                               raster.solid(_random_colour(rng), rng.uniform(0, 0.3)), part)
        else:
            r = min(rng.uniform(0.08, 0.35), max_extent)
            if has_ground and rng.random() < 0.6:
                pos[2] = r
            axes = np.eye(3)
            prim = raster.ellipsoid(camera.world_to_camera(pos), camera.R @ axes,
                                    np.full(3, r), _object_material(
                                        rng, camera.R @ axes, camera.world_to_camera(pos)),
                                    part)
        # Never let an object cut into the person (bounding-sphere test against the joints).
        c, radius = prim.bounding_sphere()
        if prim.kind == "cone":
            gap = _segment_point_distance(prim.a, prim.b, body_cam) - prim.ra
        else:
            gap = np.linalg.norm(body_cam - c, axis=1) - radius
        if np.all(gap > 0.15):
            prims.append(prim)
    return prims


def _segment_point_distance(a, b, points):
    ab = b - a
    s = np.clip((points - a) @ ab / max(ab @ ab, 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + s[:, None] * ab), axis=1)
