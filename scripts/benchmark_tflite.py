r"""TFLite CPU latency and size of the MobileHumanPose variants, next to Keras (the paper's Table 10).

For every variant x head x quantization it converts a random-weight model
(latency does not depend on the weights) with :func:`mhp_tf.export.convert_tflite`
and times, in the same process:

* Keras: a ``tf.function`` forward pass (inference mode, batch 1, float32,
  TensorFlow's default threading), ending with a device-to-host copy;
* TFLite: ``set_tensor`` + ``invoke`` + ``get_tensor`` with the built-in
  interpreter (XNNPACK on) at each --threads count.

Latency is the median over --runs timed calls after --warmup untimed ones
(``±`` the standard deviation). int8 models are calibrated on random images,
which is fine for timing and useless for accuracy (see
scripts/quantization_accuracy.py). ``heatmap`` is the paper's ``†`` (no
softmax: logits out, decoded outside); ``coords`` includes the soft-argmax
(float32 even in int8 models).

    python scripts/benchmark_tflite.py                                  # everything
    python scripts/benchmark_tflite.py --variants=xs --heads=heatmap --threads=1 --runs=20
    python scripts/benchmark_tflite.py --quant=fp32,int8,fp16 --json=tflite_bench.json
    python scripts/benchmark_tflite.py --variants=xs --quant=int8 --prelu=native  # int8 PRELU op
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
from mhp_tf.export import deploy  # noqa: E402
from mhp_tf.export import tflite  # noqa: E402
from mhp_tf.modeling import PAPER_FIGURES  # noqa: E402
from mhp_tf.modeling import count_flops  # noqa: E402
from mhp_tf.modeling import PRESETS  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("variants", ["l", "s", "xs"], "Presets.")
flags.DEFINE_list("quant", ["fp32", "int8"], "Quantizations: fp32, fp16, dynamic, int8.")
flags.DEFINE_list("heads", ["heatmap", "coords"], "Heads: heatmap (paper's †) and/or coords.")
flags.DEFINE_list("threads", ["1", "2"], "TFLite interpreter thread counts.")
flags.DEFINE_integer("runs", 30, "Timed calls per measurement (median reported).", lower_bound=1)
flags.DEFINE_integer("warmup", 3, "Untimed calls before timing.", lower_bound=1)
flags.DEFINE_integer("num_joints", 18, "Number of joints.")
flags.DEFINE_integer("input_size", None, "Override the input size (default: preset, 256).")
flags.DEFINE_integer("num_calibration", 8, "Random calibration images for int8.")
flags.DEFINE_enum("prelu", "auto", list(deploy.PRELU_MODES),
                  "PReLU in the TFLite model (convert_tflite's prelu=): auto = rewritten as "
                  "depthwise conv + add for int8 (fast on XNNPACK), the PRELU op otherwise; "
                  "native = always the PRELU op; rewrite = always rewritten.")
flags.DEFINE_bool("keras", True, "Also time the Keras tf.function forward pass.")
flags.DEFINE_string("save_dir", None, "Also write the .tflite files here.")
flags.DEFINE_string("json", None, "Also write the results to this JSON file.")
flags.DEFINE_bool("reference", True, "Also time keras.applications.MobileNetV2 (1.0, 256 px, "
                  "no top) in fp32 and int8: it measures this runtime's multiply-add rate, and "
                  "each row is shown against conv MACs / that rate.")

QUANT_ARG = {"fp32": "none", "fp16": "fp16", "dynamic": "dynamic", "int8": "int8"}


def _timed(call, runs: int, warmup: int):
    """Median and std (ms) of ``runs`` timed ``call()`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    ms = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        ms.append(1e3 * (time.perf_counter() - start))
    return {"median_ms": statistics.median(ms),
            "std_ms": statistics.stdev(ms) if len(ms) > 1 else 0.0}


def time_keras(model, runs: int, warmup: int):
    size = model.input_shape[1]
    image = tf.constant(np.random.default_rng(0).uniform(-2, 2, (1, size, size, 3))
                        .astype(np.float32))
    forward = tf.function(lambda x: model(x, training=False))
    return _timed(lambda: forward(image).numpy(), runs, warmup)


def time_tflite(content: bytes, num_threads: int, runs: int, warmup: int):
    interpreter = tflite.make_interpreter(content, num_threads)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    image = tflite.quantize_input(np.random.default_rng(0).uniform(
        -2, 2, inp["shape"]).astype(np.float32), inp)

    def call():
        interpreter.set_tensor(inp["index"], image)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return _timed(call, runs, warmup)


def convert_reference(model, quant: str) -> bytes:
    """MobileNetV2 to TFLite: fp32, fp16, dynamic, or full-integer int8 (random calibration)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quant != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quant == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if quant == "int8":
        size = model.input_shape[1]
        rng = np.random.default_rng(0)
        converter.representative_dataset = lambda: (
            [rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32)]
            for _ in range(FLAGS.num_calibration))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    from ai_edge_litert import __version__ as litert

    interpreter = f"ai-edge-litert {litert}"
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
            f"TensorFlow {tf.__version__}, mhp_tf {mhp_tf.__version__}; TFLite: {interpreter}, "
            f"XNNPACK")


def main(argv):
    del argv
    for name, values, allowed in (("variants", FLAGS.variants, PRESETS),
                                  ("quant", FLAGS.quant, QUANT_ARG),
                                  ("heads", FLAGS.heads, tflite.HEADS)):
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise app.UsageError(f"unknown {name} {unknown}; available: {sorted(allowed)}")
    threads = [int(t) for t in FLAGS.threads]
    if FLAGS.save_dir:
        os.makedirs(FLAGS.save_dir, exist_ok=True)
    overrides = {"input_size": FLAGS.input_size} if FLAGS.input_size else {}
    print(f"{machine()}", flush=True)
    print(f"median ± std of {FLAGS.runs} runs after {FLAGS.warmup} warm-up, batch 1; random "
          f"weights; int8 calibrated on {FLAGS.num_calibration} random images (timing only); "
          f"prelu={FLAGS.prelu}", flush=True)

    def models():
        if FLAGS.reference:
            size = FLAGS.input_size or 256
            yield "mobilenetv2", "-", tf.keras.applications.MobileNetV2(
                input_shape=(size, size, 3), alpha=1.0, include_top=False, weights=None)
        for variant in FLAGS.variants:
            for head in FLAGS.heads:
                tf.keras.backend.clear_session()
                yield variant, head, mhp_tf.build_model(variant, FLAGS.num_joints, head=head,
                                                        **overrides)

    results = []
    for variant, head, model in models():
        size = model.input_shape[1]
        gmacs = count_flops(model).conv_gmacs
        params = sum(int(w.shape.num_elements()) for w in model.trainable_weights)
        keras = time_keras(model, FLAGS.runs, FLAGS.warmup) if FLAGS.keras else None
        for quant in FLAGS.quant:
            start = time.time()
            if variant == "mobilenetv2":
                content = convert_reference(model, quant)
            else:
                content = tflite.convert_tflite(
                    model, QUANT_ARG[quant], head,
                    representative_dataset=tflite.random_calibration(
                        size, FLAGS.num_calibration),
                    num_calibration=FLAGS.num_calibration, prelu=FLAGS.prelu)
            convert_s = time.time() - start
            report = tflite.op_report(content, gpu_compatibility=False)
            if FLAGS.save_dir:
                path = os.path.join(FLAGS.save_dir, f"mhp_{variant}_{head}_{quant}.tflite")
                with open(path, "wb") as f:
                    f.write(content)
            row = {"variant": variant, "head": head, "quant": quant, "prelu": FLAGS.prelu,
                   "input": size, "params": params, "gmacs": gmacs,
                   "size_mb": len(content) / 1e6,
                   "keras": keras, "convert_s": convert_s, "max_rank": report["max_rank"],
                   "float_ops": sum(report["float_ops"].values()), "tflite": {}}
            for n in threads:
                row["tflite"][n] = time_tflite(content, n, FLAGS.runs, FLAGS.warmup)
            results.append(row)
            print(f"  measured {variant} {head} {quant}: " + ", ".join(
                f"{n} thr {t['median_ms']:.1f} ms" for n, t in row["tflite"].items()),
                file=sys.stderr, flush=True)

    def cell(t):
        return f"{t['median_ms']:.1f} ± {t['std_ms']:.1f}" if t else "-"

    heads = {"heatmap": "†", "coords": "", "-": ""}
    # The runtime's multiply-add rate: MobileNetV2 fp32, one thread, in this same run.
    rate = next((r["gmacs"] / (r["tflite"][threads[0]]["median_ms"] / 1e3) for r in results
                 if r["variant"] == "mobilenetv2" and r["quant"] == "fp32"), None)
    header = (f"{'Method':<22}{'input':>6}{'Keras tf.function':>19}"
              + "".join(f"{f'TFLite {n} thread' + ('s' if n > 1 else ''):>18}" for n in threads)
              + f"{'Param.':>9}{'paper':>7}{'TFLite MB':>11}{'GMACs':>7}"
              + (f"{'x bar':>7}" if rate else ""))
    print()
    print("Latency (ms), CPU:")
    print(header)
    print("-" * len(header))
    for r in results:
        name = "MobileNetV2" if r["variant"] == "mobilenetv2" else \
            f"Ours-{r['variant'].upper()}{heads[r['head']]}"
        name = f"{name} {r['quant']}"
        paper = PAPER_FIGURES.get(r["variant"], {}).get("params") or "-"
        bar = r["tflite"][threads[0]]["median_ms"] / (1e3 * r["gmacs"] / rate) if rate else None
        print(f"{name:<22}{r['input']:>6}{cell(r['keras']):>19}"
              + "".join(f"{cell(r['tflite'][n]):>18}" for n in threads)
              + f"{r['params'] / 1e6:>8.2f}M{paper:>7}{r['size_mb']:>11.2f}{r['gmacs']:>7.3f}"
              + (f"{bar:>7.2f}" if rate else ""))
    print("† heatmap head: logits out, soft-argmax outside (the paper's timing); no † = coords "
          "head with the float soft-argmax inside. Keras runs float32 whatever the row's "
          "quantization. Param.: trainable parameters (paper: the paper's figure). GMACs: conv "
          "multiply-adds per image.")
    if rate:
        print(f"x bar: {threads[0]}-thread TFLite latency / (GMACs / {rate:.1f} GMAC/s), the "
              f"multiply-add rate of MobileNetV2 fp32 with {threads[0]} thread(s) in this run "
              f"(1.0 = as fast per MAC as MobileNetV2).")
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump({"machine": machine(), "runs": FLAGS.runs, "warmup": FLAGS.warmup,
                       "mobilenetv2_gmacs_per_s": rate,
                       "results": results}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
