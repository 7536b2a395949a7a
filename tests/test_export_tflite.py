"""TFLite export (mhp_tf.export.tflite) and quantization-aware training (mhp_tf.export.qat).

Tiny networks (XS / S topology at 64x64, 18 joints, 8 depth bins) with random
weights, random batch-norm statistics and a head scaled up so that the
soft-argmax is peaked and the coordinates vary between images. Bounds, in
heatmap units (the XS grid here is 8x8x8):

* fp32 TFLite vs Keras: 1e-4 (coords, logits and decoded heatmaps);
* fp16: 2e-3; dynamic range: 5e-2;
* int8 PTQ (calibrated on 8 images of the synthetic set): 0.2, with the PReLU
  rewrite (the default) and with the native PRELU op;
* the PReLU rewrite in float (Keras): 1e-5 relative to the logits' range;
* QAT int8 TFLite vs the Keras QAT model: 0.15.
"""

import numpy as np
import pytest
import tensorflow as tf

import mhp_tf
from mhp_tf.export import deploy
from mhp_tf.export import tflite

TINY = dict(num_joints=18, input_size=64, depth_bins=8, embedding_size=64,
            initializer="torch_default")
# Ops the float soft-argmax tail of an int8 coords model may use.
SOFT_ARGMAX_OPS = {"DEQUANTIZE", "RESHAPE", "TRANSPOSE", "SOFTMAX", "SUM", "MUL", "PACK",
                   "EXP", "LOG", "SUB", "ADD", "REDUCE_MAX", "EQUAL", "SELECT_V2", "IS_FINITE"}
# Ops of an int8 model with the PReLU rewrite (mhp_tf.export.deploy): no PRELU.
INT8_REWRITE_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "PAD", "CONCATENATION",
                    "RESIZE_BILINEAR"}


