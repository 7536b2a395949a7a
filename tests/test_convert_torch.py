"""Importing reference PyTorch checkpoints (mhp_tf.convert_torch).

The PyTorch network below is written for this test from the reference
architecture (SangbumChoi/MobileHumanPose: ``LpNetSkiConcat`` in both its
January-2021 "paper" form and its later "compact" form, ``LpNetWoConcat``,
``LpNetResConcat``), with the reference module names so its state dict has
the reference checkpoint layout. It shares no code with mhp_tf.modeling:
a mapping or layout mistake in the importer shows up as an output mismatch.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from mhp_tf import convert_torch  # noqa: E402
from mhp_tf.data import pipeline  # noqa: E402
from mhp_tf.modeling import preset_config  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4  # heatmap units

# ----------------------------------------------------------------------------- reference net

# Inverted-residual stages (expansion, channels at width 1.0, blocks).
STAGES = [(1, 64, 1), (6, 48, 2), (6, 48, 3), (6, 64, 4), (6, 96, 3), (6, 160, 3), (6, 320, 1)]
# First-conv stride, stage strides and the stages whose outputs feed the decoder
# (shallowest first).
LAYOUTS = {
    "paper": (1, (1, 2, 2, 2, 2, 2, 1), (3, 4, 5)),
    "compact": (2, (2, 2, 2, 2, 2, 1, 1), (2, 3, 4)),
}
REFERENCE_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
REFERENCE_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def round_channels(value):
    """Nearest multiple of 8 (at least 8), one step up if that loses over 10%."""
    out = max(8, int(value + 4) // 8 * 8)
    return out + 8 if out < 0.9 * value else out


def activation(kind, channels):
    return nn.PReLU(channels) if kind == "prelu" else nn.ReLU()


class ConvUnit(nn.Sequential):
    def __init__(self, cin, cout, kernel=3, stride=1, groups=1, act="prelu"):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout), activation(act, cout))


class MobileBlock(nn.Module):
    def __init__(self, cin, cout, stride, expansion, act):
        super().__init__()
        hidden = int(round(cin * expansion))
        layers = [] if expansion == 1 else [ConvUnit(cin, hidden, 1, act=act)]
        layers += [ConvUnit(hidden, hidden, 3, stride, groups=hidden, act=act),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.identity = stride == 1 and cin == cout

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.identity else y


class UpStage(nn.Sequential):
    def __init__(self, cin, mid, cout, act):
        super().__init__(
            nn.Conv2d(cin, mid, 1), nn.BatchNorm2d(mid), activation(act, mid),
            nn.Conv2d(mid, cout, 3, padding=1), nn.BatchNorm2d(cout), activation(act, cout),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True))


class Backbone(nn.Module):
    """Reference-layout backbone: first_conv, inv_residual.*, last_conv, deconv*/deonv*,
    final_layer."""

    def __init__(self, joints, depth, topology="paper", concat="skip", width=1.0,
                 embedding=2048, act="prelu"):
        super().__init__()
        first_stride, strides, taps = LAYOUTS[topology]
        self.concat, self.taps = concat, taps
        stem = round_channels(48 * width)
        widths = [round_channels(c * width) for _, c, _ in STAGES]
        self.first_conv = ConvUnit(3, stem, 3, first_stride, act=act)
        blocks, self.stage_ends = [], []
        previous = [stem, stem]  # widths of the two latest feature maps
        cin = stem
        for index, ((t, _, n), stride, cout) in enumerate(zip(STAGES, strides, widths)):
            if concat == "residual" and index > 0:
                cin = previous[0] + previous[1]
            for i in range(n):
                blocks.append(MobileBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1,
                                          t, act))
            self.stage_ends.append(len(blocks))
            previous = [previous[1], cout]
            cin = cout
        self.inv_residual = nn.Sequential(*blocks)
        self.last_conv = ConvUnit(widths[5] + widths[6] if concat == "residual" else widths[6],
                                  embedding, 1, act=act)
        skip = [widths[s] for s in reversed(taps)]  # deepest first
        if concat == "residual":
            self.deonv0 = UpStage(widths[6] + embedding, 256, 256, act)
            self.deonv1 = UpStage(embedding + 256, 256, 256, act)
            self.deonv2 = UpStage(256 + 256, 256, 256, act)
        else:
            extra = skip if concat == "skip" else [0, 0, 0]
            self.deconv0 = UpStage(embedding + extra[0], skip[0], 256, act)
            self.deconv1 = UpStage(256 + extra[1], skip[1], 256, act)
            self.deconv2 = UpStage(256 + extra[2], skip[2], 256, act)
        self.final_layer = nn.Conv2d(256, joints * depth, 1)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)

    def _stages(self, x):
        start, outputs = 0, []
        for end in self.stage_ends:
            x = self.inv_residual[start:end](x)
            outputs.append(x)
            start = end
        return outputs

    def _match(self, a, b):
        """a brought to b's size: pooled if larger, upsampled if smaller."""
        if a.shape[-1] > b.shape[-1]:
            return self.pool(a)
        if a.shape[-1] < b.shape[-1]:
            return self.up(a)
        return a

    def forward(self, image):
        x = self.first_conv(image)
        if self.concat == "residual":
            feats = [x, self.inv_residual[0:self.stage_ends[0]](x)]
            for s in range(1, len(self.stage_ends)):
                blocks = self.inv_residual[self.stage_ends[s - 1]:self.stage_ends[s]]
                feats.append(blocks(torch.cat([self._match(feats[-2], feats[-1]), feats[-1]], 1)))
            z = self.last_conv(torch.cat([feats[-2], feats[-1]], 1))
            d0 = self.deonv0(torch.cat([feats[-1], z], 1))
            d1 = self.deonv1(torch.cat([self.up(z), d0], 1))
            d2 = self.deonv2(torch.cat([self.up(d0), d1], 1))
            return self.final_layer(d2)
        outputs = self._stages(x)
        d = self.last_conv(outputs[-1])
        for stage, tap in zip((self.deconv0, self.deconv1, self.deconv2), reversed(self.taps)):
            if self.concat == "skip":
                d = torch.cat([outputs[tap], d], 1)
            d = stage(d)
        return self.final_layer(d)


