r"""Does the realistic synthetic set help? Cross-evaluate models trained on different sets.

Each run is scored on the held-out test split of every synthetic set (root-relative MPJPE,
mm, the paper's evaluation with flip test: ``python -m mhp_tf.evaluate``) and on real frames
(``scripts/benchmark_real_images.py``: 2D error in % of body height and PCK@0.1 against
BlazePose GHUM heavy, report split, upright crops). The comparison in BUILD.md trains the
same recipe and budget (the quickstart's: XS at 128 px, 12 epochs of 9,000 images) on each
set:

    python -m mhp_tf.train --flagfile=experiments/quickstart.flags --model_dir=runs/quickstart
    python -m mhp_tf.train --flagfile=experiments/quickstart_realistic.flags
    python scripts/compare_synthetic_sets.py \
        --runs=capsule=runs/quickstart,realistic=runs/quickstart_realistic

Results go to ``--out_dir`` (one JSON per evaluation, ``table.md``); evaluations already
there are reused unless ``--force``.
"""

import json
import os
import subprocess
import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_list("runs", None, "NAME=RUN_DIR pairs (training run folders or preset names).")
flags.DEFINE_list("datasets", ["synthetic/quickstart", "synthetic/realistic"],
                  "Synthetic sets whose test split every run is scored on.")
flags.DEFINE_string("out_dir", "runs/compare_synthetic_sets", "Where the JSONs and table go.")
flags.DEFINE_bool("real", True, "Also score on real frames (benchmark_real_images.py).")
flags.DEFINE_bool("force", False, "Re-run evaluations whose JSON exists.")
flags.DEFINE_integer("max_examples", None, "Score at most this many test examples per set.")
flags.mark_flag_as_required("runs")

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(cmd):
    print("+", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode:
        sys.stdout.write(proc.stdout[-4000:])
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return proc.stdout


def parse_runs(pairs):
    runs = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise app.UsageError(f"--runs wants NAME=RUN_DIR, got {pair!r}")
        runs[name] = path
    return runs


def main(argv):
    del argv
    runs = parse_runs(FLAGS.runs)
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    synthetic = {}
    for name, path in runs.items():
        for dataset in FLAGS.datasets:
            out = os.path.join(FLAGS.out_dir, f"{name}__{dataset.replace('/', '_')}.json")
            if FLAGS.force or not os.path.exists(out):
                cmd = [sys.executable, "-m", "mhp_tf.evaluate", f"--model_dir={path}",
                       f"--dataset={dataset}", f"--output={out}"]
                if FLAGS.max_examples:
                    cmd.append(f"--max_examples={FLAGS.max_examples}")
                _run(cmd)
            with open(out) as f:
                synthetic[name, dataset] = json.load(f)
    real = {}
    if FLAGS.real:
        out = os.path.join(FLAGS.out_dir, "real.json")
        if FLAGS.force or not os.path.exists(out):
            # a run folder is named after its basename in the benchmark's rows
            _run([sys.executable, os.path.join(HERE, "benchmark_real_images.py"),
                  "--models=" + ",".join(runs.values()), "--upright", f"--json={out}"])
        with open(out) as f:
            rows = json.load(f)["rows"]
        for r in rows:
            if r["source"] == "all":
                real[r["model"]] = r
    lines = ["| trained on | " + " | ".join(f"MPJPE on {d} test (mm)" for d in FLAGS.datasets)
             + (" | real frames: error, % of body height | real frames: PCK@0.1 |"
                if FLAGS.real else " |"),
             "|---" * (1 + len(FLAGS.datasets) + (2 if FLAGS.real else 0)) + "|"]
    for name, path in runs.items():
        cells = [f"{synthetic[name, d]['mpjpe']:.1f}" for d in FLAGS.datasets]
        if FLAGS.real:
            key = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
            r = real.get(key + "_upright") or real.get(key)
            cells += ([f"{r['error_pct']:.1f}", f"{r['pck']:.3f}"] if r else ["-", "-"])
        lines.append(f"| {name} (`{path}`) | " + " | ".join(cells) + " |")
    if FLAGS.real:
        for ref in ("blazepose_lite", "blazepose_full", "average_pose"):
            if ref in real:
                lines.append(f"| {ref} | " + " | ".join("-" for _ in FLAGS.datasets)
                             + f" | {real[ref]['error_pct']:.1f} | {real[ref]['pck']:.3f} |")
    table = "\n".join(lines)
    print("\n" + table)
    with open(os.path.join(FLAGS.out_dir, "table.md"), "w") as f:
        f.write(table + "\n")
    return 0


if __name__ == "__main__":
    app.run(main)
