"""Boxes that let the look stage work on the person's part of a frame, not all of it.

Most of a frame is background: blurs and shades that only matter on or round the person run
on a box round it. The results must equal the whole-frame ones bit for bit (a built dataset
keeps its version only if every pixel does), and OpenCV's Gaussian blur is exact under
cropping only in part: its vectorised loop and its scalar loop (the last few pixels of each
row) round differently. Rows can be cut freely; columns must start at a multiple of
:data:`COLUMN_ALIGN` pixels and run to the frame's right edge, so that every pixel is
computed by the same loop as in the whole frame (``tests/test_synthetic_fast_paths.py``).
"""

from typing import Optional
from typing import Tuple

import cv2
import numpy as np

# Column alignment of a blur box (pixels): a multiple of the widest vector loop OpenCV runs
# over a row (16 floats with AVX-512, unrolled at most four times).
COLUMN_ALIGN = 64

Box = Tuple[slice, slice]


def box(mask: np.ndarray, pad: int = 0) -> Optional[Box]:
    """The bounding box of ``mask``'s True pixels grown by ``pad`` and clipped to the
    frame, as a pair of slices; None when there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    h, w = mask.shape[:2]
    return (slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)),
            slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)))


def blur_reach(sigma: float) -> int:
    """Half the width of the kernel of OpenCV's ``GaussianBlur(float32 src, (0, 0), sigma)``
    (it spans 4 sigma each side)."""
    return (int(round(sigma * 8 + 1)) | 1) // 2


def blur_box(mask: np.ndarray, sigma: float) -> Optional[Box]:
    """A box in which a ``GaussianBlur`` of ``sigma`` gives, at every pixel of ``mask``, the
    value a blur of the whole frame gives: ``mask``'s box grown by more than the kernel's
    reach, its columns widened to start at a multiple of :data:`COLUMN_ALIGN` and to end at
    the frame's right edge (see the module doc). None when ``mask`` is empty."""
    b = box(mask, blur_reach(sigma) + 1)
    if b is None:
        return None
    start = b[1].start - b[1].start % COLUMN_ALIGN
    return b[0], slice(start, mask.shape[1])


def masked_blur_mean(values: np.ndarray, mask: np.ndarray, sigma: float
                     ) -> Optional[Tuple[Box, np.ndarray]]:
    """The Gaussian-weighted mean of float32 ``values [H, W]`` over ``mask``'s pixels round
    each of them (a normalised blur: ``blur(values * mask) / blur(mask)``), computed on
    :func:`blur_box` so that it equals the whole frame's, bit for bit.

    Returns ``(box, mean)``: the box and the means ``[K]`` at ``mask[box]``'s pixels, in
    row-major order; None when ``mask`` is empty.
    """
    b = blur_box(mask, sigma)
    if b is None:
        return None
    return b, normalised_blur(values[b], mask[b], sigma)


def normalised_blur(values: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """:func:`masked_blur_mean` of arrays already cut to a :func:`blur_box`: the means
    ``[K]`` at ``mask``'s pixels (row-major)."""
    m = mask.astype(np.float32)
    blurred = cv2.GaussianBlur(values * m, (0, 0), sigma)
    weight = cv2.GaussianBlur(m, (0, 0), sigma)
    return blurred[mask] / np.maximum(weight[mask], 1e-6)
