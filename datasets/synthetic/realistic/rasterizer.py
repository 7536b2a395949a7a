"""A vectorised NumPy z-buffer triangle rasteriser producing a :class:`.gbuffer.GBuffer`.

Chosen by benchmark (``scripts/benchmark_synthetic.py``) for a ~27k-triangle body at
256-512 px on CPU: every step is a handful of whole-array NumPy operations, no Python loop
over triangles or pixels.

1. Vertices go to camera coordinates and pixels (pixel centres at integer coordinates,
   as :class:`..scene.Camera` projects). Triangles facing away from the camera (the mesh
   is closed, outward-wound: a negative screen-space determinant) or crossing the near
   plane are dropped.
2. Each triangle's pixel-centre bounding box is enumerated as candidate fragments,
   triangles grouped by box size (1, 2, 4, ... px) so the enumeration is a dense array
   per group; screen-space barycentrics come from the inverse 2x2 edge matrix of the
   triangle, and a fragment is kept when all three are >= -1e-6 (shared edges are drawn
   twice rather than leaving cracks).
3. Depth is interpolated perspective-correctly (1/z is affine on the screen); the
   nearest fragment of every pixel wins (``np.minimum.at`` into the z-buffer).
4. The winners' perspective-correct barycentrics interpolate the vertex normals (turned
   to face the camera), ``along`` and ``around`` (as a unit vector, so it never averages
   across the 0/1 seam), and the per-corner UVs; ``part`` is the part of the triangle's
   vertex with the largest barycentric weight.
"""

import numpy as np

from mhp_tf_datasets.synthetic.realistic import gbuffer

NEAR = 0.05  # metres
# upper ends of the box-size bins of step 2 (px): a triangle of box size s is enumerated
# over the hi x hi square of the first bin with s <= hi
_BINS = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128, 256, 512, 1024, 2048, 4096])


def _fragments(ax, ay, bx, by, cx, cy, det, H: int, W: int):
    """Pixel-centre fragments of screen triangles ``(a, b, c)`` with ``det < 0`` (step 2).

    Returns ``(tri, pix, l1, l2)`` -- per fragment the index of its triangle in the input
    arrays, the flat pixel index ``y * W + x`` and the screen barycentrics of ``a`` and
    ``b`` -- or None when no fragment falls inside the ``H x W`` image.
    """
    x0 = np.maximum(np.ceil(np.minimum(np.minimum(ax, bx), cx)), 0)
    x1 = np.minimum(np.floor(np.maximum(np.maximum(ax, bx), cx)), W - 1)
    y0 = np.maximum(np.ceil(np.minimum(np.minimum(ay, by), cy)), 0)
    y1 = np.minimum(np.floor(np.maximum(np.maximum(ay, by), cy)), H - 1)
    keep = (det < -1e-12) & (x1 >= x0) & (y1 >= y0)
    tri = np.flatnonzero(keep)
    ax, ay, bx, by, cx, cy = ax[tri], ay[tri], bx[tri], by[tri], cx[tri], cy[tri]
    x0, x1, y0, y1 = x0[tri], x1[tri], y0[tri], y1[tri]
    size = np.maximum(x1 - x0, y1 - y0).astype(np.int64) + 1
    inv = 1.0 / det[tri]
    # Inverse edge matrix: (l1, l2) = M (p - c).
    m00 = (by - cy) * inv
    m01 = -(bx - cx) * inv
    m10 = -(ay - cy) * inv
    m11 = (ax - cx) * inv

    frag_tri, frag_pix, frag_l1, frag_l2 = [], [], [], []
    # the triangles of each box-size bin (lo, hi], in index order: one stable sort by bin
    # instead of a pass over all triangles per bin
    group = np.searchsorted(_BINS, size)  # len(_BINS) beyond 4096 px: not drawn, as before
    order = np.argsort(group.astype(np.uint8), kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(_BINS) + 1))
    for b, hi in enumerate(_BINS):
        sel = order[bounds[b]:bounds[b + 1]]
        if sel.size == 0:
            continue
        oy, ox = np.divmod(np.arange(hi * hi), hi)
        X = x0[sel, None] + ox
        Y = y0[sel, None] + oy
        inside = (X <= x1[sel, None]) & (Y <= y1[sel, None])
        dx = X - cx[sel, None]
        dy = Y - cy[sel, None]
        l1 = m00[sel, None] * dx + m01[sel, None] * dy
        l2 = m10[sel, None] * dx + m11[sel, None] * dy
        inside &= (l1 >= -1e-6) & (l2 >= -1e-6) & (l1 + l2 <= 1 + 1e-6)
        r, c = np.nonzero(inside)
        frag_tri.append(tri[sel[r]])
        frag_pix.append((Y[r, c] * W + X[r, c]).astype(np.int64))
        frag_l1.append(l1[r, c])
        frag_l2.append(l2[r, c])
    if not frag_tri:
        return None
    return (np.concatenate(frag_tri), np.concatenate(frag_pix), np.concatenate(frag_l1),
            np.concatenate(frag_l2))


