"""BVH (Biovision Hierarchy) writing and reading, and forward kinematics of BVH files.

File layout written by :func:`write_bvh` (readable by Blender's importer, File > Import >
Motion Capture (.bvh))::

    HIERARCHY
    ROOT Pelvis
    {
        OFFSET 0.000000 0.000000 0.000000
        CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
        JOINT R_HipRoot
        {
            OFFSET ...
            CHANNELS 3 Zrotation Xrotation Yrotation
            ...
                End Site
                {
                    OFFSET ...
                }
        }
    }
    MOTION
    Frames: T
    Frame Time: 0.03333333
    <one line of 6 + 3 (N - 1) values per frame>

Conventions: Y up, the rest pose faces +Z (see :mod:`mhp_tf.motion.rig`). Rotation channels
are in degrees; for channels ``Zrotation Xrotation Yrotation`` the joint's local rotation is
``Rz @ Rx @ Ry`` (the order the channels are listed in), which is how Blender and most tools
read them. The root's OFFSET is 0 and its position channels hold the pelvis position, so
readers that add them (this one) and readers that use the channels as the absolute position
(Blender) agree.

Units: OFFSETs and positions are written in centimetres by default (``units="cm"``; "mm"
and "m" are available). BVH files carry no unit; Blender's importer maps one file unit to
one Blender unit (metre) at its default Scale of 1.0, so import a centimetre file with
Scale = 0.01 (a millimetre file with 0.001) to get a life-size armature.
"""

import dataclasses
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mhp_tf.motion import ik
from mhp_tf.motion import rig as rig_lib
from mhp_tf.motion import rotations as rot

# File units per millimetre.
UNITS = {"mm": 1.0, "cm": 0.1, "m": 0.001}
_ROT_CHANNEL = {"X": "Xrotation", "Y": "Yrotation", "Z": "Zrotation"}
_POS_CHANNELS = ("Xposition", "Yposition", "Zposition")


def unit_scale(units: str) -> float:
    """File units per millimetre for ``units`` in :data:`UNITS`."""
    try:
        return UNITS[units]
    except KeyError:
        raise ValueError(f"units must be one of {sorted(UNITS)}, got {units!r}") from None


# ----------------------------------------------------------------------------- writing


def motion_channels(motion: ik.Motion, order: str = "ZXY", units: str = "cm",
                    unwrap: bool = True) -> np.ndarray:
    """The MOTION values ``(T, 6 + 3 (N - 1))`` of ``motion``: root position (file units),
    then each joint's Euler angles (degrees) in ``order``, joints in rig order.

    With ``unwrap`` the angles are made continuous over time (equivalent solutions and
    360-degree shifts), which keeps animation curves free of jumps.
    """
    order = rot.check_order(order)
    angles = rot.matrix_to_euler(motion.rotations, order)  # (T, N, 3)
    if unwrap:
        angles = rot.unwrap_euler_sequence(angles)
    root = motion.root_positions * unit_scale(units)
    return np.concatenate([root, angles.reshape(angles.shape[0], -1)], axis=1)


def bvh_text(motion: ik.Motion, order: str = "ZXY", units: str = "cm",
             precision: int = 6) -> str:
    """The BVH file of ``motion`` as a string (see the module docstring)."""
    order = rot.check_order(order)
    scale = unit_scale(units)
    rig = motion.rig
    children: Dict[int, List[int]] = {i: [] for i in range(len(rig.joints))}
    for i, p in enumerate(rig.parents):
        if p >= 0:
            children[p].append(i)
    rot_channels = " ".join(_ROT_CHANNEL[a] for a in order)
    fmt = f"{{:.{precision}f}}"

    def vec(v):
        return " ".join(fmt.format(float(x) * scale) for x in v)

    lines = ["HIERARCHY"]

    def emit(i, depth):
        tab = "\t" * depth
        kind = "ROOT" if rig.parents[i] < 0 else "JOINT"
        lines.append(f"{tab}{kind} {rig.joints[i].name}")
        lines.append(f"{tab}{{")
        lines.append(f"{tab}\tOFFSET {vec(motion.offsets[i])}")
        if rig.parents[i] < 0:
            lines.append(f"{tab}\tCHANNELS 6 {' '.join(_POS_CHANNELS)} {rot_channels}")
        else:
            lines.append(f"{tab}\tCHANNELS 3 {rot_channels}")
        for c in children[i]:
            emit(c, depth + 1)
        if i in motion.end_sites:
            lines.append(f"{tab}\tEnd Site")
            lines.append(f"{tab}\t{{")
            lines.append(f"{tab}\t\tOFFSET {vec(motion.end_sites[i])}")
            lines.append(f"{tab}\t}}")
        lines.append(f"{tab}}}")

    emit(0, 0)
    values = motion_channels(motion, order, units)
    lines += ["MOTION", f"Frames: {values.shape[0]}",
              f"Frame Time: {1.0 / motion.fps:.8f}"]
    lines += [" ".join(fmt.format(v) for v in row) for row in values]
    return "\n".join(lines) + "\n"


