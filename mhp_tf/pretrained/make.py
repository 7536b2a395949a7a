r"""``python -m mhp_tf.pretrained.make``: turn a training run into a preset folder.

    python -m mhp_tf.pretrained.make --run=runs/xs_realistic --name=xs_synthetic \
        --description="XS, 256 px, trained on open synthetic people" \
        --training_data="synthetic/realistic|CC0 bodies, see BUILD.md|mhp_tf_datasets" \
        --metrics_json=runs/xs_realistic/benchmark.json

copies the run's ``model.keras`` and ``config.json`` into ``--out/NAME/`` (default: the
package's own ``mhp_tf/pretrained/``, so the preset ships with the next install) and writes
``preset.json``: the variant, input size, joint set, normalisation and parameter count read
from the model and its config, the training data and their licences, the training budget
(``--training_json``: steps, images seen, hours, hardware), the measured metrics and the
files' sha256. Commit a preset only when a benchmark says it is better than the last.
"""

import json
import os
import shutil

from absl import app
from absl import flags

from mhp_tf import pretrained

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("run", None, "Training run folder (model.keras + config.json).")
    flags.DEFINE_string("name", None, "Preset name (letters, digits, underscores).")
    flags.DEFINE_string("description", None, "One sentence: what the model is for.")
    flags.DEFINE_multi_string("training_data", [], "NAME|LICENCE|SOURCE, once per data set.")
    flags.DEFINE_string("metrics_json", None, "JSON object of measured metrics to record.")
    flags.DEFINE_string("training_json", None, "JSON object: steps, images_seen, hours, ...")
    flags.DEFINE_string("licence", "MIT (code and weights)", "Licence of the weights.")
    flags.DEFINE_string("out", pretrained.PACKAGE_DIR, "Folder to write NAME/ into.")
    flags.DEFINE_bool("overwrite", False, "Replace an existing preset folder.")


def _read_json(path, what):
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{what} {path}: expected a JSON object")
    return data


def make_preset(run: str, name: str, description: str, training_data, metrics: dict,
                training: dict, out: str = pretrained.PACKAGE_DIR,
                licence: str = "MIT (code and weights)", overwrite: bool = False) -> str:
    """Write the preset folder ``out/name`` from a run folder; returns the folder."""
    import tensorflow as tf

    import mhp_tf.modeling  # noqa: F401  (registers the custom layers)
    from mhp_tf.training.config import ExperimentConfig

    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"preset name must be letters, digits and underscores, got {name!r}")
    if not description:
        raise ValueError("a preset needs a description")
    if not training_data:
        raise ValueError("a preset needs its training data and their licences "
                         "(--training_data=NAME|LICENCE|SOURCE)")
    model_src = os.path.join(run, pretrained.MODEL_FILE)
    config_src = os.path.join(run, pretrained.CONFIG_FILE)
    for path in (model_src, config_src):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} does not exist (--run must be a training run "
                                    "folder)")
    cfg = ExperimentConfig.load(run)
    model = tf.keras.models.load_model(model_src, compile=False)
    folder = os.path.join(out, name)
    if os.path.exists(folder):
        if not overwrite:
            raise FileExistsError(f"{folder} exists (pass --overwrite to replace it)")
        shutil.rmtree(folder)
    tmp = folder + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for src in (model_src, config_src):
        shutil.copyfile(src, os.path.join(tmp, os.path.basename(src)))
    data = []
    for item in training_data:
        parts = [p.strip() for p in item.split("|")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"--training_data wants NAME|LICENCE|SOURCE, got {item!r}")
        data.append(dict(zip(("name", "licence", "source"), parts)))
    meta = {
        "schema_version": pretrained.SCHEMA_VERSION,
        "name": name,
        "description": description,
        "variant": cfg.variant,
        "input_size": int(model.input_shape[1]),
        "num_joints": int(cfg.model.num_joints),
        "skeleton": cfg.data.skeleton,
        "normalization": cfg.data.normalization,
        "parameters": int(model.count_params()),
        "licence": licence,
        "training_data": data,
        "training": training,
        "metrics": metrics,
        "sha256": {f: pretrained.sha256_of(os.path.join(tmp, f))
                   for f in (pretrained.MODEL_FILE, pretrained.CONFIG_FILE)},
    }
    with open(os.path.join(tmp, pretrained.PRESET_FILE), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    os.replace(tmp, folder)  # the folder appears complete or not at all
    pretrained.read_meta(folder)
    return folder


def main(argv):
    del argv
    if not (FLAGS.run and FLAGS.name):
        raise app.UsageError("--run and --name are required")
    folder = make_preset(FLAGS.run, FLAGS.name, FLAGS.description, FLAGS.training_data,
                         _read_json(FLAGS.metrics_json, "--metrics_json"),
                         _read_json(FLAGS.training_json, "--training_json"), FLAGS.out,
                         FLAGS.licence, FLAGS.overwrite)
    print(folder)
    print(pretrained.describe(pretrained.Preset(FLAGS.name, folder,
                                                pretrained.read_meta(folder))))


if __name__ == "__main__":
    define_flags()
    app.run(main)
