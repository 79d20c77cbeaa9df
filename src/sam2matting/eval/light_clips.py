"""Synthetic clips with known masks for appearance that changes over a shot.

Three ways an object's colours drift away from those it showed on its prompted frame, at
512×288 with a textured object (blocky colour texture in an ellipse) over a textured
background, so a tracker that judges colours by its first frame's histograms loses it:

- :func:`shade_to_sun_clip`: the scene is lit by a fixed light field, cool dim shade on the
  left and warm bright sun on the right, graded across a diagonal band; the object walks
  from the shade into the sun (brightness ×3, colour temperature and contrast with it).
- :func:`exposure_drift_clip`: the camera's exposure and white balance drift (the whole frame
  darkens to ~45 % and turns blue, then brightens past its start and turns warm) while it
  pans and the object moves.
- :func:`turning_clip`: the object turns (its texture scrolls like a rotating drum) and shows
  a side of another colour, one the background around it also has.

And one where the light changes the object unevenly (:data:`UNEVEN_LIGHT_CASES`):

- :func:`out_of_the_shadow_clip`: a grey object drives out of a shadow in front of a white
  wall; its front, in the sun first, turns as white as the wall, the rest brightens a
  little, and a still look-alike of its shaded look stands below its path (DAVIS
  ``car-shadow`` in miniature).

Used by ``tests/test_trackers_builtin_appearance.py`` and ``benchmarks/bench_builtin.py --only
light``. Deterministic for a given seed; no data files.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "LIGHT_CASES",
    "UNEVEN_LIGHT_CASES",
    "exposure_drift_clip",
    "light_clip",
    "out_of_the_shadow_clip",
    "shade_to_sun_clip",
    "turning_clip",
]

WIDTH, HEIGHT = 512, 288

#: clip names of :func:`light_clip`
LIGHT_CASES = ("shade-to-sun", "exposure-drift", "turning")
#: clip names of :func:`light_clip` where the light reaches part of the object first
UNEVEN_LIGHT_CASES = ("out-of-the-shadow",)


def _albedo_background(h: int, w: int, seed: int) -> np.ndarray:
    """h×w×3 float32 reflectance in [0, 1]: smooth earthy colour blobs (grass, soil, stone)
    with a finer grain."""
    rng = np.random.default_rng(seed)
    palette = np.array(
        [[0.35, 0.45, 0.20], [0.45, 0.38, 0.28], [0.55, 0.55, 0.52], [0.25, 0.35, 0.18]],
        np.float32,
    )
    cells = rng.integers(0, len(palette), (h // 12 + 1, w // 12 + 1))
    coarse = palette[cells] + rng.normal(0, 0.05, (*cells.shape, 3)).astype(np.float32)
    image = np.asarray(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC), np.float32)
    grain = rng.normal(0, 0.04, (h // 2 + 1, w // 2 + 1, 3)).astype(np.float32)
    image += np.asarray(cv2.resize(grain, (w, h)), np.float32)
    return np.clip(image, 0.02, 1.0)


def _albedo_object(seed: int, size: tuple[int, int], hue: str) -> np.ndarray:
    """h×w×3 float32 reflectance: blocky texture, "warm" (reds and oranges) or "cool" (blues
    and teals)."""
    w, h = size
    rng = np.random.default_rng(seed + 50)
    blocks = rng.random((h // 5 + 1, w // 5 + 1, 3)).astype(np.float32)
    if hue == "warm":
        lo, span = np.array([0.55, 0.15, 0.08]), np.array([0.35, 0.35, 0.12])
    else:
        lo, span = np.array([0.08, 0.30, 0.45]), np.array([0.12, 0.30, 0.35])
    blocks = lo + span * blocks
    return np.asarray(cv2.resize(blocks, (w, h), interpolation=cv2.INTER_NEAREST), np.float32)


def _ellipse(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    shape = np.zeros((h, w), np.uint8)
    cv2.ellipse(shape, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 1, thickness=-1)
    return shape.astype(bool)


def _encode(linear: np.ndarray) -> np.ndarray:
    """Scene radiance (linear, 1 = white) to an sRGB-like uint8 image (gamma 1/2.2, clipped:
    a bright enough surface saturates, as on a camera)."""
    return np.asarray(np.clip(255.0 * np.clip(linear, 0, 1) ** (1 / 2.2) + 0.5, 0, 255), np.uint8)


def _paste(
    scene: np.ndarray, albedo: np.ndarray, shape: np.ndarray, x0: int, y0: int
) -> np.ndarray:
    """The scene with the object pasted at (x0, y0) (in place), and its frame-size mask."""
    oh, ow = shape.shape
    scene[y0 : y0 + oh, x0 : x0 + ow][shape] = albedo[shape]
    mask = np.zeros(scene.shape[:2], bool)
    mask[y0 : y0 + oh, x0 : x0 + ow] = shape
    return mask


def shade_to_sun_clip(n: int = 40, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, masks): an object walking from shade into sunlight, ``n`` RGB uint8 frames.

    Fixed camera. Light field (linear gains per channel): shade (0.22, 0.26, 0.36) — dim,
    lit by the blue sky — left of a diagonal edge, sun (1.5, 1.35, 1.05) right of it, graded
    over ~140 px. A warm 96×68 textured ellipse crosses from x ≈ 40 to x ≈ 380 (~9 px a
    frame) on a gentle bob, so it spends the first ~third of the clip in shade, passes the
    graded band and ends in full sun (its brightest reds saturate).
    """
    background = _albedo_background(HEIGHT, WIDTH, seed)
    size = (96, 68)
    albedo, shape = _albedo_object(seed, size, "warm"), _ellipse(size)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    edge = 250.0 + 0.35 * (ys - HEIGHT / 2)  # diagonal shadow edge
    t = np.clip((xs - edge) / 100.0 + 0.5, 0, 1)
    t = t * t * (3 - 2 * t)  # smoothstep: a soft penumbra
    shade = np.array([0.3, 0.34, 0.45], np.float32)
    sun = np.array([1.5, 1.35, 1.05], np.float32)
    light = shade + t[..., None] * (sun - shade)
    frames, masks = [], []
    for i in range(n):
        s = i / max(n - 1, 1)
        x0 = round(60 + 280 * s)
        y0 = round(HEIGHT / 2 - size[1] / 2 + 10 * np.sin(0.3 * i))
        scene = background.copy()
        mask = _paste(scene, albedo, shape, x0, y0)
        frames.append(_encode(scene * light))
        masks.append(mask)
    return frames, masks