class PoseNet(nn.Module):
    """CustomNet: backbone + soft-argmax, channel j * D + d, coordinates in heatmap units."""

    def __init__(self, backbone, joints, depth):
        super().__init__()
        self.backbone, self.joints, self.depth = backbone, joints, depth

    def forward(self, image):
        logits = self.backbone(image)
        b, _, h, w = logits.shape
        prob = F.softmax(logits.reshape(b, self.joints, -1), dim=2)
        prob = prob.reshape(b, self.joints, self.depth, h, w)
        x = (prob.sum(dim=(2, 3)) * torch.arange(w)).sum(-1)
        y = (prob.sum(dim=(2, 4)) * torch.arange(h)).sum(-1)
        z = (prob.sum(dim=(3, 4)) * torch.arange(self.depth)).sum(-1)
        return torch.stack([x, y, z], dim=-1), logits


def reference_normalize(rgb):
    """[B, H, W, 3] 0..255 -> [B, 3, H, W], the reference's (no /255) normalisation."""
    x = torch.from_numpy(rgb).permute(0, 3, 1, 2)
    return (x - REFERENCE_MEAN) / REFERENCE_STD


def random_images(size, batch, seed):
    return np.random.default_rng(seed).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)


@torch.no_grad()
def randomize(net, size, seed):
    """Random weights; BN running statistics measured on reference-normalised noise, then
    perturbed, so eval-mode BN is far from identity while activations stay O(1); the head
    scaled to logits within +-4, so the coordinates move with the input while float32
    rounding (about 3e-6 of the logits in either framework) stays well inside 1e-4."""
    gen = torch.Generator().manual_seed(seed)

    def rand(shape, low, high):
        return torch.rand(shape, generator=gen) * (high - low) + low

    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            if m.bias is not None:
                m.bias.copy_(rand(m.bias.shape, -0.2, 0.2))
        elif isinstance(m, nn.PReLU):
            m.weight.copy_(rand(m.weight.shape, 0.05, 0.5))
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.copy_(rand(m.weight.shape, 0.5, 1.5))
            m.bias.copy_(rand(m.bias.shape, -0.3, 0.3))
            m.reset_running_stats()
            m.momentum = None  # running stats = this batch's statistics
    net.train()
    net(reference_normalize(random_images(size, 2, seed + 100)))
    net.eval()
    for m in bns:
        std = m.running_var.sqrt()
        m.running_mean.add_(0.2 * std * torch.randn(std.shape, generator=gen))
        m.running_var.mul_(rand(std.shape, 0.6, 1.6))
        m.momentum = 0.1
    head = net.backbone.final_layer
    logits = net(reference_normalize(random_images(size, 2, seed + 200)))[1]
    scale = 4.0 / float(logits.abs().max())
    head.weight.mul_(scale)
    head.bias.mul_(scale)


