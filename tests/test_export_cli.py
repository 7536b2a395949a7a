"""``python -m mhp_tf.export`` end to end on a tiny model."""

import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

import mhp_tf
from mhp_tf.export import tflite

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_export_cli_writes_keras_and_tflite_with_sidecar(tmp_path):
    model = mhp_tf.build_model("xs", input_size=64, num_joints=18, embedding_size=32)
    path = str(tmp_path / "tiny.keras")
    model.save(path)
    out = tmp_path / "exported"
    run = subprocess.run(
        [sys.executable, "-m", "mhp_tf.export", f"--model={path}", "--normalization=imagenet",
         f"--out={out}", "--formats=keras,tflite", "--quant=none,fp16", "--noreport"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for name in ("model.keras", "model_coords_none.tflite", "model_coords_fp16.tflite"):
        assert (out / name).exists(), name
    meta = json.loads((out / "model_coords_none.tflite.json").read_text())
    assert meta["normalization"] == "imagenet" and meta["input_size"] == 64
    assert meta["joint_names"][0] == "Pelvis" and len(meta["joint_names"]) == 18
    assert meta["heatmap_size"] == model.mhp_config.heatmap_size
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype(np.float32)
    got = tflite.run_tflite((out / "model_coords_none.tflite").read_bytes(), x)
    np.testing.assert_allclose(got, model(tf.constant(x)).numpy(), atol=1e-4)


def test_export_cli_errors_are_clear(tmp_path):
    model = mhp_tf.build_model("xs", input_size=64, num_joints=18, embedding_size=32)
    path = str(tmp_path / "tiny.keras")
    model.save(path)
    run = subprocess.run([sys.executable, "-m", "mhp_tf.export", f"--model={path}",
                          "--formats=tflite"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode != 0 and "--normalization" in run.stderr
    run = subprocess.run([sys.executable, "-m", "mhp_tf.export", f"--model={path}",
                          "--normalization=imagenet", "--quant=int4"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "int4" in run.stderr
