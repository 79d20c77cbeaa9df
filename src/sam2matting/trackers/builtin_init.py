"""The built-in tracker's first mask of an object from a box or from clicks.

A prompt says *where* the object is, not what it is, so several GrabCut hypotheses are made
and the one that looks most like a whole object is kept:

- **box** (:func:`segment_box`): GrabCut seeded with the whole box, an ellipse inscribed in
  it, or the box's *distinctive* colours (much more frequent inside the box than outside),
  against whole-frame or ring background evidence; scored by :func:`box_fit_score` (the
  mask's own box matches the prompt, its outline runs along image edges, it does not fill the
  box); also GrabCut on :func:`texture_image` (lightness, texture, blue–yellow) with a sure
  core, for objects coloured like their surroundings, and optionally (:func:`pick_whole`) a
  fuller hypothesis that contains the best one instead of it.
- **box in a video** (:func:`moving_in_box`): the pixels in the box that move differently
  from the background over the next few frames are the object more often than not (a child
  on a bed, a dog on a pavement, a car before a panning camera); they seed two more
  hypotheses and every hypothesis's score gains its agreement with them. Silent where the
  background's own motion is noisy (waves) or nothing in the box moves against it. Clicks
  in a video get the same from the moving region under them (:func:`moving_at_clicks`).
- The GrabCut hypotheses run one per core (:func:`grabcut_all`), with the same masks as in
  sequence.
- **clicks** (:func:`segment_clicks`): GrabCut seeded with a disc of one of several sizes
  around the positive clicks (:func:`click_seed_fractions`, 2–32 % of the frame), the
  colour-similar region flood-filled from each click, discs at the clicks as sure object;
  negative clicks are sure background, so is the region grown from them, and pixels whose
  colours are much more like the negative clicks' surroundings than the positive ones' are
  probable background (:func:`negative_colour_margin`); a hypothesis that still holds a
  negative click, or that did not grow beyond the clicks (:func:`min_click_growth`), is
  dropped. Scored by :func:`click_fit_score` (edges along the outline,
  clicks deep inside, not the frame's background) with no preference for large masks: a
  click on a small bird in a wide shot means the bird.

The module knows nothing of sessions: the tracker hands it the working-resolution frame and
its GrabCut, colour-model and flood-fill routines (:class:`InitFrame`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from .builtin_masks import mask_pixels

__all__ = [
    "InitFrame",
    "box_fit_score",
    "click_fit_score",
    "click_seed_fractions",
    "drop_specks",
    "min_click_growth",
    "min_moving_share",
    "moving_at_clicks",
    "moving_in_box",
    "negative_colour_margin",
    "opened",
    "pick_whole",
    "segment_box",
    "segment_clicks",
    "texture_image",
]

#: (x0, y0, x1, y1) in working-resolution pixels, inclusive-exclusive
PixelBox = tuple[int, int, int, int]
XY = tuple[int, int]


@dataclass(frozen=True)
class InitFrame:
    """A frame at the tracker's working resolution and the tracker's routines on it.

    ``rgb``: H×W×3 uint8; ``gray``: H×W uint8.
    ``grabcut(labels, roi, image=None)``: GrabCut initialised with the label map ``labels``
    (H×W uint8 of ``cv2.GC_*``) on ``roi`` = (x0, y0, x1, y1), on ``image`` (H×W×3 uint8,
    default ``rgb``); returns the H×W bool foreground.
    ``colour_llr(fg, bg)``: H×W float32 colour log-likelihood ratio of every pixel under
    colour histograms learnt on the bool selections ``fg`` and ``bg`` (> 0: ``fg``-like).
    ``grow(seed, limit)``: H×W bool colour-similar region flood-filled from ``seed`` (x, y),
    restricted to ``limit``.
    ``click_radius``: radius (px) of the sure disc drawn at a click.
    """

    rgb: np.ndarray
    gray: np.ndarray
    grabcut: Callable[..., np.ndarray]
    colour_llr: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grow: Callable[[XY, np.ndarray], np.ndarray]
    click_radius: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.gray.shape[0], self.gray.shape[1]


# -- mask helpers -------------------------------------------------------------------------------


def gradient_magnitude(gray: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of a grey uint8 image (float32)."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


def disc_mask(shape: tuple[int, int], centres: Sequence[XY], radius: int) -> np.ndarray:
    """H×W bool: filled discs of ``radius`` px at ``centres`` (x, y)."""
    out = np.zeros(shape, np.uint8)
    for x, y in centres:
        cv2.circle(out, (x, y), radius, 1, thickness=-1)
    return out.astype(bool)


def components_touching(mask: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The connected components (8-connectivity) of ``mask`` that overlap ``keep``
    (found on the mask's box: the same components, at the cost of the object's size)."""
    u8 = mask.astype(np.uint8)
    x, y, w, h = cv2.boundingRect(u8)
    if w == 0 or h == 0:
        return mask
    n, labels = cv2.connectedComponents(u8[y : y + h, x : x + w], connectivity=8)
    box = (slice(y, y + h), slice(x, x + w))
    if n <= 2:
        return mask if (mask[box] & keep[box]).any() else np.zeros_like(mask)
    hit = np.zeros(n, bool)
    hit[np.unique(labels[keep[box] & mask[box]])] = True
    hit[0] = False
    out = np.zeros(mask.shape, bool)
    out[box] = hit[labels]
    return out


