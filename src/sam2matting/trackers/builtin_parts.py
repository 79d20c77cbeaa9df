"""Parts of an object found again beyond an occluder it passes behind (built-in tracker).

Kept apart from :mod:`sam2matting.trackers.builtin` (the session, prompts, confidence) so the
step is one function with a known answer on synthetic evidence maps. Everything works at the
tracker's working resolution.

Why: the per-frame step keeps only the pieces of the re-fitted mask that touch the warped
prior (``components_touching``). When the object passes behind an occluder wider than the
prior's ramp (DAVIS ``libby``: the dog runs behind a pear tree's trunk, then a post, while
the camera pans with it), the part that comes out on the far side is cut off from the mask by
the occluder: its colours are the object's, but no prior reaches it, and the mask shrinks to
the part still on the near side until the whole object is behind or beyond the occluder and
the mask collapses (libby frames 33–38: J 0.47 → 0).

What comes back: pieces of clearly object-coloured evidence that do not move with the
background, near the mask, large enough to be a part, ahead of the mask along the object's
motion *relative to the background* (the side an occluder moving with the scene uncovers)
and beside it (within its span across that motion), and only while the mask is clearly
smaller than the object's reference size. The geometry is what keeps out a region of the
object's colours near it: on DAVIS ``kite-surf`` a patch of the town on the horizon, above
the surfer's head while he moves right, was taken in by versions without the direction and
span tests (J&F 0.838 → 0.742). And a part must be at least as much the object's colours as
the mask itself: a first mask from a box that took in a band of trees behind a horse (DAVIS
``horsejump-high``, every 3rd frame) was otherwise extended along more of them (0.528 → 0.479).

Measured (issue 14, thirteenth session; ``part_recovery`` off → on): see the CHANGELOG and
``benchmarks/results/builtin_tracker_parts.md``.
"""

from __future__ import annotations

import cv2
import numpy as np

from .builtin_masks import mask_bounds, mask_centre, mask_pixels
from .builtin_unchanged import unchanged_level, unchanged_residual

__all__ = [
    "recover_parts",
    "recovery_beside",
    "recovery_colour",
    "recovery_direction",
    "recovery_evidence",
    "recovery_gap",
    "recovery_history",
    "recovery_motion",
    "recovery_part_share",
    "recovery_reach",
    "recovery_speed",
    "recovery_trigger",
    "relative_motion",
]


def recovery_trigger() -> float:
    """Fraction of the object's reference size below which its mask counts as missing a part
    (and :func:`recover_parts` looks for it): an object passing behind an occluder loses a
    third to a half of its area before the part beyond it shows (libby 0.45–0.66)."""
    return 0.8


def recovery_speed() -> float:
    """Relative motion (px per frame, object minus background at the mask's centre) from
    which an occluder moving with the scene uncovers parts on one side of the object: below
    it the side is undefined and nothing is recovered."""
    return 1.0


def recovery_reach() -> float:
    """How far from the mask (in object sizes, the square root of the reference area) a
    recovered part may lie: a trunk or post is narrower than the object behind it."""
    return 1.0


def recovery_colour() -> float:
    """Colour log-odds (the cap is 4) a pixel of a recovered part must exceed: the object's
    colours, not merely compatible ones."""
    return 1.0


def recovery_evidence() -> float:
    """Colour plus motion log-odds a pixel of a recovered part must exceed: the motion may
    weaken the colours' case, not overturn it."""
    return 0.0


def recovery_motion() -> float:
    """Mean motion log-odds (object vs background, in [−4, 4]) a recovered part must exceed:
    not clearly moving with the background. Not "clearly with the object": the object's
    motion is fitted on the part left on the near side of the occluder, and its error shows
    on the far part (a bar crossing at 3 px a frame fitted at 5–9 px)."""
    return -1.0


def recovery_beside() -> float:
    """Share of a recovered part's pixels that must lie within the mask's span across the
    relative motion: a part beyond an occluder lies beside the mask along the motion, a
    region of the object's colours above or below it (a town on the horizon above a kite
    surfer moving right) does not."""
    return 0.5


def recovery_part_share() -> float:
    """Smallest recovered part, as a share of the reference area: a head or a forequarter,
    not speckle of the object's colours in the background."""
    return 0.05