def make_net(joints, depth, seed=0, size=None, **arch):
    torch.manual_seed(seed)
    net = PoseNet(Backbone(joints, depth, **arch), joints, depth)
    if size:
        randomize(net, size, seed)
    return net.eval()


def save_checkpoint(net, path, wrapping):
    """The reference's snapshot layout ('module' = DataParallel; 'bare' = backbone only)."""
    if wrapping == "bare":
        torch.save(net.backbone.state_dict(), path)
        return
    state = net.state_dict()
    if wrapping == "module":
        state = {f"module.{k}": v for k, v in state.items()}
    torch.save({"epoch": 24, "network": state, "optimizer": {"state": {}, "param_groups": []}},
               path)


def keras_outputs(model, rgb):
    """(coords, logits) of an imported Keras model on 0..255 images."""
    image = pipeline.normalize(tf.constant(rgb), "reference")
    both = tf.keras.Model(model.input, [model.output, model.get_layer("head_conv").output])
    coords, logits = both(image, training=False)
    return coords.numpy(), logits.numpy()


def torch_outputs(net, rgb):
    with torch.no_grad():
        coords, logits = net(reference_normalize(rgb))
    return coords.numpy(), logits.permute(0, 2, 3, 1).numpy()


# ----------------------------------------------------------------------------- architecture


@pytest.mark.parametrize("variant", ["l", "s", "xs"])
@pytest.mark.parametrize("joints", [18, 21])
def test_infer_config_recovers_presets(variant, joints):
    arch = {"l": dict(topology="paper", width=1.0, embedding=2048),
            "s": dict(topology="paper", width=0.75, embedding=512),
            "xs": dict(topology="compact", width=0.5, embedding=512)}[variant]
    depth = 64 if arch["topology"] == "paper" else 32
    net = make_net(joints, depth, **arch)
    golden = {("l", 18): 4_073_248, ("l", 21): 4_122_592, ("s", 18): 2_242_000,
              ("s", 21): 2_291_344, ("xs", 18): 1_040_240, ("xs", 21): 1_064_912}
    # The test network itself has the reference parameter counts.
    assert sum(p.numel() for p in net.parameters()) == golden[variant, joints]
    state = {f"module.{k}": v.numpy() for k, v in net.state_dict().items()}
    assert convert_torch.infer_config(state) == preset_config(variant, joints)


def test_infer_config_joint_depth_split():
    state = make_net(18, 32, topology="compact", width=0.5, embedding=512).state_dict()
    assert convert_torch.infer_config(state, num_joints=18).depth_bins == 32
    assert convert_torch.infer_config(state, depth_bins=64).num_joints == 9
    with pytest.raises(ValueError, match="576 output rows"):
        convert_torch.infer_config(state, num_joints=7)
    with pytest.raises(ValueError, match="disagrees"):
        convert_torch.infer_config(state, topology="paper")


# ----------------------------------------------------------------------------- parity

