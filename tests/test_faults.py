"""Training's fault handling, and the PyTorch-exact Adam the paper recipes use.

Each fault is injected and its outcome checked: a truncated newest checkpoint
(resume from the older one gives an uninterrupted run's weights), a second run
on a folder and a stale lock, a resume with a changed config (refused, fields
listed, nothing written), SIGTERM (checkpoint saved, clean exit with a message).

Adam: TorchAdam against an independent float64 NumPy implementation of
torch.optim.Adam's formula and against torch.optim.Adam itself, with a float32
round-off bound accumulated along the same computation.
"""

import errno
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from mhp_tf.training import optimizers
from mhp_tf.training import run_guard
from mhp_tf.training import trainer
from training_helpers import TESTS
from training_helpers import TINY
from training_helpers import env
from training_helpers import tiny_config

U = 2.0 ** -24  # float32 unit round-off
B1, B2, EPS = 0.9, 0.999, 1e-8
LR_STEPS = ([4], [1e-3, 1e-4])  # the learning rate drops after step 4


def _lr(step):  # step: 1-based (the schedule sees iterations = step - 1)
    # PiecewiseConstantDecay: values[0] while iterations <= boundaries[0].
    return LR_STEPS[1][0] if step - 1 <= LR_STEPS[0][0] else LR_STEPS[1][1]


def _problem(seed, n=12, size=200):
    rng = np.random.default_rng(seed)
    p0 = rng.normal(size=size).astype(np.float32)
    # Gradient magnitudes from 1e-8 to 1: where eps matters and where it does not.
    scale = 10.0 ** rng.uniform(-8, 0, size=size)
    grads = (rng.normal(size=(n, size)) * scale).astype(np.float32)
    return p0, grads


def _reference(p0, grads):
    """torch.optim.Adam's formula in float64, and a first-order bound on the
    round-off of a float32 implementation of it (each op <= 1 unit round-off
    relative to the magnitudes it combines; 8 for the scalar factors)."""
    p, m, v = (p0.astype(np.float64), np.zeros(p0.shape), np.zeros(p0.shape))
    dp = dm = dv = np.zeros(p0.shape)
    for t, g in enumerate(grads.astype(np.float64), start=1):
        dm = dm + 3 * U * (np.abs(m) + np.abs(g))
        dv = dv + 4 * U * (v + g * g)
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        step_size = _lr(t) / (1 - B1 ** t)
        c2 = np.sqrt(1 - B2 ** t)
        denom = np.sqrt(v) / c2 + EPS
        update = step_size * m / denom
        d_denom = dv / (2 * np.sqrt(v) * c2) + 3 * U * denom
        du = step_size * dm / denom + np.abs(update) * d_denom / denom + 8 * U * np.abs(update)
        p = p - update
        dp = dp + du + U * np.abs(p)
    return p, dp


def _run_tf(optimizer, p0, grads, var=None):
    var = tf.Variable(p0) if var is None else var

    @tf.function
    def step(g):
        optimizer.apply_gradients([(g, var)])

    for g in grads:
        step(tf.constant(g))
    return var.numpy()


def _schedule():
    return tf.keras.optimizers.schedules.PiecewiseConstantDecay(*LR_STEPS)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_torch_adam_matches_pytorch_formula(seed):
    p0, grads = _problem(seed)
    want, bound = _reference(p0, grads)
    got = _run_tf(optimizers.TorchAdam(_schedule()), p0, grads)
    err = np.abs(got - want)
    assert (err <= 2 * bound).all(), f"max err/bound {np.max(err / bound):.2f}"
    # Keras' Adam (epsilon added before the bias correction) is far outside the bound:
    # the check can tell the two apart.
    keras = _run_tf(tf.keras.optimizers.Adam(_schedule()), p0, grads)
    assert (np.abs(keras - want) > 2 * bound).mean() > 0.3


def test_torch_adam_matches_torch_optim_adam():
    torch = pytest.importorskip("torch")
    p0, grads = _problem(7)
    _, bound = _reference(p0, grads)
    param = torch.nn.Parameter(torch.tensor(p0))
    opt = torch.optim.Adam([param], lr=LR_STEPS[1][0], betas=(B1, B2), eps=EPS)
    for t, g in enumerate(grads, start=1):
        for group in opt.param_groups:
            group["lr"] = _lr(t)
        param.grad = torch.tensor(g)
        opt.step()
    want = param.detach().numpy()
    got = _run_tf(optimizers.TorchAdam(_schedule()), p0, grads)
    # Both are float32 implementations of the same formula: each within the bound of it.
    assert (np.abs(got - want) <= 4 * bound).all()


