r"""Training-step speed of the two soft-argmax forms, side by side in one process.

``SoftArgmax3D`` computes the same function two ways (``tests/test_numerics.py`` checks
values and gradients of both against a NumPy derivation):

* ``softmax``: :func:`mhp_tf.soft_argmax_3d` - transpose the head's ``[B, H*W, J, D]``
  logits to joint-major order, softmax, three marginal sums (what inference and the
  TFLite export trace);
* ``direct``: :func:`mhp_tf.modeling.soft_argmax_3d_direct` - exponentials in the
  head's layout, two sums and a division (what the layer runs with ``training=True``).

For each variant this script times a full training step (forward, L1 coordinate loss,
backward, Adam) on random data with each form, alternating rounds so machine noise hits
both alike, and prints images/s and the ratio:

    python scripts/benchmark_soft_argmax.py                                   # XS at 128
    python scripts/benchmark_soft_argmax.py --variants=xs,s,l --input_size=256 --batch_size=16
"""

import os
import platform

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import tensorflow as tf  # noqa: E402

import mhp_tf  # noqa: E402
from mhp_tf.modeling import soft_argmax_3d  # noqa: E402
import bench_utils  # noqa: E402
from bench_utils import l1_train_step  # noqa: E402
from bench_utils import random_batch  # noqa: E402
from bench_utils import time_alternating  # noqa: E402

FLAGS = flags.FLAGS
bench_utils.define_flags(steps=4)
flags.DEFINE_bool("head_before_upsample", True, "Build the models with the cheaper head "
                  "order (the quickstart's); the soft-argmax input is the same either way.")

FORMS = ("softmax", "direct")


def _train_steps(model):
    """``{form: (step, batch)}``: the same training step with each soft-argmax form."""
    cfg = model.mhp_config
    batch = random_batch(cfg, FLAGS.batch_size)
    logits_model = tf.keras.Model(model.inputs, model.logits_layer.output)
    predict = {
        # The layer's training path.
        "direct": None,
        # The inference form, on the same logits.
        "softmax": lambda images: soft_argmax_3d(logits_model(images, training=True),
                                                 cfg.depth_bins),
    }
    return {form: (l1_train_step(model, batch, predict[form]), FLAGS.batch_size)
            for form in FORMS}


def main(argv):
    del argv
    print(f"mhp_tf {mhp_tf.__version__}, TensorFlow {tf.__version__}, "
          f"{platform.machine()} CPU x{os.cpu_count()}; input {FLAGS.input_size}, batch "
          f"{FLAGS.batch_size}, head_before_upsample={FLAGS.head_before_upsample}; median of "
          f"{FLAGS.rounds} alternating rounds of {FLAGS.steps} steps")
    header = f"{'variant':8s}{'heatmap HxWxD':>16s}{'softmax img/s':>15s}{'direct img/s':>14s}" \
             f"{'ratio':>8s}"
    print(header)
    print("-" * len(header))
    for variant in FLAGS.variants:
        model = mhp_tf.build_model(variant, FLAGS.num_joints, input_size=FLAGS.input_size,
                                   head_before_upsample=FLAGS.head_before_upsample)
        rate = time_alternating(_train_steps(model), FLAGS.rounds, FLAGS.steps)
        h, w, d = model.mhp_config.heatmap_shape
        print(f"{variant:8s}{f'{h}x{w}x{d}':>16s}{rate['softmax']:15.1f}{rate['direct']:14.1f}"
              f"{rate['direct'] / rate['softmax']:7.2f}x")


if __name__ == "__main__":
    app.run(main)
