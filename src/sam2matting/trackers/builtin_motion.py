"""Large-displacement motion for the built-in tracker: where the camera and each object went,
found before the dense optical flow runs, so the flow starts from there.

Kept apart from :mod:`sam2matting.trackers.builtin` (the session, the re-fit, confidence) so
each piece is a small function with a known answer on synthetic frames. Everything works at
the tracker's working resolution (grey uint8 frames).

Why: DIS optical flow searches from a zero initial flow at its coarsest pyramid level, so a
displacement larger than a few coarse-level patches (about 20–30 px at 512 px) is not found:
a dancer's limb, a motocross jump or the background of a fast pan comes out with the wrong
flow, the warped mask lags the object and the re-fit can only pull its boundary a few sigma.
DIS does refine a given initial flow (``calc`` with a flow of the frame's size), so the
displacements are found here, coarsely and robustly, and handed to it:

- the **camera** (:func:`camera_shift`): phase correlation of the two frames at a coarse
  scale, with the objects blanked out, gives the background's translation;
- each **object** (:func:`object_shift`): its previous appearance (grey pixels under its mask)
  is searched for by masked normalised cross-correlation at a coarse scale, in a window
  around where constant velocity puts it (its last displacement) that reaches far beyond it
  (:func:`search_reach`), and taken when it matches clearly better than staying with the
  camera does (:func:`object_match_margin`); otherwise the object moves with the camera, or,
  when its appearance matches nowhere well, as constant velocity predicts (not with the
  camera: an object the camera follows would be dragged along with the background);
- :func:`initial_flows` paints both into a forward and a backward initial flow field: the
  camera's translation everywhere, each object's on its previous mask (forward) and on where
  that mask lands (backward). DIS then refines from there; small motions come out as before.

:func:`search_motion` does the first two for a frame pair and :func:`initial_flows` paints
them; the tracker calls both once per frame, and :func:`flow_window` places the window where
the flow is fine (:func:`windowed_flow`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .builtin_masks import mask_bounds, shifted

__all__ = [
    "ObjectMotion",
    "camera_shift",
    "flow_window",
    "flow_window_grid",
    "flow_window_margin",
    "flow_window_share",
    "initial_flows",
    "object_jump_cost",
    "object_match_margin",
    "object_shift",
    "search_motion",
    "search_reach",
    "windowed_flow",
]


def coarse_side() -> int:
    """Longest side (px) of the frames :func:`camera_shift` correlates: 128 px keeps a 40 px
    pan at 512 px (10 coarse px) well inside the correlation's range and costs < 1 ms."""
    return 128


def camera_response_floor() -> float:
    """Phase-correlation peak (0–1) below which the background's translation is not trusted
    (a flat or repetitive background): the flow then starts from zero, as before."""
    return 0.08


def search_reach(work_w: int, work_h: int, size: float) -> float:
    """How far (px) from the constant-velocity prediction :func:`object_shift` looks: 12 % of
    the frame's longest side (61 px at 512, beyond the 40+ px a frame of a fast dancer or a
    jump), and at least half the object's size (a large object's parts swing further)."""
    return max(0.12 * max(work_w, work_h), 0.5 * size)


def object_match_margin() -> float:
    """Normalised cross-correlation (−1–1) by which the best placement of the object's
    appearance must beat its placement with the camera's motion before the object's own
    displacement is used: a textured object that stands still in the scene matches both."""
    return 0.1


def object_match_floor() -> float:
    """Least normalised cross-correlation of the best placement: below it the appearance
    changed too much (motion blur, turning, occlusion) to say where the object went."""
    return 0.5


def object_jump_cost() -> float:
    """Normalised cross-correlation a placement loses per :func:`search_reach` of distance from
    where constant velocity puts the object: of two placements that match about equally well,
    the nearer one is where the object went. Without it a textured stretch of background (a
    chain-link fence behind a running dog) that happened to correlate a little better than
    the dog itself, 100 px away, took the mask there during a fast pan, and the tracker
    followed the fence for the rest of the clip (DAVIS libby with every third frame kept:
    J&F 0.38 → 0.73 with this cost; 0.05 and 0.1 tried on the tuning sequences, 0.05 leaves
    their 24-frame windows unchanged). A jump of a whole reach still wins when it matches
    better by more than this; the synthetic 40 px orbit / zigzag / pan clips are unchanged."""
    return 0.05


