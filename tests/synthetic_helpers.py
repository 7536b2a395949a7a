"""Hand-made G-buffers for tests of the realistic look stage."""

import numpy as np

from mhp_tf_datasets.synthetic.realistic.gbuffer import GBuffer
from mhp_tf_datasets.synthetic.realistic.gbuffer import PART


def flat_patch(size: int, rows: slice, cols: slice, depth: float,
               part: str = "chest") -> GBuffer:
    """A ``size`` x ``size`` G-buffer holding a flat patch of ``part`` facing the camera at
    ``depth`` m over ``rows`` x ``cols``, its surface coordinates running down it (along)
    and across it (around 0.3-0.7)."""
    gb = GBuffer.empty(size, size)
    gb.mask[rows, cols] = True
    gb.depth[rows, cols] = depth
    gb.normal[rows, cols] = [0.0, 0.0, -1.0]
    gb.part[rows, cols] = PART[part]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    gb.along[rows, cols] = (1.0 - ys / size)[rows, cols]
    gb.around[rows, cols] = (0.3 + 0.4 * xs / size)[rows, cols]
    return gb
