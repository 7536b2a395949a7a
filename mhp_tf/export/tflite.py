"""TFLite conversion in one call: fp32, fp16, dynamic-range, int8 (PTQ) and QAT int8.

:func:`convert_tflite` turns a float MobileHumanPose (or a QAT model from
:mod:`mhp_tf.export.qat`) into a TFLite flatbuffer with

* a fixed ``[1, S, S, 3]`` float32 (or int8) input named ``image`` (batch 1
  gives the cleanest graph: no SHAPE / STRIDED_SLICE / PACK ops);
* TFLite builtin ops only (never ``SELECT_TF_OPS`` / Flex);
* every tensor of rank <= 4 (the GPU delegate and NNAPI reject rank 5).

Heads
-----
``head='coords'``   output ``[1, J, 3]`` float32, ``(x, y, z)`` in heatmap units.
``head='heatmap'``  output ``[1, H, W, J * D]`` logits, channel ``j * D + d``: the
                    softmax-free deployment model (what the paper timed). Decode
                    with :func:`decode_heatmap_output` (NumPy, same numbers as
                    :func:`mhp_tf.soft_argmax_3d`). A coords model is rebuilt
                    with the other head and its weights copied by layer name.

Quantization modes
------------------
``'none'``     float32.
``'fp16'``     float16 weights, float32 compute (weights dequantized at load).
``'dynamic'``  int8 weights, float activations (hybrid kernels); no calibration.
``'int8'``     full-integer post-training quantization, calibrated on
               ``representative_dataset`` (use :func:`calibration_dataset`:
               examples of the training split through the real input
               pipeline). The input is **int8** (TFLite's full-integer type;
               uint8 is the legacy one): quantize the normalised image with the
               input's scale and zero point (:func:`run_tflite` does it).
               ``head='heatmap'``: int8 in, int8 logits out, every op int8 -
               the recommended deployment; dequantize and decode in float.
               ``head='coords'``: int8 body, then a DEQUANTIZE and the
               soft-argmax in float32 inside the same model (int8 in, float32
               coordinates out). A softmax over the volume in int8 is useless
               (output scale 1/256: errors of several heatmap units), so the
               soft-argmax is kept out of the quantizer's reach.
``'qat'``      a model from :func:`mhp_tf.export.qat.quantize_model` (fake-quant
               ranges learned in training), converted to int8 the same way:
               heatmap -> all int8; coords -> int8 body + float soft-argmax.

How the float soft-argmax is kept float (TF 2.21 converter facts): for PTQ the
model is calibrated first and then quantized with the SOFTMAX op and everything
downstream of it on the quantizer's deny list (``mlir_quantize``, the mechanism
behind ``tf.lite.experimental.QuantizationDebugger``), and the float input is
swapped for an int8 one (``modify_model_io_type``). Both are internal converter
functions. A QAT graph is quantized from its fake-quant ops and has no deny
list; there SOFTMAX (and LOG_SOFTMAX) always get their fixed int8 output
scale, and the textbook decompositions are fused back into those ops, so the
soft-argmax of QAT coords models is written with ``tf.reduce_logsumexp``
(:func:`float_soft_argmax_3d`), which the converter leaves in float32.

CPU speed and PReLU (x86-64, XNNPACK, TF 2.21): XNNPACK has no int8 PRELU, so
in a plain int8 model each of the 41 PRELU ops runs on TFLite's reference
kernel and cuts the XNNPACK graph into pieces: int8 is then ~5x *slower* than
fp32. ``convert_tflite(..., prelu='auto')`` (the default) therefore converts
``'int8'`` models from :func:`mhp_tf.export.deploy.rewrite_prelu`, which
writes each per-channel PReLU exactly as ``x + relu(-(1 - alpha) * x)`` (a 1x1
DEPTHWISE_CONV_2D with fused RELU, then ADD; all slopes <= 1) or ``x + (1 -
alpha) * relu(-x)`` (two 1x1 depthwise convs, then ADD; layers with a slope >
1): ops XNNPACK runs in int8. Float modes keep the PRELU op (fast in float);
``'qat'`` keeps it too (its PReLU output ranges are learned on that op);
``prelu='native'`` / ``'rewrite'`` force either. Accuracy is unchanged (XS at
64 px, synthetic calibration: int8 coords error vs Keras 0.032 rewritten vs
0.031 native, max over 6 images; slopes in [-0.5, 1.5]: 0.054 vs 0.073).

Measured heatmap head, 256 px, one thread, median of 20 runs (L: 10), random
weights, AMD EPYC with 2 cores while another job kept them busy (load ~3.5),
so the absolute numbers are inflated:

=================================  =========  =========
model                              XS         L
=================================  =========  =========
fp32                               3.5 ms     102 ms
int8, native PRELU                 18.6 ms    439 ms
int8, rewrite, one conv (default)  1.9 ms     40 ms
int8, rewrite, two convs           3.0 ms     -
int8, ``max(x, alpha * x)``        8.6 ms     -
int8, ``relu(x) - alpha*relu(-x)`` 12.3 ms    -
ReLU ablation, int8 (earlier run)  1.2 ms     -
=================================  =========  =========

(BUILD.md has the full table from ``scripts/benchmark_tflite.py`` on the idle
machine: XS fp32 3.5 / int8 1.9 ms, L 77.3 / 39.5 ms.) The ``max`` and
``relu - relu`` forms lose because XNNPACK does not run int8 MAXIMUM (MUL +
MAXIMUM: 6.6 ms) or a stand-alone int8 RELU. With the rewrite int8 is the
faster CPU deployment: 1.9x (XS) and 2.6x (L) faster than fp32 (a second XS
run, under more load: fp32 4.5, native 26.2, one conv 2.5 ms). Layers with a
slope > 1 need the two-conv form: only 1.1-1.6x faster than fp32 on XS across
three runs when every layer has one. The PRELU op stays the right choice for
accelerators with an int8 PReLU (NPUs, DSPs) and for float models.

:func:`op_report` lists what a converted model contains (ops, their types,
float ops, custom / Flex ops, tensor ranks, GPU-delegate compatibility);
:func:`run_tflite` runs one on a batch of images.
"""

