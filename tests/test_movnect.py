"""MoVNect: architecture, parameter counts, targets, read-out, losses, training, TFLite."""

import contextlib
import io
import json

import numpy as np
import pytest
import tensorflow as tf

from mhp_tf import skeletons
from mhp_tf.inference import backends
from mhp_tf.modeling import movnect as mv

J = 15


@pytest.fixture(scope="module")
def model_a64():
    return mv.build_movnect("A", input_size=64)


# ----------------------------------------------------------------------------- params


def _bn(channels, with_stats):
    return (4 if with_stats else 2) * channels


def _expected_params(variant, num_joints=J, with_stats=True):
    """Independent count: MobileNetV2 to block 12 + MoVNect head (Figure 2 / Table 1)."""
    bn = lambda c: _bn(c, with_stats)  # noqa: E731
    total = 3 * 3 * 3 * 32 + bn(32)  # Conv1
    cin = 32
    for t, cout, n in ((1, 16, 1), (6, 24, 2), (6, 32, 3), (6, 64, 4), (6, 96, 3)):
        for _ in range(n):
            hidden = cin * t
            if t != 1:
                total += cin * hidden + bn(hidden)
            total += 9 * hidden + bn(hidden) + hidden * cout + bn(cout)
            cin = cout
    (a1, _, a3), (b1, _, b3) = {
        "A": ((368, 368, 256), (192, 192, 128)), "B": ((368, 368, 256), (192, 192, 128)),
        "C": ((512, 512, 512), (256, 256, 128))}[variant]
    k = 4 if variant == "B" else 3
    total += 96 * a1 + bn(a1) + 9 * a1 + bn(a1) + a1 * a3 + bn(a3)  # Block13_a main
    total += 96 * a3 + bn(a3)                                       # shortcut
    total += a3 * b1 + bn(b1) + 9 * b1 + bn(b1) + b1 * b3 + bn(b3)  # Block13_b
    total += k * k * b3 * 128 + bn(128)                             # features
    total += k * k * b3 * 3 * num_joints + bn(3 * num_joints)       # dX, dY, dZ
    c = 128 + 4 * num_joints                                        # concat
    total += c * 128 + bn(128) + 9 * 128 + bn(128)                  # Block15
    total += 128 * 4 * num_joints + 4 * num_joints                  # output conv + bias
    return total


def _trainable(model):
    return sum(int(w.shape.num_elements()) for w in model.trainable_weights)


def test_block13_a_by_hand(model_a64):
    # 1x1 96->368 + BN, 3x3 depthwise 368 + BN, 1x1 368->256 + BN, shortcut 1x1 96->256 + BN
    # (BN: gamma, beta, moving mean, moving variance).
    expected = (96 * 368 + 4 * 368) + (9 * 368 + 4 * 368) + (368 * 256 + 4 * 256) \
        + (96 * 256 + 4 * 256)
    assert expected == 162_416
    got = sum(layer.count_params() for layer in model_a64.layers
              if layer.name.startswith("block13_a_"))
    assert got == expected
    # Block15's output conv: 1x1 128 -> 4J with bias.
    assert model_a64.get_layer("block15_output_conv").count_params() == 128 * 60 + 60


def test_parameter_counts(model_a64):
    # Golden values: equal to the independent arithmetic above, i.e. Figure 2's layer
    # structure with Table 1's widths (see the module docstring). The paper reports
    # A 1.03M, B 1.13M, C 2.69M (Keras "Total params", BN moving statistics included).
    golden = {"A": (1_032_544, 1_012_038), "B": (1_187_552, 1_167_046),
              "C": (1_334_576, 1_312_214)}
    for variant, (total, trainable) in golden.items():
        assert _expected_params(variant) == total
        assert _expected_params(variant, with_stats=False) == trainable
        model = model_a64 if variant == "A" else mv.build_movnect(variant, input_size=64)
        assert model.count_params() == total, variant
        assert _trainable(model) == trainable, variant
    base = tf.keras.Model(model_a64.input, model_a64.get_layer(mv.BASE_OUTPUT_LAYER).output)
    assert base.count_params() == 558_656
    assert base.output_shape == (None, 4, 4, 96)


