r"""Realistic synthetic people next to real ones: one picture to judge the look by eye.

Left: crops of ``synthetic/realistic`` examples (the generator of the tfds config, 256 px,
look stage on) around their label box, with the H36M-18 labels drawn as a skeleton. Right:
crops of people in real frames of ``vtest.avi`` (Debian ``opencv-doc``, BSD-3-Clause /
Apache-2.0; fetched and cached by ``tests/inference_helpers.vtest_avi``), no labels.

Only pixels whose licence allows redistribution with attribution reach the picture: the
background photos are restricted to the asset manifest's ``--licences`` (default CC0-1.0 and
CC-BY-4.0), texture photos are left out (clothing prints and occluders fall back to
procedural ones; the GIMP / Sweet Home 3D textures are GPL), HDRIs (CC0) only light the
people. The attribution lines of the photos that appear are printed.

    python scripts/realistic_side_by_side.py --out=docs/realistic_vs_real.png
"""

import os
import sys

from absl import app
from absl import flags
import cv2
import numpy as np

FLAGS = flags.FLAGS
flags.DEFINE_string("out", "realistic_vs_real.png", "Output PNG.")
flags.DEFINE_integer("num", 12, "Synthetic crops (and at most this many real ones).")
flags.DEFINE_integer("tile", 128, "Tile side (px).")
flags.DEFINE_integer("columns", 4, "Columns per half.")
flags.DEFINE_integer("seed", 0, "Generator seed.")
flags.DEFINE_integer("first", 0, "First test-split index.")
flags.DEFINE_enum("mocap", "auto", ["auto", "true", "false"], "Pose source (GeneratorConfig).")
flags.DEFINE_list("licences", ["CC0-1.0", "CC-BY-4.0"],
                  "Background photo licences allowed into the picture.")
flags.DEFINE_bool("skeleton", True, "Draw the labels on the synthetic crops.")
flags.DEFINE_integer("colours", 0, "Quantise the PNG to this many colours (0: no).")

# (frame, x0, y0, x1, y1): pedestrians in vtest.avi (768x576), boxes picked by eye.
REAL_BOXES = (
    (700, 100, 285, 145, 395), (700, 275, 210, 310, 295), (700, 362, 170, 400, 255),
    (700, 180, 165, 212, 240), (700, 680, 195, 730, 305), (700, 515, 165, 548, 235),
    (400, 270, 198, 305, 288), (400, 685, 298, 745, 412), (400, 588, 140, 620, 205),
    (100, 345, 198, 385, 275), (100, 375, 178, 412, 258), (100, 490, 148, 522, 222),
)


def square_crop(image: np.ndarray, box, side_px: int, grow: float = 1.15):
    """Square crop of ``image`` round ``box`` (x0, y0, x1, y1), grown by ``grow``, padded
    with grey where it leaves the image, resized to ``side_px``; returns the crop and the
    map (scale, x offset, y offset) from image to crop pixels."""
    x0, y0, x1, y1 = box
    side = grow * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = side_px / side
    m = np.array([[scale, 0, side_px / 2 - scale * cx], [0, scale, side_px / 2 - scale * cy]])
    crop = cv2.warpAffine(image, m, (side_px, side_px), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(128, 128, 128))
    return crop, m


def synthetic_tiles(num: int, tile: int):
    from mhp_tf import visualize
    from mhp_tf_datasets.synthetic.realistic import assets as assets_lib
    from mhp_tf_datasets.synthetic.realistic import generate as rgen
    loaded = rgen.scene_assets()
    allowed = set(FLAGS.licences)
    licence = {r["name"]: r for r in loaded.manifest}
    photos = [(n, p) for n, p in loaded.backgrounds if licence[n]["licence"] in allowed]
    if not photos:
        print("no background photo with an allowed licence: procedural backgrounds only")
    kit = assets_lib.Assets(photos, loaded.hdris, [], [licence[n] for n, _ in photos])
    shader = rgen.LookShader(assets=kit)
    mocap = {"auto": "auto", "true": True, "false": False}[FLAGS.mocap]
    gen = rgen.RealisticGenerator(rgen.RealisticConfig(image_size=256, seed=FLAGS.seed,
                                                       mocap=mocap), "test", shader=shader)
    tiles, used = [], set()
    for i in range(FLAGS.first, FLAGS.first + num):
        image, labels, _, _, _ = gen.render(i)
        name = shader.last.background.split(":", 1)[-1]  # "horizon:<photo>" or "<photo>"
        if name != "procedural":
            used.add(name)
        x, y, w, h = labels["bbox"]
        crop, m = square_crop(image, (x, y, x + w, y + h), tile, grow=1.25)
        joints = labels["joints_img"] @ m[:, :2].T + m[:, 2]
        tiles.append(visualize.draw_skeleton_2d(crop, joints, "h36m", labels["joints_vis"])
                     if FLAGS.skeleton else crop)
    credits = [f"{licence[n]['file'].split('/')[-1]}: (c) {licence[n]['copyright']}, "
               f"{licence[n]['licence']} ({licence[n]['package']} {licence[n]['version']}, "
               f"{licence[n]['source']})" for n in sorted(used)]
    return tiles, credits


def real_tiles(num: int, tile: int):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from tests import inference_helpers
    video = inference_helpers.vtest_avi()
    if video is None:
        raise SystemExit(f"vtest.avi unavailable: {inference_helpers.last_error.get('vtest')}")
    cap = cv2.VideoCapture(video)
    tiles = []
    for frame, *box in REAL_BOXES[:num]:
        cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
        ok, bgr = cap.read()
        if not ok:
            raise SystemExit(f"cannot read frame {frame} of {video}")
        tiles.append(square_crop(bgr[..., ::-1], box, tile)[0])
    return tiles


def titled(grid: np.ndarray, title: str) -> np.ndarray:
    bar = np.full((22, grid.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, grid], 0)


def main(argv):
    del argv
    from mhp_tf import visualize
    synth, credits = synthetic_tiles(FLAGS.num, FLAGS.tile)
    real = real_tiles(FLAGS.num, FLAGS.tile)
    left = titled(visualize.image_grid(synth, FLAGS.columns),
                  "synthetic/realistic (test split) + labels")
    right = titled(visualize.image_grid(real, FLAGS.columns), "real: vtest.avi (opencv-doc)")
    h = max(left.shape[0], right.shape[0])
    pad = lambda g: np.pad(g, ((0, h - g.shape[0]), (0, 0), (0, 0)), constant_values=255)  # noqa: E731
    picture = np.concatenate([pad(left), np.full((h, 8, 3), 255, np.uint8), pad(right)], 1)
    if FLAGS.colours:
        from PIL import Image
        Image.fromarray(picture).quantize(FLAGS.colours, dither=Image.Dither.NONE).save(
            FLAGS.out, optimize=True)
    elif not cv2.imwrite(FLAGS.out, picture[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write {FLAGS.out}")
    lines = ["Background photos in the synthetic half:"] + [f"- {c}" for c in credits] + [
        "Real half: vtest.avi from Debian opencv-doc (OpenCV samples data, BSD-3-Clause / "
        "Apache-2.0)."]
    print("\n".join(lines))
    print(f"wrote {FLAGS.out} ({os.path.getsize(FLAGS.out) // 1024} KB)")


if __name__ == "__main__":
    app.run(main)
