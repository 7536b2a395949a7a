"""Per-vertex surface attributes of the MakeHuman body: body part, ``along``, ``around``.

Computed once on the template mesh in its rest pose and carried by the skin, so they
follow every shape and pose (see :mod:`.gbuffer` for their meaning).

* ``part``: each bone belongs to one of :data:`.gbuffer.PARTS` (:func:`bone_parts`, by
  bone-name prefix; descendants of ``head`` are head); a vertex takes the part holding
  the largest sum of its skinning weights.
* ``along``: the vertex projected on its part's axis (proximal -> distal, or bottom ->
  top for trunk, neck and head: the table :data:`AXES`), scaled to [0, 1] over the
  part's vertices.
* ``around``: the angle about that axis as a fraction of a turn, 0 on the side the
  body's front faces in the rest pose (+x; for the feet, whose axis points forward, the
  top of the foot), increasing towards ``axis x front`` -- for an upright part (axis up)
  that is towards the body's left, i.e. counter-clockwise seen from above.
"""

from typing import Dict

import numpy as np

from mhp_tf_datasets.synthetic.realistic import gbuffer

# bone-name prefix -> part ("{s}" is the side, l or r, from the bone's .L/.R suffix)
_PREFIX_PART = (
    ("upperarm", "{s}_upper_arm"), ("lowerarm", "{s}_forearm"), ("wrist", "{s}_hand"),
    ("metacarpal", "{s}_hand"), ("finger", "{s}_hand"), ("upperleg", "{s}_thigh"),
    ("lowerleg", "{s}_shin"), ("foot", "{s}_foot"), ("toe", "{s}_foot"),
    ("neck", "neck"), ("spine01", "chest"), ("spine02", "chest"), ("clavicle", "chest"),
    ("shoulder", "chest"), ("breast", "chest"), ("spine03", "belly"), ("spine04", "belly"),
    ("spine05", "pelvis"), ("pelvis", "pelvis"), ("root", "pelvis"),
)
# part -> (proximal/bottom point, distal/top point): bone heads ("h:") or tails ("t:")
AXES = {
    "head": ("h:head", "t:head"), "neck": ("h:neck01", "h:head"),
    "chest": ("h:spine02", "h:neck01"), "belly": ("h:spine04", "h:spine02"),
    "pelvis": ("h:spine05", "h:spine04"),
}
for _s, _S in (("l", "L"), ("r", "R")):
    AXES.update({
        f"{_s}_upper_arm": (f"h:upperarm01.{_S}", f"h:lowerarm01.{_S}"),
        f"{_s}_forearm": (f"h:lowerarm01.{_S}", f"h:wrist.{_S}"),
        f"{_s}_hand": (f"h:wrist.{_S}", f"t:finger3-3.{_S}"),
        f"{_s}_thigh": (f"h:upperleg01.{_S}", f"h:lowerleg01.{_S}"),
        f"{_s}_shin": (f"h:lowerleg01.{_S}", f"h:foot.{_S}"),
        f"{_s}_foot": (f"h:foot.{_S}", f"t:toe2-3.{_S}"),
    })


def bone_parts(names, parents) -> np.ndarray:
    """Part index of every bone (descendants of ``head`` are head)."""
    out = np.full(len(names), -1)
    for i, name in enumerate(names):
        p = parents[i]
        if name == "head" or (p >= 0 and out[p] == gbuffer.PART["head"]):
            out[i] = gbuffer.PART["head"]
            continue
        side = name[-1].lower() if name[-2:] in (".L", ".R") else None
        for prefix, part in _PREFIX_PART:
            if name.startswith(prefix):
                out[i] = gbuffer.PART[part.format(s=side)]
                break
        else:
            raise ValueError(f"bone {name!r} has no body part")
    return out


def vertex_attributes(model) -> Dict[str, np.ndarray]:
    """``part (N,) int8``, ``along (N,) float32``, ``around (N,) float32`` of the template."""
    parts = bone_parts(model.bone_names, model.parents)
    n = len(model.vertices)
    mass = np.zeros((n, len(gbuffer.PARTS)))
    for k in range(model.weight_index.shape[1]):
        np.add.at(mass, (np.arange(n), parts[model.weight_index[:, k]]),
                  model.weight_value[:, k])
    vpart = np.argmax(mass, 1)
    along = np.zeros(n)
    around = np.zeros(n)
    front = np.array([1.0, 0.0, 0.0])

    def point(spec):
        kind, bone = spec.split(":")
        arr = model.heads if kind == "h" else model.tails
        return arr[model.bone[bone]]

    for name, (a_spec, b_spec) in AXES.items():
        sel = vpart == gbuffer.PART[name]
        if not sel.any():
            continue
        a, b = point(a_spec), point(b_spec)
        axis = (b - a) / np.linalg.norm(b - a)
        rel = model.vertices[sel] - a
        t = rel @ axis
        along[sel] = (t - t.min()) / max(t.max() - t.min(), 1e-9)
        f = front - (front @ axis) * axis
        if np.linalg.norm(f) < 0.3:  # axis nearly along the front (feet): use up instead
            f = np.array([0.0, 0.0, 1.0]) - axis[2] * axis
        f /= np.linalg.norm(f)
        side = np.cross(axis, f)
        around[sel] = (np.arctan2(rel @ side, rel @ f) / (2 * np.pi)) % 1.0
    return {"part": vpart.astype(np.int8), "along": along.astype(np.float32),
            "around": around.astype(np.float32)}
