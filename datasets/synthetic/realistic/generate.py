"""Example stream of the realistic synthetic family: skinned MakeHuman people, shaded into photos.

Example ``i`` of a split depends only on ``(seed, split, i)`` and the motion source, as in
:mod:`..generate` (the capsule family):

1. ``examples_per_clip`` consecutive examples share a *clip*: a window of
   ``frames_per_clip`` frames of a mocap clip of the split (mirrored with p = 0.5;
   climbing clips put back on the ground) or a procedural clip (:func:`..pose.sample_clip`),
   a fraction ``procedural_fraction`` of the clips procedural when mocap is used, all of
   them when it is not; and a body from the split's own pool of body ids (train and test
   people differ), its MakeHuman shape drawn from the body id (:meth:`BodyModel.sample_shape`);
2. the clip is retargeted onto the body's rig once (:mod:`.posing`, with its random head
   and hand variation), each example takes a random frame of it, skins it and samples a
   camera (:func:`..scene.sample_camera`);
3. the G-buffer (:mod:`.rasterizer`) goes to a *shader* ``shader(gbuffer, camera, rng,
   feet_px, person_height_px) -> uint8 (H, W, 3) RGB``. The default, :class:`LookShader`,
   is the look stage (:func:`.compose.render`: a background photo, HDRI light, skin,
   clothes and hair, shadows, occluders, camera effects) with the scene assets of
   :mod:`.assets` loaded once per process (:func:`scene_assets`; procedural stand-ins, with
   one warning, where they cannot be had). :func:`placeholder_shader` (a flat grey Lambert
   body over a procedural backdrop) stays selectable (``shader="placeholder"``) for geometry
   tests and benchmarks. Labels never come from the shader.

   ``feet_px``/``person_height_px`` place the shadows only: the ankle and toe points of the
   posed skeleton dropped onto the floor under them, projected, and the pixel length of the
   vertical from the floor to the head point (:func:`shadow_placement`). They are geometry
   of the same frame the G-buffer shows, used to put the contact and cast shadows on the
   ground; no label is drawn into the pixels.

Labels (:func:`..render.compute_labels`): the 18 H36M joints of :mod:`.joints` in the camera
frame (mm), their projections, visibility = inside the image (the loss mask: a joint hidden
behind the body keeps its exact labels; :func:`.joints.seen_in_render` tells from the depth
buffer which joints a render shows), the box around the silhouette and the joints.
"""

import warnings
from typing import Callable, Dict, Iterator, Optional, Tuple, Union

import cv2
import numpy as np

from mhp_tf_datasets.synthetic import mocap as mocap_lib
from mhp_tf_datasets.synthetic import pose as pose_lib
from mhp_tf_datasets.synthetic import render
from mhp_tf_datasets.synthetic import scene
from mhp_tf_datasets.synthetic.body import sample_body
from mhp_tf_datasets.synthetic.generate import DEFAULT_FRAME_MARGIN
from mhp_tf_datasets.synthetic.generate import ExampleGenerator
from mhp_tf_datasets.synthetic.generate import GeneratorConfig
from mhp_tf_datasets.synthetic.generate import load_clips
from mhp_tf_datasets.synthetic.generate import TEST_BODY_OFFSET
from mhp_tf_datasets.synthetic.realistic import assets as assets_lib
from mhp_tf_datasets.synthetic.realistic import compose
from mhp_tf_datasets.synthetic.realistic import gbuffer as gbuffer_lib
from mhp_tf_datasets.synthetic.realistic import people as people_lib
from mhp_tf_datasets.synthetic.realistic import shadows as shadows_lib
from mhp_tf_datasets.synthetic.realistic import stage as stage_lib

# shader(gbuffer, camera, rng, feet_px, person_height_px) -> uint8 (H, W, 3) RGB
Shader = Callable[..., np.ndarray]
SHADERS = ("look", "placeholder")


# The capsule family's config serves as is: resolution, seed, pose source (``mocap``: False,
# True or "auto"), clip length, examples per clip and the body pools.
RealisticConfig = GeneratorConfig


