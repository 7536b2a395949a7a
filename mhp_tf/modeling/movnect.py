"""MoVNect (Hwang et al., WACV 2020) as a functional tf.keras model, with its targets,
read-out and losses.

Network (Figure 2 and Table 1 of the paper; layer names in brackets)::

  image [B, S, S, 3]
  -> MobileNetV2 up to block 12 (Keras layer names: Conv1 ... block_12_add)
                                                     [B, S/16, S/16, 96]
  -> Block13_a: 1x1 a1 +ReLU -> 3x3 depthwise +ReLU -> 1x1 a3      (main path)
                1x1 a3                                             (shortcut)
                add -> ReLU                                        [block13_a_*]
  -> Block13_b: 1x1 b1 +ReLU -> 3x3 depthwise +ReLU -> 1x1 b3 +ReLU [block13_b_*]
  -> Block14:   x2 upsampling + 3x3 conv 128 +ReLU        -> features F
                x2 upsampling + 3x3 conv 3J (no ReLU)     -> dX, dY, dZ
                BL_j = |dX_j| + |dY_j| + |dZ_j|           -> J channels
                concat [F, dX, dY, dZ, BL]                 [B, S/8, S/8, 128 + 4J]
  -> Block15:   1x1 128 +ReLU -> 3x3 depthwise +ReLU -> 1x1 4J (bias)
  -> outputs    [B, S/8, S/8, 4J] float32

Every conv except the last is followed by BatchNorm ("batch normalization before each
non-linear activation", sec. 4.2) and has no bias; the last conv has a bias and no BN.
The MobileNetV2 base reproduces ``keras.applications.MobileNetV2`` layer for layer
(names, ReLU6, ``correct_pad`` asymmetric padding of the stride-2 depthwise convs,
``int(c * alpha)`` then ``make_divisible(., 8)`` widths), so ImageNet weights, which the
paper starts from, copy over by name: :func:`copy_mobilenet_v2_weights`.

Variants (Table 1)::

  type  Block13_a       Block13_b       upsampling
  A     368, 368, 256   192, 192, 128   bilinear x2 + 3x3 conv      (the paper's choice)
  B     368, 368, 256   192, 192, 128   4x4 transposed conv, stride 2
  C     512, 512, 512   256, 256, 128   bilinear x2 + 3x3 conv

Output channel layout (one rank-4 tensor, every tensor of the graph has rank <= 4 for
the TFLite GPU delegate / NNAPI)::

  channel  [0, J)    heatmaps H_j
           [J, 2J)   location maps X_j
           [2J, 3J)  location maps Y_j
           [3J, 4J)  location maps Z_j

:func:`split_outputs` returns the four blocks. Location maps hold root-relative joint
coordinates in units of ``location_unit_mm`` (default :data:`LOCATION_UNIT_MM` = 100 mm,
decimetres; see :func:`movnect_targets`), camera axes (x right, y down, z forward).

Parameter counts, J = 15 (Keras ``count_params()``, i.e. including the BatchNorm moving
mean/variance, which is how Keras' ``model.summary()`` reports "Total params"; the paper
trained in Keras)::

  type  ours: total (trainable)    paper
  A     1,032,544 (1,012,038)      1.03M
  B     1,187,552 (1,167,046)      1.13M
  C     1,334,576 (1,312,214)      2.69M
  (MobileNetV2 base alone: 558,656 (542,528))

How the paper's layer choices were resolved, and what each costs:

* Block13_b's last 1x1 conv: Table 1 says 128 channels, Figure 2 draws 192. Table 1
  (128) is used: it is the reading that reproduces 1.03M; with 192 Type A would have
  1,144,736 parameters.
* BatchNorm after the convs that are *not* followed by a ReLU (Block13_a's projection
  and its shortcut, the dX/dY/dZ conv) is not stated either way; we put one after each
  (4 numbers per channel: 2,228 for A). With biases instead of these three BNs A would
  have 1,030,873; both round to 1.03M.
* Type C: Table 1's widths with Figure 2's block structure give 1.33M, not 2.69M, and
  no single ambiguous choice closes a 1.36M gap: full (not depthwise) 3x3 convs in
  Block13_a alone would give 3.69M, in Block13_b alone 1.92M. The paper's 2.69M is
  therefore not reproducible from its own description. (For the record: Figure 2's
  widths, Block13_b ending in 192, with full 3x3 convs in Block13_a and Block13_b
  give 2,690,288, which may be what was counted.) We build Type C as Table 1 specifies.
* Type B: the transposed conv's kernel is not given; 4x4/stride 2 (VNect's up-conv)
  gives 1.19M vs the paper's 1.13M, 3x3 would give the same count as Type A.
* Block14's upsampling: the paper's Keras ``UpSampling2D(interpolation='bilinear')``
  had TF1's corner-anchored, non-centred sampling, which TF2 no longer offers; we use
  align-corners bilinear (``align_corners=True``, the project's convention, TFLite
  ``RESIZE_BILINEAR`` with ``align_corners``) or half-pixel centres
  (``align_corners=False``). No parameters either way.
* The bone-length feature: dX, dY, dZ are the 3J-channel conv output itself (the paper's
  "intermediate features", as in VNect: the network *learns* parent-relative offsets).
  ``bone_features='parent'`` instead treats that output as per-joint maps and takes the
  difference to the kinematic parent explicitly (a fixed, weight-free 1x1 conv), so BL_j
  is the L1 length of the bone (parent(j), j). No parameters either way.

Joint set: :data:`MOVNECT_JOINTS`, the 15 joints of the paper (J = 15, "a minimum
requirement for the motion of 3D full-body characters"): the first 15 joints of the
MPI-INF-3DHP / MuCo set used by the VNect teacher (its 17-joint set without Spine and
Head centre), root Pelvis. From H36M-18, by name (:func:`movnect_mapping_indices`):
``Head`` (H36M's head top) -> ``Head_top``; ``Thorax`` (the project's shoulder midpoint)
-> ``Thorax``; shoulders, elbows, wrists, hips, knees, ankles and Pelvis by name. Dropped:
``Torso`` (spine), ``Neck`` and ``Nose``. Nothing is averaged here (Thorax already is a
midpoint in H36M-18).
"""

