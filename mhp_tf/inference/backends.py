"""Runtimes behind :class:`~mhp_tf.inference.PoseEstimator`: one contract, four model formats.

Every backend maps a batch of person crops to the network output:

    crops uint8 ``[B, S, S, 3]`` RGB (cut as :mod:`mhp_tf.data.pipeline` cuts them)
      -> ``coords`` float64 ``[B, J, 3]`` in heatmap units (``x, y`` in output-grid
         cells ``[0, heatmap_size)``, ``z`` in depth bins ``[0, depth_bins)``)
      +  ``heatmap`` float32 ``[B, H, W, J * D]`` logits, or None when the model
         does not expose them (used only for the confidence, see
         :func:`heatmap_confidence`).

* :class:`KerasBackend`: a ``tf.keras`` model (``.keras`` file, run folder or a model
  object). Input normalisation runs in a ``tf.function``; for a ``head='coords'``
  MobileHumanPose the heatmap logits are read from its ``head_conv`` layer.
* :class:`SavedModelBackend`: a SavedModel whose ``serving_default`` signature takes
  uint8 crops (``images``) and returns ``coords`` (as :mod:`mhp_tf.export.saved_model`
  writes it); its metadata variables describe the model.
* :class:`TFLiteBackend`: a ``.tflite`` file with one ``[1, S, S, 3]`` input (uint8,
  float32 -- normalised here -- or int8/uint8-quantised float) and a ``[1, J, 3]``
  coords output or a ``[1, H, W, J * D]`` heatmap output (decoded here with the
  same soft-argmax as the network).
* :class:`CallableBackend`: any Python function ``crops -> coords`` (tests, other
  runtimes).

Only NumPy arrays cross the boundary; no backend needs mhp_tf's model code at run
time except :class:`KerasBackend` (to deserialise the custom layers).
"""

import dataclasses
import json
import os
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from mhp_tf.data.pipeline import NORMALIZATIONS
from mhp_tf.data.pipeline import normalize

DEFAULT_DEPTH_RANGE_MM = 2000.0


@dataclasses.dataclass
class ModelInfo:
    """What the decoding needs to know about a model (``None``: unknown so far)."""

    input_size: Optional[int] = None
    heatmap_size: Optional[int] = None
    depth_bins: Optional[int] = None
    depth_range_mm: Optional[float] = None
    num_joints: Optional[int] = None
    normalization: Optional[str] = None
    skeleton: Optional[str] = None
    joint_names: Optional[Tuple[str, ...]] = None

    def fill(self, other: "ModelInfo") -> "ModelInfo":
        """Fields of ``self`` that are None are taken from ``other``."""
        return ModelInfo(**{f.name: (getattr(self, f.name) if getattr(self, f.name) is not None
                                     else getattr(other, f.name))
                            for f in dataclasses.fields(self)})


# ----------------------------------------------------------------------------- numerics


