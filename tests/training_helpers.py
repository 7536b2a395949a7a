"""Shared by the training tests: a tiny XS config on the fake datasets, and a script
that trains in a subprocess (for signals, SIGKILL and distribution strategies)."""

import json
import os

from mhp_tf.training import config as config_lib

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)

TINY = {"model.input_size": "64", "model.embedding_size": "32", "model.depth_bins": "8",
        "data.train": "human36m+mpii", "data.test": "human36m", "train.batch_size": "8",
        "train.epochs": "2", "train.steps_per_epoch": "8", "train.checkpoint_every": "4",
        "train.log_every": "2", "train.lr_decay_epochs": "1", "data.shuffle_buffer": "16"}


def tiny_config(data_dir, **extra):
    overrides = dict(TINY, **{"data.data_dir": data_dir}, **extra)
    return config_lib.make_config("xs", 18, overrides)


SCRIPT = r"""
import json, os, sys
sys.path.insert(0, {tests!r})
import tensorflow as tf
mode = sys.argv[1]
if mode == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import fakedata
from mhp_tf.data import datasets
from mhp_tf.training import config as config_lib, trainer
fakedata.install()
overrides = json.loads(sys.argv[2])
cfg = config_lib.make_config("xs", 18, overrides)
strategy = None
if mode == "mirrored":
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
out = trainer.train(cfg, sys.argv[3], strategy=strategy, progress=False)
print("RESULT", json.dumps({{"first": out["first_loss"], "final": out["final_loss"],
                            "replicas": out["replicas"],
                            "steps": out["steps"]}}))
"""


def script(tmp_path):
    path = tmp_path / "run_train.py"
    path.write_text(SCRIPT.format(tests=TESTS))
    return str(path)


def env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **extra)
    env["PYTHONPATH"] = ROOT + os.pathsep + TESTS + os.pathsep + env.get("PYTHONPATH", "")
    return env


def result(stdout):
    line = [l for l in stdout.splitlines() if l.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])
