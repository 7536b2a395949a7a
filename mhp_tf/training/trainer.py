"""The training loop: distributed, mixed-precision capable, resumable, never loses work.

``train(cfg, model_dir)`` builds the model under the chosen
``tf.distribute`` strategy, restores the newest intact checkpoint in
``model_dir/checkpoints`` if there is one (model and optimizer with its step
counter; the input pipeline is fast-forwarded to that step, so a resumed run
sees exactly the batches an uninterrupted one would), and trains until
``epochs * steps_per_epoch`` steps:

* checkpoints every ``checkpoint_every`` steps and at the end;
* a non-finite loss stops training with :class:`TrainingDiverged` before
  anything is saved, so the last good checkpoint stays intact;
* TensorBoard logs in ``model_dir/train`` (loss, learning rate, images with
  predicted and true skeletons) and ``model_dir/eval`` (validation metrics);
* a progress bar with ETA per epoch and a final summary line;
* the final model is saved to ``model_dir/model.keras``;
* faults (a second run on the folder, a changed config, a corrupt checkpoint,
  SIGINT/SIGTERM) are handled by :mod:`mhp_tf.training.run_guard`.
"""

import json
import math
import os
import shutil
import signal
import time
from typing import Dict, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from mhp_tf import pretrained
from mhp_tf import skeletons
from mhp_tf import visualize
from mhp_tf.data import datasets
from mhp_tf.data import pipeline
from mhp_tf.modeling import MobileHumanPose
from mhp_tf.modeling import heatmap_marginals
from mhp_tf.modeling import movnect as movnect_lib
from mhp_tf.modeling.weights import copy_weights_by_name
from mhp_tf.training import optimizers
from mhp_tf.training import run_guard
from mhp_tf.training.config import ExperimentConfig
from mhp_tf.training.losses import coord_l1_loss
from mhp_tf.training.losses import distillation_loss
from mhp_tf.training.losses import marginal_js_loss

# What a MoVNect step needs besides the usual keys: 3D joints for the location maps.
MOVNECT_KEYS = ("image", "coords", "vis", "have_depth", "joints_cam")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf."""


def make_strategy(name: str = "default", tpu: Optional[str] = None) -> tf.distribute.Strategy:
    """``default`` / ``mirrored`` (all local GPUs, or CPU devices) / ``multi_worker``
    (reads ``TF_CONFIG``) / ``tpu``."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("strategy 'multi_worker' needs the TF_CONFIG environment variable "
                             "describing the cluster and this worker's task")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {name!r}")


def epoch_examples(name: str, data_dir: Optional[str]) -> int:
    """Examples per epoch: one dataset's size, or N times the largest for an equal mix of
    N (the reference's ``MultipleDatasets(make_same_len=True)``: 2x for its 50/50 mixes)."""
    counts = [datasets.split_size(part, "train", data_dir) for part in name.split("+")]
    return len(counts) * max(counts)


class LinearWarmup(tf.keras.optimizers.schedules.LearningRateSchedule):
    """``schedule`` scaled by ``min(1, (step + 1) / warmup_steps)``."""

    def __init__(self, schedule, warmup_steps: int):
        self.schedule = schedule
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        ramp = tf.minimum(1.0, (tf.cast(step, tf.float32) + 1.0) / float(self.warmup_steps))
        return self.schedule(step) * ramp

    def get_config(self):
        return {"schedule": tf.keras.optimizers.schedules.serialize(self.schedule),
                "warmup_steps": self.warmup_steps}


def learning_rate_schedule(cfg: ExperimentConfig, steps_per_epoch: int):
    """``train.lr_schedule``: "step" (the paper's piecewise-constant decay at
    ``lr_decay_epochs``) or "cosine" (to 0 at the end of ``epochs``), after
    ``warmup_steps`` of linear warm-up."""
    t = cfg.train
    if t.lr_schedule == "cosine":
        total = max(1, t.epochs * steps_per_epoch)
        warmup = min(t.warmup_steps, total - 1)
        if warmup:
            return tf.keras.optimizers.schedules.CosineDecay(
                0.0, total - warmup, warmup_target=t.learning_rate, warmup_steps=warmup)
        return tf.keras.optimizers.schedules.CosineDecay(t.learning_rate, total)
    boundaries = [int(e * steps_per_epoch) for e in t.lr_decay_epochs]
    values = [t.learning_rate / t.lr_decay_factor ** i for i in range(len(boundaries) + 1)]
    if not boundaries:
        schedule = tf.keras.optimizers.schedules.PiecewiseConstantDecay([10 ** 12], values * 2)
    else:
        schedule = tf.keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    return LinearWarmup(schedule, t.warmup_steps) if t.warmup_steps else schedule


