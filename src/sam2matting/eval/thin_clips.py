"""Synthetic clips with known masks for thin structures attached to a moving object.

A textured body (an ellipse of warm colours) drifts over a water-like background (blue-green,
horizontal wave streaks and glints, moving with a slow pan) at 854×480, the size of a DAVIS
frame, so a tracker working at 512 px sees the 2-px lines at ~1.2 px. Lines (kite lines,
ropes: dark red, 2 px wide, anti-aliased) run from the body towards the frame's top-right
corner, swinging by a fraction of a degree a frame. Optional distractors: a fence of straight
bright posts in the background (straight lines that belong to nothing), lines that vanish
on a given frame (cut ropes) or for a while, and a plain hazy sky above a horizon where the lines run on
faintly (at 15 % of their opacity, as DAVIS kite-surf's lines do over the shore and sky).
Used by ``tests/test_trackers_builtin_thin.py``. Deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["ThinClip", "sky_background", "thin_line_clip", "water_background"]

WIDTH, HEIGHT = 854, 480
#: the horizon of ``thin_line_clip(sky=True)``: rows above it are sky
HORIZON = 170
#: the lines' opacity over the sky (haze)
SKY_OPACITY = 0.15


def sky_background(h: int, w: int, seed: int) -> np.ndarray:
    """h×w×3 uint8 plain hazy sky: a smooth blue-grey gradient (lighter towards the horizon)
    with a compressed frame's grain (σ ≈ 1.5 grey levels)."""
    rng = np.random.default_rng(seed + 11)
    rows = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    top = np.array([110.0, 130.0, 165.0], np.float32)
    low = np.array([135.0, 150.0, 175.0], np.float32)
    image = top + (low - top) * rows + rng.normal(0, 1.5, (h, w, 1)).astype(np.float32)
    return np.clip(np.broadcast_to(image, (h, w, 3)), 0, 255).astype(np.uint8)


