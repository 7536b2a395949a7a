r"""Import a reference PyTorch checkpoint into a Keras MobileHumanPose.

    python -m mhp_tf.convert_torch --checkpoint=snapshot_24.pth.tar --out=runs/imported_l
    python -m mhp_tf.convert_torch --checkpoint=snapshot_24.pth.tar --out=runs/x --head=heatmap

The reference training code (SangbumChoi/MobileHumanPose) saves
``{'epoch', 'network', 'optimizer'}`` with ``network`` the state dict of the
(usually DataParallel-wrapped) pose net, so its keys read
``module.backbone.first_conv.0.weight`` and so on. Bare state dicts and keys
without ``module.`` / ``backbone.`` are accepted too.

The architecture is read off the tensor shapes (:func:`infer_config`):

* width multiplier and first-conv width: from the 17 inverted-residual output
  widths and ``first_conv.0.weight`` (TF-slim rounding to multiples of 8);
* embedding size: ``last_conv.0.weight``; decoder width: ``deconv0.3.weight``;
* concatenation and topology: from ``deconv0.0.weight``. Its input width is
  ``embedding + skip`` for skip concatenation (the skip width tells the
  ``paper`` topology, which taps the 160-channel stage, from ``compact``, which
  taps the 96-channel stage), ``embedding`` alone without concatenation, and
  ``last IR width + embedding`` for the residual ablation (``deonv*`` modules in
  the reference; its topology is not visible in the weights and defaults to
  ``paper``, the only one the reference builds);
* activation: PReLU if the checkpoint has PReLU slopes, else ReLU;
* joints x depth bins: ``final_layer.weight`` has ``J * D`` rows. The weights
  cannot split the product; unless ``num_joints`` or ``depth_bins`` is given,
  D follows the reference (64 for ``paper``, 32 for ``compact``).

The input size (256 in the reference) and the output head are free choices.
Every tensor is then copied by a name table (Keras layer -> torch module):
conv kernels OIHW -> HWIO, depthwise ``(C, 1, kh, kw)`` -> ``(kh, kw, C, 1)``,
PReLU ``(C,)`` -> ``(1, 1, C)``, BatchNorm weight/bias/running mean/var ->
gamma/beta/moving mean/variance. A tensor left over, a Keras weight left
without a tensor, or any shape disagreement raises one ``ValueError`` that
names them all. ``num_batches_tracked`` counters are ignored.

Imported models expect the reference input normalisation:
``(rgb in 0..255 - mean) / std`` without dividing by 255, i.e. the pipeline's
``normalization='reference'`` (the default).
"""

import dataclasses
import json
import os
import pickle
import re
import sys
import zipfile
from typing import Dict, List, Mapping, Optional, Tuple

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mhp_tf.modeling.layers import make_divisible  # noqa: E402
from mhp_tf.modeling.mobilehumanpose import IR_STAGES  # noqa: E402
from mhp_tf.modeling.mobilehumanpose import TOPOLOGIES  # noqa: E402
from mhp_tf.modeling.mobilehumanpose import MobileHumanPose  # noqa: E402
from mhp_tf.modeling.mobilehumanpose import ModelConfig  # noqa: E402
from mhp_tf.modeling.presets import PRESETS  # noqa: E402

FLAGS = flags.FLAGS

__all__ = [
    "ConversionReport",
    "convert_checkpoint",
    "infer_config",
    "load_checkpoint",
    "load_torch_state_dict",
    "normalize_state_dict",
]

IGNORED_SUFFIXES = ("num_batches_tracked",)
# Wrappers the reference puts around the backbone: DataParallel, then CustomNet.
_PREFIXES = ("module.", "backbone.")
_MAX_LISTED = 25


# ----------------------------------------------------------------------------- loading


def _import_torch():
    try:
        import torch
    except ImportError as err:
        raise ImportError(
            "reading a PyTorch checkpoint needs torch, an optional dependency of mhp_tf: "
            "pip install torch (or pass a dict of numpy arrays to load_torch_state_dict)"
        ) from err
    return torch


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.float()
        value = value.numpy()
    return np.asarray(value)