def build_model(cfg: ExperimentConfig) -> tf.keras.Model:
    """The (randomly initialised) network of an experiment: MobileHumanPose or MoVNect."""
    if cfg.is_movnect:
        return movnect_lib.MoVNect(name=f"movnect_{cfg.model.variant.lower()}",
                                   **cfg.model.to_dict())
    return MobileHumanPose(name=f"mobilehumanpose_{cfg.variant}", **cfg.model.to_dict())


def load_base_weights(model: tf.keras.Model, source: str) -> int:
    """Copy ImageNet MobileNetV2 weights into a MoVNect base (``train.base_weights``)."""
    mc = model.movnect_config
    if source != "imagenet" and not os.path.exists(source):
        raise FileNotFoundError(f"train.base_weights: no such file {source!r} (give 'imagenet' "
                                f"or a keras.applications MobileNetV2 weights file)")
    try:
        base = tf.keras.applications.MobileNetV2(
            input_shape=(mc.input_size, mc.input_size, 3), alpha=mc.alpha, include_top=False,
            weights=source)
    except Exception as e:  # download refused offline, wrong file, ...
        raise RuntimeError(f"could not load MobileNetV2 weights {source!r} (alpha "
                           f"{mc.alpha}): {e}. Offline, download the Keras weights file once "
                           f"elsewhere and pass its path as train.base_weights.") from e
    copied = movnect_lib.copy_mobilenet_v2_weights(model, base)
    logging.info("Copied %d MobileNetV2 layers from %s", copied, source)
    return copied


def _model_file(source: str, missing: str) -> str:
    """The ``.keras`` file of ``source`` (that file, a run folder's ``model.keras``, or a
    preset's); FileNotFoundError starting with ``missing`` if there is none."""
    source = pretrained.resolve(source)[0]
    path = os.path.join(source, "model.keras") if os.path.isdir(source) else source
    if not os.path.exists(path):
        raise FileNotFoundError(f"{missing}: {path} (give a .keras file, a training run "
                                f"folder holding model.keras or a preset name)")
    return path


def load_init_weights(model: tf.keras.Model, source: str) -> str:
    """Copy a trained model's weights into ``model`` (``train.init_weights``).

    ``source``: a ``.keras`` file or a run folder holding ``model.keras``. Every layer
    with weights is copied by name, BatchNorm statistics included; the input size may
    differ (no weight depends on it), the weight shapes may not. Returns the file used.
    """
    path = _model_file(source, "train.init_weights: no such model")
    trained = tf.keras.models.load_model(path, compile=False)
    copy_weights_by_name(trained, model, f"initialising from {path} "
                                f"(train.init_weights: the same network is needed)")
    return path


def movnect_step_loss(cfg: ExperimentConfig, batch, pred, teacher_out=None):
    """MoVNect's loss (paper eqs. 1-2) for one batch, as the batch mean.

    Targets come from the batch: Gaussian heatmaps at the joints' 2D positions and location
    maps holding the root-relative joints (decimetres). Heatmap terms are weighted by
    visibility, location terms by visibility x have_depth (2D-only samples train heatmaps
    only). With a teacher, ``train.distill_alpha`` is the teacher's share, i.e. the paper's
    ``alpha`` (the ground truth's share) is ``1 - distill_alpha``; both 0.5 by default.
    """
    m = cfg.model
    root = skeletons.get_skeleton(cfg.data.skeleton).root
    joints = tf.cast(batch["joints_cam"], tf.float32)
    joints_rel = joints - joints[:, root:root + 1]
    vis = tf.cast(batch["vis"], tf.float32)
    have_depth = tf.cast(batch["have_depth"], tf.float32)
    targets = movnect_lib.movnect_targets(batch["coords"][..., :2], joints_rel, vis,
                                          m.heatmap_size, sigma=cfg.train.heatmap_sigma)
    losses = movnect_lib.movnect_loss(
        targets, pred, teacher=teacher_out, alpha=1.0 - cfg.train.distill_alpha,
        heatmap_weights=vis, location_weights=vis * have_depth[:, None],
        location_weight=cfg.train.location_loss_weight)
    return losses["loss"]


