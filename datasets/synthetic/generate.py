"""The example stream of the synthetic dataset (plain Python, no tensorflow-datasets needed).

Example ``i`` of a split depends only on ``(seed, split, i)`` and the motion source:

1. a pose: a frame of a mocap clip of the split (retargeted onto a body, mirrored with
   p = 0.5), or a frame of a procedural clip (``proc_<split>_<n>``, ``examples_per_clip``
   consecutive examples share a clip and its body) — a fraction ``procedural_fraction`` of
   the examples is procedural even when mocap is used, all of them when it is not;
2. a body from the split's own pool of body ids (train and test people differ, as the
   subjects of Human3.6M's protocols do);
3. a random camera (:func:`~.scene.sample_camera`) and scene (:func:`~.render.render_example`).

Train and test are split by clip: mocap clips by :data:`~.mocap.TEST_CLIPS`, procedural clips
by construction (their names and random streams carry the split).
"""

import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

from absl import logging
import cv2
import numpy as np

from mhp_tf_datasets.synthetic import mocap as mocap_lib
from mhp_tf_datasets.synthetic import pose as pose_lib
from mhp_tf_datasets.synthetic import render
from mhp_tf_datasets.synthetic import scene
from mhp_tf_datasets.synthetic.body import sample_body

SPLIT_IDS = {"train": 0, "test": 1}
TEST_BODY_OFFSET = 10000  # test subjects are body ids >= this


