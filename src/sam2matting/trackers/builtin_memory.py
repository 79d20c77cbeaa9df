"""Shape memory of the built-in tracker: parts of the object it dropped come back.

Kept apart from :mod:`sam2matting.trackers.builtin` (the session, prompts, confidence) so
each piece is a small function with a known answer on synthetic frames. Everything works at
the tracker's working resolution.

Why: the per-frame step of :mod:`~sam2matting.trackers.builtin` only ever moves the
*previous* mask. A part it drops on one frame is gone for good unless its colours are
clearly the object's right next to the mask (:func:`~.builtin._regrow`). A thin occluder
crossing the object drops parts one strip at a time: as a pole sweeps over a running dog
(DAVIS ``libby``, camera panning with the dog) the pixels it uncovers were occluder on the
previous frame, hence not object, and the warp carries "not object" onto them; frame after
frame the part beyond the pole is lost (down to 40 % of the dog's area) and never returns.
The error anatomy (``benchmarks/bench_builtin_anatomy.py``) calls these misses *far* from
the boundary: no band around the current outline reaches them.

The memory is a soft mask (float32, [0, 1]) of the object's recent confident shape, moved
every frame by the translation of the object's affine motion (:func:`motion_shift`),
corrected by matching the object's remembered appearance under the memory on the frame
(:func:`locate`, :func:`follow`: a masked match that a thin occluder barely disturbs), and
blended with the new mask on confident frames (:func:`remember`, an exponential moving
average). Where the memory holds
the object and the frame's warped prior does not, the prior is lifted to
:func:`memory_prior` log-odds (:func:`lift_prior`): the frame's own evidence (anchor
colours, motion, the graph cut) then decides, so a part the object still shows comes back
while an occluder in front of it (other colours) stays out and does not cut off what lies
beyond it. Parts that really left (a leg swinging, the object turning) fade from the memory
within a few confident frames.
"""

from __future__ import annotations

import cv2
import numpy as np

from .builtin_masks import mask_bounds, mask_centre

__all__ = [
    "align_reach",
    "floor_colour",
    "follow",
    "lift_prior",
    "locate",
    "memory_depth",
    "memory_part_share",
    "memory_prior",
    "memory_support",
    "motion_shift",
    "relit_colour_floor",
    "remember",
    "shift",
    "shift_image",
]


def memory_prior() -> float:
    """Prior log-odds given to pixels the memory holds (mean ≥ :func:`memory_support`) where
    the warped prior is lower: 0 is neutral, so this frame's colour and motion evidence
    alone decides whether the part is there. Positive values would keep parts against
    mildly background colours (an occluder of the object's colours); negative ones would
    need strong colour evidence, which is what the re-growing step already asks for."""
    return 0.0


def memory_support() -> float:
    """Memory value (the blended share of recent confident masks holding the pixel) from
    which a pixel counts as remembered object: a majority of the recent masks."""
    return 0.5


def relit_colour_floor() -> float:
    """Most negative colour log-odds a remembered pixel (memory ≥ :func:`memory_support`)
    keeps once the anchor's colours no longer explain the tracked object at all (the
    appearance's ``need`` at 1; see :func:`floor_colour`).

    Why: light that changes over the object changes its colours unevenly. On DAVIS
    ``car-shadow`` the car drives out of a building's shadow: its whole body brightens, and
    its sunlit front, silver in the shade on the anchor, turns as white as the walls behind
    it, which the colour model learnt as background (−3.5 log-odds there, against +1.3 from
    the motion). Frame after frame the re-fit and the band's cut took the front off (J 0.96
    → 0.57 by the last frame) while the shape memory still held it (0.85) and the motion
    said object. With colour's word against a remembered part limited once the colours are
    known to fail, the motion, the warped prior and the cut decide there, as they do for a
    colour the anchor never saw.

    DAVIS from the mask (with the colour shift's gate, ``_colour_locates`` in
    :mod:`~sam2matting.trackers.builtin`): car-shadow 0.761 → 0.792 J&F at 1; 0.5 / 2 give
    0.788 / 0.793; the other five sequences, from the mask and from the box, as before
    (dog from the mask 0.842 → 0.844). Tried and not taken: the same floor on every frame
    (the need left out): car-shadow 0.750 and blackswan, horsejump-high, kite-surf and libby
    0.005–0.016 lower; the need measured on the memory's pixels instead of the mask's (so a
    part the mask already dropped counts): dog 0.844 → 0.837, horsejump-high 0.827 → 0.814;
    the floor only where the motion evidence says object: car-shadow 0.778, four of the
    other five lower."""
    return 1.0


