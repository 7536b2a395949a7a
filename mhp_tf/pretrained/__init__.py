"""Pretrained models shipped with mhp_tf, loadable by name ("presets").

A preset is a folder holding a trained network and what is needed to use and trust it::

    <name>/
      model.keras    the tf_keras model (MobileHumanPose or MoVNect), loaded with compile=False
      config.json    its training run's ExperimentConfig (input normalisation, skeleton, ...)
      preset.json    metadata: description, variant, input size, parameters, training data
                     and their licences, training budget, measured metrics, file checksums

It is a run folder plus ``preset.json``, so everything that takes a run folder takes a preset
name too: ``mhp_tf.PoseEstimator("NAME")``, ``python -m mhp_tf.demo --model=NAME``,
``python -m mhp_tf.export --model_dir=NAME``, ``python -m mhp_tf.train --init_weights=NAME``
(fine-tuning), and :func:`load_model` / ``mhp_tf.from_preset(NAME)`` give the Keras model.

Where presets are found, first match wins:

1. the folders listed in the environment variable ``MHP_TF_PRESETS_PATH`` (``os.pathsep``
   separated; each holds preset folders) -- your own presets, or a newer copy;
2. the presets installed with the package (``mhp_tf/pretrained/<name>/``, package data).

A name is only looked up when no file or folder of that name exists, so a local run folder
called like a preset is never shadowed. ``python -m mhp_tf.pretrained`` lists what is found;
``python -m mhp_tf.pretrained.make`` turns a training run into a preset folder.

This module reads JSON and files only; TensorFlow is imported by :func:`load_model`.
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional, Tuple

from mhp_tf.fileio import sha256_of  # noqa: F401  (part of this module's API)

PRESET_FILE = "preset.json"
MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
ENV_PATH = "MHP_TF_PRESETS_PATH"
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
SCHEMA_VERSION = 1

REQUIRED_FIELDS = ("name", "description", "variant", "input_size", "num_joints", "skeleton",
                   "normalization", "parameters", "training_data", "metrics", "sha256")


@dataclasses.dataclass(frozen=True)
class Preset:
    """One preset: its folder and its parsed ``preset.json`` (see the module docstring)."""

    name: str
    folder: str
    meta: dict

    @property
    def model_path(self) -> str:
        return os.path.join(self.folder, MODEL_FILE)

    @property
    def description(self) -> str:
        return self.meta["description"]

    def verify(self) -> None:
        """Check every listed file exists and has its recorded sha256 (ValueError if not)."""
        for fname, digest in self.meta["sha256"].items():
            path = os.path.join(self.folder, fname)
            if not os.path.isfile(path):
                raise ValueError(f"preset {self.name!r}: {path} is missing (a broken install? "
                                 "reinstall mhp_tf)")
            got = sha256_of(path)
            if got != digest:
                raise ValueError(f"preset {self.name!r}: {path} has sha256 {got}, preset.json "
                                 f"records {digest} (a damaged or edited file)")


def search_path() -> List[str]:
    """Folders searched for presets, in order (``MHP_TF_PRESETS_PATH`` first)."""
    extra = [p for p in os.environ.get(ENV_PATH, "").split(os.pathsep) if p]
    return [os.path.abspath(os.path.expanduser(p)) for p in extra] + [PACKAGE_DIR]


def read_meta(folder: str) -> dict:
    """The validated ``preset.json`` of a preset folder (ValueError naming the problem)."""
    path = os.path.join(folder, PRESET_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a JSON object")
    missing = [k for k in REQUIRED_FIELDS if k not in meta]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    if meta["name"] != os.path.basename(os.path.normpath(folder)):
        raise ValueError(f"{path} names the preset {meta['name']!r} but sits in folder "
                         f"{os.path.basename(os.path.normpath(folder))!r}")
    if MODEL_FILE not in meta["sha256"]:
        raise ValueError(f"{path}: sha256 must list {MODEL_FILE}")
    return meta


def _scan() -> Dict[str, Preset]:
    found: Dict[str, Preset] = {}
    for root in search_path():
        if not os.path.isdir(root):
            continue
        for name in sorted(os.listdir(root)):
            folder = os.path.join(root, name)
            if name in found or not os.path.isfile(os.path.join(folder, PRESET_FILE)):
                continue
            found[name] = Preset(name, folder, read_meta(folder))
    return found


def list_presets() -> List[str]:
    """Names of every preset found (see the module docstring for where)."""
    return sorted(_scan())


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ValueError listing the available ones if none is."""
    presets = _scan()
    if name not in presets:
        have = ", ".join(sorted(presets)) or "none installed"
        raise ValueError(f"no preset named {name!r} (available: {have}; more can be added "
                         f"through {ENV_PATH})")
    return presets[name]


def resolve(spec: str) -> Tuple[str, Optional[Preset]]:
    """``(path, preset)`` for a model argument: an existing path is returned as it is
    (preset None); otherwise a preset name gives its folder. Anything else is returned
    unchanged, so the caller's own "does not exist" error still applies."""
    spec = str(spec)
    if os.path.exists(os.path.expanduser(spec)):
        return spec, None
    if os.sep in spec or (os.altsep and os.altsep in spec) or spec.endswith(
            (".keras", ".h5", ".tflite")):
        return spec, None
    presets = _scan()
    if spec in presets:
        return presets[spec].folder, presets[spec]
    return spec, None


def load_model(name: str, verify: bool = True):
    """The preset's Keras model (uncompiled, trainable) for inference or fine-tuning,
    like keras-hub's ``from_preset``. ``verify`` checks the files' sha256 first."""
    preset = get_preset(name)
    if verify:
        preset.verify()
    import tensorflow as tf

    import mhp_tf.modeling  # noqa: F401  (registers the custom layers)

    return tf.keras.models.load_model(preset.model_path, compile=False)


def describe(preset: Preset) -> str:
    """A few readable lines: what the model is, what it was trained on, what it measures."""
    m = preset.meta
    lines = [f"{preset.name}: {m['description']}",
             f"  variant {m['variant']}, input {m['input_size']} px, {m['num_joints']} joints "
             f"({m['skeleton']}), {m['parameters']:,} parameters, normalization "
             f"{m['normalization']!r}",
             f"  folder {preset.folder}"]
    for item in m["training_data"]:
        lines.append(f"  trained on {item.get('name')} ({item.get('licence', '?')}; "
                     f"{item.get('source', '?')})")
    training = m.get("training") or {}
    if isinstance(training, dict) and training.get("images_seen"):
        hours = training.get("hours")
        lines.append(f"  training: {training['images_seen']:,} images seen"
                     + (f", {hours} h" if hours is not None else "")
                     + (f" on {training['hardware']}" if training.get("hardware") else ""))
    if m["metrics"]:
        lines.append("  metrics:")
        lines += _nested_lines(m["metrics"], "    ")
    return "\n".join(lines)


def _nested_lines(value, indent: str) -> List[str]:
    """Metrics as indented ``key: value`` lines; a dict of plain numbers stays on one line."""
    out = []
    for key, item in value.items():
        if isinstance(item, dict) and any(isinstance(v, dict) or " " in str(k)
                                          for k, v in item.items()):
            out.append(f"{indent}{key}:")
            out += _nested_lines(item, indent + "  ")
        elif isinstance(item, dict):
            out.append(f"{indent}{key}: " + ", ".join(f"{k} {v}" for k, v in item.items()))
        else:
            out.append(f"{indent}{key}: {item}")
    return out


# keras-hub's spelling: ``mhp_tf.from_preset("NAME")``.
from_preset = load_model