def placeholder_shader(gb: gbuffer_lib.GBuffer, camera: scene.Camera,
                       rng: np.random.Generator, feet_px: Optional[np.ndarray] = None,
                       person_height_px: Optional[float] = None) -> np.ndarray:
    """Flat grey-toned Lambert body (one light from the camera's upper hemisphere) over a
    procedural backdrop; a stand-in for the look stage."""
    h, w = gb.shape
    back = scene.backdrop(rng, h, w).astype(np.float32)
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.9, -0.1), -1.0])
    light /= np.linalg.norm(light)
    albedo = rng.uniform(0.35, 0.85) * np.array([1.0, rng.uniform(0.8, 0.95),
                                                  rng.uniform(0.65, 0.9)])
    lambert = np.clip(gb.normal @ light, 0.0, 1.0)[..., None]
    body = albedo * (0.3 + 0.7 * lambert)
    img = np.where(gb.mask[..., None], body, back)
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 0.5)
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


_SCENE_ASSETS: Dict[Tuple[str, bool], assets_lib.Assets] = {}


def scene_assets(download: bool = True) -> assets_lib.Assets:
    """The look stage's photos, HDRIs and textures (:func:`.assets.load_assets`, cache dir
    from ``$MHP_TF_SCENES_CACHE`` or ``~/.cache/mhp_tf/scenes``), loaded once per process.

    Fetches what is not cached when ``download``. Whatever cannot be had is replaced by
    procedural stand-ins; the per-package warnings are folded into one.
    ``render_encoded`` calls this before forking its workers, so they share one copy --
    with the linear mip pyramids of the floor/wall textures and photos the ray-cast stage
    samples (:func:`.stage.linear_pyramid`), built here once instead of in each worker.
    """
    key = (assets_lib.cache_dir(), bool(download))
    if key not in _SCENE_ASSETS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = assets_lib.load_assets(download=download)
        if caught:
            kinds = [k for k, v in (("background photos", loaded.backgrounds),
                                    ("HDRIs", loaded.hdris), ("textures", loaded.textures))
                     if not v]
            warnings.warn(
                f"realistic synthetic scenes: {len(caught)} asset problem(s) (first: "
                f"{caught[0].message}); procedural stand-ins for "
                f"{', '.join(kinds) or 'the missing packages'}. Fetch them with `python -m "
                f"mhp_tf_datasets.synthetic.realistic.assets` (cache: {key[0]})", stacklevel=2)
        for _, texture in list(loaded.textures) + list(loaded.backgrounds):
            stage_lib.linear_pyramid(texture)
        _SCENE_ASSETS[key] = loaded
    return _SCENE_ASSETS[key]


class LookShader:
    """The look stage as a shader: :func:`.compose.render` of the G-buffer with the scene
    assets (:func:`scene_assets`, loaded at the first call) and a seed drawn from ``rng``.

    ``supersample`` 1 (default; antialiasing by a blurred silhouette band) keeps the cost
    of the look stage at the G-buffer's size; the generator renders the G-buffer at the
    output size, so larger values are not used by it.
    """

    def __init__(self, assets: Optional[assets_lib.Assets] = None, download: bool = True,
                 occluder_p: float = 0.2):
        self.assets = assets
        self.download = download
        self.occluder_p = occluder_p
        self.timings_ms: Dict[str, float] = {}  # summed per step of compose.render
        self.last: Optional[compose.Rendered] = None  # the latest render (for previews)

    def __call__(self, gb: gbuffer_lib.GBuffer, camera: scene.Camera,
                 rng: np.random.Generator, feet_px: Optional[np.ndarray] = None,
                 person_height_px: Optional[float] = None, floor_z: Optional[float] = None,
                 person_distance: Optional[float] = None,
                 caster: Optional[shadows_lib.Caster] = None,
                 bystanders: Tuple[compose.Bystander, ...] = ()) -> np.ndarray:
        if self.assets is None:
            self.assets = scene_assets(self.download)
        seed = np.random.SeedSequence(rng.integers(1 << 63, size=2).tolist())
        out = compose.render(gb, seed, self.assets, feet_px, person_height_px,
                             occluder_p=self.occluder_p, camera=camera, floor_z=floor_z,
                             person_distance=person_distance, caster=caster,
                             bystanders=bystanders)
        self.last = out
        for step, ms in out.timings_ms.items():
            self.timings_ms[step] = self.timings_ms.get(step, 0.0) + ms
        return out.image


def make_shader(shader: Union[str, Shader], download: bool = True) -> Shader:
    """``"look"`` (:class:`LookShader`), ``"placeholder"`` (:func:`placeholder_shader`) or
    a callable shader, returned as is."""
    if callable(shader):
        return shader
    if shader == "look":
        return LookShader(download=download)
    if shader == "placeholder":
        return placeholder_shader
    raise ValueError(f"unknown realistic shader {shader!r}; known: {list(SHADERS)} or a "
                     f"callable")


