"""Real motion capture for the synthetic dataset, read out of two pinned PyPI wheels.

Sources (see the project's offline-data notes; licences allow this use):

* ``pybullet==3.2.7`` (zlib; clips from DeepMimic, MIT): 15 clips
  ``pybullet_data/data/motions/humanoid3d_*.txt`` (JSON ``"Frames"``: duration, root position,
  root quaternion (w, x, y, z), then chest q, neck q, right hip q, right knee angle, right
  ankle q, right shoulder q, right elbow angle, and the same for the left side), with the
  skeleton offsets of ``pybullet_data/humanoid/humanoid.urdf``. Joint positions come from our
  own forward kinematics (pybullet is never run). The URDF is drawn at 4x scale (pybullet's
  DeepMimic environment loads it with ``globalScaling=0.25``); the motion files are in metres,
  Y-up, the character facing +x with +z on its right.
* ``holosoma-retargeting==0.1.0`` (Apache-2.0): 5 climbing clips
  ``holosoma_retargeting/demo_data/climb/mocap_climb_seq_*/*joint_positions*.npy``, float32
  ``(T, 53, 3)`` metres, Z-up, joint order ``MOCAP_DEMO_JOINTS`` of
  ``holosoma_retargeting/config_types/data_type.py`` (read from the wheel).

The wheels are fetched with ``pip download --no-deps NAME==VERSION -d CACHE`` into the cache
directory (default ``~/.cache/mhp_tf/mocap``, or ``$MHP_TF_MOCAP_CACHE``), read as zip files,
never installed and never committed. The extracted joints are cached as ``<source>_v1.npz``
(one ``(T, 20, 3)`` float32 array per clip, metres, Z-up world, ground at z = 0, the 20 points
of :data:`mhp_tf_datasets.synthetic.pose.POINTS`).

Mapping onto H36M-18 (+ toes):

===========  ==============================  =======================================
H36M         DeepMimic (URDF joint)          climb mocap (MOCAP_DEMO_JOINTS)
===========  ==============================  =======================================
Pelvis       root                            Hips
R/L_Hip      right/left_hip                  Right/LeftUpLeg
R/L_Knee     right/left_knee                 Right/LeftLeg
R/L_Ankle    right/left_ankle                Right/LeftFoot
R/L_Toe      ankle frame (0.13, -0.045, 0)   Right/LeftToeBase
Torso        chest                           Spine1
Neck         neck                            Neck
Nose         neck frame (0.07, 0.15, 0)      Head + 0.02 up + 0.09 forward (a)
Head (top)   neck frame (0, 0.27, 0)         Head + 0.12 along Neck->Head
R/L_Shoulder right/left_shoulder             Right/LeftArm
R/L_Elbow    right/left_elbow                Right/LeftForeArm
R/L_Wrist    right/left_wrist                Right/LeftHand
Thorax       midpoint of the shoulders       midpoint of the shoulders
===========  ==============================  =======================================

(a) "forward" is the chest's facing direction (spine-up x shoulder axis), made orthogonal to
the Neck->Head direction: the capture has no head orientation. DeepMimic points are in the
rotating joint frames (x forward, y up, z right, metres after scaling).
"""

import ast
import glob
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from typing import Dict, Iterable, List, Optional

import numpy as np

from mhp_tf_datasets.synthetic import pose as pose_lib

CACHE_ENV = "MHP_TF_MOCAP_CACHE"
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "mhp_tf", "mocap")
CACHE_FORMAT = "v1"

# source -> (distribution, version)
SOURCES = {
    "deepmimic": ("pybullet", "3.2.7"),
    "climb": ("holosoma-retargeting", "0.1.0"),
}
# Clips held out for the test split (train/test are split by clip, never by frame).
TEST_CLIPS = frozenset({"deepmimic_dance_b", "deepmimic_kick", "deepmimic_getup_faceup",
                        "climb_seq_4"})
