r"""Input-pipeline throughput: mhp_tf's tf.data pipeline vs a per-sample OpenCV loop.

Both decode the same 1000x1000 JPEGs (held in memory), process the box, apply
the reference augmentation (occlusion, scale, rotation, flip, colour), warp to
256x256, build targets and normalise. The OpenCV loop is the reference's method
(one sample at a time: imdecode full image, numpy occlusion, flip the image,
cv2.warpAffine). Figures are measured side by side in one run:

* tf.data with 1 thread vs the OpenCV loop in 1 process (per-core comparison);
* tf.data with all cores (what training gets);
* an XS training step at the same batch size, to show whether the input
  pipeline can keep up.

    python scripts/benchmark_input.py
    python scripts/benchmark_input.py --images=128 --batch_size=32 --seconds=20
"""

import math
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mhp_tf  # noqa: E402
from mhp_tf import skeletons  # noqa: E402
from mhp_tf.data import pipeline  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("images", 64, "Distinct fixture JPEGs (cycled).")
flags.DEFINE_integer("image_size", 1000, "Fixture image side (px).")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_float("seconds", 15.0, "Approximate time per measurement.")
flags.DEFINE_bool("train_step", True, "Also time an XS training step.")


def make_fixture(n: int, size: int, seed: int = 0):
    """JPEG bytes of textured images with a person-sized box and random joints."""
    rng = np.random.default_rng(seed)
    jpegs, records = [], []
    for _ in range(n):
        small = rng.integers(0, 255, (size // 16, size // 16, 3), dtype=np.uint8)
        image = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
        cv2.circle(image, (size // 2, size // 3), size // 10, (200, 150, 120), -1)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        jpegs.append(jpeg.tobytes())
        w, h = rng.uniform(0.2, 0.4) * size, rng.uniform(0.5, 0.8) * size
        x, y = rng.uniform(0, size - w), rng.uniform(0, size - h)
        joints = np.stack([rng.uniform(x, x + w, 18), rng.uniform(y, y + h, 18)], -1)
        cam = np.concatenate([rng.normal(0, 300, (18, 2)), 4000 + rng.normal(0, 200, (18, 1))], 1)
        records.append(dict(bbox=np.float32([x, y, w, h]), joints_img=joints.astype(np.float32),
                            joints_cam=cam.astype(np.float32), joints_vis=np.ones(18, np.float32),
                            have_depth=np.float32(1), focal=np.float32([1000, 1000]),
                            principal_point=np.float32([size / 2, size / 2]),
                            root_cam=cam[0].astype(np.float32)))
    return jpegs, records


# ------------------------------------------------------------------ the reference's method


def _bbox(bbox, width, height):
    x, y, w, h = bbox
    x1, y1 = max(0, x), max(0, y)
    x2 = min(width - 1, x1 + max(0, w - 1))
    y2 = min(height - 1, y1 + max(0, h - 1))
    w, h = x2 - x1, y2 - y1
    cx, cy = x1 + w / 2, y1 + h / 2
    side = max(w, h) * 1.25
    return np.array([cx - side / 2, cy - side / 2, side, side])


def opencv_sample(jpeg: bytes, rec: dict, rng: np.random.Generator, cfg: pipeline.PipelineConfig,
                  flip_perm: np.ndarray):
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    height, width = img.shape[:2]
    bbox = _bbox(rec["bbox"], width, height)
    scale = 1 + cfg.scale_factor * np.clip(rng.standard_normal(), -1, 1)
    rot = cfg.rotation_factor * np.clip(rng.standard_normal(), -2, 2) if rng.random() <= 0.6 else 0
    flip = rng.random() <= 0.5
    colour = rng.uniform(0.8, 1.2, 3)
    if rng.random() <= 0.5:
        for _ in range(cfg.occlusion_tries):
            area = rng.random() * 0.7 * bbox[2] * bbox[3]
            ratio = rng.random() * (1 / 0.3 - 0.3) + 0.3
            oh, ow = math.sqrt(area * ratio), math.sqrt(area / ratio)
            ox = rng.random() * (bbox[2] - ow - 1) + bbox[0]
            oy = rng.random() * (bbox[3] - oh - 1) + bbox[1]
            if ox >= 0 and oy >= 0 and ox + ow < width and oy + oh < height:
                ox, oy, ow, oh = int(ox), int(oy), int(ow), int(oh)
                img[oy:oy + oh, ox:ox + ow] = rng.random((oh, ow, 3)) * 255
                break
    cx, cy = bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2
    joints = rec["joints_img"].copy()
    vis = rec["joints_vis"].copy()
    if flip:
        img = img[:, ::-1]
        cx = width - cx - 1
        joints[:, 0] = width - joints[:, 0] - 1
        joints, vis = joints[flip_perm], vis[flip_perm]
    size = cfg.input_size
    a = math.radians(rot)
    src = np.float32([[cx, cy], [cx - math.sin(a) * bbox[3] * scale / 2,
                                 cy + math.cos(a) * bbox[3] * scale / 2],
                      [cx + math.cos(a) * bbox[2] * scale / 2, cy + math.sin(a) * bbox[2] * scale / 2]])
    dst = np.float32([[size / 2, size / 2], [size / 2, size], [size, size / 2]])
    trans = cv2.getAffineTransform(src, dst)
    patch = cv2.warpAffine(img, trans, (size, size), flags=cv2.INTER_LINEAR)
    patch = patch[:, :, ::-1].astype(np.float32)
    patch = np.clip(patch * colour, 0, 255)
    patch = (patch - np.float32(pipeline.PIXEL_MEAN)) / np.float32(pipeline.PIXEL_STD)
    uv = joints @ trans[:, :2].T + trans[:, 2]
    z = rec["joints_cam"][:, 2] - rec["joints_cam"][0, 2]
    z = (z / 1000 + 1) / 2
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < size) & (uv[:, 1] >= 0) & (uv[:, 1] < size)
    coords = np.concatenate([uv * cfg.heatmap_size / size, z[:, None] * cfg.depth_bins], 1)
    return patch, coords, vis * inside


def time_opencv(jpegs, records, cfg, seconds: float) -> float:
    rng = np.random.default_rng(0)
    perm = skeletons.H36M.flip_permutation()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        i = count % len(jpegs)
        opencv_sample(jpegs[i], records[i], rng, cfg, perm)
        count += 1
    return count / (time.perf_counter() - start)


def time_tfdata(jpegs, records, cfg, batch_size: int, threads: int, seconds: float) -> float:
    data = {k: np.stack([r[k] for r in records]) for k in records[0]}
    data["image"] = np.array(jpegs, dtype=object)
    ds = tf.data.Dataset.from_tensor_slices(data).repeat()
    ds = pipeline.map_examples(ds, cfg, True, "h36m", seed=0)
    ds = ds.map(lambda ex: {k: ex[k] for k in pipeline.TRAINING_KEYS})
    ds = ds.batch(batch_size, drop_remainder=True).prefetch(2)
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    options.threading.max_intra_op_parallelism = 1
    ds = ds.with_options(options)
    it = iter(ds)
    next(it)  # tracing and warm-up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(it)
        count += batch_size
    return count / (time.perf_counter() - start)


def time_train_step(batch_size: int, seconds: float) -> float:
    model = mhp_tf.build_model("xs")
    opt = tf.keras.optimizers.Adam(1e-3)
    x = tf.random.uniform([batch_size, 256, 256, 3])
    y = tf.random.uniform([batch_size, 18, 3], 0, 31)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(model(x, training=True) - y))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))
        return loss

    step().numpy()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or count < 2:
        step().numpy()
        count += batch_size
    return count / (time.perf_counter() - start)