FOOT_POINTS = tuple(pose_lib.P[n] for n in ("R_Ankle", "L_Ankle", "R_Toe", "L_Toe"))


def floor_height(frame: people_lib.Frame) -> float:
    """World height (m) of the floor a frame stands on: the mocap's ground (z = 0), or the
    lowest vertex where retargeting pushed a sole below it. A jumping body is above it."""
    return min(float(frame.vertices[:, 2].min()), 0.0)


def shadow_placement(frame: people_lib.Frame, camera: scene.Camera,
                     floor_z: Optional[float] = None) -> Tuple[np.ndarray, float]:
    """Where the shadows go: ``feet_px`` ``[4, 2]`` (the ankle and toe points dropped onto
    the floor at height ``floor_z``, default :func:`floor_height`, projected) and
    ``person_height_px`` (the projected length of the vertical from the floor to the head
    point, at least 1 px). Geometry of the frame, used only to place shadows on the ground;
    a body in the air casts them on the floor below it, where the stage draws the floor."""
    floor = floor_height(frame) if floor_z is None else float(floor_z)
    feet = np.asarray(frame.points)[list(FOOT_POINTS)].copy()
    feet[:, 2] = floor
    head = np.asarray(frame.points)[pose_lib.P["Head"]]
    head_floor = np.array([head[0], head[1], floor])
    px = camera.project(camera.world_to_camera(np.vstack([feet, head, head_floor])))
    height = float(np.linalg.norm(px[-2] - px[-1]))
    return px[:len(feet)], max(height, 1.0)


# The full camera image the crop is cut from (px; see :func:`crop_camera`).
FULL_FRAME = (1280, 960)


def crop_camera(rng: np.random.Generator, frame: people_lib.Frame, size: int,
                full_frame: Tuple[int, int] = FULL_FRAME,
                margin: Tuple[float, float] = DEFAULT_FRAME_MARGIN,
                elevated_p: float = 0.0) -> scene.Camera:
    """A ``size`` x ``size`` camera framing the person the way a person detector would.

    A real camera is drawn first (:func:`..scene.sample_camera` for a ``full_frame`` image:
    2-8 m away, fields of view of about 35-65 degrees, any height and azimuth; a share
    ``elevated_p`` of them mounted high, looking down); the frame is
    then the square of side ``U(margin)`` times the longer side of the person's box in that
    image (the projected mesh), centred on the box give or take 8 % of the side. The crop
    camera keeps the pose and the perspective of the full one (focal length and principal
    point scaled and shifted), so the labels stay exact projections and the person fills
    most of the stored frame (about ``size / 1.5`` px tall) instead of a corner of it.
    """
    w0, h0 = full_frame
    cam = scene.sample_camera(rng, frame.points, w0, h0, elevated_p=elevated_p)
    uv = cam.project(cam.world_to_camera(frame.vertices))
    lo, hi = uv.min(0), uv.max(0)
    side = float(np.max(hi - lo)) * rng.uniform(*margin)
    centre = 0.5 * (lo + hi) + rng.uniform(-0.08, 0.08, size=2) * side
    x0, y0 = centre - side / 2
    return cam.crop(x0, y0, size / side, size, size)


# Bystanders are drawn from the first BYSTANDER_BODIES bodies of the split's pool (so their
# rest meshes stay cached), each time with a new look, pose and place.
BYSTANDER_BODIES = 16
BYSTANDER_TRIES = 4
BYSTANDER_CLIP_FRAMES = 12  # a procedural bystander's clip: one frame of it is used


