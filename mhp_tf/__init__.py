"""mhp_tf: MobileHumanPose (Choi et al., CVPRW 2021) in TensorFlow / tf.keras.

Importing this package selects the legacy Keras 2 implementation (``tf_keras``)
for ``tf.keras`` by setting ``TF_USE_LEGACY_KERAS=1`` *before* TensorFlow is
imported. Quantization-aware training (tensorflow-model-optimization) only
works with tf_keras, so the whole project uses it. If TensorFlow was already
imported with Keras 3 active, a clear error is raised instead of silently
mixing the two.
"""

import os as _os
import sys as _sys

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# Hide TensorFlow C++ INFO lines (oneDNN / CPU feature banners); warnings stay.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
if _os.environ["TF_USE_LEGACY_KERAS"] not in ("1", "true", "True"):
    raise ImportError(
        "mhp_tf needs tf_keras: set TF_USE_LEGACY_KERAS=1 (found "
        f"TF_USE_LEGACY_KERAS={_os.environ['TF_USE_LEGACY_KERAS']!r}).")

import tensorflow as _tf  # noqa: E402  (must come after the env var)

if not _tf.keras.__name__.startswith("tf_keras"):
    raise ImportError(
        "tensorflow was imported before mhp_tf with Keras 3 as tf.keras "
        f"({_tf.keras.__name__}). Import mhp_tf first, or export "
        "TF_USE_LEGACY_KERAS=1 before starting Python.")

from mhp_tf.modeling import build_model  # noqa: E402
from mhp_tf.modeling import count_flops  # noqa: E402
from mhp_tf.modeling import MobileHumanPose  # noqa: E402
from mhp_tf.modeling import ModelConfig  # noqa: E402
from mhp_tf.modeling import PRESETS  # noqa: E402
from mhp_tf.modeling import soft_argmax_3d  # noqa: E402

__version__ = "0.1.0"

# Imported on first use (``mhp_tf.PoseEstimator``), so that ``import mhp_tf`` stays light.
_LAZY = {
    "PoseEstimator": "mhp_tf.inference.estimator",
    "PoseResult": "mhp_tf.inference.estimator",
    "VideoPoseEstimator": "mhp_tf.inference.video",
    "from_preset": "mhp_tf.pretrained",
    "list_presets": "mhp_tf.pretrained",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mhp_tf' has no attribute {name!r}")


__all__ = [
    "build_model",
    "count_flops",
    "from_preset",
    "list_presets",
    "MobileHumanPose",
    "ModelConfig",
    "PRESETS",
    "PoseEstimator",
    "PoseResult",
    "soft_argmax_3d",
    "VideoPoseEstimator",
    "__version__",
]

del _sys
