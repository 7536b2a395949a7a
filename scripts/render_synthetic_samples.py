r"""Render synthetic examples into one PNG grid with their 2D skeletons, boxes and depths.

Each tile shows an example of the synthetic dataset (mhp_tf_datasets.synthetic) with the
labelled H36M-18 skeleton drawn from ``joints_img`` (left limbs blue, right limbs red,
spine green), the ``bbox`` in yellow and a caption ``sequence:frame  Z=<root depth> m``.
The script also reports the rendering speed (images/s, one process).

    python scripts/render_synthetic_samples.py                          # 16 samples, 256 px
    python scripts/render_synthetic_samples.py --mocap=false --out=/tmp/proc.png
    python scripts/render_synthetic_samples.py --split=test --num=32 --cols=8 --nolabels
    python scripts/render_synthetic_samples.py --family=realistic --out=/tmp/realistic.png

``--family=realistic`` renders the skinned MakeHuman people of
``mhp_tf_datasets.synthetic.realistic`` (the look stage), and draws the joints the render
hides (behind the body, an occluder or another person: ``joints.seen_in_render``) as open
circles; every joint inside the image keeps its label (``joints_vis``).
"""

import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from mhp_tf import skeletons  # noqa: E402
from mhp_tf_datasets.synthetic import generate  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("out", "synthetic_samples.png", "Output PNG path.")
flags.DEFINE_integer("num", 16, "Number of examples.", lower_bound=1)
flags.DEFINE_integer("cols", 4, "Tiles per row.", lower_bound=1)
flags.DEFINE_integer("size", 256, "Image size in pixels.", lower_bound=32)
flags.DEFINE_integer("seed", 0, "Dataset seed.")
flags.DEFINE_integer("start", 0, "Index of the first example.", lower_bound=0)
flags.DEFINE_enum("split", "train", ["train", "test"], "Split to sample.")
flags.DEFINE_enum("mocap", "auto", ["auto", "true", "false"],
                  "Pose source: mocap if obtainable (auto), required (true) or never (false).")
flags.DEFINE_float("procedural_fraction", 0.3, "Share of procedural poses when using mocap.")
flags.DEFINE_bool("labels", True, "Draw skeleton, box and caption.")
flags.DEFINE_enum("family", "capsule", ["capsule", "realistic"],
                  "Synthetic family: capsule bodies or skinned MakeHuman people.")


def draw_labels(image_rgb: np.ndarray, example: dict) -> np.ndarray:
    """BGR copy of the image with the skeleton, box and caption drawn on it."""
    img = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    sk = skeletons.H36M
    uv = example["joints_img"]
    vis = example["joints_vis"] > 0
    for a, b in sk.bones:
        if not (vis[a] and vis[b]):
            continue
        name = sk.joints[b]
        colour = (255, 90, 0) if name.startswith("L_") else (
            (0, 0, 255) if name.startswith("R_") else (0, 200, 0))
        pa = tuple(int(round(x)) for x in uv[a])
        pb = tuple(int(round(x)) for x in uv[b])
        cv2.line(img, pa, pb, colour, 1, cv2.LINE_AA)
    seen = example.get("seen", vis)
    for j in np.flatnonzero(vis):  # seen joints filled, hidden ones open
        cv2.circle(img, tuple(int(round(x)) for x in uv[j]), 2, (255, 255, 255),
                   -1 if seen[j] else 1, cv2.LINE_AA)
    x, y, w, h = example["bbox"]
    cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), (0, 220, 255), 1)
    caption = f"{example['sequence']}:{example['frame']} Z={example['root_cam'][2] / 1000:.1f}m"
    cv2.putText(img, caption, (3, img.shape[0] - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(img, caption, (3, img.shape[0] - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                (255, 255, 255), 1, cv2.LINE_AA)
    return img


def _realistic_example(gen, index: int) -> dict:
    """Example ``index`` of a realistic generator plus ``seen``: the joints its render shows."""
    from mhp_tf_datasets.synthetic.realistic import joints
    image, labels, _, camera, gb = gen.render(index)
    last = getattr(gen.shader, "last", None)
    coverage = None if last is None else last.person_alpha
    seen = joints.seen_in_render(labels["joints_cam"] / 1000.0, gb.depth, camera, coverage)
    return dict(image=image, seen=seen, **labels)


def main(argv):
    del argv
    mocap = {"auto": "auto", "true": True, "false": False}[FLAGS.mocap]
    config = generate.GeneratorConfig(image_size=FLAGS.size, seed=FLAGS.seed, mocap=mocap,
                                      procedural_fraction=FLAGS.procedural_fraction)
    clips = generate.load_clips(config)
    print(f"pose source: {'mocap + procedural' if clips else 'procedural only'}")
    if FLAGS.family == "realistic":
        from mhp_tf_datasets.synthetic.realistic import generate as realistic_generate
        rconfig = realistic_generate.RealisticConfig(
            image_size=FLAGS.size, seed=FLAGS.seed, mocap=mocap,
            procedural_fraction=FLAGS.procedural_fraction)
        gen = realistic_generate.RealisticGenerator(rconfig, FLAGS.split, clips)
        gen.example(FLAGS.start)  # load the body model before timing
    else:
        gen = generate.ExampleGenerator(config, FLAGS.split, clips)
    tiles = []
    start = time.perf_counter()
    if FLAGS.family == "realistic":
        examples = [_realistic_example(gen, i)
                    for i in range(FLAGS.start, FLAGS.start + FLAGS.num)]
    else:
        examples = [gen.example(i) for i in range(FLAGS.start, FLAGS.start + FLAGS.num)]
    elapsed = time.perf_counter() - start
    print(f"rendered {FLAGS.num} images of {FLAGS.size}x{FLAGS.size} in {elapsed:.2f} s "
          f"({FLAGS.num / elapsed:.1f} images/s)")
    for ex in examples:
        tiles.append(draw_labels(ex["image"], ex) if FLAGS.labels
                     else cv2.cvtColor(ex["image"], cv2.COLOR_RGB2BGR))
    cols = min(FLAGS.cols, len(tiles))
    rows = -(-len(tiles) // cols)
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (rows * cols - len(tiles))
    grid = np.concatenate([np.concatenate(tiles[r * cols:(r + 1) * cols], 1)
                           for r in range(rows)], 0)
    if not cv2.imwrite(FLAGS.out, grid):
        print(f"could not write {FLAGS.out}", file=sys.stderr)
        return 1
    print(f"wrote {FLAGS.out}")
    return 0


if __name__ == "__main__":
    app.run(main)