def main(argv):
    del argv
    cores = os.cpu_count()
    cfg = pipeline.PipelineConfig(heatmap_size=32, depth_bins=32)
    jpegs, records = make_fixture(FLAGS.images, FLAGS.image_size)
    print(f"{FLAGS.images} fixture JPEGs {FLAGS.image_size}x{FLAGS.image_size}, output 256x256, "
          f"batch {FLAGS.batch_size}, {cores} CPU cores, ~{FLAGS.seconds:g} s per measurement",
          flush=True)
    ocv = time_opencv(jpegs, records, cfg, FLAGS.seconds)
    tf1 = time_tfdata(jpegs, records, cfg, FLAGS.batch_size, 1, FLAGS.seconds)
    tfn = time_tfdata(jpegs, records, cfg, FLAGS.batch_size, cores, FLAGS.seconds)
    rows = [("OpenCV per-sample loop (reference method), 1 process", ocv),
            ("mhp_tf tf.data, 1 thread", tf1),
            (f"mhp_tf tf.data, {cores} threads", tfn)]
    if FLAGS.train_step:
        rows.append((f"XS training step (batch {FLAGS.batch_size}, {cores} threads)",
                     time_train_step(FLAGS.batch_size, FLAGS.seconds)))
    width = max(len(r[0]) for r in rows)
    print(f"{'loop':<{width}}  images/s")
    for name, rate in rows:
        print(f"{name:<{width}}  {rate:8.1f}")
    print(f"tf.data / OpenCV per core: {tf1 / ocv:.2f}x")
    if FLAGS.train_step:
        print(f"tf.data ({cores} threads) / XS training step: {tfn / rows[-1][1]:.2f}x "
              f"(> 1 means the input pipeline keeps up)")


if __name__ == "__main__":
    app.run(main)
