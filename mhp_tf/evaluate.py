r"""Evaluate a trained model: ``python -m mhp_tf.evaluate --model_dir=runs/h36m_l``.

Prints MPJPE and PA-MPJPE (the paper's rigid alignment and the standard
similarity Procrustes, labelled) with a per-action table, and writes JSON::

    python -m mhp_tf.evaluate --model_dir=runs/h36m_l                  # its test set
    python -m mhp_tf.evaluate --model=runs/h36m_l/model.keras --dataset=human36m/protocol1
    python -m mhp_tf.evaluate --model_dir=runs/xs --flip_test=exact --output=xs_eval.json

On MuPoTS-3D (``--dataset=mupots``, or a run whose test set is mupots, e.g. the
21-joint MuCo recipe) it prints 3DPCK_rel@150 mm and AUC per sequence TS1..TS20
in both conventions ("all ground truth", "matched only") instead::

    python -m mhp_tf.evaluate --model_dir=runs/mupots_xs                # GT boxes
    python -m mhp_tf.evaluate --model_dir=runs/mupots_xs --mupots_matching=2d
"""

import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model_dir", None, "Training run folder (uses model.keras and "
                        "config.json; the latest checkpoint if newer), or a preset name.")
    flags.DEFINE_string("model", None, "A saved .keras model (instead of --model_dir).")
    flags.DEFINE_string("dataset", None, "Dataset (default: the run's test dataset).")
    flags.DEFINE_string("split", "test", "Split.")
    flags.DEFINE_string("data_dir", None, "Prepared datasets folder.")
    flags.DEFINE_enum("flip_test", "reference", ["reference", "exact", "none"], "Flip test.")
    flags.DEFINE_integer("batch_size", 32, "Batch size.")
    flags.DEFINE_integer("max_examples", None, "Evaluate at most this many examples.")
    flags.DEFINE_string("output", None, "JSON output (default: <model_dir>/eval_<dataset>.json).")
    flags.DEFINE_string("normalization", None, "Input normalisation (default: the run's).")
    flags.DEFINE_bool("build_missing", False, "Build the synthetic dataset on first use even "
                      "when --data_dir does not exist yet.")
    flags.DEFINE_enum("mupots_matching", "gt", ["gt", "2d"],
                      "MuPoTS: 'gt' keeps each person's own GT-box prediction; '2d' runs the "
                      "official per-frame 2D matching (40 px) on the predictions.")


def load_for_eval(model_dir=None, model_path=None):
    """(model, ExperimentConfig or None) from a run folder or a .keras file."""
    import tensorflow as tf

    import mhp_tf  # noqa: F401  registers custom objects
    from mhp_tf.training.config import ExperimentConfig

    from mhp_tf import pretrained

    cfg = None
    if model_dir:
        model_dir = pretrained.resolve(model_dir)[0]
        cfg = ExperimentConfig.load(model_dir)
        model_path = model_path or os.path.join(model_dir, "model.keras")
    if not model_path or not os.path.exists(model_path):
        raise FileNotFoundError(f"no model to evaluate: {model_path!r} does not exist "
                                "(train first, or pass --model=path.keras)")
    return tf.keras.models.load_model(model_path), cfg


def main(argv):
    del argv
    if not (FLAGS.model_dir or FLAGS.model):
        raise app.UsageError("pass --model_dir or --model")
    from mhp_tf.data import datasets
    from mhp_tf.data.pipeline import PipelineConfig
    from mhp_tf.evaluation import evaluator
    from mhp_tf.evaluation import mupots
    from mhp_tf.modeling import movnect

    datasets.BUILD_MISSING = FLAGS.build_missing
    model, cfg = load_for_eval(FLAGS.model_dir, FLAGS.model)
    dataset = FLAGS.dataset or (cfg.data.test if cfg else None)
    if not dataset:
        raise app.UsageError("--dataset is required with --model")
    data_dir = FLAGS.data_dir or (cfg.data.data_dir if cfg else None)
    normalization = FLAGS.normalization or (cfg.data.normalization if cfg else "reference")
    is_mupots = datasets.parse_name(dataset)[0] == "mupots"
    if movnect.is_movnect_model(model):
        if is_mupots:
            raise app.UsageError("MuPoTS evaluation supports MobileHumanPose models only")
        if cfg is None:
            raise app.UsageError("evaluating a MoVNect model needs its run folder "
                                 "(--model_dir, for the joint set and input pipeline)")
        model_config = model.movnect_config
    else:
        model_config = model.mhp_config
    if cfg:
        skeleton = cfg.data.skeleton
    elif is_mupots:
        skeleton = "muco" if model_config.num_joints == 21 else "mupots"
    else:
        skeleton = "h36m"
    pipe = PipelineConfig.for_model(model_config, skeleton=skeleton, normalization=normalization)
    if is_mupots:
        result = mupots.evaluate_mupots(model, dataset, FLAGS.split, data_dir, pipe,
                                        FLAGS.batch_size, FLAGS.flip_test, FLAGS.max_examples,
                                        matching=FLAGS.mupots_matching)
        print(mupots.format_mupots_result(result))
    else:
        result = evaluator.evaluate(model, dataset, FLAGS.split, data_dir, pipe,
                                    FLAGS.batch_size, FLAGS.flip_test, FLAGS.max_examples)
        print(evaluator.format_result(result))
    from mhp_tf import pretrained

    # A preset's folder is inside the installed package: write beside the caller instead.
    out_dir = "." if pretrained.resolve(FLAGS.model_dir or ".")[1] else (FLAGS.model_dir or ".")
    out = FLAGS.output or os.path.join(out_dir,
                                       f"eval_{dataset.replace('/', '_')}_{FLAGS.split}.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {out}")


if __name__ == "__main__":
    define_flags()
    app.run(main)
