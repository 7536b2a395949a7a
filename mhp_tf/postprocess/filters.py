"""Temporal smoothing: the 1-Euro filter (Casiez, Roussel and Vogel, CHI 2012).

The filter is a first-order low-pass (an exponential moving average) whose
cutoff frequency rises with the signal's speed: at rest a low cutoff removes
jitter, in fast motion a high cutoff removes lag. For a sample ``X_i`` at time
``T_i`` (the paper's Algorithm 1)::

    rate    = 1 / (T_i - T_{i-1})                      # Hz
    alpha(f) = 1 / (1 + tau / T_e),  tau = 1 / (2 pi f),  T_e = 1 / rate
    dX      = (X_i - Xhat_{i-1}) * rate                # 0 for the first sample
    edX     = edX_{i-1} + alpha(d_cutoff) * (dX - edX_{i-1})
    cutoff  = min_cutoff + beta * |edX|
    Xhat_i  = Xhat_{i-1} + alpha(cutoff) * (X_i - Xhat_{i-1})

The speed is taken against the previous *filtered* value ``Xhat_{i-1}``, as in
the paper's pseudocode (``xfilt.hatxprev()``) and the authors' corrected
reference implementations (2023); some ports use the previous raw value
instead. The first sample passes through unchanged.

Units: ``min_cutoff`` and ``d_cutoff`` are in Hz; ``beta`` is in
``1 / signal unit`` (it multiplies a speed in units per second to give Hz), so
it must be rescaled when the signal's unit changes (pixels vs millimetres).

Default parameters (``DEFAULT_2D`` for pixels, ``DEFAULT_3D`` for millimetres;
``min_cutoff = d_cutoff = 1 Hz``, ``beta = 0.03 / px`` and ``0.004 / mm``) were
chosen on the synthetic check in ``tests/test_postprocess.py`` at 30 fps: a 0.25 Hz
sine plus Gaussian noise (sigma 2 px / 15 mm) has its frame-to-frame variance
reduced about 4.4x / 5x, and a step of 40 px / 300 mm is more than half covered
on the very frame it happens (a 20 px step: one frame later). ``beta_3d =
beta_2d / 7.5`` assumes the 3D noise in mm is about 7.5x the 2D noise in pixels;
scaling a signal by ``s`` and ``beta`` by ``1 / s`` leaves the filter unchanged.
"""

import dataclasses
import math
from typing import Optional

import numpy as np


@dataclasses.dataclass(frozen=True)
class OneEuroParams:
    """Parameters of :class:`OneEuroFilter` (see the module docstring for units)."""

    min_cutoff: float = 1.0
    beta: float = 0.03
    d_cutoff: float = 1.0

    def __post_init__(self):
        if not (math.isfinite(self.min_cutoff) and self.min_cutoff > 0):
            raise ValueError(f"min_cutoff must be a positive number of Hz, got {self.min_cutoff}")
        if not (math.isfinite(self.d_cutoff) and self.d_cutoff > 0):
            raise ValueError(f"d_cutoff must be a positive number of Hz, got {self.d_cutoff}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"beta must be >= 0, got {self.beta}")


# Keypoints in image pixels / joints in millimetres (see the module docstring).
DEFAULT_2D = OneEuroParams(min_cutoff=1.0, beta=0.03, d_cutoff=1.0)
DEFAULT_3D = OneEuroParams(min_cutoff=1.0, beta=0.004, d_cutoff=1.0)


def smoothing_factor(rate, cutoff):
    """``alpha = 1 / (1 + tau / T_e)`` with ``tau = 1 / (2 pi cutoff)``, ``T_e = 1 / rate``."""
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau * rate)


class OneEuroFilter:
    """1-Euro filter over arrays of any (fixed) shape, each element filtered independently.

    Args:
      min_cutoff: cutoff (Hz) at zero speed; lower = less jitter, more lag at rest.
      beta: speed coefficient (1 / signal unit); higher = less lag in fast motion.
      d_cutoff: cutoff (Hz) of the low-pass on the speed estimate.
      rate: sampling rate (Hz) used when no timestamps are given, and for the very
        first interval when timestamps start later.

    Call with ``filter(x)`` at the fixed ``rate`` or ``filter(x, timestamp)`` with
    strictly increasing timestamps in seconds. ``reset()`` forgets the history.
    """

    def __init__(self, min_cutoff: float = DEFAULT_2D.min_cutoff, beta: float = DEFAULT_2D.beta,
                 d_cutoff: float = DEFAULT_2D.d_cutoff, rate: float = 30.0):
        self.params = OneEuroParams(float(min_cutoff), float(beta), float(d_cutoff))
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number of Hz, got {rate}")
        self.rate = float(rate)
        self.reset()

    @classmethod
    def from_params(cls, params: OneEuroParams, rate: float = 30.0) -> "OneEuroFilter":
        return cls(params.min_cutoff, params.beta, params.d_cutoff, rate)

    @property
    def min_cutoff(self) -> float:
        return self.params.min_cutoff

    @property
    def beta(self) -> float:
        return self.params.beta

    @property
    def d_cutoff(self) -> float:
        return self.params.d_cutoff

    @property
    def initialized(self) -> bool:
        return self._x is not None

    @property
    def value(self) -> Optional[np.ndarray]:
        """The last filtered value (``None`` before the first sample)."""
        return None if self._x is None else self._x.copy()

    def reset(self) -> None:
        self._x = None  # last filtered value
        self._dx = None  # last filtered speed
        self._t = None  # last timestamp

    def __call__(self, x, timestamp: Optional[float] = None) -> np.ndarray:
        x = np.array(x, dtype=np.float64)
        if self._x is not None and x.shape != self._x.shape:
            raise ValueError(f"OneEuroFilter got shape {x.shape} after {self._x.shape}; "
                             "call reset() before changing the shape")
        rate = self.rate
        if timestamp is not None:
            timestamp = float(timestamp)
            if not math.isfinite(timestamp):
                raise ValueError(f"timestamp must be finite, got {timestamp}")
            if self._t is not None:
                if timestamp <= self._t:
                    raise ValueError(f"timestamps must increase: got {timestamp} after {self._t}")
                rate = 1.0 / (timestamp - self._t)
            self._t = timestamp
        if self._x is None:
            self._x = x
            self._dx = np.zeros_like(x)
            return x.copy()
        dx = (x - self._x) * rate
        self._dx = self._dx + smoothing_factor(rate, self.d_cutoff) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + smoothing_factor(rate, cutoff) * (x - self._x)
        return self._x.copy()