def normalize_crops(crops: np.ndarray, normalization: str) -> np.ndarray:
    """uint8 / 0..255 crops -> float32 network input, as :mod:`mhp_tf.data.pipeline`."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization={normalization!r}, expected one of {NORMALIZATIONS}")
    return normalize(np.asarray(crops, np.float32), normalization)


def _softmax_volumes(logits: np.ndarray, depth_bins: int) -> np.ndarray:
    """``[B, H, W, J * D]`` logits -> ``[B, J, H, W, D]`` probabilities (one softmax per joint)."""
    lg = np.asarray(logits, np.float64)
    b, h, w, c = lg.shape
    if c % depth_bins:
        raise ValueError(f"heatmap channels ({c}) are not a multiple of depth_bins ({depth_bins})")
    j = c // depth_bins
    v = lg.reshape(b, h, w, j, depth_bins).transpose(0, 3, 1, 2, 4).reshape(b, j, -1)
    v = v - v.max(-1, keepdims=True)
    p = np.exp(v)
    p /= p.sum(-1, keepdims=True)
    return p.reshape(b, j, h, w, depth_bins)


def soft_argmax_numpy(logits, depth_bins: int) -> np.ndarray:
    """NumPy twin of :func:`mhp_tf.modeling.soft_argmax_3d`: logits -> ``[B, J, 3]`` (x, y, z)."""
    p = _softmax_volumes(logits, depth_bins)
    _, _, h, w, d = p.shape
    x = np.einsum("bjhwd,w->bj", p, np.arange(w, dtype=np.float64))
    y = np.einsum("bjhwd,h->bj", p, np.arange(h, dtype=np.float64))
    z = np.einsum("bjhwd,d->bj", p, np.arange(d, dtype=np.float64))
    return np.stack([x, y, z], -1)


def confidence_radius(heatmap_size: int) -> int:
    """Half-width (cells) of the window of :func:`heatmap_confidence`: ``max(1, H // 16)``."""
    return max(1, int(heatmap_size) // 16)


def heatmap_confidence(logits, coords, depth_bins: int) -> np.ndarray:
    """Per-joint confidence ``[B, J]`` in [0, 1] from the heatmap's peakiness.

    For each joint, the probability mass of its volumetric softmax (the one the
    soft-argmax integrates) that lies within ``r = max(1, H // 16)`` output cells of
    the predicted ``(x, y)`` in both image directions, summed over all depth bins
    (a ``(2r + 1)^2`` window: 5 x 5 cells on a 32 x 32 grid, 1/16 of the crop side
    on either side of the joint). A sharp, unimodal heatmap gives values near 1;
    a flat or multi-modal one (joint not found, occluded, ambiguous) gives values
    near ``(2r + 1)^2 / H^2`` (0.024 on 32 x 32). It is a measure of how peaked the
    network's belief is, not a calibrated probability.
    """
    p = _softmax_volumes(logits, depth_bins).sum(-1)  # [B, J, H, W]
    b, j, h, w = p.shape
    r = confidence_radius(h)
    c = np.asarray(coords, np.float64)
    cx = np.clip(np.round(c[..., 0]).astype(int), 0, w - 1)
    cy = np.clip(np.round(c[..., 1]).astype(int), 0, h - 1)
    ys = np.arange(h)[None, None, :, None]
    xs = np.arange(w)[None, None, None, :]
    window = (np.abs(ys - cy[..., None, None]) <= r) & (np.abs(xs - cx[..., None, None]) <= r)
    return np.clip((p * window).sum((-1, -2)), 0.0, 1.0)


# ----------------------------------------------------------------------------- config files


def read_run_config(path: str) -> Optional[dict]:
    """The ``config.json`` (an :class:`mhp_tf.training.config.ExperimentConfig`) of a model file.

    Looked for beside the file, then in its parent folder (a run folder keeps
    ``model.keras`` and ``config.json`` together; exports may sit one level down).
    Returns the parsed JSON or None.
    """
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    for d in (folder, os.path.dirname(folder)):
        candidate = os.path.join(d, "config.json")
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf-8") as f:
                    data = json.load(f)
            except (OSError, ValueError) as e:
                raise ValueError(f"cannot read {candidate}: {e}") from None
            if isinstance(data, dict) and "model" in data:
                return data
    return None


def info_from_run_config(data: Optional[dict]) -> ModelInfo:
    """Decoding facts from an ``ExperimentConfig`` dict (heatmap size from the model config)."""
    if not data:
        return ModelInfo()
    from mhp_tf.modeling import ModelConfig  # deferred: only needed for run configs

    try:
        mcfg = ModelConfig(**data["model"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"config.json: invalid model section: {e}") from None
    d = data.get("data", {}) or {}
    return ModelInfo(input_size=mcfg.input_size, heatmap_size=mcfg.heatmap_size,
                     depth_bins=mcfg.depth_bins, num_joints=mcfg.num_joints,
                     normalization=d.get("normalization"), skeleton=d.get("skeleton"))


def read_sidecar(path: str) -> ModelInfo:
    """Facts from a JSON file next to a model file: ``<file>.json`` or ``<stem>.json``.

    Keys (all optional): ``input_size``, ``heatmap_size``, ``depth_bins``,
    ``depth_range_mm``, ``normalization``, ``skeleton``, ``joint_names``.
    """
    stem = os.path.splitext(path)[0]
    for candidate in (path + ".json", stem + ".json"):
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as f:
                data = json.load(f)
            names = data.get("joint_names")
            return ModelInfo(input_size=data.get("input_size"),
                             heatmap_size=data.get("heatmap_size"),
                             depth_bins=data.get("depth_bins"),
                             depth_range_mm=data.get("depth_range_mm"),
                             normalization=data.get("normalization"),
                             skeleton=data.get("skeleton"),
                             joint_names=tuple(names) if names else None)
    return ModelInfo()


# ----------------------------------------------------------------------------- backends


class Backend:
    """Base class: ``backend(crops uint8 [B, S, S, 3]) -> (coords [B, J, 3], heatmap | None)``."""

    kind = "base"
    info: ModelInfo
    needs_normalization = False  # True when the crops are normalised outside the model

    def __call__(self, crops: np.ndarray):
        raise NotImplementedError

    def set_normalization(self, normalization: Optional[str]) -> None:
        """Backends that normalise themselves need to know how (see :class:`KerasBackend`)."""


def _check_crops(crops: np.ndarray, size: int) -> np.ndarray:
    crops = np.asarray(crops)
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[1:] != (size, size, 3):
        raise ValueError(f"crops must be uint8 [B, {size}, {size}, 3], got {crops.dtype} "
                         f"{crops.shape}")
    return crops


class KerasBackend(Backend):
    """A ``tf.keras`` model whose input is the normalised crop ``[B, S, S, 3]`` float32."""

    kind = "keras"
    needs_normalization = True

    def __init__(self, model, normalization: Optional[str] = None, with_heatmap: bool = True):
        import tensorflow as tf

        self.model = model
        shape = model.input_shape
        if isinstance(shape, list) or len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2] \
                or shape[1] is None:
            raise ValueError(f"the Keras model must take one square RGB input [B, S, S, 3], "
                             f"got input shape {shape}")
        out_shape = model.output_shape
        if isinstance(out_shape, list) or len(out_shape) not in (3, 4):
            raise ValueError("the Keras model must output coords [B, J, 3] or heatmap logits "
                             f"[B, H, W, J * D], got output shape {out_shape}")
        cfg = getattr(model, "mhp_config", None)
        self.info = ModelInfo(input_size=int(shape[1]))
        if cfg is not None:
            self.info = ModelInfo(input_size=cfg.input_size, heatmap_size=cfg.heatmap_size,
                                  depth_bins=cfg.depth_bins, num_joints=cfg.num_joints)
        elif len(out_shape) == 3:
            self.info.num_joints = int(out_shape[1])
        self._heatmap_output = len(out_shape) == 4
        outputs = [model.output]
        self._tap = False
        if not self._heatmap_output and with_heatmap:
            try:
                # MobileHumanPose knows its logits layer; other models name it head_conv.
                head = (model.logits_layer if cfg is not None
                        else model.get_layer("head_conv")).output
            except ValueError:
                head = None
            if head is not None and len(head.shape) == 4:
                outputs.append(head)
                self._tap = True
                # The logits' grid and channels = J * D say the decoding sizes.
                joints = int(out_shape[1])
                if self.info.heatmap_size is None and head.shape[1] is not None:
                    self.info.heatmap_size = int(head.shape[1])
                if self.info.depth_bins is None and head.shape[3] and not head.shape[3] % joints:
                    self.info.depth_bins = int(head.shape[3]) // joints
        self._net = model if len(outputs) == 1 else tf.keras.Model(model.inputs, outputs)
        self._normalization = None
        self._run = None
        self.set_normalization(normalization)

    def set_normalization(self, normalization: Optional[str]) -> None:
        if normalization is not None and normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization={normalization!r}, expected one of "
                             f"{NORMALIZATIONS}")
        if normalization != self._normalization:
            self._run = None  # the normalisation is baked into the traced graph
        self._normalization = normalization
        self.info.normalization = normalization

    def _build_run(self):
        import tensorflow as tf

        size, net, norm = self.info.input_size, self._net, self._normalization

        @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8)])
        def run(crops):
            out = net(normalize(tf.cast(crops, tf.float32), norm), training=False)
            if isinstance(out, (list, tuple)):
                return [tf.cast(o, tf.float32) for o in out]
            return [tf.cast(out, tf.float32)]

        return run

    def __call__(self, crops):
        crops = _check_crops(crops, self.info.input_size)
        if self._normalization is None:
            raise ValueError("the Keras backend needs a normalization")
        if self._run is None:
            self._run = self._build_run()
        outs = [o.numpy() for o in self._run(crops)]
        if self._heatmap_output:
            if self.info.depth_bins is None:
                raise ValueError("a heatmap-output model needs depth_bins")
            return soft_argmax_numpy(outs[0], self.info.depth_bins), outs[0]
        return outs[0].astype(np.float64), (outs[1] if self._tap else None)


