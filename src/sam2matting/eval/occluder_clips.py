"""Synthetic clips with known masks for thin occluders crossing an object.

An animal-like object (a torso, a head on a neck, four legs and a tail: one textured shape)
runs along while the camera pans with it, so it stays near the frame's centre; thin vertical
poles stand between it and the camera and sweep across it (they are nearer than the
background, so they move faster: parallax). As a pole passes over the object, the object's
pixels it uncovers were pole on the previous frame. Half of the object's texture is its own
warm colours, half is drawn from the background's range (like a dog's dark flank against
dark ground), so colour alone does not find every part. ``masks`` are the object's visible
pixels (poles excluded). Used by ``tests/test_trackers_builtin_memory.py`` and
``benchmarks/bench_builtin_memory.py``. Deterministic for a given seed; 512×288.

:func:`cutout_pole_clip` is the harder, more realistic variant: a real matting cutout (an
animal with its soft alpha) followed by a camera panning over a real background, while poles of
bark, painted metal or concrete (shaded like cylinders; a concrete pole is the grey of a grey
cat's fur) sweep across it with parallax. ``poles=0`` gives the same clip without the poles,
the control that says how much of the loss the poles cause
(``benchmarks/bench_builtin.py --only occluders``).
"""

from __future__ import annotations

import cv2
import numpy as np

from .motion_clips import HEIGHT, WIDTH, textured_background
from .static_clips import _paste, _scaled_cutout

__all__ = ["POLE_KINDS", "animal_shape", "cutout_pole_clip", "pole_clip"]

#: :func:`cutout_pole_clip`'s pole materials: (base RGB, streak amplitude, grain amplitude)
POLE_KINDS: dict[str, tuple[tuple[float, float, float], float, float]] = {
    "bark": ((92.0, 72.0, 54.0), 14.0, 9.0),
    "metal": ((38.0, 104.0, 84.0), 3.0, 1.5),
    "concrete": ((152.0, 150.0, 142.0), 6.0, 7.0),
}


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


def _pole(kind: str, width: int, rng: np.random.Generator) -> np.ndarray:
    """HEIGHT×``width``×3 float32: a vertical pole of ``kind`` (see :data:`POLE_KINDS`), shaded
    like a cylinder lit from the front, with vertical streaks and a fine grain."""
    base, streaks, grain = POLE_KINDS[kind]
    across = np.linspace(-1.0, 1.0, width, dtype=np.float32)
    shade = 0.55 + 0.45 * np.sqrt(np.clip(1.0 - across**2, 0.0, 1.0))
    along = rng.normal(0.0, streaks, (HEIGHT // 6 + 2, max(2, width // 3))).astype(np.float32)
    along_img = np.asarray(cv2.resize(along, (width, HEIGHT), interpolation=cv2.INTER_CUBIC))
    fine = rng.normal(0.0, grain, (HEIGHT, width)).astype(np.float32)
    rgb = np.asarray(base, np.float32)[None, None, :] * shade[None, :, None]
    return np.asarray(rgb + (along_img + fine)[..., None], np.float32)


def cutout_pole_clip(
    panorama: np.ndarray,
    walker: tuple[np.ndarray, np.ndarray],
    n: int = 48,
    seed: int = 0,
    poles: int = 3,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames, truth masks) of ``walker`` (RGB uint8, alpha uint8 of a matting cutout) followed
    by a camera panning over ``panorama`` (RGB uint8, resized to HEIGHT rows; at least
    WIDTH + 6·``n`` px wide at that height) while up to three thin poles nearer to the camera
    sweep across it one after another (``poles``: how many are drawn; 0 = the control).

    Per seed: the pan (3–6 px a frame, leftwards), the poles' parallax (1.8–2.6× the pan), the
    walker's height (90–130 px), slow drift, bob and ground line, and each pole's material and
    width (6–18 px). The random draws do not depend on ``poles``, so the control is the same
    clip without them. The truth is the walker's alpha > 0.5 where no pole covers it."""
    if n < 2:
        raise ValueError("a pole clip needs at least 2 frames")
    if not 0 <= poles <= 3:
        raise ValueError(f"poles must be 0..3, got {poles}")
    rng = np.random.default_rng(seed)
    ph, pw = panorama.shape[:2]
    pano = np.asarray(
        cv2.resize(panorama, (round(pw * HEIGHT / ph), HEIGHT), interpolation=cv2.INTER_AREA),
        np.float32,
    )
    rgb, alpha = _scaled_cutout(*walker, height=int(rng.integers(90, 131)))
    aw = alpha.shape[1]
    pan = float(rng.uniform(3.0, 6.0))
    if pano.shape[1] < WIDTH + pan * (n - 1) + 1:
        raise ValueError(
            f"panorama too narrow: {pano.shape[1]} px at {HEIGHT} rows, "
            f"{WIDTH + round(pan * (n - 1)) + 1} needed"
        )
    parallax = float(rng.uniform(1.8, 2.6))
    drift = float(rng.uniform(-0.6, 0.6))
    ground = int(rng.integers(int(0.8 * HEIGHT), HEIGHT - 6))
    x0 = float(rng.uniform(0.3, 0.45)) * WIDTH
    # the poles start right of the walker and cross it in turn over the clip
    sweep = pan * parallax * n
    drawn = []
    for k in range(3):
        kind = tuple(POLE_KINDS)[int(rng.integers(len(POLE_KINDS)))]
        width = int(rng.integers(6, 19))
        start = x0 + aw + 20 + (k + float(rng.uniform(-0.2, 0.2))) * sweep / 3
        drawn.append((start, _pole(kind, width, rng)))
    noise = np.random.default_rng(seed + 1000)
    frames: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for i in range(n):
        shift = pan * i
        # a sub-pixel pan: the background is resampled, not rolled
        view = np.asarray(
            cv2.warpAffine(
                pano,
                np.array([[1.0, 0.0, -shift], [0.0, 1.0, 0.0]]),
                (WIDTH, HEIGHT),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT,
            ),
            np.float32,
        )
        top = ground - alpha.shape[0] + 2.0 * np.sin(0.7 * i)
        cover = _paste(view, rgb, alpha, round(x0 + drift * i), round(top))
        hidden = np.zeros((HEIGHT, WIDTH), bool)
        for start, texture in drawn[:poles]:
            left = round(start - parallax * shift)
            a0, a1 = max(0, left), min(WIDTH, left + texture.shape[1])
            if a1 > a0:
                view[:, a0:a1] = texture[:, a0 - left : a1 - left]
                hidden[:, a0:a1] = True
        view += noise.normal(0.0, 1.5, view.shape).astype(np.float32)
        frames.append(np.clip(view + 0.5, 0, 255).astype(np.uint8))
        masks.append((cover > 0.5) & ~hidden)
    return frames, masks