def drop_specks(mask: np.ndarray, fraction: float = 0.01) -> np.ndarray:
    """Remove components smaller than ``fraction`` of the largest (GrabCut leaves specks)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    areas[0] = 0
    keep = areas >= fraction * areas.max()
    keep[0] = False
    return keep[labels]


def _outline(mask: np.ndarray) -> np.ndarray:
    """The mask's boundary band (3×3 dilation minus erosion), bool."""
    m = mask.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    return (cv2.dilate(m, kernel) - cv2.erode(m, kernel)) > 0


def _frame_border(shape: tuple[int, int]) -> np.ndarray:
    border = np.zeros(shape, bool)
    border[0] = border[-1] = True
    border[:, 0] = border[:, -1] = True
    return border


# -- box ------------------------------------------------------------------------------------------


def texture_image(rgb: np.ndarray) -> np.ndarray:
    """A 3-channel uint8 image for GrabCut where a light object on a light background differs
    more than in RGB: lightness with local contrast equalised (CLAHE, 4×4 tiles), local
    texture (standard deviation of lightness over 7×7 px, ×6) and the blue–yellow opponent
    channel (Lab b, its spread around neutral ×3). A white T-shirt and a white curtain share a
    colour but not their folds' texture; skin, hair and beige differ from white in b."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    light = lab[..., 0]
    equalised = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(4, 4)).apply(light)
    lf = light.astype(np.float32)
    mean = cv2.blur(lf, (7, 7))
    sd = np.sqrt(np.maximum(cv2.blur(lf * lf, (7, 7)) - mean * mean, 0.0))
    texture = np.clip(sd * 6.0, 0, 255).astype(np.uint8)
    b = np.clip((lab[..., 2].astype(np.float32) - 128.0) * 3.0 + 128.0, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.dstack([equalised, texture, b]))


def core_background_llr() -> float:
    """Mean colour log-likelihood ratio (box against outside) over the box's centre below which
    the texture hypotheses mark no sure core: the centre is coloured like the background (the
    hole of a C-shaped object, whose box centre lies in its notch), so marking it object would
    make GrabCut take the background in. A white shirt before a white wall sits near 0 (its
    white is about as common inside the box as out); background in a hole about a third of the
    box sits near log(1/3) ≈ −1.1."""
    return -0.7


def box_iou(mask: np.ndarray, box: PixelBox) -> float:
    """IoU of a non-empty mask's own bounding box with ``box``."""
    x0, y0, x1, y1 = box
    ys, xs = mask_pixels(mask)
    mx0, my0, mx1, my1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    ix = max(0, min(x1, mx1) - max(x0, mx0))
    iy = max(0, min(y1, my1) - max(y0, my0))
    inter = ix * iy
    union = (x1 - x0) * (y1 - y0) + (mx1 - mx0) * (my1 - my0) - inter
    return float(inter / max(union, 1))


