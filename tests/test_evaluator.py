"""Evaluator: flip-test arithmetic and an end-to-end run on the fake dataset."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import fakedata
from mhp_tf import skeletons
from mhp_tf.evaluation import evaluator
from mhp_tf.training import config as config_lib
from mhp_tf.training import trainer


class CentroidModel:
    """Predicts every joint at the intensity centroid of the image (heatmap units): an
    exactly mirror-equivariant estimator, so the exact flip inverse must reproduce it."""

    class _Cfg:
        heatmap_size = 16

    mhp_config = _Cfg()

    def __call__(self, images, training=False):
        s = images.shape[2]
        w = tf.reduce_sum(images[..., 0], axis=1)  # [B, S]
        u = tf.reduce_sum(w * tf.range(s, dtype=tf.float32), -1) / tf.reduce_sum(w, -1)
        x = u * self._Cfg.heatmap_size / s
        joints = tf.stack([x, tf.ones_like(x), tf.ones_like(x)], -1)[:, None, :]
        return tf.tile(joints, [1, 18, 1])


def test_flip_test_inverse():
    images = np.zeros((1, 64, 64, 3), np.float32)
    images[:, :, 5:20] = 1.0  # centroid at u = 12 px -> x = 3.0 heatmap units
    model = CentroidModel()
    sk = skeletons.H36M
    plain = evaluator.predict_coords(model, images, sk, "none").numpy()
    exact = evaluator.predict_coords(model, images, sk, "exact").numpy()
    ref = evaluator.predict_coords(model, images, sk, "reference").numpy()
    np.testing.assert_allclose(plain[0, :, 0], 3.0, atol=1e-5)
    np.testing.assert_allclose(exact, plain, atol=1e-5)
    # The reference un-mirrors with W - 1 - x: off by (1 - W/S) / 2 after averaging.
    np.testing.assert_allclose(ref[..., 0] - plain[..., 0], -(1 - 16 / 64) / 2, atol=1e-5)
    with pytest.raises(ValueError, match="flip_test"):
        evaluator.predict_coords(model, images, sk, "mirror")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data_dir = fakedata.prepare(str(tmp_path_factory.mktemp("evalfake") / "tfds"))
    overrides = {"model.input_size": "64", "model.embedding_size": "32",
                 "model.depth_bins": "8", "data.train": "human36m", "data.test": "human36m",
                 "data.data_dir": data_dir, "train.batch_size": "8", "train.epochs": "1",
                 "train.steps_per_epoch": "4", "data.shuffle_buffer": "8"}
    cfg = config_lib.make_config("xs", 18, overrides)
    model_dir = str(tmp_path_factory.mktemp("evalrun"))
    out = trainer.train(cfg, model_dir, progress=False)
    return out["model"], cfg, model_dir, data_dir


def test_evaluate_end_to_end(trained):
    model, cfg, _, data_dir = trained
    result = evaluator.evaluate(model, "human36m", "test", data_dir, cfg.pipeline_config(),
                                batch_size=4, flip_test="exact", progress=False)
    assert result["num_examples"] == 8
    assert set(result["per_action"]) == {"Directions", "Discussion", "Eating"}
    for key in ("mpjpe", "pa_mpjpe_rigid", "pa_mpjpe_similarity"):
        assert np.isfinite(result[key]) and result[key] > 0
    # Alignment can only lower the error.
    assert result["pa_mpjpe_similarity"] <= result["pa_mpjpe_rigid"] + 1e-6
    assert result["pa_mpjpe_rigid"] <= result["mpjpe"] + 1e-6
    table = evaluator.format_result(result)
    assert "PA rigid" in table and "Eating" in table


def test_evaluate_cli(trained, tmp_path):
    _, _, model_dir, data_dir = trained
    tests = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(tests)
    script = tmp_path / "ev.py"
    script.write_text(
        "import sys; sys.path.insert(0, %r)\n"
        "import fakedata; fakedata.install()\n"
        "from absl import app\n"
        "from mhp_tf import evaluate\n"
        "evaluate.define_flags()\n"
        "app.run(evaluate.main)\n" % tests)
    out_json = tmp_path / "e.json"
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + tests)
    proc = subprocess.run([sys.executable, str(script), f"--model_dir={model_dir}",
                           f"--data_dir={data_dir}", f"--output={out_json}", "--flip_test=none"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "average" in proc.stdout
    assert json.loads(out_json.read_text())["num_examples"] == 8
