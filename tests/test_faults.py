"""Training's fault handling, and the PyTorch-exact Adam the paper recipes use.

Adam: TorchAdam against an independent float64 NumPy implementation of
torch.optim.Adam's formula and against torch.optim.Adam itself, with a float32
round-off bound accumulated along the same computation.
"""

import numpy as np
import pytest
import tensorflow as tf

from mhp_tf.training import optimizers

U = 2.0 ** -24  # float32 unit round-off
B1, B2, EPS = 0.9, 0.999, 1e-8
LR_STEPS = ([4], [1e-3, 1e-4])  # the learning rate drops after step 4


def _lr(step):  # step: 1-based (the schedule sees iterations = step - 1)
    # PiecewiseConstantDecay: values[0] while iterations <= boundaries[0].
    return LR_STEPS[1][0] if step - 1 <= LR_STEPS[0][0] else LR_STEPS[1][1]


def _problem(seed, n=12, size=200):
    rng = np.random.default_rng(seed)
    p0 = rng.normal(size=size).astype(np.float32)
    # Gradient magnitudes from 1e-8 to 1: where eps matters and where it does not.
    scale = 10.0 ** rng.uniform(-8, 0, size=size)
    grads = (rng.normal(size=(n, size)) * scale).astype(np.float32)
    return p0, grads


def _reference(p0, grads):
    """torch.optim.Adam's formula in float64, and a first-order bound on the
    round-off of a float32 implementation of it (each op <= 1 unit round-off
    relative to the magnitudes it combines; 8 for the scalar factors)."""
    p, m, v = (p0.astype(np.float64), np.zeros(p0.shape), np.zeros(p0.shape))
    dp = dm = dv = np.zeros(p0.shape)
    for t, g in enumerate(grads.astype(np.float64), start=1):
        dm = dm + 3 * U * (np.abs(m) + np.abs(g))
        dv = dv + 4 * U * (v + g * g)
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        step_size = _lr(t) / (1 - B1 ** t)
        c2 = np.sqrt(1 - B2 ** t)
        denom = np.sqrt(v) / c2 + EPS
        update = step_size * m / denom
        d_denom = dv / (2 * np.sqrt(v) * c2) + 3 * U * denom
        du = step_size * dm / denom + np.abs(update) * d_denom / denom + 8 * U * np.abs(update)
        p = p - update
        dp = dp + du + U * np.abs(p)
    return p, dp


def _run_tf(optimizer, p0, grads, var=None):
    var = tf.Variable(p0) if var is None else var

    @tf.function
    def step(g):
        optimizer.apply_gradients([(g, var)])

    for g in grads:
        step(tf.constant(g))
    return var.numpy()


def _schedule():
    return tf.keras.optimizers.schedules.PiecewiseConstantDecay(*LR_STEPS)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_torch_adam_matches_pytorch_formula(seed):
    p0, grads = _problem(seed)
    want, bound = _reference(p0, grads)
    got = _run_tf(optimizers.TorchAdam(_schedule()), p0, grads)
    err = np.abs(got - want)
    assert (err <= 2 * bound).all(), f"max err/bound {np.max(err / bound):.2f}"
    # Keras' Adam (epsilon added before the bias correction) is far outside the bound:
    # the check can tell the two apart.
    keras = _run_tf(tf.keras.optimizers.Adam(_schedule()), p0, grads)
    assert (np.abs(keras - want) > 2 * bound).mean() > 0.3


def test_torch_adam_matches_torch_optim_adam():
    torch = pytest.importorskip("torch")
    p0, grads = _problem(7)
    _, bound = _reference(p0, grads)
    param = torch.nn.Parameter(torch.tensor(p0))
    opt = torch.optim.Adam([param], lr=LR_STEPS[1][0], betas=(B1, B2), eps=EPS)
    for t, g in enumerate(grads, start=1):
        for group in opt.param_groups:
            group["lr"] = _lr(t)
        param.grad = torch.tensor(g)
        opt.step()
    want = param.detach().numpy()
    got = _run_tf(optimizers.TorchAdam(_schedule()), p0, grads)
    # Both are float32 implementations of the same formula: each within the bound of it.
    assert (np.abs(got - want) <= 4 * bound).all()


def test_torch_adam_slots_survive_a_checkpoint(tmp_path):
    """Restoring m, v and the step counter continues exactly where the run was."""
    p0, grads = _problem(3)
    straight = _run_tf(optimizers.TorchAdam(_schedule()), p0, grads)

    var = tf.Variable(p0)
    opt = optimizers.TorchAdam(_schedule())
    _run_tf(opt, None, grads[:5], var)
    path = tf.train.Checkpoint(var=var, optimizer=opt).save(str(tmp_path / "ckpt"))
    var2 = tf.Variable(np.zeros_like(p0))
    opt2 = optimizers.TorchAdam(_schedule())
    opt2.build([var2])
    tf.train.Checkpoint(var=var2, optimizer=opt2).restore(path).assert_consumed()
    assert int(opt2.iterations.numpy()) == 5
    np.testing.assert_array_equal(_run_tf(opt2, None, grads[5:], var2), straight)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="train.optimizer='sgd'"):
        optimizers.make_optimizer("sgd", 1e-3)
