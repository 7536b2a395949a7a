"""Experiment configuration: a small dataclass tree that flags override.

``ExperimentConfig(model=..., data=..., train=...)``; the model part is a
:class:`mhp_tf.ModelConfig` built from a preset (``variant``) plus overrides.
The final config is validated and written to ``<model_dir>/config.json`` so a
run can be reproduced (and resumed) from its own folder.
"""

import dataclasses
import json
import math
import numbers
import os
import typing
from typing import Any, Dict, Optional, Tuple, Union

from mhp_tf import skeletons
from mhp_tf.data.pipeline import NORMALIZATIONS
from mhp_tf.data.pipeline import PipelineConfig
from mhp_tf.modeling import PRESETS
from mhp_tf.modeling import ModelConfig
from mhp_tf.modeling import MoVNectConfig
from mhp_tf.modeling import preset_config

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
LR_SCHEDULES = ("step", "cosine")
# ``variant``: a MobileHumanPose preset, or "movnect" (MoVNect; its type A/B/C is
# ``model.variant``).
MOVNECT = "movnect"
VARIANTS = tuple(PRESETS) + (MOVNECT,)
DEFAULT_JOINTS = {MOVNECT: 15}  # MobileHumanPose presets: 18 (Human3.6M)


@dataclasses.dataclass
class DataConfig:
    """Datasets and input pipeline.

    ``train`` may mix datasets in equal shares with ``+`` (``"human36m/protocol2+mpii"``:
    50/50; ``"a+b+c"``: a third each).
    """

    train: str = "human36m/protocol2+mpii"
    test: str = "human36m/protocol2"
    test_split: str = "test"
    data_dir: Optional[str] = None
    skeleton: str = "h36m"
    normalization: str = "reference"
    shuffle_buffer: int = 2048
    occlusion_prob: float = 0.5  # synthetic occlusion augmentation (reference: 0.5)
    rotation_prob: float = 0.6  # share of samples rotated (reference: 0.6)
    # The other train-time augmentations (reference values): scale 1 + f * N(0,1) clipped
    # to [1 - f, 1 + f], rotation angle factor (degrees), horizontal flip, colour gain.
    scale_factor: float = 0.25
    rotation_factor: float = 30.0
    flip_prob: float = 0.5
    color_factor: float = 0.2
    # camera-like photometric augmentation (pipeline.photometric) for this share of the
    # samples; 0 = the reference's pipeline. Meant for synthetic training data.
    photometric_prob: float = 0.0
    # a small person in a low-resolution video (pipeline.low_resolution) for this share of
    # the samples; 0 = the reference's pipeline. Meant for synthetic training data.
    low_res_prob: float = 0.0