def floor_colour(colour: np.ndarray, memory: np.ndarray, need: float, limit: float) -> np.ndarray:
    """Colour log-odds (float32 h×w) with the remembered pixels (``memory`` ≥
    :func:`memory_support`) raised to at least −(``limit`` − (``limit`` −
    :func:`relit_colour_floor`) × ``need``): unchanged at ``need`` 0 (the anchor's colours
    explain the object; ``limit`` is the colour evidence's own cap), up to the floor at 1.
    ``need``: the share ([0, 1]) of the appearance memory the frame uses
    (:func:`~sam2matting.trackers.builtin_appearance.memory_need`)."""
    if need <= 0:
        return colour
    floor = limit - (limit - relit_colour_floor()) * min(need, 1.0)
    held = memory >= memory_support()
    return np.where(held, np.maximum(colour, -floor), colour).astype(np.float32)


def motion_shift(memory: np.ndarray, motion: np.ndarray | None) -> tuple[float, float]:
    """The translation (dx, dy) px the object's affine ``motion`` (2×3, previous → current
    pixels) gives the memory's centre; (0, 0) without a motion or a memory. Only the
    translation: the affine fit's scale and shear are noisy (a few % a frame on DAVIS
    ``libby``) and, composed frame after frame, would deform the memory; :func:`locate`
    then corrects the placement."""
    if motion is None:
        return 0.0, 0.0
    centre = mask_centre(memory >= memory_support())
    if centre is None:
        return 0.0, 0.0
    cx, cy = centre
    dx = motion[0, 0] * cx + motion[0, 1] * cy + motion[0, 2] - cx
    dy = motion[1, 0] * cx + motion[1, 1] * cy + motion[1, 2] - cy
    return float(dx), float(dy)