def test_base_matches_keras_applications(model_a64, rng):
    ref = tf.keras.applications.MobileNetV2(input_shape=(64, 64, 3), include_top=False,
                                            weights=None)
    ref_base = tf.keras.Model(ref.input, ref.get_layer("block_12_add").output)
    assert ref_base.count_params() == 558_656
    for layer in ref_base.layers:  # non-trivial BN statistics
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                               for w in layer.get_weights()])
    copied = mv.copy_mobilenet_v2_weights(model_a64, ref)
    assert copied == 2 + 4 + 12 * 6  # Conv1 + BN, block 0 (no expand), blocks 1-12
    ours = tf.keras.Model(model_a64.input, model_a64.get_layer("block_12_add").output)
    x = rng.normal(size=(2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(x, training=False).numpy(),
                               ref_base(x, training=False).numpy(), rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- graph


def test_output_shapes_two_sizes(model_a64, rng):
    out = model_a64(rng.normal(size=(2, 64, 64, 3)).astype(np.float32), training=False)
    assert out.shape == (2, 8, 8, 60) and out.dtype == tf.float32
    big = mv.build_movnect("A", input_size=256)
    assert big.output_shape == (None, 32, 32, 60)
    assert big(np.zeros((1, 256, 256, 3), np.float32)).shape == (1, 32, 32, 60)
    assert big.movnect_config.heatmap_size == 32
    parts = mv.split_outputs(out)
    assert parts["heatmaps"].shape == (2, 8, 8, 15)
    assert parts["location_maps"].shape == (2, 8, 8, 45)
    np.testing.assert_array_equal(parts["z"].numpy(), out.numpy()[..., 45:])


def test_every_tensor_rank_le_4(model_a64):
    for layer in model_a64.layers:
        for tensor in tf.nest.flatten(layer.output):
            assert tensor.shape.rank <= 4, layer.name
    names = [layer.name for layer in model_a64.layers]
    assert len(names) == len(set(names))
    for name in ("Conv1", "block_12_add", "block13_a_add", "block13_b_project_relu",
                 "block14_upsample", "block14_delta_BN", "block14_bone_length",
                 "block14_concat", "block15_output_conv", "outputs"):
        assert name in names


def test_get_config_round_trip(model_a64):
    config = model_a64.get_config()
    assert config["variant"] == "A" and config["num_joints"] == 15
    clone = mv.MoVNect.from_config(config)
    assert clone.get_config() == config
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model_a64.layers]
    assert clone.count_params() == model_a64.count_params()

    custom = mv.MoVNect(name="custom", num_joints=4, input_size=32, variant="C",
                        bone_features="parent", parents=(-1, 0, 1, 1), align_corners=False)
    # Through JSON (tuples come back as lists): model_from_json -> MoVNect.from_config.
    rebuilt = tf.keras.models.model_from_json(custom.to_json())
    assert isinstance(rebuilt, mv.MoVNect)
    assert rebuilt.get_config() == json.loads(json.dumps(custom.get_config()))
    assert rebuilt.movnect_config == custom.movnect_config
    assert rebuilt.movnect_config.parents == (-1, 0, 1, 1)
    assert rebuilt.get_layer("block14_bone_length").parents == [-1, 0, 1, 1]
    assert rebuilt.output_shape == (None, 4, 4, 16)


@pytest.mark.parametrize("bad", [dict(input_size=72), dict(variant="D"),
                                 dict(bone_features="l2"), dict(num_joints=4,
                                                                bone_features="parent"),
                                 dict(num_joints=3, parents=(-1, 0)), dict(alpha=0)])
def test_invalid_config(bad):
    with pytest.raises(ValueError):
        mv.MoVNectConfig(**bad)


# ----------------------------------------------------------------------------- bone length


def test_bone_length_feature_against_numpy(model_a64, rng):
    d = rng.normal(size=(2, 3, 4, 3 * J)).astype(np.float32)
    dx, dy, dz = d[..., :J], d[..., J:2 * J], d[..., 2 * J:]
    learned = mv.BoneLengthFeature(J)(d).numpy()
    np.testing.assert_allclose(learned, np.abs(dx) + np.abs(dy) + np.abs(dz), rtol=1e-6)

    parents = np.array(mv.MOVNECT_PARENTS)

    def rel(v):
        return v - np.where(parents >= 0, v[..., np.maximum(parents, 0)], 0.0)

    expected = np.abs(rel(dx)) + np.abs(rel(dy)) + np.abs(rel(dz))
    got = mv.BoneLengthFeature(J, mv.MOVNECT_PARENTS)(d).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)

    # Inside the network: BL is computed from the dX/dY/dZ conv branch and concatenated.
    probe = tf.keras.Model(model_a64.input, [model_a64.get_layer("block14_delta_BN").output,
                                             model_a64.get_layer("block14_bone_length").output,
                                             model_a64.get_layer("block14_concat").output])
    delta, bone, concat = [t.numpy() for t in probe(
        rng.normal(size=(1, 64, 64, 3)).astype(np.float32), training=False)]
    np.testing.assert_allclose(
        bone, np.abs(delta[..., :J]) + np.abs(delta[..., J:2 * J]) + np.abs(delta[..., 2 * J:]),
        rtol=1e-5, atol=1e-6)
    assert concat.shape[-1] == 128 + 4 * J
    np.testing.assert_array_equal(concat[..., 128:128 + 3 * J], delta)
    np.testing.assert_array_equal(concat[..., 128 + 3 * J:], bone)


