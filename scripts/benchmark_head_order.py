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

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import tensorflow as tf  # noqa: E402

import mhp_tf  # noqa: E402
from mhp_tf.modeling import count_flops  # noqa: E402
import bench_utils  # noqa: E402
from bench_utils import l1_train_step  # noqa: E402
from bench_utils import random_batch  # noqa: E402
from bench_utils import time_alternating  # noqa: E402

FLAGS = flags.FLAGS
bench_utils.define_flags(steps=5)
flags.DEFINE_integer("infer_batch_size", 1, "Batch size of the inference timing.")


def _train_step(model, batch_size):
    return l1_train_step(model, random_batch(model.mhp_config, batch_size)), batch_size


def _forward(model, batch_size):
    images = random_batch(model.mhp_config, batch_size, seed=1)["image"]
    fn = tf.function(lambda: model(images, training=False))
    return fn, batch_size


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
        train = time_alternating(
            {k: _train_step(m, FLAGS.batch_size) for k, m in models.items()},
            FLAGS.rounds, FLAGS.steps)
        infer = time_alternating(
            {k: _forward(m, FLAGS.infer_batch_size) for k, m in models.items()},
            FLAGS.rounds, FLAGS.steps)
        for order, model in models.items():
            name = "head before upsample" if order else "reference"
            print(f"{variant:8s}{name:>22s}{count_flops(model).conv_macs / 1e9:12.4f}"
                  f"{train[order]:13.1f}{infer[order]:13.1f}")
        print(f"{variant:8s}{'ratio':>22s}{'':12s}{train[True] / train[False]:12.2f}x"
              f"{infer[True] / infer[False]:12.2f}x")


if __name__ == "__main__":
    app.run(main)