def shift(memory: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``memory`` (float32 h×w) translated by (dx, dy) px, 0 where it comes from outside."""
    h, w = memory.shape
    if dx == 0 and dy == 0:
        return memory
    moved = cv2.warpAffine(
        memory,
        np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]]),
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    return np.asarray(moved, np.float32)


def align_reach(area: float) -> int:
    """How far (px) :func:`locate` searches around the motion's placement: 15 % of the
    object's size (square root of its area), at least 2 px: the translation error the flow
    leaves over a frame, not a re-detection."""
    return max(2, round(0.15 * float(np.sqrt(max(area, 1.0)))))


def locate(
    memory: np.ndarray,
    appearance: np.ndarray,
    gray: np.ndarray,
    guess: tuple[float, float] = (0.0, 0.0),
) -> tuple[float, float]:
    """Translation (dx, dy) px that moves the remembered object onto this frame best: its
    appearance under the memory's core (``appearance``: the grey frame the memory was last
    confirmed on, uint8 h×w, aligned with ``memory``) matched on ``gray`` (this frame, uint8
    h×w) within :func:`align_reach` px of ``guess`` (the motion's translation), by masked
    least squares (on copies downscaled so the memory's long side is ~48 px). ``guess``
    itself when the match is flat.

    Why: the object's motion from the flow is fitted on the previous *mask*; where the mask
    has taken in background (a patch left behind as the object runs on) the fit lags the
    object and a memory moved by it drifts onto the background. The appearance under the
    memory's core is mostly the object, and a thin occluder over it costs a small share of
    the squared differences only."""
    core = memory >= memory_support()
    if not core.any():
        return guess
    h, w = memory.shape
    x0, y0, x1, y1 = mask_bounds(core) or (0, 0, 1, 1)
    reach = align_reach(float(np.count_nonzero(core)))
    scale = max(1.0, max(x1 - x0, y1 - y0) / 48.0)
    gx, gy = round(guess[0]), round(guess[1])
    wx0, wy0 = max(0, x0 + gx - reach), max(0, y0 + gy - reach)
    wx1, wy1 = min(w, x1 + gx + reach), min(h, y1 + gy + reach)
    if wx1 <= wx0 or wy1 <= wy0:
        # the guess puts the object off the frame: nothing to match it on
        return guess
    template = np.asarray(appearance[y0:y1, x0:x1], np.float32)
    weight = np.asarray(core[y0:y1, x0:x1], np.float32)
    window = np.asarray(gray[wy0:wy1, wx0:wx1], np.float32)
    if scale > 1.0:

        def small(a: np.ndarray) -> np.ndarray:
            size = (max(1, round(a.shape[1] / scale)), max(1, round(a.shape[0] / scale)))
            return np.asarray(cv2.resize(a, size, interpolation=cv2.INTER_AREA), np.float32)

        template, weight, window = small(template), small(weight), small(window)
    if window.shape[0] < template.shape[0] or window.shape[1] < template.shape[1]:
        return guess
    cost = np.asarray(cv2.matchTemplate(window, template, cv2.TM_SQDIFF, mask=weight), np.float32)
    if not np.isfinite(cost).all():
        return guess
    # the placement (in the cost map) that leaves the memory where it is
    px = (x0 - wx0) / scale
    py = (y0 - wy0) / scale
    # the guess's placement, and the best
    qx = min(max(round((x0 + gx - wx0) / scale), 0), cost.shape[1] - 1)
    qy = min(max(round((y0 + gy - wy0) / scale), 0), cost.shape[0] - 1)
    _, _, (bx, by), _ = cv2.minMaxLoc(cost)
    if float(cost[qy, qx]) <= float(cost[by, bx]):
        return guess
    fx = bx + _vertex(cost[by, bx - 1 : bx + 2]) if 0 < bx < cost.shape[1] - 1 else float(bx)
    fy = by + _vertex(cost[by - 1 : by + 2, bx]) if 0 < by < cost.shape[0] - 1 else float(by)
    return (fx - px) * scale, (fy - py) * scale


def _vertex(values: np.ndarray) -> float:
    """Offset ([-0.5, 0.5]) of the minimum of the parabola through three costs around a
    discrete minimum: sub-sample precision on the downscaled match."""
    a, b, c = (float(v) for v in values)
    curvature = a - 2 * b + c
    if curvature <= 0:
        return 0.0
    return float(np.clip(0.5 * (a - c) / curvature, -0.5, 0.5))


def follow(
    memory: np.ndarray,
    appearance: np.ndarray,
    gray: np.ndarray,
    motion: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(memory, appearance) moved from the previous frame to this one by the appearance match
    (:func:`locate`) around the translation of the object's ``motion``
    (:func:`motion_shift`), in one interpolation. ``memory``: float32 h×w; ``appearance``:
    uint8 h×w (both aligned to the previous frame); ``gray``: this frame, uint8 h×w."""
    dx, dy = locate(memory, appearance, gray, motion_shift(memory, motion))
    if dx == 0 and dy == 0:
        return memory, appearance
    return shift(memory, dx, dy), shift_image(appearance, dx, dy)


def shift_image(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` (uint8 h×w) translated by (dx, dy) px, edges repeated."""
    h, w = image.shape
    moved = cv2.warpAffine(
        image,
        np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]]),
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(moved, np.uint8)


def memory_depth() -> float:
    """Depth (in boundary sigmas) inside the memory from which its prior is lifted fully:
    only the memory's thick parts (a head, a torso) are remembered, its outline and thin
    parts (legs, a tail) are not: they move with the object's articulation, not with its
    translation, and a memory of them would lift background where they were.

    DAVIS tuning sequences (``benchmarks/bench_builtin_memory.py``, ``part_memory`` 0.1), mean
    J&F over 24-frame windows dog / kite-surf / libby for 1 / 2 / 3 sigmas: 0.837 / 0.804 /
    0.751, 0.834 / 0.810 / 0.751, 0.835 / 0.808 / 0.723 (without the memory 0.838 / 0.806 /
    0.675); but one run through the dog's 60 frames from its first mask: 0.768 / 0.780 /
    0.809 (without 0.809): a shallow memory lags the dog's turning body by a few frames and
    lifts the ground along its outline, frame after frame. 3 keeps the dog and half of
    libby's gain. (Measured before :func:`follow` moved the memory in one interpolation
    instead of two, which moved the 3-sigma windows to 0.833 / 0.806 / 0.714.)"""
    return 3.0


def memory_part_share() -> float:
    """Share of the remembered object's area (its core) that the fully lifted interior of a
    raised piece must reach before the piece is lifted (see :func:`lift_prior`): parts (a
    head, the half beyond a pole), not the slivers a slightly misplaced memory leaves along
    the outline of an object that holds still. One run through the dog at a depth of
    3 sigmas: 0.806 J&F without the gate, 0.809 with 2 %; at 1 sigma, 24-frame windows of
    libby 0.751 without, 0.742 with it (dog 0.837 / 0.833)."""
    return 0.02


def lift_prior(prior: np.ndarray, memory: np.ndarray, sigma: float) -> np.ndarray:
    """Prior log-odds (float32 h×w) with remembered parts lifted to :func:`memory_prior`.

    ``prior``: the warped prior's log-odds; ``memory``: the aligned memory (see
    :func:`follow`); ``sigma``: the boundary's expected error (px). The
    lift ramps like the warped prior (1.6 log-odds per sigma) from :func:`memory_depth`
    sigmas inside the memory's core (memory ≥ :func:`memory_support`) up to the cap, so
    only the core's thick interior is lifted fully. Pixels with a higher prior keep it: the
    memory never lowers the evidence for the object.
    """
    whole = memory >= memory_support()
    if not whole.any():
        return prior
    # the lift reaches at most (|floor| / 1.6 − depth) sigmas beyond the core (a prior is
    # never below −12 log-odds): work on the crop around it, the rest stays as it is
    bx0, by0, bx1, by1 = mask_bounds(whole) or (0, 0, 1, 1)
    margin = int(np.ceil(8.0 * sigma)) + 2
    h, w = whole.shape
    x0, x1 = max(0, bx0 - margin), min(w, bx1 + margin)
    y0, y1 = max(0, by0 - margin), min(h, by1 + margin)
    out = prior.astype(np.float32, copy=True)
    out[y0:y1, x0:x1] = _lift_crop(prior[y0:y1, x0:x1], whole[y0:y1, x0:x1], sigma)
    return out


def _lift_crop(prior: np.ndarray, whole: np.ndarray, sigma: float) -> np.ndarray:
    """:func:`lift_prior` on a crop holding the memory's core (bool ``whole``) with a margin."""
    core = whole.astype(np.uint8)
    inside = cv2.distanceTransform(core, cv2.DIST_L2, 3)
    outside = cv2.distanceTransform(1 - core, cv2.DIST_L2, 3)
    # a crop that is core throughout (or has none) has no zero pixel: OpenCV answers
    # ~FLT_MAX, and 1.6 × that overflows; a distance beyond the crop's sides means the same
    cap = float(sum(core.shape))
    np.minimum(inside, cap, out=inside)
    np.minimum(outside, cap, out=outside)
    depth = inside - outside - memory_depth() * sigma
    lifted = np.minimum(1.6 * depth / max(sigma, 0.5), memory_prior()).astype(np.float32)
    # only whole dropped parts: where the lift raises the prior, in connected pieces whose
    # fully lifted core is a noticeable share of the remembered object (a sliver along the
    # outline is the memory's misalignment, not a part the warp dropped)
    raised = (lifted > prior).astype(np.uint8)
    if not raised.any():
        return prior
    count, labels = cv2.connectedComponents(raised, connectivity=8)
    full = (depth >= 0) & (raised > 0)
    full_per_label = np.bincount(labels[full], minlength=count)
    needed = memory_part_share() * float(np.count_nonzero(core))
    keep = full_per_label >= max(needed, 1.0)
    keep[0] = False
    if not keep.any():
        return prior
    return np.where(keep[labels], lifted, prior).astype(np.float32)


def remember(memory: np.ndarray, mask: np.ndarray, rate: float) -> np.ndarray:
    """The memory after a confident frame: ``(1 − rate) · memory + rate · mask``.

    ``memory``: float32 h×w aligned to this frame; ``mask``: bool h×w, the frame's mask;
    ``rate`` in (0, 1]: how fast the memory follows the object (1 = the last mask only). A
    part absent from the masks fades below :func:`memory_support` after
    ``log(0.5) / log(1 − rate)`` frames (7 at rate 0.1)."""
    return ((1.0 - rate) * memory + rate * mask.astype(np.float32)).astype(np.float32)