import dataclasses
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from mhp_tf import skeletons
from mhp_tf.modeling.layers import AlignCornersUpsample2D
from mhp_tf.modeling.layers import make_divisible

# ----------------------------------------------------------------------------- joint set

MOVNECT_JOINTS: Tuple[str, ...] = (
    "Head_top", "Thorax", "R_Shoulder", "R_Elbow", "R_Wrist", "L_Shoulder", "L_Elbow",
    "L_Wrist", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Pelvis")
MOVNECT_ROOT = 14
# Kinematic parent of each joint (-1 for the root).
MOVNECT_PARENTS: Tuple[int, ...] = (1, 14, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1)
MOVNECT_FLIP_PAIRS: Tuple[Tuple[int, int], ...] = ((2, 5), (3, 6), (4, 7), (8, 11), (9, 12),
                                                   (10, 13))
# The joint set itself lives in mhp_tf.skeletons ("movnect"), so the input pipeline, the
# evaluator and the drawing code know it like every other dataset's.
MOVNECT_SKELETON = skeletons.MOVNECT

if MOVNECT_JOINTS != MOVNECT_SKELETON.joints or MOVNECT_FLIP_PAIRS != MOVNECT_SKELETON.flip_pairs:
    raise AssertionError("MOVNECT_JOINTS must be skeletons.MOVNECT's joints")


def movnect_mapping_indices(source: str) -> np.ndarray:
    """For each MoVNect joint, its index in skeleton ``source`` (-1 where it lacks it).

    Matching is by joint name with the project's aliases (H36M / MPII ``Head`` is the head
    top, MuCo ``Head_top``): the MoVNect joints are the first 15 MuCo joints, so this is
    ``skeletons.mapping_indices(source, 'muco')[:15]``.
    """
    return skeletons.mapping_indices(source, "movnect")


def map_to_movnect(values, visibility, source: str):
    """Re-order ``values [..., J_src, C]`` and ``visibility [..., J_src]`` onto MoVNect-15.

    Joints the source lacks get zeros and visibility 0.
    """
    idx = movnect_mapping_indices(source)
    values = np.asarray(values)
    visibility = np.asarray(visibility)
    n = skeletons.get_skeleton(source).num_joints if source != "movnect" else len(idx)
    if values.shape[-2] != n or visibility.shape[-1] != n:
        raise ValueError(f"expected {n} {source} joints, got values {values.shape} and "
                         f"visibility {visibility.shape}")
    have = idx >= 0
    safe = np.where(have, idx, 0)
    return (np.take(values, safe, axis=-2) * have[:, None],
            np.take(visibility, safe, axis=-1) * have)


# ----------------------------------------------------------------------------- config

# MobileNetV2 inverted-residual stages up to block 12: (expansion t, channels c, repeats n,
# stride s of the first block). Block ids run 0..12 (Keras: expanded_conv_, block_1_ ...).
BASE_STAGES: Tuple[Tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
BASE_OUTPUT_LAYER = "block_12_add"
BASE_STRIDE = 16
OUTPUT_STRIDE = 8


@dataclasses.dataclass(frozen=True)
class Variant:
    block13_a: Tuple[int, int, int]
    block13_b: Tuple[int, int, int]
    upsampling: str  # 'bilinear' (+ 3x3 conv) or 'transposed'


VARIANTS: Dict[str, Variant] = {
    "A": Variant((368, 368, 256), (192, 192, 128), "bilinear"),
    "B": Variant((368, 368, 256), (192, 192, 128), "transposed"),
    "C": Variant((512, 512, 512), (256, 256, 128), "bilinear"),
}
# What Tables 2/3 report (J = 15), for side-by-side tables.
PAPER_PARAMS = {"A": "1.03M", "B": "1.13M", "C": "2.69M"}
BONE_FEATURES = ("learned", "parent")
TRANSPOSED_KERNEL = 4
# Unit of the location maps, in mm (decimetres); see movnect_targets.
LOCATION_UNIT_MM = 100.0


@dataclasses.dataclass(frozen=True)
class MoVNectConfig:
    """Every hyper-parameter of a MoVNect network.

    Attributes:
      num_joints: J (15 in the paper, :data:`MOVNECT_JOINTS`).
      input_size: side S of the square input crop (256 in the paper); a multiple of 16.
        The output grid is ``S / 8``.
      variant: ``'A'`` (the paper's final model), ``'B'`` or ``'C'`` (Table 1).
      alpha: MobileNetV2 width multiplier of the base (1.0 in the paper). Block13 and
        later widths are not scaled.
      branch_channels: width of Block14's feature branch and of Block15 (128).
      bone_features: ``'learned'``: BL from the conv output dX, dY, dZ directly (paper);
        ``'parent'``: BL from the difference of that output to the kinematic parent.
      parents: parent of each joint (-1 at the root) for ``bone_features='parent'``;
        ``None`` = :data:`MOVNECT_PARENTS` (requires ``num_joints == 15``).
      align_corners: Block14's bilinear upsampling: align corners (True) or half-pixel
        centres (False).
      bn_momentum, bn_epsilon: BatchNorm settings (Keras defaults; epsilon 1e-3 is also
        keras.applications.MobileNetV2's, so imported ImageNet weights behave the same).
    """

    num_joints: int = 15
    input_size: int = 256
    variant: str = "A"
    alpha: float = 1.0
    branch_channels: int = 128
    bone_features: str = "learned"
    parents: Optional[Tuple[int, ...]] = None
    align_corners: bool = True
    bn_momentum: float = 0.99
    bn_epsilon: float = 1e-3

    def __post_init__(self):
        def check(ok, message):
            if not ok:
                raise ValueError(f"invalid MoVNect config: {message}")

        for field in ("num_joints", "input_size", "branch_channels"):
            value = getattr(self, field)
            check(isinstance(value, int) and not isinstance(value, bool) and value > 0,
                  f"{field} must be a positive int, got {value!r}")
        check(self.input_size % BASE_STRIDE == 0,
              f"input_size={self.input_size} is not a multiple of {BASE_STRIDE}")
        check(self.variant in VARIANTS,
              f"variant={self.variant!r}, expected one of {tuple(VARIANTS)}")
        check(self.bone_features in BONE_FEATURES,
              f"bone_features={self.bone_features!r}, expected one of {BONE_FEATURES}")
        check(isinstance(self.alpha, (int, float)) and self.alpha > 0,
              f"alpha must be > 0, got {self.alpha!r}")
        check(isinstance(self.align_corners, bool), "align_corners must be a bool")
        check(0.0 <= self.bn_momentum < 1.0, f"bn_momentum={self.bn_momentum!r}")
        check(self.bn_epsilon > 0, f"bn_epsilon={self.bn_epsilon!r}")
        if self.parents is not None:
            parents = tuple(int(p) for p in self.parents)  # JSON gives lists
            object.__setattr__(self, "parents", parents)
            check(len(parents) == self.num_joints,
                  f"parents has {len(parents)} entries for {self.num_joints} joints")
            check(all(-1 <= p < self.num_joints and p != j for j, p in enumerate(parents)),
                  f"parents must be in [-1, J) and not self-references, got {parents}")
        elif self.bone_features == "parent":
            check(self.num_joints == len(MOVNECT_PARENTS),
                  "bone_features='parent' with num_joints != 15 needs explicit parents")

    @property
    def heatmap_size(self) -> int:
        """Side of the output grid (``input_size / 8``)."""
        return self.input_size // OUTPUT_STRIDE

    @property
    def output_channels(self) -> int:
        return 4 * self.num_joints

    @property
    def kinematic_parents(self) -> Tuple[int, ...]:
        return self.parents if self.parents is not None else MOVNECT_PARENTS

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        if out["parents"] is not None:
            out["parents"] = list(out["parents"])
        return out

    def replace(self, **changes) -> "MoVNectConfig":
        return dataclasses.replace(self, **changes)


# ----------------------------------------------------------------------------- layers


def parent_difference_matrix(parents: Sequence[int]) -> np.ndarray:
    """``M [J, J]`` with ``(v @ M)_j = v_j - v_parent(j)`` (``v_root`` at the root)."""
    n = len(parents)
    m = np.eye(n, dtype=np.float32)
    for j, p in enumerate(parents):
        if p >= 0:
            m[p, j] -= 1.0
    return m


@tf.keras.utils.register_keras_serializable(package="mhp_tf")
class BoneLengthFeature(tf.keras.layers.Layer):
    """Bone-length feature ``BL_j = |dX_j| + |dY_j| + |dZ_j|`` (MoVNect, L1 form).

    Input ``[B, H, W, 3J]`` with channels ``[dX_0..dX_{J-1}, dY_0.., dZ_0..]``; output
    ``[B, H, W, J]``. With ``parents`` given, the input is first differenced to the
    kinematic parent (``d_j - d_parent(j)``, the root kept as is) by a constant 1x1
    convolution (no weights; TFLite ``CONV_2D``). Every tensor stays rank 4.
    """

    def __init__(self, num_joints: int, parents: Optional[Sequence[int]] = None, **kwargs):
        super().__init__(**kwargs)
        self.num_joints = int(num_joints)
        self.parents = None if parents is None else [int(p) for p in parents]
        if self.parents is not None and len(self.parents) != self.num_joints:
            raise ValueError(f"{len(self.parents)} parents for {self.num_joints} joints")

    def call(self, inputs):
        if self.parents is not None:
            m = parent_difference_matrix(self.parents)
            kernel = np.kron(np.eye(3, dtype=np.float32), m)[None, None]  # [1,1,3J,3J]
            inputs = tf.nn.conv2d(inputs, tf.constant(kernel, dtype=inputs.dtype), 1,
                                  "VALID")
        dx, dy, dz = tf.split(inputs, 3, axis=-1)
        return tf.abs(dx) + tf.abs(dy) + tf.abs(dz)

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        return tf.TensorShape(shape[:-1] + [self.num_joints])

    def get_config(self):
        config = super().get_config()
        config.update({"num_joints": self.num_joints, "parents": self.parents})
        return config


def _bn(cfg: MoVNectConfig, name: str):
    return tf.keras.layers.BatchNormalization(
        momentum=cfg.bn_momentum, epsilon=cfg.bn_epsilon, name=name)


def _correct_pad(x) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    """keras.applications' padding before a 3x3 stride-2 'valid' conv: one pixel
    bottom/right, plus one top/left for odd sizes (= TF 'SAME')."""
    h, w = int(x.shape[1]), int(x.shape[2])
    return ((h % 2, 1), (w % 2, 1))


def _inverted_res_block(x, expansion: int, stride: int, filters: int, block_id: int,
                        cfg: MoVNectConfig):
    """keras.applications.MobileNetV2's inverted residual, same layer names."""
    in_channels = int(x.shape[-1])
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    shortcut = x
    if block_id:
        x = tf.keras.layers.Conv2D(expansion * in_channels, 1, padding="same",
                                   use_bias=False, name=prefix + "expand")(x)
        x = _bn(cfg, prefix + "expand_BN")(x)
        x = tf.keras.layers.ReLU(6.0, name=prefix + "expand_relu")(x)
    if stride == 2:
        x = tf.keras.layers.ZeroPadding2D(_correct_pad(x), name=prefix + "pad")(x)
    x = tf.keras.layers.DepthwiseConv2D(3, strides=stride, use_bias=False,
                                        padding="same" if stride == 1 else "valid",
                                        name=prefix + "depthwise")(x)
    x = _bn(cfg, prefix + "depthwise_BN")(x)
    x = tf.keras.layers.ReLU(6.0, name=prefix + "depthwise_relu")(x)
    x = tf.keras.layers.Conv2D(filters, 1, padding="same", use_bias=False,
                               name=prefix + "project")(x)
    x = _bn(cfg, prefix + "project_BN")(x)
    if in_channels == filters and stride == 1:
        x = tf.keras.layers.Add(name=prefix + "add")([shortcut, x])
    return x


def mobilenet_v2_base(x, cfg: MoVNectConfig):
    """MobileNetV2 up to block 12 (output stride 16, 96 channels at alpha 1)."""
    x = tf.keras.layers.Conv2D(make_divisible(32 * cfg.alpha, 8), 3, strides=2,
                               padding="same", use_bias=False, name="Conv1")(x)
    x = _bn(cfg, "bn_Conv1")(x)
    x = tf.keras.layers.ReLU(6.0, name="Conv1_relu")(x)
    block_id = 0
    for t, c, n, s in BASE_STAGES:
        filters = make_divisible(int(c * cfg.alpha), 8)
        for i in range(n):
            x = _inverted_res_block(x, t, s if i == 0 else 1, filters, block_id, cfg)
            block_id += 1
    return x


def _conv_bn(x, filters: int, kernel_size: int, cfg: MoVNectConfig, name: str,
             relu: bool = True):
    """Conv (no bias, 'same') -> BN [-> ReLU]; layers ``{name}_conv/_BN/_relu``."""
    x = tf.keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False,
                               name=f"{name}_conv")(x)
    x = _bn(cfg, f"{name}_BN")(x)
    if relu:
        x = tf.keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def _depthwise_bn_relu(x, cfg: MoVNectConfig, name: str):
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False,
                                        name=f"{name}_conv")(x)
    x = _bn(cfg, f"{name}_BN")(x)
    return tf.keras.layers.ReLU(name=f"{name}_relu")(x)


