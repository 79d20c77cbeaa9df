"""Appearance that changes over a shot, for the built-in tracker: the object's colour model
follows lighting, exposure, white balance and a side turning into view, and what it learns
from its own mask cannot feed back while the anchor's colours still fit.

Why: the tracker of :mod:`~sam2matting.trackers.builtin` judges every frame's colours by 3-D
colour histograms learnt on the prompted (anchor) frame. An object walking from shade into
sunlight, a camera whose exposure or white balance drifts, shows colours the anchor never
saw: its colour log-odds fall to "background", the re-fit, the regrowth and the band's
graph cut take it apart, and it is reported lost while in full view. Re-learning the
histograms from the tracked mask (``model_update_rate``) follows the light but also learns
whatever the mask wrongly took in, and the error feeds itself (it lost on DAVIS at every rate
tried).

How (once per object and frame: :func:`follow` before the re-fit, :func:`remember` after the
confidence):

1. **Gated memory** (``appearance_memory``, on by default): a *recent* component — an
   exponential average (:func:`memory_rate`) of the histograms of pixels deep inside the mask
   (object) and of the ring around it (background), learnt on confident, trusted frames only —
   mixed with the anchor's histograms at that weight, times :func:`memory_need`: how far the
   anchor's colours fail to explain the tracked object on the last frame (0 while its mean
   colour log-odds stay ≥ 0.8 × the anchor frame's). So while the anchor explains the object
   the model *is* the anchor's and nothing learnt from the mask feeds back (what sank
   ``model_update_rate``); when the light, the exposure or the side in view changes the
   object's colours, the learnt ones are used, and the anchor still keeps the rest of the
   weight, so a learnt error stays bounded and the anchor's colours never lose support.
2. **Photometric alignment** (``appearance_alignment``, off by default). A change of light or
   exposure multiplies each colour channel of a surface by a gain (von Kries; a power-law
   encoding keeps it a product). The optical flow says which pixel of the previous frame each
   pixel of this one shows, so the pairs (before, after) deep inside the object
   (:func:`interior_depth`, where the flow is reliable) measure the object's gains from the
   previous frame to this one (:func:`channel_gains`: a trimmed mean of log ratios per
   channel, pairs chosen by their previous value so saturating ones still count), and the
   pairs over the rest of the frame the scene's (camera exposure and white balance). Their
   products since the anchor transform the anchor's own histograms
   (:func:`transform_histogram`, mass-conserving per channel; what passes white saturates
   into the top bin): the object's by the object's gains (mixed half and half with the
   untransformed anchor, :func:`gain_spread`), the background's by the scene's; the tracker's
   motion evidence compares frames under the same gains (:func:`grey_gain`). It follows the
   synthetic exposure drift alone, but on DAVIS the estimated gains drift where the light
   does not (fur, shading and non-rigid motion make the flow's pairs different surfaces: dog
   +50 % in 60 frames) and the tuning J&F fell 0.763 → 0.665, so it is off.

Frames whose object is not trusted (a re-detection on probation, or too few pairs) keep the
gains and memory as they were.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from .builtin_masks import mask_pixels

__all__ = [
    "Appearance",
    "channel_gains",
    "follow",
    "histograms",
    "memory_need",
    "remember",
    "start",
    "transform_histogram",
    "unchanged",
]


def max_frame_gain() -> float:
    """Largest factor a channel's gain may change by between two frames (and its inverse the
    smallest): a walk from shade into the sun brightens a surface by ~6 % a frame at 25 fps
    in the encoded values; beyond ×1.5 a frame the "pairs" are a flow failure, not light."""
    return 1.5


def interior_depth(sigma: float) -> float:
    """Depth (px) inside the previous mask from which flow pairs measure the object's gains:
    two boundary sigmas (see :func:`~sam2matting.trackers.builtin.boundary_sigma`) and at least
    2 px, so pairs straddling the boundary (half background) are few."""
    return max(2.0, 2.0 * sigma)


def min_pairs() -> int:
    """Fewest unsaturated pairs per channel for a gain estimate; fewer: the gain is kept."""
    return 40


def max_samples() -> int:
    """Pairs sampled per region (a regular subsample): medians over this many are stable to
    well under 1 %, and the cost stays below a millisecond."""
    return 1500


def saturation_limits() -> tuple[float, float]:
    """Encoded values (0–255) outside which a pair says nothing about a gain: clipped to
    black or white on either frame."""
    return 8.0, 247.0


@dataclass(frozen=True)
class Appearance:
    """An object's colour memory: the anchor's histograms (flat, normalised, as learnt by
    the tracker), the cumulative per-channel gains of the object and of the scene since the
    anchor (float64 (3,)), and the recent components (``appearance_memory``; None until a
    confident frame has been learnt)."""

    anchor_fg: np.ndarray
    anchor_bg: np.ndarray
    object_gain: np.ndarray
    scene_gain: np.ndarray
    recent_fg: np.ndarray | None = None
    recent_bg: np.ndarray | None = None
    #: this frame's gains (from the previous frame), object and scene, for the tracker's
    #: motion evidence (see :func:`grey_gain`)
    object_step: np.ndarray | None = None
    scene_step: np.ndarray | None = None
    #: how far ([0, 1]) the aligned anchor's colours fail to explain the object on the last
    #: frame (see :func:`memory_need`): the share of ``appearance_memory`` used
    need: float = 0.0


def unchanged(appearance: Appearance) -> bool:
    """Whether :func:`histograms` gives the anchor's own histograms (no gains, no memory
    used): the tracker then keeps the anchor's colour model as it is."""
    return (
        appearance.need == 0
        and bool(np.all(appearance.object_gain == 1.0))
        and bool(np.all(appearance.scene_gain == 1.0))
    )