def exposure_drift_clip(n: int = 40, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, masks): the camera's exposure and white balance drift, ``n`` frames.

    The camera pans by 3 px a frame; a warm 96×68 ellipse moves ~4 px a frame. Linear gains
    per channel: exposure falls to 0.45 by mid-clip and rises to 1.35 by the end; the white
    balance swings from neutral to blue (R ×0.6, B ×1.5) at mid-clip and to warm (R ×1.35,
    B ×0.7) at the end.
    """
    pan = 3.0
    span = WIDTH + int(pan * n) + 8
    background = _albedo_background(HEIGHT, span, seed)
    size = (96, 68)
    albedo, shape = _albedo_object(seed, size, "warm"), _ellipse(size)
    frames, masks = [], []
    for i in range(n):
        s = i / max(n - 1, 1)
        if s < 0.5:
            u = s / 0.5
            exposure = 1.0 + (0.45 - 1.0) * u
            wb = np.array([1.0 - 0.4 * u, 1.0, 1.0 + 0.5 * u])
        else:
            u = (s - 0.5) / 0.5
            exposure = 0.45 + (1.35 - 0.45) * u
            wb = np.array([0.6 + 0.75 * u, 1.0, 1.5 - 0.8 * u])
        off = round(pan * i)
        scene = background[:, off : off + WIDTH].copy()
        x0 = round(120 + 4.0 * i * (WIDTH - 300) / (4.0 * n))
        y0 = round(HEIGHT / 2 - size[1] / 2 + 20 * np.sin(0.3 * i))
        mask = _paste(scene, albedo, shape, x0, y0)
        frames.append(_encode(scene * (exposure * wb).astype(np.float32)))
        masks.append(mask)
    return frames, masks


def turning_clip(n: int = 40, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, masks): an object turning to show a side of another colour, ``n`` frames.

    The 96×68 ellipse wears a drum-like texture twice its width: a warm half and a half of
    the background's own earthy greens and greys (one a user would never have seen on the
    prompted frame). It scrolls by 2 × width / (n − 1) px a frame, so the warm side turns
    away and the other side turns in over the clip; the object drifts ~3 px a frame over a
    static background.
    """
    background = _albedo_background(HEIGHT, WIDTH, seed)
    size = (96, 68)
    w, h = size
    warm = _albedo_object(seed, size, "warm")
    other = _albedo_object(seed + 11, size, "cool")
    drum = np.concatenate([warm, other, warm], axis=1)  # wraps around
    shape = _ellipse(size)
    frames, masks = [], []
    for i in range(n):
        s = i / max(n - 1, 1)
        phase = round(s * w)
        albedo = np.ascontiguousarray(drum[:, phase : phase + w])
        x0 = round(150 + 3.0 * i)
        y0 = round(HEIGHT / 2 - h / 2 + 15 * np.sin(0.3 * i))
        scene = background.copy()
        mask = _paste(scene, albedo, shape, x0, y0)
        frames.append(_encode(scene))
        masks.append(mask)
    return frames, masks


