"""Custom Keras layers used by MobileHumanPose.

Only three operations of the network are not stock Keras layers:

* :class:`AlignCornersUpsample2D` - bilinear x2 upsampling with
  ``align_corners=True`` (PyTorch ``nn.UpsamplingBilinear2d``). Keras'
  ``UpSampling2D`` and ``tf.image.resize`` use half-pixel centres and give
  different numbers.
* :class:`AvgPool3x3S2` - 3x3 / stride-2 average pooling with one pixel of
  symmetric padding that is *not* counted in the average (PyTorch
  ``AvgPool2d(3, 2, padding=1, count_include_pad=False)``), used only by the
  ``residual`` concatenation ablation.
* :class:`SoftArgmax3D` - integral regression over the volumetric heatmap
  (softmax over D*H*W per joint, then the expectation along each axis). In
  training it computes the same numbers without the joint-major transpose
  (:func:`soft_argmax_3d_direct`: XS at 128 px trains about 7 % faster,
  ``scripts/benchmark_soft_argmax.py``); inference and export graphs keep
  :func:`soft_argmax_3d` and its SOFTMAX op, which the int8 TFLite converter
  relies on.

All three keep every tensor at rank <= 4, so exported graphs stay acceptable
to the TFLite GPU delegate and NNAPI (both reject rank-5 tensors).
"""

from typing import Tuple

import numpy as np
import tensorflow as tf


def make_divisible(value: float, divisor: int = 8, min_value: int = None) -> int:
    """TF-slim channel rounding used by MobileNetV2 width multipliers.

    Rounds ``value`` to the nearest multiple of ``divisor`` (at least
    ``min_value``, default ``divisor``), adding ``divisor`` when rounding down
    lost more than 10% of ``value``.
    """
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return int(new_value)


@tf.keras.utils.register_keras_serializable(package="mhp_tf")
class AlignCornersUpsample2D(tf.keras.layers.Layer):
    """Bilinear upsampling by an integer factor with ``align_corners=True``.

    Output size is ``factor * (H, W)``; corner pixels of input and output are
    aligned, so output pixel ``i`` samples input position
    ``i * (H - 1) / (factor * H - 1)``. Lowers to TFLite ``RESIZE_BILINEAR``
    with ``align_corners=True``.
    """

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        if int(factor) != factor or factor < 1:
            raise ValueError(f"factor must be a positive integer, got {factor!r}")
        self.factor = int(factor)

    def call(self, inputs):
        height = inputs.shape[1]
        width = inputs.shape[2]
        if height is None or width is None:
            shape = tf.shape(inputs)
            height, width = shape[1], shape[2]
        size = tf.stack([height * self.factor, width * self.factor])
        out = tf.raw_ops.ResizeBilinear(
            images=inputs, size=size, align_corners=True, half_pixel_centers=False)
        # ResizeBilinear always returns float32; keep the layer's compute dtype
        # (float16 under mixed precision). A no-op for float32 models.
        return tf.cast(out, inputs.dtype)

    def compute_output_shape(self, input_shape):
        input_shape = tf.TensorShape(input_shape).as_list()
        scale = lambda d: None if d is None else d * self.factor  # noqa: E731
        return tf.TensorShape(
            [input_shape[0], scale(input_shape[1]), scale(input_shape[2]), input_shape[3]])

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor})
        return config


def _valid_counts(size: int) -> np.ndarray:
    """Number of non-padding taps of each output of a 3x3/s2/pad-1 window."""
    out = (size + 2 - 3) // 2 + 1
    counts = np.zeros(out, np.float32)
    for i in range(out):
        lo, hi = 2 * i - 1, 2 * i + 1
        counts[i] = min(hi, size - 1) - max(lo, 0) + 1
    return counts


@tf.keras.utils.register_keras_serializable(package="mhp_tf")
class AvgPool3x3S2(tf.keras.layers.Layer):
    """3x3 average pooling, stride 2, symmetric 1-pixel padding excluded from the count.

    Implemented as zero-pad + VALID average pooling (which divides by 9) and a
    constant per-position rescale ``9 / valid_taps``; needs static spatial
    dimensions.
    """

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            raise ValueError("AvgPool3x3S2 needs static spatial dimensions, "
                             f"got input shape {input_shape}")
        rows = _valid_counts(int(height))
        cols = _valid_counts(int(width))
        self._rescale = (9.0 / np.outer(rows, cols))[None, :, :, None].astype(np.float32)
        super().build(input_shape)

    def call(self, inputs):
        padded = tf.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]])
        pooled = tf.nn.avg_pool2d(padded, ksize=3, strides=2, padding="VALID")
        return pooled * tf.constant(self._rescale, dtype=pooled.dtype)

    def compute_output_shape(self, input_shape):
        input_shape = tf.TensorShape(input_shape).as_list()
        half = lambda d: None if d is None else (d - 1) // 2 + 1  # noqa: E731
        return tf.TensorShape(
            [input_shape[0], half(input_shape[1]), half(input_shape[2]), input_shape[3]])


def soft_argmax_3d(logits: tf.Tensor, depth: int) -> tf.Tensor:
    """Integral regression of 3D joint positions from volumetric heatmap logits.

    Args:
      logits: ``[B, H, W, J * depth]`` heatmap logits; channel ``c = j * depth + d``
        (joint-major, then depth), as produced by the MobileHumanPose head.
      depth: number of depth bins ``D``.

    Returns:
      ``[B, J, 3]`` float32 tensor of expected ``(x, y, z)`` in heatmap units:
      for each joint a softmax over all ``D * H * W`` voxels, then
      ``sum_i p_i * i`` along each axis, ``i = 0 .. N - 1``.

    The computation is carried out in float32 whatever the input dtype, and no
    intermediate tensor has rank > 4.
    """
    marg_x, marg_y, marg_z = heatmap_marginals(logits, depth)
    coords = [tf.reduce_sum(m * tf.range(m.shape[-1], dtype=tf.float32), axis=-1)
              for m in (marg_x, marg_y, marg_z)]
    return tf.stack(coords, axis=-1)  # [B, J, 3]


