"""A synthetic clip where colour cannot tell the object from the background but texture can.

An ellipse with fine horizontal stripes of two colours moves across a neutral textured
background into a large patch of the *same two colours* in a different texture (blotches).
On its anchor frame the object's colour model learns its two colours against the neutral
background around it, so once the object overlaps the patch the colour evidence calls the
whole patch object and the mask spreads into it; a cue that sees texture
(:mod:`sam2matting.trackers.builtin_embed`) keeps it on the stripes
(tests/test_trackers_builtin_embed.py, ``benchmarks/bench_builtin.py --only texture``).
Deterministic for a given seed.
"""

from __future__ import annotations

import cv2
import numpy as np

from .motion_clips import textured_background

__all__ = ["HEIGHT", "WIDTH", "same_colour_clip"]

WIDTH, HEIGHT = 512, 288

#: the object's two colours (RGB), also the look-alike patch's
_COLOURS = (np.array([220, 140, 40], np.float32), np.array([60, 30, 90], np.float32))


def _stripes(h: int, w: int, period: int) -> np.ndarray:
    """h×w float32 in {0, 1}: horizontal stripes ``period`` px apart."""
    y = np.arange(h)[:, None]
    return np.broadcast_to(((y // (period // 2)) % 2).astype(np.float32), (h, w)).copy()


def _blotches(h: int, w: int, seed: int, cell: int = 14) -> np.ndarray:
    """h×w float32 in {0, 1}: smooth random blotches of about ``cell`` px, half of each."""
    rng = np.random.default_rng(seed + 900)
    coarse = rng.random((h // cell + 2, w // cell + 2)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return (field > float(np.median(field))).astype(np.float32)


def _paint(pattern: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """h×w×3 float32: the two colours by ``pattern``, with a little pixel noise."""
    a, b = _COLOURS
    img = a * pattern[..., None] + b * (1 - pattern[..., None])
    return img + rng.normal(0, 4, img.shape).astype(np.float32)


def same_colour_clip(
    n: int = 24, seed: int = 0, speed: float = 6.0, period: int = 6
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, masks): ``n`` RGB uint8 512×288 frames and their bool masks.

    The background is neutral texture (values 40–200, grey-ish) on its left 45 % and a patch of
    blotches of the object's two colours on the rest; the 110×76 striped ellipse starts on the
    neutral side and moves right by ``speed`` px a frame (with a slight vertical sway), ending
    inside the patch."""
    rng = np.random.default_rng(seed)
    bg = textured_background(HEIGHT, WIDTH, seed).astype(np.float32)
    grey = bg.mean(axis=2, keepdims=True)
    bg = 0.35 * bg + 0.65 * grey  # desaturated: no colour the object has
    split = int(0.45 * WIDTH)
    patch = _paint(_blotches(HEIGHT, WIDTH - split, seed), rng)
    bg[:, split:] = patch
    ow, oh = 110, 76
    shape = np.zeros((oh, ow), np.uint8)
    cv2.ellipse(shape, (ow // 2, oh // 2), (ow // 2 - 1, oh // 2 - 1), 0, 0, 360, 1, -1)
    tex = _paint(_stripes(oh, ow, period), rng)
    frames, masks = [], []
    x0, y0 = 60.0, HEIGHT / 2 - oh / 2
    for t in range(n):
        x = round(x0 + speed * t)
        y = round(y0 + 10 * np.sin(0.3 * t))
        img = bg.copy()
        mask = np.zeros((HEIGHT, WIDTH), bool)
        sel = shape.astype(bool)
        region = img[y : y + oh, x : x + ow]
        region[sel] = tex[sel]
        mask[y : y + oh, x : x + ow] = sel
        frames.append(np.clip(img + 0.5, 0, 255).astype(np.uint8))
        masks.append(mask)
    return frames, masks