def _scalar(value):
    value = value.numpy() if hasattr(value, "numpy") else value
    value = np.asarray(value)
    if value.dtype.kind in "SO":
        return value.item().decode() if isinstance(value.item(), bytes) else value.item()
    return value.item() if value.ndim == 0 else value


class SavedModelBackend(Backend):
    """A SavedModel with a ``serving_default`` signature: uint8 crops -> ``coords``.

    Metadata variables of :mod:`mhp_tf.export.saved_model` (``input_size``,
    ``heatmap_size``, ``depth_bins``, ``depth_range_mm``, ``normalization``,
    ``skeleton``, ``joint_names``) are read when present. A signature whose input is
    float32 gets normalised crops (then ``normalization`` must be known). An extra
    ``heatmap`` output, when present, feeds the confidence.
    """

    kind = "saved_model"

    def __init__(self, path: str):
        import tensorflow as tf

        try:
            self.loaded = tf.saved_model.load(path)
        except Exception as e:  # noqa: BLE001 - TF raises many types; report them plainly
            raise ValueError(f"cannot load the SavedModel at {path}: "
                             f"{type(e).__name__}: {str(e).splitlines()[0]}") from None
        sigs = self.loaded.signatures
        if "serving_default" not in sigs:
            raise ValueError(f"the SavedModel at {path} has no 'serving_default' signature "
                             f"(signatures: {sorted(sigs)})")
        self.fn = sigs["serving_default"]
        _, kwargs = self.fn.structured_input_signature
        if len(kwargs) != 1:
            raise ValueError(f"serving_default must take one input (the crops), got {sorted(kwargs)}")
        (self.input_name, spec), = kwargs.items()
        self.input_dtype = spec.dtype.as_numpy_dtype
        outputs = self.fn.structured_outputs
        if "coords" not in outputs:
            raise ValueError(f"serving_default must return 'coords', got {sorted(outputs)}")
        self.has_heatmap = "heatmap" in outputs
        info = ModelInfo()
        for name in ("input_size", "heatmap_size", "depth_bins", "num_joints"):
            if hasattr(self.loaded, name):
                setattr(info, name, int(_scalar(getattr(self.loaded, name))))
        if hasattr(self.loaded, "depth_range_mm"):
            info.depth_range_mm = float(_scalar(self.loaded.depth_range_mm))
        for name in ("normalization", "skeleton"):
            if hasattr(self.loaded, name):
                setattr(info, name, str(_scalar(getattr(self.loaded, name))))
        if hasattr(self.loaded, "joint_names"):
            names = self.loaded.joint_names
            names = names.numpy() if hasattr(names, "numpy") else np.asarray(names)
            info.joint_names = tuple(n.decode() if isinstance(n, bytes) else str(n)
                                     for n in np.ravel(names))
            info.num_joints = len(info.joint_names)
        if info.input_size is None and spec.shape.rank == 4 and spec.shape[1] is not None:
            info.input_size = int(spec.shape[1])
        self.info = info
        self._normalization = info.normalization
        self.needs_normalization = self.input_dtype != np.uint8

    def set_normalization(self, normalization: Optional[str]) -> None:
        if self.input_dtype == np.uint8:
            return  # normalisation happens inside the SavedModel
        self._normalization = normalization or self._normalization

    def __call__(self, crops):
        import tensorflow as tf

        crops = _check_crops(crops, self.info.input_size)
        if self.input_dtype == np.uint8:
            x = crops
        else:
            if self._normalization is None:
                raise ValueError("this SavedModel takes float input: pass normalization=")
            x = normalize_crops(crops, self._normalization)
        out = self.fn(**{self.input_name: tf.constant(x)})
        coords = out["coords"].numpy().astype(np.float64)
        heatmap = out["heatmap"].numpy() if self.has_heatmap else None
        return coords, heatmap


