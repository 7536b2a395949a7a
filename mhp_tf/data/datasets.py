"""Dataset names -> prepared tfds builders -> tf.data pipelines (:func:`build_dataset`).

Names are ``"<dataset>"`` or ``"<dataset>/<config>"`` (``"human36m/protocol2"``);
joining names with ``+`` mixes them in equal shares for training, 50/50 for two
(``"human36m/protocol2+mpii"``, ``"muco+coco"``) as the paper's recipe does, or
one third each for ``"a+b+c"``; the shorter sets are cycled.

Prepared data lives under ``data_dir`` (default ``$MHP_TF_DATA_DIR`` or
``~/tensorflow_datasets``). Real datasets must be built once from the released
files with ``python -m mhp_tf.data.build``; the ``synthetic`` set is built
automatically on first use (the log says what is built where) -- but never into a
``data_dir`` that was chosen (argument or ``$MHP_TF_DATA_DIR``) and does not exist:
a mistyped ``--data_dir`` would otherwise be silently filled with thousands of
rendered images. Then :func:`prepared_builder` refuses, naming the folder and the
command that builds the set, unless ``build_missing`` (the train / evaluate
binaries' ``--build_missing``, or :data:`BUILD_MISSING`) opts in.
"""

import importlib
import inspect
import os
from typing import Optional, Sequence, Tuple

from absl import logging
import tensorflow as tf

from mhp_tf.data import pipeline

# dataset name -> module of its builder (the module's PoseBuilder subclass is used).
DATASETS = {
    "human36m": "mhp_tf_datasets.human36m",
    "mpii": "mhp_tf_datasets.mpii",
    "coco": "mhp_tf_datasets.coco",
    "muco": "mhp_tf_datasets.muco",
    "mupots": "mhp_tf_datasets.mupots",
    "synthetic": "mhp_tf_datasets.synthetic.builder",
}
AUTO_BUILD = ("synthetic",)
# Default of prepared_builder's build_missing: also build AUTO_BUILD sets into a chosen
# data_dir that does not exist yet (set by the binaries' --build_missing).
BUILD_MISSING = False


def default_data_dir() -> str:
    return os.path.expanduser(os.environ.get("MHP_TF_DATA_DIR", "~/tensorflow_datasets"))


def parse_name(name: str) -> Tuple[str, Optional[str]]:
    dataset, _, config = name.partition("/")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; available: {sorted(DATASETS)}")
    return dataset, (config or None)


def builder_class(dataset: str):
    from mhp_tf.data.builder import PoseBuilder  # imports tensorflow_datasets

    module = importlib.import_module(DATASETS[dataset])
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, PoseBuilder) and c is not PoseBuilder]
    if len(classes) != 1:
        raise RuntimeError(f"{DATASETS[dataset]} must define exactly one PoseBuilder, "
                           f"found {[c.__name__ for c in classes]}")
    return classes[0]


def get_builder(name: str, data_dir: Optional[str] = None):
    """The tfds builder for ``name`` (not necessarily prepared)."""
    dataset, config = parse_name(name)
    cls = builder_class(dataset)
    kwargs = {"data_dir": data_dir or default_data_dir()}
    if config:
        available = [c.name for c in (cls.BUILDER_CONFIGS or [])]
        if config not in available:
            raise ValueError(f"unknown config {config!r} of dataset {dataset!r}; "
                             f"available: {available}")
        kwargs["config"] = config
    return cls(**kwargs)


def is_prepared(builder) -> bool:
    return tf.io.gfile.exists(os.path.join(builder.data_dir, "dataset_info.json"))


def _chosen_data_dir(data_dir: Optional[str]) -> Optional[str]:
    """The data_dir the user chose (argument or $MHP_TF_DATA_DIR), None for the default."""
    chosen = data_dir or os.environ.get("MHP_TF_DATA_DIR")
    return os.path.expanduser(chosen) if chosen else None


def _what_is_built(builder) -> str:
    sizes = [f"{getattr(builder.builder_config, 'num_' + split)} {split}"
             for split in ("train", "test")
             if hasattr(builder.builder_config, "num_" + split)]
    return f" ({' + '.join(sizes)} images)" if sizes else ""


def prepared_builder(name: str, data_dir: Optional[str] = None,
                     build_missing: Optional[bool] = None):
    """A prepared builder; builds auto-buildable sets (module docstring), else a clear error.

    ``build_missing`` (default :data:`BUILD_MISSING`): also build into a chosen
    ``data_dir`` that does not exist; without it that case raises FileNotFoundError.
    """
    builder = get_builder(name, data_dir)
    if is_prepared(builder):
        return builder
    dataset, _ = parse_name(name)
    if dataset in AUTO_BUILD:
        chosen = _chosen_data_dir(data_dir)
        build_missing = BUILD_MISSING if build_missing is None else build_missing
        if chosen and not os.path.isdir(chosen) and not build_missing:
            raise FileNotFoundError(
                f"data_dir {chosen} does not exist, so dataset {name!r}{_what_is_built(builder)} "
                f"is not built there (a mistyped --data_dir?). If the folder is right, build "
                f"the set once with\n"
                f"  python -m mhp_tf.data.build --dataset={name} --data_dir={chosen}\n"
                f"or pass --build_missing to python -m mhp_tf.train / mhp_tf.evaluate to build "
                f"it on first use.")
        logging.warning("Building %s%s into %s (first use; later runs reuse it)...", name,
                        _what_is_built(builder), builder.data_dir)
        builder.download_and_prepare()
        return builder
    raise FileNotFoundError(
        f"dataset {name!r} is not prepared: expected {builder.data_dir}/dataset_info.json.\n"
        f"Build it once from the released files:\n"
        f"  python -m mhp_tf.data.build --dataset={name} --manual_dir=/path/to/{dataset} "
        f"--data_dir={data_dir or default_data_dir()}\n"
        f"What the manual_dir must contain:\n{type(builder).MANUAL_DOWNLOAD_INSTRUCTIONS}")