# ----------------------------------------------------------------------------- joint set


def test_joint_set_and_h36m_mapping():
    assert len(mv.MOVNECT_JOINTS) == 15 and mv.MOVNECT_JOINTS[mv.MOVNECT_ROOT] == "Pelvis"
    # Parents form a tree rooted at Pelvis.
    for j in range(15):
        seen, k = set(), j
        while mv.MOVNECT_PARENTS[k] >= 0:
            assert k not in seen
            seen.add(k)
            k = mv.MOVNECT_PARENTS[k]
        assert k == mv.MOVNECT_ROOT
    h36m = skeletons.H36M.joints
    idx = mv.movnect_mapping_indices("h36m")
    expected = {"Head_top": "Head", "Thorax": "Thorax"}
    for j, name in enumerate(mv.MOVNECT_JOINTS):
        assert h36m[idx[j]] == expected.get(name, name)
    assert sorted(set(range(18)) - set(idx.tolist())) == [7, 8, 9]  # Torso, Neck, Nose
    values = np.arange(18 * 3, dtype=np.float32).reshape(18, 3)
    out, vis = mv.map_to_movnect(values, np.ones(18), "h36m")
    np.testing.assert_array_equal(out, values[idx])
    assert vis.sum() == 15
    coco = mv.movnect_mapping_indices("coco")
    assert coco[0] == -1 and (coco[1:] >= 0).all()  # COCO has no head top
    _, vis = mv.map_to_movnect(np.zeros((19, 2)), np.ones(19), "coco")
    assert vis[0] == 0
    assert mv.MOVNECT_SKELETON.flip_permutation()[2] == 5


# ----------------------------------------------------------------------------- targets