def _up_conv_bn(x, filters: int, cfg: MoVNectConfig, variant: Variant, name: str,
                relu: bool):
    """Block14 branch: (upsampled x) -> 3x3 conv, or a 4x4/2 transposed conv; BN [ReLU]."""
    if variant.upsampling == "bilinear":
        return _conv_bn(x, filters, 3, cfg, name, relu)
    x = tf.keras.layers.Conv2DTranspose(filters, TRANSPOSED_KERNEL, strides=2,
                                        padding="same", use_bias=False,
                                        name=f"{name}_conv")(x)
    x = _bn(cfg, f"{name}_BN")(x)
    if relu:
        x = tf.keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def _build_graph(inputs, cfg: MoVNectConfig):
    variant = VARIANTS[cfg.variant]
    j = cfg.num_joints
    base = mobilenet_v2_base(inputs, cfg)

    a1, a2, a3 = variant.block13_a
    y = _conv_bn(base, a1, 1, cfg, "block13_a_expand")
    y = _depthwise_bn_relu(y, cfg, "block13_a_depthwise")  # a2 == a1 (depthwise)
    y = _conv_bn(y, a3, 1, cfg, "block13_a_project", relu=False)
    s = _conv_bn(base, a3, 1, cfg, "block13_a_shortcut", relu=False)
    x = tf.keras.layers.Add(name="block13_a_add")([y, s])
    x = tf.keras.layers.ReLU(name="block13_a_relu")(x)

    b1, b2, b3 = variant.block13_b
    x = _conv_bn(x, b1, 1, cfg, "block13_b_expand")
    x = _depthwise_bn_relu(x, cfg, "block13_b_depthwise")  # b2 == b1
    x = _conv_bn(x, b3, 1, cfg, "block13_b_project")

    if variant.upsampling == "bilinear":
        if cfg.align_corners:
            x = AlignCornersUpsample2D(2, name="block14_upsample")(x)
        else:
            x = tf.keras.layers.UpSampling2D(2, interpolation="bilinear",
                                             name="block14_upsample")(x)
    features = _up_conv_bn(x, cfg.branch_channels, cfg, variant, "block14_features", True)
    deltas = _up_conv_bn(x, 3 * j, cfg, variant, "block14_delta", False)
    parents = cfg.kinematic_parents if cfg.bone_features == "parent" else None
    bone = BoneLengthFeature(j, parents, name="block14_bone_length")(deltas)
    x = tf.keras.layers.Concatenate(name="block14_concat")([features, deltas, bone])

    x = _conv_bn(x, cfg.branch_channels, 1, cfg, "block15_expand")
    x = _depthwise_bn_relu(x, cfg, "block15_depthwise")
    x = tf.keras.layers.Conv2D(4 * j, 1, use_bias=True, name="block15_output_conv")(x)
    # Outputs leave the model in float32 even under mixed precision.
    return tf.keras.layers.Activation("linear", dtype="float32", name="outputs")(x)


