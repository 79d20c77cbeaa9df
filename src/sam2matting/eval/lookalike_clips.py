"""Synthetic first frames with known masks where the object looks like its surroundings.

:func:`lookalike_frame`: a light figure (a white, smooth torso and head over beige legs, one
red sleeve) on a light background of fine white and pale-pink vertical stripes (a curtain)
above a white sheet with thin grey stripes (a bed), at 512×288. The figure's whites are the
background's whites, so GrabCut on RGB gives them to the background and keeps only the red
sleeve (and whatever shadow or leg joins it) — as the built-in tracker did on the boy in
``bedroom.mp4`` before issue 14's texture hypotheses. What still tells them apart is texture
(the curtain's folds and the sheet's stripes against the smooth shirt) and the faint warm tint
of skin and beige.

:func:`camouflage_clip`: a few frames of an ellipse filled with the same smoothed colour
noise as the background around it (no colour, edge or texture statistic tells them apart on
one frame), moving against the still background: what is left to find it by is its motion
(``trackers.builtin_init.moving_in_box``). :func:`panning_camouflage_clip`: the same kind of
ellipse held still in the frame by a camera that pans with it, the background sliding past
by more than the optical flow finds from a zero start.

Used by ``tests/test_builtin_init.py``. Deterministic for a given seed; no data files.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["camouflage_clip", "lookalike_frame", "panning_camouflage_clip"]

WIDTH, HEIGHT = 512, 288


def lookalike_frame(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 HEIGHT×WIDTH×3, truth bool HEIGHT×WIDTH) for a light figure on a light
    striped background; the figure's position and the stripes' phase vary with ``seed``."""
    rng = np.random.default_rng(seed)
    h, w = HEIGHT, WIDTH
    xx = np.arange(w, dtype=np.float32)[None, :]
    yy = np.arange(h, dtype=np.float32)[:, None]
    bed_top = int(h * 0.72)
    # curtain: white with pale-pink stripes and shaded folds every ~9 px
    phase = rng.uniform(0, 2 * np.pi)
    folds = 0.5 + 0.5 * np.sin(2 * np.pi * xx / 23.0 + phase)
    img = np.empty((h, w, 3), np.float32)
    img[...] = 238.0
    img -= (folds * 14.0)[..., None] * np.ones((h, 1, 1), np.float32)
    pink = (np.sin(2 * np.pi * xx / 37.0 + phase) > 0.6).astype(np.float32)
    img[..., 1] -= pink * np.ones((h, 1), np.float32) * 18.0
    img[..., 2] -= pink * np.ones((h, 1), np.float32) * 10.0
    # bed: white sheet with thin grey diagonal stripes
    sheet = ((xx + 2.0 * yy) % 19.0 < 2.0).astype(np.float32)
    bed = 233.0 - 40.0 * sheet
    img[bed_top:] = np.repeat(bed[bed_top:, :, None], 3, axis=2)
    # the figure: legs (beige), torso (white), head (light skin), one red sleeve
    fig = np.zeros((h, w, 3), np.float32)
    truth = np.zeros((h, w), np.uint8)
    cx = int(rng.integers(150, w - 150))
    top = int(rng.integers(40, 60))
    parts = [
        ("legs", (cx - 40, bed_top - 40, cx + 45, bed_top + 25), (226, 216, 196)),
        ("torso", (cx - 32, top + 42, cx + 30, bed_top - 30), (233, 233, 233)),
    ]
    for _, (x0, y0, x1, y1), colour in parts:
        rect = np.zeros((h, w), np.uint8)
        cv2.rectangle(rect, (x0, y0), (x1, y1), 1, thickness=-1)
        layer = cv2.GaussianBlur(rect * 255, (0, 0), 3) > 127
        fig[layer] = colour
        truth |= layer.astype(np.uint8)
    head = np.zeros((h, w), np.uint8)
    cv2.ellipse(head, (cx, top + 22), (20, 24), 0, 0, 360, 1, thickness=-1)
    fig[head > 0] = (236, 230, 222)
    truth |= head
    sleeve = np.zeros((h, w), np.uint8)
    cv2.rectangle(sleeve, (cx + 8, top + 46), (cx + 30, top + 96), 1, thickness=-1)
    fig[sleeve > 0] = (200, 30, 36)
    # soft shading across the figure (no texture)
    shade = 1.0 - 0.06 * np.clip((xx - cx) / 40.0, -1, 1)
    fig *= shade[..., None]
    inside = truth.astype(bool)
    img[inside] = fig[inside]
    img += rng.normal(0, 2.0, img.shape).astype(np.float32)
    rgb = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(rgb, (3, 3), 0), inside


def camouflage_clip(
    seed: int = 0, n: int = 4, step: int = 3, size: tuple[int, int] = (256, 144)
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, truth masks): ``n`` RGB uint8 frames of ``size`` (w, h) with an ellipse of the
    background's own smoothed colour noise moving ``step`` px a frame to the right (0: still)
    over a still background; the ellipse's texture moves with it."""
    rng = np.random.default_rng(seed)
    w, h = size

    def noise() -> np.ndarray:
        coarse = rng.integers(0, 256, (h // 4 + 2, w // 4 + 2, 3)).astype(np.uint8)
        return cv2.resize(coarse, (w + 8, h + 8), interpolation=cv2.INTER_CUBIC)[:h, :w]

    background, texture = noise(), noise()
    frames, masks = [], []
    for i in range(n):
        ellipse = np.zeros((h, w), np.uint8)
        centre = (int(0.35 * w) + step * i, h // 2)
        cv2.ellipse(ellipse, centre, (int(0.13 * w), int(0.18 * h)), 0, 0, 360, 1, thickness=-1)
        mask = ellipse.astype(bool)
        frame = background.copy()
        frame[mask] = np.roll(texture, step * i, axis=1)[mask]
        frames.append(frame)
        masks.append(mask)
    return frames, masks


def panning_camouflage_clip(
    seed: int = 0, n: int = 4, pan: int = 30, size: tuple[int, int] = (256, 144)
) -> tuple[list[np.ndarray], np.ndarray]:
    """(frames, truth mask): ``n`` RGB uint8 frames of ``size`` (w, h) cut from a wider
    background of smoothed colour noise, each ``pan`` px further along it (a camera panning),
    with an ellipse of another such noise at the same place in every frame (the object the
    camera follows); the mask is the same on every frame."""
    rng = np.random.default_rng(seed)
    w, h = size

    def noise(width: int) -> np.ndarray:
        coarse = rng.integers(0, 256, (h // 4 + 2, width // 4 + 2, 3)).astype(np.uint8)
        return cv2.resize(coarse, (width + 8, h + 8), interpolation=cv2.INTER_CUBIC)[:h, :width]

    background, texture = noise(w + pan * n), noise(w)
    ellipse = np.zeros((h, w), np.uint8)
    cv2.ellipse(ellipse, (w // 2, h // 2), (int(0.13 * w), int(0.18 * h)), 0, 0, 360, 1, -1)
    mask = ellipse.astype(bool)
    frames = []
    for i in range(n):
        frame = background[:, pan * i : pan * i + w].copy()
        frame[mask] = texture[mask]
        frames.append(frame)
    return frames, mask
