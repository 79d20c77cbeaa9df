"""The background the previous frame already showed, unchanged (built-in tracker).

Kept apart from :mod:`sam2matting.trackers.builtin` (the session, prompts, confidence) so the
test is two small functions with a known answer on synthetic frames. Everything works at the
tracker's working resolution.

Why: the per-frame step re-fits the warped mask to this frame's colours, grows it back into
pixels of the object's colours next to it and cuts along this frame's edges. Where the scene
has the object's colours (a concrete post as pale as a dog's belly, a dark patch of soil like
its shaded flank), those stages take it in, and its motion evidence cannot take it out again
when it is textureless: the object's motion and the background's explain it equally well.
But a pixel the previous frame showed, outside the previous mask, and that the background's
motion carries here unchanged is the scene that was already there, not a part of the object
that moved in: when the object moves against the background, what it brings to a spot it
moves onto differs from what the spot showed before.

Two limits keep the object's own parts in:
- The test needs relative motion (:func:`~.builtin_parts.recovery_speed`): an object at rest
  against the background leaves every spot unchanged, its missed parts included.
- A pixel the object's motion explains better than the background's does not count: an
  object moving onto a spot of its own colours leaves it nearly unchanged too (the lit front
  of a car driving out of a shadow, as white as the wall behind it: without this, its leading
  edge stayed cut off, J 0.99 → 0.90 on ``tests/test_trackers_builtin_appearance.py``'s
  clip, seed 1), but its texture moved with it.
What is left undecided is a uniform part the previous mask missed and the object's motion
does not explain better: it stays out, as the scene would. Parts the shape memory holds are
in the prediction and never judged.

Measured (issue 14, twenty-fifth session): see the CHANGELOG and
``benchmarks/results/builtin_tracker_session25_unchanged_*.md``.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["drop_unchanged", "unchanged_level", "unchanged_residual", "unchanged_smallest"]


def unchanged_level() -> float:
    """Colour change (mean absolute RGB difference, grey levels) under which a pixel counts as
    the background the previous frame already showed there (:func:`unchanged_residual`); a
    piece whose median change is below it is that background. DAVIS ``libby`` frame 42: a
    concrete post the dog runs behind, taken in as a part beyond it (727 px, none of it the
    dog's), has a median change of 4.5 grey levels, against 17.5–110 for every part taken
    correctly on the six DAVIS sequences (as filmed and played backwards, from the mask and
    from the box). 10 is about the geometric middle: above sensor and compression noise,
    below the contrast of a part against what it uncovers."""
    return 10.0


def unchanged_smallest() -> int:
    """Fewest pixels of a piece :func:`drop_unchanged` judges: a sliver along the boundary,
    half of its pixels straddling an edge the affine background motion places a pixel off,
    has a median that says little."""
    return 10


def unchanged_residual(
    rgb: np.ndarray,
    previous_rgb: np.ndarray,
    previous_mask: np.ndarray,
    bg_motion: np.ndarray,
    window: tuple[int, int, int, int] | None = None,
    obj_motion: np.ndarray | None = None,
) -> np.ndarray:
    """float32: how much each pixel of ``rgb`` (uint8 h×w×3) differs, as the mean absolute
    RGB difference, from ``previous_rgb`` moved by the background's affine ``bg_motion``
    (previous → current pixels); infinite where the previous mask (``previous_mask``, bool,
    moved the same way) held the pixel or the motion brings it from outside the frame, and,
    with ``obj_motion`` (the object's affine motion, previous → current pixels), where the
    previous frame moved by it differs less from ``rgb`` (the object's motion explains the
    pixel better). ``window``: (x0, y0, x1, y1), the part of the frame to compute (the result
    is that window's); None: the whole frame."""
    h, w = previous_mask.shape
    x0, y0, x1, y1 = (0, 0, w, h) if window is None else window
    motion = np.array(bg_motion, np.float64)
    motion[:, 2] -= (x0, y0)  # into the window's pixels
    size = (x1 - x0, y1 - y0)
    moved = cv2.warpAffine(
        previous_rgb, motion, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    held = cv2.warpAffine(
        previous_mask.astype(np.uint8),
        motion,
        size,
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=1,
    )
    current = rgb[y0:y1, x0:x1]
    change = cv2.absdiff(current, moved).astype(np.float32).mean(axis=2)
    unexplained = held > 0
    if obj_motion is not None:
        motion = np.array(obj_motion, np.float64)
        motion[:, 2] -= (x0, y0)
        carried = cv2.warpAffine(
            previous_rgb, motion, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        unexplained |= cv2.absdiff(current, carried).astype(np.float32).mean(axis=2) < change
    return np.where(unexplained, np.float32(np.inf), change).astype(np.float32)


def drop_unchanged(
    mask: np.ndarray,
    predicted: np.ndarray,
    rgb: np.ndarray,
    previous_rgb: np.ndarray,
    previous_mask: np.ndarray,
    bg_motion: np.ndarray,
    obj_motion: np.ndarray | None = None,
) -> np.ndarray:
    """bool h×w: ``mask`` without its pieces outside ``predicted`` (bool h×w: where the
    warp, the object's motion and its part memory put the object) whose median
    :func:`unchanged_residual` (with ``obj_motion``: not counting pixels the object's motion
    explains better) is below :func:`unchanged_level`. A piece is an 8-connected piece of
    ``mask & ~predicted`` of at least :func:`unchanged_smallest` pixels.

    Call it only while the object moves against the background (the caller's test): at
    rest, every spot is unchanged."""
    added = mask & ~predicted
    if not added.any():
        return mask
    x, y, w, h = cv2.boundingRect(added.astype(np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        added[y : y + h, x : x + w].astype(np.uint8), connectivity=8
    )
    judged = [k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] >= unchanged_smallest()]
    if not judged:
        return mask
    change = unchanged_residual(
        rgb, previous_rgb, previous_mask, bg_motion, (x, y, x + w, y + h), obj_motion
    )
    out = mask.copy()
    inside = out[y : y + h, x : x + w]  # a view: pieces are cleared in place
    for k in judged:
        px, py, pw, ph = stats[k, :4]
        piece = labels[py : py + ph, px : px + pw] == k
        if float(np.median(change[py : py + ph, px : px + pw][piece])) < unchanged_level():
            inside[py : py + ph, px : px + pw][piece] = False
    return out
