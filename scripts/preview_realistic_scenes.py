r"""Preview the look stage of the realistic synthetic set on the analytic capsule figure.

Renders ``--num`` images of :func:`mhp_tf_datasets.synthetic.realistic.demo.render_figure`
(random pose and turn) through :func:`~mhp_tf_datasets.synthetic.realistic.compose.render`
(background photo, HDRI light, skin/clothes/hair, contact shadow, occluders, camera effects)
into one PNG grid, and prints the mean time per image of each stage in milliseconds.

    python scripts/preview_realistic_scenes.py --out=/tmp/scenes.png
    python scripts/preview_realistic_scenes.py --num=32 --size=256 --out=/tmp/s.png --nocaptions
    python scripts/preview_realistic_scenes.py --assets=false   # procedural fallback only
"""

import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from mhp_tf_datasets.synthetic.realistic import assets as assets_lib  # noqa: E402
from mhp_tf_datasets.synthetic.realistic import compose  # noqa: E402
from mhp_tf_datasets.synthetic.realistic import demo  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("out", "realistic_scenes.png", "Output PNG path.")
flags.DEFINE_integer("num", 12, "Number of images.", lower_bound=1)
flags.DEFINE_integer("cols", 6, "Tiles per row.", lower_bound=1)
flags.DEFINE_integer("size", 256, "Image height in pixels (width = 3/4 of it).", lower_bound=32)
flags.DEFINE_integer("seed", 0, "Seed of the first image (image i uses seed + i).")
flags.DEFINE_integer("supersample", 1, "Ray cast the figure at this multiple of the size.",
                     lower_bound=1)
flags.DEFINE_bool("assets", True, "Use (and fetch) the Debian assets; false: procedural only.")
flags.DEFINE_bool("captions", True, "Write the background/light names under each tile.")


def main(argv):
    del argv
    assets = (assets_lib.load_assets(download=True) if FLAGS.assets else compose.EMPTY_ASSETS)
    h, w = FLAGS.size, FLAGS.size * 3 // 4 // 4 * 4
    k = FLAGS.supersample
    tiles, totals, geometry_ms = [], {}, 0.0
    for i in range(FLAGS.num):
        rng = np.random.default_rng(10_000 + FLAGS.seed + i)
        t0 = time.perf_counter()
        fig = demo.render_figure(h * k, w * k, yaw=rng.uniform(-np.pi, np.pi), rng=rng,
                                 distance=rng.uniform(3.0, 6.0), fill=rng.uniform(0.6, 0.9),
                                 offset_px=(rng.uniform(-0.1, 0.1) * w * k,
                                            rng.uniform(-0.05, 0.05) * h * k))
        geometry_ms += 1000 * (time.perf_counter() - t0)
        out = compose.render(fig.gbuffer, FLAGS.seed + i, assets, fig.feet_px, fig.height_px,
                             supersample=k)
        for name, ms in out.timings_ms.items():
            totals[name] = totals.get(name, 0.0) + ms
        tile = out.image[..., ::-1].copy()
        if FLAGS.captions:
            tile = np.concatenate([tile, np.full((28, w, 3), 255, np.uint8)], 0)
            for row, text in enumerate((out.background[:30], out.light[:30])):
                cv2.putText(tile, text, (2, h + 11 + 12 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                            (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    while len(tiles) % FLAGS.cols:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.concatenate(tiles[i:i + FLAGS.cols], 1) for i in range(0, len(tiles), FLAGS.cols)]
    cv2.imwrite(FLAGS.out, np.concatenate(rows, 0))
    n = FLAGS.num
    print(f"{n} images of {h}x{w} px (supersample {k}); mean ms per image:")
    print(f"  figure ray cast (demo geometry): {geometry_ms / n:.1f}")
    for name in compose.STAGES:
        print(f"  {name:12s} {totals.get(name, 0.0) / n:.1f}")
    print(f"  total (look stages): {sum(totals.values()) / n:.1f}")
    print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
    app.run(main)
