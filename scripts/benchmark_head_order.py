r"""Side-by-side speed of the two head orders (``model.head_before_upsample``).

The reference applies the 1x1 head conv after the last decoder upsample; with
``head_before_upsample=True`` it runs before it, on a quarter of the pixels, and
computes the same function (``tests/test_modeling.py``). This script times both
graphs of each variant in one process, alternating rounds so machine noise hits
both alike, and prints training and inference throughput and their ratio:

    python scripts/benchmark_head_order.py                            # XS at 128 (quickstart)
    python scripts/benchmark_head_order.py --variants=xs,s,l --input_size=256 --batch_size=8

Training step: forward + L1 coordinate loss + backward + Adam, a ``tf.function`` on
random data (no input pipeline). Inference: forward pass in inference mode.
"""

import os
import platform
import statistics
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mhp_tf  # noqa: E402
from mhp_tf.modeling import count_flops  # noqa: E402
from mhp_tf.training.losses import coord_l1_loss  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("variants", ["xs"], "Presets to benchmark.")
flags.DEFINE_integer("input_size", 128, "Input size.")
flags.DEFINE_integer("batch_size", 64, "Batch size of the training step.")
flags.DEFINE_integer("infer_batch_size", 1, "Batch size of the inference timing.")
flags.DEFINE_integer("rounds", 5, "Alternating timing rounds (median reported).",
                     lower_bound=1)
flags.DEFINE_integer("steps", 5, "Calls per round.", lower_bound=1)
flags.DEFINE_integer("num_joints", 18, "Number of joints.")


def _train_step(model, batch_size):
    cfg = model.mhp_config
    optimizer = tf.keras.optimizers.Adam(1e-4)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-2, 2, (batch_size, cfg.input_size, cfg.input_size, 3))
                         .astype(np.float32))
    coords = tf.constant(rng.uniform(0, cfg.heatmap_size, (batch_size, cfg.num_joints, 3))
                         .astype(np.float32))
    vis = tf.ones([batch_size, cfg.num_joints])
    have_depth = tf.ones([batch_size])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            pred = model(images, training=True)
            loss = tf.reduce_mean(coord_l1_loss(pred, coords, vis, have_depth))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step, batch_size


def _forward(model, batch_size):
    size = model.mhp_config.input_size
    images = tf.constant(np.random.default_rng(1).uniform(-2, 2, (batch_size, size, size, 3))
                         .astype(np.float32))
    fn = tf.function(lambda: model(images, training=False))
    return fn, batch_size


def _time(calls, rounds, steps):
    """``{key: images/s}``: median over ``rounds`` alternating rounds of ``steps`` calls."""
    for fn, _ in calls.values():  # trace and warm up
        for _ in range(2):
            fn().numpy()
    rates = {key: [] for key in calls}
    for _ in range(rounds):
        for key, (fn, batch) in calls.items():
            start = time.perf_counter()
            for _ in range(steps):
                fn().numpy()
            rates[key].append(steps * batch / (time.perf_counter() - start))
    return {key: statistics.median(v) for key, v in rates.items()}


def main(argv):
    del argv
    print(f"mhp_tf {mhp_tf.__version__}, TensorFlow {tf.__version__}, "
          f"{platform.machine()} CPU x{os.cpu_count()}; input {FLAGS.input_size}, training "
          f"batch {FLAGS.batch_size}, inference batch {FLAGS.infer_batch_size}; median of "
          f"{FLAGS.rounds} alternating rounds of {FLAGS.steps} calls")
    header = (f"{'variant':8s}{'head order':>22s}{'conv GMACs':>12s}{'train img/s':>13s}"
              f"{'infer img/s':>13s}")
    print(header)
    print("-" * len(header))
    for variant in FLAGS.variants:
        models = {order: mhp_tf.build_model(variant, FLAGS.num_joints,
                                            input_size=FLAGS.input_size,
                                            head_before_upsample=order)
                  for order in (False, True)}
        train = _time({k: _train_step(m, FLAGS.batch_size) for k, m in models.items()},
                      FLAGS.rounds, FLAGS.steps)
        infer = _time({k: _forward(m, FLAGS.infer_batch_size) for k, m in models.items()},
                      FLAGS.rounds, FLAGS.steps)
        for order, model in models.items():
            name = "head before upsample" if order else "reference"
            print(f"{variant:8s}{name:>22s}{count_flops(model).conv_macs / 1e9:12.4f}"
                  f"{train[order]:13.1f}{infer[order]:13.1f}")
        print(f"{variant:8s}{'ratio':>22s}{'':12s}{train[True] / train[False]:12.2f}x"
              f"{infer[True] / infer[False]:12.2f}x")


if __name__ == "__main__":
    app.run(main)
