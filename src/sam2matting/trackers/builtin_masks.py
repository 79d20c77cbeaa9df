"""Bounding boxes and centres of bool masks, for the built-in tracker's per-frame steps.

``np.nonzero`` lists every pixel of a mask (~1 ms on a 512×288 frame on a shared 2-core
machine) where the tracker only needs the box or the centre; OpenCV's ``boundingRect`` and
``moments`` give the same numbers (integer sums, exact in float64) from the image directly, a
few tens of µs. A leaf module: it imports nothing from the project.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["mask_bounds", "mask_centre"]


def _u8(mask: np.ndarray) -> np.ndarray:
    """The mask as a contiguous uint8 image (a view when it already is one, as bool)."""
    if mask.dtype == np.bool_ and mask.flags.c_contiguous:
        return mask.view(np.uint8)
    return np.ascontiguousarray(mask, dtype=np.uint8)


def mask_bounds(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the mask's set pixels, x1 and y1 exclusive; None when empty."""
    x, y, w, h = cv2.boundingRect(_u8(mask))
    if w == 0 or h == 0:
        return None
    return int(x), int(y), int(x + w), int(y + h)


def mask_centre(mask: np.ndarray) -> tuple[float, float] | None:
    """(cx, cy): the mean position of the mask's set pixels; None when empty."""
    m = cv2.moments(_u8(mask), binaryImage=True)
    if m["m00"] == 0:
        return None
    return float(m["m10"] / m["m00"]), float(m["m01"] / m["m00"])