def write_bvh(path: str, motion: ik.Motion, order: str = "ZXY", units: str = "cm",
              precision: int = 6) -> str:
    """Write ``motion`` to ``path`` as BVH (Euler ``order`` for every joint, lengths in
    ``units``); returns the path. The hierarchy must list parents before children in
    depth-first order (true of :data:`mhp_tf.motion.rig.H36M_RIG`)."""
    parents = motion.rig.parents
    # Depth-first check: each joint's parent is the previous joint or one of its ancestors.
    for i in range(1, len(parents)):
        anc, k = set(), i - 1
        while k >= 0:
            anc.add(k)
            k = parents[k]
        if parents[i] not in anc:
            raise ValueError("rig joints must be in depth-first order to be written as BVH")
    text = bvh_text(motion, order, units, precision)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


# ----------------------------------------------------------------------------- reading


@dataclasses.dataclass
class Bvh:
    """A parsed BVH file (lengths in file units, angles in degrees).

    ``channels[i]``: the channel names of joint ``i`` in file order; ``frames``: ``(T, C)``
    MOTION values; ``end_sites``: joint index -> End Site offset.
    """

    names: List[str]
    parents: List[int]
    offsets: np.ndarray
    channels: List[Tuple[str, ...]]
    end_sites: Dict[int, np.ndarray]
    frame_time: float
    frames: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def num_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time if self.frame_time > 0 else float("nan")

    def channel_slices(self) -> List[slice]:
        out, start = [], 0
        for c in self.channels:
            out.append(slice(start, start + len(c)))
            start += len(c)
        return out

    def index(self, name: str) -> int:
        return self.names.index(name)


class BvhError(ValueError):
    """A malformed BVH file."""


def parse_bvh(text: str) -> Bvh:
    """Parse BVH text (any channel order per joint, several End Sites, tabs or spaces)."""
    tokens = text.split()
    pos = 0

    def take(expected: Optional[str] = None) -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise BvhError(f"unexpected end of file (expected {expected or 'more'})")
        tok = tokens[pos]
        pos += 1
        if expected is not None and tok.upper() != expected.upper():
            raise BvhError(f"expected {expected!r}, got {tok!r} (token {pos})")
        return tok

    def floats(n):
        try:
            return [float(take()) for _ in range(n)]
        except ValueError as e:
            raise BvhError(f"bad number near token {pos}: {e}") from None

    take("HIERARCHY")
    names, parents, offsets, channels, end_sites = [], [], [], [], {}

    def parse_joint(parent: int):
        name = take()
        index = len(names)
        names.append(name)
        parents.append(parent)
        take("{")
        take("OFFSET")
        offsets.append(floats(3))
        chans: Tuple[str, ...] = ()
        while True:
            tok = take()
            up = tok.upper()
            if up == "CHANNELS":
                try:
                    n = int(take())
                except ValueError:
                    raise BvhError(f"bad channel count for joint {name}") from None
                chans = tuple(take() for _ in range(n))
                for c in chans:
                    if c.lower() not in {"xposition", "yposition", "zposition", "xrotation",
                                         "yrotation", "zrotation"}:
                        raise BvhError(f"unknown channel {c!r} in joint {name}")
            elif up == "JOINT":
                if len(channels) == index:
                    channels.append(chans)
                parse_joint(index)
            elif up == "END":
                take("Site")
                take("{")
                take("OFFSET")
                end_sites[index] = np.array(floats(3))
                take("}")
            elif up == "}":
                break
            else:
                raise BvhError(f"unexpected {tok!r} in joint {name}")
        if len(channels) == index:
            channels.append(chans)

    take("ROOT")
    parse_joint(-1)
    take("MOTION")
    take("Frames:")
    try:
        num_frames = int(take())
    except ValueError:
        raise BvhError("bad frame count") from None
    take("Frame")
    take("Time:")
    frame_time = floats(1)[0]
    # Channels are listed per joint in depth-first order, which is the joint order here.
    num_channels = sum(len(c) for c in channels)
    rest = tokens[pos:]
    if len(rest) != num_frames * num_channels:
        raise BvhError(f"MOTION has {len(rest)} values, expected {num_frames} frames x "
                       f"{num_channels} channels")
    try:
        frames = np.array(rest, dtype=np.float64).reshape(num_frames, num_channels)
    except ValueError as e:
        raise BvhError(f"bad MOTION value: {e}") from None
    return Bvh(names=names, parents=parents, offsets=np.array(offsets, np.float64).reshape(-1, 3),
               channels=channels, end_sites=end_sites, frame_time=frame_time, frames=frames)