def test_torch_adam_slots_survive_a_checkpoint(tmp_path):
    """Restoring m, v and the step counter continues exactly where the run was."""
    p0, grads = _problem(3)
    straight = _run_tf(optimizers.TorchAdam(_schedule()), p0, grads)

    var = tf.Variable(p0)
    opt = optimizers.TorchAdam(_schedule())
    _run_tf(opt, None, grads[:5], var)
    path = tf.train.Checkpoint(var=var, optimizer=opt).save(str(tmp_path / "ckpt"))
    var2 = tf.Variable(np.zeros_like(p0))
    opt2 = optimizers.TorchAdam(_schedule())
    opt2.build([var2])
    tf.train.Checkpoint(var=var2, optimizer=opt2).restore(path).assert_consumed()
    assert int(opt2.iterations.numpy()) == 5
    np.testing.assert_array_equal(_run_tf(opt2, None, grads[5:], var2), straight)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="train.optimizer='sgd'"):
        optimizers.make_optimizer("sgd", 1e-3)


# ----------------------------------------------------------------------------- faults

def _files(model_dir):
    """{path: (size, mtime)} of every file under model_dir but the lock."""
    out = {}
    for root, _, names in os.walk(model_dir):
        for name in names:
            if name != run_guard.LOCK_NAME:
                path = os.path.join(root, name)
                out[path] = (os.path.getsize(path), os.stat(path).st_mtime_ns)
    return out


@pytest.mark.slow
def test_truncated_newest_checkpoint_resumes_from_the_older_one(data_dir, tmp_path, capsys):
    cfg = tiny_config(data_dir, **{"train.epochs": "1", "train.checkpoint_every": "2",
                                   "train.deterministic": "true"})
    full = trainer.train(cfg, str(tmp_path / "full"), max_steps=6, progress=False)["model"]
    run = str(tmp_path / "run")
    trainer.train(cfg, run, max_steps=4, progress=False)
    state = tf.train.get_checkpoint_state(os.path.join(run, "checkpoints"))
    older = int(state.all_model_checkpoint_paths[-2].rsplit("-", 1)[1])
    assert state.model_checkpoint_path.endswith("ckpt-4") and older < 4
    (data,) = glob.glob(os.path.join(run, "checkpoints", "ckpt-4.data-*"))
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    capsys.readouterr()
    out = trainer.train(cfg, run, max_steps=6, progress=False)
    warning = capsys.readouterr().out
    assert "checkpoint " + os.path.join(run, "checkpoints", "ckpt-4") + " is corrupt" in warning
    assert out["steps"] == 6 and out["steps_this_run"] == 6 - older  # resumed from the older
    assert os.path.exists(data + ".corrupt")  # set aside, not deleted
    for a, b in zip(full.weights, out["model"].weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)