# Clips whose frames are put back on the ground (lowest point at z = 0) before rendering:
# the climber stands and hangs on boxes we do not draw.
GROUNDED_CLIPS_PREFIXES = ("climb_",)

URDF_SCALE = 0.25
DEEPMIMIC_MOTION_RE = re.compile(r"(^|/)pybullet_data/data/motions/humanoid3d_([a-z_0-9]+)\.txt$")
DEEPMIMIC_URDF_SUFFIX = "pybullet_data/humanoid/humanoid.urdf"
CLIMB_NPY_RE = re.compile(r"(^|/)holosoma_retargeting/demo_data/climb/mocap_climb_seq_(\d+)/"
                          r"[^/]*joint_positions[^/]*\.npy$")
CLIMB_JOINTS_SUFFIX = "holosoma_retargeting/config_types/data_type.py"

# DeepMimic frame layout: name -> (start, size); quaternions are (w, x, y, z).
_DM_LAYOUT = {
    "root_pos": (1, 3), "root_rot": (4, 4), "chest": (8, 4), "neck": (12, 4),
    "right_hip": (16, 4), "right_knee": (20, 1), "right_ankle": (21, 4),
    "right_shoulder": (25, 4), "right_elbow": (29, 1), "left_hip": (30, 4),
    "left_knee": (34, 1), "left_ankle": (35, 4), "left_shoulder": (39, 4),
    "left_elbow": (43, 1),
}
_DM_FRAME_SIZE = 44
# Y-up (DeepMimic) -> Z-up world: (x, y, z) -> (x, -z, y).
_YUP_TO_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


class MocapUnavailable(RuntimeError):
    """The motion capture is neither cached nor obtainable; the message says what to do."""


def cache_dir(path: Optional[str] = None) -> str:
    """The mocap cache directory: ``path``, else ``$MHP_TF_MOCAP_CACHE``, else the default."""
    path = path or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    return os.path.abspath(os.path.expanduser(path))


def npz_path(source: str, directory: Optional[str] = None) -> str:
    return os.path.join(cache_dir(directory), f"{source}_{CACHE_FORMAT}.npz")


def is_cached(directory: Optional[str] = None, sources: Iterable[str] = tuple(SOURCES)) -> bool:
    """True when the extracted joints of every source are in the cache."""
    return all(os.path.exists(npz_path(s, directory)) for s in sources)


# ----------------------------------------------------------------------------- archives


