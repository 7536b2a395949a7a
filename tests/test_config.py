"""Experiment config validation: every bad value fails at validation, naming the field."""

import dataclasses

import pytest

from mhp_tf.training import config as config_lib


@pytest.mark.parametrize("overrides, message", [
    ({"train.learning_rate": "inf"}, r"train\.learning_rate must be a finite number, got inf"),
    ({"train.learning_rate": "nan"}, r"train\.learning_rate must be a finite number, got nan"),
    ({"train.learning_rate": "-inf"}, r"train\.learning_rate must be a finite number"),
    ({"data.occlusion_prob": "nan"}, r"data\.occlusion_prob must be a finite number"),
    ({"train.keep_checkpoints": "0"}, r"train\.keep_checkpoints must be >= 1"),
    ({"train.keep_checkpoints": "-2"}, r"train\.keep_checkpoints must be >= 1"),
    ({"train.batch_size": "abc"}, r"train\.batch_size expects an integer, got 'abc'"),
    ({"train.batch_size": "1.5"}, r"train\.batch_size expects an integer, got '1\.5'"),
    ({"train.steps_per_epoch": "2.5"}, r"train\.steps_per_epoch expects an integer"),
    ({"train.learning_rate": "fast"}, r"train\.learning_rate expects a number, got 'fast'"),
    ({"train.deterministic": "maybe"}, r"train\.deterministic expects a boolean"),
    ({"train.lr_decay_epochs": "3,x"}, r"train\.lr_decay_epochs expects comma-separated"),
    ({"model.width_multiplier": "wide"}, r"model\.width_multiplier expects a number"),
    ({"data.train": "synthetic+"}, r"data\.train='synthetic\+' has an empty dataset name"),
])
def test_bad_overrides_name_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        config_lib.make_config("xs", 18, overrides)


def test_good_overrides_keep_their_types():
    cfg = config_lib.make_config("xs", 18, {
        "train.steps_per_epoch": "none", "train.eval_max_examples": "40",
        "data.data_dir": "1234", "train.lr_decay_epochs": "3,5", "train.keep_checkpoints": "1",
        "train.learning_rate": "2e-4", "train.jit_compile": "yes"})
    t = cfg.train
    assert t.steps_per_epoch is None and t.eval_max_examples == 40
    assert cfg.data.data_dir == "1234"  # an Optional[str] stays text
    assert t.lr_decay_epochs == (3, 5) and t.keep_checkpoints == 1
    assert t.learning_rate == 2e-4 and t.jit_compile is True


@pytest.mark.parametrize("section, field, value, message", [
    ("train", "batch_size", 1.5, r"train\.batch_size must be int, got 1\.5"),
    ("train", "batch_size", True, r"train\.batch_size must be int, got True"),
    ("train", "learning_rate", "1e-3", r"train\.learning_rate must be float, got '1e-3'"),
    ("train", "learning_rate", float("inf"), r"train\.learning_rate must be a finite number"),
    ("train", "lr_decay_epochs", (1.5,), r"train\.lr_decay_epochs must be Tuple\[int, \.\.\.\]"),
    ("train", "steps_per_epoch", 2.0, r"train\.steps_per_epoch must be Optional\[int\]"),
    ("data", "data_dir", 5, r"data\.data_dir must be Optional\[str\]"),
])
def test_validate_checks_types_of_configs_built_in_code(section, field, value, message):
    cfg = config_lib.make_config("xs", 18)
    setattr(getattr(cfg, section), field, value)
    with pytest.raises(ValueError, match=message):
        cfg.validate()


def test_a_json_config_with_a_wrong_type_is_refused():
    d = config_lib.make_config("xs", 18).to_dict()
    d["train"]["keep_checkpoints"] = 0
    with pytest.raises(ValueError, match=r"train\.keep_checkpoints must be >= 1"):
        config_lib.ExperimentConfig.from_dict(d).validate()
    d = dataclasses.asdict(config_lib.make_config("xs", 18))
    d["train"]["epochs"] = "25"
    with pytest.raises(ValueError, match=r"train\.epochs must be int, got '25'"):
        config_lib.ExperimentConfig.from_dict(d).validate()