def template_side() -> int:
    """Longest side (px) the object's template is downscaled to for the search: coarse enough
    to be cheap and to blur a deforming object's details, fine enough to place it to within
    a few working pixels (DIS refines the rest)."""
    return 40


@dataclass(frozen=True)
class ObjectMotion:
    """One object's displacement between the previous and the current frame.

    ``mask``: h×w bool, the object on the previous frame; ``shift``: (dx, dy) px, previous →
    current, or None when only the camera's motion is known for it.
    """

    mask: np.ndarray
    shift: tuple[float, float] | None


def _downscale(image: np.ndarray, factor: float) -> np.ndarray:
    if factor <= 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w / factor)), max(1, round(h / factor)))
    out: np.ndarray = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return out


def camera_shift(
    previous: np.ndarray, current: np.ndarray, exclude: np.ndarray | None = None
) -> tuple[float, float] | None:
    """The background's translation (dx, dy) px from ``previous`` to ``current`` (grey uint8,
    h×w), or None when the correlation peak is weak (:func:`camera_response_floor`).

    Phase correlation at a coarse scale (:func:`coarse_side`) with a Hann window; ``exclude``
    (h×w bool: the objects, where they were and where they may be) is filled with each
    frame's mean grey level, so a large object's own motion does not pull the estimate.
    """
    h, w = previous.shape
    factor = max(1.0, max(h, w) / coarse_side())
    a = _downscale(previous, factor).astype(np.float32)
    b = _downscale(current, factor).astype(np.float32)
    if min(a.shape) < 8:
        return None
    if exclude is not None and exclude.any():
        small = _downscale(exclude.astype(np.float32), factor) > 0.05
        if small.mean() > 0.7:  # almost nothing of the background is left to correlate
            return None
        a[small] = float(a[~small].mean())
        b[small] = float(b[~small].mean())
    if min(float(a.std()), float(b.std())) < 2.0:  # flat: nothing to correlate
        return None
    window = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(a, b, window)
    if response < camera_response_floor():
        return None
    return float(dx * factor), float(dy * factor)


def object_shift(
    previous: np.ndarray,
    current: np.ndarray,
    mask: np.ndarray,
    predicted: tuple[float, float],
    camera: tuple[float, float],
) -> tuple[float, float] | None:
    """Where the object under ``mask`` (h×w bool, on ``previous``) went on ``current``.

    ``previous`` / ``current``: grey uint8 h×w; ``predicted``: its displacement (dx, dy) px by
    constant velocity; ``camera``: the background's displacement. The object's grey pixels
    (its bounding box, weighted by its mask) are matched by masked normalised
    cross-correlation (``TM_CCORR_NORMED`` of mean-removed patches) at a coarse scale
    (:func:`template_side`) over a window that holds the predicted and the camera's
    placements and reaches :func:`search_reach` beyond them; each placement's score is its
    correlation less :func:`object_jump_cost` per reach from the predicted one. Returns the
    best displacement
    (px, previous → current) when it matches well (:func:`object_match_floor`) and clearly
    better than the camera's placement (:func:`object_match_margin`); ``camera`` when it
    matches well but not clearly better than there (it moves with the camera); None when it
    cannot be told apart (no texture, a poor best match: motion blur, turning, occlusion) or
    the best match lies on the edge the search's reach set (:func:`_on_search_edge`).
    """
    bounds = mask_bounds(mask)
    if bounds is None or np.count_nonzero(mask) < 16:
        return None
    h, w = mask.shape
    x0, y0, x1, y1 = bounds
    size = float(max(x1 - x0, y1 - y0))
    reach = search_reach(w, h, size)
    factor = max(1.0, size / template_side())
    # search window (previous-frame box moved by any shift in the span below)
    lo_x = min(predicted[0], camera[0]) - reach
    hi_x = max(predicted[0], camera[0]) + reach
    lo_y = min(predicted[1], camera[1]) - reach
    hi_y = max(predicted[1], camera[1]) + reach
    wx0, wx1 = max(0, int(np.floor(x0 + lo_x))), min(w, int(np.ceil(x1 + hi_x)))
    wy0, wy1 = max(0, int(np.floor(y0 + lo_y))), min(h, int(np.ceil(y1 + hi_y)))
    template = _downscale(previous[y0:y1, x0:x1].astype(np.float32), factor)
    weight = _downscale(mask[y0:y1, x0:x1].astype(np.float32), factor)
    window = _downscale(current[wy0:wy1, wx0:wx1].astype(np.float32), factor)
    th, tw = template.shape
    if window.shape[0] < th or window.shape[1] < tw or weight.sum() < 8:
        return None
    # mean-removed on the mask, so brightness changes do not matter
    inside = weight > 0.5
    if not inside.any():  # a strand thinner than the downscaled grid: nothing to correlate
        return None
    template = np.where(inside, template - float(template[inside].mean()), 0.0).astype(np.float32)
    if float(np.abs(template).max()) < 2.0:  # textureless: nothing to correlate
        return None
    score = _masked_ncc(window, template, inside.astype(np.float32))
    # far jumps cost a little (:func:`object_jump_cost`), from the constant-velocity placement
    gy, gx = np.mgrid[0 : score.shape[0], 0 : score.shape[1]].astype(np.float32)
    px, py = (x0 + predicted[0] - wx0) / factor, (y0 + predicted[1] - wy0) / factor
    score -= np.float32(object_jump_cost() * factor / reach) * np.hypot(gx - px, gy - py)
    _, best, _, (bx, by) = cv2.minMaxLoc(score)
    if not np.isfinite(best) or best < object_match_floor():
        return None
    if _on_search_edge((bx, by), score.shape, (wx0, wy0, wx1, wy1), (w, h)):
        return None
    # the camera's placement, in score-map coordinates
    cx = round((x0 + camera[0] - wx0) / factor)
    cy = round((y0 + camera[1] - wy0) / factor)
    inside_map = 0 <= cy < score.shape[0] and 0 <= cx < score.shape[1]
    if inside_map and best - float(score[cy, cx]) < object_match_margin():
        return camera  # it moves with the camera (or cannot be told from doing so)
    return float(wx0 + bx * factor - x0), float(wy0 + by * factor - y0)


