"""Training losses against hand computations."""

import numpy as np
import tensorflow as tf

from mhp_tf.modeling import heatmap_marginals
from mhp_tf.modeling import soft_argmax_3d
from mhp_tf.training.losses import coord_l1_loss
from mhp_tf.training.losses import distillation_loss
from mhp_tf.training.losses import marginal_js_loss


def _gaussian(n, mu, sigma):
    g = np.exp(-0.5 * ((np.arange(n) - mu) / sigma) ** 2)
    return g / g.sum()


def test_marginals_match_soft_argmax_and_sum_to_one():
    logits = tf.random.stateless_normal([2, 4, 5, 3 * 6], seed=[1, 2])
    mx, my, mz = heatmap_marginals(logits, depth=6)
    assert mx.shape == (2, 3, 5) and my.shape == (2, 3, 4) and mz.shape == (2, 3, 6)
    for m in (mx, my, mz):
        np.testing.assert_allclose(m.numpy().sum(-1), 1.0, atol=1e-5)
    expect = np.stack([(m.numpy() * np.arange(m.shape[-1])).sum(-1) for m in (mx, my, mz)], -1)
    np.testing.assert_allclose(soft_argmax_3d(logits, 6).numpy(), expect, atol=1e-5)


def test_js_is_zero_at_the_target_gaussian_and_ln2_for_disjoint_mass():
    w, h, d = 16, 16, 8
    target = np.array([[[5.0, 9.0, 3.0]]], np.float32)
    perfect = tuple(tf.constant(_gaussian(n, mu, 1.0)[None, None], tf.float32)
                    for n, mu in zip((w, h, d), target[0, 0]))
    ones = tf.ones([1, 1])
    zero = marginal_js_loss(perfect, target, ones, tf.ones([1])).numpy()
    np.testing.assert_allclose(zero, 0.0, atol=1e-5)

    # All mass in bin 0, target far away: supports do not overlap, JS = ln 2 per axis.
    far = np.array([[[15.0, 15.0, 7.0]]], np.float32)
    one_hot = tuple(tf.constant(np.eye(n)[0][None, None], tf.float32) for n in (w, h, d))
    js = marginal_js_loss(one_hot, far, ones, tf.ones([1]), sigma=0.5).numpy()
    np.testing.assert_allclose(js, np.log(2.0), atol=1e-4)
    # 2D-only sample: the z term is dropped (2 of 3 axes count); invisible joints: 0.
    js2d = marginal_js_loss(one_hot, far, ones, tf.zeros([1]), sigma=0.5).numpy()
    np.testing.assert_allclose(js2d, np.log(2.0) * 2 / 3, atol=1e-4)
    assert marginal_js_loss(one_hot, far, tf.zeros([1, 1]), tf.ones([1])).numpy()[0] == 0.0


def test_distillation_loss_blends_ground_truth_and_teacher():
    pred = tf.constant([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]])
    gt = tf.constant([[[2.0, 2.0, 3.0], [1.0, 1.0, 1.0]]])
    teacher = tf.constant([[[1.0, 5.0, 3.0], [0.0, 0.0, 3.0]]])
    vis = tf.constant([[1.0, 0.0]])  # second joint invisible: only the teacher sees it
    have_depth = tf.constant([1.0])
    # Hand: gt term = (1/3 + 0) / 2 = 1/6; teacher term = (3/3 + 3/3) / 2 = 1.
    np.testing.assert_allclose(coord_l1_loss(pred, gt, vis, have_depth).numpy(), [1 / 6])
    got = distillation_loss(pred, gt, vis, have_depth, teacher, alpha=0.25).numpy()
    np.testing.assert_allclose(got, [0.75 / 6 + 0.25 * 1.0], rtol=1e-6)