# Realistic family: the frame side over the person's longer side, U(lo, hi), when a config
# names no other (GeneratorConfig.frame_margin; the builder's full-size realistic configs use
# builder.REALISTIC_FRAMING).
DEFAULT_FRAME_MARGIN = (1.3, 1.75)


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """What the synthetic examples look like and where their poses come from.

    ``mocap``: False (procedural poses only), True (mocap required; downloads the wheels
    when ``download`` and they are not cached) or "auto" (mocap when it is cached or can be
    downloaded, else procedural poses with a warning).
    """

    image_size: int = 256
    seed: int = 0
    mocap: Union[bool, str] = False
    procedural_fraction: float = 0.3
    frames_per_clip: int = 48
    examples_per_clip: int = 8
    train_bodies: int = 200
    test_bodies: int = 50
    mocap_cache_dir: Optional[str] = None
    download: bool = True
    # Share of the procedural clips that are everyday motion (pose.everyday_clip: walking,
    # standing, arm holds) instead of archetype keyframes; used by the realistic family.
    everyday_fraction: float = 0.0
    # Realistic family: the stored frame is the square of U(frame_margin) x the longer side
    # of the person's box (realistic.generate.crop_camera). The pipeline crops 1.25 x the box,
    # so that crop spans image_size * 1.25 / margin source pixels.
    frame_margin: Tuple[float, float] = DEFAULT_FRAME_MARGIN
    # Realistic family: share of frames with another person partly in view (unlabelled; see
    # realistic.generate.RealisticGenerator.bystander).
    bystander_p: float = 0.0
    # Realistic family: share of cameras mounted high and looking down (scene.sample_camera's
    # elevated_p: 2.5-8 m up, 4-14 m away).
    elevated_p: float = 0.0

    def __post_init__(self):
        if self.mocap not in (True, False, "auto"):
            raise ValueError(f"mocap must be True, False or 'auto', got {self.mocap!r}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be >= 32, got {self.image_size}")
        if not 0.0 <= self.procedural_fraction <= 1.0:
            raise ValueError("procedural_fraction must be in [0, 1]")
        if not 0.0 <= self.everyday_fraction <= 1.0:
            raise ValueError("everyday_fraction must be in [0, 1]")
        for name in ("bystander_p", "elevated_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        lo, hi = self.frame_margin
        if not 1.0 <= lo <= hi:
            raise ValueError(f"frame_margin must be (lo, hi) with 1 <= lo <= hi, got "
                             f"{self.frame_margin}")


def load_clips(config: GeneratorConfig) -> Optional[Dict[str, np.ndarray]]:
    """The mocap clips the config asks for, or None for procedural poses only."""
    if config.mocap is False:
        return None
    try:
        return mocap_lib.load_mocap(config.mocap_cache_dir, download=config.download)
    except (mocap_lib.MocapUnavailable, OSError, ValueError) as e:
        if config.mocap is True:
            raise
        logging.warning("synthetic: motion capture unavailable (%s); using procedural poses "
                        "only", e)
        return None


def encode_jpeg(image_rgb: np.ndarray, quality: int = 92) -> bytes:
    """JPEG bytes of an RGB uint8 image (OpenCV; deterministic)."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


class ExampleGenerator:
    """Renders the examples of one split; ``example(i)`` is independent of any other index."""

    def __init__(self, config: GeneratorConfig, split: str,
                 clips: Optional[Dict[str, np.ndarray]] = None):
        if split not in SPLIT_IDS:
            raise ValueError(f"split must be one of {sorted(SPLIT_IDS)}, got {split!r}")
        self.config = config
        self.split = split
        self.split_id = SPLIT_IDS[split]
        self.clips = clips
        self.clip_names = mocap_lib.split_clips(clips, split) if clips else []
        self._proc_cache: Tuple[int, tuple] = (-1, None)
        self._bodies = {}

    @property
    def uses_mocap(self) -> bool:
        return bool(self.clip_names)

    def body_id(self, rng: np.random.Generator) -> int:
        if self.split == "train":
            return int(rng.integers(self.config.train_bodies))
        return TEST_BODY_OFFSET + int(rng.integers(self.config.test_bodies))

    def body(self, body_id: int):
        if body_id not in self._bodies:
            self._bodies[body_id] = sample_body(body_id, self.config.seed)
        return self._bodies[body_id]

    def procedural_clip(self, index: int):
        """``(name, body, points (T, 20, 3) m, angles)`` of procedural clip ``index``."""
        if self._proc_cache[0] != index:
            rng = np.random.default_rng([self.config.seed, self.split_id, 7, index])
            body = self.body(self.body_id(rng))
            points, angles = pose_lib.sample_clip(rng, body, self.config.frames_per_clip)
            name = f"proc_{self.split}_{index:05d}"
            self._proc_cache = (index, (name, body, points, angles))
        return self._proc_cache[1]

    def pose(self, index: int, rng: np.random.Generator):
        """``(sequence, frame, body, points_world (20, 3) m)`` of example ``index``."""
        cfg = self.config
        if self.uses_mocap and rng.random() >= cfg.procedural_fraction:
            name = self.clip_names[int(rng.integers(len(self.clip_names)))]
            frames = self.clips[name]
            frame = int(rng.integers(len(frames)))
            body = self.body(self.body_id(rng))
            points = pose_lib.retarget(frames[frame], body)
            if name.startswith(mocap_lib.GROUNDED_CLIPS_PREFIXES):
                points = pose_lib.place_on_ground(points)
            if rng.random() < 0.5:
                points = pose_lib.mirror(points)
            points[:, :2] -= points[pose_lib.P["Pelvis"], :2]
            return name, frame, body, points
        name, body, points, _ = self.procedural_clip(index // cfg.examples_per_clip)
        frame = int(rng.integers(len(points)))
        return name, frame, body, points[frame].copy()

    def example(self, index: int) -> Dict:
        """Example ``index``: image (uint8 RGB) + schema labels (+ sequence/frame/subject)."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, self.split_id, index])
        name, frame, body, points = self.pose(index, rng)
        size = cfg.image_size
        camera = scene.sample_camera(rng, points, size, size)
        pose_cam_mm = camera.world_to_camera(points) * 1000.0
        ex = render.render_example(pose_cam_mm, camera, body,
                                   seed=[cfg.seed, self.split_id, index, 1])
        ex.update(sequence=name, frame=frame, subject=body.body_id, action=-1)
        return ex


def generate_examples(split: str, num_examples: int, config: GeneratorConfig = GeneratorConfig(),
                      clips: Optional[Dict[str, np.ndarray]] = None, start: int = 0
                      ) -> Iterator[Tuple[str, Dict]]:
    """Yield ``(key, example)`` for examples ``start .. start + num_examples - 1`` of ``split``.

    ``clips``: mocap clips (default: :func:`load_clips` of the config).
    """
    if clips is None:
        clips = load_clips(config)
    gen = ExampleGenerator(config, split, clips)
    for i in range(start, start + num_examples):
        yield f"{split}_{i:07d}", gen.example(i)


def default_num_workers() -> int:
    """Render processes to use: the CPUs this process may run on, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


FAMILIES = ("capsule", "realistic", "realistic_placeholder")


def make_generator(config: GeneratorConfig, split: str, clips=None, family: str = "capsule"):
    """The example generator of a synthetic family: ``capsule`` (:class:`ExampleGenerator`),
    ``realistic`` (skinned MakeHuman people shaded by the look stage,
    :mod:`.realistic.generate`) or ``realistic_placeholder`` (the same people, flat grey
    over procedural backdrops: geometry tests and benchmarks)."""
    if family == "capsule":
        return ExampleGenerator(config, split, clips)
    if family in ("realistic", "realistic_placeholder"):
        from mhp_tf_datasets.synthetic.realistic import generate as realistic_generate
        shader = "look" if family == "realistic" else "placeholder"
        return realistic_generate.RealisticGenerator(config, split, clips, shader=shader)
    raise ValueError(f"unknown synthetic family {family!r}; known: {list(FAMILIES)}")


def prepare_family(config: GeneratorConfig, family: str) -> None:
    """Load what every worker of ``family`` shares, once, before the workers fork (the
    realistic family's scene photos and HDRIs: one fetch, one warning, one copy in memory)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown synthetic family {family!r}; known: {list(FAMILIES)}")
    if family == "realistic":
        from mhp_tf_datasets.synthetic.realistic import generate as realistic_generate
        realistic_generate.scene_assets(config.download)


class _EncodingRenderer:
    """``renderer(i)`` -> ``(example with JPEG bytes as image, (height, width))``."""

    def __init__(self, config: GeneratorConfig, split: str, clips, jpeg_quality: int,
                 family: str = "capsule"):
        self.gen = make_generator(config, split, clips, family)
        self.quality = jpeg_quality

    def __call__(self, index: int) -> Tuple[Dict, Tuple[int, int]]:
        example = self.gen.example(index)
        image = example.pop("image")
        example["image"] = encode_jpeg(image, self.quality)
        return example, image.shape[:2]


_WORKER_RENDERER: Optional[_EncodingRenderer] = None  # set in each worker process

# Thread-count setters and getters of the OpenBLAS builds NumPy ships with (numpy's own
# wheels bundle ``scipy_openblas64_``, distributions link plain OpenBLAS).
_BLAS_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                 "scipy_openblas_set_num_threads", "openblas_set_num_threads64_")


_BLAS_FUNCTIONS = None


def _blas_functions():
    """``[(setter, getter)]`` of the OpenBLAS libraries mapped into this process (Linux), resolved
    once per process and cached: call it before forking, so that children never ``dlopen`` --
    a child of a threaded parent (TensorFlow's pools) can deadlock on the loader's lock."""
    global _BLAS_FUNCTIONS
    if _BLAS_FUNCTIONS is None:
        found = []
        try:
            with open("/proc/self/maps") as maps:
                paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()
                                and line.split()[-1].startswith("/")})
        except OSError:
            paths = []
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for name in _BLAS_SETTERS:
                getter = name.replace("_set_", "_get_")
                if hasattr(lib, name) and hasattr(lib, getter):
                    found.append((getattr(lib, name), getattr(lib, getter)))
                    break
        _BLAS_FUNCTIONS = found
    return _BLAS_FUNCTIONS