def box_fit_score(mask: np.ndarray, box: PixelBox, grad: np.ndarray) -> float:
    """How well a candidate mask fits a box prompt (higher is better; −inf when empty).

    A box drawn around an object touches it on all four sides, so the mask's own bounding box
    should match it (IoU of the two boxes); an object's outline follows image edges — log of
    the mean gradient on the outline inside the box over the box's mean gradient, and the
    share of outline pixels above the box's 75th gradient percentile; weight 1 each. A mask
    covering more than 90 % of the box is the box, not the object. The edge terms are not
    capped (the first score capped the contrast at 3×, where nearly every hypothesis sat, so
    a mask whose outline ran along the box's sides through sky or water went unnoticed).
    Weights chosen on the tuning images (training-split matting cutouts, DAVIS dog /
    kite-surf / libby first frames, and the same cutouts pasted small into wide frames,
    the two sets weighed equally) by mean first-frame J; see
    ``benchmarks/results/builtin_tracker_init.md``.
    """
    x0, y0, x1, y1 = box
    if not mask.any() or x1 <= x0 or y1 <= y0:
        return -np.inf
    tight = box_iou(mask, box)
    fill = float(mask[y0:y1, x0:x1].mean())
    inside = np.zeros(mask.shape, bool)
    inside[y0:y1, x0:x1] = True
    on_outline = grad[_outline(mask) & inside]
    in_box = grad[y0:y1, x0:x1]
    if on_outline.size:
        contrast = float(np.log((on_outline.mean() + 1e-3) / (in_box.mean() + 1e-3)))
        support = float((on_outline > np.percentile(in_box, 75)).mean())
    else:
        contrast, support = 0.0, 0.0
    return tight + contrast + support - 2.0 * max(0.0, fill - 0.9)


def grabcut_all(
    frame: InitFrame, jobs: Sequence[tuple[np.ndarray, PixelBox, np.ndarray | None]]
) -> list[np.ndarray]:
    """``frame.grabcut(labels, roi, image)`` for every job, in order, on up to one thread per
    CPU core: the hypotheses are independent and OpenCV's GrabCut releases the GIL (a click
    runs five whole-frame GrabCuts, ~0.8 s each at 512×288). Each call seeds OpenCV's
    random generator, which is per thread, so the masks are those of a sequential run."""
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers <= 1:
        return [frame.grabcut(labels, roi, image) for labels, roi, image in jobs]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grabcut") as pool:
        return list(pool.map(lambda job: frame.grabcut(*job), jobs))


def overlap(mask: np.ndarray, other: np.ndarray | None) -> float:
    """IoU of two H×W bool masks (0 when both are empty or ``other`` is None)."""
    if other is None:
        return 0.0
    union = np.count_nonzero(mask | other)
    return float(np.count_nonzero(mask & other)) / union if union else 0.0


