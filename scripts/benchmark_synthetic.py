"""Images per second per CPU core of the synthetic renderers, side by side in one run.

Rows:

* ``capsule``: today's synthetic example (datasets/synthetic: procedural pose, capsule
  body ray cast, scene, shading, labels) -- ``ExampleGenerator.example``.
* ``mesh/numpy-zbuffer``: the realistic family's geometry (datasets/synthetic/realistic):
  a MakeHuman body shape and a 48-frame procedural clip retargeted onto its rig (amortised
  over 8 examples per clip, as the capsule generator samples them), then per image the
  skinned frame, a camera and the :class:`GBuffer` from the vectorised NumPy z-buffer
  rasteriser, plus a flat grey shading of the normals (a placeholder for the look stage).
* ``realistic + placeholder``: a whole realistic example with the flat placeholder shader
  (:class:`RealisticGenerator` with ``shader="placeholder"``: the mesh row's geometry, a
  procedural backdrop, the labels), procedural poses.
* ``realistic + look stage``: the whole example as ``synthetic/realistic`` builds it (the
  look stage of :mod:`.realistic.compose`: photo background, HDRI light, skin/clothes/hair,
  shadows, occluders, camera effects; the scene assets from the cache, procedural where
  missing), procedural poses -- the row to compare with ``capsule``; its look-stage time is
  broken down per step below the table.
* ``mesh/embree`` (only when ``trimesh`` and ``embreex`` import, e.g. after
  ``pip install --target DIR trimesh embreex`` and ``--extra_path DIR``): the same frames
  ray cast with Embree through trimesh (a fresh BVH per posed frame, one ray per pixel
  centre inside the body's projected box); mask, depth and triangle ids only, so it is a
  lower bound of that renderer's cost.

Every row runs in this one process with one thread (OMP/BLAS threads pinned to 1 before
NumPy loads), so the numbers are per core; with N cores, N worker processes give ~N x.

    python scripts/benchmark_synthetic.py --size 256 --images 48
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import sys  # noqa: E402
from typing import Optional  # noqa: E402
import time  # noqa: E402

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import numpy as np  # noqa: E402

SIZE = flags.DEFINE_integer("size", 256, "image side (px)")
IMAGES = flags.DEFINE_integer("images", 48, "images per row (a multiple of 8 is fairest)")
EXTRA_PATH = flags.DEFINE_string("extra_path", None,
                                 "folder added to sys.path (where trimesh/embreex were "
                                 "installed with pip install --target)")
SEED = flags.DEFINE_integer("seed", 0, "random seed")
PARALLEL = flags.DEFINE_integer("parallel_images", 0,
                                "also time this many realistic examples through the build's "
                                "own path (render_encoded: look stage, JPEG, --workers "
                                "processes), in wall-clock time")
WORKERS = flags.DEFINE_integer("workers", 2, "processes for --parallel_images")
PARALLEL_CONFIG = flags.DEFINE_string(
    "parallel_config", None, "time --parallel_images with this synthetic tfds config's "
    "generator settings (e.g. realistic_everyday: its framing, pose mix and bystanders; "
    "procedural poses, --size px) instead of the generator's defaults")

EXAMPLES_PER_CLIP = 8
FRAMES_PER_CLIP = 48


def _capsule(size: int, n: int) -> float:
    from mhp_tf_datasets.synthetic import generate
    gen = generate.ExampleGenerator(generate.GeneratorConfig(image_size=size, mocap=False),
                                    "train")
    gen.example(0)  # warm-up (imports, caches)
    t = time.perf_counter()
    for i in range(1, n + 1):
        gen.example(i)
    return n / (time.perf_counter() - t)


def _realistic_generator(people, size: int, n: int, shader: str):
    """Images/s of whole realistic examples, and the look stage's mean ms per step."""
    from mhp_tf_datasets.synthetic.builder import BYSTANDER_P
    from mhp_tf_datasets.synthetic.realistic import generate
    cfg = generate.RealisticConfig(image_size=size, mocap=False, bystander_p=BYSTANDER_P)
    gen = generate.RealisticGenerator(cfg, "train", people=people, shader=shader)
    gen.example(10 ** 6)  # warm-up on another clip (and the scene assets' loading)
    steps = getattr(gen.shader, "timings_ms", None)
    if steps is not None:
        steps.clear()
    t = time.perf_counter()
    for i in range(n):
        gen.example(i)
    rate = n / (time.perf_counter() - t)
    return rate, {k: v / n for k, v in (steps or {}).items()}