import collections
import contextlib
import io
import os
import warnings
from typing import Callable, Dict, Iterable, Optional, Union

from absl import logging as _absl_logging
import numpy as np
import tensorflow as tf

from mhp_tf.export import deploy
from mhp_tf.modeling import MobileHumanPose
from mhp_tf.modeling.movnect import is_movnect_model

QUANT_MODES = ("none", "fp16", "dynamic", "int8", "qat")
HEADS = ("coords", "heatmap")
INPUT_NAME = "image"


# ----------------------------------------------------------------------------- models


def is_qat_model(model) -> bool:
    """True for a quantization-aware model (tensorflow-model-optimization wrappers)."""
    return any(type(layer).__name__ in ("QuantizeWrapper", "QuantizeWrapperV2", "QuantizeLayer")
               for layer in getattr(model, "layers", []))


def with_head(model: tf.keras.Model, head: str) -> tf.keras.Model:
    """``model`` with the requested head, as a float32 MobileHumanPose.

    Returns ``model`` itself when it already has that head and computes in
    float32; otherwise rebuilds the architecture (``head`` changed, float32
    policy) and copies every weight by layer name. The coords and heatmap
    heads differ only in their weight-free last layer, so nothing is lost.
    """
    if head not in HEADS:
        raise ValueError(f"head={head!r}, expected one of {HEADS}")
    cfg = getattr(model, "mhp_config", None)
    if cfg is None:
        raise TypeError(f"expected a MobileHumanPose model, got {type(model).__name__}")
    float32 = all(layer.compute_dtype in (None, "float32") for layer in model.layers)
    if cfg.head == head and float32:
        return model
    policy = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy("float32")
    try:
        rebuilt = MobileHumanPose(name=model.name, **cfg.replace(head=head).to_dict())
    finally:
        tf.keras.mixed_precision.set_global_policy(policy)
    deploy.copy_weights_by_name(model, rebuilt, f"switching to head={head!r}")
    return rebuilt


def _load_model(path: str) -> tf.keras.Model:
    """A model from a ``.keras`` file, or a QAT model from a ``.h5`` file."""
    if path.endswith(".h5"):
        from mhp_tf.export import qat  # imports tensorflow-model-optimization

        return qat.load_qat_model(path)
    return tf.keras.models.load_model(path, compile=False)