def moving_in_box(fwd: np.ndarray, back: np.ndarray, box: PixelBox) -> np.ndarray | None:
    """The pixels of ``box`` that move against the background, or None when motion says
    nothing.

    ``fwd`` / ``back``: H×W×2 float32 optical flow from the prompted frame to a frame a few
    frames away and back. The background's motion is a RANSAC affine fit
    (:func:`cv2.estimateAffine2D`) on flow pairs outside the box that survive the round trip;
    a pixel in the box *moves* when its flow survives the round trip (pixels about to be
    covered or uncovered do not) and differs from the background's motion by more than
    :func:`motion_residual_factor` × the background's own median residual (1 px at least).
    None when the frame has too few background pairs, when the background's residual is
    large against the box (water, leaves: :func:`motion_noise_limit`) or when the moving
    pixels are under :func:`min_moving_share` or over 95 % of the box (a part of the object,
    or everything, moves).
    """
    h, w = fwd.shape[:2]
    bx0, by0, bx1, by1 = box
    if bx1 - bx0 < 4 or by1 - by0 < 4:
        return None
    inside = np.zeros((h, w), bool)
    inside[by0:by1, bx0:bx1] = True
    moving = _moving(fwd, back, inside, float(np.hypot(bx1 - bx0, by1 - by0)))
    if moving is None:
        return None
    moving = drop_specks(opened(moving & inside), 0.05)
    share = float(np.count_nonzero(moving)) / float(np.count_nonzero(inside))
    if not min_moving_share() <= share <= 0.95:
        return None
    return moving


def moving_at_clicks(fwd: np.ndarray, back: np.ndarray, pos: Sequence[XY]) -> np.ndarray | None:
    """The region that moves against the background under the positive clicks ``pos``
    (the moving pixels' connected components within 3 px of a click), or None when motion
    says nothing there (as :func:`moving_in_box`, with the background's motion fitted on the
    whole frame — the object is the minority RANSAC leaves out — and the object's size
    judged against the frame's diagonal). None also when the region is under 0.2 % or over
    half of the frame."""
    h, w = fwd.shape[:2]
    if not pos:
        return None
    moving = _moving(fwd, back, np.zeros((h, w), bool), float(np.hypot(w, h)) / 4)
    if moving is None:
        return None
    moving = opened(moving)
    near = disc_mask((h, w), pos, 3)
    region = components_touching(moving, near & moving) if (near & moving).any() else None
    if region is None:
        return None
    share = float(np.count_nonzero(region)) / float(h * w)
    if not 0.002 <= share <= 0.5:
        return None
    return region


def _moving(
    fwd: np.ndarray, back: np.ndarray, exclude: np.ndarray, scale: float
) -> np.ndarray | None:
    """H×W bool: pixels whose flow survives the round trip and differs from the
    background's affine motion (fitted on the round-trip survivors outside ``exclude``) by
    more than :func:`motion_residual_factor` × its median residual (1 px at least); None when
    the background cannot be fitted or moves noisily (median residual beyond
    :func:`motion_noise_limit` × ``scale``, the object's size in px)."""
    h, w = fwd.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    tx = xs + fwd[..., 0]
    ty = ys + fwd[..., 1]
    back_at = cv2.remap(back, tx, ty, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    trip = np.hypot(fwd[..., 0] + back_at[..., 0], fwd[..., 1] + back_at[..., 1])
    speed = np.hypot(fwd[..., 0], fwd[..., 1])
    landed = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    steady = landed & (trip < 1.0 + 0.1 * speed)
    outside = steady & ~exclude
    count = int(np.count_nonzero(outside))
    if count < 200:
        return None
    stride = max(1, int(np.sqrt(count / 3000)))
    sel = np.zeros((h, w), bool)
    sel[::stride, ::stride] = True
    oy, ox = mask_pixels(outside & sel)
    src = np.stack([ox, oy], axis=1).astype(np.float32)
    dst = src + fwd[oy, ox]
    affine, _ = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0)
    if affine is None:
        return None
    moved_x = affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2]
    moved_y = affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2]
    residual = np.hypot(tx - moved_x, ty - moved_y)
    noise = float(np.median(residual[outside]))
    if noise > motion_noise_limit() * scale:
        return None
    threshold = max(1.0, motion_residual_factor() * noise)
    moving: np.ndarray = steady & (residual > threshold)
    return moving


