"""Stereo width in mid/side."""

from __future__ import annotations

import numpy as np


def scale_width(block: np.ndarray, *, width: float) -> np.ndarray:
    """Scale the side signal of a stereo ``(2, n)`` block by ``width`` (0 = mono, 1 = unchanged).

    Mid ``(L+R)/2`` is kept; side ``(L-R)/2`` is multiplied by ``width``. Mono blocks and
    ``width == 1`` pass through unchanged.
    """
    if block.shape[0] != 2 or width == 1.0:
        return block
    mid = 0.5 * (block[0] + block[1])
    side = 0.5 * (block[0] - block[1]) * width
    return np.stack([mid + side, mid - side])
