"""Trimaps: the one place in the code base that turns masks into trimaps.

A trimap is float32 H×W with 0 = background, 1 = foreground and 0.5 = unknown (the band whose
alpha the matting head must solve). Two kinds:

- :func:`morphological_trimap`: the classical band ``dilate(mask) − erode(mask)``;
- :func:`pseudo_trimap`: SAM2Matting's bridge output — 0.5 inside a region of interest (the
  learned ROI), the binary mask elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = [
    "UNKNOWN",
    "band_width_for",
    "ground_truth_roi",
    "morphological_trimap",
    "pseudo_trimap",
    "unknown_band",
]

#: trimap value of the unknown band
UNKNOWN = 0.5


def band_width_for(height: int, width: int, fraction: float = 0.012, minimum: int = 3) -> int:
    """Half-width in pixels of the unknown band for a frame of this size.

    Scales with the frame diagonal so a 4K plate gets a proportionally wider band than a 512×288
    preview (the mask's boundary error, which the band must cover, scales with resolution).
    ``fraction`` of the diagonal, at least ``minimum`` pixels.
    """
    return max(minimum, round(fraction * float(np.hypot(height, width))))


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def unknown_band(mask: np.ndarray, radius: int, inner_radius: int | None = None) -> np.ndarray:
    """Bool H×W: pixels within ``radius`` outside / ``inner_radius`` inside the mask boundary."""
    m = np.asarray(mask).astype(np.uint8)
    inner = radius if inner_radius is None else inner_radius
    dilated = cv2.dilate(m, _disc(radius)) if radius > 0 else m
    eroded = cv2.erode(m, _disc(inner)) if inner > 0 else m
    return dilated.astype(bool) & ~eroded.astype(bool)


def morphological_trimap(
    mask: np.ndarray, radius: int | None = None, inner_radius: int | None = None
) -> np.ndarray:
    """Trimap from a binary H×W mask: 1 inside, 0 outside, 0.5 in ``dilate − erode``.

    ``radius`` (pixels) defaults to :func:`band_width_for` the mask's size; ``inner_radius``
    (default = ``radius``) lets the band reach further outside than inside, since hair and fur
    stick out of the tracker's mask more than holes bite into it.
    """
    m = np.asarray(mask).astype(bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be H×W, got shape {m.shape}")
    r = band_width_for(*m.shape) if radius is None else int(radius)
    trimap = m.astype(np.float32)
    trimap[unknown_band(m, r, inner_radius)] = UNKNOWN
    return trimap


@overload
def pseudo_trimap(mask: np.ndarray, roi: np.ndarray) -> np.ndarray: ...
@overload
def pseudo_trimap(mask: torch.Tensor, roi: torch.Tensor) -> torch.Tensor: ...
def pseudo_trimap(
    mask: np.ndarray | torch.Tensor, roi: np.ndarray | torch.Tensor
) -> np.ndarray | torch.Tensor:
    """SAM2Matting's pseudo-trimap: 0.5 where ``roi`` is set, the binary ``mask`` elsewhere.

    Works on numpy arrays (H×W) and on torch tensors (any shape, broadcasting), so training and
    inference share it. ``roi`` is boolean (already thresholded): the hard threshold is what
    keeps the alpha losses from reaching the ROI detector.
    """
    if isinstance(mask, np.ndarray):
        out = np.asarray(mask, dtype=np.float32).copy()
        out[np.asarray(roi, dtype=bool)] = UNKNOWN
        return out
    import torch

    mask_t = torch.as_tensor(mask).float()
    roi_t = torch.as_tensor(roi).to(mask_t.dtype)
    return torch.where(roi_t > 0.5, torch.full_like(mask_t, UNKNOWN), mask_t)


def ground_truth_roi(
    alpha: np.ndarray, radius: int = 10, low: float = 0.15, high: float = 0.5
) -> np.ndarray:
    """The ROI a perfect detector would propose, from ground-truth alpha (H×W in [0, 1]).

    ``dilate(α > low) − erode(α > high)`` with a disc of ``radius`` pixels: every soft pixel plus
    a margin for the tracker's boundary error (the paper's GT-ROI with thresholds 0.15 / 0.5).
    """
    a = np.asarray(alpha, dtype=np.float32)
    outer = cv2.dilate((a > low).astype(np.uint8), _disc(radius))
    inner = cv2.erode((a > high).astype(np.uint8), _disc(radius))
    return outer.astype(bool) & ~inner.astype(bool)
