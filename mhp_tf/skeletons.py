"""Joint sets of the datasets mhp_tf reads, and mapping between them by joint name.

Each :class:`Skeleton` lists its joint names (0-based order of the released
annotations), the root joint, left/right flip pairs, the bones used for
drawing and bone-length statistics, and the joints used for evaluation.

Joint names are shared across sets ("R_Hip" means the same anatomical point in
Human3.6M and MuCo-3DHP, up to each dataset's own marker placement), so a 2D
dataset is mapped onto a 3D dataset's joints by name with
:func:`mapping_indices` / :func:`map_joints`; joints the source lacks come out
with visibility 0.
"""

import dataclasses
from typing import Dict, Sequence, Tuple

import numpy as np


@dataclasses.dataclass(frozen=True)
class Skeleton:
    name: str
    joints: Tuple[str, ...]
    root: int
    flip_pairs: Tuple[Tuple[int, int], ...]
    bones: Tuple[Tuple[int, int], ...]
    eval_joints: Tuple[int, ...]

    def __post_init__(self):
        n = len(self.joints)
        if len(set(self.joints)) != n:
            raise ValueError(f"{self.name}: duplicate joint names")
        for a, b in self.flip_pairs + self.bones:
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"{self.name}: joint index out of range in pair ({a}, {b})")
        if not 0 <= self.root < n:
            raise ValueError(f"{self.name}: root {self.root} out of range")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def root_name(self) -> str:
        return self.joints[self.root]

    def index(self, joint: str) -> int:
        """Index of a joint by name; a clear error for unknown names."""
        try:
            return self.joints.index(joint)
        except ValueError:
            raise KeyError(f"unknown joint {joint!r} in skeleton {self.name!r}; "
                           f"joints are {list(self.joints)}") from None

    def flip_permutation(self) -> np.ndarray:
        """Index array ``p`` such that ``joints[p]`` swaps left and right."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm


def _pairs(joints: Sequence[str], named_pairs) -> Tuple[Tuple[int, int], ...]:
    return tuple((joints.index(a), joints.index(b)) for a, b in named_pairs)


def _lr_pairs(joints: Sequence[str]) -> Tuple[Tuple[int, int], ...]:
    """Pair every ``L_x`` with its ``R_x`` (ordered as in the published lists: left first
    when the left joint comes first)."""
    pairs = []
    for i, name in enumerate(joints):
        if name.startswith("L_") and ("R_" + name[2:]) in joints:
            j = joints.index("R_" + name[2:])
            pairs.append((min(i, j), max(i, j)))
    return tuple(sorted(pairs))


_H36M = ("Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck",
         "Nose", "Head", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist",
         "Thorax")
H36M = Skeleton(
    name="h36m", joints=_H36M, root=0, flip_pairs=_lr_pairs(_H36M),
    bones=((0, 7), (7, 8), (8, 9), (9, 10), (8, 11), (11, 12), (12, 13), (8, 14), (14, 15),
           (15, 16), (0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6)),
    eval_joints=tuple(range(17)))

_MUCO = ("Head_top", "Thorax", "R_Shoulder", "R_Elbow", "R_Wrist", "L_Shoulder", "L_Elbow",
         "L_Wrist", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Spine",
         "Head", "R_Hand", "L_Hand", "R_Toe", "L_Toe")
_MUCO_BONES = (("Head_top", "Head"), ("Head", "Thorax"), ("Thorax", "Spine"), ("Spine", "Pelvis"),
               ("Thorax", "R_Shoulder"), ("R_Shoulder", "R_Elbow"), ("R_Elbow", "R_Wrist"),
               ("Thorax", "L_Shoulder"), ("L_Shoulder", "L_Elbow"), ("L_Elbow", "L_Wrist"),
               ("Pelvis", "R_Hip"), ("R_Hip", "R_Knee"), ("R_Knee", "R_Ankle"),
               ("Pelvis", "L_Hip"), ("L_Hip", "L_Knee"), ("L_Knee", "L_Ankle"))
MUCO = Skeleton(
    name="muco", joints=_MUCO, root=14, flip_pairs=_lr_pairs(_MUCO),
    bones=_pairs(_MUCO, _MUCO_BONES + (("R_Wrist", "R_Hand"), ("L_Wrist", "L_Hand"),
                                       ("R_Ankle", "R_Toe"), ("L_Ankle", "L_Toe"))),
    eval_joints=tuple(range(17)))

_MUPOTS = _MUCO[:17]
MUPOTS = Skeleton(
    name="mupots", joints=_MUPOTS, root=14, flip_pairs=_lr_pairs(_MUPOTS),
    bones=_pairs(_MUPOTS, _MUCO_BONES), eval_joints=tuple(range(17)))

_MPII = ("R_Ankle", "R_Knee", "R_Hip", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Thorax", "Neck",
         "Head", "R_Wrist", "R_Elbow", "R_Shoulder", "L_Shoulder", "L_Elbow", "L_Wrist")
MPII = Skeleton(
    name="mpii", joints=_MPII, root=6, flip_pairs=_lr_pairs(_MPII),
    bones=_pairs(_MPII, (("R_Ankle", "R_Knee"), ("R_Knee", "R_Hip"), ("R_Hip", "Pelvis"),
                         ("L_Ankle", "L_Knee"), ("L_Knee", "L_Hip"), ("L_Hip", "Pelvis"),
                         ("Pelvis", "Thorax"), ("Thorax", "Neck"), ("Neck", "Head"),
                         ("R_Wrist", "R_Elbow"), ("R_Elbow", "R_Shoulder"), ("R_Shoulder", "Thorax"),
                         ("L_Wrist", "L_Elbow"), ("L_Elbow", "L_Shoulder"), ("L_Shoulder", "Thorax"))),
    eval_joints=tuple(range(16)))

_COCO = ("Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Shoulder", "R_Shoulder", "L_Elbow",
         "R_Elbow", "L_Wrist", "R_Wrist", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle",
         "R_Ankle", "Thorax", "Pelvis")
COCO = Skeleton(
    name="coco", joints=_COCO, root=18, flip_pairs=_lr_pairs(_COCO),
    bones=_pairs(_COCO, (("Nose", "L_Eye"), ("Nose", "R_Eye"), ("L_Eye", "L_Ear"),
                         ("R_Eye", "R_Ear"), ("Nose", "Thorax"), ("Thorax", "L_Shoulder"),
                         ("Thorax", "R_Shoulder"), ("L_Shoulder", "L_Elbow"),
                         ("L_Elbow", "L_Wrist"), ("R_Shoulder", "R_Elbow"),
                         ("R_Elbow", "R_Wrist"), ("Thorax", "Pelvis"), ("Pelvis", "L_Hip"),
                         ("Pelvis", "R_Hip"), ("L_Hip", "L_Knee"), ("L_Knee", "L_Ankle"),
                         ("R_Hip", "R_Knee"), ("R_Knee", "R_Ankle"))),
    eval_joints=tuple(range(17)))

# Joints COCO-19 adds to the 17 released keypoints: name -> (parent a, parent b) midpoint.
COCO_ADDED_JOINTS = {"Thorax": ("L_Shoulder", "R_Shoulder"), "Pelvis": ("L_Hip", "R_Hip")}

# MoVNect's 15 joints (Hwang et al. 2020, VNect's set without the spine, head centre, hands
# and feet): the first 15 MuCo joints, pelvis root. Bones follow the kinematic tree.
_MOVNECT = _MUCO[:15]
MOVNECT = Skeleton(
    name="movnect", joints=_MOVNECT, root=14, flip_pairs=_lr_pairs(_MOVNECT),
    bones=_pairs(_MOVNECT, (("Head_top", "Thorax"), ("Thorax", "Pelvis"))
                 + _MUCO_BONES[4:]),
    eval_joints=tuple(range(15)))

SKELETONS: Dict[str, Skeleton] = {s.name: s for s in (H36M, MUCO, MUPOTS, MPII, COCO, MOVNECT)}

# Names that denote the same point in different sets (MPII "Head" is the head top, as H36M
# "Head" and MuCo "Head_top"; MuCo "Head" is the head centre and has no MPII counterpart).
_ALIASES = {
    ("mpii", "h36m"): {},
    ("mpii", "muco"): {"Head": "Head_top"},
    ("h36m", "muco"): {"Head": "Head_top"},
    ("coco", "muco"): {},
    ("coco", "h36m"): {},
    ("mpii", "movnect"): {"Head": "Head_top"},
    ("h36m", "movnect"): {"Head": "Head_top"},
}


def get_skeleton(name: str) -> Skeleton:
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; available: {sorted(SKELETONS)}") from None


def mapping_indices(source: str, target: str) -> np.ndarray:
    """For each joint of ``target``, its index in ``source`` (-1 where the source lacks it).

    Joints are matched by name, with the documented aliases between datasets
    that name the same point differently (e.g. MPII ``Head`` = MuCo ``Head_top``).
    """
    src, dst = get_skeleton(source), get_skeleton(target)
    alias = dict(_ALIASES.get((source, target), {}))
    alias_back = {v: k for k, v in alias.items()}
    out = np.full(dst.num_joints, -1, np.int64)
    for j, name in enumerate(dst.joints):
        src_name = alias_back.get(name, name)
        if src_name in alias and alias[src_name] != name:
            continue  # this source name is reserved for another target joint
        if src_name in src.joints:
            out[j] = src.joints.index(src_name)
    return out


def map_joints(values: np.ndarray, visibility: np.ndarray, source: str, target: str):
    """Re-order ``values`` [..., J_src, C] and ``visibility`` [..., J_src] onto ``target``.

    Joints missing from the source get zeros and visibility 0.
    """
    idx = mapping_indices(source, target)
    values = np.asarray(values)
    visibility = np.asarray(visibility)
    src_n = get_skeleton(source).num_joints
    if values.shape[-2] != src_n or visibility.shape[-1] != src_n:
        raise ValueError(f"expected {src_n} {source} joints, got values {values.shape} and "
                         f"visibility {visibility.shape}")
    have = idx >= 0
    safe = np.where(have, idx, 0)
    out_values = np.take(values, safe, axis=-2) * have[:, None]
    out_vis = np.take(visibility, safe, axis=-1) * have
    return out_values, out_vis