def test_targets_gaussian_and_location_maps():
    coords = np.array([[2.0, 3.0], [2.5, 1.0], [4.0, 4.0]], np.float32)
    rel = np.array([[100.0, -200.0, 300.0], [0.0, 50.0, -1000.0], [7.0, 7.0, 7.0]], np.float32)
    vis = np.array([1.0, 1.0, 0.0], np.float32)
    t = mv.movnect_targets(coords, rel, vis, heatmap_size=(6, 8), sigma=1.0).numpy()
    assert t.shape == (6, 8, 12)
    hm = t[..., :3]
    # Joint 0 on a cell centre: peak 1 at (row 3, col 2), exp(-d^2 / 2) around it.
    assert np.unravel_index(np.argmax(hm[..., 0]), (6, 8)) == (3, 2)
    assert hm[3, 2, 0] == pytest.approx(1.0)
    assert hm[3, 3, 0] == pytest.approx(np.exp(-0.5))
    assert hm[4, 3, 0] == pytest.approx(np.exp(-1.0))
    assert hm[0, 7, 0] == pytest.approx(np.exp(-(25 + 9) / 2))
    # Joint 1 halfway between columns 2 and 3.
    assert hm[1, 2, 1] == pytest.approx(np.exp(-0.125))
    assert hm[1, 3, 1] == pytest.approx(np.exp(-0.125))
    assert hm[..., 1].max() == pytest.approx(np.exp(-0.125))
    assert not hm[..., 2].any()  # invisible joint
    # Location maps: X | Y | Z blocks, constant, in decimetres (100 mm).
    np.testing.assert_allclose(t[..., 3:6], np.broadcast_to([1.0, 0.0, 0.0], (6, 8, 3)))
    np.testing.assert_allclose(t[..., 6:9], np.broadcast_to([-2.0, 0.5, 0.0], (6, 8, 3)))
    np.testing.assert_allclose(t[..., 9:12], np.broadcast_to([3.0, -10.0, 0.0], (6, 8, 3)))
    in_m = mv.movnect_targets(coords, rel / 1000.0, vis, (6, 8), 1.0, units="m",
                              location_unit_mm=1000.0).numpy()
    np.testing.assert_allclose(in_m[..., 3:], t[..., 3:] / 10.0, rtol=1e-6)

    batched = mv.movnect_targets(np.stack([coords, coords]), np.stack([rel, rel]),
                                 np.stack([vis, vis]), (6, 8), 1.0).numpy()
    np.testing.assert_allclose(batched, np.stack([t, t]))

    ds = tf.data.Dataset.from_tensors((coords, rel, vis)).map(
        lambda c, r, v: mv.movnect_targets(c, r, v, 8, sigma=2.0))
    (element,) = list(ds)
    assert element.shape == (8, 8, 12)
    # Readout of a target recovers the joint: 2D at the peak, 3D in mm.
    out = mv.movnect_readout(t[None])
    np.testing.assert_allclose(out["coords_2d"][0, 0], [2.0, 3.0])
    np.testing.assert_allclose(out["joints_3d"][0, 0], rel[0], rtol=1e-5)


# ----------------------------------------------------------------------------- read-out


def _hand_output():
    """One [1, 4, 5, 8] output, J = 2: heatmaps, then X, Y, Z for the two joints."""
    out = np.zeros((1, 4, 5, 8), np.float32)
    hm0 = out[0, :, :, 0]
    hm0[1, 3] = 1.0                # joint 0 max at x=3, y=1
    hm0[1, 2], hm0[1, 4] = 0.5, 0.7
    hm0[0, 3], hm0[2, 3] = 0.2, 0.2
    out[0, 2, 0, 1] = 0.9          # joint 1 max at x=0, y=2 (left border)
    out[0, 2, 1, 1] = 0.4
    out[0, 1, 0, 1], out[0, 3, 0, 1] = 0.1, 0.5
    out[0, 1, 3, [2, 4, 6]] = [1.5, -2.0, 0.25]   # X0, Y0, Z0 at joint 0's maximum
    out[0, 2, 0, [3, 5, 7]] = [-0.5, 3.0, 4.0]    # X1, Y1, Z1 at joint 1's maximum
    out[0, 1, 2, [2, 4, 6]] = 99.0                # neighbours must not leak in
    return out


