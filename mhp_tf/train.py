r"""Train MobileHumanPose: ``python -m mhp_tf.train --flagfile=experiments/xs.flags``.

A thin binary over :func:`mhp_tf.training.train`. Flagfiles in ``experiments/``
hold the paper recipes; any flag on the command line overrides the flagfile,
and ``--set=section.field=value`` reaches every config field::

    python -m mhp_tf.train --flagfile=experiments/l.flags --model_dir=runs/l
    python -m mhp_tf.train --flagfile=experiments/xs.flags --model_dir=runs/xs \
        --strategy=mirrored --mixed_precision --batch_size=128
    python -m mhp_tf.train --flagfile=experiments/quickstart.flags   # synthetic data, CPU

Re-running the same command resumes from the last checkpoint in --model_dir.
Ctrl-C or SIGTERM saves a checkpoint and exits with status 128 + the signal
number; a second run on the same --model_dir, or a resume whose flags change
the run (batch size, data, model, ...), is refused with the reason
(:mod:`mhp_tf.training.run_guard`).
"""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS

# name -> (config key, flag kind, help)
_OVERRIDES = {
    "train_dataset": ("data.train", "string", "Training dataset(s); 'a+b' mixes 50/50, 'a+b+c' a third each."),
    "test_dataset": ("data.test", "string", "Evaluation dataset."),
    "data_dir": ("data.data_dir", "string", "Prepared datasets folder."),
    "skeleton": ("data.skeleton", "string", "Target joint set (h36m or muco)."),
    "normalization": ("data.normalization", "string", "reference | imagenet | none."),
    "batch_size": ("train.batch_size", "integer", "Global batch size."),
    "epochs": ("train.epochs", "integer", "Epochs."),
    "steps_per_epoch": ("train.steps_per_epoch", "integer", "Steps per epoch (default: data)."),
    "learning_rate": ("train.learning_rate", "float", "Adam learning rate."),
    "optimizer": ("train.optimizer", "string", "adam_torch (torch.optim.Adam's update, the "
                  "reference's; default) or adam_keras (tf.keras Adam, epsilon 1e-7)."),
    "lr_decay_epochs": ("train.lr_decay_epochs", "string", "Comma-separated decay epochs."),
    "lr_schedule": ("train.lr_schedule", "string", "'step' (paper: /10 at --lr_decay_epochs) "
                    "or 'cosine' (to 0 at the last epoch)."),
    "warmup_steps": ("train.warmup_steps", "integer", "Linear learning-rate warm-up steps."),
    "checkpoint_every": ("train.checkpoint_every", "integer", "Checkpoint interval (steps)."),
    "log_every": ("train.log_every", "integer", "TensorBoard scalar interval (steps)."),
    "seed": ("train.seed", "integer", "Random seed."),
    "strategy": ("train.strategy", "string", "default | mirrored | multi_worker | tpu."),
    "tpu": ("train.tpu", "string", "TPU name/address for --strategy=tpu."),
    "mixed_precision": ("train.mixed_precision", "bool", "mixed_float16 training."),
    "xla": ("train.jit_compile", "bool", "XLA-compile the training step."),
    "deterministic": ("train.deterministic", "bool", "Deterministic ops (slower)."),
    "eval_max_examples": ("train.eval_max_examples", "integer", "Cap evaluation examples."),
    "teacher": ("train.teacher", "string", "Distill from this trained model (.keras file or "
                "run folder; same input size, joints and normalisation)."),
    "distill_alpha": ("train.distill_alpha", "float", "Weight of the teacher term (0..1)."),
    "init_weights": ("train.init_weights", "string", "Start from this trained model's weights "
                     "(.keras file or run folder; same network, any input size) instead of "
                     "random ones. Ignored when the run resumes from its own checkpoint."),
}


def define_flags():
    flags.DEFINE_string("model_dir", None, "Run folder (checkpoints, logs, config, model).")
    flags.DEFINE_enum("variant", "xs", ["l", "s", "xs", "movnect"],
                      "Model: a MobileHumanPose preset, or movnect (MoVNect; its type with "
                      "--set=model.variant=A|B|C).")
    flags.DEFINE_integer("num_joints", None, "Number of joints (default 18 = H36M for "
                         "MobileHumanPose, 15 for MoVNect; 21 = MuCo).")
    for name, (_, kind, help_) in _OVERRIDES.items():
        getattr(flags, f"DEFINE_{kind}")(name, None, help_)
    flags.DEFINE_multi_string("set", [], "Config override 'section.field=value', repeatable "
                              "(e.g. --set=model.concat=none --set=model.activation=relu).")
    flags.DEFINE_enum("flip_test", "reference", ["reference", "exact", "none"],
                      "Flip test used by the evaluation after training.")
    flags.DEFINE_bool("evaluate", True, "Evaluate on --test_dataset after training.")
    flags.DEFINE_integer("max_steps", None, "Stop at this global step (smoke runs).")
    flags.DEFINE_bool("dry_run", False, "Print the validated config and exit.")
    flags.DEFINE_bool("build_missing", False, "Build the synthetic dataset on first use even "
                      "when --data_dir does not exist yet (without it such a --data_dir is "
                      "refused, naming the build command).")
    flags.DEFINE_bool("report_baselines", False, "Before training, evaluate the untrained "
                      "model and the mean-pose baseline; report them next to the result.")


