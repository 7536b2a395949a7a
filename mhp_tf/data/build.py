r"""Build (prepare) a dataset once from its released files.

    python -m mhp_tf.data.build --dataset=human36m/protocol2 --manual_dir=/data/h36m
    python -m mhp_tf.data.build --dataset=mpii --manual_dir=/data/mpii --data_dir=/fast/tfds
    python -m mhp_tf.data.build --dataset=synthetic          # needs no files

The prepared TFRecords land under ``--data_dir`` (default ``$MHP_TF_DATA_DIR``
or ``~/tensorflow_datasets``). Skipped annotations are counted in the log.
"""

import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402

from mhp_tf.data import datasets  # noqa: E402

FLAGS = flags.FLAGS


def _define_flags():
    flags.DEFINE_string("dataset", None, f"Dataset name[/config]; one of {sorted(datasets.DATASETS)}.")
    flags.DEFINE_string("manual_dir", None, "Folder with the released files (real datasets).")
    flags.DEFINE_string("data_dir", None, "Where prepared datasets are written.")


def build(name: str, manual_dir=None, data_dir=None):
    """Prepare dataset ``name``; returns the builder."""
    import tensorflow_datasets as tfds

    builder = datasets.get_builder(name, data_dir)
    dataset, _ = datasets.parse_name(name)
    if manual_dir is None and dataset not in datasets.AUTO_BUILD:
        raise ValueError(f"--manual_dir is required for {dataset!r}.\n"
                         f"{type(builder).MANUAL_DOWNLOAD_INSTRUCTIONS}")
    download_config = tfds.download.DownloadConfig(
        manual_dir=os.path.expanduser(manual_dir) if manual_dir else None)
    builder.download_and_prepare(download_config=download_config)
    return builder


def main(argv):
    del argv
    if not FLAGS.dataset:
        raise app.UsageError("--dataset is required")
    start = time.time()
    builder = build(FLAGS.dataset, FLAGS.manual_dir, FLAGS.data_dir)
    print(f"{FLAGS.dataset}: ready in {time.time() - start:.0f} s")
    for split, info in builder.info.splits.items():
        logging.info("%s: %d examples", split, info.num_examples)
        print(f"{FLAGS.dataset} {split}: {info.num_examples} examples -> {builder.data_dir}")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