def test_readout_against_hand_computation():
    out = _hand_output()
    res = mv.movnect_readout(out, location_unit_mm=1.0)
    np.testing.assert_array_equal(res["coords_2d"].numpy(), [[[3.0, 1.0], [0.0, 2.0]]])
    np.testing.assert_allclose(res["joints_3d"].numpy(),
                               [[[1.5, -2.0, 0.25], [-0.5, 3.0, 4.0]]])
    np.testing.assert_allclose(res["confidence"].numpy(), [[1.0, 0.9]])
    mm = mv.movnect_readout(out)["joints_3d"].numpy()
    np.testing.assert_allclose(mm, res["joints_3d"].numpy() * 100.0, rtol=1e-6)

    refined = mv.movnect_readout(out, refine=True, location_unit_mm=1.0)
    # Parabola through (2, 0.5), (3, 1.0), (4, 0.7): vertex at 3 + 0.5 * (0.5 - 0.7) /
    # (0.5 - 2 + 0.7) = 3.125; along y the neighbours are equal: no shift. Joint 1 is on
    # the left border (no x refinement); along y: 2 + 0.5 * (0.1 - 0.5) / (0.1 - 1.8 + 0.5).
    np.testing.assert_allclose(refined["coords_2d"].numpy(),
                               [[[3.125, 1.0], [0.0, 2.0 + 0.5 * -0.4 / -1.2]]], rtol=1e-5)
    np.testing.assert_allclose(refined["joints_3d"].numpy(), res["joints_3d"].numpy())

    single = mv.movnect_readout(out[0], location_unit_mm=1.0)
    np.testing.assert_array_equal(single["coords_2d"].numpy(), [[3.0, 1.0], [0.0, 2.0]])
    as_dict = mv.movnect_readout({"heatmaps": out[..., :2], "location_maps": out[..., 2:]},
                                 location_unit_mm=1.0)
    np.testing.assert_allclose(as_dict["joints_3d"].numpy(), res["joints_3d"].numpy())

    # Bilinear sampling halfway between joint 0's cell (x=3) and x=2 (X0 = 99 there).
    mid = mv.read_location_maps(out[..., 2:], [[[2.5, 1.0], [0.0, 2.0]]], "bilinear")
    np.testing.assert_allclose(mid.numpy()[0, 0], [(1.5 + 99) / 2, (-2 + 99) / 2,
                                                    (0.25 + 99) / 2], rtol=1e-6)


# ----------------------------------------------------------------------------- losses


def _np_norm(a, axes):
    return np.sqrt(np.sum(a ** 2, axis=axes))