# (name, architecture, joints, depth bins, input size, checkpoint wrapping)
CASES = [
    ("L", dict(topology="paper", width=1.0, embedding=2048), 18, 64, 64, "module"),
    ("S", dict(topology="paper", width=0.75, embedding=512), 21, 64, 64, "network"),
    ("XS", dict(topology="compact", width=0.5, embedding=512), 18, 32, 128, "bare"),
    ("no_concat", dict(topology="paper", concat="none", width=1.0, embedding=2048),
     18, 64, 64, "module"),
    ("residual", dict(topology="paper", concat="residual", width=1.0, embedding=2048),
     18, 64, 64, "module"),
    ("relu", dict(topology="paper", width=0.5, embedding=512, act="relu"), 18, 64, 64,
     "module"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_keras_matches_pytorch(tmp_path, case):
    name, arch, joints, depth, size, wrapping = case
    net = make_net(joints, depth, seed=len(name), size=size, **arch)
    path = tmp_path / "snapshot_24.pth.tar"
    save_checkpoint(net, path, wrapping)

    state, _ = convert_torch.load_checkpoint(str(path))
    model = convert_torch.load_torch_state_dict(state, input_size=size)
    cfg = model.mhp_config
    assert (cfg.topology, cfg.concat, cfg.activation, cfg.width_multiplier,
            cfg.embedding_size, cfg.num_joints, cfg.depth_bins) == (
        arch["topology"], arch.get("concat", "skip"), arch.get("act", "prelu"), arch["width"],
        arch["embedding"], joints, depth)

    rgb = random_images(size, 2, seed=7)
    want_coords, want_logits = torch_outputs(net, rgb)
    got_coords, got_logits = keras_outputs(model, rgb)
    # The comparison has teeth: coordinates spread over the heatmap, not all at its centre.
    assert want_coords[..., :2].std() > 0.05 and want_coords[..., 2].std() > 0.5
    coord_err = np.abs(got_coords - want_coords).max()
    logit_err = np.abs(got_logits - want_logits).max() / np.abs(want_logits).max()
    print(f"{name}: max |coords diff| = {coord_err:.2e} heatmap units, "
          f"max |logit diff| / max |logit| = {logit_err:.2e}")
    assert coord_err < TOLERANCE
    assert logit_err < 5e-5


def test_parity_detects_a_wrong_bn_statistic():
    """Negative control: one BN running variance off by 2x breaks the 1e-4 agreement."""
    arch = dict(topology="compact", width=0.5, embedding=512)
    net = make_net(18, 32, seed=3, size=128, **arch)
    state = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    state["backbone.inv_residual.8.conv.1.1.running_var"] *= 2.0
    model = convert_torch.load_torch_state_dict(state, input_size=128)
    rgb = random_images(128, 2, seed=7)
    err = np.abs(keras_outputs(model, rgb)[0] - torch_outputs(net, rgb)[0]).max()
    assert err > 100 * TOLERANCE


# ----------------------------------------------------------------------------- errors


@pytest.fixture(scope="module")
def xs_state():
    net = make_net(18, 32, topology="compact", width=0.5, embedding=512)
    return {f"module.backbone.{k}": v.numpy() for k, v in net.backbone.state_dict().items()}


def test_missing_tensor_is_named(xs_state):
    state = dict(xs_state)
    del state["module.backbone.inv_residual.7.conv.1.1.running_var"]
    with pytest.raises(ValueError, match=r"missing[\s\S]*inv_residual\.7\.conv\.1\.1\.running_var"):
        convert_torch.load_torch_state_dict(state, input_size=64)


def test_extra_tensor_is_named(xs_state):
    state = dict(xs_state, **{"module.backbone.aux_head.weight": np.zeros((4, 256, 1, 1))})
    with pytest.raises(ValueError, match=r"unmapped[\s\S]*module\.backbone\.aux_head\.weight"):
        convert_torch.load_torch_state_dict(state, input_size=64)


@pytest.mark.parametrize("key,shape", [
    ("module.backbone.inv_residual.3.conv.0.2.weight", (7,)),  # PReLU slopes
    ("module.backbone.deconv1.3.weight", (256, 64, 1, 1)),  # 3x3 conv given as 1x1
])
def test_wrong_shape_is_named(xs_state, key, shape):
    state = dict(xs_state, **{key: np.zeros(shape, np.float32)})
    with pytest.raises(ValueError, match=r"wrong shape[\s\S]*" + key.replace(".", r"\.")):
        convert_torch.load_torch_state_dict(state, input_size=64)


def test_unreadable_architecture_names_the_tensor(xs_state):
    state = {k: v for k, v in xs_state.items() if "final_layer" not in k}
    with pytest.raises(ValueError, match="final_layer.weight"):
        convert_torch.load_torch_state_dict(state, input_size=64)


def test_checkpoint_without_state_dict(tmp_path):
    path = tmp_path / "bad.pth.tar"
    torch.save({"epoch": 3, "optimizer": {"state": {}}}, path)
    with pytest.raises(ValueError, match="'network'"):
        convert_torch.load_checkpoint(str(path))


def test_missing_torch_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(ImportError, match="pip install torch"):
        convert_torch.load_checkpoint(str(tmp_path / "x.pth.tar"))


@pytest.mark.parametrize("key, value, message", [
    ("module.backbone.first_conv.0.weight", np.nan,
     r"tensor 'module\.backbone\.first_conv\.0\.weight' has 1 non-finite .* at \(0, 0, 0, 2\)"),
    ("module.backbone.first_conv.1.running_mean", np.inf,
     r"tensor 'module\.backbone\.first_conv\.1\.running_mean' has 1 non-finite"),
    ("module.backbone.inv_residual.7.conv.1.1.running_var", -0.5,
     r"tensor 'module\.backbone\.inv_residual\.7\.conv\.1\.1\.running_var' \(BatchNorm "
     r"running variance\) has 1 negative value"),
])
def test_bad_tensor_values_are_named(xs_state, key, value, message):
    state = dict(xs_state)
    state[key] = state[key].copy()
    state[key].flat[2] = value
    with pytest.raises(ValueError, match=message):
        convert_torch.load_torch_state_dict(state, input_size=64)


def test_bad_tensor_in_a_checkpoint_file_is_named(tmp_path, xs_state):
    state = {k: torch.from_numpy(v.copy()) for k, v in xs_state.items()}
    state["module.backbone.first_conv.1.running_var"][0] = -1.0
    path = tmp_path / "neg.pth.tar"
    torch.save({"network": state}, path)
    state_dict, _ = convert_torch.load_checkpoint(str(path))
    with pytest.raises(ValueError, match=r"first_conv\.1\.running_var' \(BatchNorm"):
        convert_torch.load_torch_state_dict(state_dict, input_size=64)


def _not_torch_files(folder):
    import zipfile

    (folder / "notes.txt").write_text("hello, not a checkpoint\n")
    with zipfile.ZipFile(folder / "other.zip", "w") as z:
        z.writestr("readme.txt", "a zip that torch.save did not write")
    (folder / "empty.pth").write_bytes(b"")
    import pickle
    (folder / "plain.pkl").write_bytes(pickle.dumps({"a": 1}))
    return {"notes.txt": r"not a PyTorch checkpoint \(neither", "plain.pkl": r"not a PyTorch",
            "other.zip": r"not a PyTorch checkpoint: a zip archive without the data\.pkl",
            "empty.pth": r"not a PyTorch checkpoint: the file is empty"}


def test_other_files_are_not_pytorch_checkpoints(tmp_path):
    for name, message in _not_torch_files(tmp_path).items():
        with pytest.raises(ValueError, match=message):
            convert_torch.load_checkpoint(str(tmp_path / name))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert_torch.load_checkpoint(str(tmp_path / "missing.pth.tar"))
    # A real legacy-format torch save still loads.
    legacy = tmp_path / "legacy.pth"
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    np.testing.assert_array_equal(convert_torch.load_checkpoint(str(legacy))[0]["w"], [0, 0])


# ----------------------------------------------------------------------------- CLI


def test_cli_end_to_end(tmp_path):
    net = make_net(18, 32, seed=5, size=128, topology="compact", width=0.5, embedding=512)
    checkpoint = tmp_path / "snapshot_24.pth.tar"
    save_checkpoint(net, checkpoint, "module")
    out = tmp_path / "imported"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "mhp_tf.convert_torch", f"--checkpoint={checkpoint}",
         f"--out={out}", "--input_size=128"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "preset 'xs'" in proc.stdout and "1,040,240 trainable" in proc.stdout, proc.stdout
    assert "wrote" in proc.stdout and (out / "model.keras").exists()

    from mhp_tf.training.config import ExperimentConfig
    cfg = ExperimentConfig.load(str(out))
    assert cfg.model == preset_config("xs", 18, input_size=128)
    assert cfg.data.normalization == "reference"
    assert json.loads((out / "config.json").read_text())["variant"] == "xs"

    model = tf.keras.models.load_model(str(out / "model.keras"))
    rgb = random_images(128, 2, seed=9)
    err = np.abs(keras_outputs(model, rgb)[0] - torch_outputs(net, rgb)[0]).max()
    assert err < TOLERANCE



def test_cli_refuses_a_text_file_in_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "mhp_tf.convert_torch", f"--checkpoint={tmp_path / 'notes.txt'}",
         f"--out={tmp_path / 'out'}"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("convert_torch: ")
    assert "notes.txt is not a PyTorch checkpoint" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