def _checked_logits(logits, depth: int):
    """``(float32 logits, H, W, J, D)`` of ``[B, H, W, J * D]`` heatmap logits, or ValueError."""
    logits = tf.convert_to_tensor(logits)
    if logits.shape.rank != 4:
        raise ValueError(f"soft_argmax_3d expects [B, H, W, J*D] logits, got shape {logits.shape}")
    height, width, channels = logits.shape[1], logits.shape[2], logits.shape[3]
    if None in (height, width, channels):
        raise ValueError(f"soft_argmax_3d needs static H, W and channels, got {logits.shape}")
    depth = int(depth)
    if channels % depth:
        raise ValueError(f"channels ({channels}) is not a multiple of depth ({depth})")
    return tf.cast(logits, tf.float32), height, width, channels // depth, depth


def heatmap_marginals(logits: tf.Tensor, depth: int):
    """Per-joint marginals of the volumetric softmax: ``([B,J,W], [B,J,H], [B,J,D])``.

    Same layout and float32 computation as :func:`soft_argmax_3d` (which takes the
    expectation of each marginal); exposed for losses on the heatmap itself.
    """
    logits, height, width, joints, depth = _checked_logits(logits, depth)
    # [B, H*W, J, D] -> [B, J, H*W, D] -> [B, J, H*W*D]: one softmax per joint.
    x = tf.reshape(logits, [-1, height * width, joints, depth])
    x = tf.transpose(x, [0, 2, 1, 3])
    x = tf.reshape(x, [-1, joints, height * width * depth])
    prob = tf.nn.softmax(x, axis=-1)
    # [B*J, H, W, D]: marginals per axis.
    prob = tf.reshape(prob, [-1, height, width, depth])
    marg_x = tf.reduce_sum(prob, axis=[1, 3])  # [B*J, W]
    marg_y = tf.reduce_sum(prob, axis=[2, 3])  # [B*J, H]
    marg_z = tf.reduce_sum(prob, axis=[1, 2])  # [B*J, D]
    return tuple(tf.reshape(m, [-1, joints, m.shape[-1]]) for m in (marg_x, marg_y, marg_z))


def soft_argmax_3d_direct(logits: tf.Tensor, depth: int) -> tf.Tensor:
    """:func:`soft_argmax_3d` computed in the head's own channel layout (for training).

    Same function and gradients (up to float rounding); the difference is cost.
    :func:`soft_argmax_3d` transposes the ``[B, H*W, J, D]`` logits to joint-major
    order, normalises them with a softmax and reduces the probabilities three times
    (three broadcasts back in the gradient). Here the exponentials stay in the head's
    layout: ``e = exp(x - max_j)``, two reductions give the unnormalised ``x/y`` and
    ``z`` marginals, the expectations are a small contraction with the voxel grid, and
    the normalisation is one division per joint and axis. Backpropagation through it
    touches the full ``[B, H, W, J * D]`` volume about half as often.

    The per-joint maximum is held constant in the gradient (the softmax is
    shift-invariant, so the true gradient through it is zero). Float32 throughout; every
    tensor has rank <= 4.
    """
    logits, height, width, joints, depth = _checked_logits(logits, depth)
    x = tf.reshape(logits, [-1, height * width, joints, depth])
    peak = tf.stop_gradient(tf.reduce_max(x, axis=[1, 3], keepdims=True))
    e = tf.exp(x - peak)                                     # [B, H*W, J, D]
    marg_z = tf.reduce_sum(e, axis=1)                        # [B, J, D]
    marg_xy = tf.reduce_sum(e, axis=3)                       # [B, H*W, J]
    total = tf.reduce_sum(marg_z, axis=-1, keepdims=True)    # [B, J, 1]
    # Voxel grid of the flattened H*W axis (row-major): column 0 = x, column 1 = y.
    grid = np.stack([np.tile(np.arange(width), height), np.repeat(np.arange(height), width)],
                    axis=1).astype(np.float32)
    xy = tf.einsum("bpj,pk->bjk", marg_xy, tf.constant(grid))          # [B, J, 2]
    z = tf.reduce_sum(marg_z * tf.range(depth, dtype=tf.float32), axis=-1, keepdims=True)
    return tf.concat([xy, z], axis=-1) / total


@tf.keras.utils.register_keras_serializable(package="mhp_tf")
class SoftArgmax3D(tf.keras.layers.Layer):
    """Keras layer around :func:`soft_argmax_3d`; always computes in float32.

    The layer's dtype policy is pinned to float32, so under a
    ``mixed_float16`` global policy its float16 input is cast up before the
    softmax. Called with ``training=True`` it evaluates the same function with
    :func:`soft_argmax_3d_direct` (cheaper to backpropagate); every other call -
    inference, ``predict``, SavedModel and TFLite export - traces
    :func:`soft_argmax_3d`.
    """

    def __init__(self, depth: int, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.depth = int(depth)

    def call(self, inputs, training=None):
        if training is True:
            return soft_argmax_3d_direct(inputs, self.depth)
        return soft_argmax_3d(inputs, self.depth)

    def compute_output_shape(self, input_shape) -> Tuple:
        input_shape = tf.TensorShape(input_shape).as_list()
        return tf.TensorShape([input_shape[0], input_shape[3] // self.depth, 3])

    def get_config(self):
        config = super().get_config()
        config.update({"depth": self.depth})
        config.pop("dtype", None)
        return config