@dataclasses.dataclass
class TrainConfig:
    """Optimisation, schedule, checkpointing and runtime options (paper recipe defaults)."""

    batch_size: int = 64  # global batch size
    epochs: int = 25
    steps_per_epoch: Optional[int] = None  # None: examples of the first train dataset / batch
    learning_rate: float = 1e-3
    # "adam_torch": torch.optim.Adam's update (eps 1e-8 added to the bias-corrected root,
    # as the reference trains); "adam_keras": tf.keras Adam (eps 1e-7 before the bias
    # correction). See mhp_tf/training/optimizers.py.
    optimizer: str = "adam_torch"
    lr_decay_epochs: Tuple[int, ...] = (17, 21)
    lr_decay_factor: float = 10.0
    # "step" (paper: /lr_decay_factor at each of lr_decay_epochs) or "cosine" (cosine decay
    # from learning_rate to 0 over the run; lr_decay_epochs is then unused), either after
    # warmup_steps of linear warm-up from 0.
    lr_schedule: str = "step"
    warmup_steps: int = 0
    checkpoint_every: int = 500  # steps
    keep_checkpoints: int = 3
    log_every: int = 50  # steps
    eval_every_epochs: int = 1
    eval_max_examples: Optional[int] = None
    seed: int = 0
    deterministic: bool = False
    mixed_precision: bool = False
    jit_compile: bool = False
    strategy: str = "default"
    tpu: Optional[str] = None
    # Teacher-student distillation (MoVNect's idea on coordinates): a trained model
    # (.keras file or run folder) whose predictions on the same augmented batch are
    # blended with the ground truth: loss = (1 - a) * L1(gt) + a * L1(teacher).
    teacher: Optional[str] = None
    distill_alpha: float = 0.5
    # Optional Jensen-Shannon regulariser of the heatmap marginals towards a Gaussian at
    # the target (Nibali et al. 2018); 0 = the paper's L1-only loss.
    heatmap_loss_weight: float = 0.0
    # Standard deviation (output-grid cells) of the Gaussian targets: the JS regulariser's
    # and MoVNect's 2D heatmaps.
    heatmap_sigma: float = 1.0
    # MoVNect only: loss = L_HM + location_loss_weight * L_LM (paper: no weight given, 1),
    # and the ImageNet start of its MobileNetV2 base: None (random init), "imagenet"
    # (keras.applications weights; downloaded once into ~/.keras/models by Keras), or the
    # path of a MobileNetV2 weights file (.h5) with the model's base width.
    location_loss_weight: float = 1.0
    base_weights: Optional[str] = None
    # Start from another run's weights instead of random ones (fine-tuning, or a second
    # stage at a higher input size): a .keras file or a run folder holding model.keras,
    # of the same network family. Every layer with weights is copied by name; the input
    # size may differ, the weight shapes may not. Used only when the run starts: a resumed
    # run restores its own checkpoint. The optimizer starts fresh.
    init_weights: Optional[str] = None