def water_background(h: int, w: int, seed: int) -> np.ndarray:
    """h×w×3 uint8 water-like texture: blue-green, horizontal streaks (waves stretched 6:1),
    fine grain and sparse white glints: a texture full of short ridges in every channel."""
    rng = np.random.default_rng(seed)
    base = np.array([40.0, 150.0, 160.0], np.float32)
    waves = np.asarray(
        cv2.resize(
            rng.normal(0, 1, (h // 6 + 1, w // 36 + 1)).astype(np.float32),
            (w, h),
            interpolation=cv2.INTER_CUBIC,
        ),
        np.float32,
    )
    grain = np.asarray(
        cv2.resize(
            rng.normal(0, 1, (h // 2 + 1, w // 4 + 1)).astype(np.float32),
            (w, h),
            interpolation=cv2.INTER_LINEAR,
        ),
        np.float32,
    )
    image = base[None, None, :] + (18 * waves + 10 * grain)[..., None] * np.array(
        [0.6, 1.0, 1.0], np.float32
    )
    glints = (rng.random((h, w)) > 0.9985).astype(np.uint8)
    glints = cv2.dilate(glints, np.ones((2, 5), np.uint8)).astype(np.float32)
    image += 80 * glints[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)


@dataclass
class ThinClip:
    """``frames`` (RGB uint8 854×480), ``masks`` (the whole object, bool) and ``thin`` (its
    lines' pixels, bool) per frame."""

    frames: list[np.ndarray]
    masks: list[np.ndarray]
    thin: list[np.ndarray]


def _line_mask(a: tuple[float, float], b: tuple[float, float], width: float) -> np.ndarray:
    """Pixels (bool, HEIGHT×WIDTH) within width / 2 of the segment a–b."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    ax, ay = a
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
    dist = np.hypot(xs - (ax + t * dx), ys - (ay + t * dy))
    return np.asarray(dist <= 0.5 * width)


def thin_line_clip(
    n: int = 20,
    seed: int = 0,
    lines: int = 3,
    fence: bool = False,
    cut_at: int | None = None,
    sky: bool = False,
    hidden: tuple[int, int] | None = None,
) -> ThinClip:
    """A body with ``lines`` attached lines (0: none) over water, ``n`` frames.

    The body drifts by ~(3, 1) px a frame, the camera pans by 2 px; the lines swing by
    0.25° a frame. ``fence``: bright vertical posts in the background (not the object's).
    ``cut_at``: from this frame on the lines are gone from the image and the mask.
    ``sky``: rows above :data:`HORIZON` are a plain sky (:func:`sky_background`) over which
    the lines show at :data:`SKY_OPACITY` of their opacity (they stay in the mask).
    ``hidden``: (first, last) frames without the lines in the image and the mask (a line
    hidden for a while, there again after).
    """
    rng = np.random.default_rng(seed + 7)
    pan = 2.0
    big = water_background(HEIGHT, WIDTH + int(pan * n) + 8, seed)
    if sky:
        big[:HORIZON] = sky_background(HORIZON, big.shape[1], seed)
    haze = np.ones((HEIGHT, 1), np.float32)
    if sky:
        haze[:HORIZON] = SKY_OPACITY
    if fence:
        for x in range(30, big.shape[1], 70):
            cv2.line(big, (x, 280), (x + 4, 470), (225, 225, 215), 3, cv2.LINE_AA)
    bw, bh = 90, 120
    blocks = rng.integers(0, 255, (bh // 6 + 1, bw // 6 + 1, 3)).astype(np.float32)
    blocks[..., 0] = 150 + 0.4 * blocks[..., 0]
    blocks[..., 1] = 40 + 0.3 * blocks[..., 1]
    blocks[..., 2] = 30 + 0.2 * blocks[..., 2]
    tex = cv2.resize(blocks, (bw, bh), interpolation=cv2.INTER_NEAREST).astype(np.uint8)
    shape = np.zeros((bh, bw), np.uint8)
    cv2.ellipse(shape, (bw // 2, bh // 2), (bw // 2 - 1, bh // 2 - 1), 0, 0, 360, 1, -1)
    body_mask = shape.astype(bool)
    angles = [-32.0 + 9.0 * k for k in range(lines)]
    frames: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    thins: list[np.ndarray] = []
    for i in range(n):
        off = round(pan * i)
        frame = big[:, off : off + WIDTH].copy()
        x0 = round(250 + 3.0 * i)
        y0 = round(250 + 1.0 * i + 4 * float(np.sin(i / 3)))
        region = frame[y0 : y0 + bh, x0 : x0 + bw]
        region[body_mask] = tex[body_mask]
        mask = np.zeros((HEIGHT, WIDTH), bool)
        mask[y0 : y0 + bh, x0 : x0 + bw] = body_mask
        thin = np.zeros((HEIGHT, WIDTH), bool)
        gone = hidden is not None and hidden[0] <= i <= hidden[1]
        if (cut_at is None or i < cut_at) and not gone:
            for k, angle in enumerate(angles):
                theta = np.deg2rad(angle + 0.25 * i * (1 if k % 2 == 0 else -1))
                a = (x0 + bw * 0.75, y0 + bh * 0.25 + 6 * k)
                length = 700.0
                b = (a[0] + length * np.cos(theta), a[1] + length * np.sin(theta))
                width = 2.0
                line = _line_mask(a, b, width)
                layer = np.zeros((HEIGHT, WIDTH), np.uint8)
                cv2.line(
                    layer,
                    (round(a[0] * 16), round(a[1] * 16)),
                    (round(b[0] * 16), round(b[1] * 16)),
                    255,
                    1,
                    cv2.LINE_AA,
                    4,
                )
                alpha = np.maximum(layer.astype(np.float32) / 255.0, line.astype(np.float32))
                alpha *= haze
                colour = np.array([150.0, 30.0, 35.0], np.float32)
                frame[:] = (
                    frame * (1 - alpha[..., None]) + colour[None, None, :] * alpha[..., None]
                ).astype(np.uint8)
                thin |= line & ~mask
            mask |= thin
        frames.append(frame)
        masks.append(mask)
        thins.append(thin)
    return ThinClip(frames, masks, thins)
