"""Drawing helpers: 2D skeleton overlays and image grids (OpenCV, RGB uint8 images)."""

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from mhp_tf import skeletons

LEFT = (60, 130, 255)   # RGB
RIGHT = (255, 90, 60)
CENTRE = (80, 220, 80)


def _side(name: str) -> Tuple[int, int, int]:
    if name.startswith("L_"):
        return LEFT
    if name.startswith("R_"):
        return RIGHT
    return CENTRE


def draw_skeleton_2d(image: np.ndarray, joints: np.ndarray, skeleton="h36m",
                     visibility: Optional[np.ndarray] = None, radius: int = 2,
                     thickness: int = 1) -> np.ndarray:
    """Draw joints ``[J, 2]`` (px) and bones of ``skeleton`` on a copy of an RGB image.

    Left limbs are blue, right limbs red, the spine green; invisible joints
    (``visibility == 0``) and bones touching them are not drawn.
    """
    sk = skeletons.get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    joints = np.asarray(joints, np.float32)
    if joints.shape != (sk.num_joints, 2):
        raise ValueError(f"joints must be [{sk.num_joints}, 2] for {sk.name}, got {joints.shape}")
    vis = np.ones(sk.num_joints) if visibility is None else np.asarray(visibility)
    out = np.ascontiguousarray(image.copy())
    if out.dtype != np.uint8:
        out = np.clip(out, 0, 255).astype(np.uint8)
    scale = 16  # sub-pixel accurate drawing via cv2's shift argument
    pts = np.round(joints * scale).astype(np.int64)
    for a, b in sk.bones:
        if vis[a] > 0 and vis[b] > 0:
            colour = _side(sk.joints[b]) if sk.joints[b][:2] in ("L_", "R_") else _side(sk.joints[a])
            cv2.line(out, tuple(map(int, pts[a])), tuple(map(int, pts[b])), colour, thickness,
                     cv2.LINE_AA, shift=4)
    for j in range(sk.num_joints):
        if vis[j] > 0:
            cv2.circle(out, tuple(map(int, pts[j])), radius * scale, _side(sk.joints[j]), -1,
                       cv2.LINE_AA, shift=4)
    return out


def image_grid(images: Sequence[np.ndarray], columns: int = 4, pad: int = 2,
               background: int = 255) -> np.ndarray:
    """Tile equally sized RGB images into one grid image."""
    if not len(images):
        raise ValueError("image_grid needs at least one image")
    h, w = images[0].shape[:2]
    rows = (len(images) + columns - 1) // columns
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), background, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = img
    return grid
