"""Synthetic clips with known masks from a still (tripod or hand-held) camera.

The shared clip ``01_dog.mp4`` is the case they stand for: a white dog with tan patches on a
light-grey pavement, filmed from a tripod. The dog's whites are the pavement's greys in colour,
so a colour model keeps only its tan patches, and its cast shadow moves with it, so motion
takes the shadow in. What tells them apart is the empty pavement the camera saw where the dog
was not (:mod:`sam2matting.trackers.builtin_plate`).

:func:`still_camera_clip` draws, at 512×288, a smooth light pavement with a fine grain and a
darker textured wall along the top; on it a light animal-like figure (a white body and head
with a few tan patches, four thin legs that swing as it walks) and its soft cast shadow, which
walks across the frame, pauses and turns back. Cases (:data:`STILL_CASES`):

- ``walk``: the figure alone, the camera on a tripod (a faint sensor noise);
- ``passer-by``: a second figure (dark trousers, white shirt: a person) walks the other way
  and passes just behind the first;
- ``hand-held``: the camera shakes (a few px of translation and a little rotation a frame);
- ``still``: the figure never moves (the plate holds it: the cue must stay silent).

:func:`composite_still_clip` does the same with real pictures: a cutout (an animal or a
person with its soft alpha) walking over a still background and casting a soft shadow, with
another cutout walking the other way behind it (``benchmarks/bench_builtin.py --only still``
takes them from ``../shared/data``: the clean plate of ``01_dog.mp4`` as the background, the
matting cutouts as the walkers).

Deterministic for a given seed; no data files. Used by ``tests/test_builtin_plate.py`` and
``benchmarks/bench_builtin.py --only still``.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["STILL_CASES", "composite_still_clip", "still_camera_clip"]

WIDTH, HEIGHT = 512, 288

#: the cases of :func:`still_camera_clip`
STILL_CASES = ("walk", "passer-by", "hand-held", "still")


def _pavement(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """h×w×3 float32: a light-grey pavement (fine grain, faint slabs) under a darker wall."""
    grain = rng.normal(0.0, 4.0, (h, w)).astype(np.float32)
    base = 214.0 + np.asarray(cv2.GaussianBlur(grain, (0, 0), 0.8), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base -= 6.0 * ((xx + 0.3 * yy) % 97.0 < 2.0)  # slab joints
    img = np.stack([base, base + 1.0, base + 3.0], axis=-1)
    wall = int(0.22 * h)
    coarse = rng.integers(60, 140, (wall // 4 + 2, w // 4 + 2, 3)).astype(np.uint8)
    bricks = cv2.resize(coarse, (w, wall + 8), interpolation=cv2.INTER_NEAREST)[:wall]
    img[:wall] = np.asarray(cv2.GaussianBlur(bricks, (3, 3), 0), np.float32)
    return np.asarray(img, np.float32)


def _figure(
    shape: tuple[int, int], cx: float, cy: float, phase: float, rng_seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(colour h×w×3 float32, mask h×w bool, shadow h×w float32 in [0, 1]) of the animal-like
    figure centred at (cx, cy): a white body 90×44 px and head, tan patches, four legs whose
    swing follows ``phase``."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    ix, iy = round(cx), round(cy)
    cv2.ellipse(mask, (ix, iy), (45, 22), 0, 0, 360, 1, -1)
    cv2.ellipse(mask, (ix + 46, iy - 20), (15, 13), 0, 0, 360, 1, -1)  # head
    cv2.line(mask, (ix + 30, iy - 8), (ix + 42, iy - 18), 1, 12)  # neck
    for k, x in enumerate((-32, -18, 20, 34)):
        swing = 9.0 * np.sin(phase + (np.pi if k % 2 else 0.0))
        cv2.line(mask, (ix + x, iy + 12), (int(ix + x + swing), iy + 44), 1, 6)
    colour = np.zeros((h, w, 3), np.float32)
    colour[...] = (216.0, 215.0, 213.0)  # white fur: the pavement's grey
    rng = np.random.default_rng(rng_seed)
    patches = np.zeros((h, w), np.uint8)
    for _ in range(4):
        px = ix + int(rng.integers(-35, 35))
        py = iy + int(rng.integers(-12, 10))
        cv2.ellipse(
            patches,
            (px, py),
            (int(rng.integers(8, 16)), int(rng.integers(6, 11))),
            0,
            0,
            360,
            1,
            -1,
        )
    colour[patches > 0] = (176.0, 124.0, 82.0)  # tan
    # fur: strands a few px long, lighter and darker than the body's mean
    fur = rng.normal(0.0, 30.0, (h, w)).astype(np.float32)
    colour += np.asarray(cv2.GaussianBlur(fur, (0, 0), sigmaX=2.5, sigmaY=0.6), np.float32)[
        ..., None
    ]
    shadow = np.zeros((h, w), np.float32)
    cv2.ellipse(shadow, (ix + 6, iy + 46), (56, 9), 0, 0, 360, 1.0, -1)
    shadow = np.asarray(cv2.GaussianBlur(shadow, (0, 0), 4.0), np.float32)
    return colour, mask.astype(bool), shadow


def _person(shape: tuple[int, int], cx: float, top: float) -> tuple[np.ndarray, np.ndarray]:
    """(colour, mask) of a standing person: white shirt, dark-blue trousers, skin head."""
    h, w = shape
    colour = np.zeros((h, w, 3), np.float32)
    mask = np.zeros((h, w), np.uint8)
    ix, it = round(cx), round(top)
    cv2.ellipse(mask, (ix, it + 12), (10, 12), 0, 0, 360, 1, -1)
    colour[mask > 0] = (214.0, 170.0, 140.0)
    shirt = np.zeros((h, w), np.uint8)
    cv2.rectangle(shirt, (ix - 18, it + 24), (ix + 18, it + 90), 1, -1)
    colour[shirt > 0] = (236.0, 236.0, 232.0)
    legs = np.zeros((h, w), np.uint8)
    cv2.rectangle(legs, (ix - 16, it + 90), (ix + 16, it + 170), 1, -1)
    colour[legs > 0] = (40.0, 52.0, 90.0)
    mask |= shirt | legs
    return colour, mask.astype(bool)


def still_camera_clip(
    case: str = "walk", n: int = 48, seed: int = 0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, truth masks): ``n`` RGB uint8 frames at 512×288 of ``case`` (one of
    :data:`STILL_CASES`), and the walking figure's mask on each."""
    if case not in STILL_CASES:
        raise ValueError(f"unknown case {case!r}; choose from {', '.join(STILL_CASES)}")
    rng = np.random.default_rng(seed)
    h, w = HEIGHT, WIDTH
    scene = _pavement(h, w, rng)
    x0 = float(rng.uniform(110, 150))
    y0 = float(rng.uniform(170, 190))
    span = float(rng.uniform(200, 240))
    frames: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for i in range(n):
        t = i / max(1, n - 1)
        if case == "still":
            cx = x0
        elif t < 0.55:  # walk right, pause, walk back part of the way
            cx = x0 + span * min(1.0, t / 0.45)
        else:
            cx = x0 + span - 0.6 * span * (t - 0.55) / 0.45
        colour, mask, shadow = _figure((h, w), cx, y0, 0.9 * i, seed)
        img = np.asarray(scene * (1.0 - 0.45 * shadow[..., None]), np.float32)
        if case == "passer-by":
            pcolour, pmask = _person((h, w), w - 60 - 0.9 * span * t, y0 - 150)
            img[pmask] = pcolour[pmask]
        img[mask] = colour[mask]
        if case == "hand-held":
            angle = float(rng.normal(0.0, 0.3))
            shift = rng.normal(0.0, 2.0, 2)
            m = np.asarray(cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), np.float64)
            m[:, 2] += shift
            img = np.asarray(
                cv2.warpAffine(
                    img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
                ),
                np.float32,
            )
            mask = cv2.warpAffine(mask.astype(np.uint8), m, (w, h), flags=cv2.INTER_NEAREST) > 0
        img += rng.normal(0.0, 1.5, img.shape).astype(np.float32)
        frames.append(np.clip(img + 0.5, 0, 255).astype(np.uint8))
        masks.append(mask)
    return frames, masks