def _parallel(size: int, n: int, workers: int, config: Optional[str] = None):
    """Wall-clock images/s of ``render_encoded`` (the tfds build's path) with ``workers``:
    over all ``n`` images (pool start included) and after the first eighth (steady; the
    same as the first for fewer than 200 images)."""
    import dataclasses
    from mhp_tf_datasets.synthetic import builder
    from mhp_tf_datasets.synthetic import generate
    if config:
        named = {c.name: c for c in builder.Synthetic.BUILDER_CONFIGS}
        if config not in named:
            raise SystemExit(f"unknown synthetic config {config!r}; known: {sorted(named)}")
        cfg = dataclasses.replace(named[config].generator_config(), image_size=size,
                                  mocap=False, procedural_fraction=1.0)
    else:
        cfg = generate.GeneratorConfig(image_size=size, mocap=False,
                                       bystander_p=builder.BYSTANDER_P)
    list(generate.render_encoded(cfg, "train", range(8), None, 92, 1, "realistic"))  # assets
    t, times = time.perf_counter(), []
    for _ in generate.render_encoded(cfg, "train", range(n), None, 92, workers, "realistic"):
        times.append(time.perf_counter() - t)
    # the pool hands results back in chunks: only a long run has a meaningful steady part
    skip = n // 8 if n >= 200 else 0
    if not skip:
        return n / times[-1], n / times[-1]
    return n / times[-1], (n - skip) / max(times[-1] - times[skip - 1], 1e-9)


def _mesh_frames(people, size: int, n: int, seed: int, render, stats):
    """Shared loop of the mesh rows: clips of one body, 8 random frames each."""
    from mhp_tf_datasets.synthetic import body as body_lib
    from mhp_tf_datasets.synthetic import pose as pose_lib
    from mhp_tf_datasets.synthetic import scene
    done = 0
    clip_index = 0
    while done < n:
        rng = np.random.default_rng([seed, clip_index])
        t0 = time.perf_counter()
        person = people.person(people.model.sample_shape(rng))
        points, _ = pose_lib.sample_clip(rng, body_lib.sample_body(clip_index, seed),
                                         FRAMES_PER_CLIP)
        clip = people.pose(person, points, rng)
        stats["clip"] += time.perf_counter() - t0
        for _ in range(min(EXAMPLES_PER_CLIP, n - done)):
            t1 = time.perf_counter()
            frame = people.frame(person, clip, int(rng.integers(FRAMES_PER_CLIP)))
            cam = scene.sample_camera(rng, frame.points, size, size)
            t2 = time.perf_counter()
            render(frame, cam)
            t3 = time.perf_counter()
            stats["frame"] += t2 - t1
            stats["render"] += t3 - t2
            done += 1
        clip_index += 1


def _numpy_zbuffer(people, size, n, seed):
    def render(frame, cam):
        gb = people.render(frame, cam)
        grey = np.where(gb.mask, 0.15 + 0.85 * np.clip(-gb.normal[..., 2], 0, 1), 0.0)
        return (grey * 255).astype(np.uint8)
    return _timed(people, size, n, seed, render)