def _on_search_edge(
    best: tuple[int, int],
    shape: tuple[int, ...],
    window: tuple[int, int, int, int],
    frame: tuple[int, int],
) -> bool:
    """Whether the best placement ``best`` (x, y in a score map of ``shape``) lies on an edge
    of the search window (x0, y0, x1, y1; ``frame`` = (w, h)) that the search's reach set, not
    the frame's border: a maximum there is not a peak, the match may go on rising beyond the
    reach (a stretch of texture), so it does not say where the object went. DAVIS libby with
    every third frame kept: a placement 85 px up at the window's top edge (correlation 0.59,
    against 0.13 where constant velocity put the dog and 0.24 with the camera) sent the mask
    onto the background for the rest of the clip."""
    bx, by = best
    x0, y0, x1, y1 = window
    w, h = frame
    return (
        (bx == 0 and x0 > 0)
        or (by == 0 and y0 > 0)
        or (bx == shape[1] - 1 and x1 < w)
        or (by == shape[0] - 1 and y1 < h)
    )


def _masked_ncc(window: np.ndarray, template: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of a zero-mean (on ``mask``) template with every placement
    in ``window``, the window's patch mean-removed on the mask too (float32 score map)."""
    n = float(mask.sum())
    corr = cv2.matchTemplate(window, template * mask, cv2.TM_CCORR)  # Σ m·t·I (t zero-mean)
    s1 = cv2.matchTemplate(window, mask, cv2.TM_CCORR)  # Σ m·I
    s2 = cv2.matchTemplate(window * window, mask, cv2.TM_CCORR)  # Σ m·I²
    var = np.maximum(s2 - s1 * s1 / n, 1e-3)
    t_norm = float(np.sqrt((template * template * mask).sum()))
    out: np.ndarray = (corr / (np.sqrt(var) * max(t_norm, 1e-6))).astype(np.float32)
    # flat patches (variance ~0) cannot match a textured template
    out[var < 1.0 * n] = -1.0
    return out


def _paint(flow: np.ndarray, where: np.ndarray, dx: float, dy: float) -> None:
    """Set ``flow`` (a view, h×w×2) to (dx, dy) where ``where`` (h×w bool) holds."""
    np.copyto(flow[..., 0], np.float32(dx), where=where)
    np.copyto(flow[..., 1], np.float32(dy), where=where)


def initial_flows(
    shape: tuple[int, int],
    camera: tuple[float, float] | None,
    objects: Sequence[ObjectMotion],
) -> tuple[np.ndarray, np.ndarray] | None:
    """(forward, backward) initial flow fields (h×w×2 float32, (dx, dy) px) for DIS, or None
    when there is nothing to start from (no camera motion and no object shift: the flow
    starts from zero, as without this module).

    Forward (previous → current): the camera's translation everywhere, each object's shift on
    its previous mask dilated by a few pixels. Backward (current → previous): the opposite,
    the object's on its mask moved by its shift. Objects are painted in order (a later one
    wins where they overlap).
    """
    moved = [o for o in objects if o.shift is not None]
    if camera is None and not moved:
        return None
    h, w = shape
    cam = camera or (0.0, 0.0)
    fwd = np.empty((h, w, 2), np.float32)
    back = np.empty((h, w, 2), np.float32)
    # channel by channel: broadcasting a pair over the last axis is several times slower
    fwd[..., 0], fwd[..., 1] = cam
    back[..., 0], back[..., 1] = -cam[0], -cam[1]
    grow = max(2, round(0.01 * max(h, w)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    for o in objects:
        if o.shift is None:
            continue
        dx, dy = o.shift
        # on the crop around the object only: the cost follows its size, not the frame's
        bx, by, bw, bh = cv2.boundingRect(o.mask.astype(np.uint8))
        if bw == 0:  # an empty mask: nothing to paint
            continue
        x0, x1 = max(0, bx - grow), min(w, bx + bw + grow)
        y0, y1 = max(0, by - grow), min(h, by + bh + grow)
        region = cv2.dilate(o.mask[y0:y1, x0:x1].astype(np.uint8), disc) > 0
        _paint(fwd[y0:y1, x0:x1], region, dx, dy)
        # where the region lands (nearest-neighbour warp by the sub-pixel shift), on the crop
        # around its landing place, clipped to the frame
        lx0, lx1 = max(0, int(np.floor(x0 + dx))), min(w, int(np.ceil(x1 + dx)) + 1)
        ly0, ly1 = max(0, int(np.floor(y0 + dy))), min(h, int(np.ceil(y1 + dy)) + 1)
        if lx1 > lx0 and ly1 > ly0:
            move = np.array([[1.0, 0.0, x0 + dx - lx0], [0.0, 1.0, y0 + dy - ly0]])
            landed = cv2.warpAffine(
                region.astype(np.uint8), move, (lx1 - lx0, ly1 - ly0), flags=cv2.INTER_NEAREST
            )
            _paint(back[ly0:ly1, lx0:lx1], landed > 0, -dx, -dy)
    return fwd, back


def search_motion(
    previous: np.ndarray,
    current: np.ndarray,
    objects: Sequence[tuple[np.ndarray, tuple[float, float]]],
) -> tuple[tuple[float, float] | None, list[ObjectMotion]]:
    """The camera's translation (None: not found) and each present object's displacement
    between two grey uint8 frames (h×w): what :func:`initial_flows` paints into initial flows.

    ``objects``: each tracked object's mask on ``previous`` (h×w bool) and its last
    displacement (dx, dy) px. The camera's translation is found with every object blanked
    where it was and where constant velocity puts it (:func:`camera_shift`); each object's
    displacement by :func:`object_shift`. An object whose appearance matches nowhere well
    gets its constant-velocity prediction, not the camera's motion: a dog the camera pans
    with would be sent off with the background (DAVIS libby with every third frame kept:
    0.54 J&F with the camera's motion there, 0.71 with constant velocity). Empty masks are
    left out.
    """
    h, w = previous.shape
    present = [(m, v) for m, v in objects if m.any()]
    exclude = np.zeros((h, w), bool)
    for m, (vx, vy) in present:
        exclude |= m | shifted(m, vx, vy, nearest=False)
    camera = camera_shift(previous, current, exclude)
    cam = camera or (0.0, 0.0)
    motions = []
    for m, v in present:
        shift = object_shift(previous, current, m, v, cam)
        motions.append(ObjectMotion(m, v if shift is None else shift))
    return camera, motions


def flow_window_margin() -> float:
    """The margin of :func:`flow_window` around the objects, as a fraction of the frame's
    long side (26 px at 512): the flow of the background just around an object (what its
    boundary is told apart from, the round-trip check around it, nearby motion layers) stays
    fine. Not tuned on tracking results."""
    return 0.05


def flow_window_share() -> float:
    """Largest share of the frame :func:`flow_window` covers: past it the window saves little
    (a coarse whole-frame flow costs ~0.3× a fine one) and the whole frame is flowed finely."""
    return 0.6


def flow_window_grid() -> int:
    """The grid (px) :func:`flow_window`'s edges are rounded out to: DIS's patches (every 4 px)
    and pyramid levels then sit on a window where they sit on the whole frame, up to level 3
    (the coarsest DIS uses on a window of ~180–360 px), so the window's flow stays close to the
    whole frame's. On 19 frame pairs each of DAVIS dog / libby / car-shadow, the mean distance
    to the whole frame's fine flow on the object, unaligned → 32 px: 0.14 → 0.05, 0.74 →
    0.35, 0.18 → 0.08 px (16 px: 0.06 / 0.38 / 0.07; 64 px: 0.05 / 0.31 / 0.08). Chosen on
    those distances, not on tracking results."""
    return 32


def flow_window(
    shape: tuple[int, int],
    camera: tuple[float, float] | None,
    objects: Sequence[ObjectMotion],
) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1): the rectangle of an h×w frame that holds every object on the previous
    frame and where its displacement takes it, grown by :func:`flow_window_margin` and by the
    camera's translation (the background at the window's edge must stay inside it on both
    frames), its edges rounded out to :func:`flow_window_grid` and clipped to the frame; the
    fine flow is computed there only (:func:`windowed_flow`). None (the whole frame, finely)
    when no object is present or the window covers more than :func:`flow_window_share` of
    the frame.
    """
    h, w = shape
    cam = camera or (0.0, 0.0)
    grow = flow_window_margin() * max(h, w)
    spans: list[tuple[float, float, float, float]] = []
    for o in objects:
        bounds = mask_bounds(o.mask)
        if bounds is None:
            continue
        x0, y0, x1, y1 = bounds
        dx, dy = o.shift if o.shift is not None else cam
        spans.append((x0 + min(dx, 0.0), y0 + min(dy, 0.0), x1 + max(dx, 0.0), y1 + max(dy, 0.0)))
    if not spans:
        return None
    gx, gy = grow + abs(cam[0]), grow + abs(cam[1])
    grid = flow_window_grid()
    x0 = max(0, int(np.floor((min(s[0] for s in spans) - gx) / grid)) * grid)
    y0 = max(0, int(np.floor((min(s[1] for s in spans) - gy) / grid)) * grid)
    x1 = min(w, int(np.ceil((max(s[2] for s in spans) + gx) / grid)) * grid)
    y1 = min(h, int(np.ceil((max(s[3] for s in spans) + gy) / grid)) * grid)
    if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) > flow_window_share() * h * w:
        return None
    return y0, y1, x0, x1


def windowed_flow(
    fine: Any,
    coarse: Any,
    first: np.ndarray,
    second: np.ndarray,
    init: np.ndarray | None,
    window: tuple[int, int, int, int] | None,
) -> np.ndarray:
    """DIS flow (h×w×2 float32) from ``first`` to ``second`` (grey uint8): the ``coarse`` DIS
    object's (one pyramid level coarser) on the whole frame, and the ``fine`` one's on
    ``window`` (:func:`flow_window`), both from ``init`` (the window from the coarse flow
    when there is none); ``fine``'s alone on the whole frame when ``window`` is None.
    ``init``: the initial flow (None: zero); DIS refines it in place.

    Why: DIS's finest level costs ~3× its coarser ones together at 512×288, and what the
    tracker reads finely is the flow on and around its objects; the rest of the frame (the
    camera's fit, the light's gains) is read in aggregate, where one level coarser is enough.
    """
    if window is None:
        return np.asarray(fine.calc(first, second, init))
    y0, y1, x0, x1 = window
    # the window starts where the whole frame does (the search's displacements), not from the
    # coarse flow: DIS's coarse levels drift a small fast object's displacement back towards
    # the background's, which the finest level recovers from the initial flow only
    start = None if init is None else init[y0:y1, x0:x1].copy()  # DIS writes into init
    flow = np.asarray(coarse.calc(first, second, init))
    if start is None:
        start = np.ascontiguousarray(flow[y0:y1, x0:x1])
    flow[y0:y1, x0:x1] = fine.calc(
        np.ascontiguousarray(first[y0:y1, x0:x1]),
        np.ascontiguousarray(second[y0:y1, x0:x1]),
        start,
    )
    return flow
