"""Reusable building blocks of MobileHumanPose, in the Keras functional style.

Each block is a function ``block(x, ..., name) -> tensor`` that applies a few
stock Keras layers with deterministic names (``{name}_conv``, ``{name}_bn``,
``{name}_act``...). The model therefore stays a flat functional graph: every
layer is directly visible to ``model.layers``, to tensorflow-model-optimization
(QAT annotates layer by layer) and to the weight importer, which maps PyTorch
module names to these layer names by table.

PyTorch-matched numerics:

* BatchNorm ``momentum=0.9, epsilon=1e-5`` (PyTorch ``momentum=0.1, eps=1e-5``).
* Stride-2 convolutions pad one pixel on *every* side (``ZeroPadding2D(1)`` +
  ``'valid'``); Keras ``'same'`` would pad only bottom/right for even inputs.
* PReLU has one slope per channel, initialised to 0.25 (``nn.PReLU(C)``).
"""

import math

import tensorflow as tf

from mhp_tf.modeling.layers import AlignCornersUpsample2D

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
PRELU_INIT = 0.25

ACTIVATIONS = ("prelu", "relu")
INITIALIZERS = ("reference", "torch_default")


def torch_uniform(fan_in: int) -> tf.keras.initializers.Initializer:
    """PyTorch's default conv weight/bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    (``kaiming_uniform_(a=sqrt(5))`` reduces to this bound for weights.)
    """
    bound = 1.0 / math.sqrt(fan_in)
    return tf.keras.initializers.RandomUniform(-bound, bound)


def conv_initializers(init: str, role: str, fan_in: int, use_bias: bool):
    """Kernel and bias initialisers for a conv layer.

    ``init='reference'`` follows the reference training code
    (``init_weights``): encoder and head convs N(0, 0.001) with zero bias,
    decoder convs left at PyTorch defaults. ``init='torch_default'`` uses
    PyTorch defaults everywhere.
    """
    if init not in INITIALIZERS:
        raise ValueError(f"unknown initializer {init!r}; expected one of {INITIALIZERS}")
    if init == "reference" and role in ("encoder", "head"):
        kernel = tf.keras.initializers.RandomNormal(stddev=0.001)
        bias = tf.keras.initializers.Zeros()
    else:
        kernel = torch_uniform(fan_in)
        bias = torch_uniform(fan_in)
    return kernel, (bias if use_bias else None)


def activation_layer(activation: str, name: str) -> tf.keras.layers.Layer:
    if activation == "prelu":
        return tf.keras.layers.PReLU(
            alpha_initializer=tf.keras.initializers.Constant(PRELU_INIT),
            shared_axes=[1, 2], name=name)
    if activation == "relu":
        return tf.keras.layers.ReLU(name=name)
    raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")


def batch_norm(name: str) -> tf.keras.layers.BatchNormalization:
    return tf.keras.layers.BatchNormalization(
        momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def conv2d(x, filters: int, kernel_size: int, stride: int = 1, use_bias: bool = False,
           init: str = "reference", role: str = "encoder", name: str = "conv"):
    """Conv2D with PyTorch symmetric padding ``(k - 1) // 2``."""
    fan_in = int(x.shape[-1]) * kernel_size * kernel_size
    kernel_init, bias_init = conv_initializers(init, role, fan_in, use_bias)
    padding = "valid"
    if kernel_size > 1:
        if stride == 1:
            padding = "same"  # odd kernel, stride 1: 'same' is symmetric.
        else:
            x = tf.keras.layers.ZeroPadding2D((kernel_size - 1) // 2, name=f"{name}_pad")(x)
    return tf.keras.layers.Conv2D(
        filters, kernel_size, strides=stride, padding=padding, use_bias=use_bias,
        kernel_initializer=kernel_init,
        bias_initializer=bias_init or "zeros", name=name)(x)


def depthwise_conv2d(x, stride: int, init: str = "reference", name: str = "dwconv"):
    """3x3 depthwise conv (no bias) with PyTorch symmetric padding."""
    kernel_init, _ = conv_initializers(init, "encoder", 9, use_bias=False)
    padding = "same"
    if stride != 1:
        x = tf.keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
        padding = "valid"
    return tf.keras.layers.DepthwiseConv2D(
        3, strides=stride, padding=padding, use_bias=False,
        depthwise_initializer=kernel_init, name=name)(x)


def conv_bn_act(x, filters: int, kernel_size: int = 3, stride: int = 1,
                activation: str = "prelu", init: str = "reference",
                role: str = "encoder", use_bias: bool = False, name: str = "block"):
    """Conv (no bias by default) -> BatchNorm -> PReLU/ReLU (``ConvBNReLU`` in the reference)."""
    x = conv2d(x, filters, kernel_size, stride, use_bias=use_bias, init=init, role=role,
               name=f"{name}_conv")
    x = batch_norm(f"{name}_bn")(x)
    return activation_layer(activation, f"{name}_act")(x)


def depthwise_bn_act(x, stride: int, activation: str = "prelu", init: str = "reference",
                     name: str = "block_dw"):
    x = depthwise_conv2d(x, stride, init=init, name=f"{name}_conv")
    x = batch_norm(f"{name}_bn")(x)
    return activation_layer(activation, f"{name}_act")(x)


def inverted_residual(x, filters: int, stride: int, expansion: int,
                      activation: str = "prelu", init: str = "reference", name: str = "block"):
    """MobileNetV2 inverted residual with PReLU and an unrounded hidden width.

    ``hidden = int(round(in_channels * expansion))``; expand 1x1 (skipped when
    ``expansion == 1``) -> depthwise 3x3 -> linear 1x1 projection + BN. The
    identity shortcut is added iff ``stride == 1`` and the channel count is
    unchanged.
    """
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride}")
    in_channels = int(x.shape[-1])
    hidden = int(round(in_channels * expansion))
    shortcut = x
    if expansion != 1:
        x = conv_bn_act(x, hidden, 1, activation=activation, init=init, name=f"{name}_expand")
    x = depthwise_bn_act(x, stride, activation=activation, init=init, name=f"{name}_dw")
    x = conv2d(x, filters, 1, init=init, name=f"{name}_project_conv")
    x = batch_norm(f"{name}_project_bn")(x)
    if stride == 1 and in_channels == filters:
        x = tf.keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return x


def decoder_stage(x, mid_channels: int, out_channels: int = 256, activation: str = "prelu",
                  init: str = "reference", name: str = "decoder", upsample: bool = True):
    """Decoder stage (``DeConv`` in the reference; no transposed conv).

    1x1 conv (bias) -> BN -> act -> 3x3 conv (bias) -> BN -> act ->
    bilinear x2 upsample with ``align_corners=True`` (left to the caller when
    ``upsample=False``). Any concatenation with skip features happens before
    the call.
    """
    x = conv_bn_act(x, mid_channels, 1, activation=activation, init=init, role="decoder",
                    use_bias=True, name=f"{name}_reduce")
    x = conv_bn_act(x, out_channels, 3, activation=activation, init=init, role="decoder",
                    use_bias=True, name=f"{name}_fuse")
    if not upsample:
        return x
    return AlignCornersUpsample2D(2, name=f"{name}_upsample")(x)