def predicted_coords_2d(model, images):
    """``[B, J, 2]`` predicted 2D joints in output-grid units, for either family."""
    out = model(images, training=False)
    if movnect_lib.is_movnect_model(model):
        return movnect_lib.movnect_readout(out)["coords_2d"]
    return out[..., :2]


def load_teacher(path: str, cfg: ExperimentConfig):
    """A frozen teacher model and the ``[3]`` scale from its heatmap units to the student's.

    ``path``: a ``.keras`` file or a run folder (its ``model.keras``; its ``config.json``
    is checked against the student's normalisation and joint set). The teacher must
    take the student's input size and predict the same joints; its heatmap/depth
    resolution may differ (an L teacher for an XS student).
    """
    run_dir = path if os.path.isdir(path) else None
    model_path = _model_file(path, "teacher model not found")
    if run_dir and os.path.exists(os.path.join(run_dir, "config.json")):
        tcfg = ExperimentConfig.load(run_dir)
        for field in ("normalization", "skeleton"):
            mine, theirs = getattr(cfg.data, field), getattr(tcfg.data, field)
            if mine != theirs:
                raise ValueError(f"teacher {path} was trained with data.{field}={theirs!r}, "
                                 f"the student uses {mine!r}")
    teacher = tf.keras.models.load_model(model_path, compile=False)
    teacher.trainable = False
    if cfg.is_movnect:
        tc = getattr(teacher, "movnect_config", None)
        if tc is None:
            raise ValueError(f"teacher {model_path} is not a MoVNect model (a MoVNect student "
                             f"learns from a MoVNect-format teacher: heatmaps + location maps)")
        if (tc.input_size, tc.num_joints) != (cfg.model.input_size, cfg.model.num_joints):
            raise ValueError(f"teacher input_size/num_joints {tc.input_size}/{tc.num_joints} "
                             f"!= student {cfg.model.input_size}/{cfg.model.num_joints}")
        return teacher, None
    tc = getattr(teacher, "mhp_config", None)
    if tc is None:
        raise ValueError(f"teacher {model_path} is not a MobileHumanPose model")
    sc = cfg.model
    if tc.input_size != sc.input_size:
        raise ValueError(f"teacher input_size {tc.input_size} != student input_size "
                         f"{sc.input_size}")
    if tc.num_joints != sc.num_joints or tc.head != "coords":
        raise ValueError(f"teacher predicts {tc.num_joints} joints with head={tc.head!r}; the "
                         f"student needs {sc.num_joints} joints and head='coords'")
    scale = tf.constant([sc.heatmap_size / tc.heatmap_size, sc.heatmap_size / tc.heatmap_size,
                         sc.depth_bins / tc.depth_bins], tf.float32)
    return teacher, scale


def _skeleton_images(batch, pred, cfg: pipeline.PipelineConfig, n: int = 4):
    """Patches with true (left) and predicted (right) skeletons, for TensorBoard.

    ``pred``: ``[B, J, >=2]`` predicted joints, output-grid units."""
    out = []
    scale = cfg.input_size / cfg.heatmap_size
    images = pipeline.denormalize(batch["image"][:n], cfg.normalization).numpy()
    for img, coords, p, vis in zip(images, batch["coords"][:n].numpy(), pred[:n], batch["vis"][:n]):
        true = visualize.draw_skeleton_2d(img, coords[:, :2] * scale, cfg.skeleton, vis)
        guess = visualize.draw_skeleton_2d(img, p[:, :2] * scale, cfg.skeleton)
        out.append(np.concatenate([true, guess], axis=1))
    return np.stack(out).astype(np.uint8)