def test_losses_against_numpy(rng):
    b, h, w, j = 3, 4, 5, 6
    pred, gt, teacher = (rng.normal(size=(b, h, w, 4 * j)).astype(np.float32)
                         for _ in range(3))
    gt[..., :j] = rng.uniform(size=(b, h, w, j))
    weights = rng.uniform(size=(b, j)).astype(np.float32)
    ph, gh, th = pred[..., :j], gt[..., :j], teacher[..., :j]
    pl, gl, tl = pred[..., j:], gt[..., j:], teacher[..., j:]

    # Heatmaps: 1/J sum_j ||.||_2 over the map, batch mean.
    hm_gt = _np_norm(ph - gh, (1, 2))
    hm_t = _np_norm(ph - th, (1, 2))
    np.testing.assert_allclose(mv.movnect_heatmap_loss(ph, gh), hm_gt.mean(), rtol=1e-5)
    np.testing.assert_allclose(mv.movnect_heatmap_loss(ph, gh, th, alpha=0.3, joint_weights=
                                                       weights),
                               ((0.3 * hm_gt + 0.7 * hm_t) * weights).mean(), rtol=1e-5)

    # Location maps: sum_j ||H_j^GT * (L_j - L_j^GT)||_2 over X, Y, Z maps of joint j.
    def lm(target):
        diff = (gh[..., None, :] * (pl - target).reshape(b, h, w, 3, j))
        return _np_norm(diff, (1, 2, 3))  # [b, j]

    np.testing.assert_allclose(mv.movnect_location_loss(pl, gl, gh), lm(gl).sum(1).mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(
        mv.movnect_location_loss(pl, gl, gh, tl, alpha=0.5, joint_weights=weights),
        ((0.5 * lm(gl) + 0.5 * lm(tl)) * weights).sum(1).mean(), rtol=1e-5)

    total = mv.movnect_loss(gt, pred, teacher=teacher, alpha=0.5, location_weight=2.0)
    np.testing.assert_allclose(total["heatmap"], (0.5 * hm_gt + 0.5 * hm_t).mean(), rtol=1e-5)
    np.testing.assert_allclose(total["location"], (0.5 * lm(gl) + 0.5 * lm(tl)).sum(1).mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(total["loss"], total["heatmap"] + 2 * total["location"],
                               rtol=1e-6)

    # A perfect prediction: zero loss and a finite (zero) gradient, not NaN.
    x = tf.Variable(gt)
    with tf.GradientTape() as tape:
        loss = mv.movnect_loss(gt, x)["loss"]
    grad = tape.gradient(loss, x)
    assert float(loss) == 0.0 and np.all(np.isfinite(grad.numpy()))


# ----------------------------------------------------------------------------- training


def test_one_training_step(model_a64, rng):
    model = model_a64
    images = rng.normal(size=(2, 64, 64, 3)).astype(np.float32)
    coords = rng.uniform(0, 7, size=(2, J, 2)).astype(np.float32)
    rel = rng.normal(0, 300, size=(2, J, 3)).astype(np.float32)
    vis = np.ones((2, J), np.float32)
    targets = mv.movnect_targets(coords, rel, vis, model.heatmap_size, sigma=1.0)
    optimizer = tf.keras.optimizers.Adam(1e-3)
    before = model.get_layer("block15_output_conv").get_weights()[0].copy()
    with tf.GradientTape() as tape:
        losses = mv.movnect_loss(targets, model(images, training=True),
                                 location_weights=vis)
    grads = tape.gradient(losses["loss"], model.trainable_variables)
    assert all(g is not None for g in grads)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    assert np.isfinite(float(losses["loss"])) and float(losses["loss"]) > 0
    assert not np.array_equal(before, model.get_layer("block15_output_conv").get_weights()[0])


# ----------------------------------------------------------------------------- TFLite


@pytest.mark.slow  # the conversion alone takes 13-15 s of CPU, 30 s+ on a busy machine
def test_tflite_conversion_builtin_ops_gpu_compatible(model_a64, rng):
    from mhp_tf.export import tflite

    with pytest.raises(ValueError, match="no coords head"):
        tflite.convert_tflite(model_a64, "none", "coords")
    content = tflite.convert_tflite(model_a64, "none", "heatmap")  # the export module's path
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        tf.lite.experimental.Analyzer.analyze(model_content=content, gpu_compatibility=True)
    assert "looks compatible with GPU delegate" in report.getvalue(), report.getvalue()[-2000:]

    interpreter = backends.litert_interpreter_class()(model_content=content)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert ops <= {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "RESIZE_BILINEAR", "ABS", "SPLIT",
                   "CONCATENATION", "PAD", "STRIDED_SLICE"}, ops
    assert max(len(t["shape"]) for t in interpreter.get_tensor_details()) <= 4
    interpreter.allocate_tensors()
    x = rng.normal(size=(1, 64, 64, 3)).astype(np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    want = model_a64(x, training=False).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)

    # Full-integer int8 through the same entry point: no float ops, int8 in and out. At
    # random init the inference-mode activations vanish (~1e-10 at the output), so set the
    # BatchNorm statistics from one batch first (momentum 0: moving stats = batch stats).
    model = mv.build_movnect("A", input_size=64, bn_momentum=0.0)
    model(rng.normal(size=(8, 64, 64, 3)).astype(np.float32), training=True)
    want = model(x, training=False).numpy()
    assert want.max() - want.min() > 0.1
    calibration = rng.normal(size=(16, 64, 64, 3)).astype(np.float32)
    int8 = tflite.convert_tflite(model, "int8", "heatmap", representative_dataset=calibration,
                                 num_calibration=16)
    report = tflite.op_report(int8, gpu_compatibility=False)
    assert not report["float_ops"] and report["max_rank"] <= 4, report
    got8 = tflite.run_tflite(int8, x)
    assert got8.shape == want.shape
    # A random network amplifies quantization noise (measured correlation with the float
    # output 0.79 here); a broken conversion (input scale, channel order) gives ~0.
    assert np.corrcoef(got8.ravel(), want.ravel())[0, 1] > 0.6