def _depth_bins(model, depth_bins: Optional[int]) -> int:
    cfg = getattr(model, "mhp_config", None)
    if depth_bins is None and cfg is not None:
        depth_bins = cfg.depth_bins
    if depth_bins is None:
        raise ValueError("depth_bins is unknown for this model: pass depth_bins=...")
    return int(depth_bins)


def float_soft_argmax_3d(logits, depth: int):
    """:func:`mhp_tf.soft_argmax_3d` written so that the QAT converter keeps it float32.

    Same numbers (softmax per joint over ``H * W * D``, expectations per
    axis), but the probabilities are ``exp(x - logsumexp(x))`` with
    ``tf.reduce_logsumexp``. A QAT conversion gives SOFTMAX and LOG_SOFTMAX
    fixed int8 outputs (scales 1/256 and 16/256) whatever their input, and the
    converter fuses the textbook forms ``exp(s) / sum(exp(s))`` and ``s -
    log(sum(exp(s)))`` (``s = x - max x``) into those ops; the guarded max
    inside ``reduce_logsumexp`` (IS_FINITE / SELECT) escapes both patterns,
    so the whole soft-argmax stays float32. Every tensor has rank <= 4.
    """
    logits = tf.cast(logits, tf.float32)
    height, width, channels = logits.shape[1], logits.shape[2], logits.shape[3]
    joints = channels // depth
    x = tf.reshape(logits, [-1, height * width, joints, depth])
    x = tf.transpose(x, [0, 2, 1, 3])
    x = tf.reshape(x, [-1, joints, height * width * depth])
    prob = tf.exp(x - tf.reduce_logsumexp(x, axis=-1, keepdims=True))
    prob = tf.reshape(prob, [-1, height, width, depth])
    coord_x = tf.reduce_sum(tf.reduce_sum(prob, axis=[1, 3]) * tf.range(width, dtype=tf.float32), -1)
    coord_y = tf.reduce_sum(tf.reduce_sum(prob, axis=[2, 3]) * tf.range(height, dtype=tf.float32), -1)
    coord_z = tf.reduce_sum(tf.reduce_sum(prob, axis=[1, 2]) * tf.range(depth, dtype=tf.float32), -1)
    return tf.reshape(tf.stack([coord_x, coord_y, coord_z], axis=-1), [-1, joints, 3])


def deployment_function(model, quant: str = "none", head: str = "coords",
                        depth_bins: Optional[int] = None,
                        prelu: str = "native") -> tf.types.experimental.ConcreteFunction:
    """The batch-1 inference function that :func:`convert_tflite` converts.

    ``prelu``: see :func:`convert_tflite` (``'native'`` here: the model as it is).
    """
    rewrite = deploy.use_prelu_rewrite(prelu, quant)
    if quant == "qat":
        if not is_qat_model(model):
            raise ValueError("quant='qat' needs a quantization-aware model from "
                             "mhp_tf.export.qat.quantize_model")
        depth = _depth_bins(model, depth_bins)
        if head == "coords":
            def forward(image):
                return float_soft_argmax_3d(model(image, training=False), depth)
        else:
            def forward(image):
                return model(image, training=False)
    else:
        if is_qat_model(model):
            raise ValueError(f"a quantization-aware model converts only with quant='qat', "
                             f"not {quant!r}")
        if is_movnect_model(model):
            # MoVNect: one output, the raw heatmaps + location maps (decode with
            # mhp_tf.modeling.movnect.movnect_readout); no PReLU to rewrite.
            if head != "heatmap":
                raise ValueError("a MoVNect model has no coords head: convert with "
                                 "head='heatmap' and decode with movnect_readout")
            net = model
        else:
            net = with_head(model, head)
        if rewrite:
            net = deploy.rewrite_prelu(net)

        def forward(image):
            return net(image, training=False)
    size = model.input_shape[1:3]
    spec = tf.TensorSpec([1, size[0], size[1], 3], tf.float32, name=INPUT_NAME)
    return tf.function(forward, input_signature=[spec]).get_concrete_function()


# ----------------------------------------------------------------------------- calibration


def _as_images(item) -> np.ndarray:
    """One representative-dataset element -> float32 ``[N, S, S, 3]``."""
    if isinstance(item, dict):
        item = item["image"]
    if isinstance(item, (list, tuple)):
        if len(item) != 1:
            raise ValueError(f"representative samples must hold one input, got {len(item)}")
        item = item[0]
    images = np.asarray(item, np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f"expected images [N, S, S, 3] or [S, S, 3], got shape {images.shape}")
    return images


