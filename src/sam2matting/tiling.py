"""Blocks along an outline: the crops that per-pixel work near an object's edge runs on.

Shared by the matting stage (colour-line refinement, edge arbiter) and the built-in tracker's
learned refiner, which may not import each other (trackers never import matting).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["outline_crops"]


def outline_crops(
    mark: np.ndarray, block: int, reach: int
) -> Iterator[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """Crops covering every True pixel of ``mark`` (H×W bool): per row of ``block``-px blocks,
    each run of blocks holding a marked pixel as one core ``(y0, y1, x0, x1)`` with its context
    ``(cy0, cy1, cx0, cx1)`` grown by ``reach`` px (clipped to the frame)."""
    h, w = mark.shape
    nby, nbx = -(-h // block), -(-w // block)
    padded = np.zeros((nby * block, nbx * block), bool)
    padded[:h, :w] = mark
    blocks = np.asarray(padded.reshape(nby, block, nbx, block).any(axis=(1, 3)))
    for by in range(nby):
        y0, y1 = by * block, min(h, (by + 1) * block)
        row = np.concatenate([[False], blocks[by], [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(row))
        for bx0, bx1 in zip(edges[::2], edges[1::2], strict=True):
            x0, x1 = int(bx0) * block, min(w, int(bx1) * block)
            yield (
                (y0, y1, x0, x1),
                (max(0, y0 - reach), min(h, y1 + reach), max(0, x0 - reach), min(w, x1 + reach)),
            )
