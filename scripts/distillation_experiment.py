r"""Does a teacher help? Teacher vs student-alone vs student-with-teacher on synthetic data.

Trains, with the library's trainer and the same input pipeline and seed:

1. a teacher,
2. a student without a teacher,
3. the same student with the teacher (``train.teacher``, ``train.distill_alpha``),

each for a fixed number of steps, then evaluates all three on the held-out split and prints
one table (MPJPE / PA-MPJPE, mm). Runs are kept in ``--work_dir`` and resume if
interrupted (re-run the same command). Two families (``--family``):

* ``xs``: MobileHumanPose-S teacher -> XS student; L1 on coordinates, blended with the
  teacher's coordinates (``mhp_tf.training.losses.distillation_loss``);
* ``movnect``: MoVNect Type C teacher -> Type A student; the paper's mimicry losses on
  heatmaps and heatmap-masked location maps (``mhp_tf.modeling.movnect.movnect_loss``).

    python scripts/distillation_experiment.py --family=xs
    python scripts/distillation_experiment.py --family=movnect --work_dir=runs/distill_movnect
    python scripts/distillation_experiment.py --teacher_steps=6000 --student_steps=2000

The numbers in BUILD.md come from the first two commands with the budgets given there.
"""

import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_enum("family", "xs", ["xs", "movnect"],
                      "xs: MobileHumanPose S -> XS; movnect: MoVNect type C -> type A.")
    flags.DEFINE_string("work_dir", "runs/distillation", "Where the three runs go.")
    flags.DEFINE_string("dataset", "synthetic/quickstart", "Train and test dataset.")
    flags.DEFINE_string("data_dir", None, "Prepared datasets folder.")
    flags.DEFINE_string("teacher_variant", None, "Teacher: MobileHumanPose preset (family "
                        "xs; default s) or MoVNect type (family movnect; default C).")
    flags.DEFINE_integer("input_size", 128, "Input size of all three models.")
    flags.DEFINE_integer("teacher_steps", 4000, "Teacher training steps.")
    flags.DEFINE_string("teacher_dir", None, "Use this already trained run (a folder with "
                        "model.keras and config.json) as the teacher instead of training one.")
    flags.DEFINE_integer("student_steps", 1500, "Steps of each student run.")
    flags.DEFINE_integer("batch_size", 32, "Batch size.")
    flags.DEFINE_float("distill_alpha", 0.5, "Teacher weight.")
    flags.DEFINE_integer("eval_max_examples", None, "Cap evaluation examples.")
    flags.DEFINE_integer("seed", 0, "Seed of every run (initialisation and data order).")


def run_config(variant, steps, extra=None):
    """``variant``: a MobileHumanPose preset, or ``movnect:A`` / ``movnect:C``."""
    from mhp_tf.training import config as config_lib

    family, _, movnect_type = variant.partition(":")
    overrides = {
        "model.input_size": str(FLAGS.input_size),
        "data.train": FLAGS.dataset, "data.test": FLAGS.dataset,
        "data.normalization": "imagenet", "data.occlusion_prob": "0",
        "data.rotation_prob": "0",  # as experiments/quickstart.flags
        "train.batch_size": str(FLAGS.batch_size),
        # One "epoch" = the whole budget; decay /10 for the last 20 % of it.
        "train.epochs": "5", "train.steps_per_epoch": str(max(1, steps // 5)),
        "train.lr_decay_epochs": "4", "train.eval_every_epochs": "1000",
        "train.checkpoint_every": "200", "train.log_every": "50",
        "train.seed": str(FLAGS.seed),
    }
    if FLAGS.data_dir:
        overrides["data.data_dir"] = FLAGS.data_dir
    if movnect_type:
        overrides["model.variant"] = movnect_type
    overrides.update(extra or {})
    return config_lib.make_config(family, None, overrides)


def _evaluate(name, cfg, model_dir, steps, seconds):
    import tensorflow as tf

    from mhp_tf.evaluation import evaluator

    model = tf.keras.models.load_model(os.path.join(model_dir, "model.keras"), compile=False)
    result = evaluator.evaluate(model, FLAGS.dataset, "test", FLAGS.data_dir,
                                cfg.pipeline_config(), max_examples=FLAGS.eval_max_examples,
                                progress=False)
    variant = f"{cfg.variant}:{cfg.model.variant}" if cfg.is_movnect else cfg.variant
    return {"name": name, "variant": variant, "steps": steps,
            "params": int(model.count_params()), "seconds": seconds,
            "mpjpe": result["mpjpe"], "pa_mpjpe_rigid": result["pa_mpjpe_rigid"],
            "pa_mpjpe_similarity": result["pa_mpjpe_similarity"],
            "num_examples": result["num_examples"]}


def evaluate_existing(name, run_dir):
    """Evaluate an already trained run on --dataset's test split (the teacher given by
    --teacher_dir)."""
    from mhp_tf.training import config as config_lib

    cfg = config_lib.ExperimentConfig.load(run_dir)
    summary_path = os.path.join(run_dir, "train_summary.json")
    summary = {}
    if os.path.exists(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)
    return _evaluate(name, cfg, run_dir, summary.get("steps"), summary.get("seconds"))


def train_and_evaluate(name, cfg):
    from mhp_tf.training import trainer

    model_dir = os.path.join(FLAGS.work_dir, name)
    done = os.path.join(model_dir, "result.json")
    if os.path.exists(done):
        with open(done) as f:
            return json.load(f)
    summary = trainer.train(cfg, model_dir)
    out = _evaluate(name, cfg, model_dir, summary["steps"], summary["seconds"])
    with open(done, "w") as f:
        json.dump(out, f, indent=2)
    return out


def main(argv):
    del argv
    if FLAGS.family == "xs":
        teacher, student = FLAGS.teacher_variant or "s", "xs"
    else:
        teacher, student = f"movnect:{FLAGS.teacher_variant or 'C'}", "movnect:A"
    if FLAGS.teacher_dir:
        rows = [evaluate_existing("teacher", FLAGS.teacher_dir)]
        teacher_dir = FLAGS.teacher_dir
    else:
        rows = [train_and_evaluate("teacher", run_config(teacher, FLAGS.teacher_steps))]
        teacher_dir = os.path.join(FLAGS.work_dir, "teacher")
    rows.append(train_and_evaluate("student_alone", run_config(student, FLAGS.student_steps)))
    rows.append(train_and_evaluate("student_distilled", run_config(
        student, FLAGS.student_steps, {"train.teacher": teacher_dir,
                                    "train.distill_alpha": str(FLAGS.distill_alpha)})))
    print(f"\nDistillation on {FLAGS.dataset} (test split, {rows[0]['num_examples']} examples), "
          f"input {FLAGS.input_size}, batch {FLAGS.batch_size}, alpha {FLAGS.distill_alpha}")
    print(f"{'run':<20}{'variant':>10}{'params':>11}{'steps':>8}{'MPJPE':>9}{'PA rigid':>10}{'PA sim.':>9}")
    for r in rows:
        print(f"{r['name']:<20}{r['variant']:>10}{r['params']:>11,}{r['steps'] or '?':>8}{r['mpjpe']:>9.1f}"
              f"{r['pa_mpjpe_rigid']:>10.1f}{r['pa_mpjpe_similarity']:>9.1f}")
    gain = rows[1]["mpjpe"] - rows[2]["mpjpe"]
    print(f"student with teacher vs alone: {gain:+.1f} mm MPJPE "
          f"({'better' if gain > 0 else 'not better'})")


if __name__ == "__main__":
    define_flags()
    app.run(main)
