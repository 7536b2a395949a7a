"""Training loop: learns, checkpoints, resumes, stops on NaN, distributes."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from mhp_tf.data import datasets
from mhp_tf.training import config as config_lib
from mhp_tf.training import trainer
from training_helpers import ROOT
from training_helpers import TINY
from training_helpers import env as _env
from training_helpers import result as _result
from training_helpers import script as _script
from training_helpers import tiny_config


def test_config_overrides_and_validation(tmp_path):
    cfg = config_lib.make_config("s", 21, {"model.concat": "none", "train.batch_size": "12",
                                           "data.skeleton": "muco",
                                           "train.lr_decay_epochs": "3,5",
                                           "train.mixed_precision": "true"})
    assert cfg.model.width_multiplier == 0.75 and cfg.model.concat == "none"
    assert cfg.model.num_joints == 21 and cfg.train.lr_decay_epochs == (3, 5)
    assert cfg.train.batch_size == 12 and cfg.train.mixed_precision is True
    cfg.save(str(tmp_path))
    assert config_lib.ExperimentConfig.load(str(tmp_path)).to_dict() == cfg.to_dict()
    with pytest.raises(ValueError, match="unknown option 'train.batchsize'"):
        config_lib.make_config("xs", 18, {"train.batchsize": "3"})
    with pytest.raises(ValueError, match="strategy"):
        config_lib.make_config("xs", 18, {"train.strategy": "horovod"})
    with pytest.raises(ValueError, match="head='coords'"):
        config_lib.make_config("xs", 18, {"model.head": "heatmap"})
    with pytest.raises(ValueError, match="has 18 joints but the model predicts 21"):
        config_lib.make_config("xs", 21, {})
    # Augmentation settings reach the input pipeline and are range-checked.
    aug = config_lib.make_config("xs", 18, {"data.flip_prob": "0", "data.scale_factor": "0.1",
                                            "data.color_factor": "0"}).pipeline_config()
    assert (aug.flip_prob, aug.scale_factor, aug.color_factor) == (0.0, 0.1, 0.0)
    assert aug.rotation_factor == 30.0 and aug.rotation_prob == 0.6  # reference defaults
    with pytest.raises(ValueError, match="data.flip_prob must be in"):
        config_lib.make_config("xs", 18, {"data.flip_prob": "1.5"})


def test_learning_rate_schedules_by_hand():
    def lrs(overrides, steps):
        cfg = config_lib.make_config("xs", 18, dict({"train.learning_rate": "0.01",
                                                     "train.epochs": "4"}, **overrides))
        schedule = trainer.learning_rate_schedule(cfg, steps_per_epoch=10)
        return [float(schedule(s)) for s in steps]

    # Paper schedule: 0.01, /10 after epoch 2 and again after epoch 3 (step > boundary).
    np.testing.assert_allclose(lrs({"train.lr_decay_epochs": "2,3"}, [0, 20, 21, 30, 31]),
                               [0.01, 0.01, 0.001, 0.001, 0.0001], rtol=1e-6)
    # ... with 4 warm-up steps: (step + 1) / 4 of it until step 3.
    np.testing.assert_allclose(
        lrs({"train.lr_decay_epochs": "2", "train.warmup_steps": "4"}, [0, 1, 3, 30]),
        [0.0025, 0.005, 0.01, 0.001], rtol=1e-6)
    # Cosine over 40 steps: 0.01 * (1 + cos(pi * s / 40)) / 2.
    np.testing.assert_allclose(lrs({"train.lr_schedule": "cosine"}, [0, 10, 20, 40]),
                               [0.01, 0.01 * (1 + np.cos(np.pi / 4)) / 2, 0.005, 0.0],
                               rtol=1e-5, atol=1e-9)
    # ... with 10 warm-up steps: linear 0 -> 0.01, then cosine over the other 30.
    np.testing.assert_allclose(
        lrs({"train.lr_schedule": "cosine", "train.warmup_steps": "10"}, [5, 10, 25, 40]),
        [0.005, 0.01, 0.005, 0.0], rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="lr_schedule"):
        config_lib.make_config("xs", 18, {"train.lr_schedule": "linear"})


def test_trains_checkpoints_and_resumes(data_dir, tmp_path):
    model_dir = str(tmp_path / "run")
    cfg = tiny_config(data_dir)
    first = trainer.train(cfg, model_dir, max_steps=8, progress=False)
    assert first["steps"] == 8
    ckpts = tf.train.get_checkpoint_state(os.path.join(model_dir, "checkpoints"))
    assert ckpts.model_checkpoint_path.endswith("ckpt-8")
    assert os.path.exists(os.path.join(model_dir, "model.keras"))
    assert json.load(open(os.path.join(model_dir, "config.json")))["variant"] == "xs"
    second = trainer.train(cfg, model_dir, progress=False)
    assert second["steps"] == 16 and second["steps_this_run"] == 8
    assert np.isfinite([first["first_loss"], second["final_loss"]]).all()
    assert second["final_loss"] < first["first_loss"]
    # A run folder refuses a different model.
    with pytest.raises(ValueError, match="different model config"):
        trainer.train(tiny_config(data_dir, **{"model.embedding_size": "16"}), model_dir)


def _layer_weights(model):
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def test_init_weights_starts_from_a_trained_run_at_another_input_size(data_dir, tmp_path):
    source_dir = str(tmp_path / "source")
    trainer.train(tiny_config(data_dir), source_dir, max_steps=3, progress=False)
    source = tf.keras.models.load_model(os.path.join(source_dir, "model.keras"), compile=False)

    # A second stage at twice the input size starts from exactly the trained weights
    # (BatchNorm statistics included); 0 steps keeps them as loaded.
    big = {"model.input_size": "128", "train.init_weights": source_dir}
    stage2_dir = str(tmp_path / "stage2")
    trainer.train(tiny_config(data_dir, **big), stage2_dir, max_steps=0, progress=False)
    stage2 = tf.keras.models.load_model(os.path.join(stage2_dir, "model.keras"), compile=False)
    assert stage2.input_shape == (None, 128, 128, 3) and source.input_shape[1] == 64
    want, got = _layer_weights(source), _layer_weights(stage2)
    assert want.keys() == got.keys() and len(want) > 50
    for name in want:
        for w, g in zip(want[name], got[name]):
            np.testing.assert_array_equal(g, w, err_msg=name)
    # The random start differs (so the equality above is not trivial).
    fresh = trainer.build_model(tiny_config(data_dir))
    assert not np.array_equal(fresh.get_layer("head_conv").get_weights()[0],
                              want["head_conv"][0])

    # A run that resumes restores its own checkpoint and never reads init_weights (here a
    # missing file) again, while a fresh run with a missing source stops with a clear error.
    missing = tiny_config(data_dir, **{"train.init_weights": str(tmp_path / "gone.keras")})
    assert trainer.train(missing, source_dir, max_steps=4, progress=False)["steps"] == 4
    with pytest.raises(FileNotFoundError, match="train.init_weights: no such model"):
        trainer.train(missing, str(tmp_path / "fresh"), max_steps=1, progress=False)


def test_init_weights_refuses_another_network(data_dir, tmp_path):
    other = trainer.build_model(tiny_config(data_dir, **{"model.depth_bins": "16"}))
    path = str(tmp_path / "other.keras")
    other.save(path)
    model = trainer.build_model(tiny_config(data_dir))
    before = model.get_layer("stem_conv").get_weights()[0].copy()
    with pytest.raises(ValueError,
                       match=r"while initialising from .*'head_conv' has weight shapes"):
        trainer.load_init_weights(model, path)
    # Nothing was copied: the check runs before any layer is set.
    np.testing.assert_array_equal(model.get_layer("stem_conv").get_weights()[0], before)
    with pytest.raises(ValueError, match="init_weights and train.base_weights"):
        config_lib.make_config("movnect", 15, {"train.init_weights": path,
                                               "train.base_weights": "imagenet"})


def test_non_finite_loss_stops_and_keeps_last_checkpoint(data_dir, tmp_path, monkeypatch):
    model_dir = str(tmp_path / "nan")
    cfg = tiny_config(data_dir)
    trainer.train(cfg, model_dir, max_steps=4, progress=False)
    real = trainer.coord_l1_loss
    monkeypatch.setattr(trainer, "coord_l1_loss",
                        lambda *a: real(*a) * float("nan"))
    with pytest.raises(trainer.TrainingDiverged, match="loss became nan at step 5"):
        trainer.train(cfg, model_dir, progress=False)
    state = tf.train.get_checkpoint_state(os.path.join(model_dir, "checkpoints"))
    assert state.model_checkpoint_path.endswith("ckpt-4")
    reader = tf.train.load_checkpoint(state.model_checkpoint_path)
    floats = [n for n, d in reader.get_variable_to_dtype_map().items() if d.is_floating]
    assert len(floats) > 100
    for name in floats:
        assert np.isfinite(reader.get_tensor(name)).all(), name


def test_mirrored_strategy_on_two_cpu_devices(data_dir, tmp_path):
    overrides = dict(TINY, **{"data.data_dir": data_dir, "train.epochs": "1"})
    proc = subprocess.run([sys.executable, _script(tmp_path), "mirrored", json.dumps(overrides),
                           str(tmp_path / "m")], env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = _result(proc.stdout)
    assert res["replicas"] == 2 and res["steps"] == 8
    assert np.isfinite([res["first"], res["final"]]).all() and res["final"] < res["first"]


def _free_ports(n):
    import socket
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_multi_worker_two_processes_on_localhost(data_dir, tmp_path):
    overrides = dict(TINY, **{"data.data_dir": data_dir, "train.epochs": "1",
                              "train.strategy": "multi_worker"})
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for i in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers},
                                "task": {"type": "worker", "index": i}})
        procs.append(subprocess.Popen(
            [sys.executable, _script(tmp_path), "multi_worker", json.dumps(overrides),
             str(tmp_path / f"mw{i}")], env=_env(TF_CONFIG=tf_config),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        outs.append(_result(out))
    for res in outs:
        assert res["replicas"] == 2 and res["steps"] == 8
        assert np.isfinite([res["first"], res["final"]]).all() and res["final"] < res["first"]


def test_sigkill_and_resume_equals_uninterrupted(data_dir, tmp_path):
    overrides = dict(TINY, **{"data.data_dir": data_dir, "train.epochs": "1",
                              "train.steps_per_epoch": "16", "train.checkpoint_every": "2",
                              "train.deterministic": "true"})
    script = _script(tmp_path)
    args = lambda d: [sys.executable, script, "default", json.dumps(overrides), d]  # noqa: E731
    full_dir, killed_dir = str(tmp_path / "full"), str(tmp_path / "killed")
    full = subprocess.run(args(full_dir), env=_env(), capture_output=True, text=True, timeout=600)
    assert full.returncode == 0, full.stderr[-3000:]

    proc = subprocess.Popen(args(killed_dir), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ckpt_dir = os.path.join(killed_dir, "checkpoints")
    deadline = time.time() + 300
    while time.time() < deadline:
        state = tf.train.get_checkpoint_state(ckpt_dir) if os.path.isdir(ckpt_dir) else None
        if state and int(state.model_checkpoint_path.rsplit("-", 1)[1]) >= 6:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = int(tf.train.get_checkpoint_state(ckpt_dir).model_checkpoint_path.rsplit("-", 1)[1])
    assert 6 <= killed_at < 16, killed_at  # stopped mid-epoch
    resumed = subprocess.run(args(killed_dir), env=_env(), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    a = tf.keras.models.load_model(os.path.join(full_dir, "model.keras"))
    b = tf.keras.models.load_model(os.path.join(killed_dir, "model.keras"))
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy(), err_msg=wa.name)


def test_mixed_precision_training(data_dir, tmp_path):
    cfg = tiny_config(data_dir, **{"train.mixed_precision": "true", "train.epochs": "1",
                                   "train.steps_per_epoch": "6"})
    try:
        out = trainer.train(cfg, str(tmp_path / "mp"), progress=False)
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")
    model = out["model"]
    assert model.get_layer("stem_conv").compute_dtype == "float16"
    assert np.isfinite([out["first_loss"], out["final_loss"]]).all()
    assert out["final_loss"] < out["first_loss"]


def _constant_teacher(path, depth_bins=16, peak_bin=1):
    """A teacher that predicts every joint at depth bin ``peak_bin`` (x, y at the centre):
    zero head kernel, a large bias on that depth channel of every joint."""
    from mhp_tf.modeling import MobileHumanPose
    teacher = MobileHumanPose(input_size=64, embedding_size=32, depth_bins=depth_bins,
                              num_joints=18, topology="compact", width_multiplier=0.5)
    head = teacher.get_layer("head_conv")
    kernel, bias = head.get_weights()
    bias[:] = 0.0
    bias[peak_bin::depth_bins] = 30.0
    head.set_weights([np.zeros_like(kernel), bias])
    teacher.save(path)
    return teacher


def test_distillation_pulls_the_student_to_the_teacher(data_dir, tmp_path):
    teacher_path = str(tmp_path / "teacher.keras")
    _constant_teacher(teacher_path)
    # The teacher's depth bin 1 of 16 is bin 0.5 of the student's 8.
    cfg = tiny_config(data_dir, **{"model.depth_bins": "8"})
    teacher, scale = trainer.load_teacher(teacher_path, cfg)
    np.testing.assert_allclose(scale.numpy(), [1.0, 1.0, 0.5])
    x = tf.zeros([1, 64, 64, 3])
    np.testing.assert_allclose(teacher(x).numpy()[0, :, 2] * 0.5, 0.5, atol=1e-3)

    def mean_depth(alpha):
        run = str(tmp_path / f"alpha{alpha}")
        extra = {"train.teacher": teacher_path, "train.distill_alpha": str(alpha),
                 "train.learning_rate": "0.01", "train.epochs": "4",
                 "train.lr_decay_epochs": "", "train.checkpoint_every": "100"}
        trainer.train(tiny_config(data_dir, **extra), run, progress=False)
        student = tf.keras.models.load_model(os.path.join(run, "model.keras"), compile=False)
        batch = next(iter(datasets.build_dataset("human36m", "test", data_dir, batch_size=8,
                                                 config=cfg.pipeline_config())))
        return float(np.mean(student(batch["image"], training=False).numpy()[..., 2]))

    z_teacher, z_gt = mean_depth(1.0), mean_depth(0.0)
    # Ground-truth depths sit around the middle bin (3.5 of 8); the teacher says 0.5.
    assert z_teacher < 2.0 < z_gt, (z_teacher, z_gt)


def test_teacher_mismatch_errors(data_dir, tmp_path):
    teacher_path = str(tmp_path / "teacher.keras")
    _constant_teacher(teacher_path)
    with pytest.raises(ValueError, match="input_size"):
        trainer.load_teacher(teacher_path, tiny_config(data_dir, **{"model.input_size": "96"}))
    with pytest.raises(FileNotFoundError, match="teacher model not found"):
        trainer.load_teacher(str(tmp_path / "nope.keras"), tiny_config(data_dir))
    with pytest.raises(ValueError, match="distill_alpha"):
        tiny_config(data_dir, **{"train.distill_alpha": "1.5"})


def test_heatmap_regulariser_trains(data_dir, tmp_path):
    cfg = tiny_config(data_dir, **{"train.heatmap_loss_weight": "1.0",
                                   "train.epochs": "1", "train.steps_per_epoch": "4"})
    summary = trainer.train(cfg, str(tmp_path / "run"), progress=False)
    assert summary["steps"] == 4 and np.isfinite(summary["final_loss"])
    with pytest.raises(ValueError, match="heatmap_sigma"):
        tiny_config(data_dir, **{"train.heatmap_sigma": "0"})


# ----------------------------------------------------------------------------- MoVNect

MOVNECT_TINY = {"model.input_size": "64", "data.train": "human36m+mpii",
                "data.test": "human36m", "train.batch_size": "4", "train.epochs": "1",
                "train.steps_per_epoch": "6", "train.checkpoint_every": "3",
                "train.log_every": "2", "train.lr_decay_epochs": "", "data.shuffle_buffer": "16"}


def movnect_config(data_dir, **extra):
    return config_lib.make_config("movnect", None,
                                  dict(MOVNECT_TINY, **{"data.data_dir": data_dir}, **extra))


def test_movnect_config_defaults_and_errors(tmp_path):
    cfg = config_lib.make_config("movnect", None, {"model.variant": "C",
                                                   "model.input_size": "128"})
    assert cfg.is_movnect and cfg.model.variant == "C" and cfg.model.num_joints == 15
    assert cfg.data.skeleton == "movnect"
    pipe = cfg.pipeline_config()
    assert (pipe.input_size, pipe.heatmap_size, pipe.skeleton) == (128, 16, "movnect")
    cfg.save(str(tmp_path))
    loaded = config_lib.ExperimentConfig.load(str(tmp_path))
    assert loaded.to_dict() == cfg.to_dict() and loaded.is_movnect
    with pytest.raises(ValueError, match="has 18 joints but the model predicts 15"):
        config_lib.make_config("movnect", None, {"data.skeleton": "h36m"})
    with pytest.raises(ValueError, match="heatmap_loss_weight is a MobileHumanPose option"):
        config_lib.make_config("movnect", None, {"train.heatmap_loss_weight": "1"})
    with pytest.raises(ValueError, match="invalid MoVNect config"):
        config_lib.make_config("movnect", None, {"model.variant": "D"})
    with pytest.raises(ValueError, match="base_weights is a MoVNect option"):
        config_lib.make_config("xs", None, {"train.base_weights": "imagenet"})
    with pytest.raises(ValueError, match="unknown variant"):
        config_lib.make_config("movnet", None, {})


def _numpy_readout(out, unit_mm=100.0):
    """Independent read-out: argmax of each heatmap, X/Y/Z maps read there, x unit."""
    b, h, w, c = out.shape
    j = c // 4
    joints = np.zeros((b, j, 3))
    for n in range(b):
        for k in range(j):
            iy, ix = np.unravel_index(np.argmax(out[n, :, :, k]), (h, w))
            joints[n, k] = [out[n, iy, ix, j + k], out[n, iy, ix, 2 * j + k],
                            out[n, iy, ix, 3 * j + k]]
    return joints * unit_mm


def test_movnect_step_loss_against_numpy(data_dir):
    cfg = movnect_config(data_dir)
    batch = next(iter(datasets.build_dataset(
        "human36m", "train", data_dir, training=True, batch_size=4,
        config=cfg.pipeline_config(), keys=trainer.MOVNECT_KEYS)))
    assert set(batch) == set(trainer.MOVNECT_KEYS)
    vis = batch["vis"].numpy()
    assert vis.shape == (4, 15) and vis.sum() > 0
    h = cfg.model.heatmap_size
    zeros = tf.zeros([4, h, h, 60])
    # Hand computation of the paper's losses for an all-zero prediction.
    xy = batch["coords"].numpy()[..., :2]
    joints = batch["joints_cam"].numpy()
    rel = (joints - joints[:, 14:15]) / 100.0
    grid = np.arange(h, dtype=np.float64)
    gx = np.exp(-(grid[None, None] - xy[..., :1]) ** 2 / 2)           # [B, J, w]
    gy = np.exp(-(grid[None, None] - xy[..., 1:2]) ** 2 / 2)          # [B, J, h]
    hm = gy[:, :, :, None] * gx[:, :, None, :] * vis[..., None, None]  # [B, J, h, w]
    l_hm = np.mean(np.sqrt((hm ** 2).sum((2, 3))) * vis)
    hd = batch["have_depth"].numpy()
    loc_norm = np.sqrt(((hm[..., None] * (rel * vis[..., None])[:, :, None, None, :]) ** 2)
                       .sum((2, 3, 4)))
    l_lm = np.mean((loc_norm * vis * hd[:, None]).sum(1))
    got = float(trainer.movnect_step_loss(cfg, batch, zeros))
    np.testing.assert_allclose(got, l_hm + l_lm, rtol=1e-4)
    # A perfect prediction has zero loss; with distill_alpha=1 only the teacher counts.
    from mhp_tf.modeling import movnect
    targets = movnect.movnect_targets(batch["coords"][..., :2], joints - joints[:, 14:15],
                                      batch["vis"], h)
    assert float(trainer.movnect_step_loss(cfg, batch, targets)) < 1e-5
    teacher_only = movnect_config(data_dir, **{"train.distill_alpha": "1.0"})
    assert float(trainer.movnect_step_loss(teacher_only, batch, zeros, zeros)) == 0.0
    assert float(trainer.movnect_step_loss(teacher_only, batch, zeros, targets)) > 0.1


def test_movnect_trains_resumes_and_evaluates(data_dir, tmp_path):
    from mhp_tf.evaluation import evaluator

    cfg = movnect_config(data_dir)
    model_dir = str(tmp_path / "movnect")
    first = trainer.train(cfg, model_dir, max_steps=3, progress=False)
    summary = trainer.train(cfg, model_dir, progress=False)  # resumes at step 3
    assert first["steps"] == 3 and summary["steps"] == 6 and summary["steps_this_run"] == 3
    assert np.isfinite(summary["final_loss"])
    model = tf.keras.models.load_model(os.path.join(model_dir, "model.keras"), compile=False)
    assert model.movnect_config == cfg.model

    result = evaluator.evaluate(model, "human36m", "test", data_dir, cfg.pipeline_config(),
                                batch_size=8, progress=False)
    # Independently: numpy read-out vs the ground truth, root-relative, mean over joints.
    pred, gt = [], []
    for batch in datasets.build_dataset("human36m", "test", data_dir, batch_size=8,
                                        config=cfg.pipeline_config()):
        keep = batch["have_depth"].numpy() > 0
        pred.append(_numpy_readout(model(batch["image"], training=False).numpy())[keep])
        gt.append(batch["joints_cam"].numpy()[keep])
    pred, gt = np.concatenate(pred), np.concatenate(gt)
    gt = gt - gt[:, 14:15]
    pred = pred - pred[:, 14:15]
    expected = np.linalg.norm(pred - gt, axis=-1).mean()
    assert result["num_examples"] == len(gt)
    np.testing.assert_allclose(result["mpjpe"], expected, rtol=1e-4)

    # The evaluation command reads a MoVNect run folder the same way.
    out = str(tmp_path / "eval.json")
    code = ("import fakedata; fakedata.install()\n"
            "from absl import app\nfrom mhp_tf import evaluate\n"
            "evaluate.define_flags()\napp.run(evaluate.main)\n")
    proc = subprocess.run([sys.executable, "-c", code, f"--model_dir={model_dir}",
                           "--flip_test=none", f"--output={out}"], capture_output=True,
                          text=True, env=_env(), cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out) as f:
        np.testing.assert_allclose(json.load(f)["mpjpe"], expected, rtol=1e-4)


def test_movnect_teacher(data_dir, tmp_path):
    from mhp_tf.modeling import movnect

    teacher_path = str(tmp_path / "teacher.keras")
    movnect.build_movnect("C", input_size=64).save(teacher_path)
    cfg = movnect_config(data_dir, **{"train.teacher": teacher_path})
    teacher, scale = trainer.load_teacher(teacher_path, cfg)
    assert scale is None and teacher.movnect_config.variant == "C"
    summary = trainer.train(cfg, str(tmp_path / "student"), max_steps=2, progress=False)
    assert np.isfinite(summary["final_loss"])
    with pytest.raises(ValueError, match="input_size"):
        trainer.load_teacher(teacher_path, movnect_config(data_dir, **{"model.input_size": "96"}))
    with pytest.raises(ValueError, match="not a MoVNect model"):
        mhp_path = str(tmp_path / "mhp.keras")
        _constant_teacher(mhp_path)
        trainer.load_teacher(mhp_path, cfg)


def test_movnect_base_weights_from_file(tmp_path):
    from mhp_tf.modeling import movnect

    model = movnect.build_movnect("A", input_size=64)
    source = tf.keras.applications.MobileNetV2(input_shape=(64, 64, 3), include_top=False,
                                               weights=None)
    path = str(tmp_path / "mobilenet_v2.h5")
    source.save_weights(path)
    copied = trainer.load_base_weights(model, path)
    assert copied >= 50
    for name in ("Conv1", "block_12_project", "block_12_depthwise_BN"):
        for a, b in zip(model.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError, match="base_weights"):
        trainer.load_base_weights(model, str(tmp_path / "missing.h5"))