def read_bvh(path: str) -> Bvh:
    """Read a BVH file (see :func:`parse_bvh`)."""
    with open(path, "r", encoding="utf-8") as f:
        return parse_bvh(f.read())


def local_transforms(bvh: Bvh) -> Tuple[np.ndarray, np.ndarray]:
    """``(local rotations (T, N, 3, 3), local translations (T, N, 3))`` of every joint.

    Rotation channels compose in the order listed (``Zrotation Xrotation Yrotation`` ->
    ``Rz @ Rx @ Ry``); a joint's translation is its OFFSET plus its position channels.
    """
    T, N = bvh.num_frames, len(bvh.names)
    R = np.broadcast_to(np.eye(3), (T, N, 3, 3)).copy()
    trans = np.broadcast_to(bvh.offsets, (T, N, 3)).copy()
    for i, (chans, sl) in enumerate(zip(bvh.channels, bvh.channel_slices())):
        values = bvh.frames[:, sl]
        for k, c in enumerate(chans):
            axis, kind = c[0].upper(), c[1:].lower()
            if kind == "position":
                trans[:, i, "XYZ".index(axis)] += values[:, k]
            else:
                R[:, i] = R[:, i] @ rot.axis_rotation(axis, np.deg2rad(values[:, k]))
    return R, trans


def forward_kinematics(bvh: Bvh):
    """Joint positions of a BVH file, in file units.

    Returns ``(positions (T, N, 3), end_sites {joint name: (T, 3)})``.
    """
    R, trans = local_transforms(bvh)
    T, N = R.shape[:2]
    pos = np.zeros((T, N, 3))
    glob = np.zeros((T, N, 3, 3))
    for i, p in enumerate(bvh.parents):
        if p < 0:
            glob[:, i] = R[:, i]
            pos[:, i] = trans[:, i]
        else:
            glob[:, i] = glob[:, p] @ R[:, i]
            pos[:, i] = pos[:, p] + np.einsum("tij,tj->ti", glob[:, p], trans[:, i])
    ends = {bvh.names[i]: pos[:, i] + glob[:, i] @ off for i, off in bvh.end_sites.items()}
    return pos, ends


def bvh_points(bvh: Bvh, units: str = "cm", point_names: Sequence[str] = rig_lib.H36M_POINTS,
               rig: rig_lib.Rig = rig_lib.H36M_RIG) -> np.ndarray:
    """Input-order points ``(T, J, 3)`` in mm (Y-up rig frame) from a BVH of ``rig``
    written in ``units`` (derived points such as Thorax are the midpoints)."""
    pos, ends = forward_kinematics(bvh)
    missing = [j.name for j in rig.joints if j.name not in bvh.names]
    if missing:
        raise ValueError(f"the BVH lacks rig joints {missing}")
    order = [bvh.index(j.name) for j in rig.joints]
    scale = 1.0 / unit_scale(units)
    return rig_lib.points_from_rig(pos[:, order] * scale,
                                   {k: v * scale for k, v in ends.items()}, point_names, rig)