def depth_map(points: np.ndarray, faces: np.ndarray, height: int, width: int) -> np.ndarray:
    """Orthographic z-buffer ``[height, width]`` (float64, ``inf`` where nothing is drawn).

    ``points (N, 3)``: vertices already in the view's pixel frame -- x right and y down in
    pixels (pixel centres at integer coordinates), z the depth along the view direction in
    any unit. Only faces wound clockwise on the screen (outward faces seen from outside,
    as in :func:`rasterize`) are drawn; depth is affine on the screen (no perspective).
    """
    H, W = int(height), int(width)
    zbuf = np.full(H * W, np.inf)
    p = np.asarray(points, np.float64)
    ax, ay = p[faces[:, 0], 0], p[faces[:, 0], 1]
    bx, by = p[faces[:, 1], 0], p[faces[:, 1], 1]
    cx, cy = p[faces[:, 2], 0], p[faces[:, 2], 1]
    det = (ax - cx) * (by - cy) - (bx - cx) * (ay - cy)
    frags = _fragments(ax, ay, bx, by, cx, cy, det, H, W)
    if frags is not None:
        tri, pix, l1, l2 = frags
        z = p[:, 2][faces[tri]]
        np.minimum.at(zbuf, pix, l1 * z[:, 0] + l2 * z[:, 1] + (1.0 - l1 - l2) * z[:, 2])
    return zbuf.reshape(H, W)


def rasterize(camera, vertices_world: np.ndarray, faces: np.ndarray, normals_world: np.ndarray,
              part: np.ndarray, along: np.ndarray, around: np.ndarray,
              face_uv: np.ndarray = None) -> gbuffer.GBuffer:
    """Render one mesh into a :class:`GBuffer` of ``camera.height x camera.width``.

    ``vertices_world``/``normals_world (N, 3)``, ``faces (F, 3)`` (outward winding),
    per-vertex ``part (N,)``, ``along (N,)``, ``around (N,)``, optional ``face_uv (F, 3, 2)``.
    """
    H, W = int(camera.height), int(camera.width)
    R, t = np.asarray(camera.R, np.float64), np.asarray(camera.t, np.float64)
    vc = vertices_world @ R.T + t
    z = vc[:, 2]
    px = camera.fx * vc[:, 0] / np.maximum(z, 1e-9) + camera.cx
    py = camera.fy * vc[:, 1] / np.maximum(z, 1e-9) + camera.cy

    # Front faces in front of the near plane. With all three corners at z > 0 the
    # perspective map keeps orientation, so an outward face seen from outside has a
    # negative screen-space determinant (y down) -- no 3D cross products needed.
    zf = z[faces]
    # (an element-wise minimum of the three columns: numpy's min over a length-3 axis is
    # several times slower, and the result is the same)
    ok = np.minimum(np.minimum(zf[:, 0], zf[:, 1]), zf[:, 2]) > NEAR
    f = faces[ok]
    ax, ay = px[f[:, 0]], py[f[:, 0]]
    bx, by = px[f[:, 1]], py[f[:, 1]]
    cx, cy = px[f[:, 2]], py[f[:, 2]]
    det = (ax - cx) * (by - cy) - (bx - cx) * (ay - cy)
    frags = _fragments(ax, ay, bx, by, cx, cy, det, H, W)
    out = gbuffer.GBuffer.empty(H, W, with_uv=face_uv is not None)
    if frags is None:
        return out
    tri, fpix, l1, l2 = frags
    ftri = np.flatnonzero(ok)[tri]                    # into ``faces`` from here on
    za, zb, zc = zf[ftri].T
    # Perspective-correct weights of the corners a, b, c.
    wa, wb, wc = l1 / za, l2 / zb, (1.0 - l1 - l2) / zc
    iz = wa + wb + wc
    depth = 1.0 / iz
    zbuf = np.full(H * W, np.inf)
    np.minimum.at(zbuf, fpix, depth)
    win = depth <= zbuf[fpix]
    ftri, fpix, depth = ftri[win], fpix[win], depth[win]
    bary = np.stack([wa[win], wb[win], wc[win]], 1) / iz[win, None]
    corners = faces[ftri]                                      # (K, 3)

    def interp(values):
        return np.einsum("kc,kc...->k...", bary, values[corners])

    def interp_rows(values):
        # interp of [N, D] values written out: the same sums in the same order (einsum's,
        # bit for bit on the machine that built the datasets), faster
        v = np.take(values, corners, axis=0)
        return (bary[:, 0, None] * v[:, 0] + bary[:, 1, None] * v[:, 1]
                + bary[:, 2, None] * v[:, 2])

    n = interp_rows(normals_world @ R.T)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    ray = np.stack([(fpix % W - camera.cx) / camera.fx, (fpix // W - camera.cy) / camera.fy,
                    np.ones(len(fpix))], 1)
    n *= np.where(np.einsum("ki,ki->k", n, ray) > 0, -1.0, 1.0)[:, None]
    ang = 2 * np.pi * around.astype(np.float64)
    circ = interp_rows(np.stack([np.cos(ang), np.sin(ang)], 1))
    nearest = corners[np.arange(len(ftri)), np.argmax(bary, 1)]

    out.mask.reshape(-1)[fpix] = True
    out.depth.reshape(-1)[fpix] = depth
    out.normal.reshape(-1, 3)[fpix] = n
    out.part.reshape(-1)[fpix] = part[nearest]
    out.along.reshape(-1)[fpix] = np.clip(interp(along.astype(np.float64)), 0.0, 1.0)
    out.around.reshape(-1)[fpix] = (np.arctan2(circ[:, 1], circ[:, 0]) / (2 * np.pi)) % 1.0
    if face_uv is not None:
        uv = np.take(face_uv, ftri, axis=0)  # the einsum of interp written out, as in interp_rows
        out.uv.reshape(-1, 2)[fpix] = (bary[:, 0, None] * uv[:, 0] + bary[:, 1, None] * uv[:, 1]
                                       + bary[:, 2, None] * uv[:, 2])
    return out
