"""The README's commands: the variant summary and the benchmark script run end to end."""

import os
import pathlib
import subprocess
import sys

import pytest


ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run(args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return proc


def test_summary_prints_golden_counts():
    proc = _run(["-m", "mhp_tf.summary"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for needle in ("4,073,248", "2,242,000", "1,040,240", "5.491", "3.922",
                   "(1, 64, 64, 1152)", "(1, 32, 32, 576)"):
        assert needle in out, out


def test_summary_rejects_unknown_variant():
    proc = _run(["-m", "mhp_tf.summary", "--variants=xxl"])
    assert proc.returncode != 0
    assert "unknown variant" in proc.stderr


def test_benchmark_script_smoke(tmp_path):
    out_json = tmp_path / "bench.json"
    proc = _run(["scripts/benchmark_model.py", "--variants=xs", "--batch_sizes=1,2",
                 "--runs=2", "--warmup=1", "--input_size=64", f"--json={out_json}"])
    assert proc.returncode == 0, proc.stderr
    assert "median ms" in proc.stdout
    import json
    results = json.loads(out_json.read_text())["results"]
    assert [r["batch"] for r in results] == [1, 2]
    assert all(r["median_ms"] > 0 and r["params"] == 1_040_240 for r in results)


@pytest.mark.slow  # about 50 s: two processes, three models traced
def test_side_by_side_step_benchmarks_smoke():
    # Both import scripts/bench_utils.py; each prints one ratio row per variant.
    for script, ratio_row in (("scripts/benchmark_soft_argmax.py", "8x8x32"),
                              ("scripts/benchmark_head_order.py", "ratio")):
        proc = _run([script, "--input_size=64", "--batch_size=2", "--rounds=1",
                     "--steps=1"])
        assert proc.returncode == 0, proc.stderr
        rows = [line for line in proc.stdout.splitlines() if ratio_row in line]
        assert len(rows) == 1 and rows[0].rstrip().endswith("x"), proc.stdout
