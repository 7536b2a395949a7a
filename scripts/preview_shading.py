"""Before/after pictures of one shading effect of the realistic look.

Renders people of the ``synthetic/realistic`` train split through :func:`compose.render`
twice with the same seed -- without and with the effect -- and writes rows of (without,
with, difference x3) crops round the person. Effects:

* ``self_shadow`` (builder 1.6.0): the posed mesh as shadow caster (:mod:`.shadows`);
* ``folds`` (builder 1.7.0): cloth fold relief (:mod:`.folds`), both renders self-shadowed.
* ``bystanders`` (builder 1.7.0): another person partly in view
  (:meth:`.generate.RealisticGenerator.bystander`); whole frames instead of crops.

Only the CC0 HDRIs of the scene assets are used (procedural backdrops, no photos or
textures), so the pictures can be committed. Frames are taken in index order, skipping those
where the effect changes too few pixels visibly (for self-shadowing: an even light, or the
key behind the person).

    python scripts/preview_shading.py --effect=self_shadow --out=docs/self_shadow.jpg
    python scripts/preview_shading.py --effect=folds --rows=2 --scale=0.8 --min_changed=1000 \
        --out=docs/cloth_folds.jpg
    python scripts/preview_shading.py --effect=bystanders --rows=2 --scale=0.6 \
        --min_changed=2000 --out=docs/bystanders.jpg
"""

import os

from absl import app
from absl import flags
import cv2
import numpy as np

from mhp_tf_datasets.synthetic.realistic import assets as assets_lib
from mhp_tf_datasets.synthetic.realistic import compose
from mhp_tf_datasets.synthetic.realistic import generate
from mhp_tf_datasets.synthetic.realistic import shadows

FLAGS = flags.FLAGS
flags.DEFINE_enum("effect", "self_shadow", ["self_shadow", "folds", "bystanders"],
                  "What to show.")
flags.DEFINE_string("out", "/tmp/shading.jpg", "Output picture (.jpg: quality 88, or .png).")
flags.DEFINE_integer("rows", 3, "People shown (two per row).")
flags.DEFINE_integer("size", 320, "Render size in pixels (the realistic configs' 320).")
flags.DEFINE_integer("min_changed", 300, "Skip frames where fewer pixels change visibly.")
flags.DEFINE_float("scale", 0.5, "Scale of the written picture (tiles are 440 px tall).")


def crop(image, centre, half_h, half_w, out_hw):
    pad = ((half_h, half_h), (half_w, half_w), (0, 0))
    y, x = int(centre[0]) + half_h, int(centre[1]) + half_w
    window = np.pad(image, pad)[y - half_h:y + half_h, x - half_w:x + half_w]
    return cv2.resize(window, out_hw[::-1], interpolation=cv2.INTER_LINEAR)


def main(argv):
    del argv
    loaded = generate.scene_assets()
    if not loaded.hdris:
        raise SystemExit("no HDRIs could be had (python -m "
                         "mhp_tf_datasets.synthetic.realistic.assets fetches them)")
    hdri_only = assets_lib.Assets(backgrounds=[], hdris=loaded.hdris, textures=[], manifest=[])
    cfg = generate.RealisticConfig(image_size=FLAGS.size, mocap=False,
                                   frame_margin=(1.5, 1.56))
    gen = generate.RealisticGenerator(cfg, "train", clips={}, shader="placeholder")
    tiles, index = [], 0
    while len(tiles) < 2 * FLAGS.rows and index < 400:
        _, _, frame, cam, gb = gen.render(index)
        index += 7
        feet, height_px = generate.shadow_placement(frame, cam)
        caster = shadows.Caster.from_world(cam, frame.vertices, gen.people.model.faces)
        kw = dict(assets=hdri_only, feet_px=feet, person_height_px=height_px, camera=cam,
                  floor_z=generate.floor_height(frame), occluder_p=0.0)
        if FLAGS.effect == "self_shadow":
            without, with_ = dict(cloth_folds=False), dict(caster=caster, cloth_folds=False)
        elif FLAGS.effect == "folds":
            without, with_ = dict(caster=caster, cloth_folds=False), dict(caster=caster)
        else:
            other = gen.bystander(np.random.default_rng([5, index]), frame, cam, gb)
            if other is None:
                continue
            without, with_ = dict(caster=caster), dict(caster=caster, bystanders=[other])
        plain = compose.render(gb, np.random.SeedSequence([5, index]), **kw, **without)
        shaded = compose.render(gb, np.random.SeedSequence([5, index]), **kw, **with_)
        diff = np.abs(plain.image.astype(np.int32) - shaded.image.astype(np.int32)).sum(-1)
        if (diff > 30).sum() < FLAGS.min_changed:
            continue
        ys, xs = np.nonzero(gb.mask)
        centre = ((ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2)
        half_h = int(0.55 * (ys.max() - ys.min() + 1)) + 4
        half_w = int(half_h * 0.7)
        out_hw = (440, 308)
        if FLAGS.effect == "bystanders":  # the whole frame: neighbours sit at its edges
            centre, half_h, half_w, out_hw = (FLAGS.size / 2,) * 2, FLAGS.size // 2, \
                FLAGS.size // 2, (440, 440)
        d = np.repeat(np.clip(diff * 3, 0, 255).astype(np.uint8)[..., None], 3, -1)
        tiles.append(np.concatenate([crop(im, centre, half_h, half_w, out_hw)
                                     for im in (plain.image, shaded.image, d)], 1))
        print(f"frame {index - 7}: light {shaded.light}, {shaded.look}, "
              f"{int((diff > 30).sum())} px changed")
    if len(tiles) % 2:
        tiles.append(np.zeros_like(tiles[0]))
    gap = np.full((tiles[0].shape[0], 12, 3), 255, np.uint8)
    rows = [np.concatenate([tiles[i], gap, tiles[i + 1]], 1) for i in range(0, len(tiles), 2)]
    grid = np.concatenate(rows, 0)
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 88] if FLAGS.out.lower().endswith((".jpg", ".jpeg")) else []
    size = (round(grid.shape[1] * FLAGS.scale), round(grid.shape[0] * FLAGS.scale))
    cv2.imwrite(FLAGS.out, cv2.resize(grid, size, interpolation=cv2.INTER_AREA)[..., ::-1],
                params)
    print(f"wrote {FLAGS.out} ({len(tiles)} people: without, with {FLAGS.effect}, "
          "|difference| x3)")


if __name__ == "__main__":
    app.run(main)
