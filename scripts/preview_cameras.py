"""A picture of realistic synthetic frames seen by elevated cameras (the cameras of
``synthetic/realistic_high``), with the labels drawn: ordinary cameras (top row) and cameras
2.5-8 m up, looking down (bottom row).

    python scripts/preview_cameras.py --out=docs/elevated_cameras.jpg

Procedural poses (no mocap download), the ``synthetic/realistic`` config's framing and look;
each column is one example index of the train split rendered twice, with ``elevated_p`` 0
and 1 (the other draws differ, as the camera draws come first).
"""

import dataclasses

from absl import app
from absl import flags
import cv2
import numpy as np

from mhp_tf import visualize

flags.DEFINE_string("out", "/tmp/elevated_cameras.jpg", "Output picture (.jpg or .png).")
flags.DEFINE_integer("columns", 5, "Examples shown.")
flags.DEFINE_integer("first", 40, "First example index of the train split.")
flags.DEFINE_float("scale", 0.6, "Scale of the written picture (tiles are 320 px).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from mhp_tf_datasets.synthetic import builder
    from mhp_tf_datasets.synthetic import generate
    named = {c.name: c for c in builder.Synthetic.BUILDER_CONFIGS}
    base = dataclasses.replace(named["realistic"].generator_config(), mocap=False,
                               procedural_fraction=1.0, bystander_p=0.0)
    rows = []
    for p in (0.0, 1.0):
        gen = generate.make_generator(dataclasses.replace(base, elevated_p=p), "train",
                                      family="realistic")
        tiles = []
        for i in range(FLAGS.first, FLAGS.first + FLAGS.columns * 8, 8):  # one per clip
            ex = gen.example(i)
            tiles.append(visualize.draw_skeleton_2d(ex["image"], ex["joints_img"], "h36m",
                                                    ex["joints_vis"]))
        rows.append(visualize.image_grid(tiles, FLAGS.columns))
    grid = np.concatenate(rows, 0)
    if FLAGS.scale != 1:
        grid = cv2.resize(grid, None, fx=FLAGS.scale, fy=FLAGS.scale,
                          interpolation=cv2.INTER_AREA)
    params = [cv2.IMWRITE_JPEG_QUALITY, 88] if FLAGS.out.endswith(".jpg") else []
    if not cv2.imwrite(FLAGS.out, grid[:, :, ::-1], params):
        raise SystemExit(f"could not write {FLAGS.out}")
    print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
    app.run(main)
