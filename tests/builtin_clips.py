"""A small synthetic clip for the built-in tracker's end-to-end tests, and the J curve of a
run on it with an option off and on."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

Paint = tuple[tuple[slice, slice], tuple[int, int, int]]


def ellipse_clip(
    frames: int,
    centre_y: int,
    under: Paint | None = None,
    over: Paint | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """An orange textured ellipse (72×32 px, centred on row ``centre_y``) moving right 3 px a
    frame over a still, dull 256×144 background: (frames, true masks). ``under``: a still
    region ((rows, columns), RGB) painted on the background, behind the object; ``over``:
    one painted in front of it (an occluder, left out of the true masks)."""
    rng = np.random.default_rng(0)
    h, w = 144, 256
    background = cv2.resize(
        rng.integers(0, 255, (h // 4, w // 4, 3)).astype(np.uint8), (w, h)
    ).astype(np.float32)
    background = background * 0.5 + 40
    background[..., 2] *= 0.5
    if under is not None:
        background[under[0]] = under[1]
    texture = rng.integers(-25, 25, (h, w, 1))
    yy, xx = np.mgrid[0:h, 0:w]
    front = np.zeros((h, w), bool)
    if over is not None:
        front[over[0]] = True
    images, masks = [], []
    for t in range(frames):
        body = ((xx - 50 - 3 * t) / 36.0) ** 2 + ((yy - centre_y) / 16.0) ** 2 <= 1
        image = background.copy()
        skin = np.array([220, 120, 40]) + np.roll(texture, 3 * t, axis=1)
        image[body] = skin[body]
        if over is not None:
            image[front] = over[1]
        images.append(np.clip(image, 0, 255).astype(np.uint8))
        masks.append(body & ~front)
    return images, masks


def j_curves(
    images: list[np.ndarray], masks: list[np.ndarray], option: str
) -> dict[bool, list[float]]:
    """J of every frame tracked by the built-in tracker from the first true mask, with the
    boolean tracker ``option`` off (False) and on (True)."""
    from sam2matting.eval.metrics import jaccard
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import build
    from sam2matting.types import MaskPrompt

    h, w = masks[0].shape
    curves: dict[bool, list[float]] = {}
    for on in (False, True):
        options: dict[str, Any] = {option: on}
        session = build(**options).open(ArraySource(images))
        session.add_prompt(MaskPrompt(masks[0], frame=0, object_id=1))
        curves[on] = [
            jaccard(tf.objects[1].mask(h, w), masks[tf.index]) for tf in session.propagate(0)
        ]
    return curves
