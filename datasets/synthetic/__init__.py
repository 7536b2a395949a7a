"""Synthetic people with exact 3D labels: a dataset that needs no download.

Volumetric people (ellipsoids and tapered capsules with per-person proportions, girths and
clothes), ray cast exactly into a z-buffer with directional shading, on procedural
backgrounds and textured ground planes, sometimes behind occluders, seen by random pinhole
cameras 2-8 m away. Labels follow the mhp_tf schema (:mod:`mhp_tf.data.schema`) with the
H36M-18 skeleton: ``joints_cam`` in mm in the camera frame, ``joints_img`` its exact
projection, ``bbox`` around the rendered body, ``sequence`` = clip, ``frame`` = frame index,
``subject`` = body id.

Poses come from real motion capture when it is available (DeepMimic clips in the
``pybullet==3.2.7`` wheel and the climbing capture in ``holosoma-retargeting==0.1.0``, see
:mod:`.mocap`) and from a procedural sampler within joint limits otherwise (:mod:`.pose`).

Modules: :mod:`.body` (people), :mod:`.pose` (poses), :mod:`.mocap` (motion capture),
:mod:`.raster` (ray casting), :mod:`.scene` (cameras, lights, backgrounds, occluders),
:mod:`.render` (:func:`render_example`), :mod:`.generate` (the example stream, no tfds) and
:mod:`.builder` (the tensorflow-datasets builder :class:`Synthetic`, imported on first use).
"""

from mhp_tf_datasets.synthetic.body import Body
from mhp_tf_datasets.synthetic.body import sample_body
from mhp_tf_datasets.synthetic.generate import ExampleGenerator
from mhp_tf_datasets.synthetic.generate import GeneratorConfig
from mhp_tf_datasets.synthetic.generate import generate_examples
from mhp_tf_datasets.synthetic.render import render_example
from mhp_tf_datasets.synthetic.scene import Camera
from mhp_tf_datasets.synthetic.scene import look_at

__all__ = ["Body", "Camera", "ExampleGenerator", "GeneratorConfig", "Synthetic",
           "SyntheticConfig", "generate_examples", "look_at", "render_example", "sample_body"]


def __getattr__(name):
    # The tfds builder pulls in tensorflow-datasets; load it only when asked for.
    if name in ("Synthetic", "SyntheticConfig"):
        from mhp_tf_datasets.synthetic import builder
        return getattr(builder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