def _looks_like_state_dict(obj) -> bool:
    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(k, str) for k in obj)
            and all(hasattr(v, "shape") for v in obj.values()))


# torch.save's legacy (pre-1.6) format starts with a pickled magic number: the PROTO
# opcode and its version, then LONG1 (0x8a) of 10 bytes holding this value.
_LEGACY_TORCH_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def check_torch_file(path: str) -> None:
    """Raise unless ``path`` looks like a ``torch.save`` file, before torch reads it.

    ``torch.load`` fails on other files with errors that do not say what is wrong
    (``KeyError: 101`` for a text file, an ``inline_container.cc`` message for a zip
    file). A torch save is a zip archive holding ``<name>/data.pkl`` or, in the
    legacy format, a pickle that starts with torch's magic number.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if not os.path.isfile(path):
        raise ValueError(f"{path} is not a PyTorch checkpoint: it is not a file")
    with open(path, "rb") as f:
        head = f.read(14)
    if not head:
        raise ValueError(f"{path} is not a PyTorch checkpoint: the file is empty")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        if not any(n.endswith("/data.pkl") for n in names):
            raise ValueError(f"{path} is not a PyTorch checkpoint: a zip archive without the "
                             f"data.pkl of torch.save (holds {names[:5]})")
    elif not (head[:1] == b"\x80" and head[2:] == _LEGACY_TORCH_MAGIC):
        raise ValueError(f"{path} is not a PyTorch checkpoint (neither torch.save's zip "
                         f"archive nor its legacy format; starts with {head[:8]!r})")


def load_checkpoint(path: str) -> Tuple[Dict[str, np.ndarray], str]:
    """Read a reference checkpoint file; returns (state dict as numpy, where it was found).

    Accepts ``{'network': state_dict, ...}`` (the reference's snapshots),
    ``{'state_dict': ...}`` / ``{'model': ...}`` and bare state dicts. Uses
    ``torch.load(map_location='cpu', weights_only=True)``: no pickled code runs.
    Other files raise "not a PyTorch checkpoint" (:func:`check_torch_file`).
    """
    torch = _import_torch()
    check_torch_file(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path}: a PyTorch file that needs code to load (torch.load with "
                         f"weights_only=True refuses it); save the state dict "
                         f"(torch.save(model.state_dict(), path)): {str(e)[:300]}") from None
    except (RuntimeError, EOFError, KeyError, ValueError) as e:
        raise ValueError(f"{path} is not a readable PyTorch checkpoint (truncated or "
                         f"damaged?): {type(e).__name__}: {str(e)[:300]}") from None
    if _looks_like_state_dict(obj):
        state, where = obj, "bare state dict"
    else:
        for key in ("network", "state_dict", "model"):
            if isinstance(obj, Mapping) and _looks_like_state_dict(obj.get(key)):
                state, where = obj[key], f"{key!r} entry"
                break
        else:
            keys = sorted(obj)[:10] if isinstance(obj, Mapping) else type(obj).__name__
            raise ValueError(f"{path}: not a MobileHumanPose checkpoint: expected a state dict "
                             f"or a dict with a 'network' state dict, found {keys}")
    return {k: _to_numpy(v) for k, v in state.items()}, where


def check_tensor_values(name: str, array: np.ndarray) -> None:
    """Refuse a tensor with NaN/inf values, or a BatchNorm ``running_var`` with a negative
    entry (a variance cannot be negative; ``sqrt(var + eps)`` would make NaN outputs).
    The message names the tensor and the first bad index."""
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        index = np.unravel_index(bad[0], array.shape)
        raise ValueError(f"tensor {name!r} has {bad.size} non-finite value(s) (NaN or inf), "
                         f"e.g. {array[index]} at {tuple(int(i) for i in index)}")
    if name.endswith("running_var"):
        neg = np.flatnonzero(array < 0)
        if neg.size:
            raise ValueError(f"tensor {name!r} (BatchNorm running variance) has {neg.size} "
                             f"negative value(s), e.g. {array.flat[neg[0]]} at index "
                             f"{int(neg[0])}")


def normalize_state_dict(state_dict: Mapping) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Strip ``module.`` / ``backbone.`` prefixes, rename ``deonv*`` -> ``deconv*``,
    drop ``num_batches_tracked``.

    Returns (canonical name -> float32 array, canonical name -> original name).
    """
    tensors, original = {}, {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise ValueError(f"state dict keys must be strings, got {name!r}")
        if name.rsplit(".", 1)[-1] in IGNORED_SUFFIXES:
            continue
        key = name
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
        # The reference's residual-concat backbone spells its decoder "deonv".
        key = re.sub(r"^deonv(\d)", r"deconv\1", key)
        if key in tensors:
            raise ValueError(f"tensors {original[key]!r} and {name!r} both map to {key!r}")
        array = _to_numpy(value)
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"tensor {name!r} has dtype {array.dtype}, expected floating point")
        check_tensor_values(name, array)
        tensors[key] = array.astype(np.float32)
        original[key] = name
    return tensors, original


# ----------------------------------------------------------------------------- architecture


def _need(tensors, original, key, ndim) -> np.ndarray:
    if key not in tensors:
        raise ValueError(f"cannot read the architecture: the checkpoint has no tensor "
                         f"{key!r} (with or without a 'module.backbone.' prefix)")
    if tensors[key].ndim != ndim:
        raise ValueError(f"tensor {original[key]!r} has shape {tensors[key].shape}, "
                         f"expected a {ndim}-d tensor")
    return tensors[key]


def _block_output_widths(tensors) -> List[int]:
    """Output width of each inverted-residual block: its projection BN (a direct
    child of ``inv_residual.k.conv``; the expand/depthwise BNs are nested one deeper)."""
    widths = {}
    for key, value in tensors.items():
        m = re.fullmatch(r"inv_residual\.(\d+)\.conv\.\d+\.running_mean", key)
        if m:
            widths[int(m.group(1))] = int(value.shape[0])
    expected = sum(n for _, _, n in IR_STAGES)
    if sorted(widths) != list(range(expected)):
        raise ValueError(f"expected {expected} inverted-residual blocks inv_residual.0.."
                         f"{expected - 1} (each with a projection BatchNorm), found blocks "
                         f"{sorted(widths)}")
    return [widths[k] for k in range(expected)]


def _infer_width_multiplier(stage_widths: List[int]) -> float:
    base = [c for _, c, _ in IR_STAGES]
    preferred = [1.0, 0.75, 0.5, 0.35, 0.25, 1.25, 1.4, 1.5, 2.0]
    for wm in preferred + [k / 100 for k in range(1, 401)]:
        if all(make_divisible(c * wm) == w for c, w in zip(base, stage_widths)):
            return wm
    raise ValueError(f"inverted-residual stage widths {stage_widths} match no width "
                     f"multiplier of the base widths {base}")


def _infer_first_conv_channels(width: int, wm: float) -> int:
    candidates = sorted(range(1, 4097), key=lambda c: (c != 48, abs(c - width / wm)))
    for channels in candidates:
        if make_divisible(channels * wm) == width:
            return channels
    raise ValueError(f"first_conv.0.weight has {width} output channels, which no base width "
                     f"gives at width multiplier {wm}")


def infer_config(state_dict: Mapping, num_joints: Optional[int] = None,
                 depth_bins: Optional[int] = None, topology: Optional[str] = None,
                 input_size: int = 256, head: str = "coords"):
    """The :class:`mhp_tf.ModelConfig` a reference state dict was trained with.

    Args:
      state_dict: name -> array (numpy or torch), reference module names with
        or without ``module.`` / ``backbone.`` prefixes.
      num_joints, depth_bins: split of the head's ``J * D`` output rows; give
        either when the default (D = 64 for ``paper``, 32 for ``compact``, as
        in the reference) does not apply.
      topology: only needed for the residual-concat ablation, whose weights are
        the same for both topologies; must agree with the weights otherwise.
      input_size, head: passed through to the config.
    """
    tensors, original = normalize_state_dict(state_dict)
    stem = _need(tensors, original, "first_conv.0.weight", 4)
    embedding = _need(tensors, original, "last_conv.0.weight", 4)
    reduce0 = _need(tensors, original, "deconv0.0.weight", 4)
    fuse0 = _need(tensors, original, "deconv0.3.weight", 4)
    final = _need(tensors, original, "final_layer.weight", 4)

    widths = _block_output_widths(tensors)
    stage_widths, first = [], 0
    for _, _, n in IR_STAGES:
        stage_widths.append(widths[first])
        first += n
    wm = _infer_width_multiplier(stage_widths)
    first_conv_channels = _infer_first_conv_channels(int(stem.shape[0]), wm)
    embedding_size = int(embedding.shape[0])
    decoder_channels = int(fuse0.shape[0])

    # deconv0.0 is the first decoder 1x1 conv: (mid, in, 1, 1).
    mid0, in0 = int(reduce0.shape[0]), int(reduce0.shape[1])
    taps = {"paper": stage_widths[5], "compact": stage_widths[4]}
    shape_topology = None
    if in0 == embedding_size:
        concat = "none"
    elif in0 == embedding_size + mid0 and mid0 in taps.values():
        concat = "skip"
    elif in0 == embedding_size + stage_widths[-1] and mid0 == decoder_channels:
        concat = "residual"
    else:
        raise ValueError(
            f"cannot tell the decoder concatenation from deconv0.0.weight {reduce0.shape}: "
            f"expected input width {embedding_size} (no concat), {embedding_size} + skip width "
            f"(skip) or {embedding_size} + {stage_widths[-1]} (residual)")
    if concat != "residual":
        matches = [name for name, width in taps.items() if width == mid0]
        if not matches:
            raise ValueError(f"deconv0.0.weight {reduce0.shape}: its {mid0} output channels "
                             f"match no skip tap width {taps}")
        shape_topology = matches[0]
    if topology is None:
        topology = shape_topology or "paper"
    elif topology not in TOPOLOGIES:
        raise ValueError(f"topology={topology!r}, expected one of {tuple(TOPOLOGIES)}")
    elif shape_topology and topology != shape_topology:
        raise ValueError(f"topology={topology!r} disagrees with the checkpoint, whose decoder "
                         f"widths are those of the {shape_topology!r} topology")

    for field, value in (("num_joints", num_joints), ("depth_bins", depth_bins)):
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise ValueError(f"{field} must be a positive int, got {value!r}")
    rows = int(final.shape[0])
    default_depth = {"paper": 64, "compact": 32}[topology]
    if depth_bins is None:
        depth_bins = rows // num_joints if num_joints else default_depth
    if num_joints is None:
        num_joints = rows // depth_bins
    if num_joints * depth_bins != rows:
        raise ValueError(f"final_layer.weight has {rows} output rows, which is not "
                         f"num_joints x depth_bins = {num_joints} x {depth_bins}; pass "
                         "num_joints or depth_bins")

    activation = "prelu" if "first_conv.2.weight" in tensors else "relu"
    return ModelConfig(
        num_joints=num_joints, topology=topology, width_multiplier=wm,
        embedding_size=embedding_size, depth_bins=depth_bins, input_size=input_size,
        activation=activation, concat=concat, head=head,
        first_conv_channels=first_conv_channels, decoder_channels=decoder_channels)


# ----------------------------------------------------------------------------- name table

_PART_INDEX = {"conv": 0, "bn": 1, "act": 2}


def torch_module_name(layer_name: str, expanded_blocks) -> Optional[str]:
    """Reference module (canonical name) holding the weights of a Keras layer.

    ``expanded_blocks``: indices of the inverted-residual blocks that have a 1x1
    expansion (in the reference their modules shift by one). None when the
    Keras layer has no counterpart.
    """
    m = re.fullmatch(r"stem_(conv|bn|act)", layer_name)
    if m:
        return f"first_conv.{_PART_INDEX[m.group(1)]}"
    m = re.fullmatch(r"block(\d+)_(expand|dw)_(conv|bn|act)", layer_name)
    if m:
        block = int(m.group(1))
        parts = ["expand", "dw"] if block in expanded_blocks else ["dw"]
        if m.group(2) not in parts:
            return None
        return f"inv_residual.{block}.conv.{parts.index(m.group(2))}.{_PART_INDEX[m.group(3)]}"
    m = re.fullmatch(r"block(\d+)_project_(conv|bn)", layer_name)
    if m:
        block = int(m.group(1))
        index = (2 if block in expanded_blocks else 1) + _PART_INDEX[m.group(2)]
        return f"inv_residual.{block}.conv.{index}"
    m = re.fullmatch(r"embedding_(conv|bn|act)", layer_name)
    if m:
        return f"last_conv.{_PART_INDEX[m.group(1)]}"
    m = re.fullmatch(r"decoder(\d+)_(reduce|fuse)_(conv|bn|act)", layer_name)
    if m:
        offset = 0 if m.group(2) == "reduce" else 3
        return f"deconv{m.group(1)}.{offset + _PART_INDEX[m.group(3)]}"
    if layer_name == "head_conv":
        return "final_layer"
    return None


# Keras variable -> (torch tensor suffix, torch -> Keras layout, Keras -> torch shape).
_WEIGHT_RULES = {
    "kernel": ("weight", lambda a: a.transpose(2, 3, 1, 0),
               lambda s: (s[3], s[2], s[0], s[1])),
    "depthwise_kernel": ("weight", lambda a: a.transpose(2, 3, 0, 1),
                         lambda s: (s[2], s[3], s[0], s[1])),
    "alpha": ("weight", lambda a: a.reshape(1, 1, -1), lambda s: (s[-1],)),
    "bias": ("bias", None, None),
    "gamma": ("weight", None, None),
    "beta": ("bias", None, None),
    "moving_mean": ("running_mean", None, None),
    "moving_variance": ("running_var", None, None),
}


def _variable_short_name(variable) -> str:
    return variable.name.split("/")[-1].split(":")[0]


def _listing(title: str, lines: List[str]) -> str:
    shown = lines[:_MAX_LISTED]
    more = f"\n    ... and {len(lines) - len(shown)} more" if len(lines) > len(shown) else ""
    return f"  {title} ({len(lines)}):\n" + "\n".join(f"    {s}" for s in shown) + more


@dataclasses.dataclass
class ConversionReport:
    """What :func:`load_torch_state_dict` did (printed by the CLI)."""

    config: object  # mhp_tf.ModelConfig
    tensors_mapped: int
    tensors_ignored: int
    keras_weights: int
    trainable_params: int
    preset: Optional[str]
    source: str = ""

    def describe(self) -> str:
        c = self.config
        preset = f" (preset {self.preset!r})" if self.preset else " (no preset)"
        h = c.heatmap_size
        return "\n".join([
            f"architecture{preset}: topology={c.topology} concat={c.concat} "
            f"activation={c.activation} width_multiplier={c.width_multiplier} "
            f"embedding={c.embedding_size} decoder={c.decoder_channels} "
            f"first_conv={c.first_conv_channels}",
            f"joints={c.num_joints} depth_bins={c.depth_bins} input={c.input_size}x"
            f"{c.input_size} heatmap={h}x{h}x{c.depth_bins} head={c.head}",
            f"tensors: {self.tensors_mapped} copied into {self.keras_weights} Keras weights "
            f"({self.tensors_ignored} num_batches_tracked ignored); "
            f"{self.trainable_params:,} trainable parameters",
            "input: RGB 0..255 normalised as (rgb - mean) / std without /255 "
            "(data normalization='reference')",
        ])


def _matching_preset(cfg) -> Optional[str]:
    base = dict(activation="prelu", concat="skip", first_conv_channels=48, decoder_channels=256)
    for name, fields in PRESETS.items():
        if all(getattr(cfg, k) == v for k, v in {**base, **fields}.items()):
            return name
    return None


def _convert(state_dict: Mapping, name: Optional[str] = None, **config_args):
    cfg = infer_config(state_dict, **config_args)
    tensors, original = normalize_state_dict(state_dict)
    ignored = sum(1 for k in state_dict if k.rsplit(".", 1)[-1] in IGNORED_SUFFIXES)
    model = MobileHumanPose(name=name or "mobilehumanpose_imported", **cfg.to_dict())

    layer_names = {layer.name for layer in model.layers}
    expanded = {int(m.group(1)) for n in layer_names
                for m in [re.fullmatch(r"block(\d+)_expand_conv", n)] if m}
    used, assignments = set(), []
    missing, mismatched, unassigned = [], [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        module = torch_module_name(layer.name, expanded)
        for variable in layer.weights:
            short = _variable_short_name(variable)
            keras_name = f"{layer.name}/{short}"
            if module is None or short not in _WEIGHT_RULES:
                unassigned.append(f"{keras_name} {tuple(variable.shape)}")
                continue
            suffix, to_keras, torch_shape = _WEIGHT_RULES[short]
            key = f"{module}.{suffix}"
            want = tuple(variable.shape)
            want_torch = torch_shape(want) if torch_shape else want
            if key not in tensors:
                missing.append(f"{key} {want_torch} (for Keras {keras_name})")
                continue
            used.add(key)
            array = tensors[key]
            if tuple(array.shape) != want_torch:
                mismatched.append(f"{original[key]}: shape {tuple(array.shape)}, Keras "
                                  f"{keras_name} {want} needs torch shape {want_torch}")
                continue
            assignments.append((variable, to_keras(array) if to_keras else array))
    unmapped = [f"{original[k]} {tuple(tensors[k].shape)}" for k in tensors if k not in used]
    # Name missing tensors the way this checkpoint spells them ("module.backbone." ...).
    prefix = original["first_conv.0.weight"][:-len("first_conv.0.weight")]
    missing = [prefix + line for line in missing]

    problems = [_listing(title, lines) for title, lines in (
        ("torch tensors with a wrong shape", mismatched),
        ("torch tensors missing from the checkpoint", missing),
        ("torch tensors with no Keras weight (unmapped)", unmapped),
        ("Keras weights left unassigned", unassigned)) if lines]
    if problems:
        raise ValueError(
            "the checkpoint does not match the MobileHumanPose it describes (topology="
            f"{cfg.topology}, concat={cfg.concat}, width_multiplier={cfg.width_multiplier}, "
            f"embedding={cfg.embedding_size}, joints x depth={cfg.num_joints}x"
            f"{cfg.depth_bins}):\n" + "\n".join(problems))

    tf.keras.backend.batch_set_value(
        [(v, a.astype(v.dtype.as_numpy_dtype)) for v, a in assignments])
    report = ConversionReport(
        config=cfg, tensors_mapped=len(used), tensors_ignored=ignored,
        keras_weights=len(assignments),
        trainable_params=sum(int(w.shape.num_elements()) for w in model.trainable_weights),
        preset=_matching_preset(cfg))
    return model, report


def load_torch_state_dict(state_dict: Mapping, num_joints: Optional[int] = None,
                          depth_bins: Optional[int] = None, topology: Optional[str] = None,
                          input_size: int = 256, head: str = "coords",
                          name: Optional[str] = None):
    """A Keras :class:`mhp_tf.MobileHumanPose` carrying a reference state dict's weights.

    Args:
      state_dict: name -> numpy array (torch tensors work too), as in the
        reference's ``snapshot['network']``; prefixes ``module.`` /
        ``backbone.`` are optional.
      num_joints, depth_bins, topology: see :func:`infer_config`; only needed
        where the shapes are ambiguous.
      input_size: side of the square input (any multiple of the encoder
        stride: 32 for ``paper``, 64 for ``compact``).
      head: ``'coords'`` (soft-argmax ``[B, J, 3]``) or ``'heatmap'`` (logits).
      name: Keras model name.

    Raises:
      ValueError: naming every unmapped tensor, missing tensor, unassigned Keras
        weight or shape mismatch.
    """
    model, _ = _convert(state_dict, name=name, num_joints=num_joints, depth_bins=depth_bins,
                        topology=topology, input_size=input_size, head=head)
    return model


def _experiment_config(cfg, preset: Optional[str]):
    from mhp_tf.training.config import DataConfig
    from mhp_tf.training.config import ExperimentConfig

    data = DataConfig(normalization="reference")
    if cfg.num_joints == 21:  # the reference's MuCo-3DHP joint set
        data = DataConfig(train="muco+coco", test="mupots", skeleton="muco",
                          normalization="reference")
    return ExperimentConfig(variant=preset or "imported", model=cfg, data=data)


def convert_checkpoint(checkpoint: str, out_dir: str, **kwargs):
    """Convert a reference ``.pth.tar`` into ``out_dir/model.keras`` (+ ``config.json``).

    ``kwargs`` go to :func:`load_torch_state_dict`. ``config.json`` is an
    :class:`mhp_tf.training.config.ExperimentConfig`, so ``python -m
    mhp_tf.evaluate --model_dir=out_dir`` works on the result. Returns
    ``(model, report, written paths)``.
    """
    state_dict, where = load_checkpoint(checkpoint)
    model, report = _convert(state_dict, **kwargs)
    os.makedirs(out_dir, exist_ok=True)
    model_path = os.path.join(out_dir, "model.keras")
    model.save(model_path)
    paths = [model_path]
    config_path = os.path.join(out_dir, "config.json")
    with open(config_path, "w") as f:
        json.dump(_experiment_config(report.config, report.preset).to_dict(), f, indent=2,
                  sort_keys=True)
        f.write("\n")
    paths.append(config_path)
    report.source = f"{checkpoint} ({where})"
    return model, report, paths


# ----------------------------------------------------------------------------- binary


def define_flags():
    flags.DEFINE_string("checkpoint", None, "Reference checkpoint (snapshot_N.pth.tar) or a "
                        "saved state dict.")
    flags.DEFINE_string("out", None, "Output folder for model.keras and config.json.")
    flags.DEFINE_integer("input_size", 256, "Input side of the Keras model.")
    flags.DEFINE_enum("head", "coords", ["coords", "heatmap"], "Output head.")
    flags.DEFINE_integer("num_joints", None, "Joints, if final_layer's J*D rows are ambiguous.")
    flags.DEFINE_integer("depth_bins", None, "Depth bins D (default: 64 paper, 32 compact).")
    flags.DEFINE_enum("topology", None, ["paper", "compact"], "Only needed for the residual "
                      "ablation, whose weights do not show it.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.checkpoint or not FLAGS.out:
        raise app.UsageError("--checkpoint and --out are required")
    try:
        model, report, paths = convert_checkpoint(
            FLAGS.checkpoint, FLAGS.out, num_joints=FLAGS.num_joints,
            depth_bins=FLAGS.depth_bins, topology=FLAGS.topology, input_size=FLAGS.input_size,
            head=FLAGS.head)
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"convert_torch: {e}", file=sys.stderr)
        return 1
    print(f"converted {report.source}")
    print(report.describe())
    print(f"output: {model.output_shape}")
    for path in paths:
        print(f"wrote {path}")


if __name__ == "__main__":
    define_flags()
    app.run(main)