def _check_variant_widths():
    for name, v in VARIANTS.items():
        if v.block13_a[0] != v.block13_a[1] or v.block13_b[0] != v.block13_b[1]:
            raise AssertionError(f"variant {name}: a depthwise conv cannot change width")


_check_variant_widths()


@tf.keras.utils.register_keras_serializable(package="mhp_tf")
class MoVNect(tf.keras.Model):
    """MoVNect as a functional ``tf.keras.Model``.

    Input: ``[B, S, S, 3]`` float image, normalised by the input pipeline (an
    ImageNet-initialised base expects ``x / 127.5 - 1``). Output: ``[B, S/8, S/8, 4J]``
    float32, channels ``[H | X | Y | Z]`` (see the module docstring; :func:`split_outputs`).

    Constructor arguments are the fields of :class:`MoVNectConfig`; ``get_config()``
    returns them, so ``MoVNect.from_config(model.get_config())`` rebuilds the same
    architecture with the same layer names.
    """

    def __init__(self, name: Optional[str] = None, **config):
        config.pop("trainable", None)
        config.pop("dtype", None)
        cfg = MoVNectConfig(**config)
        inputs = tf.keras.Input((cfg.input_size, cfg.input_size, 3), name="image")
        outputs = _build_graph(inputs, cfg)
        super().__init__(inputs=inputs, outputs=outputs,
                         name=name or f"movnect_{cfg.variant.lower()}")
        self._movnect_config = cfg

    @property
    def movnect_config(self) -> MoVNectConfig:
        return self._movnect_config

    @property
    def heatmap_size(self) -> int:
        return self._movnect_config.heatmap_size

    def get_config(self):
        return {"name": self.name, **self._movnect_config.to_dict()}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


