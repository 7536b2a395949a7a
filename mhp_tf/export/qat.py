"""Quantization-aware training (tensorflow-model-optimization) for MobileHumanPose.

:func:`quantize_model` turns a float model into a QAT model whose output is
the heatmap logits ``[B, H, W, J * D]``; the soft-argmax always stays in float
*outside* the quantized model (int8 softmax over the volume is useless). What
gets fake-quantized, and how:

* stock layers: tfmot's default 8-bit scheme (per-channel symmetric conv
  weights; BN outputs, adds and concatenations quantized, asymmetric, per tensor);
* ``PReLU`` (not in tfmot's registry): :class:`OutputQuantizeConfig` - the
  output only (moving-average 8-bit, asymmetric, per tensor), no weight
  quantizer on the slopes. That converts to an int8 PRELU op; quantizing the
  slopes as weights leaves PRELU in float between DEQUANTIZE / QUANTIZE;
* ``AvgPool3x3S2`` (residual-concat ablation): :class:`OutputQuantizeConfig`
  (its per-position rescale is a MUL with its own output range);
* ``AlignCornersUpsample2D``: :class:`PassThroughQuantizeConfig`, nothing -
  TFLite's int8 RESIZE_BILINEAR needs the same scale on input and output, so
  the converter carries the input's range through.

tfmot starts every moving-average range at [-6, 6] and moves it with an EMA
of decay 0.999, and weight ranges stay at [-6, 6] until the first training
step: a short fine-tune from a trained model would otherwise spend its steps
(or all of them) with badly clipped or zeroed tensors. With
``representative_dataset`` :func:`quantize_model` therefore starts every range
from calibration data: activation ranges are the min / max of the float
model's activations, weight and input ranges come from one training-mode
pass (batch-norm statistics are restored afterwards).

:func:`qat_finetune` fine-tunes with the training loss (L1 on float
soft-argmax coordinates); :func:`mhp_tf.export.tflite.convert_tflite` with
``quant='qat'`` converts the result. Saving: ``.h5`` under
``quantize_scope`` is the format that reloads (``.keras`` does not);
:func:`save_qat_model` / :func:`load_qat_model` do it and keep the model
configuration in the file.
"""

import json
import math
import os
from typing import Dict
import warnings

import numpy as np
import tensorflow as tf

import tensorflow_model_optimization as tfmot

from mhp_tf.export import tflite
from mhp_tf.modeling import AlignCornersUpsample2D
from mhp_tf.modeling import AvgPool3x3S2
from mhp_tf.modeling import ModelConfig
from mhp_tf.modeling import SoftArgmax3D
from mhp_tf.modeling import soft_argmax_3d_direct
from mhp_tf.training.losses import coord_l1_loss

_quantize = tfmot.quantization.keras
_RANGE_SUFFIXES = ("_min", "_max")
_ACTIVATION_RANGES = ("output", "post_activation")


