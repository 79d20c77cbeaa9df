"""Colour-line refinement of a finished matte: hard image edges give hard alpha edges.

The learned heads resolve the matting-critical band, but a network that sees a few pixels of
blur in its inputs answers a crisp object outline with a 1–2 px halo, and the known region
pasted from the tracker's mask is a binary staircase that flickers as the object moves. Both
are what the colour-line model of matting (Levin et al.; He et al.'s guided filter) fixes
locally: in a small window an alpha edge is a linear function of the colour, so

    refined = guided_filter(image, alpha, radius, eps)

keeps every transition that the colours explain (a hard outline stays one pixel wide, now
anti-aliased where the image is) and pulls back the halo pixels whose colour is the
background's. With a small radius (2 px at the frame's resolution) fine strands survive;
larger radii start to blur fur (measured on the tuning clips, see
:class:`sam2matting.matting.learned.LearnedMattingConfig`).

Only blocks near the outline are filtered, so the cost follows the outline's length, not the
frame's or the object's area.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..tiling import outline_crops
from .classical import guided_filter

__all__ = ["colour_line_refine", "outline_crops"]


def _outline_pixels(alpha: np.ndarray) -> np.ndarray:
    """bool H×W: soft pixels and the two pixels of every value change."""
    mark = (alpha > 0.0) & (alpha < 1.0)
    dx = alpha[:, 1:] != alpha[:, :-1]
    dy = alpha[1:, :] != alpha[:-1, :]
    mark[:, 1:] |= dx
    mark[:, :-1] |= dx
    mark[1:, :] |= dy
    mark[:-1, :] |= dy
    return mark


def colour_line_refine(
    image: np.ndarray, alpha: np.ndarray, radius: int, eps: float, block: int = 64
) -> np.ndarray:
    """``alpha`` (float32 H×W in [0, 1]) filtered by the colours of ``image`` (H×W×3 uint8)
    with a guided filter of ``radius`` px and regulariser ``eps`` (on [0, 1] colours); a new
    array. ``radius`` 0 returns ``alpha`` unchanged.

    Only ``block``-px blocks near the outline are filtered (per block row, runs of such blocks
    as one crop with a ``2·radius + 1`` px margin), which gives exactly the whole-frame filter's
    answer there — elsewhere every window is constant and the filter is the identity."""
    if radius <= 0:
        return alpha
    if eps <= 0:
        raise ValueError(f"colour-line eps must be > 0, got {eps}")
    reach = 2 * radius + 1
    mark = _outline_pixels(alpha)
    if not mark.any():
        return alpha
    # a pixel changes only if an outline pixel lies within 2·radius of it
    mark = cv2.dilate(mark.astype(np.uint8), np.ones((2 * reach - 1, 2 * reach - 1), np.uint8))
    out = alpha.copy()
    scale = np.float32(1.0 / 255.0)
    for (y0, y1, x0, x1), (cy0, cy1, cx0, cx1) in outline_crops(mark > 0, block, reach):
        crop = alpha[cy0:cy1, cx0:cx1]
        guide = image[cy0:cy1, cx0:cx1].astype(np.float32) * scale
        refined = guided_filter(guide, crop, int(radius), float(eps))
        # a degenerate window (float32 cancellation in the 3×3 solve) keeps the input
        refined = np.where(np.isfinite(refined), refined, crop)
        core = refined[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
        out[y0:y1, x0:x1] = np.clip(core, 0.0, 1.0)
    return out
