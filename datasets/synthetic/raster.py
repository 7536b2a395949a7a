"""Exact ray casting of simple solids into a z-buffer (NumPy, vectorised per primitive).

The camera sits at the origin of its frame (x right, y down, z forward). The ray of pixel
``(u, v)`` (integer coordinates are pixel centres, as in the labels) has the direction
``((u - cx) / fx, (v - cy) / fy, 1)``, so a 3D point ``X`` is seen at exactly
``u = fx X/Z + cx, v = fy Y/Z + cy``.

Solids: round cones (two spheres joined by their tangent cone; a capsule when both radii
are equal, a sphere when the segment is empty), ellipsoids and oriented boxes. Each is
intersected analytically with the rays of the pixels inside its projected bounding box only,
and written to the per-pixel buffers (depth ``Z``, normal, albedo, specular weight, part id;
plus a shadow buffer used by the ground) where it is nearer than what the buffer holds — a
z-buffer, so the nearest surface wins regardless of drawing order.
"""

import dataclasses
from typing import Callable, Optional

import numpy as np

NEAR = 0.05  # metres; surfaces nearer to the camera plane are not drawn

# A material maps hit points (k, 3) and unit normals (k, 3) (camera frame, metres) to
# albedo (k, 3) in [0, 1] and a specular weight (k,).
Material = Callable[[np.ndarray, np.ndarray], tuple]


def solid(colour, specular: float = 0.05) -> Material:
    """A material of one colour."""
    colour = np.asarray(colour, np.float64)

    def material(points, normals):
        k = len(points)
        return np.broadcast_to(colour, (k, 3)), np.full(k, specular)
    return material


@dataclasses.dataclass
class Primitive:
    """A solid in the camera frame (metres) with its material and a part id (>= 0)."""

    kind: str                 # "cone", "scaled_cone", "ellipsoid" or "box"
    material: Material
    part: int
    a: np.ndarray = None      # cone: start point; ellipsoid/box: centre
    b: np.ndarray = None      # cone: end point
    ra: float = 0.0           # cone radii
    rb: float = 0.0
    axes: np.ndarray = None   # ellipsoid/box/scaled cone: 3x3, columns = unit axes (camera frame)
    size: np.ndarray = None   # ellipsoid: semi-axes; box: half extents; scaled cone: scales

    def bounding_sphere(self):
        if self.kind == "cone":
            return 0.5 * (self.a + self.b), 0.5 * np.linalg.norm(self.b - self.a) + max(
                self.ra, self.rb)
        if self.kind == "scaled_cone":
            return 0.5 * (self.a + self.b), 0.5 * np.linalg.norm(self.b - self.a) + max(
                self.ra, self.rb) * float(np.max(self.size))
        return self.a, float(np.linalg.norm(self.size) if self.kind == "box"
                             else np.max(self.size))

    def intersect(self, rd: np.ndarray):
        """Distances ``t`` (k,) along unit rays ``rd`` (k, 3) from the origin (inf = miss)
        and unit normals (k, 3)."""
        if self.kind == "cone":
            return intersect_round_cone(rd, self.a, self.b, self.ra, self.rb)
        if self.kind == "scaled_cone":
            return intersect_scaled_round_cone(rd, self.a, self.b, self.ra, self.rb, self.axes,
                                               self.size)
        if self.kind == "ellipsoid":
            return intersect_ellipsoid(rd, self.a, self.axes, self.size)
        if self.kind == "box":
            return intersect_box(rd, self.a, self.axes, self.size)
        raise ValueError(f"unknown primitive kind {self.kind!r}")


def cone(a, b, ra, rb, material, part) -> Primitive:
    return Primitive("cone", material, part, a=np.asarray(a, np.float64),
                     b=np.asarray(b, np.float64), ra=float(ra), rb=float(rb))


def scaled_cone(a, b, ra, rb, axes, scale, material, part) -> Primitive:
    """A round cone stretched by ``scale`` along the columns of ``axes`` (about ``a``):
    e.g. a trunk segment with an elliptical cross-section. ``ra``/``rb`` are radii before
    scaling; the end points ``a``/``b`` are where they are."""
    return Primitive("scaled_cone", material, part, a=np.asarray(a, np.float64),
                     b=np.asarray(b, np.float64), ra=float(ra), rb=float(rb),
                     axes=np.asarray(axes, np.float64), size=np.asarray(scale, np.float64))


def ellipsoid(centre, axes, size, material, part) -> Primitive:
    return Primitive("ellipsoid", material, part, a=np.asarray(centre, np.float64),
                     axes=np.asarray(axes, np.float64), size=np.asarray(size, np.float64))