def _embree(people, size, n, seed):
    import trimesh
    from trimesh.ray import ray_pyembree
    faces = people.model.faces

    def render(frame, cam):
        mesh = trimesh.Trimesh(frame.vertices, faces, process=False)
        caster = ray_pyembree.RayMeshIntersector(mesh)
        centre = cam.centre
        pc = cam.world_to_camera(frame.vertices)
        uv = cam.project(pc)
        x0, y0 = np.maximum(np.floor(uv.min(0)).astype(int), 0)
        x1 = min(int(np.ceil(uv[:, 0].max())), cam.width - 1)
        y1 = min(int(np.ceil(uv[:, 1].max())), cam.height - 1)
        ys, xs = np.mgrid[y0:y1 + 1, x0:x1 + 1]
        d_cam = np.stack([(xs.ravel() - cam.cx) / cam.fx, (ys.ravel() - cam.cy) / cam.fy,
                          np.ones(xs.size)], 1)
        d_world = d_cam @ cam.R
        tri, ray, loc = caster.intersects_id(np.broadcast_to(centre, d_world.shape),
                                             d_world, multiple_hits=False,
                                             return_locations=True)
        mask = np.zeros((cam.height, cam.width), bool)
        depth = np.full((cam.height, cam.width), np.inf, np.float32)
        mask[ys.ravel()[ray], xs.ravel()[ray]] = True
        depth[ys.ravel()[ray], xs.ravel()[ray]] = cam.world_to_camera(loc)[:, 2]
        return mask, depth, tri
    return _timed(people, size, n, seed, render)


def _timed(people, size, n, seed, render):
    stats = {"clip": 0.0, "frame": 0.0, "render": 0.0}
    _mesh_frames(people, size, 2, seed + 1000, render, dict(stats))  # warm-up
    t = time.perf_counter()
    _mesh_frames(people, size, n, seed, render, stats)
    total = time.perf_counter() - t
    return n / total, {k: 1000 * v / n for k, v in stats.items()}


def main(argv):
    del argv
    if EXTRA_PATH.value:
        sys.path.insert(0, EXTRA_PATH.value)
    from mhp_tf_datasets.synthetic.realistic import people as people_lib
    size, n = SIZE.value, IMAGES.value
    rows = [("capsule (today)", _capsule(size, n), None)]
    people = people_lib.People()
    rate, parts = _numpy_zbuffer(people, size, n, SEED.value)
    rows.append(("mesh/numpy-zbuffer", rate, parts))
    rows.append(("realistic + placeholder",
                 _realistic_generator(people, size, n, "placeholder")[0], None))
    rate, look_steps = _realistic_generator(people, size, n, "look")
    rows.append(("realistic + look stage", rate, None))
    try:
        import embreex  # noqa: F401
        import trimesh  # noqa: F401
        rate, parts = _embree(people, size, n, SEED.value)
        rows.append(("mesh/embree (geometry only)", rate, parts))
    except ImportError as e:
        print(f"(mesh/embree skipped: {e})")
    print(f"\n{size} px, {n} images per row, one thread:")
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end)")
    capsule = rows[0][1]
    print(f"{'renderer':30s} {'img/s/core':>10s} {'x capsule':>9s}  ms per image: clip "
          f"(amortised) / frame / render")
    for name, rate, parts in rows:
        extra = "" if parts is None else \
            f"  {parts['clip']:.1f} / {parts['frame']:.1f} / {parts['render']:.1f}"
        print(f"{name:30s} {rate:10.1f} {rate / capsule:9.2f}{extra}")
    print("look stage, mean ms per image: " + ", ".join(
        f"{k} {v:.1f}" for k, v in look_steps.items()) + f"; total {sum(look_steps.values()):.1f}")
    for name, rate, _ in rows:
        if not name.startswith("mesh/embree"):
            print(f"9,000 images on 2 cores, {name}: {9000 / (2 * rate) / 60:.1f} min")
    if PARALLEL.value:
        rate, steady = _parallel(size, PARALLEL.value, WORKERS.value, PARALLEL_CONFIG.value)
        name = f"realistic {PARALLEL_CONFIG.value}" if PARALLEL_CONFIG.value else "realistic"
        print(f"render_encoded, {name}, {WORKERS.value} workers, {PARALLEL.value} images: "
              f"{rate:.1f} img/s wall clock, {steady:.1f} after the first eighth -> 9,000 images in "
              f"{9000 / steady / 60:.1f} min (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    app.run(main)
