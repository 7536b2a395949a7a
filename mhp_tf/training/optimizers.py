"""Adam exactly as PyTorch computes it, so the paper recipes train like the reference.

The reference trains with ``torch.optim.Adam(lr, eps=1e-8)``, whose update is::

    m = b1 m + (1 - b1) g            v = b2 v + (1 - b2) g^2
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

Keras' Adam instead adds its epsilon (default 1e-7) to ``sqrt(v)`` *before* the
bias correction, i.e. it uses ``eps * sqrt(1 - b2^t)`` in PyTorch's terms: at
step 1 that is 0.03 eps, and for parameters whose gradients are small (the
later layers of a converged network, or BatchNorm offsets) the two optimisers
take visibly different steps. :class:`TorchAdam` implements PyTorch's formula
with PyTorch's order of operations (its single-tensor CPU path).

The bias corrections ``1 - b^t`` are computed as ``-expm1(t log b)`` with
``log b`` taken in double precision on the host: ``1 - float32(0.999)`` alone
is 1.3e-5 off in relative terms (PyTorch does this in Python doubles), and
float64 ops are unavailable on TPUs.

:class:`TorchAdam` is a tf_keras optimizer (it subclasses ``Adam`` and keeps
its ``m``/``v`` slot variables), so learning-rate schedules, checkpoints, EMA,
``LossScaleOptimizer`` and distribution strategies work unchanged.
"""

import math

import tensorflow as tf

# train.optimizer values: "adam_torch" (PyTorch's update, the paper recipes' default)
# or "adam_keras" (tf.keras Adam with its own epsilon 1e-7, as runs before it used).
OPTIMIZERS = ("adam_torch", "adam_keras")


class TorchAdam(tf.keras.optimizers.Adam):
    """``torch.optim.Adam`` (no AMSGrad, no weight decay) as a tf_keras optimizer."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 name="TorchAdam", **kwargs):
        if kwargs.get("amsgrad") or kwargs.get("adaptive_epsilon"):
            raise ValueError("TorchAdam implements plain Adam (no amsgrad/adaptive_epsilon)")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, name=name, **kwargs)

    def update_step(self, gradient, variable):
        if isinstance(gradient, tf.IndexedSlices):  # PyTorch's Adam is dense too
            gradient = tf.convert_to_tensor(gradient)
        dtype = variable.dtype
        var_key = self._var_key(variable)
        m = self._momentums[self._index_dict[var_key]]
        v = self._velocities[self._index_dict[var_key]]
        step = tf.cast(self.iterations + 1, tf.float32)
        correction1 = -tf.math.expm1(step * math.log(self.beta_1))
        correction2 = -tf.math.expm1(step * math.log(self.beta_2))
        step_size = tf.cast(tf.cast(self.learning_rate, tf.float32) / correction1, dtype)
        correction2_sqrt = tf.cast(tf.sqrt(correction2), dtype)

        m.assign_add((gradient - m) * tf.cast(1.0 - self.beta_1, dtype))
        v.assign(v * tf.cast(self.beta_2, dtype)
                 + gradient * gradient * tf.cast(1.0 - self.beta_2, dtype))
        denom = tf.sqrt(v) / correction2_sqrt + tf.cast(self.epsilon, dtype)
        variable.assign_add(-step_size * m / denom)


def make_optimizer(name: str, learning_rate) -> tf.keras.optimizers.Optimizer:
    """The optimizer ``train.optimizer`` names, on a learning rate or schedule."""
    if name == "adam_torch":
        return TorchAdam(learning_rate)
    if name == "adam_keras":
        return tf.keras.optimizers.Adam(learning_rate)
    raise ValueError(f"train.optimizer={name!r}, expected one of {OPTIMIZERS}")