def representative_samples(representative_dataset, num: int) -> Callable[[], Iterable]:
    """A TFLite representative dataset yielding ``num`` single images ``[[1, S, S, 3]]``.

    ``representative_dataset`` is a callable returning an iterable (a
    generator function, a ``tf.data.Dataset`` factory), or directly an
    iterable / array; its elements may be image batches, single images,
    one-element lists or dicts with an ``'image'`` key.
    """
    if num < 1:
        raise ValueError(f"num_calibration must be >= 1, got {num}")

    def samples():
        source = representative_dataset() if callable(representative_dataset) \
            else representative_dataset
        if isinstance(source, np.ndarray) or tf.is_tensor(source):
            source = [source]
        count = 0
        for item in source:
            for image in _as_images(item):
                yield [image[None]]
                count += 1
                if count >= num:
                    return
        if count == 0:
            raise ValueError("the representative dataset produced no images")

    return samples


def calibration_dataset(dataset_name: str, model_config, normalization: str = "reference",
                        num: int = 200, data_dir: Optional[str] = None, skeleton: str = "h36m",
                        seed: int = 0, augment: bool = False,
                        shuffle_buffer: int = 2048) -> Callable[[], Iterable]:
    """Calibration images from the training input pipeline (for ``quant='int8'``).

    Examples of the ``train`` split of ``dataset_name`` go through
    :func:`mhp_tf.data.datasets.build_dataset` exactly as in training -
    crop, warp to the model's input size, ``normalization`` - in shuffled
    order; ``augment=False`` (default) switches the random scale, rotation,
    flip, colour and occlusion off, so the calibration ranges are those of
    real, unaugmented crops.

    Returns a callable yielding ``num`` images ``[[1, S, S, 3]]`` float32,
    the form ``representative_dataset`` takes.
    """
    from mhp_tf.data import datasets
    from mhp_tf.data import pipeline

    overrides = {"normalization": normalization}
    if not augment:
        overrides.update(scale_factor=0.0, rotation_prob=0.0, flip_prob=0.0, color_factor=0.0,
                         occlusion_prob=0.0, photometric_prob=0.0)
    cfg = pipeline.PipelineConfig.for_model(model_config, skeleton=skeleton, **overrides)

    def images():
        ds = datasets.build_dataset(dataset_name, "train", data_dir, training=True,
                                    batch_size=None, config=cfg, seed=seed,
                                    shuffle_buffer=shuffle_buffer)
        for example in ds.take(num).as_numpy_iterator():
            yield [example["image"][None].astype(np.float32)]

    return images


def random_calibration(input_size: int, num: int = 8, seed: int = 0,
                       low: float = -2.2, high: float = 2.7) -> Callable[[], Iterable]:
    """Uniform random images in the ImageNet-normalised range (latency benchmarks only)."""
    def images():
        rng = np.random.default_rng(seed)
        for _ in range(num):
            yield [rng.uniform(low, high, (1, input_size, input_size, 3)).astype(np.float32)]

    return images


# ----------------------------------------------------------------------------- conversion


class _DropFreezeNotice:
    """Filters the converter's "consider providing the trackable_obj" notice."""

    def filter(self, record):
        return "trackable_obj" not in record.getMessage()


_absl_logging.get_absl_logger().addFilter(_DropFreezeNotice())


def _converter(function) -> tf.lite.TFLiteConverter:
    # No trackable object: the converter freezes the function's variables
    # instead of writing a SavedModel of the whole Keras model (10-30x faster,
    # same ops). TensorFlow calls this path deprecated; its notice is filtered.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def _downstream_of_softmax(tflite_bytes: bytes):
    """Output tensor names of every SOFTMAX op and of all ops fed by them."""
    model = _unpack(tflite_bytes)
    names = []
    for graph in model.subgraphs:
        tainted = set()
        for op in graph.operators:
            if _op_name(model, op) == "SOFTMAX" or any(i in tainted for i in op.inputs):
                tainted.update(op.outputs)
                names.extend(graph.tensors[i].name.decode() for i in op.outputs)
    return names