def _scaled_cutout(
    rgb: np.ndarray, alpha: np.ndarray, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rgb float32, alpha float32 in [0, 1]) of a cutout cropped to its alpha and scaled to
    ``height`` px tall."""
    a = alpha.astype(np.float32) / 255.0 if alpha.dtype == np.uint8 else alpha.astype(np.float32)
    ys, xs = np.nonzero(a > 0.05)
    rgb = rgb[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
    a = a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = height / a.shape[0]
    size = (max(1, round(a.shape[1] * scale)), height)
    return (
        np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), np.float32),
        np.asarray(cv2.resize(a, size, interpolation=cv2.INTER_AREA), np.float32),
    )


def _paste(img: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, x: int, y: int) -> np.ndarray:
    """``alpha`` placed with its top-left corner at (x, y) on a canvas of ``img``'s size
    (float32 h×w); ``img`` (float32 h×w×3) is composited in place."""
    h, w = img.shape[:2]
    ah, aw = alpha.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + aw), min(h, y + ah)
    canvas = np.zeros((h, w), np.float32)
    if x1 <= x0 or y1 <= y0:
        return canvas
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x]
    img[y0:y1, x0:x1] = (
        a[..., None] * rgb[y0 - y : y1 - y, x0 - x : x1 - x]
        + (1.0 - a[..., None]) * img[y0:y1, x0:x1]
    )
    canvas[y0:y1, x0:x1] = a
    return canvas


def composite_still_clip(
    background: np.ndarray,
    walker: tuple[np.ndarray, np.ndarray],
    passer: tuple[np.ndarray, np.ndarray] | None = None,
    n: int = 40,
    seed: int = 0,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, truth masks): ``walker`` (RGB uint8, alpha uint8 of a matting cutout) walks
    across the still ``background`` (RGB uint8, resized to 512×288) and part of the way back,
    its soft shadow on the ground, while ``passer`` (another cutout, taller) walks the other
    way behind it; a faint sensor noise. The truth is the walker's alpha > 0.5."""
    rng = np.random.default_rng(seed)
    h, w = HEIGHT, WIDTH
    scene = np.asarray(cv2.resize(background, (w, h), interpolation=cv2.INTER_AREA), np.float32)
    rgb, alpha = _scaled_cutout(*walker, height=int(rng.integers(90, 120)))
    ah, aw = alpha.shape
    ground = int(rng.integers(int(0.8 * h), h - 8))
    x0 = float(rng.uniform(10, 60))
    span = float(rng.uniform(0.45, 0.6)) * (w - aw)
    other = None if passer is None else _scaled_cutout(*passer, height=int(rng.integers(150, 190)))
    frames: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for i in range(n):
        t = i / max(1, n - 1)
        x = x0 + (span * t / 0.55 if t < 0.55 else span - 0.6 * span * (t - 0.55) / 0.45)
        img = scene.copy()
        shadow = np.zeros((h, w), np.float32)
        cv2.ellipse(
            shadow, (round(x + aw / 2 + 8), ground - 2), (aw // 2 + 6, 7), 0, 0, 360, 1.0, -1
        )
        shadow = np.asarray(cv2.GaussianBlur(shadow, (0, 0), 4.0), np.float32)
        img *= 1.0 - 0.45 * shadow[..., None]
        if other is not None:
            prgb, palpha = other
            px = round(w - palpha.shape[1] - 20 - 0.8 * (w - palpha.shape[1] - 40) * t)
            _paste(img, prgb, palpha, px, ground - 30 - palpha.shape[0])
        cover = _paste(img, rgb, alpha, round(x), ground - ah)
        img += rng.normal(0.0, 1.5, img.shape).astype(np.float32)
        frames.append(np.clip(img + 0.5, 0, 255).astype(np.uint8))
        masks.append(cover > 0.5)
    return frames, masks
