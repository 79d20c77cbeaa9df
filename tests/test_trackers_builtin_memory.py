"""The built-in tracker's shape memory (:mod:`sam2matting.trackers.builtin_memory`): its
functions on synthetic masks, and an object crossed by thin poles through the tracker
(:func:`sam2matting.eval.occluder_clips.pole_clip`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.errors import Sam2MattingError
from sam2matting.eval.metrics import jaccard
from sam2matting.eval.motion_clips import textured_background
from sam2matting.eval.occluder_clips import animal_shape, pole_clip
from sam2matting.io.readers import ArraySource
from sam2matting.trackers.builtin import BuiltinTrackerConfig, build
from sam2matting.trackers.builtin_memory import (
    floor_colour,
    follow,
    lift_prior,
    locate,
    memory_depth,
    memory_prior,
    motion_shift,
    relit_colour_floor,
    remember,
    shift,
)
from sam2matting.types import MaskPrompt

H, W = 288, 512


def _blob(x0: int, y0: int, w: int = 80, h: int = 50) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    cv2.ellipse(mask, (x0 + w // 2, y0 + h // 2), (w // 2, h // 2), 0, 0, 360, 1, -1)
    return mask.astype(bool)


def test_lift_prior_lifts_the_thick_interior_only_and_never_lowers() -> None:
    memory = _blob(100, 100).astype(np.float32)
    memory[60:200, 300:304] = 1.0  # a 4-px-thin part: moves with articulation, not remembered
    prior = np.full((H, W), -8.0, np.float32)
    prior[0:10, 0:10] = 5.0
    sigma = 2.0
    lifted = lift_prior(prior, memory, sigma)
    assert lifted[125, 140] == pytest.approx(memory_prior())  # deep inside the blob
    assert lifted[100 + 25, 100 + 2] < memory_prior() - 1.0  # at its outline: a ramp
    assert (lifted[60:200, 300:304] < -3.0).all()  # the thin part stays out
    assert (lifted[:10, :10] == 5.0).all()  # a higher prior is kept
    assert (lifted >= prior).all()
    # an empty memory changes nothing
    assert (
        lifted is not None
        and (lift_prior(prior, np.zeros((H, W), np.float32), sigma) == prior).all()
    )
    assert memory_depth() > 0


def test_floor_colour_limits_colour_against_remembered_pixels_as_far_as_colours_fail() -> None:
    memory = np.zeros((H, W), np.float32)
    memory[100:150, 100:200] = 0.8  # remembered (≥ support)
    memory[100:150, 200:240] = 0.3  # fading: not remembered
    colour = np.full((H, W), -4.0, np.float32)
    colour[0:10] = 2.5
    # the anchor's colours explain the object: nothing changes
    assert floor_colour(colour, memory, 0.0, 4.0) is colour
    full = floor_colour(colour, memory, 1.0, 4.0)
    assert (full[100:150, 100:200] == -relit_colour_floor()).all()
    assert (full[100:150, 200:240] == -4.0).all()  # beyond the memory: as it was
    assert (full[0:10] == 2.5).all()  # evidence for the object is never lowered
    half = floor_colour(colour, memory, 0.5, 4.0)
    assert half[120, 150] == pytest.approx(-(4.0 + relit_colour_floor()) / 2)
    assert (floor_colour(colour, memory, 3.0, 4.0) == full).all()  # need is a share


def test_follow_moves_by_the_motion_translation_where_appearance_is_flat() -> None:
    memory = _blob(100, 100).astype(np.float32)
    flat = np.full((H, W), 90, np.uint8)
    motion = np.array([[1.0, 0.0, 7.0], [0.0, 1.0, -3.0]])
    assert motion_shift(memory, motion) == pytest.approx((7.0, -3.0))
    moved, seen = follow(memory, flat, flat, motion)
    assert jaccard(moved > 0.5, _blob(107, 97)) > 0.95
    assert seen.dtype == np.uint8
    # no motion and a flat match: nothing moves
    same, _ = follow(memory, flat, flat, None)
    assert same is memory
    assert jaccard(shift(memory, 0.0, 0.0) > 0.5, memory > 0.5) == 1.0


def _scene(dx: int, pole_at: int | None) -> np.ndarray:
    """A grey frame: a textured object (an ellipse) at (100 + dx, 100) on a background of
    other texture, optionally a flat 8-px pole over it at x = ``pole_at``."""
    background = cv2.cvtColor(textured_background(H, W, seed=1), cv2.COLOR_RGB2GRAY)
    texture = cv2.cvtColor(textured_background(H, W, seed=2, cell=4), cv2.COLOR_RGB2GRAY)
    frame = background.copy()
    mask = _blob(100 + dx, 100)
    frame[mask] = np.roll(texture, dx, axis=1)[mask]
    if pole_at is not None:
        frame[:, pole_at : pole_at + 8] = 170
    return frame


def test_locate_follows_the_object_appearance_past_an_occluding_pole() -> None:
    """The memory sits where the object was; the object moved 6 px right and a pole stands
    over it: the masked appearance match still finds the move."""
    memory = _blob(100, 100).astype(np.float32)
    appearance = _scene(0, None)
    dx, dy = locate(memory, appearance, _scene(6, 150))
    assert abs(dx - 6) <= 1.5 and abs(dy) <= 1.5
    # a motion guess of 4 px is corrected to 6 by the match; the appearance moves along
    moved, seen = follow(memory, appearance, _scene(6, 150), np.array([[1.0, 0, 4], [0, 1, 0]]))
    assert jaccard(moved > 0.5, _blob(106, 100)) > 0.9
    assert seen.shape == appearance.shape and seen.dtype == np.uint8
    # nothing remembered: no move
    assert locate(np.zeros((H, W), np.float32), appearance, appearance) == (0.0, 0.0)


def test_locate_keeps_a_guess_that_moves_the_object_off_the_frame() -> None:
    """A fast object's motion may place it beyond the frame's edge: the search window is then
    empty, and the guess stands (it crashed in the downscaling of a big object's window: DAVIS
    libby played backwards at every 3rd frame)."""
    memory = np.zeros((H, W), np.float32)
    memory[10 : H - 10, 10 : W - 10] = 1.0  # big: matched on downscaled copies
    appearance = _scene(0, None)
    for guess in ((2.0 * W, 0.0), (-2.0 * W, 0.0), (0.0, 2.0 * H), (0.0, -2.0 * H)):
        assert locate(memory, appearance, appearance, guess) == guess
    moved, seen = follow(memory, appearance, appearance, np.array([[1.0, 0, 3 * W], [0, 1, 0]]))
    assert not (moved > 0.5).any() and seen.shape == appearance.shape


def test_remember_blends_and_forgets_a_dropped_part_in_a_few_frames() -> None:
    memory = _blob(100, 100).astype(np.float32)
    mask = _blob(100, 100)
    mask[:, 140:] = False  # the right half dropped for good
    for _ in range(3):
        memory = remember(memory, mask, 0.2)
    assert memory[125, 120] == pytest.approx(1.0)
    assert 0.5 < memory[125, 160] < 0.6  # 0.8**3: still remembered
    for _ in range(3):
        memory = remember(memory, mask, 0.2)
    assert memory[125, 160] < 0.5  # gone after six confident frames without it


def test_part_memory_option_is_checked() -> None:
    with pytest.raises(Sam2MattingError, match="part_memory"):
        BuiltinTrackerConfig(part_memory=1.5)
    assert BuiltinTrackerConfig().part_memory > 0


def test_animal_shape_has_a_body_and_thin_legs() -> None:
    shape = animal_shape()
    assert shape.shape == (130, 220)
    assert 0.25 < shape.mean() < 0.5
    # the legs are thin: an opening by a 13-px disc removes them
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13))
    opened = cv2.morphologyEx(shape.astype(np.uint8), cv2.MORPH_OPEN, disc) > 0
    assert not opened[-5:].any() and shape[-5:].any()


def _mean_j(seed: int, **options: float) -> float:
    frames, masks = pole_clip(seed=seed)
    session = build(**options).open(ArraySource(frames))
    session.add_prompt(MaskPrompt(masks[0]))
    ious = [jaccard(f.objects[1].mask(H, W), masks[f.index]) for f in session.propagate(0)]
    return float(np.mean(ious[1:-1]))


def test_pole_clip_poles_cross_the_object() -> None:
    frames, masks = pole_clip(n=12, seed=0)
    assert len(frames) == 12 and frames[0].shape == (H, W, 3)
    full = animal_shape().sum()
    # on every frame a pole hides some of the object, never most of it
    for mask in masks:
        assert 0.75 * full < mask.sum() < full


def test_memory_brings_back_the_parts_poles_sweep_away() -> None:
    """Without the memory the strips a pole uncovers are lost one by one (the uncovered pixels
    were pole on the previous frame, and the warp carries that onto them): mean J 0.842 on
    this clip, 0.856 with it."""
    with_memory = _mean_j(1)
    without = _mean_j(1, part_memory=0.0)
    assert with_memory > 0.85
    assert with_memory > without + 0.008


def test_lift_prior_of_a_memory_filling_the_frame_is_finite_and_silent() -> None:
    # the whole crop is core (an object filling the frame): OpenCV's distance transform has
    # no zero pixel to measure from and answers ~FLT_MAX, which once overflowed to −inf
    prior = np.full((24, 32), -6.0, np.float32)
    with np.errstate(over="raise", invalid="raise"):
        lifted = lift_prior(prior, np.ones((24, 32), np.float32), 2.0)
    assert np.isfinite(lifted).all() and (lifted >= prior).all()