class OutputQuantizeConfig(_quantize.QuantizeConfig):
    """Quantize a layer's output only: moving-average 8-bit, asymmetric, per tensor."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [_quantize.quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

    def get_config(self):
        return {}


class PassThroughQuantizeConfig(OutputQuantizeConfig):
    """Quantize nothing (same-scale ops: the converter propagates the input's range)."""

    def get_output_quantizers(self, layer):
        return []


CUSTOM_OBJECTS = {
    "OutputQuantizeConfig": OutputQuantizeConfig,
    "PassThroughQuantizeConfig": PassThroughQuantizeConfig,
    "AlignCornersUpsample2D": AlignCornersUpsample2D,
    "AvgPool3x3S2": AvgPool3x3S2,
    "SoftArgmax3D": SoftArgmax3D,
}


def quantize_scope():
    """``tfmot.quantization.keras.quantize_scope`` with this module's configs and layers."""
    return _quantize.quantize_scope(CUSTOM_OBJECTS)


def _annotate(layer):
    if isinstance(layer, tf.keras.layers.InputLayer):
        return layer
    if isinstance(layer, (tf.keras.layers.PReLU, AvgPool3x3S2)):
        return _quantize.quantize_annotate_layer(layer, OutputQuantizeConfig())
    if isinstance(layer, AlignCornersUpsample2D):
        return _quantize.quantize_annotate_layer(layer, PassThroughQuantizeConfig())
    if isinstance(layer, SoftArgmax3D):
        raise ValueError("the soft-argmax must stay outside the quantized model")
    return _quantize.quantize_annotate_layer(layer)


def _range_variables(layer):
    """``{(kind, 'min'|'max'): variable}`` of a QAT layer's quantizer ranges."""
    found = {}
    for var in layer.non_trainable_weights:
        base = var.name.split("/")[-1].split(":")[0]
        for suffix in _RANGE_SUFFIXES:
            if base.endswith(suffix):
                found[(base[: -len(suffix)], suffix[1:])] = var
    return found


def _is_range_variable(var) -> bool:
    return var.name.split("/")[-1].split(":")[0].endswith(_RANGE_SUFFIXES)


def initialize_ranges(qat_model: tf.keras.Model, float_model: tf.keras.Model,
                      representative_dataset, num_calibration: int = 64,
                      batch_size: int = 8) -> Dict[str, tuple]:
    """Start every quantizer range of ``qat_model`` from calibration images.

    Activation ranges (layer outputs, the post-activation of convs) are the
    min / max over the calibration images of the same-named layer of the
    float model, widened to include 0 as tfmot does; weight and input ranges
    come from one training-mode pass of the QAT model over the images (all
    other variables, i.e. batch-norm statistics, are restored after it).

    Returns ``{layer name: (min, max)}`` of the activation ranges set.
    """
    samples = tflite.representative_samples(representative_dataset, num_calibration)
    images = np.concatenate([s[0] for s in samples()])

    # Weight (LastValue) and input (AllValues) ranges: tfmot's own update rule.
    saved = {v.ref(): v.numpy() for v in qat_model.variables if not _is_range_variable(v)}
    for start in range(0, len(images), batch_size):
        qat_model(images[start:start + batch_size], training=True)
    for var in qat_model.variables:
        if var.ref() in saved:
            var.assign(saved[var.ref()])

    # Activation ranges from the float model.
    targets = {}
    for layer in qat_model.layers:
        inner = getattr(layer, "layer", None)
        if inner is None:
            continue
        variables = {k: v for k, v in _range_variables(layer).items() if k[0] in _ACTIVATION_RANGES}
        if variables:
            targets[inner.name] = variables
    missing = [name for name in targets if name not in {l.name for l in float_model.layers}]
    if missing:
        raise RuntimeError(f"no float layers named {missing} to calibrate from")
    names = sorted(targets)
    probe = tf.keras.Model(float_model.inputs, [float_model.get_layer(n).output for n in names])

    @tf.function
    def ranges(batch):
        outputs = probe(batch, training=False)
        return [tf.stack([tf.reduce_min(o), tf.reduce_max(o)]) for o in outputs]

    lows = np.full(len(names), np.inf)
    highs = np.full(len(names), -np.inf)
    for start in range(0, len(images), batch_size):
        values = np.stack([r.numpy() for r in ranges(images[start:start + batch_size])])
        lows = np.minimum(lows, values[:, 0])
        highs = np.maximum(highs, values[:, 1])
    result = {}
    for name, low, high in zip(names, lows, highs):
        low, high = min(float(low), 0.0), max(float(high), 0.0)
        for (kind, end), var in targets[name].items():
            var.assign(tf.fill(var.shape, low if end == "min" else high))
        result[name] = (low, high)
    return result


def quantize_model(model: tf.keras.Model, representative_dataset=None,
                   num_calibration: int = 64) -> tf.keras.Model:
    """A quantization-aware copy of a float MobileHumanPose, heatmap logits out.

    Args:
      model: float MobileHumanPose, either head (a coords model is rebuilt
        with the heatmap head; weights are copied by layer name).
      representative_dataset: calibration images (e.g.
        :func:`mhp_tf.export.tflite.calibration_dataset`) to start the
        quantizer ranges from; without them tfmot's defaults ([-6, 6],
        weights unset until the first training step) are kept.
      num_calibration: images used for the ranges.

    Returns:
      A functional ``tf.keras.Model`` ``[B, S, S, 3] -> [B, H, W, J * D]``
      (fake-quantized; train it with :func:`qat_finetune`), with
      ``mhp_config`` set to the heatmap-head :class:`mhp_tf.ModelConfig`.
    """
    float_model = tflite.with_head(model, "heatmap")
    plain = tf.keras.Model(float_model.inputs, float_model.outputs, name=float_model.name)
    annotated = tf.keras.models.clone_model(plain, clone_function=_annotate)
    with quantize_scope():
        qat_model = _quantize.quantize_apply(annotated)
    qat_model.mhp_config = float_model.mhp_config
    if representative_dataset is not None:
        initialize_ranges(qat_model, float_model, representative_dataset, num_calibration)
    return qat_model


def coords_model(qat_model: tf.keras.Model) -> tf.keras.Model:
    """The QAT model with the float soft-argmax on top: ``[B, S, S, 3] -> [B, J, 3]``.

    For training and for :func:`mhp_tf.evaluation.evaluator.evaluate`
    (``mhp_config`` is set, with ``head='coords'``).
    """
    cfg = _config(qat_model)
    coords = SoftArgmax3D(cfg.depth_bins, name="soft_argmax")(qat_model.output)
    wrapped = tf.keras.Model(qat_model.input, coords, name=f"{qat_model.name}_coords")
    wrapped.mhp_config = cfg.replace(head="coords")
    return wrapped


def _config(qat_model) -> ModelConfig:
    cfg = getattr(qat_model, "mhp_config", None)
    if cfg is None:
        raise ValueError("this QAT model has no mhp_config (build it with quantize_model "
                         "or load it with load_qat_model)")
    return cfg


def qat_finetune(qat_model: tf.keras.Model, dataset: tf.data.Dataset, steps: int,
                 learning_rate: float = 1e-4, log_every: int = 0) -> Dict:
    """Fine-tune a QAT model for ``steps`` batches of ``dataset``.

    ``dataset`` yields training batches (dicts with ``image``, ``coords``,
    ``vis``, ``have_depth``: :func:`mhp_tf.data.datasets.build_dataset` with
    ``training=True``). The loss is the training loss (L1 on soft-argmax
    coordinates; the soft-argmax runs in float32 on the fake-quantized
    logits), optimised with Adam; batch norm runs in training mode, as in
    training. Returns ``{'steps', 'losses', 'first_loss', 'final_loss'}``.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    depth = _config(qat_model).depth_bins
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    variables = qat_model.trainable_variables

    @tf.function
    def train_step(batch):
        with tf.GradientTape() as tape:
            logits = qat_model(batch["image"], training=True)
            pred = soft_argmax_3d_direct(logits, depth)
            loss = tf.reduce_mean(coord_l1_loss(pred, batch["coords"], batch["vis"],
                                                batch["have_depth"]))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    losses = []
    iterator = iter(dataset)
    for step in range(steps):
        loss = float(train_step(next(iterator)))
        if not math.isfinite(loss):
            raise FloatingPointError(f"QAT loss became {loss} at step {step + 1}; lower the "
                                     f"learning rate")
        losses.append(loss)
        if log_every and (step + 1) % log_every == 0:
            print(f"QAT step {step + 1}/{steps}: loss {np.mean(losses[-log_every:]):.4f}",
                  flush=True)
    window = max(1, len(losses) // 10)
    return {"steps": steps, "losses": losses, "first_loss": losses[0],
            "final_loss": float(np.mean(losses[-window:]))}


def save_qat_model(qat_model: tf.keras.Model, path: str) -> str:
    """Save a QAT model as ``.h5`` (the format that reloads), with its model config."""
    import h5py

    if not path.endswith(".h5"):
        raise ValueError(f"QAT models are saved as .h5 (.keras does not reload); got {path!r}")
    cfg = _config(qat_model)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with quantize_scope(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HDF5 file")  # legacy, but the one that works
        qat_model.save(path, save_format="h5", include_optimizer=False)
    with h5py.File(path, "a") as f:
        f.attrs["mhp_config"] = json.dumps(cfg.to_dict())
    return path


def load_qat_model(path: str) -> tf.keras.Model:
    """Load a model written by :func:`save_qat_model` (``mhp_config`` restored)."""
    import h5py

    with quantize_scope():
        qat_model = tf.keras.models.load_model(path, compile=False)
    with h5py.File(path, "r") as f:
        raw = f.attrs.get("mhp_config")
    if raw is not None:
        qat_model.mhp_config = ModelConfig(**json.loads(raw))
    return qat_model


__all__ = [
    "OutputQuantizeConfig", "PassThroughQuantizeConfig", "CUSTOM_OBJECTS", "quantize_scope",
    "quantize_model", "initialize_ranges", "coords_model", "qat_finetune", "save_qat_model",
    "load_qat_model",
]