# ``Model.to_json()`` writes the bare class name; register it too (as MobileHumanPose does).
tf.keras.utils.get_custom_objects().setdefault("MoVNect", MoVNect)


def is_movnect_model(model) -> bool:
    """Whether ``model`` is a MoVNect (outputs heatmaps + location maps, not coordinates)."""
    return hasattr(model, "movnect_config")


def build_movnect(variant: str = "A", num_joints: int = 15, name: Optional[str] = None,
                  **overrides) -> MoVNect:
    """Build MoVNect Type ``variant`` (randomly initialised); ``overrides`` are any
    :class:`MoVNectConfig` fields (e.g. ``input_size=128``)."""
    return MoVNect(name=name, **MoVNectConfig(num_joints=num_joints, variant=variant,
                                              **overrides).to_dict())


def copy_mobilenet_v2_weights(model: tf.keras.Model, source: tf.keras.Model) -> int:
    """Copy the base weights from a ``keras.applications.MobileNetV2`` by layer name.

    ``source`` must have the same ``alpha`` (e.g. ``tf.keras.applications.MobileNetV2(
    alpha=1.0, include_top=False, weights='imagenet')``, any input size). Returns the
    number of layers whose weights were copied; raises if a shape differs.
    """
    copied = 0
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            continue
        src_weights = src.get_weights()
        dst_shapes = [w.shape for w in layer.get_weights()]
        if [w.shape for w in src_weights] != dst_shapes:
            raise ValueError(f"layer {layer.name!r}: shapes {[w.shape for w in src_weights]} "
                             f"!= {dst_shapes} (different alpha?)")
        layer.set_weights(src_weights)
        copied += 1
    return copied


