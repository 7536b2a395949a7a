r"""Size of a training checkpoint with and without the tf.data iterator state.

Until the input pipeline was made a fast-forwardable function of (seed, step),
single-device checkpoints also held the tf.data iterator: its shuffle buffer of
raw JPEG records and its prefetched, decoded batches. This builds the model,
optimizer and input iterator of a config exactly as the trainer does, takes one
training step, saves both kinds of checkpoint and prints their sizes; then runs
the trainer itself for one step and prints the size of the checkpoint it wrote,
and how fast a resume's fast-forward skips examples (what replaced the iterator
state: reading raw records, nothing decoded).
Takes the training flags (``python -m mhp_tf.train --helpfull``)::

    python scripts/checkpoint_size.py --fake_data --variant=xs --batch_size=64 \
        --set=model.input_size=128

``--fake_data`` trains on the tests' small fake human36m+mpii sets (96 px
JPEGs, prepared in a temporary folder), so no dataset needs to be built.
"""

import os
import sys
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = flags.FLAGS
flags.DEFINE_bool("fake_data", False, "Use the tests' fake human36m+mpii datasets.")
flags.DEFINE_integer("skip_examples", 50000, "Also time a resume's fast-forward over this "
                     "many examples (0: don't).")


def _size(prefix: str) -> int:
    folder, name = os.path.split(prefix)
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)
               if f.startswith(name + "."))


def main(argv):
    del argv
    import tensorflow as tf

    from mhp_tf import train as train_cli
    from mhp_tf.data import datasets
    from mhp_tf.training import optimizers
    from mhp_tf.training import trainer

    work = tempfile.mkdtemp(prefix="ckpt_size_")
    if FLAGS.fake_data:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        import fakedata

        FLAGS.data_dir = fakedata.prepare(os.path.join(work, "tfds"))
        FLAGS.train_dataset = FLAGS.test_dataset = None
        FLAGS.set = list(FLAGS.set) + ["data.train=human36m+mpii", "data.test=human36m"]
    cfg = train_cli.config_from_flags()
    t = cfg.train
    model = trainer.build_model(cfg)
    optimizer = optimizers.make_optimizer(t.optimizer, t.learning_rate)
    dataset = datasets.build_dataset(cfg.data.train, "train", cfg.data.data_dir, training=True,
                                     batch_size=t.batch_size, config=cfg.pipeline_config(),
                                     seed=t.seed, shuffle_buffer=cfg.data.shuffle_buffer)
    iterator = iter(dataset)
    batch = next(iterator)
    with tf.GradientTape() as tape:
        pred = model(batch["image"], training=True)
        loss = tf.reduce_mean(trainer.coord_l1_loss(pred, batch["coords"], batch["vis"],
                                                    batch["have_depth"]))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                  model.trainable_variables))
    sizes = {}
    for name, extra in (("model + optimizer + tf.data iterator (before)", {"iterator": iterator}),
                        ("model + optimizer (now)", {})):
        prefix = tf.train.Checkpoint(model=model, optimizer=optimizer, **extra).save(
            os.path.join(work, "manual", name.split(" (")[0].replace(" ", "")))
        sizes[name] = _size(prefix)
    run_dir = os.path.join(work, "run")
    trainer.train(cfg, run_dir, max_steps=1, progress=False)
    prefix = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    sizes["trainer's checkpoint after 1 step"] = _size(prefix)

    if FLAGS.skip_examples:
        seconds = []
        for start in (0, FLAGS.skip_examples):
            begin = time.time()
            next(iter(datasets.build_dataset(
                cfg.data.train, "train", cfg.data.data_dir, training=True,
                batch_size=t.batch_size, config=cfg.pipeline_config(), seed=t.seed,
                shuffle_buffer=cfg.data.shuffle_buffer, start_example=start)))
            seconds.append(time.time() - begin)
        skip_rate = FLAGS.skip_examples / max(seconds[1] - seconds[0], 1e-9)

    print(f"{cfg.variant.upper()} {cfg.model.input_size} px, batch {t.batch_size}, shuffle buffer "
          f"{cfg.data.shuffle_buffer}, data {cfg.data.train}"
          f"{' (fake)' if FLAGS.fake_data else ''}; {model.count_params():,} parameters")
    for name, size in sizes.items():
        print(f"{name:48s} {size / 2 ** 20:8.2f} MiB")
    if FLAGS.skip_examples:
        print(f"resume fast-forward: first batch after skipping {FLAGS.skip_examples} examples "
              f"{seconds[1]:.1f} s (from the start: {seconds[0]:.1f} s), "
              f"{skip_rate:,.0f} skipped examples/s")


if __name__ == "__main__":
    from mhp_tf import train as train_cli

    train_cli.define_flags()
    app.run(main)
