"""Foreground colour estimation, so composites over a new background have no halos.

Where alpha is soft, the observed colour mixes the subject with the old background. Exporting
that colour as the foreground leaves a fringe of old background on every hair. We solve for the
subject's own colour with pymatting's multi-level estimator (Germer et al. 2020), restricted to
the bounding box of the non-zero alpha so the cost follows the subject, not the frame.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bounding_slices", "estimate_foreground"]


def bounding_slices(mask: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """(rows, cols) slices of the bounding box of a bool H×W ``mask`` grown by ``margin`` px
    and clipped to the frame; None when the mask is empty. Used to keep per-frame work on the
    subject's region instead of the whole frame."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (
        slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, h)),
        slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, w)),
    )


def estimate_foreground(image: np.ndarray, alpha: np.ndarray, margin: int = 16) -> np.ndarray:
    """Straight (unpremultiplied) foreground colour, float32 H×W×3 in [0, 1].

    ``image``: H×W×3 uint8 RGB (or float in [0, 1]); ``alpha``: H×W float in [0, 1]. Pixels
    with alpha = 1 keep their observed colour; soft pixels get the estimated subject colour;
    pixels with alpha = 0 get the colour of the nearest subject region (harmless, since
    they are multiplied by zero, and it keeps premultiply/unpremultiply round trips stable).
    """
    from pymatting import estimate_foreground_ml

    img = np.asarray(image)
    img_f = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)
    a = np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0)
    foreground = img_f.copy()
    region = bounding_slices(a > 0.0, margin)
    if region is None:
        return foreground
    soft = (a > 0.0) & (a < 1.0)
    if not soft.any():
        return foreground
    ys, xs = region
    crop = estimate_foreground_ml(img_f[ys, xs], a[ys, xs])
    foreground[ys, xs] = np.clip(crop, 0.0, 1.0)
    return foreground
