"""Architecture golden numbers, options, config round-trip and graph constraints."""

import numpy as np
import pytest
import tensorflow as tf

import mhp_tf
from mhp_tf.export import deploy
from mhp_tf.modeling import MobileHumanPose
from mhp_tf.modeling import count_flops

from conftest import trainable_count

# Trainable (PyTorch-style) counts of the reference networks (spec, measured on PyTorch).
GOLDEN_PARAMS = [
    ("l", 18, {}, 4_073_248),
    ("s", 18, {}, 2_242_000),
    ("xs", 18, {}, 1_040_240),
    ("l", 21, {}, 4_122_592),
    ("s", 21, {}, 2_291_344),
    ("xs", 21, {}, 1_064_912),
    ("l", 18, {"concat": "none"}, 4_034_336),
]


@pytest.mark.parametrize("variant,joints,overrides,expected", GOLDEN_PARAMS)
def test_trainable_parameter_counts(variant, joints, overrides, expected):
    model = mhp_tf.build_model(variant, joints, **overrides)
    assert trainable_count(model) == expected
    # Keras also counts BN moving mean/variance: 2 per BN channel.
    bn_channels = sum(l.moving_mean.shape[0] for l in model.layers
                      if isinstance(l, tf.keras.layers.BatchNormalization))
    assert model.count_params() == expected + 2 * bn_channels


def test_keras_totals_with_bn_statistics():
    assert mhp_tf.build_model("l").count_params() == 4_114_880
    assert mhp_tf.build_model("s").count_params() == 2_272_096


@pytest.mark.parametrize("variant,gflops,conv_gmacs", [("l", 5.491, 5.279), ("s", 3.922, 3.755)])
def test_flops_reproduce_paper(variant, gflops, conv_gmacs):
    report = count_flops(mhp_tf.build_model(variant))
    assert round(report.paper_gflops, 3) == gflops
    assert round(report.conv_gmacs, 3) == conv_gmacs


# Paper Table 6 (width x embedding grid, skip concat, 18 joints): params (M), GFLOPs.
# The (0.75, 1024) row prints 3.43M; every other row and its FLOPs match, and the
# count it implies (2.43M) sits between its neighbours 2.24M and 2.80M, so we read
# it as a typo for 2.43M.
TABLE6 = [(0.75, 512, 2.24, 3.92), (1.0, 512, 3.33, 5.44), (0.75, 1024, 2.43, 3.93),
          (1.0, 1024, 3.58, 5.46), (0.75, 2048, 2.80, 3.96), (1.0, 2048, 4.07, 5.49)]


@pytest.mark.parametrize("width,embedding,mparams,gflops", TABLE6)
def test_width_embedding_grid_matches_paper_table6(width, embedding, mparams, gflops):
    model = mhp_tf.build_model("l", width_multiplier=width, embedding_size=embedding)
    assert round(trainable_count(model) / 1e6, 2) == mparams
    assert round(count_flops(model).paper_gflops, 2) == gflops


def test_residual_concat_matches_paper_table5():
    # Table 5: residual concatenation 7.25M params, 11.45 GFLOPs.
    model = mhp_tf.build_model("l", concat="residual")
    assert round(trainable_count(model) / 1e6, 2) == 7.25
    assert abs(count_flops(model).paper_gflops - 11.45) < 0.01


@pytest.mark.parametrize("variant,head,shape", [
    ("l", "coords", (1, 18, 3)), ("s", "coords", (1, 18, 3)),
    ("l", "heatmap", (1, 64, 64, 1152)), ("s", "heatmap", (1, 64, 64, 1152)),
    ("xs", "heatmap", (1, 32, 32, 576)), ("xs", "coords", (1, 18, 3)),
])
def test_output_shapes(variant, head, shape):
    model = mhp_tf.build_model(variant, head=head)
    out = model(np.zeros((1, 256, 256, 3), np.float32), training=False)
    assert tuple(out.shape) == shape
    assert out.dtype == tf.float32