def out_of_the_shadow_clip(
    n: int = 40, seed: int = 0, look_alike: tuple[int, int] | None = (172, 170)
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, masks): a grey object driving out of a shadow in front of a white wall, ``n``
    RGB uint8 frames.

    Fixed camera, in encoded values. A white wall (~215, fine grain) above y = 150, a dark
    road (~80) below. A 90×60 ellipse of blocky grey-blue texture (140–180, like silver in
    the shade) moves right 3 px a frame along the wall's foot. Right of x = 200 the sun
    reaches it: that part is ×1.45 (as white as the wall); the rest brightens ×1 → ×1.15
    over frames 8–20 (light scattered from the sunlit street). ``look_alike``: (y, x) of a
    still copy of its shaded look below its path (None: none), where a tracker that trusts
    the object's anchor colours more than its motion goes once the object's own colours
    are gone.
    """
    rng = np.random.default_rng(seed)
    grain = rng.normal(0.0, 1.0, (HEIGHT // 4, WIDTH // 4)).astype(np.float32)
    grain = np.asarray(cv2.resize(grain, (WIDTH, HEIGHT)), np.float32)
    rows = np.arange(HEIGHT, dtype=np.float32)[:, None]
    grey = np.where(rows < 150, 215.0 + 8.0 * grain, 80.0 + 8.0 * grain)
    background = np.dstack([grey, grey, grey + 4.0])
    blocks = rng.integers(0, 40, (12, 18)).astype(np.float32)
    texture = cv2.resize(blocks, (90, 60), interpolation=cv2.INTER_NEAREST) + 140.0
    albedo = np.dstack([texture, texture + 3.0, texture + 12.0])
    shape = _ellipse((90, 60))
    copy = np.zeros((HEIGHT, WIDTH), bool)
    if look_alike is not None:
        cy, cx = look_alike
        copy[cy : cy + 60, cx : cx + 90] = shape
    frames, masks = [], []
    for i in range(n):
        scene = background.copy()
        if look_alike is not None:
            scene[copy] = albedo[shape]
        x0, y0 = 60 + 3 * i, 110
        lit = (np.arange(90)[None, :, None] + x0) > 200
        glow = 1.0 + 0.15 * min(max((i - 8) / 12, 0.0), 1.0)
        look = np.where(lit, 1.45 * albedo, glow * albedo)
        masks.append(_paste(scene, look, shape, x0, y0))
        frames.append(np.asarray(np.clip(scene + 0.5, 0, 255), np.uint8))
    return frames, masks


def light_clip(name: str, n: int = 40, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The clip named ``name`` (one of :data:`LIGHT_CASES` or :data:`UNEVEN_LIGHT_CASES`)."""
    makers = {
        "shade-to-sun": shade_to_sun_clip,
        "exposure-drift": exposure_drift_clip,
        "turning": turning_clip,
        "out-of-the-shadow": out_of_the_shadow_clip,
    }
    if name not in makers:
        raise ValueError(
            f"light clip must be one of {LIGHT_CASES + UNEVEN_LIGHT_CASES}, got {name!r}"
        )
    return makers[name](n, seed)