class Archive:
    """Read-only access to the members of a wheel/zip or a tar(.gz) file."""

    def __init__(self, path: str):
        self.path = path
        if zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            self._tar = None
            self.names = self._zip.namelist()
        elif tarfile.is_tarfile(path):
            self._zip = None
            self._tar = tarfile.open(path)
            self.names = [m.name for m in self._tar.getmembers() if m.isfile()]
        else:
            raise ValueError(f"{path} is neither a zip/wheel nor a tar archive")

    def read(self, name: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(name)
        return self._tar.extractfile(name).read()

    def find(self, suffix: str) -> str:
        """The one member whose path ends with ``suffix`` (clear error otherwise)."""
        hits = [n for n in self.names if n == suffix or n.endswith("/" + suffix)]
        if not hits:
            raise ValueError(f"{self.path} has no member ending in {suffix}")
        return sorted(hits, key=len)[0]

    def close(self):
        (self._zip or self._tar).close()


def find_archive(source: str, directory: Optional[str] = None) -> Optional[str]:
    """Path of the downloaded wheel/sdist of ``source`` in the cache, or None."""
    dist, version = SOURCES[source]
    stem = re.sub(r"[-_.]+", "_", dist)
    found = []
    for pattern in (f"{stem}-{version}*", f"{dist}-{version}*"):
        found += [p for p in glob.glob(os.path.join(cache_dir(directory), pattern))
                  if p.endswith((".whl", ".zip", ".tar.gz", ".tgz"))]
    found = sorted(set(found), key=lambda p: (not p.endswith(".whl"), p))
    return found[0] if found else None


def download_archive(source: str, directory: Optional[str] = None, timeout: float = 900) -> str:
    """``pip download --no-deps NAME==VERSION -d CACHE``; returns the archive path."""
    dist, version = SOURCES[source]
    target = cache_dir(directory)
    os.makedirs(target, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", f"{dist}=={version}",
           "-d", target]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise MocapUnavailable(f"`{' '.join(cmd)}` failed: {e}") from None
    path = find_archive(source, directory)
    if proc.returncode != 0 or path is None:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        raise MocapUnavailable(
            f"could not download {dist}=={version} for the {source} motion capture "
            f"(`{' '.join(cmd)}` exited {proc.returncode}: {' | '.join(tail)}). Run that command "
            f"where the package index is reachable, or build with mocap=False.")
    return path


# ----------------------------------------------------------------------------- DeepMimic


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of quaternions ``(..., 4)`` in (w, x, y, z) order."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def _axis_angle_matrix(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    half = 0.5 * np.asarray(angle, np.float64)
    q = np.concatenate([np.cos(half)[..., None], np.sin(half)[..., None] * axis], -1)
    return quat_to_matrix(q)


def parse_urdf(text: str) -> Dict[str, dict]:
    """URDF joints: name -> {parent, child, type, xyz (scaled to metres), axis}."""
    root = ET.fromstring(text.replace("\x00", "").strip())  # the pybullet file ends in a NUL
    joints = {}
    for j in root.findall("joint"):
        origin = j.find("origin")
        axis = j.find("axis")
        xyz = [float(v) for v in origin.get("xyz", "0 0 0").split()] if origin is not None \
            else [0.0, 0.0, 0.0]
        joints[j.get("name")] = {
            "parent": j.find("parent").get("link"),
            "child": j.find("child").get("link"),
            "type": j.get("type"),
            "xyz": np.array(xyz) * URDF_SCALE,
            "axis": np.array([float(v) for v in axis.get("xyz").split()]) if axis is not None
            else np.array([0.0, 0.0, 1.0]),
        }
    required = (set(_DM_LAYOUT) - {"root_pos", "root_rot"}) | {"right_wrist", "left_wrist"}
    missing = sorted(required - set(joints))
    if missing:
        raise ValueError(f"humanoid URDF lacks joints {missing}")
    return joints


def deepmimic_points(frames: np.ndarray, urdf: Dict[str, dict]) -> np.ndarray:
    """Forward kinematics of DeepMimic frames ``(T, 44)`` -> ``(T, 20, 3)`` metres, Z-up."""
    frames = np.asarray(frames, np.float64)
    if frames.ndim != 2 or frames.shape[1] != _DM_FRAME_SIZE:
        raise ValueError(f"DeepMimic frames must be (T, {_DM_FRAME_SIZE}), got {frames.shape}")

    def field(name):
        start, size = _DM_LAYOUT[name]
        return frames[:, start:start + size]

    # Link frames: link name -> (origin (T,3), rotation (T,3,3)); "root" is the pelvis.
    link = {"root": (field("root_pos"), quat_to_matrix(field("root_rot")))}
    pos = {}
    order = ["chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder",
             "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle",
             "left_shoulder", "left_elbow", "left_wrist"]
    for name in order:
        j = urdf[name]
        p_origin, p_rot = link[j["parent"]]
        origin = p_origin + np.einsum("tij,j->ti", p_rot, j["xyz"])
        if j["type"] == "spherical":
            local = quat_to_matrix(field(name))
        elif j["type"] == "revolute":
            local = _axis_angle_matrix(j["axis"], field(name)[:, 0])
        else:
            local = np.eye(3)
        rot = p_rot @ local
        link[j["child"]] = (origin, rot)
        pos[name] = origin

    def in_frame(link_name, point):
        o, r = link[link_name]
        return o + np.einsum("tij,j->ti", r, np.asarray(point, np.float64))

    P = pose_lib.P
    out = np.zeros((len(frames), pose_lib.NUM_POINTS, 3))
    out[:, P["Pelvis"]] = link["root"][0]
    out[:, P["Torso"]] = pos["chest"]
    out[:, P["Neck"]] = pos["neck"]
    neck_link = urdf["neck"]["child"]
    out[:, P["Nose"]] = in_frame(neck_link, [0.07, 0.15, 0.0])
    out[:, P["Head"]] = in_frame(neck_link, [0.0, 0.27, 0.0])
    for side, dm in (("R", "right"), ("L", "left")):
        out[:, P[f"{side}_Hip"]] = pos[f"{dm}_hip"]
        out[:, P[f"{side}_Knee"]] = pos[f"{dm}_knee"]
        out[:, P[f"{side}_Ankle"]] = pos[f"{dm}_ankle"]
        out[:, P[f"{side}_Toe"]] = in_frame(urdf[f"{dm}_ankle"]["child"], [0.13, -0.045, 0.0])
        out[:, P[f"{side}_Shoulder"]] = pos[f"{dm}_shoulder"]
        out[:, P[f"{side}_Elbow"]] = pos[f"{dm}_elbow"]
        out[:, P[f"{side}_Wrist"]] = pos[f"{dm}_wrist"]
    out[:, P["Thorax"]] = 0.5 * (out[:, P["L_Shoulder"]] + out[:, P["R_Shoulder"]])
    return out @ _YUP_TO_ZUP.T


def parse_deepmimic(archive: Archive) -> Dict[str, np.ndarray]:
    """All DeepMimic clips of a pybullet wheel: ``deepmimic_<name>`` -> (T, 20, 3) m."""
    urdf = parse_urdf(archive.read(archive.find(DEEPMIMIC_URDF_SUFFIX)).decode("utf-8"))
    clips = {}
    for name in sorted(archive.names):
        m = DEEPMIMIC_MOTION_RE.search(name)
        if not m:
            continue
        data = json.loads(archive.read(name).decode("utf-8"))
        frames = np.asarray(data["Frames"], np.float64)
        clips[f"deepmimic_{m.group(2)}"] = deepmimic_points(frames, urdf).astype(np.float32)
    if not clips:
        raise ValueError(f"{archive.path} contains no pybullet_data/data/motions/humanoid3d_*.txt")
    return clips


# ----------------------------------------------------------------------------- climbing


def parse_joint_list(source_text: str, variable: str = "MOCAP_DEMO_JOINTS") -> List[str]:
    """The list literal assigned to ``variable`` in a Python source file."""
    for node in ast.parse(source_text).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == variable for t in node.targets):
            return [str(v) for v in ast.literal_eval(node.value)]
    raise ValueError(f"{variable} not found")