# ----------------------------------------------------------------------------- outputs


def split_outputs(outputs, num_joints: Optional[int] = None) -> Dict[str, tf.Tensor]:
    """Split ``[..., 4J]`` into ``heatmaps``, ``x``, ``y``, ``z`` (each ``[..., J]``) and
    ``location_maps`` (``[..., 3J]``, the X | Y | Z blocks)."""
    outputs = tf.convert_to_tensor(outputs)
    channels = outputs.shape[-1]
    if channels is None or channels % 4:
        raise ValueError(f"expected 4J channels, got shape {outputs.shape}")
    j = channels // 4
    if num_joints is not None and num_joints != j:
        raise ValueError(f"expected {4 * num_joints} channels, got {channels}")
    h, x, y, z = tf.split(outputs, 4, axis=-1)
    return {"heatmaps": h, "x": x, "y": y, "z": z, "location_maps": outputs[..., j:]}


def _hw(heatmap_size) -> Tuple[int, int]:
    if isinstance(heatmap_size, (tuple, list)):
        h, w = heatmap_size
        return int(h), int(w)
    return int(heatmap_size), int(heatmap_size)


def movnect_targets(coords_2d, joints_rel, vis, heatmap_size, sigma: float = 1.0,
                    units: str = "mm", location_unit_mm: float = LOCATION_UNIT_MM):
    """Ground-truth heatmaps and location maps, in the network's output layout.

    Works on one example (``[J, ...]`` inputs -> ``[h, w, 4J]``, for ``tf.data.map``) or a
    batch (``[B, J, ...]`` -> ``[B, h, w, 4J]``); only TensorFlow ops.

    Args:
      coords_2d: ``[..., J, 2]`` joint (x, y) in heatmap units: output-grid cells, cell
        ``i`` centred at coordinate ``i`` (the pipeline's ``coords[..., :2]`` for a
        heatmap of this size: ``patch_px * heatmap_size / input_size``).
      joints_rel: ``[..., J, 3]`` root-relative joint positions (camera axes).
      vis: ``[..., J]`` visibility in {0, 1} (or weights); 0 zeroes the joint's maps.
      heatmap_size: ``h`` (square) or ``(h, w)``.
      sigma: Gaussian standard deviation in heatmap cells (the paper gives none; 1 cell =
        8 input pixels at the 32x32 output of a 256 input).
      units: ``'mm'`` or ``'m'``, the unit of ``joints_rel``.
      location_unit_mm: unit of the location maps in mm. Default 100 (decimetres): the
        paper gives no unit, but its teacher-student loss compares the student's maps to
        VNect's, and public ports of the released VNect model read its location maps as
        decimetres (x100 -> mm). Use 1000 for metres.

    Returns:
      ``[..., h, w, 4J]`` float32: channels ``[0, J)`` heatmaps
      ``H_j(u, v) = vis_j * exp(-((u - x_j)^2 + (v - y_j)^2) / (2 sigma^2))`` (peak 1 at the
      joint; unnormalised, as VNect / Zhang et al.); ``[J, 4J)`` location maps X | Y | Z,
      each filled everywhere with ``vis_j * joints_rel_j / location_unit_mm`` (VNect's
      constant maps; the location loss only looks at them under the GT heatmap).
    """
    if units not in ("mm", "m"):
        raise ValueError(f"units={units!r}, expected 'mm' or 'm'")
    h, w = _hw(heatmap_size)
    coords_2d = tf.cast(coords_2d, tf.float32)
    joints_rel = tf.cast(joints_rel, tf.float32)
    vis = tf.cast(vis, tf.float32)
    scale = (1000.0 if units == "m" else 1.0) / float(location_unit_mm)

    xs = tf.range(w, dtype=tf.float32)
    ys = tf.range(h, dtype=tf.float32)
    inv = 1.0 / (2.0 * float(sigma) ** 2)
    gx = tf.exp(-tf.square(xs - coords_2d[..., 0:1]) * inv)  # [..., J, w]
    gy = tf.exp(-tf.square(ys - coords_2d[..., 1:2]) * inv)  # [..., J, h]
    heatmaps = tf.einsum("...jh,...jw->...hwj", gy, gx) * vis[..., None, None, :]

    loc = joints_rel * scale * vis[..., None]                  # [..., J, 3]
    loc = tf.reshape(tf.linalg.matrix_transpose(loc),          # [..., 3J]: X | Y | Z
                     tf.concat([tf.shape(loc)[:-2], [-1]], 0))
    loc_maps = tf.zeros_like(heatmaps[..., :1]) + loc[..., None, None, :]
    return tf.concat([heatmaps, loc_maps], axis=-1)


