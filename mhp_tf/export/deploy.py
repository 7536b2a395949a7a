"""Deployment-only rewrites of a float Keras model, applied just before TFLite conversion.

:func:`rewrite_prelu` replaces every per-channel ``PReLU`` layer (slopes
``alpha`` of shape ``(1, 1, C)``, ``shared_axes=[1, 2]``, as in
:mod:`mhp_tf.modeling.blocks`) by :class:`DecomposedPReLU`, the same function
written with ops that TFLite's XNNPACK delegate runs in int8 (it has no int8
PRELU: that op runs on TFLite's slow reference kernel; measured on x86-64):

* every slope ``<= 1`` (PReLU is then convex; e.g. the 0.25 initialisation)::

      PReLU(x) = x + relu(-(1 - alpha) * x)

  one 1x1 DEPTHWISE_CONV_2D (weights ``-(1 - alpha)``, no bias, fused RELU)
  and an ADD;
* some slope ``> 1``::

      PReLU(x) = x + (1 - alpha) * relu(-x)

  a 1x1 DEPTHWISE_CONV_2D (weights -1, fused RELU), a second one (weights
  ``1 - alpha``, any sign) and an ADD. The one-conv form would be wrong there:
  ``relu(c * x) != c * relu(x)`` for ``c < 0``.

Both are exact in real arithmetic (float32: ~1e-7 relative). On
MobileHumanPose-XS at 256 px, int8, one thread: one-conv 1.9 ms, two-conv
3.0 ms, native PRELU 18.6 ms, fp32 3.5 ms; ``max(x, alpha * x)`` and
``relu(x) - alpha * relu(-x)`` are slower (int8 MAXIMUM and stand-alone int8
RELU are not delegated). The table is in :mod:`mhp_tf.export.tflite`.

The rewritten model is a plain functional ``tf.keras.Model`` (not a
MobileHumanPose): it is meant for conversion only; train and save the
original. Models without PReLU (ReLU ablation, MoVNect) come back unchanged.
"""

from typing import Optional

import numpy as np
import tensorflow as tf

from mhp_tf.modeling.weights import copy_weights_by_name  # noqa: F401  (re-exported)

PRELU_MODES = ("auto", "native", "rewrite")


def _depthwise_1x1(x, kernel):
    return tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding="VALID")


@tf.keras.utils.register_keras_serializable("mhp_tf")
class DecomposedPReLU(tf.keras.layers.Layer):
    """Per-channel PReLU as 1x1 depthwise convs + ReLU + add (see the module docstring).

    ``alpha``: the PReLU slopes, ``C`` values (any shape that flattens to
    ``C``). The conv weights derived from them are non-trainable.
    """

    def __init__(self, alpha, **kwargs):
        super().__init__(**kwargs)
        self.alpha = np.asarray(alpha, np.float32).reshape(-1)
        self.single_conv = bool(np.all(self.alpha <= 1.0))

    def _kernel(self, name, values):
        values = np.asarray(values, np.float32).reshape(1, 1, -1, 1)
        return self.add_weight(name, values.shape, trainable=False,
                               initializer=tf.keras.initializers.Constant(values))

    def build(self, input_shape):
        input_shape = tf.TensorShape(input_shape)
        if input_shape.rank != 4 or input_shape[-1] != self.alpha.size:
            raise ValueError(f"{self.name}: expected [B, H, W, {self.alpha.size}] inputs, "
                             f"got {input_shape}")
        scale = 1.0 - self.alpha
        if self.single_conv:
            self.negative_kernel = self._kernel("negative_kernel", -scale)
        else:
            self.negative_kernel = self._kernel("negative_kernel", -np.ones_like(scale))
            self.scale_kernel = self._kernel("scale_kernel", scale)
        super().build(input_shape)

    def call(self, inputs):
        negative = tf.nn.relu(_depthwise_1x1(inputs, self.negative_kernel))
        if not self.single_conv:
            negative = _depthwise_1x1(negative, self.scale_kernel)
        return inputs + negative

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha.tolist()}


def _per_channel_slopes(layer) -> Optional[np.ndarray]:
    """The ``C`` slopes of a per-channel PReLU on ``[B, H, W, C]`` inputs, else None."""
    if not isinstance(layer, tf.keras.layers.PReLU):
        return None
    alpha = layer.get_weights()[0]
    if alpha.ndim != 3 or alpha.shape[:2] != (1, 1):
        return None
    return alpha.reshape(-1)


def rewrite_prelu(model: tf.keras.Model) -> tf.keras.Model:
    """``model`` with its per-channel PReLU layers replaced by :class:`DecomposedPReLU`.

    A functional model is cloned layer by layer (same names, weights copied);
    each top-level ``PReLU`` with slopes of shape ``(1, 1, C)`` becomes a
    :class:`DecomposedPReLU` of the same name. Other PReLU forms (slopes per
    pixel) and layers inside nested models are kept. Returns ``model`` itself
    when there is nothing to replace. The result computes the same function
    (float32 differences ~1e-7 relative).
    """
    slopes = {layer.name: _per_channel_slopes(layer) for layer in model.layers}
    slopes = {name: alpha for name, alpha in slopes.items() if alpha is not None}
    if not slopes:
        return model

    def clone(layer):
        if layer.name in slopes:
            return DecomposedPReLU(slopes[layer.name], name=layer.name, dtype=layer.dtype_policy)
        return layer.__class__.from_config(layer.get_config())

    rewritten = tf.keras.models.clone_model(model, clone_function=clone)
    copy_weights_by_name(model, rewritten, "rewriting its PReLU layers", replaced=slopes)
    return rewritten


def use_prelu_rewrite(prelu: str, quant: str) -> bool:
    """Whether ``convert_tflite(..., quant, prelu=prelu)`` rewrites PReLU.

    ``'auto'``: only for post-training int8 (``quant='int8'``), where it is
    what makes int8 fast on CPU; float modes keep the PRELU op (XNNPACK runs
    it in float) and ``'qat'`` keeps it (its QAT model quantizes PReLU
    outputs itself). ``'native'``: never. ``'rewrite'``: always, except for
    ``'qat'`` (a QAT model's layers are tfmot wrappers; not supported).
    """
    if prelu not in PRELU_MODES:
        raise ValueError(f"prelu={prelu!r}, expected one of {PRELU_MODES}")
    if prelu == "rewrite" and quant == "qat":
        raise ValueError("prelu='rewrite' does not apply to quant='qat' (the QAT model "
                         "quantizes its PReLU layers itself); use prelu='auto' or 'native'")
    if prelu == "auto":
        return quant == "int8"
    return prelu == "rewrite"


__all__ = ["PRELU_MODES", "DecomposedPReLU", "copy_weights_by_name", "rewrite_prelu",
           "use_prelu_rewrite"]
