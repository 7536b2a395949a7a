"""Named variants (L / S / XS) and :func:`build_model`.

One table, used by the model factory, the summary CLI, the benchmark and the
docs. Parameter counts are the trainable (PyTorch-style) counts of the
reference networks; the paper's own figures are kept for comparison.
"""

import dataclasses
from typing import Dict

import tensorflow as tf

from mhp_tf.modeling.mobilehumanpose import MobileHumanPose
from mhp_tf.modeling.mobilehumanpose import ModelConfig

PRESETS: Dict[str, dict] = {
    "l": dict(topology="paper", width_multiplier=1.0, embedding_size=2048, depth_bins=64),
    "s": dict(topology="paper", width_multiplier=0.75, embedding_size=512, depth_bins=64),
    "xs": dict(topology="compact", width_multiplier=0.5, embedding_size=512, depth_bins=32),
}

# What the paper reports for each preset (Table 10 / Table 8), for side-by-side tables.
PAPER_FIGURES = {
    "l": {"params": "4.07M", "gflops": 5.49},
    "s": {"params": "2.24M", "gflops": 3.92},
    "xs": {"params": "0.96M", "gflops": None},
}

_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig))


def preset_config(variant: str, num_joints: int = 18, **overrides) -> ModelConfig:
    """The :class:`ModelConfig` of a preset, with ``overrides`` applied."""
    if not isinstance(variant, str) or variant not in PRESETS:
        hint = ""
        if isinstance(variant, str) and variant.lower() in PRESETS:
            hint = f" (preset names are lower-case: use {variant.lower()!r})"
        raise ValueError(f"unknown MobileHumanPose variant {variant!r}{hint}; "
                         f"available: {sorted(PRESETS)}")
    unknown = sorted(set(overrides) - set(_FIELDS))
    if unknown:
        raise ValueError(f"unknown MobileHumanPose option(s) {unknown}; valid options: "
                         f"{list(_FIELDS)}")
    return ModelConfig(**{**PRESETS[variant], "num_joints": num_joints, **overrides})


def build_model(variant: str = "xs", num_joints: int = 18, name: str = None,
                **overrides) -> tf.keras.Model:
    """Build a MobileHumanPose preset.

    Args:
      variant: ``'l'``, ``'s'`` or ``'xs'``.
      num_joints: 18 (Human3.6M) or 21 (MuCo-3DHP), or any positive count.
      name: model name, default ``'mobilehumanpose_{variant}'``.
      **overrides: any :class:`ModelConfig` field, e.g. ``input_size=64``,
        ``head='heatmap'``, ``concat='none'``, ``activation='relu'``.

    Returns:
      A :class:`MobileHumanPose` (a functional ``tf.keras.Model``), randomly
      initialised (the paper trains from scratch; no ImageNet weights).

    Example::

      model = mhp_tf.build_model("l", num_joints=18)
      coords = model(images)  # [B, 18, 3] in heatmap units (x, y, z)
    """
    cfg = preset_config(variant, num_joints, **overrides)
    return MobileHumanPose(name=name or f"mobilehumanpose_{variant}", **cfg.to_dict())
