r"""Held-out MPJPE of a model through every export path: Keras float, TFLite fp32 / fp16 /
dynamic, post-training int8 and quantization-aware-trained int8.

Every row is evaluated the same way as ``python -m mhp_tf.evaluate`` (the
run's test split, ground-truth boxes and root depth,
``mhp_tf.evaluation.metrics.decode_to_camera``, MPJPE over the skeleton's
evaluation joints); TFLite models run through the interpreter one image at a
time inside :func:`mhp_tf.evaluation.evaluator.evaluate`.

Rows:
  Keras float          the trained model.
  TFLite fp32 / fp16 / dynamic      coords head.
  PTQ int8 heatmap     full-integer model (int8 in, int8 logits out), float
                       soft-argmax decode outside (the deployment recipe).
  PTQ int8 coords      int8 body + float soft-argmax inside the model.
  QAT Keras            fake-quantized Keras model after --qat_steps of fine-tuning.
  QAT int8 heatmap     that model converted (int8 logits, float decode).

Calibration (PTQ and the QAT range start) uses --num_calibration unaugmented
crops of the run's training split. QAT fine-tunes from the float model with
the training pipeline (augmentation on) at --qat_learning_rate.

    # on a trained run (python -m mhp_tf.train --flagfile=experiments/quickstart.flags)
    python scripts/quantization_accuracy.py --model_dir=runs/quickstart --qat_steps=300
    # smoke run: trains a tiny XS on synthetic/tiny first (about 5 minutes on 2 cores)
    python scripts/quantization_accuracy.py --train_steps=30 --qat_steps=5 --work_dir=/tmp/qacc
"""

import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mhp_tf  # noqa: E402,F401  (checks tf.keras is tf_keras)
from mhp_tf.data import datasets  # noqa: E402
from mhp_tf.evaluation import evaluator  # noqa: E402
from mhp_tf.export import tflite  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A trained run (model.keras + config.json). Without it, "
                    "a small model is trained first (see --train_* flags).")
flags.DEFINE_string("data_dir", None, "Prepared datasets folder (default: the run's).")
flags.DEFINE_string("dataset", None, "Evaluation dataset (default: the run's test set).")
flags.DEFINE_string("split", None, "Evaluation split (default: the run's test split).")
flags.DEFINE_integer("max_examples", None, "Evaluate at most this many examples.")
flags.DEFINE_enum("flip_test", "none", evaluator.FLIP_TESTS, "Flip test for every row.")
flags.DEFINE_integer("batch_size", 32, "Evaluation batch size (TFLite still runs batch 1).")
flags.DEFINE_integer("num_calibration", 200, "Calibration crops (PTQ and QAT range start).")
flags.DEFINE_integer("qat_steps", 300, "QAT fine-tuning steps (0: skip QAT).")
flags.DEFINE_float("qat_learning_rate", 1e-4, "QAT learning rate (Adam).")
flags.DEFINE_integer("qat_batch_size", None, "QAT batch size (default: the run's).")
flags.DEFINE_integer("num_threads", 2, "TFLite interpreter threads.")
flags.DEFINE_list("rows", ["keras", "fp32", "fp16", "dynamic", "int8_heatmap", "int8_coords",
                           "qat"], "Rows to compute.")
flags.DEFINE_string("save_dir", None, "Also write the .tflite files (and the QAT .h5) here.")
flags.DEFINE_string("json", None, "Write the results to this JSON file.")
# Only used without --model_dir.
flags.DEFINE_string("work_dir", "/tmp/mhp_quantization_accuracy", "Where to train without "
                    "--model_dir.")
flags.DEFINE_string("train_dataset", "synthetic/tiny", "Dataset to train on without --model_dir.")
flags.DEFINE_string("train_variant", "xs", "Preset to train without --model_dir.")
flags.DEFINE_integer("train_input_size", 64, "Input size to train without --model_dir.")
flags.DEFINE_integer("train_steps", 200, "Training steps without --model_dir.")

ROW_LABELS = {
    "keras": "Keras float32",
    "fp32": "TFLite fp32 (coords)",
    "fp16": "TFLite fp16 (coords)",
    "dynamic": "TFLite dynamic-range (coords)",
    "int8_heatmap": "PTQ int8 heatmap + float decode",
    "int8_coords": "PTQ int8 body + float soft-argmax",
    "qat_keras": "QAT Keras (fake-quant)",
    "qat": "QAT int8 heatmap + float decode",
}