_CLIMB_MAP = {
    "Pelvis": "Hips", "Torso": "Spine1", "Neck": "Neck",
    "R_Hip": "RightUpLeg", "R_Knee": "RightLeg", "R_Ankle": "RightFoot", "R_Toe": "RightToeBase",
    "L_Hip": "LeftUpLeg", "L_Knee": "LeftLeg", "L_Ankle": "LeftFoot", "L_Toe": "LeftToeBase",
    "R_Shoulder": "RightArm", "R_Elbow": "RightForeArm", "R_Wrist": "RightHand",
    "L_Shoulder": "LeftArm", "L_Elbow": "LeftForeArm", "L_Wrist": "LeftHand",
}


def _normalise(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def climb_points(joints: np.ndarray, names: List[str]) -> np.ndarray:
    """Climbing capture ``(T, 53, 3)`` (m, Z-up) -> ``(T, 20, 3)`` (see the module table)."""
    joints = np.asarray(joints, np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (len(names), 3):
        raise ValueError(f"expected (T, {len(names)}, 3) joint positions, got {joints.shape}")
    idx = {n: i for i, n in enumerate(names)}
    missing = sorted((set(_CLIMB_MAP.values()) | {"Head"}) - set(idx))
    if missing:
        raise ValueError(f"climb joint list lacks {missing}")
    P = pose_lib.P
    out = np.zeros((len(joints), pose_lib.NUM_POINTS, 3))
    for ours, theirs in _CLIMB_MAP.items():
        out[:, P[ours]] = joints[:, idx[theirs]]
    head = joints[:, idx["Head"]]
    neck = out[:, P["Neck"]]
    up = _normalise(head - neck)
    right = out[:, P["R_Shoulder"]] - out[:, P["L_Shoulder"]]
    spine_up = _normalise(neck - out[:, P["Torso"]])
    forward = np.cross(spine_up, right)
    forward = _normalise(forward - np.sum(forward * up, -1, keepdims=True) * up)
    out[:, P["Nose"]] = head + 0.02 * up + 0.09 * forward
    out[:, P["Head"]] = head + 0.12 * up
    out[:, P["Thorax"]] = 0.5 * (out[:, P["L_Shoulder"]] + out[:, P["R_Shoulder"]])
    return out


def parse_climb(archive: Archive) -> Dict[str, np.ndarray]:
    """All climbing clips of a holosoma-retargeting wheel: ``climb_seq_<n>`` -> (T, 20, 3)."""
    names = parse_joint_list(archive.read(archive.find(CLIMB_JOINTS_SUFFIX)).decode("utf-8"))
    clips = {}
    for member in sorted(archive.names):
        m = CLIMB_NPY_RE.search(member)
        if not m:
            continue
        joints = np.load(io.BytesIO(archive.read(member)), allow_pickle=False)
        clips[f"climb_seq_{int(m.group(2))}"] = climb_points(joints, names).astype(np.float32)
    if not clips:
        raise ValueError(f"{archive.path} contains no climb *joint_positions*.npy")
    return clips


PARSERS = {"deepmimic": parse_deepmimic, "climb": parse_climb}


# ----------------------------------------------------------------------------- cache


def extract(source: str, archive_path: str, directory: Optional[str] = None) -> str:
    """Parse ``archive_path`` for ``source`` and write the ``.npz`` cache; returns its path."""
    archive = Archive(archive_path)
    try:
        clips = PARSERS[source](archive)
    finally:
        archive.close()
    out = npz_path(source, directory)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp.npz"
    np.savez_compressed(tmp, **clips)
    os.replace(tmp, out)
    return out


def load_mocap(directory: Optional[str] = None, download: bool = False,
               sources: Iterable[str] = tuple(SOURCES)) -> Dict[str, np.ndarray]:
    """All mocap clips: name -> ``(T, 20, 3)`` float32 metres (Z-up world, ground z = 0).

    Uses the ``.npz`` cache; else extracts it from a wheel already in the cache directory;
    else, with ``download=True``, runs ``pip download``. Raises :class:`MocapUnavailable`
    when a source cannot be had.
    """
    clips = {}
    for source in sources:
        if source not in SOURCES:
            raise KeyError(f"unknown mocap source {source!r}; known: {sorted(SOURCES)}")
        path = npz_path(source, directory)
        if not os.path.exists(path):
            archive = find_archive(source, directory)
            if archive is None:
                if not download:
                    dist, version = SOURCES[source]
                    raise MocapUnavailable(
                        f"{source} motion capture is not cached in {cache_dir(directory)}: run "
                        f"`pip download --no-deps {dist}=={version} -d {cache_dir(directory)}` "
                        f"or allow downloading")
                archive = download_archive(source, directory)
            extract(source, archive, directory)
        with np.load(path, allow_pickle=False) as data:
            for name in data.files:
                clips[name] = data[name]
    return clips


def split_clips(names: Iterable[str], split: str) -> List[str]:
    """Clip names of ``split`` ("train" or "test"); the split is by clip, never by frame."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    names = sorted(names)
    return [n for n in names if (n in TEST_CLIPS) == (split == "test")]