def config_from_flags():
    from mhp_tf.training.config import make_config

    overrides = {}
    for name, (key, _, _) in _OVERRIDES.items():
        value = getattr(FLAGS, name)
        if value is not None:
            overrides[key] = value if isinstance(value, str) else value
    for item in FLAGS.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise app.UsageError(f"--set expects section.field=value, got {item!r}")
        overrides[key.strip()] = value.strip()
    return make_config(FLAGS.variant, FLAGS.num_joints, overrides)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    cfg = config_from_flags()
    from mhp_tf.data import datasets

    datasets.BUILD_MISSING = FLAGS.build_missing
    if FLAGS.dry_run:
        print(cfg.to_json())
        return
    if not FLAGS.model_dir:
        raise app.UsageError("--model_dir is required (where checkpoints and logs go)")
    from mhp_tf.evaluation import evaluator
    from mhp_tf.training import run_guard
    from mhp_tf.training import trainer

    def evaluate_fn(model):
        return evaluator.evaluate(model, cfg.data.test, cfg.data.test_split, cfg.data.data_dir,
                                  cfg.pipeline_config(), batch_size=32,
                                  flip_test=FLAGS.flip_test,
                                  max_examples=cfg.train.eval_max_examples, progress=False)

    baselines = report_baselines(cfg, evaluate_fn) if FLAGS.report_baselines else None
    try:
        summary = trainer.train(cfg, FLAGS.model_dir, evaluate_fn=evaluate_fn
                                if FLAGS.evaluate else None, max_steps=FLAGS.max_steps)
    except run_guard.TrainingInterrupted as e:
        # Checkpoint saved; 128 + signal number, the shell's code for "stopped by a
        # signal", so `train && export` chains do not go on with an unfinished run.
        print(e)
        sys.exit(128 + e.signum)
    except (run_guard.RunLocked, run_guard.ConfigChanged) as e:
        sys.exit(f"ERROR: {e}")
    if summary.get("eval"):
        print(evaluator.format_result(summary["eval"]))
        run_guard.write_json(os.path.join(FLAGS.model_dir, "eval.json"),
                             {**summary["eval"], "baselines": baselines})
        if baselines:
            start = "initial" if "initial_mpjpe" in baselines else "untrained"
            before, after = baselines[f"{start}_mpjpe"], summary["eval"]["mpjpe"]
            print(f"Held-out MPJPE ({cfg.data.test}/{cfg.data.test_split}): {start} "
                  f"{before:.1f} mm -> trained {after:.1f} mm ({100 * (after - before) / before:+.1f}"
                  f"%); mean-pose baseline {baselines['mean_pose_mpjpe']:.1f} mm")


def report_baselines(cfg, evaluate_fn):
    """MPJPE of the model before training (random, same seed as training; or the
    ``train.init_weights`` model) and of the mean pose."""
    import tensorflow as tf

    from mhp_tf.evaluation import evaluator
    from mhp_tf.training import trainer

    tf.keras.utils.set_random_seed(cfg.train.seed)
    model = trainer.build_model(cfg)
    name = "untrained model"
    if cfg.train.init_weights:
        name = f"initial model ({trainer.load_init_weights(model, cfg.train.init_weights)})"
    start = evaluate_fn(model)
    mean_pose = evaluator.mean_pose_baseline(
        cfg.data.train, cfg.data.test, cfg.data.test_split, cfg.data.data_dir,
        cfg.data.skeleton, cfg.train.eval_max_examples)
    print(f"Before training: {name} MPJPE {start['mpjpe']:.1f} mm, "
          f"mean-pose baseline {mean_pose['mpjpe']:.1f} mm")
    key = "initial_mpjpe" if cfg.train.init_weights else "untrained_mpjpe"
    return {key: start["mpjpe"], "mean_pose_mpjpe": mean_pose["mpjpe"]}


if __name__ == "__main__":
    define_flags()
    app.run(main)