def _flat_gather(maps_t, index):
    """``maps_t [B, J, C, P]``, ``index [B, J]`` -> ``[B, J, C]`` (value at ``index``)."""
    return tf.gather(maps_t, index[:, :, None], axis=3, batch_dims=2)[..., 0]


def read_location_maps(location_maps, points_2d, interpolation: str = "nearest"):
    """Sample location maps at 2D points (e.g. 1-Euro-filtered keypoints, sec. 3.3).

    Args:
      location_maps: ``[B, h, w, 3J]`` (X | Y | Z blocks).
      points_2d: ``[B, J, 2]`` (x, y) in heatmap units; clamped to the grid.
      interpolation: ``'nearest'`` (round to the nearest cell) or ``'bilinear'``.

    Returns:
      ``[B, J, 3]`` map values (location-map units).
    """
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"interpolation={interpolation!r}")
    loc = tf.cast(location_maps, tf.float32)
    h, w, c = loc.shape[1], loc.shape[2], loc.shape[3]
    j = c // 3
    loc_t = tf.transpose(tf.reshape(loc, [-1, h * w, 3, j]), [0, 3, 2, 1])  # [B, J, 3, hw]
    pts = tf.cast(points_2d, tf.float32)
    px = tf.clip_by_value(pts[..., 0], 0.0, float(w - 1))
    py = tf.clip_by_value(pts[..., 1], 0.0, float(h - 1))
    if interpolation == "nearest":
        ix = tf.cast(tf.round(px), tf.int32)
        iy = tf.cast(tf.round(py), tf.int32)
        return _flat_gather(loc_t, iy * w + ix)
    x0 = tf.floor(px)
    y0 = tf.floor(py)
    fx = (px - x0)[..., None]
    fy = (py - y0)[..., None]
    x0 = tf.cast(x0, tf.int32)
    y0 = tf.cast(y0, tf.int32)
    x1 = tf.minimum(x0 + 1, w - 1)
    y1 = tf.minimum(y0 + 1, h - 1)
    v00 = _flat_gather(loc_t, y0 * w + x0)
    v01 = _flat_gather(loc_t, y0 * w + x1)
    v10 = _flat_gather(loc_t, y1 * w + x0)
    v11 = _flat_gather(loc_t, y1 * w + x1)
    return ((1 - fy) * ((1 - fx) * v00 + fx * v01) + fy * ((1 - fx) * v10 + fx * v11))


def movnect_readout(outputs, refine: bool = False,
                    location_unit_mm: float = LOCATION_UNIT_MM) -> Dict[str, tf.Tensor]:
    """Joint positions from network outputs (the paper's read-out, sec. 3.1 / VNect).

    Per joint: the 2D position is the argmax of its heatmap; X, Y, Z are the location-map
    values at that cell.

    Args:
      outputs: ``[B, h, w, 4J]`` (or one ``[h, w, 4J]``) network output, or a dict with
        ``heatmaps [.., J]`` and ``location_maps [.., 3J]``.
      refine: add a sub-pixel offset to the 2D position from a parabola through the
        maximum and its two neighbours along each axis (|offset| <= 0.5; none at the
        border or on a flat top). X, Y, Z are still read at the integer maximum.
      location_unit_mm: the location maps' unit (see :func:`movnect_targets`).

    Returns:
      dict: ``coords_2d [B, J, 2]`` (x, y) in heatmap units; ``joints_3d [B, J, 3]``
      root-relative, mm; ``confidence [B, J]`` heatmap value at the maximum.
    """
    if isinstance(outputs, dict):
        heatmaps, loc = outputs["heatmaps"], outputs["location_maps"]
    else:
        parts = split_outputs(outputs)
        heatmaps, loc = parts["heatmaps"], parts["location_maps"]
    heatmaps = tf.cast(heatmaps, tf.float32)
    unbatched = heatmaps.shape.rank == 3
    if unbatched:
        heatmaps, loc = heatmaps[None], tf.convert_to_tensor(loc)[None]
    h, w, j = heatmaps.shape[1], heatmaps.shape[2], heatmaps.shape[3]
    hm_t = tf.transpose(tf.reshape(heatmaps, [-1, h * w, j]), [0, 2, 1])  # [B, J, hw]
    index = tf.argmax(hm_t, axis=-1, output_type=tf.int32)                  # [B, J]
    ix = index % w
    iy = index // w
    confidence = tf.gather(hm_t, index[:, :, None], batch_dims=2)[..., 0]
    x = tf.cast(ix, tf.float32)
    y = tf.cast(iy, tf.float32)

    if refine:
        def value(offset):
            return tf.gather(hm_t, tf.clip_by_value(index + offset, 0, h * w - 1)[:, :, None],
                             batch_dims=2)[..., 0]

        def offset(lo, hi, inside):
            curvature = lo - 2.0 * confidence + hi
            ok = inside & (curvature < 0)
            safe = tf.where(ok, curvature, -1.0)
            return tf.where(ok, tf.clip_by_value(0.5 * (lo - hi) / safe, -0.5, 0.5), 0.0)

        x = x + offset(value(-1), value(1), (ix > 0) & (ix < w - 1))
        y = y + offset(value(-w), value(w), (iy > 0) & (iy < h - 1))

    xyz = read_location_maps(loc, tf.stack([tf.cast(ix, tf.float32),
                                            tf.cast(iy, tf.float32)], -1))
    out = {"coords_2d": tf.stack([x, y], -1),
           "joints_3d": xyz * float(location_unit_mm),
           "confidence": confidence}
    if unbatched:
        out = {k: v[0] for k, v in out.items()}
    return out