@pytest.mark.parametrize("variant", ["l", "xs"])
def test_batchnorm_and_prelu_match_pytorch(variant):
    model = mhp_tf.build_model(variant)
    bns = [l for l in model.layers if isinstance(l, tf.keras.layers.BatchNormalization)]
    prelus = [l for l in model.layers if isinstance(l, tf.keras.layers.PReLU)]
    assert len(bns) > 50 and len(prelus) > 40
    for bn in bns:
        assert bn.momentum == 0.9 and bn.epsilon == 1e-5, bn.name
    for act in prelus:
        channels = act.input_shape[-1]
        assert act.alpha.shape == (1, 1, channels), act.name  # one slope per channel
        np.testing.assert_array_equal(act.alpha.numpy(), 0.25)
    assert not any(isinstance(l, tf.keras.layers.ReLU) for l in model.layers)


def test_relu_ablation_has_no_prelu():
    model = mhp_tf.build_model("xs", input_size=64, activation="relu")
    assert not any(isinstance(l, tf.keras.layers.PReLU) for l in model.layers)
    assert any(isinstance(l, tf.keras.layers.ReLU) for l in model.layers)


def test_no_transposed_conv_and_no_bias_before_bn():
    model = mhp_tf.build_model("l")
    assert not any(isinstance(l, tf.keras.layers.Conv2DTranspose) for l in model.layers)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2D) and layer.use_bias:
            # Only the decoder convs and the head have a bias (as in the reference).
            assert layer.name.startswith(("decoder", "head")), layer.name