@dataclasses.dataclass
class ExperimentConfig:
    """``variant`` picks the network family: a MobileHumanPose preset (``model`` is a
    :class:`mhp_tf.ModelConfig`) or ``"movnect"`` (``model`` is a
    :class:`mhp_tf.modeling.MoVNectConfig`)."""

    variant: str = "xs"
    model: Union[ModelConfig, MoVNectConfig] = dataclasses.field(
        default_factory=lambda: preset_config("xs"))
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    @property
    def is_movnect(self) -> bool:
        return self.variant == MOVNECT

    def validate(self) -> "ExperimentConfig":
        def check(ok, msg):
            if not ok:
                raise ValueError(f"invalid experiment config: {msg}")

        t, d = self.train, self.data
        check_field_types("train", t)
        check_field_types("data", d)
        check(t.batch_size > 0, f"train.batch_size must be > 0, got {t.batch_size}")
        check(t.epochs > 0, f"train.epochs must be > 0, got {t.epochs}")
        check(t.learning_rate > 0, "train.learning_rate must be > 0")
        check(t.lr_decay_factor >= 1, "train.lr_decay_factor must be >= 1")
        check(t.lr_schedule in LR_SCHEDULES,
              f"train.lr_schedule={t.lr_schedule!r}, expected one of {LR_SCHEDULES}")
        check(t.warmup_steps >= 0, "train.warmup_steps must be >= 0")
        check(list(t.lr_decay_epochs) == sorted(t.lr_decay_epochs),
              f"train.lr_decay_epochs must be increasing, got {t.lr_decay_epochs}")
        check(t.checkpoint_every > 0 and t.log_every > 0,
              "train.checkpoint_every and train.log_every must be > 0")
        check(t.keep_checkpoints >= 1,
              f"train.keep_checkpoints must be >= 1 (0 would delete every checkpoint, so a "
              f"stopped run could not resume), got {t.keep_checkpoints}")
        check(t.steps_per_epoch is None or t.steps_per_epoch > 0,
              "train.steps_per_epoch must be > 0")
        check(0.0 <= t.distill_alpha <= 1.0,
              f"train.distill_alpha must be in [0, 1], got {t.distill_alpha}")
        check(t.heatmap_loss_weight >= 0 and t.heatmap_sigma > 0,
              "train.heatmap_loss_weight must be >= 0 and train.heatmap_sigma > 0")
        check(t.strategy in STRATEGIES, f"train.strategy={t.strategy!r}, expected {STRATEGIES}")
        check(not (t.init_weights and t.base_weights),
              "train.init_weights and train.base_weights are both set; give one of them")
        for key in ("occlusion_prob", "rotation_prob", "flip_prob", "photometric_prob",
                    "low_res_prob"):
            check(0.0 <= getattr(d, key) <= 1.0,
                  f"data.{key} must be in [0, 1], got {getattr(d, key)}")
        check(0.0 <= d.scale_factor < 1.0 and d.rotation_factor >= 0 and d.color_factor >= 0,
              "data.scale_factor must be in [0, 1); data.rotation_factor and "
              "data.color_factor must be >= 0")
        check(d.normalization in NORMALIZATIONS,
              f"data.normalization={d.normalization!r}, expected {NORMALIZATIONS}")
        check(self.variant in VARIANTS, f"variant={self.variant!r}, expected one of {VARIANTS}")
        check(isinstance(self.model, MoVNectConfig if self.is_movnect else ModelConfig),
              f"variant {self.variant!r} needs a "
              f"{'MoVNectConfig' if self.is_movnect else 'ModelConfig'} model config")
        if self.is_movnect:
            check(t.heatmap_loss_weight == 0,
                  "train.heatmap_loss_weight is a MobileHumanPose option; MoVNect's heatmap "
                  "loss is always on (weight it with train.location_loss_weight)")
        else:
            check(self.model.head == "coords", "training needs model.head='coords'")
            check(t.base_weights is None, "train.base_weights is a MoVNect option")
        check(t.location_loss_weight >= 0, "train.location_loss_weight must be >= 0")
        check(all(d.train.split("+")), f"data.train={d.train!r} has an empty dataset name "
              "(mix datasets as 'a+b')")
        try:
            n = skeletons.get_skeleton(d.skeleton).num_joints
        except KeyError as e:
            raise ValueError(f"invalid experiment config: data.skeleton: {e.args[0]}") from None
        check(n == self.model.num_joints,
              f"data.skeleton={d.skeleton!r} has {n} joints but the model predicts "
              f"{self.model.num_joints} (set --num_joints={n} or another --skeleton)")
        self.pipeline_config()  # validates skeleton etc.
        return self

    def pipeline_config(self, **overrides) -> PipelineConfig:
        overrides.setdefault("occlusion_prob", self.data.occlusion_prob)
        for key in ("rotation_prob", "scale_factor", "rotation_factor", "flip_prob",
                    "color_factor", "photometric_prob", "low_res_prob"):
            overrides.setdefault(key, getattr(self.data, key))
        return PipelineConfig.for_model(self.model, skeleton=self.data.skeleton,
                                        normalization=self.data.normalization, **overrides)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "ExperimentConfig":
        train = dict(d.get("train", {}))
        if "lr_decay_epochs" in train:
            train["lr_decay_epochs"] = tuple(train["lr_decay_epochs"])
        variant = d.get("variant", "xs")
        model_cls = MoVNectConfig if variant == MOVNECT else ModelConfig
        return cls(variant=variant, model=model_cls(**d["model"]),
                   data=DataConfig(**d.get("data", {})), train=TrainConfig(**train))

    def save(self, model_dir: str) -> str:
        os.makedirs(model_dir, exist_ok=True)
        path = os.path.join(model_dir, "config.json")
        with open(path, "w") as f:
            f.write(self.to_json() + "\n")
        return path

    @classmethod
    def load(cls, model_dir: str) -> "ExperimentConfig":
        with open(os.path.join(model_dir, "config.json")) as f:
            return cls.from_dict(json.load(f))


def _type_matches(value: Any, field_type: Any) -> bool:
    """Whether ``value`` has the annotated type (``int``, ``float``, ``bool``, ``str``,
    ``Optional[...]``, ``Tuple[int, ...]``); other annotations are not checked."""
    origin = typing.get_origin(field_type)
    if origin is Union:
        return any(_type_matches(value, a) for a in typing.get_args(field_type))
    if field_type is type(None):
        return value is None
    if origin is tuple:
        item = typing.get_args(field_type)[0]
        return isinstance(value, (tuple, list)) and all(_type_matches(v, item) for v in value)
    if field_type is bool:
        return isinstance(value, bool)
    if field_type is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if field_type is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if field_type is str:
        return isinstance(value, str)
    return True


