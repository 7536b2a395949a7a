"""Analytic FLOPs counter for MobileHumanPose-style Keras models (batch 1).

Two conventions are reported:

``conv_macs``    multiply-accumulates of Conv2D / DepthwiseConv2D kernels only.
``paper_flops``  the convention that reproduces the paper's GFLOPs (L 5.49 G,
                 S 3.92 G): conv MACs + 1 per conv-bias output + 2 per
                 BatchNorm output element + 1 per activation (PReLU/ReLU)
                 element + 1 per upsampled output element (+ 9 adds and 1
                 divide per average-pooled output, only in the ``residual``
                 ablation). Concatenation, residual adds and the soft-argmax
                 count zero, as in the paper, whose timings also exclude the
                 softmax.
"""

import dataclasses
from typing import List, Tuple

import numpy as np
import tensorflow as tf

from mhp_tf.modeling.layers import AlignCornersUpsample2D
from mhp_tf.modeling.layers import AvgPool3x3S2


@dataclasses.dataclass
class FlopsReport:
    conv_macs: int
    paper_flops: int
    # (layer name, layer class, conv MACs, paper-convention FLOPs)
    per_layer: List[Tuple[str, str, int, int]]

    @property
    def conv_gmacs(self) -> float:
        return self.conv_macs / 1e9

    @property
    def paper_gflops(self) -> float:
        return self.paper_flops / 1e9


def _elements(shape) -> int:
    dims = list(shape)[1:]  # drop the batch dimension
    if any(d is None for d in dims):
        raise ValueError(f"count_flops needs static shapes, got {shape}")
    return int(np.prod(dims))


def count_flops(model: tf.keras.Model) -> FlopsReport:
    """Count conv MACs and paper-convention FLOPs of ``model`` for one image.

    Only the layer types MobileHumanPose uses are priced; layers that do no
    arithmetic in the paper's convention (input, padding, concat, add,
    reshape, linear activation, soft-argmax) count zero.
    """
    rows = []
    for layer in model.layers:
        macs = extra = 0
        if isinstance(layer, tf.keras.layers.DepthwiseConv2D):
            out = _elements(layer.output_shape)
            kh, kw = layer.kernel_size
            macs = out * kh * kw
            extra = out if layer.use_bias else 0
        elif isinstance(layer, tf.keras.layers.Conv2D):
            out = _elements(layer.output_shape)
            kh, kw = layer.kernel_size
            cin = int(layer.input_shape[-1]) // layer.groups
            macs = out * kh * kw * cin
            extra = out if layer.use_bias else 0
        elif isinstance(layer, tf.keras.layers.BatchNormalization):
            extra = 2 * _elements(layer.output_shape)
        elif isinstance(layer, (tf.keras.layers.PReLU, tf.keras.layers.ReLU)):
            extra = _elements(layer.output_shape)
        elif isinstance(layer, AlignCornersUpsample2D):
            extra = _elements(layer.output_shape)
        elif isinstance(layer, AvgPool3x3S2):
            extra = 10 * _elements(layer.output_shape)
        rows.append((layer.name, type(layer).__name__, macs, macs + extra))
    return FlopsReport(
        conv_macs=sum(r[2] for r in rows),
        paper_flops=sum(r[3] for r in rows),
        per_layer=rows)
