"""What keeps a training run folder consistent when things go wrong.

A run folder (``--model_dir``) is resumed by re-running the same command, so
every way a run can be interrupted or misused must leave it resumable and
must never silently continue a different run:

* :class:`RunLock` -- one run per folder. A second process refuses at start,
  naming the running one (pid, host, start time). The lock is an ``flock`` on
  ``<model_dir>/.lock``: the kernel drops it when its process dies, so a
  killed run never leaves it stuck (on filesystems without ``flock`` a pid
  check on the same host stands in).
* :func:`check_resume_config` -- resuming with a config that changes the run
  (model, data, batch size, schedule, ...) is refused before anything is
  written, listing every differing field; :data:`MAY_CHANGE_ON_RESUME` lists
  what may change (length of the run, logging, checkpointing, evaluation,
  where the data lives, how the step is executed).
* :func:`newest_intact_checkpoint` -- a truncated or corrupt newest checkpoint
  is reported by file name and set aside (renamed ``*.corrupt``, never
  deleted); the run resumes from the newest one that reads back completely.
* :class:`StopSignals` -- SIGINT / SIGTERM ask the loop to stop after the
  current step; the trainer then saves a checkpoint and raises
  :class:`TrainingInterrupted` with a message saying how to resume.
* :func:`atomic_write` -- files are written to a temporary name and renamed,
  so a crash never leaves a half-written ``config.json`` or ``model.keras``
  (checkpoints themselves are written this way by ``tf.train.CheckpointManager``).
"""

import contextlib
import datetime
import errno
import glob
import json
import os
import signal
import socket
import threading
from typing import Any, Dict, List, Optional

from absl import logging

LOCK_NAME = ".lock"

# Fields (section.field) that may differ between a run and its resumption.
MAY_CHANGE_ON_RESUME = frozenset({
    "train.epochs", "train.checkpoint_every", "train.keep_checkpoints", "train.log_every",
    "train.eval_every_epochs", "train.eval_max_examples", "train.strategy", "train.tpu",
    "train.jit_compile", "train.deterministic", "train.init_weights",
    "data.data_dir", "data.test", "data.test_split",
})
# Fields a run folder written before they existed implicitly had with another value
# than today's default: resuming such a run compares against this value.
LEGACY_VALUES = {"train.optimizer": "adam_keras"}


class RunLocked(RuntimeError):
    """Another process is training in this run folder."""


class ConfigChanged(ValueError):
    """The config given differs from the run's in fields that change the run."""


class TrainingInterrupted(RuntimeError):
    """SIGINT/SIGTERM stopped training after a checkpoint was saved."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


# ----------------------------------------------------------------------------- writes

@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w"):
    """``open(path, mode)`` that appears at ``path`` only once complete."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: str, obj: Any):
    with atomic_write(path) as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=float)
        f.write("\n")


def save_keras_model(model, path: str):
    """``model.save(path)`` through a temporary file in the same folder."""
    root, ext = os.path.splitext(path)
    tmp = f"{root}.tmp-{os.getpid()}{ext}"
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ----------------------------------------------------------------------------- lock

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _describe(info: Dict[str, Any]) -> str:
    return (f"pid {info.get('pid')} on host {info.get('host')}, started "
            f"{info.get('started', '?')}")


class RunLock:
    """Exclusive lock on a run folder, held for the life of the process (or until
    :meth:`release`). ``RunLock(model_dir).acquire()`` raises :class:`RunLocked`
    naming the holder."""

    def __init__(self, model_dir: str):
        self.path = os.path.join(model_dir, LOCK_NAME)
        self._fd = None

    def _read(self) -> Dict[str, Any]:
        try:
            with open(self.path) as f:
                return json.loads(f.read() or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self) -> "RunLock":
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLocked(f"{os.path.dirname(self.path)} is in use by another training run "
                            f"({_describe(self._read())}); wait for it to finish or stop it, "
                            f"or train in another --model_dir") from None
        except OSError as e:
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                os.close(fd)
                raise
            self._pid_check()  # no flock on this filesystem
        info = self._read()
        if info and info.get("pid") != os.getpid():
            logging.info("Taking over the lock of a run that ended (%s)", _describe(info))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        }).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def _pid_check(self):
        info = self._read()
        if not info or info.get("pid") == os.getpid():
            return
        if info.get("host") != socket.gethostname():
            raise RunLocked(f"{os.path.dirname(self.path)} is locked by {_describe(info)} and "
                            f"this filesystem cannot tell whether it still runs; if it does "
                            f"not, delete {self.path}")
        if _pid_alive(int(info.get("pid", -1))):
            raise RunLocked(f"{os.path.dirname(self.path)} is in use by another training run "
                            f"({_describe(info)})")

    def release(self):
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


