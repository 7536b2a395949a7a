r"""``python -m mhp_tf.export``: a trained model to Keras, SavedModel and TFLite in one step.

    # SavedModel + float TFLite of a training run (written to runs/quickstart/export/)
    python -m mhp_tf.export --model_dir=runs/quickstart
    # int8 (calibrated on the run's training data) and QAT int8, softmax-free heatmap head
    python -m mhp_tf.export --model_dir=runs/quickstart --formats=tflite --quant=int8,qat \
        --head=heatmap --qat_steps=300
    # a bare .keras file: say how its inputs were normalised
    python -m mhp_tf.export --model=model.keras --normalization=imagenet --out=exported

Every ``.tflite`` gets a ``<name>.json`` next to it (input size, heatmap size, depth bins,
depth range, normalisation, joint names, input/output types) that
:class:`mhp_tf.PoseEstimator` reads, and ``--report`` prints its op report (op list, float ops
in int8 models, Flex ops, tensor ranks, GPU-delegate compatibility).
"""

import json
import os
from typing import Optional

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402

from mhp_tf import pretrained  # noqa: E402

FLAGS = flags.FLAGS
FORMATS = ("keras", "saved_model", "tflite")


def define_flags():
    flags.DEFINE_string("model_dir", None, "Training run folder (model.keras + config.json) "
                        "or a preset name (python -m mhp_tf.pretrained lists them).")
    flags.DEFINE_string("model", None, "A .keras model file or a preset name (instead of "
                        "--model_dir).")
    flags.DEFINE_string("out", None, "Output folder (default: <model_dir>/export; for a "
                        "preset: ./export_<name>).")
    flags.DEFINE_list("formats", ["saved_model", "tflite"], f"Any of {FORMATS}.")
    flags.DEFINE_list("quant", ["none"], "TFLite modes: none, fp16, dynamic, int8, qat.")
    flags.DEFINE_enum("head", "coords", ["coords", "heatmap"],
                      "TFLite output: joint coordinates, or the softmax-free heatmap logits "
                      "(decode with mhp_tf.export.tflite.decode_heatmap_output).")
    flags.DEFINE_string("normalization", None, "Input normalisation (default: the run's).")
    flags.DEFINE_string("skeleton", None, "Joint set (default: the run's, else h36m).")
    flags.DEFINE_string("calibration_dataset", None,
                        "Dataset for int8 calibration and QAT (default: the run's training "
                        "data).")
    flags.DEFINE_string("data_dir", None, "Prepared datasets folder.")
    flags.DEFINE_integer("num_calibration", 200, "int8 calibration images.")
    flags.DEFINE_integer("qat_steps", 300, "QAT fine-tuning steps (quant=qat).")
    flags.DEFINE_float("qat_learning_rate", 1e-4, "QAT learning rate.")
    flags.DEFINE_integer("batch_size", 32, "QAT batch size.")
    flags.DEFINE_bool("report", True, "Print each TFLite model's op report.")


def resolve(model_dir, model_path, normalization, skeleton, calibration, data_dir):
    """The model, its run config (or None) and the export settings."""
    import tensorflow as tf

    from mhp_tf.training.config import ExperimentConfig

    if bool(model_dir) == bool(model_path):
        raise app.UsageError("give exactly one of --model_dir and --model")
    cfg = None
    preset = pretrained.resolve(model_dir or model_path)[1]
    if preset is not None:
        model_dir, model_path = preset.folder, None
    if model_dir:
        model_path = os.path.join(model_dir, "model.keras")
        if os.path.exists(os.path.join(model_dir, "config.json")):
            cfg = ExperimentConfig.load(model_dir)
    if not os.path.exists(model_path):
        raise FileNotFoundError(f"no model at {model_path} (train one with python -m "
                                f"mhp_tf.train, or pass --model=FILE.keras)")
    model = tf.keras.models.load_model(model_path, compile=False)
    if not hasattr(model, "mhp_config"):
        raise ValueError(f"{model_path} is not a MobileHumanPose model")
    settings = {
        "normalization": normalization or (cfg.data.normalization if cfg else None),
        "skeleton": skeleton or (cfg.data.skeleton if cfg else "h36m"),
        "calibration_dataset": calibration or (cfg.data.train if cfg else None),
        "data_dir": data_dir or (cfg.data.data_dir if cfg else None),
        "depth_range_mm": cfg.pipeline_config().depth_range_mm if cfg else 2000.0,
    }
    if preset is not None and not calibration:
        settings["calibration_dataset"] = preset_calibration(settings["calibration_dataset"],
                                                             settings["data_dir"])
    if settings["normalization"] is None:
        raise app.UsageError(f"{model_path} has no config.json beside it: pass "
                             f"--normalization=reference|imagenet|none (how training inputs "
                             f"were normalised)")
    return model, cfg, settings


# A shipped preset's training sets are tens of thousands of renders (half an hour to build
# on two cores); when they are not built here, int8/QAT calibrate on this small set instead.
PRESET_CALIBRATION_FALLBACK = "synthetic/realistic_tiny"