def train(cfg: ExperimentConfig, model_dir: str, strategy: Optional[tf.distribute.Strategy] = None,
          evaluate_fn=None, max_steps: Optional[int] = None, progress: bool = True) -> Dict:
    """Train (or resume) an experiment in ``model_dir``; returns a summary dict.

    Holds the run folder's lock while it runs (:class:`run_guard.RunLock`), refuses a
    config that would change a run it resumes (:class:`run_guard.ConfigChanged`,
    before anything is written), and on SIGINT/SIGTERM saves a checkpoint and raises
    :class:`run_guard.TrainingInterrupted`.

    Args:
      cfg: validated :class:`ExperimentConfig`.
      model_dir: run folder (config.json, checkpoints/, train/, eval/, model.keras).
      strategy: a ``tf.distribute`` strategy (default: from ``cfg.train.strategy``).
      evaluate_fn: optional ``fn(model) -> dict`` called after each evaluated epoch.
      max_steps: stop after this global step (for tests and smoke runs).
    """
    cfg.validate()
    t = cfg.train
    if t.optimizer not in optimizers.OPTIMIZERS:
        raise ValueError(f"invalid experiment config: train.optimizer={t.optimizer!r}, "
                         f"expected one of {optimizers.OPTIMIZERS}")
    os.makedirs(model_dir, exist_ok=True)
    # Multi-worker runs share model_dir: only the chief holds the lock.
    chief = _is_chief(strategy) if strategy is not None else _chief_by_tf_config(t.strategy)
    lock = run_guard.RunLock(model_dir).acquire() if chief else None
    try:
        if tf.train.get_checkpoint_state(os.path.join(model_dir, "checkpoints")) is not None:
            run_guard.check_resume_config(model_dir, cfg, ExperimentConfig)
        run_guard.write_json(os.path.join(model_dir, "config.json"), cfg.to_dict())
        with run_guard.StopSignals() as stop:
            return _train(cfg, model_dir, strategy, evaluate_fn, max_steps, progress, stop)
    finally:
        if lock is not None:
            lock.release()