def test_heads_share_the_network():
    coords = mhp_tf.build_model("xs", input_size=64)
    heat = mhp_tf.build_model("xs", input_size=64, head="heatmap")
    heat.set_weights(coords.get_weights())
    x = np.random.default_rng(1).uniform(-2, 2, (2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(
        mhp_tf.soft_argmax_3d(heat(x), 32).numpy(), coords(x).numpy(), atol=1e-5)


def test_layer_names_are_deterministic():
    names_a = [l.name for l in mhp_tf.build_model("s", input_size=64).layers]
    names_b = [l.name for l in mhp_tf.build_model("s", input_size=64).layers]
    assert names_a == names_b
    for expected in ("image", "stem_conv", "stem_bn", "stem_act", "block0_dw_conv",
                     "block1_expand_conv", "block1_dw_conv_pad", "block16_project_bn",
                     "embedding_conv", "decoder0_concat", "decoder2_upsample", "head_conv",
                     "soft_argmax"):
        assert expected in names_a


@pytest.mark.parametrize("overrides", [
    {}, {"head": "heatmap"}, {"concat": "residual", "activation": "relu"},
])
def test_config_round_trip(overrides):
    model = mhp_tf.build_model("l", 21, input_size=64, **overrides)
    config = model.get_config()
    assert config["num_joints"] == 21 and config["input_size"] == 64
    clone = MobileHumanPose.from_config(config)
    assert clone.get_config() == config
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(2).standard_normal((1, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(clone(x).numpy(), model(x).numpy())
    # Generic Keras entry points work too.
    generic = tf.keras.models.model_from_json(model.to_json())
    assert isinstance(generic, MobileHumanPose) and generic.get_config() == config


def _graph_ranks(model, size):
    fn = tf.function(lambda x: model(x, training=False))
    graph = fn.get_concrete_function(tf.TensorSpec([1, size, size, 3], tf.float32)).graph
    return {(op.type, out.shape.rank) for op in graph.get_operations() for out in op.outputs
            if out.shape.rank is not None}


@pytest.mark.parametrize("variant,head", [("l", "coords"), ("xs", "heatmap"), ("s", "coords")])
def test_every_tensor_has_rank_at_most_4(variant, head):
    ranks = _graph_ranks(mhp_tf.build_model(variant, input_size=64, head=head), 64)
    assert ranks, "no ops traced"
    assert max(r for _, r in ranks) <= 4, sorted(ranks)


@pytest.mark.parametrize("variant,overrides", [
    ("xs", {"concat": "none"}), ("xs", {"concat": "residual"}), ("s", {"concat": "residual"}),
])
def test_ablation_variants_run(variant, overrides):
    model = mhp_tf.build_model(variant, input_size=64, **overrides)
    out = model(np.ones((2, 64, 64, 3), np.float32))
    assert out.shape == (2, 18, 3) and np.isfinite(out.numpy()).all()


def test_mixed_precision_forward_and_gradient():
    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    model = mhp_tf.build_model("xs", input_size=64)
    assert model.get_layer("stem_conv").compute_dtype == "float16"
    assert model.get_layer("soft_argmax").compute_dtype == "float32"
    x = np.random.default_rng(3).uniform(-2, 2, (2, 64, 64, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        loss = tf.reduce_mean(tf.abs(out - 4.0))
    grads = tape.gradient(loss, model.trainable_weights)
    assert out.dtype == tf.float32 and np.isfinite(out.numpy()).all()
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
    heat = mhp_tf.build_model("xs", input_size=64, head="heatmap")
    assert heat(x).dtype == tf.float32


@pytest.mark.parametrize("call,message", [
    (lambda: mhp_tf.build_model("L"), "lower-case"),
    (lambda: mhp_tf.build_model("xxl"), "unknown MobileHumanPose variant"),
    (lambda: mhp_tf.build_model("xs", widht_multiplier=1.0), "unknown MobileHumanPose option"),
    (lambda: mhp_tf.build_model("l", input_size=100), "multiple of the 'paper' encoder stride 32"),
    (lambda: mhp_tf.build_model("xs", input_size=96), "multiple of the 'compact' encoder stride 64"),
    (lambda: mhp_tf.build_model("l", concat="dense"), "concat='dense'"),
    (lambda: mhp_tf.build_model("l", head="mesh"), "head='mesh'"),
    (lambda: mhp_tf.build_model("l", num_joints=0), "num_joints must be a positive int"),
    (lambda: mhp_tf.build_model("l", activation="gelu"), "activation='gelu'"),
])
def test_bad_options_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("variant,head", [("xs", "coords"), ("s", "heatmap")])
def test_head_before_upsample_computes_the_same_function(variant, head):
    # conv1x1 and align-corners bilinear upsampling commute (both linear, the
    # interpolation weights of every output pixel sum to one, so the bias passes
    # through): the reordered graph must give the reference's output with its weights.
    ref = mhp_tf.build_model(variant, input_size=64, head=head)
    fast = mhp_tf.build_model(variant, input_size=64, head=head, head_before_upsample=True)
    assert "decoder2_upsample" in [l.name for l in ref.layers]
    assert "decoder2_upsample" not in [l.name for l in fast.layers]
    rng = np.random.default_rng(3)
    # A head far from its N(0, 0.001) init, so the logits (and coords) are far from uniform.
    head_conv = ref.get_layer("head_conv")
    kernel, bias = head_conv.get_weights()
    head_conv.set_weights([rng.normal(0, 0.2, kernel.shape).astype(np.float32),
                           rng.normal(0, 1.0, bias.shape).astype(np.float32)])
    deploy.copy_weights_by_name(ref, fast, "reordering the head")
    assert len(fast.weights) == len(ref.weights)
    x = rng.uniform(-2, 2, (2, 64, 64, 3)).astype(np.float32)
    want, got = ref(x).numpy(), fast(x).numpy()
    assert got.shape == want.shape
    if head == "coords":
        assert want.std() > 0.2  # not every joint at the grid centre
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    # The full-resolution logits are where callers look for them.
    assert fast.logits_layer.name == "head_upsample" and ref.logits_layer.name == "head_conv"
    assert tuple(fast.logits_layer.output.shape[1:3]) == (fast.heatmap_shape[0],) * 2


def test_head_before_upsample_quarters_the_head_macs():
    ref = mhp_tf.build_model("xs", input_size=128)
    fast = mhp_tf.build_model("xs", input_size=128, head_before_upsample=True)
    # Head: 1x1 conv 256 -> 18 * 32 channels, on 16x16 (reference) or 8x8 cells.
    saved = (16 * 16 - 8 * 8) * 256 * 18 * 32
    assert count_flops(ref).conv_macs - count_flops(fast).conv_macs == saved
    config = fast.get_config()
    assert config["head_before_upsample"] is True
    assert MobileHumanPose.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="head_before_upsample must be a bool"):
        mhp_tf.build_model("xs", input_size=64, head_before_upsample="yes")