class TFLitePredictor:
    """A converted model behind the Keras call convention ``model(images, training)``.

    Runs the interpreter through ``tf.numpy_function``, so the evaluator's
    ``tf.function`` can call it; heatmap outputs are decoded in float.
    """

    def __init__(self, content: bytes, head: str, model_config, num_threads: int):
        self.interpreter = tflite.make_interpreter(content, num_threads)
        self.head = head
        self.mhp_config = model_config.replace(head="coords")

    def _run(self, images):
        out = tflite.run_tflite(self.interpreter, images)
        if self.head == "heatmap":
            out = tflite.decode_heatmap_output(out, self.mhp_config.depth_bins)
        return out.astype(np.float32)

    def __call__(self, images, training=False):
        coords = tf.numpy_function(self._run, [images], tf.float32)
        coords.set_shape([None, self.mhp_config.num_joints, 3])
        return coords


def train_small_model():
    """Train a small model for a smoke run; returns its run folder."""
    from mhp_tf.data import datasets
    from mhp_tf.training import config as config_lib
    from mhp_tf.training import trainer

    # The smoke run may build its dataset into its own work_dir (not into a given --data_dir).
    datasets.BUILD_MISSING = FLAGS.data_dir is None
    model_dir = os.path.join(FLAGS.work_dir, "run")
    cfg = config_lib.make_config(FLAGS.train_variant, 18, {
        "model.input_size": str(FLAGS.train_input_size),
        "data.train": FLAGS.train_dataset, "data.test": FLAGS.train_dataset,
        "data.normalization": "imagenet", "data.occlusion_prob": "0",
        "data.data_dir": FLAGS.data_dir or os.path.join(FLAGS.work_dir, "tfds"),
        "data.shuffle_buffer": "64",
        "train.batch_size": "8", "train.epochs": "1",
        "train.steps_per_epoch": str(FLAGS.train_steps), "train.lr_decay_epochs": "",
        "train.eval_every_epochs": "1000", "train.log_every": "10"})
    trainer.train(cfg, model_dir)
    return model_dir


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.system()}; TensorFlow {tf.__version__}")


