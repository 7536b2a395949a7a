"""Example stream of the realistic synthetic family (geometry complete, look a placeholder).

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
3. the G-buffer (:mod:`.rasterizer`) goes to a *shader* ``shader(gbuffer, camera, rng) ->
   uint8 (H, W, 3) RGB``. The default, :func:`placeholder_shader`, is a flat grey Lambert
   body over a procedural backdrop (:func:`..scene.backdrop`), to be replaced by the
   appearance/lighting/compositing stage. Labels never come from the shader.

Labels (:func:`..render.compute_labels`): the 18 H36M joints of :mod:`.joints` in the camera
frame (mm), their projections, visibility = inside the image, the box around the silhouette
and the joints.
"""

from typing import Callable, Dict, Iterator, Optional, Tuple

import cv2
import numpy as np

from mhp_tf_datasets.synthetic import mocap as mocap_lib
from mhp_tf_datasets.synthetic import pose as pose_lib
from mhp_tf_datasets.synthetic import render
from mhp_tf_datasets.synthetic import scene
from mhp_tf_datasets.synthetic.body import sample_body
from mhp_tf_datasets.synthetic.generate import ExampleGenerator
from mhp_tf_datasets.synthetic.generate import GeneratorConfig
from mhp_tf_datasets.synthetic.generate import load_clips
from mhp_tf_datasets.synthetic.realistic import gbuffer as gbuffer_lib
from mhp_tf_datasets.synthetic.realistic import people as people_lib

Shader = Callable[[gbuffer_lib.GBuffer, scene.Camera, np.random.Generator], np.ndarray]


# The capsule family's config serves as is: resolution, seed, pose source (``mocap``: False,
# True or "auto"), clip length, examples per clip and the body pools.
RealisticConfig = GeneratorConfig


def placeholder_shader(gb: gbuffer_lib.GBuffer, camera: scene.Camera,
                       rng: np.random.Generator) -> np.ndarray:
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


class RealisticGenerator(ExampleGenerator):
    """Renders the examples of one split; ``example(i)`` is independent of any other index.

    Shares the capsule generator's split, clip list and body-id pools; replaces the body,
    the posing and the rendering.
    """

    def __init__(self, config: RealisticConfig, split: str,
                 clips: Optional[Dict[str, np.ndarray]] = None,
                 people: Optional[people_lib.People] = None,
                 shader: Shader = placeholder_shader):
        super().__init__(config, split, clips)
        self.people = people if people is not None else people_lib.People(
            download=config.download)
        self.shader = shader
        self._persons: Dict[int, people_lib.Person] = {}
        self._clip_cache: Tuple[int, tuple] = (-1, None)

    def person(self, body_id: int) -> people_lib.Person:
        if body_id not in self._persons:
            if len(self._persons) >= 32:
                self._persons.clear()
            rng = np.random.default_rng([self.config.seed, 13, body_id])
            shape = self.people.model.sample_shape(rng)
            self._persons[body_id] = self.people.person(shape)
        return self._persons[body_id]

    def source_points(self, rng: np.random.Generator, clip_index: int):
        """``(name, first frame, points (T, 20, 3))`` of clip ``clip_index``."""
        cfg = self.config
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
        points, _ = pose_lib.sample_clip(rng, body, cfg.frames_per_clip)
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
        camera = scene.sample_camera(rng, frame.points, size, size)
        gb = self.people.render(frame, camera)
        image = self.shader(gb, camera, rng)
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
                      people: Optional[people_lib.People] = None
                      ) -> Iterator[Tuple[str, Dict]]:
    """Yield ``(key, example)`` for examples ``start .. start + num_examples - 1`` of ``split``.

    ``clips``: mocap clips (default: :func:`..generate.load_clips` of the config).
    """
    if clips is None:
        clips = load_clips(config)
    gen = RealisticGenerator(config, split, clips, people)
    for i in range(start, start + num_examples):
        yield f"{split}_{i:07d}", gen.example(i)
