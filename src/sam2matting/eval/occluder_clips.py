"""Synthetic clips with known masks for thin occluders crossing an object.

An animal-like object (a torso, a head on a neck, four legs and a tail: one textured shape)
runs along while the camera pans with it, so it stays near the frame's centre; thin vertical
poles stand between it and the camera and sweep across it (they are nearer than the
background, so they move faster: parallax). As a pole passes over the object, the object's
pixels it uncovers were pole on the previous frame. Half of the object's texture is its own
warm colours, half is drawn from the background's range (like a dog's dark flank against
dark ground), so colour alone does not find every part. ``masks`` are the object's visible
pixels (poles excluded). Used by ``tests/test_trackers_builtin_memory.py`` and
``benchmarks/bench_builtin.py --only occluders``. Deterministic for a given seed; 512×288.
"""

from __future__ import annotations

import cv2
import numpy as np

from .motion_clips import HEIGHT, WIDTH, textured_background

__all__ = ["animal_shape", "pole_clip"]


def animal_shape(width: int = 220, height: int = 130) -> np.ndarray:
    """bool ``height`` × ``width``: a side view of a four-legged animal facing right (torso,
    neck and head, four legs, a tail), drawn with filled primitives."""
    s = np.zeros((height, width), np.uint8)
    w, h = width, height
    cv2.ellipse(s, (int(0.45 * w), int(0.42 * h)), (int(0.3 * w), int(0.2 * h)), 0, 0, 360, 1, -1)
    # neck and head
    neck = np.array(
        [[0.66 * w, 0.3 * h], [0.8 * w, 0.12 * h], [0.86 * w, 0.2 * h], [0.74 * w, 0.45 * h]]
    )
    cv2.fillPoly(s, [neck.astype(np.int32)], 1)
    cv2.ellipse(s, (int(0.86 * w), int(0.17 * h)), (int(0.11 * w), int(0.13 * h)), 0, 0, 360, 1, -1)
    # legs: thin rectangles
    leg_w = max(3, int(0.05 * w))
    for fx in (0.22, 0.3, 0.6, 0.68):
        x = int(fx * w)
        cv2.rectangle(s, (x, int(0.5 * h)), (x + leg_w, h - 2), 1, -1)
    # tail
    cv2.line(
        s, (int(0.16 * w), int(0.35 * h)), (int(0.03 * w), int(0.12 * h)), 1, max(2, leg_w // 2)
    )
    return s.astype(bool)


def _texture(seed: int, shape: tuple[int, int], background: np.ndarray) -> np.ndarray:
    """h×w×3 uint8 blocky texture: warm (the object's own) colours on the front half, colours
    sampled from ``background`` (colour cannot tell them apart) on blocks of the rest."""
    h, w = shape
    rng = np.random.default_rng(seed + 90)
    cells = (h // 5 + 1, w // 5 + 1)
    warm = rng.integers(0, 255, (*cells, 3)).astype(np.float32)
    warm[..., 0] = 120 + 0.5 * warm[..., 0]
    warm[..., 1] = 60 + 0.3 * warm[..., 1]
    warm[..., 2] = 20 + 0.2 * warm[..., 2]
    ys = rng.integers(0, background.shape[0], cells)
    xs = rng.integers(0, background.shape[1], cells)
    borrowed = background[ys, xs].astype(np.float32)
    # the rear half and the lower body wear the background's colours, patchily
    gy, gx = np.mgrid[0 : cells[0], 0 : cells[1]]
    rear = (gx < 0.5 * cells[1]) | (gy > 0.6 * cells[0])
    blocks = np.where((rear & (rng.random(cells) < 0.8))[..., None], borrowed, warm)
    return cv2.resize(blocks, (w, h), interpolation=cv2.INTER_NEAREST).astype(np.uint8)


def pole_clip(
    n: int = 40,
    seed: int = 0,
    pole_width: int = 9,
    spacing: int = 140,
    parallax: float = 5.0,
    pan: float = 6.0,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, masks): ``n`` RGB uint8 512×288 frames and the object's visible pixels (bool).

    The camera pans right by ``pan`` px a frame and the object runs with it (it sways by a
    few px about the frame's centre); poles ``pole_width`` px wide, ``spacing`` px apart
    (grey-green, lightly textured, the colours of none of the object) move left by ``pan`` +
    ``parallax`` px a frame, so each crosses the object in about its length / ``parallax``
    frames.
    """
    span_w = WIDTH + int(pan * n) + 64
    background = textured_background(HEIGHT, span_w, seed, cell=8)
    shape = animal_shape()
    oh, ow = shape.shape
    tex = _texture(seed, (oh, ow), background)
    rng = np.random.default_rng(seed + 3)
    pole_tone = np.array([150.0, 165.0, 150.0], np.float32)
    offset = float(rng.uniform(0, spacing))
    frames, masks = [], []
    for i in range(n):
        x = round(pan * i)
        image = background[:, x : x + WIDTH].copy()
        cx = WIDTH / 2 + 6 * np.sin(0.2 * i) - ow / 2
        cy = HEIGHT / 2 + 3 * np.sin(0.35 * i) - oh / 2 + 10
        x0, y0 = round(cx), round(cy)
        mask = np.zeros((HEIGHT, WIDTH), bool)
        mask[y0 : y0 + oh, x0 : x0 + ow] = shape
        image[y0 : y0 + oh, x0 : x0 + ow][shape] = tex[shape]
        poles = np.zeros((HEIGHT, WIDTH), bool)
        start = (offset - (pan + parallax) * i) % spacing
        for px in np.arange(start - spacing, WIDTH + spacing, spacing):
            a, b = max(0, round(px)), min(WIDTH, round(px) + pole_width)
            if a < b:
                poles[:, a:b] = True
        grain = rng.normal(0, 8, (HEIGHT, WIDTH, 1)).astype(np.float32)
        shade = np.clip(pole_tone[None, None, :] + grain, 0, 255).astype(np.uint8)
        image[poles] = shade[poles]
        frames.append(image)
        masks.append(mask & ~poles)
    return frames, masks