class RealisticGenerator(ExampleGenerator):
    """Renders the examples of one split; ``example(i)`` is independent of any other index.

    Shares the capsule generator's split, clip list and body-id pools; replaces the body,
    the posing and the rendering.
    """

    def __init__(self, config: RealisticConfig, split: str,
                 clips: Optional[Dict[str, np.ndarray]] = None,
                 people: Optional[people_lib.People] = None,
                 shader: Union[str, Shader] = "look"):
        super().__init__(config, split, clips)
        self.people = people if people is not None else people_lib.People(
            download=config.download)
        self.shader = make_shader(shader, config.download)
        self._persons: Dict[int, people_lib.Person] = {}
        self._bystander_persons: Dict[int, people_lib.Person] = {}
        self._clip_cache: Tuple[int, tuple] = (-1, None)

    def person(self, body_id: int, cache: Optional[Dict[int, people_lib.Person]] = None
               ) -> people_lib.Person:
        cache = self._persons if cache is None else cache
        if body_id not in cache:
            if len(cache) >= 32:
                cache.clear()
            rng = np.random.default_rng([self.config.seed, 13, body_id])
            shape = self.people.model.sample_shape(rng)
            cache[body_id] = self.people.person(shape)
        return cache[body_id]

    def bystander(self, rng: np.random.Generator, frame: people_lib.Frame,
                  camera: scene.Camera, gb: gbuffer_lib.GBuffer
                  ) -> Optional[compose.Bystander]:
        """Another person partly in view of ``camera``, or ``None`` when
        :data:`BYSTANDER_TRIES` places all fail. A body of the split's pool (one of the
        first :data:`BYSTANDER_BODIES`) in one frame of a clip of the split (mocap or
        procedural, as the person's), turned to any heading and stood 0.7-1.8 m to the side
        of the person and 1.5 m nearer to 3 m further from the camera. A place is kept if
        the body lies in front of the camera, 5-70 % of its vertices fall in the frame (the
        frame is cut round the person, so a neighbour is cut by its edge) and it hides at
        most half of the person."""
        cfg = self.config
        pool = cfg.train_bodies if self.split == "train" else cfg.test_bodies
        k = int(rng.integers(min(BYSTANDER_BODIES, pool)))
        body_id = k if self.split == "train" else TEST_BODY_OFFSET + k
        person = self.person(body_id, self._bystander_persons)
        _, _, points = self.source_points(rng, -1, frames=BYSTANDER_CLIP_FRAMES)
        t = int(rng.integers(len(points)))
        base = self.people.frame(person, self.people.pose(person, points[t:t + 1], rng), 0)
        pelvis = base.points[pose_lib.P["Pelvis"]]
        centre = frame.points[pose_lib.P["Pelvis"]][:2]
        # the camera's right and forward axes (rows of R) laid on the ground
        right, forward = camera.R[0, :2].copy(), camera.R[2, :2].copy()
        right /= max(np.linalg.norm(right), 1e-9)
        forward /= max(np.linalg.norm(forward), 1e-9)
        for _ in range(BYSTANDER_TRIES):
            side = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.7, 1.8))
            ahead = float(rng.uniform(-1.5, 3.0))
            yaw = float(rng.uniform(0.0, 2 * np.pi))
            c, s_ = np.cos(yaw), np.sin(yaw)
            turn = np.array([[c, -s_, 0.0], [s_, c, 0.0], [0.0, 0.0, 1.0]])
            shift = np.append(centre + side * right + ahead * forward, pelvis[2])

            def place(p):
                return (np.asarray(p, np.float64) - pelvis) @ turn.T + shift

            other = people_lib.Frame(
                vertices=place(base.vertices).astype(np.float32),
                normals=(base.normals @ turn.T).astype(np.float32),
                heads=place(base.heads), points=place(base.points))
            in_cam = camera.world_to_camera(other.vertices)
            if in_cam[:, 2].min() < 0.3:
                continue
            uv = camera.project(in_cam)
            inside = ((uv[:, 0] >= 0) & (uv[:, 0] < camera.width) & (uv[:, 1] >= 0)
                      & (uv[:, 1] < camera.height))
            if not 0.05 <= inside.mean() <= 0.7:
                continue
            other_gb = self.people.render(other, camera)
            hides = other_gb.mask & gb.mask & (other_gb.depth < gb.depth)
            if not other_gb.mask.any() or hides.sum() > 0.5 * gb.mask.sum():
                continue
            feet_px, height_px = shadow_placement(other, camera)
            # no self-shadow map for a neighbour (most of it is out of the frame): cost
            return compose.Bystander(other_gb, None, feet_px, height_px)
        return None

    def source_points(self, rng: np.random.Generator, clip_index: int,
                      frames: Optional[int] = None):
        """``(name, first frame, points (T, 20, 3))`` of clip ``clip_index``; ``frames``
        (default: the config's ``frames_per_clip``) is the length of a procedural clip."""
        cfg = self.config
        frames = cfg.frames_per_clip if frames is None else int(frames)
        if self.clip_names and rng.random() >= cfg.procedural_fraction:
            name = self.clip_names[int(rng.integers(len(self.clip_names)))]
            frames = self.clips[name]
            start = int(rng.integers(max(1, len(frames) - cfg.frames_per_clip + 1)))
            points = np.asarray(frames[start:start + cfg.frames_per_clip], np.float64)
            if name.startswith(mocap_lib.GROUNDED_CLIPS_PREFIXES):
                points = pose_lib.place_on_ground(points)
            if rng.random() < 0.5:
                points = pose_lib.mirror(points)
            return name, start, points
        body = sample_body(int(rng.integers(1 << 30)), cfg.seed)
        if cfg.everyday_fraction > 0 and rng.random() < cfg.everyday_fraction:
            points, _ = pose_lib.everyday_clip(rng, body, frames)
            return f"everyday_{self.split}_{clip_index:05d}", 0, points
        points, _ = pose_lib.sample_clip(rng, body, frames)
        return f"proc_{self.split}_{clip_index:05d}", 0, points

    def clip(self, clip_index: int):
        """``(name, first frame, body id, person, posed clip)`` of clip ``clip_index`` (cached)."""
        if self._clip_cache[0] != clip_index:
            rng = np.random.default_rng([self.config.seed, self.split_id, 11, clip_index])
            name, start, points = self.source_points(rng, clip_index)
            body_id = self.body_id(rng)
            person = self.person(body_id)
            posed = self.people.pose(person, points, rng)
            self._clip_cache = (clip_index, (name, start, body_id, person, posed))
        return self._clip_cache[1]

    def render(self, index: int):
        """``(image, labels, frame, camera, gbuffer)`` of example ``index`` (for inspection)."""
        cfg = self.config
        name, start, body_id, person, posed = self.clip(index // cfg.examples_per_clip)
        rng = np.random.default_rng([cfg.seed, self.split_id, index])
        t = int(rng.integers(len(posed.root)))
        frame = self.people.frame(person, posed, t)
        size = cfg.image_size
        camera = crop_camera(rng, frame, size, margin=tuple(cfg.frame_margin),
                             elevated_p=cfg.elevated_p)
        gb = self.people.render(frame, camera)
        floor_z = floor_height(frame)
        feet_px, height_px = shadow_placement(frame, camera, floor_z)
        if isinstance(self.shader, LookShader):
            distance = float(np.linalg.norm(camera.world_to_camera(
                frame.points[pose_lib.P["Pelvis"]])))
            caster = shadows_lib.Caster.from_world(camera, frame.vertices,
                                                   self.people.model.faces)
            others = ()
            # a stream of its own: every other draw is the same with and without bystanders
            brng = np.random.default_rng([cfg.seed, self.split_id, 17, index])
            if cfg.bystander_p > 0 and brng.random() < cfg.bystander_p:
                other = self.bystander(brng, frame, camera, gb)
                others = () if other is None else (other,)
            image = self.shader(gb, camera, rng, feet_px, height_px, floor_z=floor_z,
                                person_distance=distance, caster=caster, bystanders=others)
        else:
            image = self.shader(gb, camera, rng, feet_px, height_px)
        if image.shape != (size, size, 3) or image.dtype != np.uint8:
            raise ValueError(f"shader must return uint8 ({size}, {size}, 3), got "
                             f"{image.dtype} {image.shape}")
        pose_cam_mm = camera.world_to_camera(frame.points[:pose_lib.NUM_JOINTS]) * 1000.0
        labels = render.compute_labels(pose_cam_mm, camera, gb.mask)
        labels.update(sequence=name, frame=start + t, subject=body_id, action=-1)
        return image, labels, frame, camera, gb

    def example(self, index: int) -> Dict:
        """Example ``index``: image (uint8 RGB) + schema labels (+ sequence/frame/subject)."""
        image, labels, _, _, _ = self.render(index)
        return dict(image=image, **labels)


def generate_examples(split: str, num_examples: int, config: RealisticConfig = RealisticConfig(),
                      clips: Optional[Dict[str, np.ndarray]] = None, start: int = 0,
                      people: Optional[people_lib.People] = None,
                      shader: Union[str, Shader] = "look") -> Iterator[Tuple[str, Dict]]:
    """Yield ``(key, example)`` for examples ``start .. start + num_examples - 1`` of ``split``.

    ``clips``: mocap clips (default: :func:`..generate.load_clips` of the config).
    """
    if clips is None:
        clips = load_clips(config)
    gen = RealisticGenerator(config, split, clips, people, shader)
    for i in range(start, start + num_examples):
        yield f"{split}_{i:07d}", gen.example(i)