def blas_threads() -> Optional[int]:
    """Threads of the first loaded OpenBLAS (None when there is none or it cannot tell)."""
    functions = _blas_functions()
    return int(functions[0][1]()) if functions else None


def limit_blas_threads(n: int) -> int:
    """Set every loaded OpenBLAS to ``n`` threads; returns how many libraries were set.

    Render workers run one per core: NumPy's BLAS would otherwise start a thread per core in
    each of them, and on 2 cores the 2 workers' 4 BLAS threads fought over them -- the
    realistic build ran at half its speed (19 instead of 37 images/s, measured by
    ``scripts/benchmark_synthetic.py --parallel_images``). ``OPENBLAS_NUM_THREADS`` cannot
    do it here: it is read when NumPy is first imported, long before the workers fork.
    :func:`render_encoded` sets the parent to one thread while it forks (the children
    inherit it) and puts the parent's count back afterwards.
    """
    functions = _blas_functions()
    for setter, _ in functions:
        setter(int(n))
    return len(functions)


@contextlib.contextmanager
def fork_settings():
    """Thread settings for forking render workers, restored in this process afterwards.

    * OpenCV: a forked child inherits OpenCV's worker-pool state but not its threads; if the
      pool was running (any earlier parallel cv2 call in this process), the child's first
      cv2 call that touches it waits forever on a lock held by a thread that does not
      exist. The pool is stopped while forking.
    * NumPy's BLAS is set to one thread (:func:`limit_blas_threads`); the children inherit
      it, so nothing BLAS-related has to run in them.
    """
    cv2_threads = cv2.getNumThreads()
    blas = blas_threads()
    cv2.setNumThreads(1)
    limit_blas_threads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(cv2_threads)
        if blas is not None:
            limit_blas_threads(blas)