def recovery_gap() -> int:
    """Pixels (working resolution) of background between qualifying pieces of object colours
    that still make them one part, counted from each side: leaves or a fence in front of the
    part beyond an occluder break it up, and each piece alone is smaller than a part (DAVIS
    ``libby``, frames 32–34: the dog's head beyond the pear tree's trunk, seen through its
    foliage, in pieces of 3–4 % of the reference area, against the 5 % of
    :func:`recovery_part_share`). Only pieces that pass every other test are joined: a first
    version joined before testing, and a piece ahead of the mask merged with a region of
    the object's colours below it took that region in (libby, one grey level of noise,
    frame 42: 961 px added, 18 % of them the dog's)."""
    return 2


def recovery_direction() -> float:
    """Smallest cosine between a part's offset from the mask's centre and the object's motion
    relative to the background (0.7: within 45°)."""
    return 0.7


def recovery_history() -> int:
    """Frames before this one whose relative motion (object minus background, see
    :func:`relative_motion`) :func:`recover_parts` takes the component-wise median with:
    the object's motion is fitted on the part left on the near side of the occluder, and
    one frame's fit can point anywhere (DAVIS ``libby`` played backwards, frame 5: the dog
    runs left, behind a post, and the fit says up, so the part beyond the post was not
    looked for; frame 6: a 49 px jump)."""
    return 2


def relative_motion(
    obj_motion: np.ndarray, bg_motion: np.ndarray, centre: tuple[float, float]
) -> np.ndarray:
    """The object's motion relative to the background at ``centre`` (x, y): (dx, dy) px, of
    the 2×3 affine motions (previous → current pixels)."""
    point = np.array([centre[0], centre[1], 1.0])
    return np.asarray(obj_motion @ point - bg_motion @ point, np.float64)