def preset_calibration(train_datasets: Optional[str], data_dir: Optional[str]) -> str:
    """The calibration set for a preset exported without ``--calibration_dataset``: its own
    training data when every part of it is built in ``data_dir``, else
    :data:`PRESET_CALIBRATION_FALLBACK` (built in seconds), with a message saying so."""
    from mhp_tf.data import datasets

    names = [n for n in (train_datasets or "").split("+") if n]
    if names and all(datasets.is_prepared(datasets.get_builder(n, data_dir)) for n in names):
        return train_datasets
    logging.warning(
        "int8/QAT calibration: the preset's training data (%s) is not built here (building "
        "it takes about half an hour on two cores), so calibrating on %s instead; pass "
        "--calibration_dataset=%s to use it anyway.", train_datasets or "unknown",
        PRESET_CALIBRATION_FALLBACK, train_datasets or "NAME")
    return PRESET_CALIBRATION_FALLBACK


def export_tflite(model, cfg, settings, quant, head, out_dir, report=True):
    """Convert one TFLite variant; returns the path written."""
    from mhp_tf import skeletons
    from mhp_tf.data import datasets
    from mhp_tf.export import tflite

    mc = model.mhp_config
    calibration = None
    if quant in ("int8", "qat"):
        if not settings["calibration_dataset"]:
            raise app.UsageError("int8/qat need --calibration_dataset (no run config found)")
        calibration = tflite.calibration_dataset(
            settings["calibration_dataset"], mc, settings["normalization"],
            FLAGS.num_calibration, settings["data_dir"], settings["skeleton"])
    source = model
    if quant == "qat":
        from mhp_tf.export import qat

        qat_model = qat.quantize_model(model, calibration, FLAGS.num_calibration)
        from mhp_tf.data import pipeline

        pipe = cfg.pipeline_config() if cfg else pipeline.PipelineConfig.for_model(
            mc, skeleton=settings["skeleton"], normalization=settings["normalization"])
        train_ds = datasets.build_dataset(settings["calibration_dataset"], "train",
                                          settings["data_dir"], training=True,
                                          batch_size=FLAGS.batch_size, config=pipe)
        result = qat.qat_finetune(qat_model, train_ds, FLAGS.qat_steps,
                                  FLAGS.qat_learning_rate, log_every=max(1, FLAGS.qat_steps // 10))
        print(f"QAT: {result['steps']} steps, loss {result['first_loss']:.4f} -> "
              f"{result['final_loss']:.4f}")
        qat.save_qat_model(qat_model, os.path.join(out_dir, "qat_model.h5"))
        source = qat_model
    data = tflite.convert_tflite(source, quant, head, representative_dataset=calibration,
                                 num_calibration=FLAGS.num_calibration)
    path = os.path.join(out_dir, f"model_{head}_{quant}.tflite")
    with open(path, "wb") as f:
        f.write(data)
    rep = tflite.op_report(data)
    skeleton = skeletons.get_skeleton(settings["skeleton"])
    sidecar = {"input_size": mc.input_size, "heatmap_size": mc.heatmap_size,
               "depth_bins": mc.depth_bins, "depth_range_mm": settings["depth_range_mm"],
               "normalization": settings["normalization"], "skeleton": settings["skeleton"],
               "joint_names": list(skeleton.joints), "head": head, "quant": quant,
               "inputs": rep.get("input"), "outputs": rep.get("output")}
    with open(path + ".json", "w") as f:
        json.dump(sidecar, f, indent=2, default=str)
    print(f"wrote {path} ({len(data) / 1e6:.2f} MB)")
    if report:
        print(tflite.format_op_report(rep))
    return path


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    unknown = set(FLAGS.formats) - set(FORMATS)
    if unknown:
        raise app.UsageError(f"unknown --formats {sorted(unknown)}; choose from {FORMATS}")
    from mhp_tf.export import saved_model
    from mhp_tf.export import tflite

    bad = set(FLAGS.quant) - set(tflite.QUANT_MODES)
    if bad:
        raise app.UsageError(f"unknown --quant {sorted(bad)}; choose from {tflite.QUANT_MODES}")
    model, cfg, settings = resolve(FLAGS.model_dir, FLAGS.model, FLAGS.normalization,
                                   FLAGS.skeleton, FLAGS.calibration_dataset, FLAGS.data_dir)
    preset = pretrained.resolve(FLAGS.model_dir or FLAGS.model)[1]
    if FLAGS.out:
        out_dir = FLAGS.out
    elif preset is not None:  # never write into the installed package
        out_dir = os.path.abspath(f"export_{preset.name}")
    else:
        out_dir = os.path.join(FLAGS.model_dir or os.path.dirname(FLAGS.model), "export")
    os.makedirs(out_dir, exist_ok=True)
    if "keras" in FLAGS.formats:
        path = os.path.join(out_dir, "model.keras")
        model.save(path)
        print(f"wrote {path}")
    if "saved_model" in FLAGS.formats:
        path = saved_model.export_saved_model(
            model, os.path.join(out_dir, "saved_model"),
            normalization=settings["normalization"], skeleton=settings["skeleton"],
            depth_range_mm=settings["depth_range_mm"])
        print(f"wrote {path} (signatures: serving_default, estimate_poses, crop_images)")
    if "tflite" in FLAGS.formats:
        for quant in FLAGS.quant:
            export_tflite(model, cfg, settings, quant, FLAGS.head, out_dir, FLAGS.report)


if __name__ == "__main__":
    define_flags()
    app.run(main)