def start(anchor_fg: np.ndarray, anchor_bg: np.ndarray) -> Appearance:
    """The appearance of a freshly anchored object: no gains, no memory."""
    return Appearance(anchor_fg, anchor_bg, np.ones(3), np.ones(3))


def _resample_matrix(gain: float, bins: int) -> np.ndarray:
    """bins×bins matrix M with new = M @ old: the histogram of c' = gain × c along one
    channel, mass-conserving (each old bin's interval [i, i + 1) × gain spreads over the new
    bins it overlaps; what lands beyond the last bin saturates into it)."""
    lo = np.arange(bins, dtype=np.float64) * gain
    hi = lo + gain
    edges = np.arange(bins + 1, dtype=np.float64)
    # overlap of [lo_i, hi_i) with [j, j + 1)
    left = np.maximum(lo[None, :], edges[:-1, None])
    right = np.minimum(hi[None, :], edges[1:, None])
    m = np.maximum(right - left, 0.0) / gain
    over = np.maximum(hi - np.maximum(lo, float(bins)), 0.0) / gain
    m[-1] += over
    return m


def transform_histogram(hist: np.ndarray, gains: np.ndarray, bins: int) -> np.ndarray:
    """The flat, normalised ``bins``³ histogram (R-major, as the tracker's bin index) of the
    colours c × ``gains`` (per channel; encoded values, clipped at white)."""
    if np.all(gains == 1.0):
        return hist
    cube = hist.reshape(bins, bins, bins)
    mr, mg, mb = (_resample_matrix(float(g), bins) for g in gains)
    out = np.einsum("ai,bj,ck,ijk->abc", mr, mg, mb, cube, optimize=True).reshape(-1)
    total = float(out.sum())
    return out / total if total > 0 else hist