def _int8_with_float_tail(function, samples) -> bytes:
    """Full-integer PTQ with the soft-argmax (SOFTMAX and after) left in float32."""
    from tensorflow.lite.python import convert as lite_convert
    from tensorflow.lite.python import util as lite_util

    converter = _converter(function)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter._experimental_calibrate_only = True  # pylint: disable=protected-access
    calibrated = converter.convert()
    denied = _downstream_of_softmax(calibrated)
    if not denied:
        raise RuntimeError("no SOFTMAX op found in the coords model")
    quantized = lite_convert.mlir_quantize(calibrated, fully_quantize=False,
                                           denylisted_nodes=denied)
    return lite_util.modify_model_io_type(quantized, tf.int8, tf.float32)


def convert_tflite(model: Union[tf.keras.Model, str], quant: Optional[str] = "none",
                   head: str = "coords", representative_dataset=None,
                   num_calibration: int = 200, depth_bins: Optional[int] = None,
                   prelu: str = "auto") -> bytes:
    """Convert a MobileHumanPose model to a TFLite flatbuffer (the one conversion entry point).

    Args:
      model: a float MobileHumanPose (either head), a MoVNect (``head='heatmap'``: its
        ``[1, S/8, S/8, 4J]`` maps, int8 for ``'int8'``; not ``'qat'``), a QAT model from
        :func:`mhp_tf.export.qat.quantize_model` (``quant='qat'``), or the path
        of a ``.keras`` model / a QAT ``.h5`` file.
      quant: ``'none'`` (or None), ``'fp16'``, ``'dynamic'``, ``'int8'``, ``'qat'``;
        see the module docstring.
      head: ``'coords'`` (``[1, J, 3]`` float32) or ``'heatmap'``
        (``[1, H, W, J * D]`` logits; int8 for ``'int8'`` / ``'qat'``).
      representative_dataset: calibration images for ``'int8'``, e.g.
        :func:`calibration_dataset`; see :func:`representative_samples` for
        the accepted forms. Ignored by the other modes.
      num_calibration: calibration images used (``'int8'``).
      depth_bins: D, only needed for a QAT model that lost its ``mhp_config``.
      prelu: ``'auto'`` (default): PReLU rewritten as depthwise 1x1 conv + ReLU
        + add (:func:`mhp_tf.export.deploy.rewrite_prelu`) for ``'int8'`` only,
        the PRELU op otherwise; ``'native'``: always the PRELU op;
        ``'rewrite'``: always rewritten (not with ``'qat'``). See the module
        docstring (CPU speed).

    Returns:
      The flatbuffer bytes: batch 1, builtin ops only, tensors of rank <= 4.
    """
    quant = "none" if quant is None else quant
    if quant not in QUANT_MODES:
        raise ValueError(f"quant={quant!r}, expected one of {QUANT_MODES}")
    if head not in HEADS:
        raise ValueError(f"head={head!r}, expected one of {HEADS}")
    if isinstance(model, (str, os.PathLike)):
        model = _load_model(os.fspath(model))
    function = deployment_function(model, quant, head, depth_bins, prelu)
    converter = _converter(function)

    if quant == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quant == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quant == "int8":
        if representative_dataset is None:
            raise ValueError("quant='int8' needs calibration images: pass representative_dataset="
                             "calibration_dataset(train_dataset, model.mhp_config, normalization)")
        samples = representative_samples(representative_dataset, num_calibration)
        if head == "coords":
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
                return _int8_with_float_tail(function, samples)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif quant == "qat":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8 if head == "heatmap" else tf.float32
    with warnings.catch_warnings():
        # Integer-input conversions warn that the input has no range of its own;
        # the calibration (int8) or the input fake-quant (qat) provides it.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()


# ----------------------------------------------------------------------------- decoding