def _chief_by_tf_config(strategy_name: str) -> bool:
    if strategy_name != "multi_worker" or "TF_CONFIG" not in os.environ:
        return True
    tf_config = json.loads(os.environ["TF_CONFIG"])
    task = tf_config.get("task", {})
    if "chief" in tf_config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def _train(cfg, model_dir, strategy, evaluate_fn, max_steps, progress, stop) -> Dict:
    t = cfg.train
    tf.keras.utils.set_random_seed(t.seed)
    if t.deterministic:
        tf.config.experimental.enable_op_determinism()
    if t.mixed_precision:
        tf.keras.mixed_precision.set_global_policy("mixed_float16")
    strategy = strategy or make_strategy(t.strategy, t.tpu)
    replicas = strategy.num_replicas_in_sync
    if t.batch_size % replicas:
        raise ValueError(f"batch_size {t.batch_size} is not divisible by the "
                         f"{replicas} replicas")

    pipe_cfg = cfg.pipeline_config()
    steps_per_epoch = t.steps_per_epoch or max(
        1, epoch_examples(cfg.data.train, cfg.data.data_dir) // t.batch_size)
    total_steps = t.epochs * steps_per_epoch
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)

    def make_dataset(start_example=0):
        ds = datasets.build_dataset(cfg.data.train, "train", cfg.data.data_dir, training=True,
                                    batch_size=t.batch_size, config=pipe_cfg, seed=t.seed,
                                    shuffle_buffer=cfg.data.shuffle_buffer,
                                    start_example=start_example,
                                    keys=MOVNECT_KEYS if cfg.is_movnect else None)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        return strategy.experimental_distribute_dataset(ds.with_options(options))

    # The input iterator is not checkpointed (its shuffle buffer of raw JPEGs made a
    # checkpoint ~10x the model's size, and distributed iterators cannot be saved):
    # a resumed run fast-forwards the input pipeline to the restored step instead,
    # which gives exactly the batches an uninterrupted run sees (fixed seed).
    ckpt_dir = os.path.join(model_dir, "checkpoints")
    resume_from = run_guard.newest_intact_checkpoint(ckpt_dir)
    with strategy.scope():
        model = build_model(cfg)
        if cfg.is_movnect and t.base_weights:
            load_base_weights(model, t.base_weights)
        optimizer = optimizers.make_optimizer(t.optimizer,
                                              learning_rate_schedule(cfg, steps_per_epoch))
        if t.mixed_precision:
            optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        manager = tf.train.CheckpointManager(
            checkpoint, ckpt_dir, max_to_keep=t.keep_checkpoints,
            step_counter=optimizer.iterations, checkpoint_interval=t.checkpoint_every)
        if resume_from:
            checkpoint.restore(resume_from).assert_existing_objects_matched()
            logging.info("Resumed from %s (step %d)", resume_from,
                         int(optimizer.iterations.numpy()))
        elif t.init_weights:
            logging.info("Initialised from %s", load_init_weights(model, t.init_weights))
        iterator = iter(make_dataset(int(optimizer.iterations.numpy()) * t.batch_size))
        teacher = teacher_scale = None
        if t.teacher:
            teacher, teacher_scale = load_teacher(t.teacher, cfg)
            logging.info("Distilling from %s (alpha %.2f)", t.teacher, t.distill_alpha)
        # With the heatmap regulariser the step also needs the head's logits: a second
        # view of the same layers (no new weights).
        with_logits = tf.keras.Model(model.inputs, [model.logits_layer.output, model.output]) \
            if t.heatmap_loss_weight > 0 else None

    def teacher_output(images):
        return None if teacher is None else tf.cast(teacher(images, training=False), tf.float32)

    def movnect_batch_loss(batch):
        pred = model(batch["image"], training=True)
        # movnect_step_loss is a batch mean; this scaling sums to the global mean over
        # replicas (what compute_average_loss does for per-example losses).
        local = tf.cast(tf.shape(batch["image"])[0], tf.float32)
        return movnect_step_loss(cfg, batch, pred, teacher_output(batch["image"])) \
            * local / t.batch_size

    def mhp_batch_loss(batch):
        if with_logits is not None:
            logits, pred = with_logits(batch["image"], training=True)
        else:
            pred = model(batch["image"], training=True)
        target = teacher_output(batch["image"])
        if target is not None:
            per_example = distillation_loss(pred, batch["coords"], batch["vis"],
                                            batch["have_depth"], target * teacher_scale,
                                            t.distill_alpha)
        else:
            per_example = coord_l1_loss(pred, batch["coords"], batch["vis"],
                                        batch["have_depth"])
        if with_logits is not None:
            per_example += t.heatmap_loss_weight * marginal_js_loss(
                heatmap_marginals(logits, cfg.model.depth_bins), batch["coords"],
                batch["vis"], batch["have_depth"], t.heatmap_sigma)
        return tf.nn.compute_average_loss(per_example, global_batch_size=t.batch_size)

    def step_fn(batch):
        with tf.GradientTape() as tape:
            loss = movnect_batch_loss(batch) if cfg.is_movnect else mhp_batch_loss(batch)
            scaled = optimizer.get_scaled_loss(loss) if t.mixed_precision else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        if t.mixed_precision:
            grads = optimizer.get_unscaled_gradients(grads)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function(jit_compile=t.jit_compile or None)
    def replica_step(batch):
        return step_fn(batch)

    @tf.function
    def train_step(it):
        per_replica = strategy.run(replica_step, args=(next(it),))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    is_chief = _is_chief(strategy)
    # A fixed, un-augmented batch for the TensorBoard skeleton images.
    # Built and used on every worker: reading BatchNorm statistics (ON_READ variables)
    # outside a replica step is a collective op under MultiWorkerMirroredStrategy.
    preview = next(iter(datasets.build_dataset(
        cfg.data.train.split("+")[0], "train", cfg.data.data_dir, training=False, batch_size=4,
        config=pipe_cfg, training_keys_only=True)))
    writer = tf.summary.create_file_writer(os.path.join(model_dir, "train")) if is_chief \
        else tf.summary.create_noop_writer()
    eval_writer = tf.summary.create_file_writer(os.path.join(model_dir, "eval")) if is_chief \
        else tf.summary.create_noop_writer()

    step = int(optimizer.iterations.numpy())
    start_step, start_time = step, time.time()
    losses = []
    last_eval = None
    bar = None
    while step < total_steps:
        if stop.signum is not None:
            manager.save(checkpoint_number=step, check_interval=False)
            writer.flush()
            if bar is not None:
                print()  # end the progress bar's line
            name = signal.Signals(stop.signum).name
            raise run_guard.TrainingInterrupted(
                f"Training stopped by {name} at step {step}/{total_steps}; checkpoint saved to "
                f"{manager.latest_checkpoint}. Re-run the same command to resume.", stop.signum)
        epoch, in_epoch = divmod(step, steps_per_epoch)
        if bar is None and progress and is_chief:
            print(f"Epoch {epoch + 1}/{t.epochs}")
            # loss: running mean over the epoch (the Keras convention); lr: current value.
            bar = tf.keras.utils.Progbar(
                min(steps_per_epoch, total_steps - epoch * steps_per_epoch),
                stateful_metrics=["lr"])
            if in_epoch:
                bar.update(in_epoch)
        loss = float(train_step(iterator))
        step += 1
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"loss became {loss} at step {step}; training stopped without saving. The last "
                f"good checkpoint ({manager.latest_checkpoint or 'none yet'}) is intact. Lower "
                f"train.learning_rate, try without mixed precision, or check the data "
                f"(python -m mhp_tf.data.inspect).")
        losses.append(loss)
        lr = _current_lr(optimizer)
        if bar is not None:
            bar.update(step - epoch * steps_per_epoch, [("loss", loss), ("lr", lr)])
        if step % t.log_every == 0 or step == total_steps:
            with writer.as_default(step=step):
                tf.summary.scalar("loss", loss)
                tf.summary.scalar("learning_rate", lr)
        manager.save(checkpoint_number=step, check_interval=True)
        if step % steps_per_epoch == 0 or step == total_steps:
            bar = None
            done_epoch = step // steps_per_epoch
            _log_images(writer, step, preview, model, pipe_cfg)
            if evaluate_fn is not None and (done_epoch % t.eval_every_epochs == 0
                                            or step == total_steps):
                last_eval = evaluate_fn(model)
                with eval_writer.as_default(step=step):
                    for key in ("mpjpe", "pa_mpjpe_rigid", "pa_mpjpe_similarity"):
                        if key in last_eval:
                            tf.summary.scalar(key, last_eval[key])
    if step > start_step:
        manager.save(checkpoint_number=step, check_interval=False)
    writer.flush()
    eval_writer.flush()

    seconds = time.time() - start_time
    summary = {
        "model_dir": model_dir, "steps": step, "steps_this_run": step - start_step,
        "replicas": replicas,
        "seconds": seconds,
        "images_per_second": (step - start_step) * t.batch_size / max(seconds, 1e-9),
        # Mean over the last ~10 % of an epoch: less noisy than the last step alone.
        "final_loss": float(np.mean(losses[-max(1, steps_per_epoch // 10):])) if losses else None,
        "first_loss": losses[0] if losses else None,
        "eval": last_eval,
    }
    # Every worker saves (collective reads); only the chief's copy is kept.
    save_dir = model_dir if is_chief else os.path.join(model_dir, f".worker_{_task_id(strategy)}")
    os.makedirs(save_dir, exist_ok=True)
    run_guard.save_keras_model(model, os.path.join(save_dir, "model.keras"))
    if not is_chief:
        shutil.rmtree(save_dir, ignore_errors=True)
    if is_chief:
        run_guard.write_json(os.path.join(model_dir, "train_summary.json"), summary)
        def fmt(loss):
            return "n/a" if loss is None else f"{loss:.3f}"
        print(f"Trained {summary['steps_this_run']} steps (total {step}) in {seconds:.0f} s, "
              f"{summary['images_per_second']:.1f} img/s; loss {fmt(summary['first_loss'])} -> "
              f"{fmt(summary['final_loss'])}; model saved to "
              f"{os.path.join(model_dir, 'model.keras')}")
    summary["model"] = model
    return summary


def _current_lr(optimizer) -> float:
    lr = optimizer.learning_rate
    value = lr(optimizer.iterations - 1) if callable(lr) else lr
    return float(tf.convert_to_tensor(value).numpy())


def _task_id(strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(getattr(resolver, "task_id", 0) or 0)


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type in ("chief", None) or (
        resolver.task_type == "worker" and resolver.task_id == 0)


def _log_images(writer, step, batch, model, pipe_cfg):
    try:
        pred = np.asarray(predicted_coords_2d(model, batch["image"][:4]))
        with writer.as_default(step=step):
            tf.summary.image("skeletons (true | predicted)",
                             _skeleton_images(batch, pred, pipe_cfg), max_outputs=4)
    except Exception as e:  # images are a convenience; never stop training for them
        logging.warning("could not log skeleton images: %s", e)