def main(argv):
    del argv
    from mhp_tf.evaluate import load_for_eval

    unknown = sorted(set(FLAGS.rows) - set(ROW_LABELS))
    if unknown:
        raise app.UsageError(f"unknown rows {unknown}; available: {sorted(ROW_LABELS)}")
    model_dir = FLAGS.model_dir or train_small_model()
    model, cfg = load_for_eval(model_dir)
    mcfg = model.mhp_config
    data_dir = FLAGS.data_dir or cfg.data.data_dir
    dataset = FLAGS.dataset or cfg.data.test
    split = FLAGS.split or cfg.data.test_split
    pipe = cfg.pipeline_config()
    if FLAGS.save_dir:
        os.makedirs(FLAGS.save_dir, exist_ok=True)
    calibration = tflite.calibration_dataset(
        cfg.data.train, mcfg, cfg.data.normalization, FLAGS.num_calibration, data_dir,
        skeleton=cfg.data.skeleton, seed=cfg.train.seed)

    print(f"{model_dir}: {mcfg.topology} w{mcfg.width_multiplier} e{mcfg.embedding_size} "
          f"input {mcfg.input_size}, heatmap {mcfg.heatmap_shape}; evaluating on "
          f"{dataset}/{split}" + (f" (first {FLAGS.max_examples})" if FLAGS.max_examples else "")
          + f", flip test {FLAGS.flip_test}", flush=True)

    def evaluate(predictor):
        return evaluator.evaluate(predictor, dataset, split, data_dir, pipe,
                                  batch_size=FLAGS.batch_size, flip_test=FLAGS.flip_test,
                                  max_examples=FLAGS.max_examples, progress=False)

    rows = []

    def add(key, result, size_bytes=None, seconds=None, **extra):
        rows.append({"row": key, "label": ROW_LABELS[key], "mpjpe": result["mpjpe"],
                     "pa_mpjpe_rigid": result["pa_mpjpe_rigid"],
                     "num_examples": result["num_examples"], "size_bytes": size_bytes,
                     "seconds": seconds, **extra})
        print(f"  {ROW_LABELS[key]:<36} MPJPE {result['mpjpe']:7.1f} mm", file=sys.stderr,
              flush=True)

    def tflite_row(key, content, head, start):
        if FLAGS.save_dir:
            with open(os.path.join(FLAGS.save_dir, f"{key}.tflite"), "wb") as f:
                f.write(content)
        report = tflite.op_report(content, gpu_compatibility=False)
        result = evaluate(TFLitePredictor(content, head, mcfg, FLAGS.num_threads))
        add(key, result, len(content), time.time() - start, float_ops=report["float_ops"],
            max_rank=report["max_rank"])

    conversions = {"fp32": ("none", "coords"), "fp16": ("fp16", "coords"),
                   "dynamic": ("dynamic", "coords"), "int8_heatmap": ("int8", "heatmap"),
                   "int8_coords": ("int8", "coords")}
    if "keras" in FLAGS.rows:
        start = time.time()
        add("keras", evaluate(model), seconds=time.time() - start)
    for key, (quant, head) in conversions.items():
        if key in FLAGS.rows:
            start = time.time()
            content = tflite.convert_tflite(model, quant, head, representative_dataset=calibration,
                                            num_calibration=FLAGS.num_calibration)
            tflite_row(key, content, head, start)

    qat_info = None
    if "qat" in FLAGS.rows and FLAGS.qat_steps > 0:
        from mhp_tf.export import qat

        start = time.time()
        qat_model = qat.quantize_model(model, calibration, FLAGS.num_calibration)
        train = datasets.build_dataset(
            cfg.data.train, "train", data_dir, training=True,
            batch_size=FLAGS.qat_batch_size or cfg.train.batch_size, config=pipe,
            seed=cfg.train.seed + 1, shuffle_buffer=cfg.data.shuffle_buffer)
        qat_info = qat.qat_finetune(qat_model, train, FLAGS.qat_steps, FLAGS.qat_learning_rate,
                                    log_every=max(1, FLAGS.qat_steps // 10))
        qat_info = {k: qat_info[k] for k in ("steps", "first_loss", "final_loss")}
        add("qat_keras", evaluate(qat.coords_model(qat_model)), seconds=time.time() - start)
        if FLAGS.save_dir:
            qat.save_qat_model(qat_model, os.path.join(FLAGS.save_dir, "qat.h5"))
        start = time.time()
        tflite_row("qat", tflite.convert_tflite(qat_model, "qat", "heatmap"), "heatmap", start)

    reference = next((r["mpjpe"] for r in rows if r["row"] == "keras"), None)
    print()
    print(f"Quantization accuracy - {machine()}")
    print(f"{dataset}/{split}, {rows[0]['num_examples']} examples, flip test {FLAGS.flip_test}; "
          f"calibration: {FLAGS.num_calibration} unaugmented {cfg.data.train} train crops"
          + (f"; QAT: {FLAGS.qat_steps} steps at lr {FLAGS.qat_learning_rate:g} "
             f"(loss {qat_info['first_loss']:.3f} -> {qat_info['final_loss']:.3f})"
             if qat_info else ""))
    header = f"{'model':<36}{'size MB':>9}{'MPJPE mm':>10}{'vs float':>10}{'PA-MPJPE':>10}"
    print(header)
    print("-" * len(header))
    for r in rows:
        size = f"{r['size_bytes'] / 1e6:.2f}" if r["size_bytes"] else "-"
        delta = f"{r['mpjpe'] - reference:+.1f}" if reference is not None else "-"
        print(f"{r['label']:<36}{size:>9}{r['mpjpe']:>10.1f}{delta:>10}"
              f"{r['pa_mpjpe_rigid']:>10.1f}")
    print("PA-MPJPE: rigid alignment (the paper's). Sizes: TFLite flatbuffers.")
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump({"model_dir": model_dir, "machine": machine(), "dataset": dataset,
                       "split": split, "flip_test": FLAGS.flip_test,
                       "num_calibration": FLAGS.num_calibration, "qat": qat_info,
                       "rows": rows}, f, indent=2)
    logging.info("done")


if __name__ == "__main__":
    app.run(main)