def _checked_split(builder, name: str, split: str):
    if split not in builder.info.splits:
        raise ValueError(f"dataset {name!r} has no split {split!r}; "
                         f"available: {list(builder.info.splits)}")
    return builder.info.splits[split]


def split_size(name: str, split: str, data_dir: Optional[str] = None) -> int:
    """Number of examples in split ``split`` of prepared dataset ``name``."""
    return _checked_split(prepared_builder(name, data_dir), name, split).num_examples


def load_split(name: str, split: str, data_dir: Optional[str] = None, shuffle: bool = False,
               seed: int = 0) -> Tuple[tf.data.Dataset, str, int]:
    """Raw schema examples (JPEG bytes undecoded), the source skeleton and the example count."""
    import tensorflow_datasets as tfds

    builder = prepared_builder(name, data_dir)
    num_examples = _checked_split(builder, name, split).num_examples
    ds = builder.as_dataset(
        split=split, shuffle_files=shuffle,
        decoders={"image": tfds.decode.SkipDecoding()},
        read_config=tfds.ReadConfig(shuffle_seed=seed, try_autocache=False))
    return ds, builder.SKELETON, num_examples


def build_dataset(name: str, split: str, data_dir: Optional[str] = None, training: bool = False,
                  batch_size: Optional[int] = None,
                  config: Optional[pipeline.PipelineConfig] = None, seed: int = 0,
                  shuffle_buffer: int = 2048, repeat: Optional[bool] = None,
                  training_keys_only: Optional[bool] = None,
                  start_example: int = 0,
                  keys: Optional[Sequence[str]] = None) -> tf.data.Dataset:
    """The input pipeline for one dataset, or an equal mix of several (``"a+b"``: 50/50).

    Args:
      name: dataset name(s), see module docstring.
      split: ``'train'`` or ``'test'``.
      data_dir: where prepared datasets live.
      training: shuffle, augment and repeat; otherwise deterministic, one pass.
      batch_size: batch (drop remainder when training); ``None`` = unbatched.
      config: :class:`pipeline.PipelineConfig` (input/heatmap size, skeleton...).
      seed: seeds file shuffling, the shuffle buffer and augmentation.
      repeat: repeat forever (default: ``training``).
      training_keys_only: keep only ``image, coords, vis, have_depth`` (default:
        ``training``); evaluation keeps box, affine and 3D metadata too.
      start_example: fast-forward: the dataset starts where one that had already
        produced this many (mixed) examples would continue, exactly, for a fixed
        seed. Skips raw records before decoding, so it is cheap (used to resume
        multi-device training, whose iterators cannot be checkpointed).
      keys: keep exactly these example keys (overrides ``training_keys_only``; e.g.
        MoVNect training adds ``joints_cam`` for its location maps).

    Returns:
      A dataset of dicts (see :func:`pipeline.preprocess_example`).
    """
    cfg = config or pipeline.PipelineConfig()
    repeat = training if repeat is None else repeat
    keys_only = training if training_keys_only is None else training_keys_only
    if keys is not None:
        unknown = sorted(set(keys) - set(pipeline.EXAMPLE_KEYS))
        if unknown:
            raise ValueError(f"unknown example key(s) {unknown}; available: "
                             f"{list(pipeline.EXAMPLE_KEYS)}")
    keep = tuple(keys) if keys is not None else (pipeline.TRAINING_KEYS if keys_only else None)
    parts = name.split("+")
    if not all(parts):
        raise ValueError(f"empty dataset name in {name!r} (mix datasets as 'a+b')")

    streams = []
    for i, part in enumerate(parts):
        ds, skeleton, count = load_split(part, split, data_dir, shuffle=training, seed=seed + i)
        logging.info("%s/%s: %d examples (%s skeleton)", part, split, count, skeleton)
        if training:
            ds = ds.shuffle(shuffle_buffer, seed=seed + i, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        # Element share of stream i among the first start_example ones, taken in turn.
        skip = (start_example + len(parts) - 1 - i) // len(parts)
        if skip:
            ds = ds.skip(skip)
        ds = pipeline.map_examples(ds, cfg, training, skeleton, seed=seed * 1000 + i, start=skip)
        streams.append(ds)
    ds = streams[0] if len(streams) == 1 else pipeline.mix_datasets(*streams, first=start_example)
    if keep:
        ds = ds.map(lambda ex: {k: ex[k] for k in keep},
                    num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size:
        ds = ds.batch(batch_size, drop_remainder=training)
    return ds.prefetch(tf.data.AUTOTUNE)
