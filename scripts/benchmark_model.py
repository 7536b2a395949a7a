r"""Benchmark the MobileHumanPose variants: parameters, FLOPs and forward latency.

Latency is the median over --runs timed calls of a ``tf.function`` forward pass
(inference mode) on a random batch, after --warmup untimed calls; every call
ends with a device-to-host copy so asynchronous work is included.

    python scripts/benchmark_model.py                       # L, S, XS at batch 1 and 32
    python scripts/benchmark_model.py --variants=xs --batch_sizes=1 --runs=100
    python scripts/benchmark_model.py --jit_compile --json=bench.json
"""

import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mhp_tf  # noqa: E402
from mhp_tf.modeling import PRESETS  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("variants", ["l", "s", "xs"], "Presets to benchmark.")
flags.DEFINE_list("batch_sizes", ["1", "32"], "Batch sizes to time.")
flags.DEFINE_integer("runs", 30, "Timed calls per measurement (median reported).", lower_bound=1)
flags.DEFINE_integer("warmup", 3, "Untimed calls before timing (tracing, allocation).",
                     lower_bound=1)
flags.DEFINE_integer("num_joints", 18, "Number of joints.")
flags.DEFINE_integer("input_size", None, "Override the input size (default: preset, 256).")
flags.DEFINE_enum("head", "coords", ["coords", "heatmap"], "Output head.")
flags.DEFINE_bool("jit_compile", False, "Compile the forward pass with XLA.")
flags.DEFINE_bool("mixed_precision", False, "Use the mixed_float16 policy.")
flags.DEFINE_string("json", None, "Also write the results to this JSON file.")


def time_forward(model, batch_size: int, runs: int, warmup: int, jit_compile: bool):
    size = model.input_shape[1]
    images = tf.constant(np.random.default_rng(0).uniform(
        -2, 2, (batch_size, size, size, 3)).astype(np.float32))
    forward = tf.function(lambda x: model(x, training=False), jit_compile=jit_compile)
    for _ in range(warmup):
        forward(images).numpy()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        forward(images).numpy()
        times.append(time.perf_counter() - start)
    return {"median_ms": 1e3 * statistics.median(times),
            "p90_ms": 1e3 * float(np.percentile(times, 90)),
            "images_per_s": batch_size / statistics.median(times)}


def main(argv):
    del argv
    unknown = [v for v in FLAGS.variants if v not in PRESETS]
    if unknown:
        raise app.UsageError(f"unknown variant(s) {unknown}; available: {sorted(PRESETS)}")
    batch_sizes = [int(b) for b in FLAGS.batch_sizes]
    if FLAGS.mixed_precision:
        tf.keras.mixed_precision.set_global_policy("mixed_float16")
    overrides = {"head": FLAGS.head}
    if FLAGS.input_size:
        overrides["input_size"] = FLAGS.input_size
    gpus = tf.config.list_physical_devices("GPU")
    device = f"GPU x{len(gpus)}" if gpus else f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"
    print(f"mhp_tf {mhp_tf.__version__}, TensorFlow {tf.__version__}, {device}; "
          f"tf.function{' + XLA' if FLAGS.jit_compile else ''}, "
          f"{'mixed_float16' if FLAGS.mixed_precision else 'float32'}, head={FLAGS.head}, "
          f"median of {FLAGS.runs} runs after {FLAGS.warmup} warm-up", flush=True)

    results = []
    for variant in FLAGS.variants:
        model = mhp_tf.build_model(variant, FLAGS.num_joints, **overrides)
        params = sum(int(w.shape.num_elements()) for w in model.trainable_weights)
        flops = mhp_tf.count_flops(model)
        for batch in batch_sizes:
            timing = time_forward(model, batch, FLAGS.runs, FLAGS.warmup, FLAGS.jit_compile)
            row = {"variant": variant, "input": model.input_shape[1], "batch": batch,
                   "params": params, "gflops": flops.paper_gflops,
                   "conv_gmacs": flops.conv_gmacs, **timing}
            results.append(row)
            print(f"  measured {variant} batch {batch}: {timing['median_ms']:.1f} ms",
                  file=sys.stderr, flush=True)
        tf.keras.backend.clear_session()

    header = f"{'variant':<8}{'input':>6}{'params':>12}{'GFLOPs':>8}{'batch':>7}" \
             f"{'median ms':>11}{'p90 ms':>9}{'img/s':>9}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['variant']:<8}{r['input']:>6}{r['params']:>12,}{r['gflops']:>8.3f}"
              f"{r['batch']:>7}{r['median_ms']:>11.1f}{r['p90_ms']:>9.1f}"
              f"{r['images_per_s']:>9.1f}")
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump({"device": device, "tensorflow": tf.__version__,
                       "jit_compile": FLAGS.jit_compile,
                       "mixed_precision": FLAGS.mixed_precision, "results": results}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
