"""The MobileHumanPose network (Choi et al., CVPRW 2021) as a functional tf.keras model.

Two backbone topologies exist in the reference code:

``paper``   (L, S)  first conv stride 1, IR stage strides 1,2,2,2,2,2,1, skip
                    taps after IR blocks 9 / 12 / 15, encoder stride 32.
``compact`` (XS)    first conv stride 2, IR stage strides 2,2,2,2,2,1,1, skip
                    taps after IR blocks 5 / 9 / 12, encoder stride 64.

The decoder (three 1x1 + 3x3 conv stages, each ending in an align-corners
bilinear x2 upsample) brings the bottleneck back up by 8, so the heatmap is
``input / 4`` (paper) or ``input / 8`` (compact) on a side.
"""

import dataclasses
from typing import Dict, Optional, Tuple

import tensorflow as tf

from mhp_tf.modeling import blocks
from mhp_tf.modeling.layers import AlignCornersUpsample2D
from mhp_tf.modeling.layers import AvgPool3x3S2
from mhp_tf.modeling.layers import SoftArgmax3D
from mhp_tf.modeling.layers import make_divisible

# Inverted-residual stages: (expansion t, channels c at width 1.0, repeats n).
IR_STAGES: Tuple[Tuple[int, int, int], ...] = (
    (1, 64, 1), (6, 48, 2), (6, 48, 3), (6, 64, 4), (6, 96, 3), (6, 160, 3), (6, 320, 1))


@dataclasses.dataclass(frozen=True)
class Topology:
    first_stride: int
    stage_strides: Tuple[int, ...]
    # IR block indices whose outputs feed the decoder, shallowest first
    # (decoder stage 0 takes the deepest one).
    skip_taps: Tuple[int, int, int]

    @property
    def encoder_stride(self) -> int:
        stride = self.first_stride
        for s in self.stage_strides:
            stride *= s
        return stride