def _moving_core(moving: np.ndarray) -> np.ndarray:
    """The moving region's interior: eroded by 5 % of its bounding box's shorter side (the
    flow smears motion a few pixels past the object's outline), for *sure* object."""
    ys, xs = mask_pixels(moving)
    if xs.size == 0:
        return moving
    depth = max(1, round(0.05 * min(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * depth + 1, 2 * depth + 1))
    core: np.ndarray = cv2.erode(moving.astype(np.uint8), kernel).astype(bool)
    return core


def opened(mask: np.ndarray) -> np.ndarray:
    """``mask`` after a 3×3 morphological opening (isolated flow outliers removed)."""
    kernel = np.ones((3, 3), np.uint8)
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel).astype(bool)


def min_moving_share() -> float:
    """Least share of the box that must move against the background for the motion to be
    used (:func:`moving_in_box`). Less is a part of the object — a head turning, a tail —
    and scoring every hypothesis by its IoU with that part picks the part: on DAVIS libby
    with every 2nd / 3rd frame kept only the dog's head moved against the panning background
    and the first mask from the box fell to J 0.25 (0.70 without motion). It was 5 %; on
    16-frame box windows of the tuning sequences at every 1st / 2nd / 3rd frame the mean
    first-frame J went 0.602 → 0.625 (with the camera-shift start of the flows, see
    ``BuiltinSession._moving``) and J&F 0.530 → 0.564."""
    return 0.15


def motion_residual_factor() -> float:
    """How many times the background's median flow residual a pixel's motion must differ
    from the background's to count as moving (:func:`moving_in_box`)."""
    return 4.0


def motion_noise_limit() -> float:
    """The background's median flow residual, as a share of the box's diagonal, beyond
    which motion is not used for a box (:func:`moving_in_box`): a sea of waves or wind in
    leaves moves everywhere."""
    return 0.03


