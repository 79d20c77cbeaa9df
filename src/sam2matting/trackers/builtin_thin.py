"""Thin structures for the built-in tracker: straight lines (kite lines, strings, ropes,
antennae, poles) attached to a tracked object, tracked as line segments at the frame's native
resolution.

Why a separate stage: the tracker works at a 512-px working resolution, where a 2–4 px line of
the frame is 1–2 px wide; the optical flow is smoothed across it towards the background and
the colour model cannot see it, so the warp loses it on the first frame (DAVIS ``kite-surf``:
26 % of the object's area is thinner than 7 px, lost at the first warp even from the true
mask, see ``benchmarks/bench_builtin_anatomy.py``). A ridge test per pixel cannot tell such a
line from water texture, but a whole straight line can: integrated over hundreds of pixels,
the contrast of a line against both its sides is consistent where the texture's is not.

How:

1. **Extraction** (on an anchor mask, working resolution): the mask minus its opening by a
   disc (:func:`thin_opening`) is its thin part; straight segments in it are found by a
   probabilistic Hough transform, pieces of the same line merged. Each segment's *anchor* is its end
   nearer to the object's body (the opened mask), its far end the other. On the native frame
   the segment is re-fitted (the search of step 2 with no motion) in each colour plane
   (:class:`NativePlanes`: red, green, blue, grey) and polarity (darker or brighter than its
   sides), the best kept with its contrast; its width is measured on the mask (for a line
   under 2 working px, from the mask's coverage along it: its thresholded pixels overstate
   it); a segment without line evidence in the image (its contrast below
   :func:`min_line_contrast` grey levels) is not kept.
2. **Tracking** (each frame, native resolution): the anchor stays, or moves with the object's
   affine motion (fitted by the tracker on the forward flow of the body; both are tried); the line is searched for
   among segments whose anchor shifts by up to a few pixels across the line and whose far end
   by up to :func:`far_end_search` px across it, coarse to fine, scoring the mean contrast of
   a matched profile (the centre against the nearer in value of its two sides at
   ± (width / 2 + 2) px: an edge is not a line) along it
   (:func:`line_contrast`). The far end is then re-found by walking along the best line (to
   the frame's border at most) while the contrast holds: lines that leave the frame or grow
   longer are followed, trimmed ones shortened. Lines under 2 working px wide may *fade and
   change* along their length (``faint``, the tracker's ``thin_faint_lines``): the walk also
   passes where the line runs on fainter than its threshold but still stands out from the same
   profile on parallel lines beside it (:func:`faint_line_ratio`: a kite line over sky), and
   stretches where the profile does not match (darker than a bright shore it crosses) count
   as zero contrast in the scores, not against the line.
3. **Evidence and dropping**: a segment whose best contrast falls below
   :func:`keep_fraction` × its reference (first-frame) contrast is *missed* on that frame (not
   drawn, kept where it was); after :func:`max_misses` missed frames in a row it is dropped. So
   a line briefly hidden survives, and one that is gone is not invented for long.
4. **Output**: seen segments are drawn into the object's working-resolution logits as a union
   with the body: lines under 2 working px as the signed distance to their edge (which the
   output's bilinear upsampling reproduces, so the frame-size mask has the line's width:
   better than the area-resampled true mask, the "resolution floor"), wider ones as the share
   of each pixel they cover, as log-odds (:func:`render_lines`). The lines are kept out of
   the state's soft mask the next frame warps (:func:`strip_lines`).

Only thin parts of the object's own mask are tracked, so nothing is added to an object that
has none, and a line is never invented from texture: it must have been in a mask and must
keep its contrast along its whole length. Curved thin parts (a rope's sag, a bent limb) are
followed as far as a straight segment fits them (Hough segments are short where the curve is
tight). Costs ~1–2 ms per segment per frame (a few hundred candidate lines × up to a few
hundred samples, sampled by :func:`cv2.remap`): DAVIS kite-surf with 3–5 lines ~7 ms a frame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "ThinLine",
    "extract_lines",
    "native_planes",
    "render_lines",
    "strip_lines",
    "track_lines",
]

#: names of the planes of :func:`native_planes`
PLANES = ("red", "green", "blue", "grey")


#: log-odds bound of a drawn line (the tracker's logit range)
LINE_LOGIT_LIMIT = 12.0


def thin_opening(work_w: int, work_h: int) -> int:
    """Diameter (working px) of the disc whose opening removes the *thin* parts of a mask: 5 px
    at 512 (parts thinner than ~7–8 px of a 854-px frame, the anatomy's "thin" measure)."""
    return max(3, round(5 * max(work_w, work_h) / 512) | 1)


def min_segment_length(work_w: int, work_h: int) -> int:
    """Shortest thin segment (working px) worth tracking as a line: ~3 % of the long side
    (15 px at 512): shorter thin bits (fingers, a strap) are left to the body's tracking."""
    return max(6, round(15 * max(work_w, work_h) / 512))


def min_line_contrast() -> float:
    """Grey levels (0–255) of contrast against both sides a segment needs on its anchor frame
    to count as a visible line (a thin part of the mask without image evidence is not one)."""
    return 8.0


def keep_fraction() -> float:
    """A line is *seen* on a frame while its contrast stays above this fraction of its
    reference (anchor-frame) contrast; below it the frame is a miss."""
    return 0.45


def max_misses() -> int:
    """Missed frames in a row after which a line is dropped (a short occlusion survives)."""
    return 3


def faint_line_floor() -> float:
    """Grey levels of matched-profile contrast a line's continuation needs at least over a
    plain background (:func:`faint_line_ratio`): 4, about twice a compressed frame's noise
    on sky."""
    return 4.0


def faint_line_ratio() -> float:
    """How many times the line's contrast must exceed the best contrast of the same profile on
    parallel lines beside it (floored at 1 grey level) for a fainter continuation to count:
    3 (DAVIS kite-surf's lines over the sky read ~5–11 against ~0–1 beside them, and over
    the water ~50–90 against up to ~10)."""
    return 3.0


def faint_line_max_width(pixel: float) -> float:
    """Widest line (native px) whose faint continuation is followed: 2 working pixels of side
    ``pixel`` native px (3.3 px at 854 → 512). Thicker thin parts (a leg, a tail) are held by
    the body's flow and colour at the working resolution; following them beyond their own
    contrast would run along the body's edges instead."""
    return 2.0 * pixel


def max_dormant() -> int:
    """Missed frames in a row after which a thin line kept for re-finding (``refind``) is
    dropped: 15 (half a second at 30 frames/s)."""
    return 15


def far_end_search(length: float) -> float:
    """How far (native px) the far end of a line of ``length`` px is searched across it per
    frame: 8 % of its length (a 500-px kite line swinging by ~4.5°), at least 6 px."""
    return max(6.0, 0.08 * length)


@dataclass(frozen=True)
class ThinLine:
    """One straight thin segment at native resolution: ``anchor`` (end on the object's body)
    and ``end`` (x, y); ``width`` (px), ``polarity`` (+1 brighter than its sides, −1
    darker), ``contrast`` (reference, grey levels) and ``misses`` (missed frames in a row)."""

    anchor: tuple[float, float]
    end: tuple[float, float]
    width: float
    polarity: float
    contrast: float
    misses: int = 0
    #: which plane of :func:`native_planes` shows it best (a red line on cyan water has the
    #: water's grey level, but not its green)
    channel: int = 3

    @property
    def length(self) -> float:
        return float(np.hypot(self.end[0] - self.anchor[0], self.end[1] - self.anchor[1]))


class NativePlanes:
    """The native RGB frame (uint8) as float32 planes 0–255, made when first asked for:
    ``planes[k]`` for k in 0–3 = red, green, blue, grey (:data:`PLANES`)."""

    def __init__(self, image: np.ndarray) -> None:
        self._rgb = np.ascontiguousarray(image)
        self._planes: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(PLANES)

    def __getitem__(self, k: int) -> np.ndarray:
        if k not in self._planes:
            if k == 3:
                plane = cv2.cvtColor(self._rgb, cv2.COLOR_RGB2GRAY)
            else:
                plane = np.ascontiguousarray(self._rgb[..., k])
            self._planes[k] = plane.astype(np.float32)
        return self._planes[k]

    @property
    def shape(self) -> tuple[int, int]:
        return int(self._rgb.shape[0]), int(self._rgb.shape[1])


def native_planes(image: np.ndarray) -> NativePlanes:
    """The planes of the native RGB frame a line can be seen in (see :class:`NativePlanes`)."""
    return NativePlanes(image)


def _samples(
    a: np.ndarray, b: np.ndarray, step: float = 1.5, count: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points along segments a→b (arrays k×2), their unit normals; shape (k, n, 2) / (k, 2).
    ``count``: n (default: one sample every ``step`` px of the longest segment)."""
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    n = max(2, int(np.max(length) / step)) if count is None else count
    t = np.linspace(0.0, 1.0, n, dtype=np.float32)
    pts = a[:, None, :] + t[None, :, None] * d[:, None, :]
    unit = d / np.maximum(length, 1e-6)[:, None]
    normal = np.stack([-unit[:, 1], unit[:, 0]], axis=1)
    return pts.astype(np.float32), normal.astype(np.float32), t


def _sample(gray: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``gray`` (float32) at ``pts`` (…×2, x y); NaN outside the frame."""
    shape = pts.shape[:-1]
    flat = pts.reshape(-1, pts.shape[-2], 2).astype(np.float32)  # rows × samples (each < 32767)
    out = cv2.remap(
        gray,
        flat[..., 0].copy(),
        flat[..., 1].copy(),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=np.nan,
    )
    return np.asarray(out, np.float32).reshape(shape)


def line_contrast(
    gray: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    width: float,
    polarity: float,
    step: float = 1.5,
    count: int | None = None,
) -> np.ndarray:
    """Per-sample contrast (k×n, grey levels, NaN outside the frame) of the matched line
    profile along segments a→b, a sample every ``step`` px (or ``count`` samples): the
    smaller of polarity × (centre − side) over both sides at ± (width/2 + 2) px."""
    pts, normal, _ = _samples(a, b, step, count)
    off = (0.5 * width + 2.0) * normal[:, None, :]
    centre = _sample(gray, pts)
    # both sides must differ: a line along an edge (one side only) is not a line
    left = polarity * (centre - _sample(gray, pts + off))
    right = polarity * (centre - _sample(gray, pts - off))
    return np.minimum(left, right)


def _score(values: np.ndarray, clipped: bool = False) -> np.ndarray:
    """Mean contrast per candidate, samples outside the frame ignored (−inf when none inside).
    ``clipped``: samples below zero count as zero. A long line's contrast changes along it: it
    turns darker than a bright shore it crosses, a dark sleeve starts it at the bar; those
    stretches say only that the profile does not match there, and a mean that subtracts them
    drops a line that is plainly visible elsewhere (DAVIS kite-surf's top line, lost after
    25 frames without)."""
    inside = ~np.isnan(values)
    count = inside.sum(axis=1)
    if clipped:
        values = np.maximum(values, 0.0)
    total = np.where(inside, values, 0.0).sum(axis=1)
    return np.where(count >= 4, total / np.maximum(count, 1), -np.inf)


def _fit(
    gray: np.ndarray,
    line: ThinLine,
    starts: list[tuple[np.ndarray, np.ndarray]],
    reach_a: float,
    reach_b: float,
    clipped: bool = False,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Best segment near one of the predicted ``starts`` (anchor, end): the anchor shifted by
    up to ``reach_a`` px and the far end by up to ``reach_b`` px across the line; coarse (a
    sample every 6 px, 2 px steps) then fine (every 1.5 px, 0.5 px steps).
    Returns (anchor, end, mean contrast)."""
    best = (-np.inf, starts[0][0], starts[0][1])
    for anchor, end in starts:
        d = end - anchor
        normal = np.array([-d[1], d[0]], np.float32) / max(float(np.hypot(*d)), 1e-6)
        off_a, off_b = 0.0, 0.0
        score = -np.inf
        for ra, rb, step_a, step_b, step in (
            (reach_a, reach_b, 2.0, 2.0, 6.0),
            (1.0, 2.0, 0.5, 0.5, 1.5),
        ):
            oa = off_a + np.arange(-ra, ra + 1e-6, step_a, dtype=np.float32)
            ob = off_b + np.arange(-rb, rb + 1e-6, step_b, dtype=np.float32)
            ga, gb = np.meshgrid(oa, ob, indexing="ij")
            ga, gb = ga.ravel(), gb.ravel()
            a = anchor[None, :] + ga[:, None] * normal[None, :]
            b = end[None, :] + gb[:, None] * normal[None, :]
            s = _score(line_contrast(gray, a, b, line.width, line.polarity, step), clipped)
            i = int(np.argmax(s))
            score, off_a, off_b = float(s[i]), float(ga[i]), float(gb[i])
        if score > best[0]:
            best = (score, anchor + off_a * normal, end + off_b * normal)
    return best[1], best[2], best[0]


def _far_end(
    gray: np.ndarray,
    line: ThinLine,
    a: np.ndarray,
    b: np.ndarray,
    threshold: float,
    faint_support: bool = True,
) -> np.ndarray:
    """Walk from the anchor along a→b (to 1.3 × its length or the frame's border) while the
    contrast holds (a running mean over ~13 px above ``threshold``, or with ``faint_support``
    a fainter line that still stands out from its surroundings, short gaps passed); the far
    end found (``b`` when nothing holds)."""
    h, w = gray.shape
    d = b - a
    length = float(np.hypot(*d))
    unit = d / max(length, 1e-6)
    # longest reach inside the frame
    reach = 1.3 * length + 10.0
    for k in (0, 1):
        if unit[k] > 1e-6:
            reach = min(reach, ((w if k == 0 else h) - 1 - a[k]) / unit[k])
        elif unit[k] < -1e-6:
            reach = min(reach, -a[k] / unit[k])
    if reach <= 2:
        return b
    far = a + unit * reach
    win = 9
    kernel = np.ones(win) / win
    values = line_contrast(gray, a[None], far[None], line.width, line.polarity)[0]
    smooth = np.convolve(np.nan_to_num(values, nan=0.0), kernel, mode="same")
    ok = smooth >= threshold
    if faint_support:
        # where the background is plain (sky, calm water, a wall) a line stays visible at a
        # fraction of the contrast it had over texture: a sample is also supported when the
        # line stands out from the same matched profile on parallel lines beside it (the
        # background's own line-likeness there) by :func:`faint_line_ratio`
        normal = np.array([-unit[1], unit[0]], np.float32)
        offsets = np.array([-2.0, -1.0, 1.0, 2.0], np.float32)[:, None] * (line.width + 4.0)
        beside = line_contrast(
            gray,
            a[None] + offsets * normal[None],
            far[None] + offsets * normal[None],
            line.width,
            line.polarity,
            # as many samples as along the line itself: the parallel segments are as long,
            # but their float lengths may round to one sample more or fewer
            count=len(values),
        )
        noise = np.array(
            [np.convolve(np.nan_to_num(v, nan=0.0), kernel, mode="same") for v in beside]
        ).max(axis=0)
        ok |= (smooth >= faint_line_floor()) & (
            smooth >= faint_line_ratio() * np.maximum(noise, 1.0)
        )
    n = len(ok)
    # the end: the last supported sample before a long gap (a gap may be as long as a
    # third of the way so far: knots, a hand over the line's start, a patch of equal colour)
    if not ok.any():
        return b
    first = int(np.argmax(ok))
    last = first
    gap = 0
    for i in range(first, n):
        if ok[i]:
            last = i
            gap = 0
        else:
            gap += 1
            if gap > max(2 * win, i // 3):
                break
    t = last / max(n - 1, 1)
    return a + (far - a) * t


def _segments(thin: np.ndarray, min_len: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Straight segments of a thin mask (working px): probabilistic Hough, segments on the same
    line (both ends within 2 px of a longer one's line, at most 8 px apart along it) merged."""
    found = cv2.HoughLinesP(
        thin.astype(np.uint8) * 255,
        1,
        np.pi / 180,
        threshold=max(8, min_len // 2),
        minLineLength=min_len,
        maxLineGap=3,
    )
    if found is None:
        return []
    segs = [
        (np.array(s[:2], np.float32), np.array(s[2:], np.float32))
        for s in np.asarray(found).reshape(-1, 4)
    ]
    segs.sort(key=lambda s: -float(np.hypot(*(s[1] - s[0]))))
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    for a, b in segs:
        for k, (ka, kb) in enumerate(kept):
            length = float(np.hypot(*(kb - ka)))
            u = (kb - ka) / max(length, 1e-6)
            normal = np.array([-u[1], u[0]], np.float32)
            if max(abs(float((a - ka) @ normal)), abs(float((b - ka) @ normal))) > 2.0:
                continue
            ta, tb = float((a - ka) @ u), float((b - ka) @ u)
            if min(ta, tb) > length + 8 or max(ta, tb) < -8:
                continue  # on the same line, but apart: another segment
            # the same line (a duplicate, or a piece Hough broke off): one segment spans both
            lo, hi = min(0.0, ta, tb), max(length, ta, tb)
            kept[k] = (ka + lo * u, ka + hi * u)
            break
        else:
            kept.append((a, b))
    return kept[:12]


def extract_lines(
    prob: np.ndarray,
    planes: NativePlanes,
    width_from_coverage: bool = True,
    faint: bool = True,
) -> list[ThinLine]:
    """The straight thin segments of an anchor mask (``prob``, working resolution) that are
    visible lines on the native frame (``planes``: :func:`native_planes`); each keeps the
    plane and polarity in which it contrasts most with both its sides.

    ``width_from_coverage``: a line under 2 working px wide takes its width from the mask's
    coverage along it (the values of an area-resampled mask), not from its thresholded pixels,
    which overstate it. ``faint``: such a line is scored with negative samples as zero
    (:func:`_score`), as :func:`track_lines` will score it."""
    work_h, work_w = prob.shape
    mask = (prob > 0.35).astype(np.uint8)
    if not mask.any():
        return []
    k = thin_opening(work_w, work_h)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    body = cv2.morphologyEx(mask, cv2.MORPH_OPEN, disc)
    if not body.any():
        return []  # all of it is thin (a strand): nothing to attach a line to; the body's
        # tracking follows it as it is
    thin = (mask > 0) & (body == 0)
    if np.count_nonzero(thin) < min_segment_length(work_w, work_h):
        return []
    sy = planes.shape[0] / work_h
    sx = planes.shape[1] / work_w
    scale = np.array([sx, sy], np.float32)
    to_body = cv2.distanceTransform((body == 0).astype(np.uint8), cv2.DIST_L2, 3)
    lines: list[ThinLine] = []
    for a, b in _segments(thin, min_segment_length(work_w, work_h)):
        da = to_body[int(a[1]), int(a[0])]
        db = to_body[int(b[1]), int(b[0])]
        if db < da:
            a, b = b, a
        width = _mask_width(thin, a, b, float(np.mean(scale)), 3)
        if width_from_coverage:
            # a line under 2 working px: its thresholded pixels overstate its width (a
            # 1.4-px kite line reads 2.2 px); the anchor mask's coverage along it does not
            covered = _mask_width(np.where(body == 0, prob, 0.0), a, b, float(np.mean(scale)), 3)
            if covered <= faint_line_max_width(float(np.mean(scale))):
                width = covered
        na, nb = (a + 0.5) * scale - 0.5, (b + 0.5) * scale - 0.5
        fading = faint and width <= faint_line_max_width(float(np.mean(scale)))
        best = _best_profile(planes, na, nb, width, fading)
        if best is not None and best.contrast >= min_line_contrast():
            lines.append(best)
    return lines


def _mask_width(thin: np.ndarray, a: np.ndarray, b: np.ndarray, scale: float, band: int) -> float:
    """Width (native px, 1–6) of the thin mask along a→b (working px): its pixels within a
    ``band``-px wide strip along the segment per unit length, × ``scale`` (native per working
    px)."""
    seg_len = float(np.hypot(*(b - a)))
    strip = np.zeros(thin.shape, np.uint8)
    cv2.line(
        strip,
        (round(float(a[0])), round(float(a[1]))),
        (round(float(b[0])), round(float(b[1]))),
        1,
        band,
    )
    # ``thin`` bool: its pixels; float: its coverage (an area-resampled mask's values)
    width = float(np.sum(np.where(strip > 0, thin, 0))) / max(seg_len, 1.0) * scale
    return float(np.clip(width, 1.0, 6.0))


def _best_profile(
    planes: NativePlanes, na: np.ndarray, nb: np.ndarray, width: float, clipped: bool = False
) -> ThinLine | None:
    """The segment na→nb (native px) re-fitted in each plane and polarity, the one with the
    highest contrast against both sides kept (None for a segment under 4 px); ``clipped``:
    scored by :func:`_score` with negative samples as zero."""
    if float(np.hypot(*(nb - na))) < 4:
        return None
    best: ThinLine | None = None
    for channel, polarity in [(c, p) for c in range(len(planes)) for p in (1.0, -1.0)]:
        cand = ThinLine(
            (float(na[0]), float(na[1])),
            (float(nb[0]), float(nb[1])),
            width,
            polarity,
            0.0,
            channel=channel,
        )
        fa, fb, c = _fit(planes[channel], cand, [(na, nb)], 2.0, 3.0, clipped)
        if best is None or c > best.contrast:
            best = dataclasses.replace(
                cand,
                anchor=(float(fa[0]), float(fa[1])),
                end=(float(fb[0]), float(fb[1])),
                contrast=c,
            )
    return best


def track_lines(
    lines: list[ThinLine] | tuple[ThinLine, ...],
    planes: NativePlanes,
    motion: np.ndarray | None,
    work_scale: tuple[float, float],
    faint: bool = True,
    refind: bool = True,
) -> list[ThinLine]:
    """Each line found again on this frame (``planes``: :func:`native_planes`), searched
    around two predictions: where it was, and moved with the object's affine ``motion`` (2×3,
    working resolution, previous → this frame; None: none) at its anchor (the affine motion
    of a whole object need not hold at its edge); ``work_scale``: (sx, sy) working → native.
    Missed lines count a miss (kept where they were); lines missed :func:`max_misses` times
    in a row are dropped. ``faint`` (lines up to :func:`faint_line_max_width` wide, which
    fade and change along their length): the far end also follows the line where it runs on
    fainter but still stands out from its surroundings (:func:`_far_end`), and stretches
    where its profile does not match count as zero contrast, not against it (:func:`_score`;
    with the line extracted the same way, see :func:`extract_lines`). ``refind`` (such lines
    only): a line missed :func:`max_misses` times is not dropped but kept out of sight and
    searched for, carried along with the object's motion, until :func:`max_dormant` missed
    frames in a row (a line hidden for a moment behind a person, a wave, spray)."""
    sx, sy = work_scale
    out: list[ThinLine] = []
    for line in lines:
        native_gray = planes[line.channel]
        a = np.array(line.anchor, np.float32)
        b = np.array(line.end, np.float32)
        starts = [(a, b)]
        if motion is not None:
            w = np.array([(a[0] + 0.5) / sx - 0.5, (a[1] + 0.5) / sy - 0.5, 1.0])
            q = np.asarray(motion, np.float64) @ w
            da = np.array([(q[0] + 0.5) * sx - 0.5, (q[1] + 0.5) * sy - 0.5], np.float32) - a
            if float(np.hypot(*da)) > 2.0:
                # the line translates with its anchor; its angle is searched
                starts.append((a + da, b + da))
        length = float(np.hypot(*(b - a)))
        if length < 4:
            continue
        fading = faint and line.width <= faint_line_max_width(0.5 * (sx + sy))
        fa, fb, c = _fit(native_gray, line, starts, 4.0, far_end_search(length), fading)
        threshold = keep_fraction() * line.contrast
        if c >= threshold:
            walked = _far_end(native_gray, line, fa, fb, threshold, fading)
            # the walk may lengthen a line, or shorten it to no less than half at a time
            if float(np.hypot(*(walked - fa))) >= 0.5 * float(np.hypot(*(fb - fa))):
                fb = walked
            if float(np.hypot(*(fb - fa))) >= 4:
                out.append(
                    dataclasses.replace(
                        line,
                        anchor=(float(fa[0]), float(fa[1])),
                        end=(float(fb[0]), float(fb[1])),
                        misses=0,
                    )
                )
                continue
        if fading and refind and line.misses + 1 < max_dormant():
            # searched for again on the next frames: carried along with the object meanwhile
            a, b = starts[-1]
        elif line.misses + 1 >= max_misses():
            continue
        out.append(
            dataclasses.replace(
                line,
                anchor=(float(a[0]), float(a[1])),
                end=(float(b[0]), float(b[1])),
                misses=line.misses + 1,
            )
        )
    return out


def line_edge_slope() -> float:
    """Log-odds per native px across a drawn line's edge (``"distance"`` rendering): 4, so the
    line's centre reads ~0.98 and 1 px outside it ~0.02; only the zero crossing (the mask)
    depends on the rendering's geometry, this sets how soft its probability is."""
    return 4.0


def render_lines(
    logits: np.ndarray,
    lines: list[ThinLine] | tuple[ThinLine, ...],
    work_scale: tuple[float, float],
    encoding: str = "distance",
) -> np.ndarray:
    """``logits`` (working resolution) with the seen lines (no current miss) drawn in as object,
    united with the body.

    ``encoding``: ``"distance"`` (default) writes each working pixel's signed distance (native
    px, × :func:`line_edge_slope`) to the line's edge, positive inside: a bilinear upsampling
    of a linear function is exact, so the native-resolution mask (the logits resized
    bilinearly, > 0) has the line's width wherever the working grid has a sample on either
    side of each edge; a line narrower than a working pixel is drawn half a working pixel wide
    (its nearest samples kept positive) rather than lost between samples. Lines wider than
    :func:`faint_line_max_width` (2 working px) are drawn by area either way: there the area
    encoding is near exact, and those parts are the body's more than lines. ``"area"``: the share
    of each working pixel a line of its width covers, as log-odds (the encoding of an
    area-resampled mask: a 2-px line at 1.7 native px per working px reads below 0.5 on most
    of its samples, so about half its pixels are lost on upsampling: DAVIS kite-surf's
    resolution floor)."""
    if encoding not in ("distance", "area"):
        raise ValueError(f"encoding must be 'distance' or 'area', not {encoding!r}")
    seen = [ln for ln in lines if ln.misses == 0]
    if not seen:
        return logits
    sx, sy = work_scale
    pixel = 0.5 * (sx + sy)  # a working pixel's side in native px
    work_h, work_w = logits.shape
    floor = -LINE_LOGIT_LIMIT
    drawn = np.full(logits.shape, floor, np.float32)
    for ln in seen:
        a = np.array(ln.anchor, np.float32)
        b = np.array(ln.end, np.float32)
        # the line's bounding box on the working grid, 2 px around
        x0 = max(0, int(min(a[0], b[0]) / sx) - 2)
        x1 = min(work_w, int(max(a[0], b[0]) / sx) + 3)
        y0 = max(0, int(min(a[1], b[1]) / sy) - 2)
        y1 = min(work_h, int(max(a[1], b[1]) / sy) + 3)
        if x0 >= x1 or y0 >= y1:
            continue
        gx = (np.arange(x0, x1, dtype=np.float32) + 0.5) * sx - 0.5
        gy = (np.arange(y0, y1, dtype=np.float32) + 0.5) * sy - 0.5
        px, py = np.meshgrid(gx, gy)
        d = b - a
        t = np.clip(((px - a[0]) * d[0] + (py - a[1]) * d[1]) / max(float(d @ d), 1e-6), 0, 1)
        dist = np.hypot(px - (a[0] + t * d[0]), py - (a[1] + t * d[1]))
        half = 0.5 * ln.width
        if encoding == "distance" and ln.width <= faint_line_max_width(pixel):
            # a sample within half a working pixel of the centre line is always inside
            edge = max(half, 0.55 * pixel)
            value = np.clip(line_edge_slope() * (edge - dist), floor, LINE_LOGIT_LIMIT)
        else:
            # area of the pixel (side ``pixel``, across the line) the line of its width covers
            inside = np.minimum(dist + 0.5 * pixel, half) - np.maximum(dist - 0.5 * pixel, -half)
            c = np.clip(np.clip(inside / pixel, 0.0, 1.0), 1e-4, 1 - 1e-4)
            value = np.where(c > 0.02, np.log(c / (1 - c)), floor)
        np.maximum(drawn[y0:y1, x0:x1], value, out=drawn[y0:y1, x0:x1])
    return np.where(drawn > floor, np.maximum(logits, drawn), logits).astype(np.float32)


def strip_lines(
    prob: np.ndarray, lines: list[ThinLine] | tuple[ThinLine, ...], work_scale: tuple[float, float]
) -> np.ndarray:
    """``prob`` (working resolution) without the thin parts the ``lines`` cover (their drawn
    pixels and 1 px around, outside the mask's opening): the body the flow, colour and graph
    cut follow. Left in, a line makes those stages grow the mask along it into whatever it
    points at (DAVIS ``kite-surf``: the shore behind the kite lines)."""
    if not lines:
        return prob
    work_h, work_w = prob.shape
    drawn = (
        render_lines(
            np.full(prob.shape, -1.0, np.float32),
            [dataclasses.replace(ln, misses=0) for ln in lines],
            work_scale,
        )
        > 0
    )
    drawn = cv2.dilate(drawn.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    k = thin_opening(work_w, work_h)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    body = cv2.morphologyEx((prob > 0.5).astype(np.uint8), cv2.MORPH_OPEN, disc) > 0
    return np.where(drawn & ~body, 0.0, prob).astype(np.float32)