def _randomize(model, seed=0, head_gain=20.0):
    """Random BN statistics (so folding is exercised) and a peaked soft-argmax."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 2.0, var.shape)])
    head = model.get_layer("head_conv")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * head_gain, bias])
    return model


@pytest.fixture(scope="module")
def xs_model():
    tf.keras.utils.set_random_seed(0)
    return _randomize(mhp_tf.build_model("xs", **TINY))


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).normal(0.0, 1.0, (6, 64, 64, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def keras_out(xs_model, images):
    return {"coords": xs_model(images, training=False).numpy(),
            "heatmap": tflite.with_head(xs_model, "heatmap")(images, training=False).numpy()}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tflite_data"))


@pytest.fixture(scope="module")
def calibration(xs_model, data_dir):
    """8 calibration images of synthetic/tiny through the real pipeline (built on first use)."""
    return tflite.calibration_dataset("synthetic/tiny", xs_model.mhp_config, "imagenet", num=8,
                                      data_dir=data_dir, shuffle_buffer=16)


@pytest.fixture(scope="module")
def converted(xs_model, calibration):
    cache = {}

    def get(quant, head):
        if (quant, head) not in cache:
            cache[quant, head] = tflite.convert_tflite(
                xs_model, quant, head, representative_dataset=calibration, num_calibration=8)
        return cache[quant, head]

    return get


def _coords(output, head, depth=8):
    return output if head == "coords" else tflite.decode_heatmap_output(output, depth)


# ----------------------------------------------------------------------------- float


def test_decode_heatmap_output_matches_soft_argmax():
    logits = np.random.default_rng(0).normal(0, 3, (2, 5, 6, 3 * 4)).astype(np.float32)
    expected = mhp_tf.soft_argmax_3d(logits, 4).numpy()
    np.testing.assert_allclose(tflite.decode_heatmap_output(logits, 4), expected, atol=1e-5)
    np.testing.assert_allclose(tflite.decode_heatmap_output(logits[0], 4), expected[0], atol=1e-5)
    np.testing.assert_allclose(tflite.float_soft_argmax_3d(logits, 4).numpy(), expected,
                               atol=1e-5)


@pytest.mark.parametrize("head", ["coords", "heatmap"])
def test_fp32_matches_keras(converted, images, keras_out, head):
    out = tflite.run_tflite(converted("none", head), images)
    np.testing.assert_allclose(out, keras_out[head], atol=1e-4)
    np.testing.assert_allclose(_coords(out, head), keras_out["coords"], atol=1e-4)
    assert np.ptp(keras_out["coords"]) > 1.0  # a peaked soft-argmax, not the grid centre


def test_fp32_paper_topology_matches_keras(images):
    tf.keras.utils.set_random_seed(1)
    model = _randomize(mhp_tf.build_model("s", **TINY), seed=1)
    assert model.mhp_config.topology == "paper" and model.heatmap_shape[:2] == (16, 16)
    content = tflite.convert_tflite(model, head="coords")
    np.testing.assert_allclose(tflite.run_tflite(content, images[:3]),
                               model(images[:3], training=False).numpy(), atol=1e-4)
    report = tflite.op_report(content, gpu_compatibility=False)
    assert report["max_rank"] <= 4 and not report["custom_ops"]
    prelus = sum(isinstance(l, tf.keras.layers.PReLU) for l in model.layers)
    assert report["ops"]["PRELU"] == prelus and report["ops"]["RESIZE_BILINEAR"] == 3


@pytest.mark.parametrize("quant,bound", [("fp16", 2e-3), ("dynamic", 5e-2)])
@pytest.mark.parametrize("head", ["coords", "heatmap"])
def test_fp16_and_dynamic_within_bounds(converted, images, keras_out, quant, bound, head):
    out = tflite.run_tflite(converted(quant, head), images)
    np.testing.assert_allclose(_coords(out, head), keras_out["coords"], atol=bound)


# ----------------------------------------------------------------------------- int8


def test_calibration_dataset_from_pipeline(calibration, xs_model):
    first = [s[0] for s in calibration()]
    assert len(first) == 8
    assert all(x.shape == (1, 64, 64, 3) and x.dtype == np.float32 for x in first)
    stacked = np.concatenate(first)
    assert -2.2 < stacked.min() < 0.0 < stacked.max() < 2.7  # ImageNet-normalised pixels
    assert np.ptp(stacked.mean(axis=(1, 2, 3))) > 0  # different crops
    np.testing.assert_array_equal(stacked, np.concatenate([s[0] for s in calibration()]))
    # Batches, dicts and plain arrays are all accepted and split into single images.
    samples = tflite.representative_samples(lambda: [{"image": stacked[:3]}, stacked[3:]], 5)
    assert [s[0].shape for s in samples()] == [(1, 64, 64, 3)] * 5


def test_int8_heatmap_is_full_integer(converted, images, keras_out):
    content = converted("int8", "heatmap")
    report = tflite.op_report(content)
    assert report["float_ops"] == {}, report["op_types"]
    assert report["input"][0]["dtype"] == "int8" and report["output"][0]["dtype"] == "int8"
    # PReLU rewritten (prelu='auto'): slopes 0.25 -> one 1x1 depthwise conv + ADD each.
    assert set(report["ops"]) == INT8_REWRITE_OPS
    assert report["ops"]["DEPTHWISE_CONV_2D"] == 17 + 41
    assert report["max_rank"] <= 4 and report["gpu_compatible"]
    logits = tflite.run_tflite(content, images)
    np.testing.assert_allclose(tflite.decode_heatmap_output(logits, 8), keras_out["coords"],
                               atol=0.2)


def test_int8_coords_keeps_soft_argmax_float(converted, images, keras_out):
    content = converted("int8", "coords")
    report = tflite.op_report(content, gpu_compatibility=False)
    assert report["input"][0]["dtype"] == "int8" and report["output"][0]["dtype"] == "float32"
    assert set(report["float_ops"]) <= SOFT_ARGMAX_OPS, report["float_ops"]
    assert report["op_types"]["SOFTMAX FLOAT32->FLOAT32"] == 1
    assert report["float_ops"]["DEQUANTIZE"] == 1  # one exit from int8: the logits
    assert "PRELU" not in report["ops"]
    np.testing.assert_allclose(tflite.run_tflite(content, images), keras_out["coords"], atol=0.2)
    # Same body as the heatmap model: same error.
    heat = tflite.decode_heatmap_output(tflite.run_tflite(converted("int8", "heatmap"), images), 8)
    np.testing.assert_allclose(tflite.run_tflite(content, images), heat, atol=1e-3)


@pytest.mark.parametrize("quant", ["none", "fp16", "dynamic", "int8"])
@pytest.mark.parametrize("head", ["coords", "heatmap"])
def test_op_report_builtin_only_rank4(converted, quant, head):
    report = tflite.op_report(converted(quant, head))
    assert report["custom_ops"] == {} and report["flex_ops"] == {}
    assert report["max_rank"] <= 4 and report["rank_gt4"] == []
    assert report["gpu_compatible"], report["gpu_messages"]
    assert report["input"][0]["shape"] == [1, 64, 64, 3]
    assert report["output"][0]["shape"] == ([1, 18, 3] if head == "coords" else [1, 8, 8, 144])
    assert ("SOFTMAX" in report["ops"]) == (head == "coords")
    text = tflite.format_op_report(report)
    assert "max tensor rank 4" in text and "GPU delegate: compatible" in text


def test_conversion_errors(xs_model):
    with pytest.raises(ValueError, match="calibration"):
        tflite.convert_tflite(xs_model, "int8")
    with pytest.raises(ValueError, match="quant="):
        tflite.convert_tflite(xs_model, "int4")
    with pytest.raises(ValueError, match="head="):
        tflite.convert_tflite(xs_model, "none", head="volume")
    with pytest.raises(ValueError, match="quantization-aware"):
        tflite.convert_tflite(xs_model, "qat")


# ----------------------------------------------------------------------------- QAT


@pytest.mark.slow  # tfmot's quantize_apply and the QAT training graph: 1-3 min on 2 cores
def test_qat_finetune_converts_to_int8(xs_model, calibration, data_dir, tmp_path, images):
    from mhp_tf.data import datasets
    from mhp_tf.data import pipeline
    from mhp_tf.export import qat

    float_logits = tflite.with_head(xs_model, "heatmap")(images, training=False).numpy()
    model = qat.quantize_model(xs_model, representative_dataset=calibration, num_calibration=8)
    assert model.mhp_config.head == "heatmap"
    prelu = [l for l in model.layers if type(getattr(l, "layer", None)).__name__ == "PReLU"]
    assert len(prelu) == 41 and all(
        isinstance(l.quantize_config, qat.OutputQuantizeConfig) for l in prelu)
    # Ranges start from calibration: before any training the QAT model is the
    # float model up to quantization noise (tfmot's defaults would zero the weights).
    qat_logits = model(images, training=False).numpy()
    assert np.abs(qat_logits - float_logits).max() < 0.1 * np.abs(float_logits).max()

    cfg = pipeline.PipelineConfig.for_model(xs_model.mhp_config, normalization="imagenet")
    ds = datasets.build_dataset("synthetic/tiny", "train", data_dir, training=True, batch_size=4,
                                config=cfg, shuffle_buffer=16)
    result = qat.qat_finetune(model, ds, steps=3, learning_rate=1e-4)
    assert len(result["losses"]) == 3 and np.isfinite(result["losses"]).all()

    keras_logits = model(images, training=False).numpy()
    keras_coords = qat.coords_model(model)(images, training=False).numpy()
    heat = tflite.convert_tflite(model, "qat", "heatmap")
    report = tflite.op_report(heat)
    assert report["float_ops"] == {}, report["op_types"]
    assert report["op_types"]["PRELU INT8->INT8"] == 41
    assert report["input"][0]["dtype"] == "int8" and report["output"][0]["dtype"] == "int8"
    assert report["max_rank"] <= 4 and not report["custom_ops"] and report["gpu_compatible"]
    out = tflite.run_tflite(heat, images)
    np.testing.assert_allclose(tflite.decode_heatmap_output(out, 8), keras_coords, atol=0.15)
    scale = report["output"][0]["quantization"][0]
    assert np.abs(out - keras_logits).max() < 8 * scale

    coords = tflite.convert_tflite(model, "qat", "coords")
    report = tflite.op_report(coords, gpu_compatibility=False)
    assert set(report["float_ops"]) <= SOFT_ARGMAX_OPS, report["float_ops"]
    assert report["op_types"]["PRELU INT8->INT8"] == 41
    # No int8 softmax: the QAT converter would give it a 1/256 output scale.
    assert not any(k.startswith(("SOFTMAX", "LOG_SOFTMAX")) for k in report["op_types"])
    assert report["output"][0]["dtype"] == "float32"
    np.testing.assert_allclose(tflite.run_tflite(coords, images), keras_coords, atol=0.15)

    path = qat.save_qat_model(model, str(tmp_path / "qat.h5"))
    reloaded = qat.load_qat_model(path)
    assert reloaded.mhp_config == model.mhp_config
    np.testing.assert_allclose(reloaded(images, training=False).numpy(), keras_logits, atol=1e-6)
    np.testing.assert_array_equal(
        tflite.run_tflite(tflite.convert_tflite(path, "qat", "heatmap"), images), out)


# ----------------------------------------------------------------------------- PReLU rewrite


def _sloped(high, seed=2):
    """Randomized XS, PReLU slopes uniform in [-0.5, high]: negative, and > 1 if high > 1."""
    tf.keras.utils.set_random_seed(seed)
    model = _randomize(mhp_tf.build_model("xs", **TINY), seed=seed)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.PReLU):
            layer.set_weights([rng.uniform(-0.5, high, layer.get_weights()[0].shape)])
    return model


@pytest.fixture(scope="module")
def sloped_model():
    """XS with slopes in [-0.5, 1.5]: every PReLU has channels with alpha < 0 and alpha > 1."""
    return _sloped(1.5)


@pytest.mark.parametrize("high,single_conv", [(1.0, True), (1.5, False)])
def test_prelu_rewrite_is_exact_in_float(images, high, single_conv):
    net = tflite.with_head(_sloped(high), "heatmap")
    rewritten = deploy.rewrite_prelu(net)
    assert not any(isinstance(l, tf.keras.layers.PReLU) for l in rewritten.layers)
    decomposed = [l for l in rewritten.layers if isinstance(l, deploy.DecomposedPReLU)]
    assert len(decomposed) == 41 and all(l.single_conv == single_conv for l in decomposed)
    expected = net(images, training=False).numpy()
    got = rewritten(images, training=False).numpy()
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()
    # Without PReLU there is nothing to rewrite: the model itself comes back.
    relu = mhp_tf.build_model("xs", activation="relu", **TINY)
    assert deploy.rewrite_prelu(relu) is relu
    movnect = mhp_tf.modeling.build_movnect("A", input_size=64)
    assert deploy.rewrite_prelu(movnect) is movnect


def test_int8_prelu_rewrite_has_no_prelu(sloped_model, calibration, images):
    content = tflite.convert_tflite(sloped_model, "int8", "heatmap",
                                    representative_dataset=calibration, num_calibration=8)
    report = tflite.op_report(content)
    assert report["float_ops"] == {}, report["op_types"]
    assert set(report["ops"]) == INT8_REWRITE_OPS
    # Slopes > 1 in every layer: the two-conv form (2 depthwise 1x1 convs per PReLU).
    assert report["ops"]["DEPTHWISE_CONV_2D"] == 17 + 2 * 41
    assert report["max_rank"] <= 4 and report["gpu_compatible"]
    expected = sloped_model(images, training=False).numpy()
    assert np.ptp(expected) > 1.0
    logits = tflite.run_tflite(content, images)
    np.testing.assert_allclose(tflite.decode_heatmap_output(logits, 8), expected, atol=0.2)


def test_int8_prelu_native_keeps_prelu(xs_model, calibration, converted, images, keras_out):
    content = tflite.convert_tflite(xs_model, "int8", "heatmap", representative_dataset=calibration,
                                    num_calibration=8, prelu="native")
    report = tflite.op_report(content, gpu_compatibility=False)
    assert report["float_ops"] == {}, report["op_types"]
    assert report["op_types"]["PRELU INT8->INT8"] == 41
    assert report["ops"]["DEPTHWISE_CONV_2D"] == 17
    native = tflite.decode_heatmap_output(tflite.run_tflite(content, images), 8)
    np.testing.assert_allclose(native, keras_out["coords"], atol=0.2)
    # Float modes keep PRELU by default; an explicit rewrite applies to them too.
    assert "PRELU" in tflite.op_report(converted("none", "heatmap"), False)["ops"]
    rewritten = tflite.convert_tflite(xs_model, "none", "heatmap", prelu="rewrite")
    assert "PRELU" not in tflite.op_report(rewritten, False)["ops"]
    np.testing.assert_allclose(tflite.run_tflite(rewritten, images), keras_out["heatmap"],
                               atol=1e-4)
    with pytest.raises(ValueError, match="prelu="):
        tflite.convert_tflite(xs_model, "int8", "heatmap", representative_dataset=calibration,
                              prelu="relu")
    with pytest.raises(ValueError, match="qat"):
        deploy.use_prelu_rewrite("rewrite", "qat")


def test_head_before_upsample_converts_like_the_reference(xs_model, calibration, images,
                                                         keras_out):
    """The reordered head (same weights) converts to the same fp32 numbers and to a
    full-integer int8 model with the same op set."""
    fast = mhp_tf.build_model("xs", head_before_upsample=True, **TINY)
    deploy.copy_weights_by_name(xs_model, fast, "reordering the head")
    fp32 = tflite.convert_tflite(fast, head="coords")
    np.testing.assert_allclose(tflite.run_tflite(fp32, images), keras_out["coords"], atol=1e-3)
    int8 = tflite.convert_tflite(fast, "int8", "heatmap", representative_dataset=calibration,
                                 num_calibration=8)
    report = tflite.op_report(int8)
    assert report["float_ops"] == {} and set(report["ops"]) == INT8_REWRITE_OPS
    assert report["ops"]["RESIZE_BILINEAR"] == 3 and report["gpu_compatible"]
    logits = tflite.run_tflite(int8, images)
    np.testing.assert_allclose(tflite.decode_heatmap_output(logits, 8), keras_out["coords"],
                               atol=0.2)
