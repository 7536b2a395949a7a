"""Realistic synthetic people (work in progress): skinned mesh bodies, real-photo scenes,
image-based lighting. See :mod:`.gbuffer` for the contract between the body renderer
(geometry, labels) and the scene/appearance stage (materials, light, compositing).
"""