# ----------------------------------------------------------------------------- losses


def _l2_norm(sum_of_squares):
    """``sqrt`` with a zero (not NaN) gradient at 0."""
    positive = sum_of_squares > 0
    safe = tf.where(positive, sum_of_squares, 1.0)
    return tf.where(positive, tf.sqrt(safe), 0.0)


def movnect_heatmap_loss(pred_heatmaps, gt_heatmaps, teacher_heatmaps=None,
                         alpha: float = 0.5, joint_weights=None):
    """L_HM = 1/J sum_j { a ||H_j - H_j^GT||_2 + (1 - a) ||H_j - H_j^T||_2 } (paper eq. 1).

    ``||.||_2`` is the (unsquared) L2 norm over the ``h x w`` map. Without a teacher the
    loss is the GT term alone (``a = 1``). Heatmaps are ``[B, h, w, J]``;
    ``joint_weights [B, J]`` (e.g. annotation masks) multiply each joint's term, the sum is
    still divided by J; the result is the batch mean (float32 scalar).
    """
    pred = tf.cast(pred_heatmaps, tf.float32)

    def norm(target):
        return _l2_norm(tf.reduce_sum(tf.square(pred - tf.cast(target, tf.float32)), [1, 2]))

    term = norm(gt_heatmaps)
    if teacher_heatmaps is not None:
        term = alpha * term + (1.0 - alpha) * norm(teacher_heatmaps)
    if joint_weights is not None:
        term = term * tf.cast(joint_weights, tf.float32)
    return tf.reduce_mean(tf.reduce_mean(term, axis=-1))


def movnect_location_loss(pred_location_maps, gt_location_maps, gt_heatmaps,
                          teacher_location_maps=None, alpha: float = 0.5,
                          joint_weights=None):
    """L_LM = sum_j { a ||H_j^GT * (L_j - L_j^GT)||_2 + (1 - a) ||H_j^GT * (L_j - L_j^T)||_2 }.

    (Paper eq. 2.) ``L_j`` stacks joint j's X, Y and Z maps, so the norm runs over
    ``3 x h x w`` values; both terms are masked by the GT heatmap. Location maps are
    ``[B, h, w, 3J]`` (X | Y | Z), heatmaps ``[B, h, w, J]``. Summed over joints (no 1/J,
    as in the paper), ``joint_weights [B, J]`` (e.g. ``vis * have_depth``) per joint;
    batch mean.
    """
    pred = tf.cast(pred_location_maps, tf.float32)
    mask = tf.cast(gt_heatmaps, tf.float32)
    mask = tf.concat([mask, mask, mask], axis=-1)
    j = mask.shape[-1] // 3

    def norm(target):
        sq = tf.reduce_sum(tf.square(mask * (pred - tf.cast(target, tf.float32))), [1, 2])
        return _l2_norm(tf.reduce_sum(tf.reshape(sq, [-1, 3, j]), axis=1))  # [B, J]

    term = norm(gt_location_maps)
    if teacher_location_maps is not None:
        term = alpha * term + (1.0 - alpha) * norm(teacher_location_maps)
    if joint_weights is not None:
        term = term * tf.cast(joint_weights, tf.float32)
    return tf.reduce_mean(tf.reduce_sum(term, axis=-1))


def movnect_loss(y_true, y_pred, teacher=None, alpha: float = 0.5, heatmap_weights=None,
                 location_weights=None, location_weight: float = 1.0
                 ) -> Dict[str, tf.Tensor]:
    """Both losses on packed ``[B, h, w, 4J]`` tensors (targets from :func:`movnect_targets`,
    ``teacher`` an optional teacher output in the same layout).

    Returns ``{'loss': L_HM + location_weight * L_LM, 'heatmap': L_HM, 'location': L_LM}``.
    """
    true = split_outputs(y_true)
    pred = split_outputs(y_pred)
    t = split_outputs(teacher) if teacher is not None else None
    hm = movnect_heatmap_loss(pred["heatmaps"], true["heatmaps"],
                              None if t is None else t["heatmaps"], alpha, heatmap_weights)
    lm = movnect_location_loss(pred["location_maps"], true["location_maps"],
                               true["heatmaps"], None if t is None else t["location_maps"],
                               alpha, location_weights)
    return {"loss": hm + location_weight * lm, "heatmap": hm, "location": lm}
