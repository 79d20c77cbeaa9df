"""Bounding boxes and centres of bool masks, for the built-in tracker's per-frame steps.

``np.nonzero`` lists every pixel of a mask (~1 ms on a 512×288 frame on a shared 2-core
machine) where the tracker only needs the box or the centre; OpenCV's ``boundingRect`` and
``moments`` give the same numbers (integer sums, exact in float64) from the image directly, a
few tens of µs. Where the pixels themselves are needed, :func:`mask_pixels` lists them from
the flattened mask: ``np.nonzero`` of a 2-D array is ~10× slower than of the same array
flattened (NumPy 2.4: 0.63 ms against 0.05 ms on a 512×288 mask), for the same indices in the
same order. A leaf module: it imports nothing from the project.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["binary_u8", "mask_bounds", "mask_centre", "mask_pixels", "shifted"]


def _u8(mask: np.ndarray) -> np.ndarray:
    """The mask as a contiguous uint8 image (a view when it already is one, as bool)."""
    if mask.dtype == np.bool_ and mask.flags.c_contiguous:
        return mask.view(np.uint8)
    return np.ascontiguousarray(mask, dtype=np.uint8)


def binary_u8(mask: np.ndarray) -> np.ndarray:
    """The mask as a contiguous 0/1 uint8 image (nonzero after a cast to uint8 = 1, as OpenCV's
    ``binaryImage`` reads it). On such an image the plain :func:`cv2.moments` are the binary
    ones, ~4× faster than asking OpenCV to binarise (0.11 against 0.41 ms at 512×288)."""
    u = _u8(mask)
    return u if mask.dtype == np.bool_ else (u != 0).view(np.uint8)


def mask_bounds(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the mask's set pixels, x1 and y1 exclusive; None when empty."""
    x, y, w, h = cv2.boundingRect(_u8(mask))
    if w == 0 or h == 0:
        return None
    return int(x), int(y), int(x + w), int(y + h)


def mask_centre(mask: np.ndarray) -> tuple[float, float] | None:
    """(cx, cy): the mean position of the mask's set pixels; None when empty."""
    u = binary_u8(mask)
    x, y, w, h = cv2.boundingRect(u)
    if w == 0 or h == 0:
        return None
    # on the mask's box only: the sums are integers, exact in float64, so shifting them back
    # gives the whole image's moments bit for bit
    m = cv2.moments(u[y : y + h, x : x + w])
    m00 = m["m00"]
    return float((m["m10"] + x * m00) / m00), float((m["m01"] + y * m00) / m00)


def mask_pixels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs): the rows and columns of a 2-D mask's nonzero pixels, in row-major order
    (what ``np.nonzero(mask)`` returns, ~10× faster)."""
    if mask.ndim != 2:
        raise ValueError(f"mask_pixels: expected a 2-D mask, got shape {mask.shape}")
    ys, xs = np.divmod(np.flatnonzero(mask), mask.shape[1])
    return ys, xs


def shifted(mask: np.ndarray, dx: float, dy: float, nearest: bool = True) -> np.ndarray:
    """``mask`` (bool) moved by (``dx``, ``dy``) px, pixels from outside the frame empty.
    ``nearest``: each pixel takes the one it came from; else bilinear on the 0/1 image,
    rounded back to 0/1 (a pixel is set where the moved mask covers more than about half
    of it)."""
    h, w = mask.shape
    moved = cv2.warpAffine(
        mask.astype(np.uint8),
        np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]]),
        (w, h),
        flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    out: np.ndarray = moved > 0
    return out
