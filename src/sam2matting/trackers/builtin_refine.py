"""Per-frame boundary refinement of the built-in tracker's propagation step: a graph cut in
a band around the re-fitted mask.

Kept apart from :mod:`sam2matting.trackers.builtin` (which owns the session, the first masks
from prompts and the confidence cues) so each piece is a small function with a known answer
on synthetic frames. Everything works at the tracker's working resolution.

Why: the re-fit of :mod:`~sam2matting.trackers.builtin` judges colours by the object's
histograms learnt on its anchor frame. Parts of the object whose colours the anchor did not
show (its shadowed side as it turns, a part coming into view) score as background there, and
the warped prior keeps them out frame after frame: on DAVIS ``dog`` the misses grew from 10 %
to a third of the dog, on pixels whose anchor log-odds were negative (median −1.4). GrabCut
learns colour mixtures on *this* frame from the mask itself and cuts along this frame's
edges, so it takes such parts back; its mixtures follow whatever the mask holds, so it is
allowed to remove pixels only where the anchor's colours agree (:func:`merge_cut`).
"""

from __future__ import annotations

import cv2
import numpy as np

from .builtin_masks import mask_bounds

__all__ = ["band_pixels", "cut_addition_floor", "graph_cut_band", "merge_cut", "refine_band"]


def cut_addition_floor() -> float:
    """Anchor colour log-odds (the cap is 4) at or below which :func:`merge_cut` refuses a
    pixel the graph cut adds: colours the anchor saw (nearly) only in the background. DAVIS
    tuning sequences, J&F: no floor 0.681 (kite-surf 0.563: the cut took in background), 2:
    0.682, 3: 0.685, 3.5: 0.685, 3.99: 0.686 (kite-surf 0.579); 3.5 is the middle of the
    plateau."""
    return 3.5


def band_pixels(band: int, work_w: int, work_h: int) -> int:
    """The graph cut's band in pixels at a working resolution of ``work_w`` × ``work_h``:
    ``band`` is set for a 512-px long side and scales with it (like the re-growing reach),
    at least 1 px; 0 stays 0 (off)."""
    if band <= 0:
        return 0
    return max(1, round(band * max(work_w, work_h) / 512))


def graph_cut_band(
    rgb: np.ndarray, mask: np.ndarray, band: int, iterations: int = 1
) -> np.ndarray | None:
    """Re-decide the pixels within ``band`` px of a mask's boundary by GrabCut.

    ``rgb``: h×w×3 uint8 frame; ``mask``: h×w bool, the current estimate of the object.
    Pixels deeper than ``band`` px inside the mask are sure object, farther than ``band`` px
    outside sure background; in between each pixel's current label is GrabCut's *probable*
    label. GrabCut fits colour mixtures (5 Gaussians a side) to this frame's pixels so
    labelled and cuts along image edges. Runs on the crop around the band only (its cost
    follows the object's size, not the frame's). ``iterations``: GrabCut's re-estimations.

    Returns the new mask (bool, h×w; unchanged farther than ``band`` from the boundary), or
    None when the mask is empty or one side has too few pixels for GrabCut's colour models.
    """
    if band < 1:
        raise ValueError(f"graph_cut_band: band must be >= 1, got {band}")
    if not mask.any():
        return None
    h, w = mask.shape
    bx0, by0, bx1, by1 = mask_bounds(mask) or (0, 0, 1, 1)
    pad = 2 * band + 2
    x0, x1 = max(0, bx0 - pad), min(w, bx1 + pad)
    y0, y1 = max(0, by0 - pad), min(h, by1 + pad)
    crop = mask[y0:y1, x0:x1].astype(np.uint8)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    inner = cv2.erode(crop, disc, borderType=cv2.BORDER_REPLICATE) > 0
    outer = cv2.dilate(crop, disc) > 0
    labels = np.full(crop.shape, cv2.GC_BGD, np.uint8)
    labels[outer] = cv2.GC_PR_BGD
    labels[crop > 0] = cv2.GC_PR_FGD
    labels[inner] = cv2.GC_FGD
    if not (labels == cv2.GC_BGD).any() or not (labels == cv2.GC_FGD).any():
        return None
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour mixtures with k-means on OpenCV's global RNG: fix it, so a
    # frame's result does not depend on what ran before (a resumed run equals a full one:
    # tests/test_trackers_builtin.py::test_continuing_or_restarting_gives_the_same_frames)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(
            np.ascontiguousarray(rgb[y0:y1, x0:x1]),  # channel order does not matter to it
            labels,
            (0, 0, 1, 1),  # the rectangle is ignored with GC_INIT_WITH_MASK
            bgd,
            fgd,
            iterations,
            cv2.GC_INIT_WITH_MASK,
        )
    except cv2.error:  # too few pixels on a side for its colour mixtures
        return None
    out = np.zeros((h, w), bool)
    out[y0:y1, x0:x1] = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    return out


def merge_cut(before: np.ndarray, cut: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """The mask after a graph cut, with removals confirmed by the object's anchor colours.

    ``before``: the mask the cut started from, ``cut``: the cut's mask (both h×w bool);
    ``colour``: h×w log-odds of the object's anchor colour model (> 0 = object's colours).
    Pixels the cut adds are kept unless their colours are all but certainly background
    (``colour`` ≤ −:func:`cut_addition_floor`; the parts the anchor's colours merely
    disfavour are what the cut is for); pixels it removes are removed only where
    ``colour`` < 0. This frame's mixtures are learnt from the mask itself, so on their own
    they drift with it. On the DAVIS tuning sequences (J&F, 0.660 without the cut): both
    directions free 0.620 (libby lost the dog for good), both confirmed by the anchor's
    colours (> 0 to add, < 0 to remove) 0.672, additions free 0.681, this rule 0.685.
    """
    removed = before & ~cut
    added = cut & ~before & (colour > -cut_addition_floor())
    return (before & ~(removed & (colour < 0))) | added


def refine_band(rgb: np.ndarray, logits: np.ndarray, colour: np.ndarray, band: int) -> np.ndarray:
    """Logits (float32, h×w) after :func:`graph_cut_band` and :func:`merge_cut`: at least +1
    on the merged mask, at most −1 off it (the cut has decided these pixels; a pixel the cut
    confirms is no longer a near-tie). ``logits``: h×w float32 (> 0 = object); ``colour``:
    the anchor colour log-odds; ``band``: px, see :func:`graph_cut_band`."""
    before = logits > 0
    cut = graph_cut_band(rgb, before, band)
    if cut is None:
        return logits
    after = merge_cut(before, cut, colour)
    return np.where(after, np.maximum(logits, 1.0), np.minimum(logits, -1.0)).astype(np.float32)