LITERT_REQUIREMENT = "ai-edge-litert==2.3.0"


def litert_interpreter_class():
    """``ai_edge_litert.interpreter.Interpreter``: the maintained TFLite runtime.

    Every TFLite model mhp_tf runs goes through it (``tf.lite.Interpreter`` is
    deprecated; conversion still uses ``tf.lite.TFLiteConverter``). ai-edge-litert is
    a dependency of mhp_tf (``setup.py``); a clear ImportError says how to install it.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise ImportError(f"running TFLite models needs LiteRT, a dependency of mhp_tf: pip "
                          f"install {LITERT_REQUIREMENT} ({e})") from None
    return Interpreter


def load_tflite_interpreter(path_or_bytes, num_threads: Optional[int] = None):
    """A LiteRT interpreter (:func:`litert_interpreter_class`) for a file or bytes, allocated."""
    kwargs = {"num_threads": num_threads} if num_threads else {}
    if isinstance(path_or_bytes, (bytes, bytearray)):
        kwargs["model_content"] = bytes(path_or_bytes)
    else:
        kwargs["model_path"] = str(path_or_bytes)
    interpreter_class = litert_interpreter_class()
    try:
        interpreter = interpreter_class(**kwargs)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        where = "the given bytes" if "model_content" in kwargs else kwargs["model_path"]
        raise ValueError(f"cannot load the TFLite model {where}: {str(e).splitlines()[0]}") \
            from None
    return interpreter


def _quantize(x: np.ndarray, detail) -> np.ndarray:
    scale, zero = detail["quantization"]
    dtype = detail["dtype"]
    if scale == 0:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(x: np.ndarray, detail) -> np.ndarray:
    scale, zero = detail["quantization"]
    if scale == 0 or np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float32)
    return (x.astype(np.float32) - zero) * scale


class TFLiteBackend(Backend):
    """A ``.tflite`` model run crop by crop (batch 1, as converted).

    Input ``[1, S, S, 3]``: uint8 takes the crops as they are (normalisation inside
    the model); float32 gets normalised crops; int8 gets normalised crops quantised
    with the input's scale / zero point. Output: ``[1, J, 3]`` coords or
    ``[1, H, W, J * D]`` heatmap logits (soft-argmax here; needs ``depth_bins``).
    """

    kind = "tflite"

    def __init__(self, path_or_bytes, num_threads: Optional[int] = None):
        self.interpreter = load_tflite_interpreter(path_or_bytes, num_threads)
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if len(inputs) != 1:
            raise ValueError(f"the TFLite model must have one input, got {len(inputs)}")
        self.input = inputs[0]
        shape = tuple(int(s) for s in self.input["shape"])
        if len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2]:
            raise ValueError(f"the TFLite input must be [1, S, S, 3], got {shape}")
        ranks = {len(o["shape"]): o for o in outputs}
        self.coords_out = ranks.get(3)
        self.heatmap_out = ranks.get(4)
        if self.coords_out is None and self.heatmap_out is None:
            raise ValueError("the TFLite model must output coords [1, J, 3] or heatmap logits "
                             f"[1, H, W, J * D], got {[tuple(o['shape']) for o in outputs]}")
        self.info = ModelInfo(input_size=shape[1])
        if self.coords_out is not None:
            self.info.num_joints = int(self.coords_out["shape"][1])
        if self.heatmap_out is not None:
            self.info.heatmap_size = int(self.heatmap_out["shape"][1])
        self._normalization = None
        self.needs_normalization = not (self.input["dtype"] == np.uint8
                                        and self.input["quantization"][0] == 0)

    def set_normalization(self, normalization: Optional[str]) -> None:
        self._normalization = normalization or self._normalization

    def __call__(self, crops):
        crops = _check_crops(crops, self.info.input_size)
        it = self.interpreter
        dtype = self.input["dtype"]
        coords, heatmaps = [], []
        for crop in crops:
            if dtype == np.uint8 and self.input["quantization"][0] == 0:
                x = crop[None]
            else:
                if self._normalization is None:
                    raise ValueError("this TFLite model takes float input: pass normalization= "
                                     "(or keep the training config.json next to it)")
                x = normalize_crops(crop[None], self._normalization)
                if dtype != np.float32:
                    x = _quantize(x, self.input)
            it.set_tensor(self.input["index"], x)
            it.invoke()
            if self.heatmap_out is not None:
                heatmaps.append(_dequantize(it.get_tensor(self.heatmap_out["index"]),
                                            self.heatmap_out)[0])
            if self.coords_out is not None:
                coords.append(_dequantize(it.get_tensor(self.coords_out["index"]),
                                          self.coords_out)[0])
        heatmap = np.stack(heatmaps) if heatmaps else None
        if coords:
            return np.stack(coords).astype(np.float64), heatmap
        if self.info.depth_bins is None:
            raise ValueError("a heatmap-output TFLite model needs depth_bins")
        return soft_argmax_numpy(heatmap, self.info.depth_bins), heatmap


class CallableBackend(Backend):
    """A function ``crops uint8 [B, S, S, 3] -> coords [B, J, 3]`` (or ``(coords, heatmap)``)."""

    kind = "callable"

    def __init__(self, fn: Callable, input_size: int):
        self.fn = fn
        self.info = ModelInfo(input_size=int(input_size))

    def __call__(self, crops):
        crops = _check_crops(crops, self.info.input_size)
        out = self.fn(crops)
        if isinstance(out, tuple):
            coords, heatmap = out
        else:
            coords, heatmap = out, None
        return np.asarray(coords, np.float64), heatmap


def is_saved_model_dir(path: str) -> bool:
    return os.path.isdir(path) and (os.path.isfile(os.path.join(path, "saved_model.pb"))
                                    or os.path.isfile(os.path.join(path, "saved_model.pbtxt")))


def resolve_model_path(path: str) -> Tuple[str, str]:
    """``(kind, path)`` for a model file or folder; ``kind`` in keras / saved_model / tflite.

    Folders: a SavedModel, a run folder holding ``model.keras`` (or ``export/`` with a
    SavedModel), or a folder with exactly one ``.tflite``. A name that is no path but a
    preset's (:mod:`mhp_tf.pretrained`) gives that preset's model.
    """
    from mhp_tf import pretrained

    path = os.path.expanduser(pretrained.resolve(str(path))[0])
    if not os.path.exists(path):
        names = ", ".join(pretrained.list_presets()) or "none installed"
        raise ValueError(f"model path {path!r} does not exist (nor is it a preset name; "
                         f"presets: {names})")
    if os.path.isfile(path):
        ext = os.path.splitext(path)[1].lower()
        if ext in (".keras", ".h5"):
            return "keras", path
        if ext == ".tflite":
            return "tflite", path
        raise ValueError(f"unsupported model file {path!r}: expected .keras, .h5 or .tflite "
                         "(or a SavedModel / run folder)")
    if is_saved_model_dir(path):
        return "saved_model", path
    candidates: Sequence[str] = ("model.keras", "final.keras", "best.keras")
    for name in candidates:
        if os.path.isfile(os.path.join(path, name)):
            return "keras", os.path.join(path, name)
    kerases = sorted(f for f in os.listdir(path) if f.endswith(".keras"))
    if len(kerases) == 1:
        return "keras", os.path.join(path, kerases[0])
    for sub in ("export", "saved_model"):
        if is_saved_model_dir(os.path.join(path, sub)):
            return "saved_model", os.path.join(path, sub)
    tflites = sorted(f for f in os.listdir(path) if f.endswith(".tflite"))
    if len(tflites) == 1:
        return "tflite", os.path.join(path, tflites[0])
    raise ValueError(f"{path!r} is neither a SavedModel nor a run folder with model.keras "
                     "(nor a folder with one .tflite file)")