def decode_heatmap_output(logits, depth_bins: int) -> np.ndarray:
    """NumPy soft-argmax of heatmap-head output: ``[B, H, W, J * D]`` -> ``[B, J, 3]``.

    The same computation as :func:`mhp_tf.soft_argmax_3d` (softmax per joint
    over all ``D * H * W`` voxels, expectation of the voxel index along each
    axis), in float64; coordinates in heatmap units. ``logits`` must already
    be dequantized (:func:`run_tflite` does it). A single ``[H, W, J * D]``
    map gives ``[J, 3]``.
    """
    logits = np.asarray(logits, np.float64)
    single = logits.ndim == 3
    if single:
        logits = logits[None]
    if logits.ndim != 4:
        raise ValueError(f"expected [B, H, W, J*D] logits, got shape {logits.shape}")
    batch, height, width, channels = logits.shape
    depth = int(depth_bins)
    if channels % depth:
        raise ValueError(f"channels ({channels}) is not a multiple of depth_bins ({depth})")
    joints = channels // depth
    x = logits.reshape(batch, height, width, joints, depth).transpose(0, 3, 1, 2, 4)
    x = x.reshape(batch, joints, -1)
    x = np.exp(x - x.max(axis=-1, keepdims=True))
    prob = (x / x.sum(axis=-1, keepdims=True)).reshape(batch, joints, height, width, depth)
    coords = np.stack([
        prob.sum(axis=(2, 4)) @ np.arange(width, dtype=np.float64),
        prob.sum(axis=(3, 4)) @ np.arange(height, dtype=np.float64),
        prob.sum(axis=(2, 3)) @ np.arange(depth, dtype=np.float64),
    ], axis=-1).astype(np.float32)
    return coords[0] if single else coords


# ----------------------------------------------------------------------------- running


def make_interpreter(tflite_bytes: bytes, num_threads: Optional[int] = None):
    """An allocated LiteRT (``ai_edge_litert``) interpreter for a converted model."""
    from mhp_tf.inference.backends import load_tflite_interpreter

    return load_tflite_interpreter(bytes(tflite_bytes), num_threads)


def quantize_input(images, detail) -> np.ndarray:
    """Float images -> the interpreter input's dtype (int8 / uint8: with its scale and zero point)."""
    dtype = np.dtype(detail["dtype"])
    images = np.asarray(images, np.float32)
    if dtype == np.float32:
        return images
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(images / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize_output(values, detail) -> np.ndarray:
    """Interpreter output -> float32 (int8 / uint8 outputs through their scale and zero point)."""
    values = np.asarray(values)
    if np.dtype(detail["dtype"]) == np.float32:
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)


def run_tflite(tflite_bytes_or_interpreter, images, num_threads: Optional[int] = None) -> np.ndarray:
    """Run a converted model on float images ``[N, S, S, 3]`` (or one ``[S, S, 3]``).

    The model's batch is 1, so images run one by one. Quantized inputs are
    quantized with the model's input scale / zero point and quantized outputs
    dequantized: the result is always float32 ``[N, ...]`` (coords in heatmap
    units, or heatmap logits for :func:`decode_heatmap_output`).
    """
    interpreter = tflite_bytes_or_interpreter
    if isinstance(interpreter, (bytes, bytearray)):
        interpreter = make_interpreter(bytes(interpreter), num_threads)
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[None]
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    results = []
    for image in images:
        interpreter.set_tensor(inp["index"], quantize_input(image[None], inp))
        interpreter.invoke()
        results.append(dequantize_output(interpreter.get_tensor(out["index"]), out)[0])
    return np.stack(results)


# ----------------------------------------------------------------------------- inspection


def _unpack(tflite_bytes: bytes):
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))


def _enum_names(enum_class) -> Dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


def _op_name(model, op) -> str:
    from tensorflow.lite.python import schema_py_generated as schema

    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    name = _enum_names(schema.BuiltinOperator).get(builtin, str(builtin))
    if name == "CUSTOM":
        return "CUSTOM:" + (code.customCode or b"").decode()
    return name