# ----------------------------------------------------------------------------- config

def _flatten(d: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    out = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and prefix == "":
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def config_differences(saved: Dict[str, Any], current: Dict[str, Any]) -> List[str]:
    """``"field: saved -> current"`` for each field that differs and may not change
    on resume. ``saved`` is the run's ``config.json`` as read (fields it lacks
    compare as :data:`LEGACY_VALUES` or else as ``current``'s defaults, which
    ``ExperimentConfig.from_dict`` fills in); both JSON-normalised."""
    saved, current = (_flatten(json.loads(json.dumps(d))) for d in (saved, current))
    diffs = []
    for name in sorted(set(saved) | set(current)):
        if name in MAY_CHANGE_ON_RESUME:
            continue
        before, after = saved.get(name, "<absent>"), current.get(name, "<absent>")
        if before != after:
            diffs.append(f"{name}: {before!r} -> {after!r}")
    return diffs


def check_resume_config(model_dir: str, cfg, config_cls) -> bool:
    """Refuse (:class:`ConfigChanged`) to resume a run in ``model_dir`` with a config
    that changes it. Returns whether ``model_dir`` holds a run (a ``config.json``)."""
    path = os.path.join(model_dir, "config.json")
    if not os.path.exists(path):
        return False
    with open(path) as f:
        raw = json.load(f)
    saved = config_cls.from_dict(raw).to_dict()
    for name, value in LEGACY_VALUES.items():
        section, field = name.split(".")
        if field not in raw.get(section, {}):
            saved[section][field] = value
    diffs = config_differences(saved, cfg.to_dict())
    if diffs:
        sections = sorted({d.split(".")[0] for d in diffs})
        raise ConfigChanged(
            f"{model_dir} holds a run with a different {'/'.join(sections)} config; resuming "
            f"with these changes would make it a different run:\n  " + "\n  ".join(diffs)
            + f"\nUse a new --model_dir, or the run's own settings ({path}). Fields that may "
            f"change on resume: {', '.join(sorted(MAY_CHANGE_ON_RESUME))}.")
    return True


# ----------------------------------------------------------------------------- checkpoints

def _checkpoint_readable(prefix: str) -> Optional[str]:
    """None if every tensor of checkpoint ``prefix`` reads back (checksums verified),
    else the error."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as e:  # DataLossError, NotFoundError, OutOfRangeError, ...
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return None


def newest_intact_checkpoint(ckpt_dir: str) -> Optional[str]:
    """The newest checkpoint in ``ckpt_dir`` that reads back completely.

    Newer ones that do not are reported (a warning naming their files), renamed
    ``<file>.corrupt`` and dropped from the ``checkpoint`` state file, so the
    run continues (and later saves) from the intact one."""
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(ckpt_dir) if os.path.isdir(ckpt_dir) else None
    if state is None:
        return None
    # get_checkpoint_state has already joined relative entries with ckpt_dir (joining
    # them again broke every resume from a relative --model_dir: no checkpoint was found)
    paths = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
    if state.model_checkpoint_path not in paths:
        paths.append(state.model_checkpoint_path)
    good = list(paths)
    for prefix in reversed(paths):
        error = _checkpoint_readable(prefix)
        if error is None:
            break
        files = sorted(glob.glob(prefix + ".*"))
        logging.warning("Checkpoint %s is unreadable (%s); files %s set aside as *.corrupt, "
                        "resuming from an older checkpoint", prefix, error, files)
        print(f"WARNING: checkpoint {prefix} is corrupt or truncated ({error}); "
              f"resuming from the previous one")
        for name in files:
            os.replace(name, name + ".corrupt")
        good.remove(prefix)
    if len(good) != len(paths):
        if good:
            tf.compat.v1.train.update_checkpoint_state(
                ckpt_dir, good[-1], all_model_checkpoint_paths=list(good))  # (TF edits it)
        else:  # nothing left to resume from: start afresh
            os.remove(os.path.join(ckpt_dir, "checkpoint"))
    return good[-1] if good else None


# ----------------------------------------------------------------------------- signals

class StopSignals:
    """While active, SIGINT and SIGTERM set :attr:`signum` instead of killing the
    process (a second SIGINT interrupts at once, as usual). Only in the main thread;
    elsewhere it does nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = None
        self._previous = {}

    def _handle(self, signum, frame):
        self.signum = signum
        print(f"\n{signal.Signals(signum).name} received: stopping after this step and "
              f"saving a checkpoint", flush=True)
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