def _init_worker(*args) -> None:
    global _WORKER_RENDERER
    cv2.setNumThreads(1)  # one process per core already (BLAS: set before the fork)
    _WORKER_RENDERER = _EncodingRenderer(*args)


def _worker_render(index: int):
    return _WORKER_RENDERER(index)


def render_encoded(config: GeneratorConfig, split: str, indices: Sequence[int],
                   clips: Optional[Dict[str, np.ndarray]] = None, jpeg_quality: int = 92,
                   num_workers: Optional[int] = None, family: str = "capsule"
                   ) -> Iterator[Tuple[int, Dict, Tuple[int, int]]]:
    """Yield ``(index, example, (height, width))`` for ``indices``, in order, with the image
    JPEG-encoded; rendered by ``num_workers`` processes (default
    :func:`default_num_workers`) with the generator of ``family`` (:func:`make_generator`).

    Every example depends only on its index, so the output is the same for any number of
    workers. Worker processes are forked (they inherit ``clips`` without copying); where
    ``fork`` is unavailable the examples are rendered in this process.
    """
    indices = list(indices)
    workers = default_num_workers() if num_workers is None else int(num_workers)
    if workers < 1:
        raise ValueError(f"num_workers must be >= 1, got {num_workers}")
    chunk = max(1, config.examples_per_clip)  # consecutive procedural examples share a clip
    workers = min(workers, len(indices) // chunk)
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        renderer = _EncodingRenderer(config, split, clips, jpeg_quality, family)
        for i in indices:
            yield (i,) + renderer(i)
        return
    prepare_family(config, family)
    ctx = multiprocessing.get_context("fork")
    with fork_settings():
        pool = ctx.Pool(workers, _init_worker, (config, split, clips, jpeg_quality, family))
    with pool:
        for i, (example, shape) in zip(indices, pool.imap(_worker_render, indices,
                                                          chunksize=chunk)):
            yield i, example, shape
