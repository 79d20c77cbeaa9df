"""Mask degradations: realistic tracker errors applied to a correct mask.

Two users share these functions so that they simulate the same errors: the oracle tracker
(``--tracker oracle`` with ``perturbation=…``, to measure how the matting stage copes with an
imperfect tracker) and training (simulating tracker masks from ground-truth alpha).

Every function takes a boolean H×W mask and a :class:`numpy.random.Generator` and returns a new
boolean H×W mask; the result depends only on the inputs (same mask, kind, strength and
generator state → same output). ``strength`` is in [0, 1]: 0 returns the mask unchanged, 1 is
a large but still plausible error. Sizes scale with the object (the square root of its area,
:func:`object_scale`), so a degradation looks alike on a 256² preview and a 4K plate.

Kinds (:data:`DEGRADATIONS`):

- ``erode`` / ``dilate``: the boundary sits inside / outside the true one (up to 8 % of the
  object's size);
- ``holes``: missing blobs inside the object (a tracker confused by texture);
- ``blobs``: false-positive blobs next to the object (background the tracker grabbed);
- ``blocky``: the mask as a low-resolution logit map upsampled (SAM2's 256² logits for a
  1024² input; down to a 64-pixel map at strength 1);
- ``thin``: thin parts missed (hair, fingers, tails, lines): a morphological opening;
- ``jagged``: an irregular, noisy boundary;
- ``shift``: the mask displaced (a tracker lagging a fast motion);
- ``sam2``: the mask as SAM 2 hands it over: its 256×256 low-resolution logits (the frame
  squeezed to a square, as SAM 2 resizes it to 1024²) upsampled bilinearly to the frame and
  thresholded, even at strength 0; with strength > 0 also the usual misses of a good tracker:
  parts thinner than up to 3 % of the object's size dropped and the boundary moved in or out by
  up to 1.5 %.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .errors import InputError

__all__ = [
    "DEGRADATIONS",
    "degrade_mask",
    "degrade_mask_chain",
    "object_scale",
    "parse_degradations",
    "random_degradation",
]

#: names accepted by :func:`degrade_mask`
DEGRADATIONS = (
    "erode",
    "dilate",
    "holes",
    "blobs",
    "blocky",
    "thin",
    "jagged",
    "shift",
    "sam2",
)

#: the long side (px) of SAM2's low-resolution mask logits; ``blocky`` at strength 0
TRACKER_LOGIT_SIDE = 256


def object_scale(mask: np.ndarray) -> float:
    """Size of the object in pixels: sqrt(area), at least 1 (the unit every degradation uses)."""
    return float(np.sqrt(max(int(np.count_nonzero(mask)), 1)))


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _radius(mask: np.ndarray, strength: float, fraction: float, rng: np.random.Generator) -> int:
    """A random radius in [0.5, 1] × ``fraction`` × object size × strength (pixels, ≥ 1)."""
    return max(1, round(rng.uniform(0.5, 1.0) * fraction * strength * object_scale(mask)))


def _random_ellipses(
    shape: tuple[int, int],
    centres: np.ndarray,
    size: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Filled ellipses with random axes (0.4–1 × size) and angles at ``centres`` (n×2, x y)."""
    out = np.zeros(shape, np.uint8)
    for x, y in centres:
        axes = (
            max(1, round(size * rng.uniform(0.4, 1.0))),
            max(1, round(size * rng.uniform(0.4, 1.0))),
        )
        cv2.ellipse(
            out, (int(x), int(y)), axes, float(rng.uniform(0, 180)), 0, 360, 1, thickness=-1
        )
    return out.astype(bool)