def _type_name(field_type: Any) -> str:
    return str(field_type).replace("typing.", "") if typing.get_origin(field_type) else \
        field_type.__name__


def check_field_types(section: str, obj) -> None:
    """Raise ``ValueError`` naming ``section.field`` when a field of the dataclass ``obj``
    has the wrong type (e.g. ``batch_size=1.5``) or a float field is NaN or inf (a
    non-finite learning rate or weight would train on garbage without an error)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not _type_matches(value, f.type):
            raise ValueError(f"invalid experiment config: {section}.{f.name} must be "
                             f"{_type_name(f.type)}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"invalid experiment config: {section}.{f.name} must be a finite "
                             f"number, got {value!r}")


def _parse_bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise ValueError(value)


_PARSERS = {
    bool: (_parse_bool, "a boolean (true/false)"),
    int: (int, "an integer"),
    float: (float, "a number"),
    tuple: (lambda v: tuple(int(x) for x in v.split(",") if x.strip()),
            "comma-separated integers"),
}


def _coerce(value: str, current: Any, field_type: Any, key: str = "value"):
    """Parse a command-line string into the type of the field ``key`` it overrides.

    The annotation decides (``Optional[int]`` accepts ``none`` or an integer, never
    ``1.5``; ``Optional[str]`` keeps digits as text); a string that does not parse
    raises ``ValueError`` naming ``key`` and the expected type.
    """
    args = [a for a in typing.get_args(field_type) if a is not type(None)]
    optional = typing.get_origin(field_type) is Union and len(args) == 1
    if optional and value.strip().lower() == "none":
        return None
    kind = args[0] if optional else field_type
    if typing.get_origin(kind) is tuple or isinstance(current, tuple):
        kind = tuple
    elif kind is Any or typing.get_origin(kind) is Union:
        kind = type(current)
    if kind not in _PARSERS:
        return value
    parse, expected = _PARSERS[kind]
    try:
        return parse(value)
    except ValueError:
        raise ValueError(f"{key} expects {expected}, got {value!r}") from None


def _model_config(family: str, num_joints: int, **changes):
    if family == MOVNECT:
        try:
            return MoVNectConfig(num_joints=num_joints, **changes)
        except TypeError:
            fields = [f.name for f in dataclasses.fields(MoVNectConfig)]
            raise ValueError(f"unknown MoVNect option(s) {sorted(set(changes) - set(fields))}; "
                             f"valid options: {fields}") from None
    return preset_config(family, num_joints, **changes)


def make_config(variant: str = "xs", num_joints: Optional[int] = None,
                overrides: Optional[Dict[str, str]] = None) -> ExperimentConfig:
    """Preset model + defaults, then ``{"section.field": "value"}`` overrides; validated.

    ``variant``: ``l`` / ``s`` / ``xs`` (MobileHumanPose) or ``movnect``; ``num_joints``
    defaults to 18 (MobileHumanPose) or 15 (MoVNect, whose data skeleton defaults to
    ``movnect``).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; available: {list(VARIANTS)}")
    num_joints = num_joints or DEFAULT_JOINTS.get(variant, 18)
    model = _model_config(variant, num_joints)
    cfg = ExperimentConfig(variant=variant, model=model)
    if variant == MOVNECT:
        cfg.data.skeleton = MOVNECT
    model_changes = {}
    for key, raw in (overrides or {}).items():
        section, _, name = key.partition(".")
        if section not in ("model", "data", "train") or not name:
            raise ValueError(f"override {key!r} must look like model.x, data.x or train.x")
        target = getattr(cfg, section)
        fields = {f.name: f for f in dataclasses.fields(target)}
        if name not in fields:
            raise ValueError(f"unknown option {key!r}; {section} options: {sorted(fields)}")
        value = _coerce(raw, getattr(target, name), fields[name].type, key) \
            if isinstance(raw, str) else raw
        if section == "model":
            model_changes[name] = value
        else:
            setattr(target, name, value)
    if model_changes:
        cfg.model = _model_config(variant, model_changes.pop("num_joints", num_joints),
                                  **model_changes)
    return cfg.validate()