def segment_box(
    frame: InitFrame,
    box: PixelBox,
    pos: Sequence[XY] = (),
    neg: Sequence[XY] = (),
    texture_core: float = 0.0,
    whole_margin: float = 0.0,
    moving: np.ndarray | None = None,
    motion_weight: float = 0.0,
) -> np.ndarray:
    """The object in ``box`` (working-resolution pixels): the best GrabCut hypothesis by
    :func:`box_fit_score`. ``pos`` / ``neg``: clicks given with the box on the same frame.

    Hypotheses differ in what GrabCut first takes for object and for background: the whole
    box, an ellipse inscribed in it (a tight box's corners are mostly background) or the
    box's distinctive colours (a thin subject in a box of mostly sky or water), and the whole
    frame or only a ring around the box as background evidence (a subject that resembles its
    immediate surroundings needs the whole frame; one whose box holds a lot of a colour common
    elsewhere needs the ring). With ``texture_core`` > 0, four more (whole box or ellipse ×
    whole frame or ring) run on :func:`texture_image` instead of RGB, with a smaller ellipse
    (``texture_core`` × the inscribed one's axes) marked *sure* object: when the object's
    colours are common in the background (a white shirt before a white wall), RGB GrabCut
    gives all of them to the background and keeps only a distinctive patch; the sure core
    makes the object model learn them too, and texture and b separate them from the
    background's (and, when ``whole_margin`` > 0, the same four on RGB). The best by
    :func:`box_fit_score` is kept, or with ``whole_margin`` > 0 a fuller mask that contains
    it (:func:`pick_whole`). ``moving``: the box's pixels that move against the background
    (:func:`moving_in_box`; None: a still image, or motion says nothing): two more hypotheses
    seeded with them (probable object; their eroded core sure object) and every score plus
    ``motion_weight`` × the hypothesis's IoU with them. Returns H×W bool.
    """
    h, w = frame.shape
    bx0, by0, bx1, by1 = box
    inside = np.zeros((h, w), bool)
    inside[by0:by1, bx0:bx1] = True
    ellipse = np.zeros((h, w), np.uint8)
    centre = ((bx0 + bx1) // 2, (by0 + by1) // 2)
    axes = (max(1, (bx1 - bx0) // 2), max(1, (by1 - by0) // 2))
    cv2.ellipse(ellipse, centre, axes, 0, 0, 360, 1, thickness=-1)
    core = ellipse.astype(bool) & inside
    margin = 0.5 * max(bx1 - bx0, by1 - by0)
    ring_roi = (
        max(0, int(np.floor(bx0 - margin))),
        max(0, int(np.floor(by0 - margin))),
        min(w, int(np.ceil(bx1 + margin))),
        min(h, int(np.ceil(by1 + margin))),
    )
    whole = (0, 0, w, h)
    grad = gradient_magnitude(frame.gray)
    # colours found in the box but rare outside it: the object's, most likely
    box_llr = frame.colour_llr(inside, ~inside)
    distinct = inside & (box_llr > 1.0)
    seeds = [inside, core] + ([distinct] if distinct.sum() > 0.05 * inside.sum() else [])
    variants: list[tuple[np.ndarray, PixelBox, np.ndarray | None, np.ndarray | None]] = [
        (sd, r, None, None) for sd in seeds for r in (whole, ring_roi)
    ]
    if texture_core > 0 and (bx1 - bx0) * (by1 - by0) > 0:
        small = np.zeros((h, w), np.uint8)
        small_axes = (max(1, round(axes[0] * texture_core)), max(1, round(axes[1] * texture_core)))
        cv2.ellipse(small, centre, small_axes, 0, 0, 360, 1, thickness=-1)
        sure = small.astype(bool) & inside
        if float(box_llr[sure].mean()) < core_background_llr():
            sure[:] = False  # the box's centre is coloured like the outside: a hole, not object
        # RGB with the sure core too when a fuller mask may be picked (its hypotheses are
        # never the best-scoring one on the tuning images, only a fuller extent of it)
        texture = texture_image(frame.rgb)
        images = (None, texture) if whole_margin > 0 else (texture,)
        variants += (
            []
            if not sure.any()
            else [
                (sd, r, sure, im)
                for im in images
                for sd in (inside, core)
                for r in (whole, ring_roi)
            ]
        )
    use_motion = moving is not None and motion_weight > 0 and bool(moving.any())
    if use_motion:
        assert moving is not None
        moving_core = _moving_core(moving)
        variants += [(moving, r, None, None) for r in (whole, ring_roi)]
        if moving_core.any():
            variants += [(moving, r, moving_core, None) for r in (whole, ring_roi)]
    scored: list[tuple[float, np.ndarray]] = []
    jobs = []
    for seed, roi, fixed, image in variants:
        labels = np.full((h, w), cv2.GC_BGD, np.uint8)
        labels[inside] = cv2.GC_PR_BGD
        labels[seed] = cv2.GC_PR_FGD
        if fixed is not None:
            labels[fixed] = cv2.GC_FGD
        write_clicks(labels, frame, pos, neg, inside)
        jobs.append((labels, roi, image))
    for (_, _, fixed, _), cut in zip(variants, grabcut_all(frame, jobs), strict=True):
        out = drop_specks(cut)
        if fixed is not None and not (out & ~fixed).any():
            continue  # nothing beyond the sure core: no evidence of an object (a flat box)
        if pos:
            out |= disc_mask((h, w), pos, frame.click_radius)
        if neg:
            out &= ~disc_mask((h, w), neg, frame.click_radius)
        score = box_fit_score(out, box, grad)
        if use_motion:
            score += motion_weight * overlap(out, moving)
        scored.append((score, out))
    return pick_whole(scored, box, whole_margin)


def pick_whole(
    scored: Sequence[tuple[float, np.ndarray]], box: PixelBox, margin: float
) -> np.ndarray:
    """The best-scoring mask of ``scored`` ((score, H×W bool) pairs, at least one), or a
    larger one that contains it when that scores at most ``margin`` lower.

    Edge evidence favours a part of the object whose colour stands out (a red sleeve on a
    white shirt before a white wall: its outline has all the contrast) over the whole object,
    whose outline runs partly through weak white-on-white edges. A hypothesis that holds the
    best one (90 % of its pixels), is at least 1.5× its area and whose own bounding box fits
    ``box`` better (IoU higher by 0.05: a box touches the whole object on all four sides) is
    the same object's fuller extent; within ``margin`` of the best score the largest such one
    is kept.
    """
    best_score, best = max(scored, key=lambda sm: sm[0])
    if margin <= 0 or not np.isfinite(best_score) or not best.any():
        return best
    area = int(np.count_nonzero(best))
    fit = box_iou(best, box)
    chosen, chosen_area = best, area
    for score, mask in scored:
        if score < best_score - margin:
            continue
        m_area = int(np.count_nonzero(mask))
        if m_area < 1.5 * area or m_area <= chosen_area:
            continue
        if np.count_nonzero(mask & best) >= 0.9 * area and box_iou(mask, box) > fit + 0.05:
            chosen, chosen_area = mask, m_area
    return chosen


# -- clicks ---------------------------------------------------------------------------------------


def click_seed_fractions() -> tuple[float, ...]:
    """Radii (fractions of the frame's longest side) of the probable-object disc around the
    clicks, one GrabCut hypothesis each: a click says where the object is, not how big it is
    (2 %: a bird far away in a wide shot; 32 %: a portrait filling the frame). GrabCut learns
    the object's colours from the disc (plus the colour-similar region grown from the click);
    background caught inside is relabelled by its iterations. 2 % was added with the
    size-neutral score: on the tuning images' small-object composites it was the best seed
    for a quarter of them."""
    return (0.02, 0.04, 0.08, 0.16, 0.32)


def negative_colour_margin() -> float:
    """Colour log-likelihood ratio (nats) above which a pixel counts as probable background
    because it looks like the negative clicks' surroundings rather than the positive ones':
    e^2 ≈ 7× more likely, so only clearly negative-coloured pixels are relabelled."""
    return 2.0


def min_click_growth() -> float:
    """A click hypothesis must cover more than this many times the area of the sure discs at
    the positive clicks: one that GrabCut did not grow beyond the clicks themselves says
    nothing about the object, yet scores well (the discs sit deep inside it and a textured
    object gives its rim strong edges). Seen on a 128×72 frame, where the smallest seed disc
    is barely wider than the click's."""
    return 2.0


def write_clicks(
    labels: np.ndarray,
    frame: InitFrame,
    pos: Sequence[XY],
    neg: Sequence[XY],
    limit: np.ndarray,
) -> None:
    """Write clicks into a GrabCut label map (in place): the colour-similar regions grown
    from them (within ``limit``) probable object / background, discs at them sure."""
    for xy in pos:
        labels[frame.grow(xy, limit)] = cv2.GC_PR_FGD
    for xy in neg:
        labels[frame.grow(xy, limit)] = cv2.GC_PR_BGD
    labels[disc_mask(frame.shape, pos, frame.click_radius)] = cv2.GC_FGD
    labels[disc_mask(frame.shape, neg, frame.click_radius)] = cv2.GC_BGD


def click_fit_score(mask: np.ndarray, grad: np.ndarray, clicks: Sequence[XY]) -> float:
    """How well a candidate mask fits clicks alone (higher is better; −inf when empty).

    A click is a point, so the score asks what a whole object looks like, at any size: its
    outline follows image edges (log of the mean gradient on the outline, the frame's edge
    excluded, over the frame's mean gradient), the clicks sit deep inside it rather than on its
    rim (distance to the boundary at the clicks over the mask's largest, the frame's edge
    counting as boundary), and it is not the background (share of the frame's border it
    covers); weights 0.5 each. The first score also rewarded size (2 × the square root of the
    mask's share of the frame) and more than one side of the frame touched; with them a click
    on a small object in a wide frame took the background around it (blackswan J 0.48).
    Chosen on the tuning images (training-split matting cutouts and DAVIS dog / kite-surf /
    libby first frames, plus the same cutouts pasted small into wide frames), weighing the two
    equally; see ``benchmarks/results/builtin_tracker_init.md``.
    """
    if not mask.any():
        return -np.inf
    m = mask.astype(np.uint8)
    edge = _outline(mask) & ~_frame_border(mask.shape)
    # a mask filling the whole frame has no outline: no edge evidence at all
    outline = float(grad[edge].mean()) if edge.any() else 0.0
    contrast = float(np.log(outline / (float(grad.mean()) + 1e-3) + 1e-3))
    dist = cv2.distanceTransform(np.pad(m, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    depth = float(np.mean([dist[y, x] for x, y in clicks])) / max(float(dist.max()), 1e-3)
    sides = (mask[0], mask[-1], mask[:, 0], mask[:, -1])
    border = float(np.concatenate(sides).mean())
    return 0.5 * depth + 0.5 * contrast - 0.5 * border


def segment_clicks(
    frame: InitFrame,
    pos: Sequence[XY],
    neg: Sequence[XY] = (),
    moving: np.ndarray | None = None,
    motion_weight: float = 0.0,
) -> np.ndarray:
    """The object under the positive clicks ``pos`` and not under the negative ones ``neg``
    ((x, y) working-resolution pixels): one GrabCut hypothesis per seed size
    (:func:`click_seed_fractions`), the best by :func:`click_fit_score`. ``moving``: the
    region under the clicks that moves against the background (:func:`moving_at_clicks`;
    None: a still image, or motion says nothing): one more hypothesis seeded with it, and
    every score plus ``motion_weight`` × the hypothesis's IoU with it. Returns H×W bool (the
    discs at ``pos`` when no hypothesis is usable)."""
    h, w = frame.shape
    shape = (h, w)
    clicked = disc_mask(shape, pos, frame.click_radius)
    refused = disc_mask(shape, neg, frame.click_radius)
    grad = gradient_magnitude(frame.gray)
    longest = max(w, h)
    negative_like = np.zeros(shape, bool)
    if neg:
        # the negative clicks' surroundings against the positive ones', at the smallest seed
        # size: where a colour is much more the former's, it is background evidence
        near = max(3, round(click_seed_fractions()[0] * longest))
        llr = frame.colour_llr(disc_mask(shape, neg, near), disc_mask(shape, pos, near))
        negative_like = llr > negative_colour_margin()
    best = clicked
    best_score = -np.inf
    use_motion = moving is not None and motion_weight > 0 and bool(moving.any())
    # (probable object, sure object, sure background) per hypothesis
    seeds: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = [
        (disc_mask(shape, pos, max(3, round(f * longest))), None, None)
        for f in click_seed_fractions()
    ]
    if use_motion:
        assert moving is not None
        # far from the moving region is background: with colours shared by the object and
        # its surroundings, GrabCut would otherwise take the whole frame
        reach = max(3, round(0.5 * np.sqrt(np.count_nonzero(moving))))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
        far = ~cv2.dilate(moving.astype(np.uint8), kernel).astype(bool)
        seeds += [(moving, None, far), (moving, _moving_core(moving), far)]
    jobs = []
    for seed, sure, outside in seeds:
        labels = np.full(shape, cv2.GC_PR_BGD, np.uint8)
        labels[seed] = cv2.GC_PR_FGD
        labels[negative_like] = cv2.GC_PR_BGD
        if sure is not None:
            labels[sure & ~negative_like] = cv2.GC_FGD
        if outside is not None:
            labels[outside] = cv2.GC_BGD
        write_clicks(labels, frame, pos, neg, np.ones(shape, bool))
        jobs.append((labels, (0, 0, w, h), None))
    for cut in grabcut_all(frame, jobs):
        out = components_touching(cut, clicked)
        if (out & refused).any():
            continue
        if np.count_nonzero(out) <= min_click_growth() * np.count_nonzero(clicked):
            continue
        score = click_fit_score(out, grad, pos)
        if use_motion:
            score += motion_weight * overlap(out, moving)
        if score > best_score:
            best, best_score = out, score
    return best
