"""The per-pixel buffers a body render hands to shading and compositing.

The realistic synthetic renderer works in two stages so that geometry and look can be
developed, tested and benchmarked apart:

1. *Geometry* (the body renderer): a posed, skinned mesh is rasterised or ray cast through a
   pinhole camera into a :class:`GBuffer` -- which pixels the person covers, how far they are,
   which way the surface faces, which body part they belong to and where on that part they lie.
2. *Look* (appearance, lighting, scene): materials (skin, garments, hair) are chosen per pixel
   from ``part`` / ``along`` / ``around`` / ``uv``, lit with the normals under an environment
   light and composited over a background photograph.

No label is ever drawn from a G-buffer into the pixels: only surface attributes are.
"""

import dataclasses
from typing import Optional

import numpy as np

# Body parts, in this order; ``part`` holds an index into PARTS, or BACKGROUND.
PARTS = (
    "head", "neck", "chest", "belly", "pelvis",
    "l_upper_arm", "r_upper_arm", "l_forearm", "r_forearm", "l_hand", "r_hand",
    "l_thigh", "r_thigh", "l_shin", "r_shin", "l_foot", "r_foot",
)
PART = {name: i for i, name in enumerate(PARTS)}
BACKGROUND = -1

# ``along`` runs from 0 at a part's proximal end to 1 at its distal end: limbs from the
# joint nearer the trunk outwards (shoulder -> elbow -> wrist -> fingertips, hip -> knee ->
# ankle -> toes); trunk parts and neck from bottom to top (pelvis: hip line -> waist,
# belly: waist -> lower ribs, chest: lower ribs -> shoulders, neck: base -> skull);
# head from chin to crown. ``around`` is the angle about the part's axis as a fraction
# of a turn in [0, 1), 0 at the body's front.


@dataclasses.dataclass
class GBuffer:
    """Per-pixel surface attributes of one rendered person, all ``[H, W]`` or ``[H, W, C]``.

    mask:   bool, the person covers the pixel (nearest surface is the body).
    depth:  float32, distance along the camera's optical axis in metres; ``inf`` off-body.
    normal: float32 ``[H, W, 3]``, unit surface normal in camera coordinates (x right,
            y down, z forward), facing the camera; zeros off-body.
    part:   int8, index into :data:`PARTS`, :data:`BACKGROUND` off-body.
    along:  float32 in [0, 1], see the note above :class:`GBuffer`; 0 off-body.
    around: float32 in [0, 1), see the note above; 0 off-body.
    uv:     optional float32 ``[H, W, 2]``, the mesh's own texture coordinates (MakeHuman
            skin atlas) where the mesh has them; NaN off-body.
    """

    mask: np.ndarray
    depth: np.ndarray
    normal: np.ndarray
    part: np.ndarray
    along: np.ndarray
    around: np.ndarray
    uv: Optional[np.ndarray] = None

    def __post_init__(self):
        h, w = np.shape(self.mask)[:2]
        expected = {"mask": (h, w), "depth": (h, w), "normal": (h, w, 3), "part": (h, w),
                    "along": (h, w), "around": (h, w)}
        if self.uv is not None:
            expected["uv"] = (h, w, 2)
        for name, shape in expected.items():
            got = np.shape(getattr(self, name))
            if tuple(got) != shape:
                raise ValueError(f"GBuffer.{name} has shape {tuple(got)}, expected {shape}")

    @property
    def shape(self):
        return tuple(np.shape(self.mask)[:2])

    @classmethod
    def empty(cls, height: int, width: int, with_uv: bool = False) -> "GBuffer":
        """An all-background buffer (the start of a z-buffered render)."""
        return cls(mask=np.zeros((height, width), bool),
                   depth=np.full((height, width), np.inf, np.float32),
                   normal=np.zeros((height, width, 3), np.float32),
                   part=np.full((height, width), BACKGROUND, np.int8),
                   along=np.zeros((height, width), np.float32),
                   around=np.zeros((height, width), np.float32),
                   uv=(np.full((height, width, 2), np.nan, np.float32) if with_uv else None))
