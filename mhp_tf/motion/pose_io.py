"""Loading pose sequences for the motion export, gap filling and axis conventions.

Formats read by :func:`load_poses`:

* ``.npy``: an array ``(T, J, 3)`` (one person; J = 18 H36M joints, or 17 without Thorax).
* ``.npz``: the array under ``poses3d`` (or the file's only array).
* ``.json``: per-frame records, read by :func:`load_pose_json`.

The per-frame JSON (as written by a demo running the model on a video)::

    {"fps": 30.0,                      # optional
     "units": "mm",                    # optional: "mm" (default) or "m"
     "joint_names": ["Pelvis", ...],   # optional, default H36M-18
     "frames": [
        {"frame": 0, "timestamp": 0.0,             # optional
         "poses3d": [[[x, y, z], ...], ...],       # one (J, 3) list per detected person
         "track_ids": [7, ...]},                   # optional, one per person
        ...]}

A bare list of frame records is accepted too, and ``poses3d`` may hold a single ``(J, 3)``
pose. One person is followed: the one with ``track_id`` when given, else the
``person``-th pose of each frame. Frames without it give NaN rows (fill them with
:func:`fill_missing`). Coordinates are the model's camera frame by default: x right, y down,
z forward (away from the camera), in millimetres.
"""

import json
import os
from typing import Optional, Sequence, Tuple

import numpy as np

from mhp_tf import skeletons

# Rotations taking each input "up" convention to the rig frame (Y up). "-y": camera
# coordinates (y down, z forward) -> a half turn about x, so a person facing the camera
# faces +Z. "z": Z-up worlds (the synthetic dataset's mocap) -> (x, z, -y).
UP_ROTATIONS = {
    "y": np.eye(3),
    "-y": np.diag([1.0, -1.0, -1.0]),
    "z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
    "-z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),
}
UNITS_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0}


def _up_rotation(up: str) -> np.ndarray:
    try:
        return UP_ROTATIONS[up]
    except KeyError:
        raise ValueError(f"up must be one of {sorted(UP_ROTATIONS)}, got {up!r}") from None


def to_yup(points, up: str = "-y") -> np.ndarray:
    """Rotate points ``(..., 3)`` whose up axis is ``up`` into the Y-up rig frame."""
    return np.asarray(points, np.float64) @ _up_rotation(up).T


def from_yup(points, up: str = "-y") -> np.ndarray:
    """Inverse of :func:`to_yup`."""
    return np.asarray(points, np.float64) @ _up_rotation(up)


def fill_missing(points) -> np.ndarray:
    """Fill frames with NaN (any NaN in a frame marks the whole frame missing) by linear
    interpolation over time; leading/trailing gaps take the nearest valid frame."""
    P = np.array(points, np.float64)
    valid = np.all(np.isfinite(P.reshape(len(P), -1)), axis=1)
    if not np.any(valid):
        raise ValueError("no frame has a complete pose")
    if np.all(valid):
        return P
    t = np.arange(len(P))
    flat = P.reshape(len(P), -1)
    for k in range(flat.shape[1]):
        flat[:, k] = np.interp(t, t[valid], flat[valid, k])
    return flat.reshape(P.shape)


def _as_pose_list(value):
    arr = np.asarray(value, np.float64) if len(value) else np.zeros((0, 0, 3))
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or (arr.size and arr.shape[-1] != 3):
        raise ValueError(f"poses3d must be (persons, J, 3) or (J, 3), got shape {arr.shape}")
    return arr


def load_pose_json(path: str, person: int = 0, track_id: Optional[int] = None,
                   num_joints: Optional[int] = None):
    """Read the per-frame JSON (module docstring) -> ``(poses (T, J, 3) mm, meta)``.

    ``meta`` holds ``fps`` (or None), ``timestamps`` (array or None), ``joint_names`` and
    ``missing`` (boolean ``(T,)``). Frames without the chosen person are NaN.
    """
    with open(path, "r", encoding="utf-8") as f:
        data = json.load(f)
    header = data if isinstance(data, dict) else {}
    frames = data.get("frames") if isinstance(data, dict) else data
    if not isinstance(frames, list) or not frames:
        raise ValueError(f"{path}: expected a non-empty list of frames (or {{'frames': [...]}})")
    scale = UNITS_TO_MM.get(header.get("units", "mm"))
    if scale is None:
        raise ValueError(f"{path}: units must be one of {sorted(UNITS_TO_MM)}")
    joint_names = header.get("joint_names")
    J = len(joint_names) if joint_names else num_joints
    poses, stamps = [], []
    for k, rec in enumerate(frames):
        if not isinstance(rec, dict) or "poses3d" not in rec:
            raise ValueError(f"{path}: frame {k} has no 'poses3d'")
        arr = _as_pose_list(rec["poses3d"])
        pick = None
        if track_id is not None:
            ids = rec.get("track_ids")
            if ids is not None and track_id in ids:
                pick = arr[list(ids).index(track_id)]
        elif person < len(arr):
            pick = arr[person]
        if pick is not None:
            if J is None:
                J = pick.shape[0]
            elif pick.shape[0] != J:
                raise ValueError(f"{path}: frame {k} has {pick.shape[0]} joints, expected {J}")
        poses.append(pick)
        stamps.append(rec.get("timestamp", rec.get("time")))
    if J is None:
        raise ValueError(f"{path}: no frame contains the requested person")
    out = np.full((len(poses), J, 3), np.nan)
    for k, p in enumerate(poses):
        if p is not None:
            out[k] = p * scale
    missing = ~np.all(np.isfinite(out.reshape(len(out), -1)), axis=1)
    timestamps = None
    if all(s is not None for s in stamps):
        timestamps = np.asarray(stamps, np.float64)
    names = tuple(joint_names) if joint_names else (
        skeletons.H36M.joints if J == 18 else skeletons.H36M.joints[:J])
    meta = {"fps": header.get("fps"), "timestamps": timestamps, "joint_names": names,
            "missing": missing}
    return out, meta


def load_poses(path: str, person: int = 0, track_id: Optional[int] = None,
               units: str = "mm") -> Tuple[np.ndarray, dict]:
    """Poses ``(T, J, 3)`` in mm from ``.npy`` / ``.npz`` (in ``units``) or ``.json``.

    Returns ``(poses, meta)`` like :func:`load_pose_json` (for arrays, ``fps`` and
    ``timestamps`` are None).
    """
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        return load_pose_json(path, person=person, track_id=track_id)
    if ext == ".npy":
        arr = np.load(path, allow_pickle=False)
    elif ext == ".npz":
        with np.load(path, allow_pickle=False) as data:
            key = "poses3d" if "poses3d" in data.files else (
                data.files[0] if len(data.files) == 1 else None)
            if key is None:
                raise ValueError(f"{path}: expected an array 'poses3d' or a single array")
            arr = data[key]
    else:
        raise ValueError(f"{path}: unsupported pose file (use .npy, .npz or .json)")
    arr = np.asarray(arr, np.float64)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"{path}: expected poses (T, J, 3), got {arr.shape}")
    if units not in UNITS_TO_MM:
        raise ValueError(f"units must be one of {sorted(UNITS_TO_MM)}, got {units!r}")
    arr = arr * UNITS_TO_MM[units]
    J = arr.shape[1]
    names: Sequence[str] = skeletons.H36M.joints if J == 18 else skeletons.H36M.joints[:J]
    missing = ~np.all(np.isfinite(arr.reshape(len(arr), -1)), axis=1)
    return arr, {"fps": None, "timestamps": None, "joint_names": tuple(names),
                 "missing": missing}