def box(centre, axes, half, material, part) -> Primitive:
    return Primitive("box", material, part, a=np.asarray(centre, np.float64),
                     axes=np.asarray(axes, np.float64), size=np.asarray(half, np.float64))


def intersect_sphere(rd, c, r):
    """Unit rays from the origin against a sphere: (t, normals)."""
    b = rd @ c
    h = b * b - (c @ c - r * r)
    hit = h >= 0
    t = np.where(hit, b - np.sqrt(np.maximum(h, 0)), np.inf)
    n = (rd * t[:, None] - c) / r if r > 0 else np.zeros_like(rd)
    return t, n


def intersect_round_cone(rd, pa, pb, ra, rb):
    """Unit rays from the origin against the round cone (pa, ra)-(pb, rb): (t, normals).

    Analytic solution (after I. Quilez, "intersectors"): the tangent-cone body where the
    hit lies between the two tangent circles, else the nearer of the two end spheres.
    """
    ba = pb - pa
    m0 = ba @ ba
    rr = ra - rb
    if m0 <= rr * rr + 1e-12:  # one sphere contains the other
        return intersect_sphere(rd, pa if ra >= rb else pb, max(ra, rb))
    oa = -pa
    ob = -pb
    m1 = ba @ oa
    m2 = rd @ ba
    m3 = rd @ oa
    m5 = oa @ oa
    m6 = rd @ ob
    m7 = ob @ ob
    d2 = m0 - rr * rr
    k2 = d2 - m2 * m2
    k1 = d2 * m3 - m1 * m2 + m2 * rr * ra
    k0 = d2 * m5 - m1 * m1 + m1 * rr * ra * 2.0 - m0 * ra * ra
    h = k1 * k1 - k0 * k2
    valid = (h >= 0) & (np.abs(k2) > 1e-12)
    safe_k2 = np.where(np.abs(k2) > 1e-12, k2, 1.0)
    t_body = (-np.sqrt(np.maximum(h, 0)) - k1) / safe_k2
    y = m1 - ra * rr + t_body * m2
    body = valid & (y > 0) & (y < d2)
    h1 = m3 * m3 - m5 + ra * ra
    h2 = m6 * m6 - m7 + rb * rb
    t1 = np.where(h1 >= 0, -m3 - np.sqrt(np.maximum(h1, 0)), np.inf)
    t2 = np.where(h2 >= 0, -m6 - np.sqrt(np.maximum(h2, 0)), np.inf)
    use2 = t2 < t1
    t_cap = np.where(use2, t2, t1)
    t = np.where(body, t_body, t_cap)  # a ray missing the cone misses its spheres too
    p = rd * np.where(np.isfinite(t), t, 0.0)[:, None]
    n_body = d2 * (p - pa) - ba * y[:, None]
    n_cap = np.where(use2[:, None], (p - pb) / max(rb, 1e-9), (p - pa) / max(ra, 1e-9))
    n = np.where(body[:, None], n_body, n_cap)
    n = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return t, n


def intersect_scaled_round_cone(rd, pa, pb, ra, rb, axes, scale):
    """Unit rays against a round cone stretched by ``scale`` along ``axes`` about ``pa``.

    In the local space ``q = diag(1/scale) axes^T (x - pa)`` the solid is an ordinary round
    cone; the ray maps to ``q = q0 + t qd`` with the same ``t`` (an affine map), and normals
    map back with the inverse transpose ``axes diag(1/scale)``.
    """
    to_local = (axes / scale).T                 # diag(1/s) A^T
    q0 = to_local @ -pa                         # ray origin
    qb = to_local @ (pb - pa)
    qd = rd @ to_local.T                        # (k, 3)
    m = np.linalg.norm(qd, axis=1)
    tq, nq = intersect_round_cone(qd / m[:, None], -q0, qb - q0, ra, rb)
    n = (nq / scale) @ axes.T
    n = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return tq / m, n


def intersect_ellipsoid(rd, c, axes, size):
    """Unit rays from the origin against an ellipsoid (centre, axis columns, semi-axes)."""
    ro = (axes.T @ -c) / size            # origin in the unit-sphere frame
    d = (rd @ axes) / size               # (k, 3)
    a = np.sum(d * d, 1)
    b = d @ ro
    h = b * b - a * (ro @ ro - 1.0)
    hit = h >= 0
    t = np.where(hit, (-b - np.sqrt(np.maximum(h, 0))) / a, np.inf)
    q = ro + d * np.where(hit, t, 0.0)[:, None]
    n = (q / size) @ axes.T
    n = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return t, n


