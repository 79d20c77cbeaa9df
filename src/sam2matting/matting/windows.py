"""Where the learned head works: the working size of a frame and the objects' window on it.

Below :mod:`.learned` and :mod:`.resident`, which both use it (no import circle)."""

from __future__ import annotations

import numpy as np

__all__ = ["object_window", "snap_window", "working_shape"]


def object_window(masks: list[np.ndarray], margin: int | None) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the union bounding box of ``masks`` (same-size bool arrays whose sides
    are multiples of 16) grown by ``margin`` pixels and snapped outwards to multiples of 16
    (the network's stride); the whole image when ``margin`` is None or no mask is set."""
    h, w = masks[0].shape
    union = np.logical_or.reduce(masks) if len(masks) > 1 else masks[0]
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    if margin is None or len(rows) == 0:
        return 0, h, 0, w
    box = [int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1]
    return snap_window(box, (h, w), margin)


def snap_window(box: list[int], shape: tuple[int, int], margin: int) -> tuple[int, int, int, int]:
    """:func:`object_window` from the masks' box ``[y0, y1, x0, x1]`` (ends exclusive) on an
    image of ``shape`` (h, w): grown by ``margin``, snapped outwards to multiples of 16."""

    def span(lo: int, end: int, size: int) -> tuple[int, int]:
        return max(0, (lo - margin) // 16 * 16), min(size, -(-(end + margin) // 16) * 16)

    y0, y1 = span(box[0], box[1], shape[0])
    x0, x1 = span(box[2], box[3], shape[1])
    return y0, y1, x0, x1


def working_shape(height: int, width: int, long_side: int) -> tuple[int, int]:
    """Working (h, w): long side ≤ ``long_side`` (frames are never upscaled past their size),
    aspect kept, both rounded to multiples of 16 (at least 16)."""
    scale = min(1.0, long_side / float(max(height, width)))
    return (
        max(16, round(height * scale / 16.0) * 16),
        max(16, round(width * scale / 16.0) * 16),
    )