def channel_gains(current: np.ndarray, previous: np.ndarray) -> np.ndarray | None:
    """Per-channel gains (3,) from colour pairs: ``current`` and ``previous`` (n×3 float, the
    same surface points on this and the previous frame, encoded 0–255). The geometric mean of
    current / previous (a mean of log ratios with the outer :func:`trim_fraction` on each side
    left out: flow errors) over the pairs unsaturated on both frames (:func:`saturation_limits`),
    clipped to 1 / :func:`max_frame_gain` … :func:`max_frame_gain`; None when a channel has
    fewer than :func:`min_pairs` usable pairs. A mean, not a median: when light reaches part
    of the object (a shadow's edge crossing it) the median pair has not changed yet, and the
    sum of medians over the crossing would miss the change; the sum of means is the mean
    change."""
    lo, hi = saturation_limits()
    limit = max_frame_gain()
    out = np.zeros(3)
    trim = trim_fraction()
    for c in range(3):
        a, b = np.maximum(current[:, c], 0.5), previous[:, c]
        # chosen by the previous value only: leaving out pairs that saturate on this frame
        # would leave out the ones that brightened most and bias the gain towards 1
        usable = (b > lo * limit) & (b < hi / limit)
        n = int(np.count_nonzero(usable))
        if n < min_pairs():
            return None
        logs = np.sort(np.log(a[usable] / b[usable]))
        k = int(trim * n)
        out[c] = float(logs[k : n - k].mean())
    log_limit = float(np.log(limit))
    return np.asarray(np.exp(np.clip(out, -log_limit, log_limit)), np.float64)


def trim_fraction() -> float:
    """Share of the log ratios left out on each side of the mean in :func:`channel_gains`."""
    return 0.2


def gain_spread() -> tuple[float, ...]:
    """Exponents k of the gains G^k under which the anchor's object histogram is mixed
    (:func:`histograms`): the anchor's own colours (k = 0) keep half the mass, so a gain
    estimate gone wrong cannot take the object's colours away (alone, G: DAVIS tuning J&F
    0.763 → 0.606; with the anchor, 0.665)."""
    return (0.0, 1.0)