def op_report(tflite_bytes: bytes, gpu_compatibility: bool = True) -> Dict:
    """What a TFLite model contains.

    Returns a dict:
      ``ops``: ``{op name: count}``; ``op_types``: ``{"OP in->out": count}``
        with the element types of the op's non-constant inputs and its outputs;
      ``num_ops``, ``size_bytes``, ``max_rank`` (largest tensor rank),
        ``rank_gt4`` (names of tensors of rank > 4);
      ``custom_ops`` / ``flex_ops``: custom op codes (Flex = SELECT_TF_OPS);
      ``float_ops``: ``{op name: count}`` of ops with a float32 / float16
        non-constant input or output (QUANTIZE / DEQUANTIZE included: they
        are where a model enters or leaves float); empty for a full-integer model;
      ``input`` / ``output``: dtype, shape, (scale, zero point) of each;
      ``gpu_compatible`` and ``gpu_messages`` from the TFLite analyzer,
        ``analyzer`` its full text (``gpu_compatibility=False`` skips it).
    """
    from tensorflow.lite.python import schema_py_generated as schema

    model = _unpack(tflite_bytes)
    type_names = _enum_names(schema.TensorType)
    ops = collections.Counter()
    op_types = collections.Counter()
    float_ops = collections.Counter()
    custom = collections.Counter()
    max_rank, rank_gt4 = 0, []
    for graph in model.subgraphs:
        constant = set()
        for i, tensor in enumerate(graph.tensors):
            buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
            if buffer is not None and (buffer.data is not None and len(buffer.data)
                                       or getattr(buffer, "size", 0)):
                constant.add(i)
            rank = len(tensor.shape) if tensor.shape is not None else 0
            max_rank = max(max_rank, rank)
            if rank > 4:
                rank_gt4.append(tensor.name.decode())
        for op in graph.operators:
            name = _op_name(model, op)
            ops[name] += 1
            if name.startswith("CUSTOM:"):
                custom[name[len("CUSTOM:"):]] += 1
            ins = [type_names[graph.tensors[i].type] for i in op.inputs
                   if i >= 0 and i not in constant]
            outs = [type_names[graph.tensors[i].type] for i in op.outputs]
            op_types[f"{name} {','.join(ins)}->{','.join(outs)}"] += 1
            if any(t in ("FLOAT32", "FLOAT16") for t in ins + outs):
                float_ops[name] += 1

    interpreter = make_interpreter(bytes(tflite_bytes))

    def describe(detail):
        return {"name": detail["name"], "dtype": np.dtype(detail["dtype"]).name,
                "shape": [int(d) for d in detail["shape"]],
                "quantization": tuple(float(q) for q in detail["quantization"])}

    report = {
        "size_bytes": len(tflite_bytes),
        "num_ops": sum(ops.values()),
        "ops": dict(ops.most_common()),
        "op_types": dict(op_types.most_common()),
        "float_ops": dict(float_ops.most_common()),
        "custom_ops": dict(custom),
        "flex_ops": {k: v for k, v in custom.items() if k.startswith("Flex")},
        "max_rank": max_rank,
        "rank_gt4": rank_gt4,
        "input": [describe(d) for d in interpreter.get_input_details()],
        "output": [describe(d) for d in interpreter.get_output_details()],
    }
    if gpu_compatibility:
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            tf.lite.experimental.Analyzer.analyze(model_content=bytes(tflite_bytes),
                                                 gpu_compatibility=True)
        text = text.getvalue()
        report["analyzer"] = text
        report["gpu_messages"] = [line.strip() for line in text.splitlines()
                                  if "GPU" in line and "compatible with GPU delegate" not in line]
        report["gpu_compatible"] = "looks compatible with GPU delegate" in text
    return report


def format_op_report(report: Dict) -> str:
    """A short human-readable summary of :func:`op_report`."""
    def io_line(kind, details):
        return "; ".join(f"{kind} {d['dtype']} {d['shape']}"
                         + (f" scale={d['quantization'][0]:.4g} zp={d['quantization'][1]:.0f}"
                            if d["dtype"] in ("int8", "uint8") else "") for d in details)

    lines = [f"{report['size_bytes'] / 1e6:.2f} MB, {report['num_ops']} ops, "
             f"max tensor rank {report['max_rank']}",
             io_line("input", report["input"]), io_line("output", report["output"]),
             "ops: " + ", ".join(f"{k} x{v}" for k, v in report["ops"].items()),
             "float ops: " + (", ".join(f"{k} x{v}" for k, v in report["float_ops"].items())
                              or "none"),
             "custom ops: " + (", ".join(report["custom_ops"]) or "none")]
    if "gpu_compatible" in report:
        lines.append(f"GPU delegate: {'compatible' if report['gpu_compatible'] else 'NOT compatible'}")
        lines.extend("  " + m for m in report["gpu_messages"])
    return "\n".join(lines)


__all__ = [
    "QUANT_MODES", "HEADS", "convert_tflite", "calibration_dataset", "random_calibration",
    "representative_samples", "decode_heatmap_output", "deployment_function",
    "float_soft_argmax_3d", "with_head", "is_qat_model", "make_interpreter", "run_tflite",
    "quantize_input", "dequantize_output", "op_report", "format_op_report",
]
