"""Synthetic two-object clips with known masks: one object must not swallow the other.

Two textured blobs of the *same* palette (two children in similar clothes, two animals of one
kind) over a textured background, the camera panning. Object 2 (the smaller) walks up to
object 1, touches it, is hidden for a few frames by a grey occluder that passes in front of it
(its tracker loses it), comes out still touching object 1, and walks away again. Colour alone
says object 2's pixels are object 1's, so a tracker that lets object 1's mask take what looks
like object 1 grows it over object 2 while object 2 is lost — and keeps it there.
``masks`` are each object's visible pixels (the occluder excluded). Used by
``tests/test_trackers_builtin_compete.py``. Deterministic for a given seed; 512×288.
"""

from __future__ import annotations

import cv2
import numpy as np

from .motion_clips import HEIGHT, WIDTH, textured_background

__all__ = ["MAX_FRAMES", "swallow_clip"]

#: the longest clip :func:`swallow_clip` draws
MAX_FRAMES = 64


def _palette_texture(rng: np.random.Generator, palette: np.ndarray, w: int, h: int) -> np.ndarray:
    """h×w×3 uint8: 4-px blocks, each a palette colour plus a little noise."""
    cells = (h // 4 + 1, w // 4 + 1)
    pick = palette[rng.integers(0, len(palette), cells)]
    blocks = np.clip(pick + rng.normal(0, 6, (*cells, 3)), 0, 255).astype(np.float32)
    return cv2.resize(blocks, (w, h), interpolation=cv2.INTER_NEAREST).astype(np.uint8)


def _ellipse(w: int, h: int) -> np.ndarray:
    shape = np.zeros((h, w), np.uint8)
    cv2.ellipse(shape, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 1, -1)
    return shape.astype(bool)


def swallow_clip(
    n: int = 40,
    seed: int = 0,
    pan: tuple[float, float] = (3.0, 1.0),
    hidden: tuple[int, int] = (12, 17),
) -> tuple[list[np.ndarray], dict[int, list[np.ndarray]]]:
    """(frames, masks): ``n`` RGB uint8 512×288 frames and, per object (1: the large blob, 2:
    the small one), its visible pixels (bool).

    Object 1 (130×110) stands still in the scene; object 2 (70×90) starts 60 px to its right,
    walks left until it touches object 1 (frame 10), stays beside it and walks back from
    frame 24. An occluder (a grey bar, colours of neither object) covers object 2 entirely on
    frames ``hidden[0]`` … ``hidden[1] - 1``. The camera pans by ``pan`` px a frame.
    """
    if not 1 <= n <= MAX_FRAMES:
        raise ValueError(f"swallow_clip: n must be in [1, {MAX_FRAMES}], got {n}")
    # the scene is drawn for the longest clip, so a shorter one is its beginning
    span_w = WIDTH + int(abs(pan[0]) * MAX_FRAMES) + 64
    span_h = HEIGHT + int(abs(pan[1]) * MAX_FRAMES) + 64
    background = textured_background(span_h, span_w, seed, cell=8)
    rng = np.random.default_rng(seed + 7)
    palette = np.array(
        [[200, 150, 120], [170, 110, 80], [60, 40, 30], [220, 200, 180], [120, 60, 140]],
        np.float32,
    )
    w1, h1, w2, h2 = 130, 110, 70, 90
    tex1 = _palette_texture(rng, palette, w1, h1)
    tex2 = _palette_texture(rng, palette, w2, h2)
    shape1, shape2 = _ellipse(w1, h1), _ellipse(w2, h2)
    frames: list[np.ndarray] = []
    masks: dict[int, list[np.ndarray]] = {1: [], 2: []}
    for i in range(n):
        ox, oy = round(pan[0] * i), round(pan[1] * i)
        image = background[oy : oy + HEIGHT, ox : ox + WIDTH].copy()
        # scene positions (before the pan) of the objects' top-left corners
        s1 = (150, 90)
        gap = 60.0 - 6.0 * min(i, 10) + 6.0 * max(0, i - 24)
        s2 = (s1[0] + w1 - 4 + round(gap), 100)
        full = {}
        for obj, (sx, sy), tex, shape in ((1, s1, tex1, shape1), (2, s2, tex2, shape2)):
            x0, y0 = sx - ox, sy - oy
            m = np.zeros((HEIGHT, WIDTH), bool)
            m[y0 : y0 + shape.shape[0], x0 : x0 + shape.shape[1]] = shape
            image[y0 : y0 + shape.shape[0], x0 : x0 + shape.shape[1]][shape] = tex[shape]
            full[obj] = m
        # object 2 in front of object 1 where they meet
        full[1] &= ~full[2]
        occluder = np.zeros((HEIGHT, WIDTH), bool)
        if hidden[0] <= i < hidden[1]:
            ys, xs = np.nonzero(full[2])
            occluder[max(0, ys.min() - 6) : ys.max() + 7, max(0, xs.min() - 4) : xs.max() + 5] = (
                True
            )
            grey = np.clip(128 + rng.normal(0, 10, (HEIGHT, WIDTH, 1)), 0, 255).astype(np.uint8)
            image[occluder] = grey[occluder]
        frames.append(image)
        for obj in (1, 2):
            masks[obj].append(full[obj] & ~occluder)
    return frames, masks
