"""Synthetic clips with known masks for fast motion under a panning camera.

A 70×50 textured ellipse over a textured background at 512×288, the camera panning; the
object's path, speed and colours are chosen so that a tracker whose motion model cannot
follow large displacements fails (tests/test_trackers_builtin_motion.py,
``benchmarks/bench_builtin.py --only motion``); and an object that vanishes and reappears
elsewhere next to a larger look-alike (:func:`reappear_clip`, re-detection). Deterministic for
a given seed; and an articulated object whose limbs swing their own way while it walks
(:func:`limbed_clip`).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "MOTION_PATHS",
    "fast_motion_clip",
    "limbed_clip",
    "reappear_clip",
    "textured_background",
]

#: object paths of :func:`fast_motion_clip`
MOTION_PATHS = ("ellipse", "zigzag", "follow")

WIDTH, HEIGHT = 512, 288


def textured_background(h: int, w: int, seed: int, cell: int = 6) -> np.ndarray:
    """h×w×3 uint8 smooth colour noise (values 40–200 a channel, ``cell`` px blobs) with a
    finer grain on top: texture for optical flow everywhere."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, (h // cell + 1, w // cell + 1, 3)).astype(np.uint8)
    image = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int32)
    fine = rng.integers(-25, 25, (h // 2 + 1, w // 2 + 1, 3)).astype(np.float32)
    image += cv2.resize(fine, (w, h)).astype(np.int32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _object(seed: int, size: tuple[int, int], same_colours: bool) -> tuple[np.ndarray, np.ndarray]:
    """A textured ellipse (w × h): blocky colour texture, either warm (reddish, little blue)
    or drawn from the background's own colour range (colour cannot tell it apart)."""
    w, h = size
    rng = np.random.default_rng(seed + 50)
    if same_colours:
        blocks = rng.integers(40, 200, (h // 3 + 1, w // 3 + 1, 3)).astype(np.float32)
    else:
        blocks = rng.integers(0, 255, (h // 3 + 1, w // 3 + 1, 3)).astype(np.float32)
        blocks[..., 0] = 90 + 0.5 * blocks[..., 0]
        blocks[..., 2] = 20 + 0.6 * blocks[..., 2]
    tex = cv2.resize(blocks, (w, h), interpolation=cv2.INTER_NEAREST).astype(np.uint8)
    shape = np.zeros((h, w), np.uint8)
    cv2.ellipse(shape, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 1, thickness=-1)
    return tex, shape.astype(bool)


def fast_motion_clip(
    n: int = 30,
    seed: int = 0,
    path: str = "ellipse",
    pan: tuple[float, float] = (14.0, 3.0),
    same_colours: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, masks): ``n`` RGB uint8 512×288 frames and their bool masks.

    The camera pans by ``pan`` px a frame (the background's content moves by −``pan``).
    ``path``: "ellipse" (an elliptic orbit at 30–50 px a frame in the image, up to 64 px
    against the panning background), "zigzag" (40 px a frame, turning back every 6 frames:
    constant velocity is 80 px off on the turns) or "follow" (the camera follows the
    object: it stays near the centre while the background moves by ``pan``).
    ``same_colours``: the object's colours come from the background's range, so colour
    cannot find it; otherwise they are warm (reddish).
    """
    if path not in MOTION_PATHS:
        raise ValueError(f"path must be one of {MOTION_PATHS}, got {path!r}")
    span_w = WIDTH + int(abs(pan[0]) * n) + 64
    span_h = HEIGHT + int(abs(pan[1]) * n) + 64
    background = textured_background(span_h, span_w, seed)
    tex, shape = _object(seed, (70, 50), same_colours)
    oh, ow = shape.shape
    start_x = 32 if pan[0] >= 0 else span_w - WIDTH - 32
    start_y = 32 if pan[1] >= 0 else span_h - HEIGHT - 32
    frames, masks = [], []
    for i in range(n):
        ox, oy = start_x + round(pan[0] * i), start_y + round(pan[1] * i)
        image = background[oy : oy + HEIGHT, ox : ox + WIDTH].copy()
        if path == "ellipse":
            t = 0.3125 * i  # radii 160 / 96 px: speed 30–50 px a frame
            cx, cy = WIDTH / 2 + 160 * np.cos(t), HEIGHT / 2 + 96 * np.sin(t)
        elif path == "zigzag":
            leg, back = i % 6, (i // 6) % 2
            cx = WIDTH / 2 - 120 + (200 - 40 * leg if back else 40 * leg)
            cy = HEIGHT / 2 + 40 * np.sin(0.5 * i)
        else:
            cx, cy = WIDTH / 2 + 10 * np.sin(0.3 * i), HEIGHT / 2 + 5 * np.cos(0.3 * i)
        x0, y0 = round(cx - ow / 2), round(cy - oh / 2)
        mask = np.zeros((HEIGHT, WIDTH), bool)
        mask[y0 : y0 + oh, x0 : x0 + ow] = shape
        image[y0 : y0 + oh, x0 : x0 + ow][shape] = tex[shape]
        frames.append(image)
        masks.append(mask)
    return frames, masks


def limbed_clip(
    n: int = 24, seed: int = 0, swing: float = 70.0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, masks): ``n`` RGB uint8 256×160 frames of an articulated object and its
    bool masks: a warm, textured 44×24 body walking right at 4 px a frame and bobbing, with
    three 6-px-thick limbs 32 px long that each swing ±``swing`` degrees about the body's
    centre at their own phase (up to ~40 px a frame at their tips), over a textured
    background. No single affine motion moves the object from one frame to the next: the
    flow over the limbs departs from the body's motion (``articulation_uncertainty``)."""
    w, h = 256, 160
    rng = np.random.default_rng(seed + 70)
    background = textured_background(h, w, seed)
    frames, masks = [], []
    for i in range(n):
        shape = np.zeros((h, w), np.uint8)
        cx, cy = 60 + 4 * i, 80 + 6 * np.sin(i / 2)
        cv2.ellipse(shape, (round(cx), round(cy)), (22, 12), 0, 0, 360, 1, thickness=-1)
        for phase, base in ((0.0, 90.0), (2.0, 270.0), (4.0, 30.0)):
            angle = np.deg2rad(base + swing * np.sin(1.3 * i + phase))
            tip = (round(cx + 41.6 * np.cos(angle)), round(cy + 32 * np.sin(angle)))
            cv2.line(shape, (round(cx), round(cy)), tip, 1, 6)
        grain = rng.integers(-12, 12, (h, w, 1))
        paint = np.clip(np.array([200, 60, 50])[None, None, :] + grain, 0, 255).astype(np.uint8)
        image = background.copy()
        mask = shape.astype(bool)
        image[mask] = paint[mask]
        frames.append(image)
        masks.append(mask)
    return frames, masks


def reappear_clip(
    n: int = 36, seed: int = 0, hidden: tuple[int, int] = (10, 20)
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """(frames, masks, distractor): an object that vanishes and reappears elsewhere, with a
    look-alike in view all along.

    The warm 70×50 ellipse of :func:`fast_motion_clip` crosses a static textured 512×288
    background at 6 px a frame from the left; on frames ``hidden[0]`` to ``hidden[1] - 1`` it
    is gone (it ran out of view, or behind something), and from ``hidden[1]`` it is back
    100 px further right and 60 px lower (where its motion could not have taken it), moving
    on. A larger (130×95) ellipse wearing the object's texture (the same colours) sits in the top-left corner the
    whole time: a whole-frame search on colour alone jumps to it. ``masks``: the object's
    true masks (empty while hidden); ``distractor``: the look-alike's mask (bool).
    """
    background = textured_background(HEIGHT, WIDTH, seed + 7)
    tex, shape = _object(seed, (70, 50), False)
    # the look-alike wears the object's own texture, enlarged: the same colours
    big_tex = cv2.resize(tex, (130, 95), interpolation=cv2.INTER_NEAREST)
    big_shape = _object(seed, (130, 95), False)[1]
    distractor = np.zeros((HEIGHT, WIDTH), bool)
    distractor[8 : 8 + 95, 8 : 8 + 130] = big_shape
    background[8 : 8 + 95, 8 : 8 + 130][big_shape] = big_tex[big_shape]
    oh, ow = shape.shape
    frames, masks = [], []
    for i in range(n):
        image = background.copy()
        mask = np.zeros((HEIGHT, WIDTH), bool)
        if not hidden[0] <= i < hidden[1]:
            x0, y0 = 170 + 6 * i, 150
            if i >= hidden[1]:
                x0, y0 = x0 + 100 - 6 * (hidden[1] - hidden[0]), y0 + 60
            mask[y0 : y0 + oh, x0 : x0 + ow] = shape
            image[y0 : y0 + oh, x0 : x0 + ow][shape] = tex[shape]
        frames.append(image)
        masks.append(mask)
    return frames, masks, distractor