TOPOLOGIES: Dict[str, Topology] = {
    "paper": Topology(1, (1, 2, 2, 2, 2, 2, 1), (9, 12, 15)),
    "compact": Topology(2, (2, 2, 2, 2, 2, 1, 1), (5, 9, 12)),
}
CONCATS = ("skip", "none", "residual")
HEADS = ("coords", "heatmap")
NUM_DECODER_STAGES = 3


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Every hyper-parameter of a MobileHumanPose network.

    Attributes:
      num_joints: number of joints J (18 for Human3.6M, 21 for MuCo-3DHP).
      topology: ``'paper'`` (L/S) or ``'compact'`` (XS); see module docstring.
      width_multiplier: scales the first conv and every IR stage width
        (TF-slim rounding to multiples of 8). Not applied to the embedding,
        the decoder or the head.
      embedding_size: channels of the 1x1 bottleneck ("intermediate layer").
      depth_bins: D, the number of depth bins of the volumetric heatmap.
      input_size: side S of the square input crop; must be a multiple of the
        encoder stride (32 for ``paper``, 64 for ``compact``).
      activation: ``'prelu'`` (paper) or ``'relu'`` (Table 4 ablation).
      concat: ``'skip'`` (paper), ``'none'`` or ``'residual'`` (Table 5).
      head: ``'coords'`` -> ``[B, J, 3]`` soft-argmax coordinates in heatmap
        units (float32); ``'heatmap'`` -> ``[B, H, W, J * D]`` logits, channel
        ``j * D + d`` (the softmax-free deployment head).
      first_conv_channels: first conv width at width 1.0.
      decoder_channels: output width of every decoder stage.
      initializer: ``'reference'`` (reference training init: N(0, 0.001)
        encoder/head kernels, PyTorch-default decoder) or ``'torch_default'``.
      head_before_upsample: apply the 1x1 head conv *before* the last decoder
        stage's x2 bilinear upsample instead of after it. Both are linear maps
        and bilinear weights sum to one, so the two orders give the same
        logits (up to float rounding) with the same weights, while the head -
        the largest layer of every variant - runs on a quarter of the pixels
        (XS at 128 px: 62.5 -> 34.2 M conv MACs). The weights and output are
        unchanged; the last upsample layer is ``head_upsample`` instead of
        ``decoder2_upsample``. Off by default so the graph (and its FLOP count)
        is the reference's.
    """

    num_joints: int = 18
    topology: str = "paper"
    width_multiplier: float = 1.0
    embedding_size: int = 2048
    depth_bins: int = 64
    input_size: int = 256
    activation: str = "prelu"
    concat: str = "skip"
    head: str = "coords"
    first_conv_channels: int = 48
    decoder_channels: int = 256
    initializer: str = "reference"
    head_before_upsample: bool = False

    def __post_init__(self):
        def check(ok, message):
            if not ok:
                raise ValueError(f"invalid MobileHumanPose config: {message}")

        check(self.topology in TOPOLOGIES,
              f"topology={self.topology!r}, expected one of {tuple(TOPOLOGIES)}")
        check(self.concat in CONCATS, f"concat={self.concat!r}, expected one of {CONCATS}")
        check(self.head in HEADS, f"head={self.head!r}, expected one of {HEADS}")
        check(self.activation in blocks.ACTIVATIONS,
              f"activation={self.activation!r}, expected one of {blocks.ACTIVATIONS}")
        check(self.initializer in blocks.INITIALIZERS,
              f"initializer={self.initializer!r}, expected one of {blocks.INITIALIZERS}")
        for field in ("num_joints", "embedding_size", "depth_bins", "input_size",
                      "first_conv_channels", "decoder_channels"):
            value = getattr(self, field)
            check(isinstance(value, int) and not isinstance(value, bool) and value > 0,
                  f"{field} must be a positive int, got {value!r}")
        check(isinstance(self.head_before_upsample, bool),
              f"head_before_upsample must be a bool, got {self.head_before_upsample!r}")
        check(isinstance(self.width_multiplier, (int, float)) and self.width_multiplier > 0,
              f"width_multiplier must be > 0, got {self.width_multiplier!r}")
        stride = TOPOLOGIES[self.topology].encoder_stride
        check(self.input_size % stride == 0,
              f"input_size={self.input_size} is not a multiple of the {self.topology!r} "
              f"encoder stride {stride}")

    @property
    def heatmap_size(self) -> int:
        """Side of the output heatmap grid (H = W)."""
        return self.input_size // TOPOLOGIES[self.topology].encoder_stride * 2 ** NUM_DECODER_STAGES

    @property
    def heatmap_shape(self) -> Tuple[int, int, int]:
        """(H, W, D) of the volumetric heatmap."""
        return (self.heatmap_size, self.heatmap_size, self.depth_bins)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "ModelConfig":
        return dataclasses.replace(self, **changes)


def _resample_to(x, reference, name: str):
    """Bring ``x`` to the spatial size of ``reference`` (residual concat)."""
    src, dst = x.shape[1], reference.shape[1]
    if src == dst:
        return x
    if src == 2 * dst:
        return AvgPool3x3S2(name=f"{name}_avgpool")(x)
    if 2 * src == dst:
        return AlignCornersUpsample2D(2, name=f"{name}_upsample")(x)
    raise ValueError(f"cannot resample {x.shape} to {reference.shape}")


def _build_graph(inputs, cfg: ModelConfig):
    """Wire the network on ``inputs``; returns the output tensor."""
    topo = TOPOLOGIES[cfg.topology]
    act, init = cfg.activation, cfg.initializer
    residual = cfg.concat == "residual"

    x = blocks.conv_bn_act(inputs, make_divisible(cfg.first_conv_channels * cfg.width_multiplier),
                           3, topo.first_stride, activation=act, init=init, name="stem")
    stage_outputs = [x]  # f_{-1}: stem output, then one entry per IR stage.
    taps = {}
    block_id = 0
    for stage_id, ((t, c, n), stage_stride) in enumerate(zip(IR_STAGES, topo.stage_strides)):
        filters = make_divisible(c * cfg.width_multiplier)
        if residual and stage_id > 0:
            prev2, prev1 = stage_outputs[-2], stage_outputs[-1]
            x = tf.keras.layers.Concatenate(name=f"stage{stage_id}_concat")(
                [_resample_to(prev2, prev1, f"stage{stage_id}_res"), prev1])
        for i in range(n):
            x = blocks.inverted_residual(x, filters, stage_stride if i == 0 else 1, t,
                                         activation=act, init=init, name=f"block{block_id}")
            if block_id in topo.skip_taps:
                taps[block_id] = x
            block_id += 1
        stage_outputs.append(x)

    if residual:
        x = tf.keras.layers.Concatenate(name="embedding_concat")(
            [_resample_to(stage_outputs[-2], x, "embedding_res"), x])
    z = blocks.conv_bn_act(x, cfg.embedding_size, 1, activation=act, init=init, name="embedding")

    features = [stage_outputs[-1], z]  # residual: decoder inputs pair the last two features.
    d = z
    last_stage = len(topo.skip_taps) - 1
    for stage_id, tap in enumerate(reversed(topo.skip_taps)):
        skip = taps[tap]
        name = f"decoder{stage_id}"
        if cfg.concat == "skip":
            d = tf.keras.layers.Concatenate(name=f"{name}_concat")([skip, d])
            mid = int(skip.shape[-1])
        elif cfg.concat == "none":
            mid = int(skip.shape[-1])
        else:
            prev2, prev1 = features[-2], features[-1]
            d = tf.keras.layers.Concatenate(name=f"{name}_concat")(
                [_resample_to(prev2, prev1, f"{name}_res"), prev1])
            mid = cfg.decoder_channels
        late_upsample = cfg.head_before_upsample and stage_id == last_stage
        d = blocks.decoder_stage(d, mid, cfg.decoder_channels, activation=act, init=init,
                                 name=name, upsample=not late_upsample)
        features.append(d)

    logits = blocks.conv2d(d, cfg.num_joints * cfg.depth_bins, 1, use_bias=True, init=init,
                           role="head", name="head_conv")
    if cfg.head_before_upsample:
        logits = AlignCornersUpsample2D(2, name="head_upsample")(logits)
    if cfg.head == "coords":
        return SoftArgmax3D(cfg.depth_bins, name="soft_argmax")(logits)
    # Heatmap logits leave the model in float32 even under mixed precision.
    return tf.keras.layers.Activation("linear", dtype="float32", name="heatmap")(logits)


@tf.keras.utils.register_keras_serializable(package="mhp_tf")
class MobileHumanPose(tf.keras.Model):
    """MobileHumanPose as a functional ``tf.keras.Model``.

    Input: ``[B, S, S, 3]`` float image, already normalised by the input
    pipeline. Output: ``[B, J, 3]`` coordinates in heatmap units (``head=
    'coords'``) or ``[B, H, W, J * D]`` logits (``head='heatmap'``).

    Constructor arguments are the fields of :class:`ModelConfig`;
    ``get_config()`` returns them, so ``MobileHumanPose.from_config(
    model.get_config())`` rebuilds the same architecture with the same layer
    names. Use :func:`mhp_tf.build_model` for the L / S / XS presets.
    """

    def __init__(self, name: Optional[str] = None, **config):
        # Keras passes these for every model; the architecture ignores them.
        config.pop("trainable", None)
        config.pop("dtype", None)
        cfg = ModelConfig(**config)
        inputs = tf.keras.Input((cfg.input_size, cfg.input_size, 3), name="image")
        outputs = _build_graph(inputs, cfg)
        super().__init__(inputs=inputs, outputs=outputs, name=name or "mobilehumanpose")
        self._mhp_config = cfg

    @property
    def mhp_config(self) -> ModelConfig:
        return self._mhp_config

    @property
    def heatmap_shape(self) -> Tuple[int, int, int]:
        return self._mhp_config.heatmap_shape

    @property
    def logits_layer(self) -> tf.keras.layers.Layer:
        """The layer whose output is the full-resolution ``[B, H, W, J * D]`` heatmap
        logits: ``head_conv``, or ``head_upsample`` when ``head_before_upsample``."""
        return self.get_layer(
            "head_upsample" if self._mhp_config.head_before_upsample else "head_conv")

    def get_config(self):
        return {"name": self.name, **self._mhp_config.to_dict()}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


# ``Model.to_json()`` in tf_keras writes the bare class name rather than the
# registered ``mhp_tf>MobileHumanPose``; register the bare name too so that
# ``tf.keras.models.model_from_json`` works without ``custom_objects``.
tf.keras.utils.get_custom_objects().setdefault("MobileHumanPose", MobileHumanPose)