def _hold_lock(model_dir):
    code = ("import sys, time\n"
            "from mhp_tf.training import run_guard\n"
            "run_guard.RunLock(sys.argv[1]).acquire()\n"
            "print('locked', flush=True)\n"
            "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, model_dir], env=env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_is_refused_and_a_dead_runs_lock_taken_over(data_dir, tmp_path):
    run = str(tmp_path / "run")
    os.makedirs(run)
    holder = _hold_lock(run)
    try:
        with pytest.raises(run_guard.RunLocked,
                           match=rf"in use by another training run \(pid {holder.pid} on host "
                                 rf"{socket.gethostname()}, started 2"):
            trainer.train(tiny_config(data_dir), run, progress=False)
        assert not os.path.exists(os.path.join(run, "config.json"))
    finally:
        holder.kill()  # SIGKILL: the lock file stays behind, naming the dead process
        holder.wait()
    lock_file = os.path.join(run, run_guard.LOCK_NAME)
    assert json.load(open(lock_file))["pid"] == holder.pid
    with run_guard.RunLock(run):
        assert json.load(open(lock_file))["pid"] == os.getpid()


def test_pid_check_where_flock_is_unavailable(tmp_path, monkeypatch):
    import fcntl

    def no_flock(*args):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    run = str(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_file = os.path.join(run, run_guard.LOCK_NAME)
    host = socket.gethostname()
    with open(lock_file, "w") as f:
        json.dump({"pid": dead.pid, "host": host, "started": "earlier"}, f)
    with run_guard.RunLock(run):  # dead pid on this host: taken over
        assert json.load(open(lock_file))["pid"] == os.getpid()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with open(lock_file, "w") as f:
            json.dump({"pid": alive.pid, "host": host, "started": "now"}, f)
        with pytest.raises(run_guard.RunLocked, match=f"pid {alive.pid} on host {host}"):
            run_guard.RunLock(run).acquire()
        with open(lock_file, "w") as f:
            json.dump({"pid": alive.pid, "host": host + "-elsewhere", "started": "now"}, f)
        with pytest.raises(run_guard.RunLocked, match="cannot tell whether it still runs"):
            run_guard.RunLock(run).acquire()
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.slow
def test_resume_with_a_changed_config_is_refused_before_writing(data_dir, tmp_path):
    run = str(tmp_path / "run")
    trainer.train(tiny_config(data_dir), run, max_steps=2, progress=False)
    before = _files(run)
    changed = tiny_config(data_dir, **{"train.batch_size": "4", "data.train": "human36m",
                                       "model.depth_bins": "16", "train.epochs": "3",
                                       "train.log_every": "1"})
    with pytest.raises(run_guard.ConfigChanged) as e:
        trainer.train(changed, run, progress=False)
    listed = str(e.value).split("Fields that may change")[0]
    assert "different data/model/train config" in listed
    for line in ("data.train: 'human36m+mpii' -> 'human36m'", "model.depth_bins: 8 -> 16",
                 "train.batch_size: 8 -> 4"):
        assert line in listed
    assert "train.epochs" not in listed and "train.log_every" not in listed
    assert _files(run) == before

    # A folder written before train.optimizer existed trained with Keras' Adam.
    config_path = os.path.join(run, "config.json")
    saved = json.load(open(config_path))
    del saved["train"]["optimizer"]
    with open(config_path, "w") as f:
        json.dump(saved, f)
    with pytest.raises(run_guard.ConfigChanged,
                       match="train.optimizer: 'adam_keras' -> 'adam_torch'"):
        trainer.train(tiny_config(data_dir), run, progress=False)

    # Fields that may change do not stop a resume.
    allowed = tiny_config(data_dir, **{"train.epochs": "3", "train.log_every": "1",
                                       "train.optimizer": "adam_keras"})
    out = trainer.train(allowed, run, max_steps=3, progress=False)
    assert out["steps"] == 3 and out["steps_this_run"] == 1


SIGNAL_SCRIPT = r"""
import sys
sys.path.insert(0, {tests!r})
import fakedata
fakedata.install()
from absl import app
from mhp_tf import train
train.define_flags()
app.run(train.main, argv=["train"] + sys.argv[1:])
"""


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_cleanly(data_dir, tmp_path):
    script = tmp_path / "cli.py"
    script.write_text(SIGNAL_SCRIPT.format(tests=TESTS))
    run = str(tmp_path / "run")
    overrides = dict(TINY, **{"train.epochs": "1", "train.steps_per_epoch": "100000",
                              "train.checkpoint_every": "100000"})
    args = [sys.executable, str(script), f"--model_dir={run}", f"--data_dir={data_dir}",
            "--noevaluate"] + [f"--set={k}={v}" for k, v in overrides.items()]
    proc = subprocess.Popen(args, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 300
    # train/ is created once the model is built: the signal handlers are in place.
    while not os.path.isdir(os.path.join(run, "train")) and time.time() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.1)
    time.sleep(2)  # let it take a few steps
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "Traceback" not in err
    message = re.search(r"^Training stopped by SIGTERM at step (\d+)/100000; checkpoint saved to "
                        r"(\S+)\. Re-run the same command to resume\.$", out, re.M)
    assert message, out[-3000:]
    state = tf.train.get_checkpoint_state(os.path.join(run, "checkpoints"))
    assert state.model_checkpoint_path == message[2]
    assert message[2].endswith(f"ckpt-{message[1]}") and int(message[1]) >= 1
    assert not os.path.exists(os.path.join(run, "model.keras"))  # not a finished run


@pytest.mark.parametrize("relative", [False, True])
def test_newest_intact_checkpoint_with_absolute_and_relative_dirs(tmp_path, monkeypatch, relative):
    """The state file's entries come back joined with the folder; a relative --model_dir
    must find its checkpoints (not look for run/checkpoints/run/checkpoints/ckpt-N), and a
    truncated newest one is set aside for the older."""
    monkeypatch.chdir(tmp_path)
    ckpt_dir = os.path.join("run", "checkpoints") if relative else str(tmp_path / "run" / "ck")
    step = tf.Variable(0, dtype=tf.int64)
    weights = tf.Variable(tf.random.stateless_normal([64, 64], seed=[1, 2]))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step, w=weights), ckpt_dir,
                                         max_to_keep=3)
    for n in (1, 2):
        step.assign(n)
        manager.save(checkpoint_number=n)
    assert run_guard.newest_intact_checkpoint(ckpt_dir) == os.path.join(ckpt_dir, "ckpt-2")
    assert not glob.glob(os.path.join(ckpt_dir, "*.corrupt"))
    (data,) = glob.glob(os.path.join(ckpt_dir, "ckpt-2.data-*"))
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    assert run_guard.newest_intact_checkpoint(ckpt_dir) == os.path.join(ckpt_dir, "ckpt-1")
    assert os.path.exists(data + ".corrupt")
    state = tf.train.get_checkpoint_state(ckpt_dir)
    assert state.model_checkpoint_path == os.path.join(ckpt_dir, "ckpt-1")
    # every checkpoint unreadable: no resume point, no crash
    (data,) = glob.glob(os.path.join(ckpt_dir, "ckpt-1.data-*"))
    with open(data, "r+b") as f:
        f.truncate(10)
    assert run_guard.newest_intact_checkpoint(ckpt_dir) is None
    assert tf.train.get_checkpoint_state(ckpt_dir) is None