def _pick_pixels(select: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random (x, y) positions among the True pixels of ``select`` (n×2)."""
    ys, xs = np.nonzero(select)
    if xs.size == 0:
        return np.zeros((0, 2), np.int64)
    idx = rng.integers(0, xs.size, size=count)
    return np.stack([xs[idx], ys[idx]], axis=1)


def _smooth_noise(shape: tuple[int, int], cell: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field in about [−1, 1]: uniform noise on a grid of ``cell`` px, upsampled."""
    h, w = shape
    gh, gw = max(2, int(np.ceil(h / cell)) + 1), max(2, int(np.ceil(w / cell)) + 1)
    grid = rng.uniform(-1.0, 1.0, size=(gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def degrade_mask(
    mask: np.ndarray, kind: str, strength: float, rng: np.random.Generator
) -> np.ndarray:
    """Apply one degradation ``kind`` (see :data:`DEGRADATIONS`) of ``strength`` ∈ [0, 1].

    ``mask``: H×W, nonzero = object. Returns a new bool H×W array. An empty mask stays empty.
    Raises :class:`~sam2matting.errors.InputError` for an unknown kind or a strength outside
    [0, 1].
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise InputError(f"a mask to degrade must be H×W, got shape {m.shape}")
    if kind not in DEGRADATIONS:
        raise InputError(
            f"unknown mask degradation {kind!r}; choose from: {', '.join(DEGRADATIONS)}"
        )
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"degradation strength must be in [0, 1], got {strength:g}")
    m = m.astype(bool)
    if kind == "sam2" and m.any():
        return _sam2_like(m, strength, rng)
    if strength == 0.0 or not m.any():
        return m.copy()
    h, w = m.shape
    u8 = m.astype(np.uint8)
    scale = object_scale(m)

    if kind == "erode":
        return cv2.erode(u8, _disc(_radius(m, strength, 0.08, rng))).astype(bool)
    if kind == "dilate":
        return cv2.dilate(u8, _disc(_radius(m, strength, 0.08, rng))).astype(bool)
    if kind == "holes":
        count = 1 + int(rng.integers(0, 1 + round(4 * strength)))
        centres = _pick_pixels(m, count, rng)
        holes = _random_ellipses(m.shape, centres, 0.12 * strength * scale + 1, rng)
        return m & ~holes
    if kind == "blobs":
        count = 1 + int(rng.integers(0, 1 + round(3 * strength)))
        reach = max(2, round(0.15 * scale))
        ring = cv2.dilate(u8, _disc(reach)).astype(bool) & ~m
        centres = _pick_pixels(ring if ring.any() else ~m, count, rng)
        return m | _random_ellipses(m.shape, centres, 0.1 * strength * scale + 1, rng)
    if kind == "blocky":
        side = TRACKER_LOGIT_SIDE / 2.0 ** (2.0 * strength)  # 256 → 64 px long side
        factor = side / max(h, w)
        if factor >= 1.0:
            return m.copy()
        low = cv2.resize(
            m.astype(np.float32),
            (max(1, round(w * factor)), max(1, round(h * factor))),
            interpolation=cv2.INTER_AREA,
        )
        return cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
    if kind == "thin":
        radius = max(1, round(0.05 * strength * scale))
        return cv2.morphologyEx(u8, cv2.MORPH_OPEN, _disc(radius)).astype(bool)
    if kind == "jagged":
        amplitude = 0.06 * strength * scale
        inside = cv2.distanceTransform(u8, cv2.DIST_L2, 3)
        outside = cv2.distanceTransform(1 - u8, cv2.DIST_L2, 3)
        noise = _smooth_noise(m.shape, cell=max(2.0, 0.08 * scale), rng=rng)
        return (inside - outside + amplitude * noise) > 0
    # shift
    distance = rng.uniform(0.5, 1.0) * 0.1 * strength * scale
    angle = rng.uniform(0, 2 * np.pi)
    matrix = np.array(
        [[1.0, 0.0, distance * np.cos(angle)], [0.0, 1.0, distance * np.sin(angle)]], np.float32
    )
    moved = cv2.warpAffine(u8, matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    return moved.astype(bool)


def _sam2_like(m: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """See ``sam2`` in the module docstring."""
    h, w = m.shape
    side = TRACKER_LOGIT_SIDE
    out = m
    if strength > 0:
        scale = object_scale(m)
        u8 = m.astype(np.uint8)
        radius = round(0.03 * strength * scale * float(rng.uniform(0.3, 1.0)))
        if radius >= 1:
            out = cv2.morphologyEx(u8, cv2.MORPH_OPEN, _disc(radius)).astype(bool)
        offset = round(0.015 * strength * scale * float(rng.uniform(-1.0, 1.0)))
        if offset:
            op = cv2.dilate if offset > 0 else cv2.erode
            out = op(out.astype(np.uint8), _disc(abs(offset))).astype(bool)
    if h > side or w > side:
        low = cv2.resize(out.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA)
        out = cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
    return out if out.any() else m.copy()


def degrade_mask_chain(
    mask: np.ndarray, steps: Sequence[tuple[str, float]], rng: np.random.Generator
) -> np.ndarray:
    """Apply several ``(kind, strength)`` degradations in order; returns bool H×W."""
    out = np.asarray(mask).astype(bool)
    for kind, strength in steps:
        out = degrade_mask(out, kind, strength, rng)
    return out


def parse_degradations(
    spec: str | Sequence[str] | None, strength: float = 0.5
) -> list[tuple[str, float]]:
    """``"erode,holes:0.3"`` or ``["erode", "holes:0.3"]`` → ``[("erode", s), ("holes", 0.3)]``.

    Kinds without ``:value`` get ``strength``. None or ``""`` → no degradation. Raises
    :class:`~sam2matting.errors.InputError` for unknown kinds or bad strengths.
    """
    if spec is None:
        return []
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    steps: list[tuple[str, float]] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        name, _, value = item.partition(":")
        name = name.strip()
        if name not in DEGRADATIONS:
            raise InputError(
                f"unknown mask degradation {name!r}; choose from: {', '.join(DEGRADATIONS)}"
            )
        try:
            s = float(value) if value.strip() else float(strength)
        except ValueError:
            raise InputError(
                f"degradation strength must be a number, got {value!r} in {item!r}"
            ) from None
        if not 0.0 <= s <= 1.0:
            raise InputError(f"degradation strength must be in [0, 1], got {s:g} for {name}")
        steps.append((name, s))
    return steps


def random_degradation(
    mask: np.ndarray,
    rng: np.random.Generator,
    max_kinds: int = 2,
    strength_range: tuple[float, float] = (0.1, 0.8),
    kinds: Sequence[str] = DEGRADATIONS,
) -> np.ndarray:
    """A random chain of 0…``max_kinds`` degradations (for simulating tracker masks in training).

    Kinds are drawn without replacement from ``kinds``, strengths uniformly from
    ``strength_range``. Deterministic in the generator state. Returns bool H×W.
    """
    lo, hi = strength_range
    if not 0.0 <= lo <= hi <= 1.0:
        raise InputError(f"strength_range must satisfy 0 <= low <= high <= 1, got {strength_range}")
    count = int(rng.integers(0, max_kinds + 1))
    chosen = rng.choice(len(kinds), size=min(count, len(kinds)), replace=False)
    steps = [(kinds[int(i)], float(rng.uniform(lo, hi))) for i in chosen]
    return degrade_mask_chain(mask, steps, rng)
