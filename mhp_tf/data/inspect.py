r"""Write a grid PNG of input-pipeline samples with joints and skeleton drawn.

    python -m mhp_tf.data.inspect --dataset=synthetic --split=train --out=samples.png
    python -m mhp_tf.data.inspect --dataset=human36m/protocol2+mpii --augment --num=32

Shows exactly what the network receives (after bbox processing, augmentation
and the warp; normalisation undone for display), with the target joints
(heatmap units scaled back to patch pixels); joints with visibility 0 are not
drawn.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import cv2  # noqa: E402

from mhp_tf import visualize  # noqa: E402
from mhp_tf.data import datasets  # noqa: E402
from mhp_tf.data import pipeline  # noqa: E402

FLAGS = flags.FLAGS


def _define_flags():
    flags.DEFINE_string("dataset", "synthetic", "Dataset name (a+b mixes two, a+b+c three).")
    flags.DEFINE_string("split", "train", "Split.")
    flags.DEFINE_string("data_dir", None, "Prepared datasets folder.")
    flags.DEFINE_string("out", "inspect.png", "Output PNG.")
    flags.DEFINE_integer("num", 16, "Number of samples.")
    flags.DEFINE_integer("columns", 4, "Grid columns.")
    flags.DEFINE_bool("augment", True, "Apply training augmentation.")
    flags.DEFINE_string("skeleton", "h36m", "Target skeleton of the pipeline.")
    flags.DEFINE_integer("seed", 0, "Seed.")
    flags.DEFINE_float("occlusion_prob", pipeline.PipelineConfig.occlusion_prob,
                       "Share of samples given the reference's noise-box occluder.")
    flags.DEFINE_float("photometric_prob", 0.0, "Share of samples given the photometric "
                       "augmentation (as data.photometric_prob in training).")
    flags.DEFINE_float("low_res_prob", 0.0, "Share of samples seen as a small person in a "
                       "low-resolution video (as data.low_res_prob in training).")


def render_samples(ds, cfg: pipeline.PipelineConfig, num: int):
    """Patches with their targets drawn, from an unbatched pipeline dataset."""
    tiles = []
    for ex in ds.take(num).as_numpy_iterator():
        image = pipeline.denormalize(ex["image"], cfg.normalization).numpy()
        joints = ex["coords"][:, :2] * (cfg.input_size / cfg.heatmap_size)
        tiles.append(visualize.draw_skeleton_2d(image, joints, cfg.skeleton, ex["vis"]))
    return tiles


def inspect(dataset: str, split: str, out: str, num: int = 16, augment: bool = True,
            data_dir=None, skeleton: str = "h36m", seed: int = 0, columns: int = 4,
            photometric_prob: float = 0.0, low_res_prob: float = 0.0,
            occlusion_prob: float = pipeline.PipelineConfig.occlusion_prob) -> str:
    cfg = pipeline.PipelineConfig(skeleton=skeleton, photometric_prob=photometric_prob,
                                  low_res_prob=low_res_prob, occlusion_prob=occlusion_prob)
    ds = datasets.build_dataset(dataset, split, data_dir, training=augment, config=cfg,
                                seed=seed, training_keys_only=False)
    tiles = render_samples(ds, cfg, num)
    if not tiles:
        raise RuntimeError(f"{dataset}/{split} produced no examples")
    grid = visualize.image_grid(tiles, columns)
    if not cv2.imwrite(out, grid[:, :, ::-1]):
        raise OSError(f"could not write {out}")
    return out


def main(argv):
    del argv
    path = inspect(FLAGS.dataset, FLAGS.split, FLAGS.out, FLAGS.num, FLAGS.augment,
                   FLAGS.data_dir, FLAGS.skeleton, FLAGS.seed, FLAGS.columns,
                   FLAGS.photometric_prob, FLAGS.low_res_prob, FLAGS.occlusion_prob)
    print(f"wrote {path}")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