def intersect_box(rd, c, axes, half):
    """Unit rays from the origin against an oriented box (centre, axis columns, half sizes)."""
    ro = axes.T @ -c
    d = rd @ axes
    d = np.where(np.abs(d) < 1e-12, 1e-12, d)
    inv = 1.0 / d
    t1 = (-half - ro) * inv
    t2 = (half - ro) * inv
    tmin = np.minimum(t1, t2)
    tnear = tmin.max(1)
    tfar = np.maximum(t1, t2).min(1)
    hit = (tnear <= tfar) & (tfar > 0)
    t = np.where(hit, tnear, np.inf)
    k = tmin.argmax(1)
    n_local = np.zeros_like(d)
    n_local[np.arange(len(d)), k] = -np.sign(d[np.arange(len(d)), k])
    return t, n_local @ axes.T


class Raster:
    """Per-pixel buffers of one image and the z-buffered drawing of primitives into them."""

    def __init__(self, fx: float, fy: float, cx: float, cy: float, width: int, height: int):
        self.fx, self.fy, self.cx, self.cy = float(fx), float(fy), float(cx), float(cy)
        self.width, self.height = int(width), int(height)
        x = (np.arange(self.width) - self.cx) / self.fx
        y = (np.arange(self.height) - self.cy) / self.fy
        d = np.empty((self.height, self.width, 3))
        d[..., 0] = x[None, :]
        d[..., 1] = y[:, None]
        d[..., 2] = 1.0
        norm = np.linalg.norm(d, axis=-1)
        self.rays = d                       # unnormalised, z = 1
        self.dirs = d / norm[..., None]     # unit
        self.zscale = 1.0 / norm            # Z = t * zscale for unit rays
        self.depth = np.full((self.height, self.width), np.inf)
        self.normal = np.zeros((self.height, self.width, 3))
        self.albedo = np.zeros((self.height, self.width, 3))
        self.specular = np.zeros((self.height, self.width))
        self.shadow = np.zeros((self.height, self.width))  # 1 = the light is blocked
        self.part = np.full((self.height, self.width), -1, np.int32)

    def region(self, centre: np.ndarray, radius: float) -> Optional[tuple]:
        """Pixel box ``(v0, v1, u0, u1)`` that contains the projection of a sphere."""
        cx, cy, cz = centre
        if cz + radius <= NEAR:
            return None
        if cz - radius <= NEAR:
            return 0, self.height, 0, self.width
        xs = [(cx + sx * radius) / (cz + sz * radius) for sx in (-1, 1) for sz in (-1, 1)]
        ys = [(cy + sy * radius) / (cz + sz * radius) for sy in (-1, 1) for sz in (-1, 1)]
        u0 = int(np.floor(self.fx * min(xs) + self.cx)) - 1
        u1 = int(np.ceil(self.fx * max(xs) + self.cx)) + 2
        v0 = int(np.floor(self.fy * min(ys) + self.cy)) - 1
        v1 = int(np.ceil(self.fy * max(ys) + self.cy)) + 2
        u0, v0 = max(u0, 0), max(v0, 0)
        u1, v1 = min(u1, self.width), min(v1, self.height)
        if u0 >= u1 or v0 >= v1:
            return None
        return v0, v1, u0, u1

    def draw(self, prim: Primitive) -> int:
        """Z-buffer ``prim`` into the buffers; returns the number of pixels it won."""
        reg = self.region(*prim.bounding_sphere())
        if reg is None:
            return 0
        v0, v1, u0, u1 = reg
        rd = self.dirs[v0:v1, u0:u1].reshape(-1, 3)
        t, n = prim.intersect(rd)
        z = t * self.zscale[v0:v1, u0:u1].reshape(-1)
        depth = self.depth[v0:v1, u0:u1].reshape(-1)
        win = np.isfinite(z) & (z > NEAR) & (z < depth)
        if not win.any():
            return 0
        idx = np.flatnonzero(win)
        points = rd[idx] * t[idx, None]
        normals = n[idx]
        albedo, spec = prim.material(points, normals)
        w = u1 - u0
        rows, cols = v0 + idx // w, u0 + idx % w
        self.depth[rows, cols] = z[idx]
        self.normal[rows, cols] = normals
        self.albedo[rows, cols] = albedo
        self.specular[rows, cols] = spec
        self.shadow[rows, cols] = 0.0
        self.part[rows, cols] = prim.part
        return len(idx)