def recover_parts(
    mask: np.ndarray,
    colour: np.ndarray,
    evidence: np.ndarray,
    motion: np.ndarray,
    ref_area: float,
    obj_motion: np.ndarray,
    bg_motion: np.ndarray,
    blocked: np.ndarray | None = None,
    recent: tuple[tuple[float, float], ...] = (),
    previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """bool h×w: the pixels of the parts to add to ``mask`` (all False when none).

    ``mask``: bool h×w, this frame's mask (after the components step); ``colour``: float32 h×w
    colour log-odds; ``evidence``: float32 h×w, the object's appearance (colour and any learned
    or plate cue) plus ``motion``; ``motion``: float32 h×w motion log-odds (object vs
    background, see ``_motion_llr``); ``ref_area``: the object's reference size (px);
    ``obj_motion`` / ``bg_motion``: 2×3 affine motions (previous → current pixels) of the object
    and of the background around it; ``blocked``: bool h×w or None, pixels a part may not
    take (held by another, trusted object: one pixel, one owner); ``recent``: the relative
    motions of the last frames (oldest first, at most :func:`recovery_history`);
    ``previous``: (this frame's RGB, the previous frame's RGB, the previous mask), uint8
    h×w×3, uint8 h×w×3, bool h×w, or None (no test of what the background already showed).

    A piece is an 8-connected piece (after a 3×3 opening) of pixels with ``colour``
    > :func:`recovery_colour` and ``evidence`` > :func:`recovery_evidence`, not in the mask.
    It qualifies when it has a mean ``motion`` above :func:`recovery_motion` and a mean
    ``colour`` at least the mask's own, lies ahead of the mask along the object's motion
    relative to the background (its centre within 45° of it, :func:`recovery_direction`)
    and beside it (at least :func:`recovery_beside` of its pixels within the mask's span
    across that motion), and, with ``previous``, when its median
    :func:`~.builtin_unchanged.unchanged_residual` is at least
    :func:`~.builtin_unchanged.unchanged_level` (not the background the previous frame
    showed there, unchanged: DAVIS ``libby`` frame 42, a textureless post of the dog's
    colours, undecided by the motion evidence, was taken in and carried down the post for
    six frames). Qualifying pieces at most 2 × :func:`recovery_gap` px apart are one
    part; a part must start within :func:`recovery_reach` sizes of the mask (it may extend
    beyond) and be at least :func:`recovery_part_share` of the reference area.
    Nothing is recovered while the mask holds :func:`recovery_trigger` of the reference area
    or the relative motion (the median with ``recent``) is below :func:`recovery_speed`.
    Parts are taken largest first while the mask stays within its reference size.
    """
    added = np.zeros(mask.shape, bool)
    area = float(np.count_nonzero(mask))
    if area == 0 or ref_area <= 0 or area >= recovery_trigger() * ref_area:
        return added
    centre = mask_centre(mask)
    bounds = mask_bounds(mask)
    if centre is None or bounds is None:
        return added
    relative = relative_motion(obj_motion, bg_motion, centre)
    if recent:
        # one frame's fit on a partly hidden object can point anywhere: the median with the
        # last frames' keeps the side the occluder uncovers
        relative = np.median(np.array((*recent, (relative[0], relative[1]))), axis=0)
    speed = float(np.hypot(relative[0], relative[1]))
    if speed < recovery_speed():
        return added
    reach = max(2, round(recovery_reach() * float(np.sqrt(ref_area))))
    # parts start within the reach and may extend beyond it (an elongated object)
    margin = 2 * reach
    h, w = mask.shape
    x0, y0 = max(0, bounds[0] - margin), max(0, bounds[1] - margin)
    x1, y1 = min(w, bounds[2] + margin), min(h, bounds[3] + margin)
    inside = mask[y0:y1, x0:x1]
    distance = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 3)
    candidate = (
        (colour[y0:y1, x0:x1] > recovery_colour())
        & (evidence[y0:y1, x0:x1] > recovery_evidence())
        & ~inside
    )
    if blocked is not None:
        candidate &= ~blocked[y0:y1, x0:x1]
    candidate = candidate.astype(np.uint8)
    candidate = cv2.morphologyEx(candidate, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if not candidate.any():
        return added
    count, labels, _, centres = cv2.connectedComponentsWithStats(candidate, connectivity=8)
    flat = np.asarray(labels, np.intp).ravel()
    sizes = np.maximum(np.bincount(flat, minlength=count), 1)
    moving_with = np.bincount(flat, motion[y0:y1, x0:x1].ravel(), count) / sizes
    coloured = np.bincount(flat, colour[y0:y1, x0:x1].ravel(), count) / sizes
    # as much the object's colours as the mask itself: a mask that already took in some
    # background (a first mask from a box) is not extended along more of it
    own = float(colour[mask].mean())
    # ahead of the mask along the relative motion
    dx = centres[:, 0] + x0 - centre[0]
    dy = centres[:, 1] + y0 - centre[1]
    offset = np.hypot(dx, dy)
    ahead = (dx * relative[0] + dy * relative[1]) >= recovery_direction() * offset * speed
    # across the motion: where the mask spans (a part beyond an occluder the object passes
    # behind lies beside it along the motion, not above or below it)
    across = np.array([-relative[1], relative[0]]) / speed
    ys, xs = mask_pixels(inside)
    span = xs * across[0] + ys * across[1]
    rows, cols = np.indices(inside.shape)
    position = cols * across[0] + rows * across[1]
    within = (position >= float(span.min())) & (position <= float(span.max()))
    beside = np.bincount(flat, within.ravel(), count) / sizes
    # every piece qualifies as a part of the object but for its size...
    qualifies = (
        (moving_with > recovery_motion())
        & (coloured >= own)
        & (offset > 0)
        & ahead
        & (beside >= recovery_beside())
    )
    qualifies[0] = False
    if previous is not None and qualifies.any():
        # the background the previous frame already showed there, unchanged, is not a part
        # the occluder uncovers (a textureless post of the object's colours)
        rgb, previous_rgb, previous_mask = previous
        change = unchanged_residual(rgb, previous_rgb, previous_mask, bg_motion, (x0, y0, x1, y1))
        for label in np.flatnonzero(qualifies):
            if float(np.median(change[labels == label])) < unchanged_level():
                qualifies[label] = False
        if not qualifies.any():
            return added
    # ...and qualifying pieces within the gap of each other are one part (a head seen
    # through leaves); only the pieces' own pixels are taken
    pieces = qualifies[labels]
    gap = 2 * recovery_gap() + 1
    joined = cv2.dilate(pieces.astype(np.uint8), np.ones((gap, gap), np.uint8))
    count, groups = cv2.connectedComponents(joined, connectivity=8)
    groups = np.where(pieces, groups, 0)
    flat = np.asarray(groups, np.intp).ravel()
    areas = np.bincount(flat, minlength=count)
    nearest = np.full(count, np.inf)
    np.minimum.at(nearest, flat, distance.ravel())
    budget = ref_area - area
    smallest = recovery_part_share() * ref_area
    keep = np.zeros(count, bool)
    for group in np.argsort(-areas[1:]) + 1:
        part = float(areas[group])
        if part < smallest or part > budget or nearest[group] > reach:
            continue
        keep[group] = True
        budget -= part
    added[y0:y1, x0:x1] = keep[groups]
    return added
