"""Helpers shared by the side-by-side training-step benchmarks in this folder.

Not a script: ``benchmark_head_order.py`` and ``benchmark_soft_argmax.py`` import it (run
them from the repository root, ``python scripts/<name>.py``; Python puts ``scripts/`` on
the path).
"""

import statistics
import time

from absl import flags
import numpy as np
import tensorflow as tf

from mhp_tf.training.losses import coord_l1_loss


def define_flags(steps: int) -> None:
    """The flags both benchmarks share (``steps``: the default calls per round)."""
    flags.DEFINE_list("variants", ["xs"], "Presets to benchmark.")
    flags.DEFINE_integer("input_size", 128, "Input size.")
    flags.DEFINE_integer("batch_size", 64, "Batch size of the training step.")
    flags.DEFINE_integer("rounds", 5, "Alternating timing rounds (median reported).",
                         lower_bound=1)
    flags.DEFINE_integer("steps", steps, "Calls per round.", lower_bound=1)
    flags.DEFINE_integer("num_joints", 18, "Number of joints.")


def random_batch(cfg, batch_size: int, seed: int = 0):
    """A random training batch for a model config: images in [-2, 2], targets on the grid."""
    rng = np.random.default_rng(seed)
    size, joints = cfg.input_size, cfg.num_joints
    return {
        "image": tf.constant(rng.uniform(-2, 2, (batch_size, size, size, 3)).astype(np.float32)),
        "coords": tf.constant(rng.uniform(0, cfg.heatmap_size, (batch_size, joints, 3))
                              .astype(np.float32)),
        "vis": tf.ones([batch_size, joints]),
        "have_depth": tf.ones([batch_size]),
    }


def l1_train_step(model, batch, predict=None):
    """A ``tf.function`` step: forward (``predict(images)``, default the model in training
    mode), L1 coordinate loss, backward and Adam on ``model``'s variables."""
    predict = predict or (lambda images: model(images, training=True))
    optimizer = tf.keras.optimizers.Adam(1e-4)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            pred = predict(batch["image"])
            loss = tf.reduce_mean(coord_l1_loss(pred, batch["coords"], batch["vis"],
                                                batch["have_depth"]))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step


def time_alternating(calls, rounds: int, steps: int):
    """``{key: images/s}`` for ``calls = {key: (fn, images per call)}``: two warm-up calls
    each, then the median over ``rounds`` rounds that call every ``fn`` ``steps`` times in
    turn, so that machine noise hits all of them alike."""
    for fn, _ in calls.values():
        for _ in range(2):
            fn().numpy()
    rates = {key: [] for key in calls}
    for _ in range(rounds):
        for key, (fn, batch) in calls.items():
            start = time.perf_counter()
            for _ in range(steps):
                fn().numpy()
            rates[key].append(steps * batch / (time.perf_counter() - start))
    return {key: statistics.median(v) for key, v in rates.items()}
