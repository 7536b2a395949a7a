"""Layer numerics against independent NumPy / SciPy references (PyTorch semantics)."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import signal
from scipy.special import softmax

from mhp_tf.modeling import blocks
from mhp_tf.modeling.layers import AlignCornersUpsample2D
from mhp_tf.modeling.layers import AvgPool3x3S2
from mhp_tf.modeling.layers import SoftArgmax3D
from mhp_tf.modeling.layers import soft_argmax_3d
from mhp_tf.modeling.layers import soft_argmax_3d_direct


def torch_conv2d_reference(x, w, stride, pad):
    """NCHW-free reference: x [H, W, Cin], w [kh, kw, Cin, Cout], symmetric zero pad."""
    xp = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    out = None
    for co in range(w.shape[3]):
        acc = sum(signal.correlate2d(xp[:, :, ci], w[:, :, ci, co], mode="valid")
                  for ci in range(x.shape[2]))
        out = acc[..., None] if out is None else np.concatenate([out, acc[..., None]], -1)
    return out[::stride, ::stride]


@pytest.mark.parametrize("size", [8, 9])
def test_stride2_conv_pads_symmetrically(rng, size):
    x = rng.standard_normal((1, size, size, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    inp = tf.keras.Input((size, size, 3))
    model = tf.keras.Model(inp, blocks.conv2d(inp, 4, 3, stride=2, name="c"))
    model.get_layer("c").set_weights([w])
    got = model(x).numpy()[0]
    want = torch_conv2d_reference(x[0], w, stride=2, pad=1)
    assert got.shape == want.shape == ((size - 1) // 2 + 1,) * 2 + (4,)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    # Keras 'same' padding would disagree for even sizes: the test can tell them apart.
    same = tf.nn.conv2d(x, w, 2, "SAME").numpy()[0]
    if size % 2 == 0:
        assert np.abs(same - want).max() > 1e-2


def test_stride2_depthwise_pads_symmetrically(rng):
    x = rng.standard_normal((1, 8, 8, 5)).astype(np.float32)
    w = rng.standard_normal((3, 3, 5, 1)).astype(np.float32)
    inp = tf.keras.Input((8, 8, 5))
    model = tf.keras.Model(inp, blocks.depthwise_conv2d(inp, 2, name="d"))
    model.get_layer("d").set_weights([w])
    got = model(x).numpy()[0]
    xp = np.pad(x[0], ((1, 1), (1, 1), (0, 0)))
    want = np.stack([signal.correlate2d(xp[:, :, c], w[:, :, c, 0], mode="valid")[::2, ::2]
                     for c in range(5)], -1)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def align_corners_reference(x, factor):
    """Bilinear interpolation with corner alignment, written out per output pixel."""
    h, w = x.shape[:2]
    oh, ow = h * factor, w * factor
    out = np.zeros((oh, ow) + x.shape[2:], np.float64)
    for i in range(oh):
        sy = i * (h - 1) / (oh - 1)
        y0 = int(np.floor(sy)); y1 = min(y0 + 1, h - 1); fy = sy - y0  # noqa: E702
        for j in range(ow):
            sx = j * (w - 1) / (ow - 1)
            x0 = int(np.floor(sx)); x1 = min(x0 + 1, w - 1); fx = sx - x0  # noqa: E702
            out[i, j] = ((1 - fy) * (1 - fx) * x[y0, x0] + (1 - fy) * fx * x[y0, x1]
                         + fy * (1 - fx) * x[y1, x0] + fy * fx * x[y1, x1])
    return out


def test_align_corners_upsample_matches_reference(rng):
    x = rng.standard_normal((2, 5, 7, 3)).astype(np.float32)
    got = AlignCornersUpsample2D(2)(x).numpy()
    assert got.shape == (2, 10, 14, 3)
    for b in range(2):
        np.testing.assert_allclose(got[b], align_corners_reference(x[b], 2), atol=1e-5, rtol=0)
    # Half-pixel resizing (UpSampling2D / tf.image.resize) does not match.
    half_pixel = tf.image.resize(x, (10, 14), "bilinear").numpy()
    assert np.abs(half_pixel - got).max() > 1e-2


def test_avgpool_excludes_padding_from_count(rng):
    x = rng.standard_normal((1, 8, 6, 2)).astype(np.float32)
    got = AvgPool3x3S2()(x).numpy()[0]
    want = np.zeros((4, 3, 2))
    for i in range(4):
        for j in range(3):
            rows = range(max(2 * i - 1, 0), min(2 * i + 1, 7) + 1)
            cols = range(max(2 * j - 1, 0), min(2 * j + 1, 5) + 1)
            want[i, j] = np.mean([x[0, r, c] for r in rows for c in cols], axis=0)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def soft_argmax_reference(logits, depth):
    """Softmax over D*H*W per joint on the PyTorch layout [J, D, H, W], then expectations."""
    b, h, w, c = logits.shape
    j = c // depth
    vol = logits.reshape(b, h, w, j, depth).transpose(0, 3, 4, 1, 2)  # [B, J, D, H, W]
    prob = softmax(vol.reshape(b, j, -1).astype(np.float64), axis=-1).reshape(vol.shape)
    x = (prob.sum(axis=(2, 3)) * np.arange(w)).sum(-1)
    y = (prob.sum(axis=(2, 4)) * np.arange(h)).sum(-1)
    z = (prob.sum(axis=(3, 4)) * np.arange(depth)).sum(-1)
    return np.stack([x, y, z], -1)


SOFT_ARGMAX_FNS = pytest.mark.parametrize("fn", [soft_argmax_3d, soft_argmax_3d_direct],
                                          ids=["softmax", "direct"])


@SOFT_ARGMAX_FNS
@pytest.mark.parametrize("shape,depth", [((2, 6, 5, 3 * 4), 4), ((1, 8, 8, 2 * 8), 8)])
def test_soft_argmax_matches_reference(rng, fn, shape, depth):
    logits = (3 * rng.standard_normal(shape)).astype(np.float32)
    got = fn(logits, depth).numpy()
    want = soft_argmax_reference(logits, depth)
    assert got.shape == (shape[0], shape[3] // depth, 3)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


@SOFT_ARGMAX_FNS
def test_soft_argmax_of_a_peak_is_its_position(fn):
    h, w, d, j = 8, 8, 8, 2
    logits = np.full((1, h, w, j * d), -50.0, np.float32)
    logits[0, 5, 2, 0 * d + 6] = 50.0  # joint 0 at x=2, y=5, z=6
    logits[0, 1, 7, 1 * d + 0] = 50.0  # joint 1 at x=7, y=1, z=0
    np.testing.assert_allclose(fn(logits, d).numpy()[0], [[2, 5, 6], [7, 1, 0]], atol=1e-4)


@SOFT_ARGMAX_FNS
def test_soft_argmax_gradient_matches_hand_derivation(rng, fn):
    # For c_jk = sum_i p_ji g_ik (p = softmax over joint j's voxels, g_ik = coordinate k
    # of voxel i), d(sum_jk w_jk c_jk) / d logit_ji = p_ji * sum_k w_jk (g_ik - c_jk).
    b, h, w, d, j = 2, 5, 4, 3, 2
    logits = (4 * rng.standard_normal((b, h, w, j * d))).astype(np.float32)
    weights = rng.standard_normal((b, j, 3)).astype(np.float32)
    x = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(fn(x, d) * weights)
    got = tape.gradient(loss, x).numpy()

    vol = logits.astype(np.float64).reshape(b, h, w, j, d)
    prob = softmax(vol.transpose(0, 3, 1, 2, 4).reshape(b, j, -1), axis=-1)  # [B, J, H*W*D]
    yy, xx, zz = np.meshgrid(np.arange(h), np.arange(w), np.arange(d), indexing="ij")
    grid = np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=-1)  # [H*W*D, 3]
    coords = prob @ grid                                             # [B, J, 3]
    want = prob * np.einsum("bjk,bjik->bji", weights, grid[None, None] - coords[:, :, None])
    want = want.reshape(b, j, h, w, d).transpose(0, 2, 3, 1, 4).reshape(logits.shape)
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)


def test_soft_argmax_layer_uses_the_direct_form_only_in_training(rng):
    layer = SoftArgmax3D(4)
    logits = tf.constant(3 * rng.standard_normal((2, 4, 4, 3 * 4)), tf.float32)
    np.testing.assert_allclose(layer(logits, training=True).numpy(),
                               layer(logits, training=False).numpy(), atol=1e-5, rtol=0)

    def op_types(training):
        fn = tf.function(lambda t: layer(t, training=training))
        graph = fn.get_concrete_function(tf.TensorSpec([None, 4, 4, 12])).graph
        return {op.type for op in graph.get_operations()}

    # Inference and export keep the SOFTMAX op (the int8 TFLite converter keys on it).
    assert "Softmax" in op_types(False) and "Softmax" in op_types(None)
    assert "Softmax" not in op_types(True) and "Exp" in op_types(True)


def test_soft_argmax_layer_is_float32_under_mixed_precision(rng):
    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    logits16 = tf.constant(4 * rng.standard_normal((1, 4, 4, 2 * 4)), tf.float16)
    layer = SoftArgmax3D(4)
    got = layer(logits16)
    assert layer.compute_dtype == "float32"
    assert got.dtype == tf.float32
    want = soft_argmax_reference(logits16.numpy().astype(np.float32), 4)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=0)


@SOFT_ARGMAX_FNS
def test_soft_argmax_rejects_bad_shapes(fn):
    with pytest.raises(ValueError, match="multiple of depth"):
        fn(np.zeros((1, 4, 4, 10), np.float32), 4)
    with pytest.raises(ValueError, match=r"\[B, H, W, J\*D\]"):
        fn(np.zeros((4, 4, 8), np.float32), 4)
