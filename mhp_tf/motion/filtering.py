"""Temporal filtering of joint rotations (MoVNect §3.3: the IK orientations are filtered
with the 1-Euro filter too).

Rotations are filtered as unit quaternions: signs are made continuous over time (``q`` and
``-q`` are the same rotation), every component goes through the filter, and the result is
renormalised. Any stateful filter object works: a callable ``filt(x, timestamp)`` on arrays
of a fixed shape (e.g. :class:`mhp_tf.postprocess.filters.OneEuroFilter`); one object per
signal, as it keeps the history.
"""

from typing import Callable, Optional, Tuple

import numpy as np

from mhp_tf.motion import ik
from mhp_tf.motion import rotations as rot

Filter = Callable[..., np.ndarray]

# Defaults of :func:`one_euro_filters` (the cutoffs are those of mhp_tf.postprocess.filters'
# DEFAULT_3D, whose beta in 1 / mm serves the root translation): quaternion components move
# ~0.5 / s per rad / s of rotation, so beta = 2 raises the cutoff by ~1 Hz per rad / s.
ROTATION_MIN_CUTOFF = 1.0
ROTATION_BETA = 2.0
D_CUTOFF = 1.0


def _timestamps(n: int, fps: float, timestamps=None) -> np.ndarray:
    if timestamps is not None:
        t = np.asarray(timestamps, np.float64)
        if t.shape != (n,) or np.any(np.diff(t) <= 0):
            raise ValueError("timestamps must be strictly increasing, one per frame")
        return t
    return np.arange(n) / float(fps)


def filter_sequence(x: np.ndarray, filt: Filter, fps: float = 30.0, timestamps=None) -> np.ndarray:
    """Run ``filt`` over ``x (T, ...)`` frame by frame; returns the filtered ``(T, ...)``."""
    x = np.asarray(x, np.float64)
    t = _timestamps(len(x), fps, timestamps)
    return np.stack([np.asarray(filt(x[k], float(t[k])), np.float64) for k in range(len(x))])


def filter_quaternions(q: np.ndarray, filt: Filter, fps: float = 30.0,
                       timestamps=None) -> np.ndarray:
    """Filter unit quaternions ``(T, ..., 4)``: sign continuity, filter, renormalise."""
    q = rot.quat_sign_continuity(rot.normalize(q))
    return rot.normalize(filter_sequence(q, filt, fps, timestamps))


def filter_rotations(R: np.ndarray, filt: Filter, fps: float = 30.0, timestamps=None) -> np.ndarray:
    """Filter rotation matrices ``(T, ..., 3, 3)`` through quaternions."""
    return rot.quat_to_matrix(filter_quaternions(rot.matrix_to_quat(R), filt, fps, timestamps))


def one_euro_filters(fps: float = 30.0, min_cutoff: float = ROTATION_MIN_CUTOFF,
                     beta: float = ROTATION_BETA, d_cutoff: float = D_CUTOFF,
                     translation_beta: Optional[float] = None) -> Tuple[Filter, Filter]:
    """``(rotation filter, translation filter)``: two 1-Euro filters of
    :mod:`mhp_tf.postprocess.filters` sharing ``min_cutoff`` and ``d_cutoff`` (Hz). ``beta``
    applies to quaternion components, ``translation_beta`` (per mm; default: that module's
    ``DEFAULT_3D.beta``) to the root position in mm."""
    from mhp_tf.postprocess import filters  # imported lazily: only needed when filtering

    if translation_beta is None:
        translation_beta = filters.DEFAULT_3D.beta
    return (filters.OneEuroFilter(min_cutoff, beta, d_cutoff, rate=fps),
            filters.OneEuroFilter(min_cutoff, translation_beta, d_cutoff, rate=fps))


def filter_motion(motion: ik.Motion, rotation_filter: Optional[Filter],
                  translation_filter: Optional[Filter] = None, timestamps=None,
                  reapply_limits: bool = True) -> ik.Motion:
    """A smoothed copy of ``motion``.

    ``rotation_filter`` filters all local rotations (as quaternions ``(N, 4)`` per frame),
    ``translation_filter`` the root position (mm); ``None`` leaves that part unchanged.
    Afterwards the joint limits of the motion (if any) are applied again, since smoothing
    can move an angle just outside its range (:func:`mhp_tf.motion.ik.reapply_limits`).
    """
    out = motion
    if rotation_filter is not None:
        out = out.replace(rotations=filter_rotations(motion.rotations, rotation_filter,
                                                     motion.fps, timestamps))
    if translation_filter is not None:
        out = out.replace(root_positions=filter_sequence(motion.root_positions,
                                                         translation_filter, motion.fps,
                                                         timestamps))
    if reapply_limits and out.limits is not None:
        out = ik.reapply_limits(out)
    return out