def _pairs(
    rgb: np.ndarray, previous_rgb: np.ndarray, back_map: np.ndarray, select: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(current, previous) n×3 float32 colours at a regular subsample of the ``select``ed
    pixels of this frame and where the backward flow ``back_map`` (h×w×2 sampling map) says
    they were on the previous frame."""
    count = int(np.count_nonzero(select))
    stride = max(1, int(np.sqrt(count / max_samples())))
    sub = np.zeros_like(select)
    sub[::stride, ::stride] = select[::stride, ::stride]
    ys, xs = mask_pixels(sub)
    if xs.size == 0:
        empty = np.zeros((0, 3), np.float32)
        return empty, empty
    coords = back_map[ys, xs].reshape(1, -1, 2).astype(np.float32)
    before = cv2.remap(  # type: ignore[call-overload]
        previous_rgb, coords, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return rgb[ys, xs].astype(np.float32), np.asarray(before, np.float32).reshape(-1, 3)


def follow(
    appearance: Appearance,
    rgb: np.ndarray,
    previous_rgb: np.ndarray,
    back_map: np.ndarray,
    reliable: np.ndarray,
    object_depth: np.ndarray,
    depth: float,
    trusted: bool,
    align: bool,
) -> Appearance:
    """The appearance after this frame's light: gains updated from flow pairs.

    ``rgb`` / ``previous_rgb``: this and the previous working frame (uint8 h×w×3);
    ``back_map``: h×w×2 float32, where each pixel of this frame was on the previous one;
    ``reliable``: bool h×w, pixels whose flow passed the round trip; ``object_depth``: h×w
    float32 signed distance (px, > 0 inside) of the object's previous mask moved here by the
    flow; ``depth``: :func:`interior_depth`; ``trusted``: whether the previous frame's mask is
    trusted (not a re-detection on probation); ``align``: estimate gains at all.
    """
    if not (align and trusted):
        return dataclasses.replace(appearance, object_step=None, scene_step=None)
    inside = reliable & (object_depth > depth)
    outside = reliable & (object_depth < -depth)
    object_gain, scene_gain = appearance.object_gain, appearance.scene_gain
    object_step = channel_gains(*_pairs(rgb, previous_rgb, back_map, inside))
    if object_step is not None:
        object_gain = object_gain * object_step
    scene_step = channel_gains(*_pairs(rgb, previous_rgb, back_map, outside))
    if scene_step is not None:
        scene_gain = scene_gain * scene_step
    return dataclasses.replace(
        appearance,
        object_gain=object_gain,
        scene_gain=scene_gain,
        object_step=object_step,
        scene_step=scene_step,
    )


def grey_gain(step: np.ndarray | None) -> float:
    """The grey-level gain (the tracker's grey frame is 0.299 R + 0.587 G + 0.114 B) of
    per-channel gains ``step`` (1 when None): their weighted geometric mean."""
    if step is None:
        return 1.0
    return float(np.exp(np.dot([0.299, 0.587, 0.114], np.log(step))))


def histograms(appearance: Appearance, bins: int, memory: float) -> tuple[np.ndarray, np.ndarray]:
    """(object, background) flat histograms for this frame: the anchor's transformed by the
    cumulative gains (:func:`gain_spread`), mixed with the recent components at weight
    ``memory`` × the appearance's :attr:`~Appearance.need` (0: the aligned anchor alone)."""
    memory = memory * appearance.need
    spread = gain_spread() if np.any(appearance.object_gain != 1.0) else (1.0,)
    fg = sum(
        (
            transform_histogram(appearance.anchor_fg, appearance.object_gain**k, bins)
            for k in spread
        ),
        start=np.zeros_like(appearance.anchor_fg),
    ) / len(spread)
    bg = transform_histogram(appearance.anchor_bg, appearance.scene_gain, bins)
    if memory > 0 and appearance.recent_fg is not None:
        fg = (1 - memory) * fg + memory * appearance.recent_fg
    if memory > 0 and appearance.recent_bg is not None:
        bg = (1 - memory) * bg + memory * appearance.recent_bg
    return fg, bg


def memory_need(fit: float, reference: float) -> float:
    """Share ([0, 1]) of the memory weight used: how far the aligned anchor's colours fail to
    explain the tracked object. ``fit``: the mean anchor colour log-odds inside the mask on
    this frame; ``reference``: the same on the anchor frame. 0 while ``fit`` ≥ 0.8 ×
    ``reference`` (the anchor explains the object: the model stays exactly the anchor's, and
    nothing learnt from the mask can feed back into it), 1 at 0.4 × and below (the
    confidence's colour cue reads 0.6 there), linear between. An anchor whose colours
    barely differ from its background (``reference`` ≤ 0.25) needs no memory. Why a gate:
    memory used on every frame cost the DAVIS tuning sequences (weight 0.15: 0.763 → 0.761
    J&F, dog 0.809 → 0.795; 0.3: 0.752), where the anchor explains the object on most
    frames and the learnt colours only add the mask's errors."""
    if reference <= 0.25:
        return 0.0
    return float(np.clip((0.8 - fit / reference) / 0.4, 0.0, 1.0))


def memory_rate() -> float:
    """How fast the recent components follow confident frames (an exponential average):
    ~5 frames of memory, so a side turning into view is learnt while it turns."""
    return 0.2


def remember(appearance: Appearance, fg: np.ndarray | None, bg: np.ndarray | None) -> Appearance:
    """The appearance with this confident frame's object / background histograms (flat,
    normalised; None: none this frame) averaged into its recent components."""
    rate = memory_rate()

    def blend(old: np.ndarray | None, new: np.ndarray | None) -> np.ndarray | None:
        if new is None:
            return old
        return new if old is None else (1 - rate) * old + rate * new

    return dataclasses.replace(
        appearance,
        recent_fg=blend(appearance.recent_fg, fg),
        recent_bg=blend(appearance.recent_bg, bg),
    )
