"""The built-in tracker's large-displacement motion (:mod:`sam2matting.trackers.builtin_motion`):
the camera's and the objects' displacements as functions on synthetic frames, and fast
objects under a panning camera through the tracker."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.eval.metrics import jaccard
from sam2matting.io.readers import ArraySource
from sam2matting.trackers.builtin import build
from sam2matting.trackers.builtin_motion import (
    ObjectMotion,
    camera_shift,
    initial_flows,
    object_shift,
    search_reach,
)
from sam2matting.types import MaskPrompt

H, W = 288, 512


def _texture(h: int, w: int, seed: int, cell: int = 6) -> np.ndarray:
    """Smooth colour noise with a finer grain on top: texture for the flow everywhere."""
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


def fast_pan_clip(
    n: int = 30,
    seed: int = 0,
    path: str = "ellipse",
    pan: tuple[float, float] = (14.0, 3.0),
    same_colours: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """512×288 frames of a 70×50 textured object over a textured background, the camera
    panning by ``pan`` px a frame. ``path``: "ellipse" (an elliptic orbit at 30–50 px a frame
    in the image, 30–64 px against the background), "zigzag" (40 px a frame, turning back
    every 6 frames: constant velocity is wrong on the turns) or "follow" (the camera follows
    the object: it stays near the centre while the background moves by ``pan``)."""
    span_w, span_h = W + int(abs(pan[0]) * n) + 64, H + int(abs(pan[1]) * n) + 64
    background = _texture(span_h, span_w, seed)
    tex, shape = _object(seed, (70, 50), same_colours)
    oh, ow = shape.shape
    frames, masks = [], []
    for i in range(n):
        ox, oy = round(pan[0] * i) + 32, round(pan[1] * i) + 32
        image = background[oy : oy + H, ox : ox + W].copy()
        if path == "ellipse":
            t = 0.3125 * i  # radii 160 / 96 px: speed 30–50 px a frame
            cx, cy = W / 2 + 160 * np.cos(t), H / 2 + 96 * np.sin(t)
        elif path == "zigzag":
            leg, k = i % 6, (i // 6) % 2
            cx = W / 2 - 120 + (40 * leg if k == 0 else 200 - 40 * leg)
            cy = H / 2 + 40 * np.sin(0.5 * i)
        else:
            cx, cy = W / 2 + 10 * np.sin(0.3 * i), H / 2 + 5 * np.cos(0.3 * i)
        x0, y0 = round(cx - ow / 2), round(cy - oh / 2)
        mask = np.zeros((H, W), bool)
        mask[y0 : y0 + oh, x0 : x0 + ow] = shape
        image[y0 : y0 + oh, x0 : x0 + ow][shape] = tex[shape]
        frames.append(image)
        masks.append(mask)
    return frames, masks


def _track(frames, masks, **options):  # type: ignore[no-untyped-def]
    session = build(**options).open(ArraySource(frames))
    session.add_prompt(MaskPrompt(masks[0]))
    out = list(session.propagate(0))
    ious = [jaccard(f.objects[1].mask(H, W), masks[f.index]) for f in out]
    return ious, [f.objects[1].score for f in out]


# -- functions --------------------------------------------------------------------------------


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def test_camera_shift_is_the_background_translation() -> None:
    big = _grey(_texture(H + 80, W + 80, seed=3))
    previous = big[40 : 40 + H, 40 : 40 + W].copy()
    current = big[40 + 7 : 47 + H, 40 + 33 : 73 + W].copy()  # content moves by (−33, −7)
    shift = camera_shift(previous, current)
    assert shift is not None
    assert abs(shift[0] + 33) < 1.5 and abs(shift[1] + 7) < 1.5
    # a flat frame has nothing to correlate
    flat = np.full((H, W), 120, np.uint8)
    assert camera_shift(flat, flat) is None


def test_camera_shift_ignores_the_excluded_object() -> None:
    """A large object moving the other way would pull a plain correlation towards it."""
    big = _grey(_texture(H + 80, W + 80, seed=4))
    obj = _grey(_texture(150, 200, seed=9, cell=4))
    previous = big[40 : 40 + H, 40 : 40 + W].copy()
    current = big[40 : 40 + H, 60 : 60 + W].copy()  # background moves by (−20, 0)
    previous[60:210, 100:300] = obj
    current[60:210, 150:350] = obj  # the object moves by (+50, 0)
    exclude = np.zeros((H, W), bool)
    exclude[50:220, 90:360] = True
    shift = camera_shift(previous, current, exclude)
    assert shift is not None
    assert abs(shift[0] + 20) < 2.0 and abs(shift[1]) < 2.0


def test_object_shift_finds_a_large_displacement_and_defers_to_the_camera() -> None:
    frames, masks = fast_pan_clip(n=16, seed=1)
    truth = [np.argwhere(m).mean(axis=0)[::-1] for m in masks]
    found = 0
    for i in range(1, 16):
        prev, cur = _grey(frames[i - 1]), _grey(frames[i])
        move = truth[i] - truth[i - 1]
        camera = (-14.0, -3.0)
        shift = object_shift(prev, cur, masks[i - 1], (0.0, 0.0), camera)
        assert np.hypot(*move) >= 29  # 30–50 px a frame
        if shift is not None:
            found += 1
            assert np.hypot(shift[0] - move[0], shift[1] - move[1]) < 4.0
    assert found >= 14
    # a textured patch that stands still in the scene moves with the camera: not an object shift
    big = _grey(_texture(H + 80, W + 80, seed=5))
    previous = big[40 : 40 + H, 40 : 40 + W].copy()
    current = big[40 : 40 + H, 70 : 70 + W].copy()
    patch = np.zeros((H, W), bool)
    patch[100:160, 200:280] = True
    assert object_shift(previous, current, patch, (0.0, 0.0), (-30.0, 0.0)) is None


def test_search_reach_covers_fast_objects_at_512_px() -> None:
    assert search_reach(512, 288, 40.0) >= 40
    assert search_reach(512, 288, 300.0) >= 150  # a large object: half its size


def test_initial_flows_paint_the_camera_and_the_objects() -> None:
    assert initial_flows((20, 30), None, []) is None
    mask = np.zeros((20, 30), bool)
    mask[5:10, 5:10] = True
    assert initial_flows((20, 30), None, [ObjectMotion(mask, None)]) is None
    flows = initial_flows((20, 30), (2.0, -1.0), [ObjectMotion(mask, (12.0, 3.0))])
    assert flows is not None
    fwd, back = flows
    assert fwd.shape == back.shape == (20, 30, 2) and fwd.dtype == np.float32
    assert tuple(fwd[7, 7]) == (12.0, 3.0) and tuple(fwd[18, 28]) == (2.0, -1.0)
    assert tuple(back[10, 19]) == (-12.0, -3.0)  # where the object landed
    assert tuple(back[1, 1]) == (-2.0, 1.0)


# -- through the tracker ----------------------------------------------------------------------


@pytest.mark.parametrize("same_colours", [False, True])
def test_a_fast_object_under_a_panning_camera_is_followed(same_colours: bool) -> None:
    """30–50 px a frame in the image (up to 64 px against the panning background), 30 frames:
    without the search the flow falls behind on the fastest stretch (J < 0.8, and the
    tracker reports the object lost while its colour search catches up)."""
    frames, masks = fast_pan_clip(seed=0, same_colours=same_colours)
    ious, scores = _track(frames, masks)
    assert min(ious) >= 0.8, [round(j, 2) for j in ious]
    assert min(scores) >= 0.5  # never reported lost
    before, _ = _track(frames, masks, motion_search=False)
    assert min(before) < 0.8


def test_an_object_turning_back_is_followed() -> None:
    """40 px a frame, reversing every 6 frames: on the turns constant velocity predicts 80 px
    off; the search window around the prediction still holds the object."""
    frames, masks = fast_pan_clip(seed=1, path="zigzag", same_colours=True)
    ious, scores = _track(frames, masks)
    assert min(ious) >= 0.8, [round(j, 2) for j in ious]
    assert min(scores) >= 0.5
    before, _ = _track(frames, masks, motion_search=False)
    assert min(before) < 0.8


def test_a_fast_pan_following_the_object_keeps_it() -> None:
    """The camera follows the object at 40 px a frame: the object barely moves in the image
    while the background races past it."""
    frames, masks = fast_pan_clip(seed=2, path="follow", pan=(40.0, 6.0), same_colours=True)
    ious, scores = _track(frames, masks)
    assert min(ious) >= 0.85, [round(j, 2) for j in ious]
    assert min(scores) >= 0.5
