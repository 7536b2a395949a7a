"""Every flagfile in experiments/ parses into a valid config with the recipe it claims."""

import glob
import os

from absl import flags
import pytest

from mhp_tf import train as train_bin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGFILES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "experiments", "*.flags")))


@pytest.fixture(scope="module")
def parse():
    if "variant" not in flags.FLAGS:
        train_bin.define_flags()

    def _parse(name):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["train", f"--flagfile=experiments/{name}"])
        return train_bin.config_from_flags()
    return _parse


def test_flagfiles_exist():
    for name in ("l.flags", "s.flags", "xs.flags", "quickstart.flags", "mupots_l.flags",
                 "ablation_relu.flags", "ablation_concat_none.flags"):
        assert name in FLAGFILES


@pytest.mark.parametrize("name", FLAGFILES)
def test_flagfile_parses(parse, monkeypatch, name):
    monkeypatch.chdir(ROOT)
    cfg = parse(name)
    assert cfg.validate() is cfg
    if not name.startswith("common_"):  # common_* are included by the others
        assert flags.FLAGS.model_dir


@pytest.mark.parametrize("name,variant,width,embedding", [
    ("l.flags", "l", 1.0, 2048), ("s.flags", "s", 0.75, 512), ("xs.flags", "xs", 0.5, 512)])
def test_paper_recipe(parse, monkeypatch, name, variant, width, embedding):
    monkeypatch.chdir(ROOT)
    cfg = parse(name)
    assert cfg.variant == variant and cfg.model.width_multiplier == width
    assert cfg.model.embedding_size == embedding
    assert cfg.data.train == "human36m/protocol2+mpii"
    assert cfg.train.learning_rate == 1e-3 and cfg.train.lr_decay_epochs == (17, 21)
    assert cfg.train.epochs == 25 and cfg.model.initializer == "reference"
    assert cfg.train.optimizer == "adam_torch"  # the reference's torch.optim.Adam update


def test_ablations_change_one_thing(parse, monkeypatch):
    monkeypatch.chdir(ROOT)
    base = parse("l.flags").to_dict()["model"]
    for name, field, value in [("ablation_relu.flags", "activation", "relu"),
                               ("ablation_concat_none.flags", "concat", "none"),
                               ("ablation_concat_residual.flags", "concat", "residual")]:
        model = parse(name).to_dict()["model"]
        assert {k for k in model if model[k] != base[k]} == {field} and model[field] == value
    grid = parse("ablation_w0.75_e1024.flags").model
    assert (grid.width_multiplier, grid.embedding_size) == (0.75, 1024)


def test_mupots_recipe(parse, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = parse("mupots_s.flags")
    assert cfg.model.num_joints == 21 and cfg.data.skeleton == "muco"
    assert cfg.data.train == "muco+coco"


def test_distillation_recipe(parse, monkeypatch):
    monkeypatch.chdir(ROOT)
    student = parse("xs_distill.flags")
    assert student.train.teacher == "runs/h36m_l" and student.train.distill_alpha == 0.5
    # Same data and schedule as the plain XS recipe; only the teacher differs.
    plain = parse("xs.flags").to_dict()
    distilled = student.to_dict()
    assert distilled["model"] == plain["model"] and distilled["data"] == plain["data"]
    assert {k for k in distilled["train"] if distilled["train"][k] != plain["train"][k]} == {
        "teacher"}
