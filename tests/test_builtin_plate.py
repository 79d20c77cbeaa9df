"""The clean plate of a still camera (``trackers/builtin_plate.py``) and the built-in tracker's
use of it, on synthetic clips with known answers (``eval/static_clips.py``)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.errors import Sam2MattingError
from sam2matting.eval.metrics import jaccard
from sam2matting.eval.motion_clips import fast_motion_clip
from sam2matting.eval.static_clips import STILL_CASES, still_camera_clip
from sam2matting.io.readers import ArraySource
from sam2matting.trackers.builtin import build
from sam2matting.trackers.builtin_plate import (
    align,
    background_change_share,
    build_plate,
    camera_still,
    change_evidence,
    plate_features,
    plate_samples,
    region_in_box,
)
from sam2matting.types import Box, MaskPrompt


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _plate_of(frames: list[np.ndarray], ref: int = 0, count: int = 16):
    picks = plate_samples(ref, len(frames), 150, count)
    return build_plate(ref, {i: frames[i] for i in picks})


#: the clean plate on (it is off by default)
ON = {"plate_frames": 16}


def _run(frames, prompt, **options) -> list[np.ndarray]:
    session = build(**{**ON, **options}).open(ArraySource(frames))
    session.add_prompt(prompt)
    h, w = frames[0].shape[:2]
    return [tf.objects[1].mask(h, w) for tf in session.propagate(0)]


def test_plate_samples_spread_over_the_span_and_hold_the_reference():
    assert plate_samples(10, 100, 10, 5) == [0, 5, 10, 15, 20]
    assert plate_samples(3, 100, 50, 6) == [0, 3, 11, 21, 32, 42, 53]
    assert plate_samples(0, 1, 50, 6) == [0]


def test_align_recovers_a_shaking_camera():
    frames, _ = still_camera_clip("walk", n=2, seed=1)
    reference = frames[0]
    h, w = reference.shape[:2]
    moved = np.asarray(cv2.getRotationMatrix2D((w / 2, h / 2), 0.4, 1.0), np.float64)
    moved[:, 2] += (3.0, -2.0)
    shaken = cv2.warpAffine(reference, moved, (w, h), borderMode=cv2.BORDER_REFLECT)
    found = align(
        plate_features(cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY)),
        cv2.cvtColor(shaken, cv2.COLOR_RGB2GRAY),
    )
    assert found is not None
    # ``found`` takes the shaken frame back onto the reference: composed, the identity
    back = found @ np.vstack([moved, [0.0, 0.0, 1.0]])
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64).T
    assert np.abs(back @ corners - corners).max() < 0.75


def test_the_plate_is_the_scene_without_the_walker_and_its_shadow():
    frames, masks = still_camera_clip("walk", n=48, seed=2)
    plate = _plate_of(frames)
    assert plate is not None
    evidence = change_evidence(frames[0], plate.lab, plate.texture)
    walker = masks[0]
    assert (evidence[walker] > 0).mean() > 0.75
    # the shadow: a band under the walker's feet, off the walker
    ys, xs = np.nonzero(walker)
    shadow = np.zeros_like(walker)
    shadow[ys.max() + 1 : ys.max() + 5, xs.min() + 15 : xs.max() - 15] = True
    shadow &= ~cv2.dilate(walker.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert shadow.sum() > 100
    assert (evidence[shadow] > 0).mean() < 0.35
    # the pavement away from it is the plate's
    assert background_change_share(evidence, plate.valid, walker) < 0.05


def test_a_cast_shadow_on_textured_ground_is_ground_but_a_patch_of_fur_is_not():
    rng = np.random.default_rng(0)
    h, w = 120, 160
    grain = cv2.GaussianBlur(rng.normal(0, 6, (h, w)).astype(np.float32), (0, 0), 0.8)
    ground = np.clip(np.dstack([190 + grain] * 3), 0, 255).astype(np.uint8)
    lab = cv2.cvtColor(ground, cv2.COLOR_RGB2LAB).astype(np.float32)
    from sam2matting.trackers.builtin_plate import _texture

    texture = _texture(lab[..., 0])
    shade = np.zeros((h, w), np.float32)
    cv2.rectangle(shade, (20, 30), (140, 90), 1.0, -1)
    shade = cv2.GaussianBlur(shade, (0, 0), 6.0)
    shadowed = np.clip(ground * (1.0 - 0.5 * shade[..., None]), 0, 255).astype(np.uint8)
    evidence = change_evidence(shadowed, lab, texture)
    core = shade > 0.9
    assert (evidence[core] > 0).mean() < 0.05
    furry = shadowed.copy()
    strands = cv2.GaussianBlur(rng.normal(0, 45, (h, w)).astype(np.float32), (0, 0), 1.2, 0.5)
    patch = np.zeros((h, w), bool)
    patch[45:75, 50:110] = True
    furry[patch] = np.clip(190 + strands[patch, None], 0, 255).astype(np.uint8)
    evidence = change_evidence(furry, lab, texture)
    assert (evidence[patch] > 0).mean() > 0.7


def test_no_plate_for_a_panning_camera():
    frames, _ = fast_motion_clip(n=20, seed=0, path="follow", pan=(40.0, 6.0))
    assert _plate_of(frames, count=10) is None


def test_region_in_box_is_the_object_only_when_it_fills_the_box():
    changed = np.zeros((100, 100), bool)
    changed[20:80, 30:70] = True
    changed[50, 30:70] = False  # a one-pixel gap, closed
    region = region_in_box(changed, (30, 20, 70, 80))
    assert region is not None
    assert region[20:80, 30:70].all()
    assert region_in_box(changed, (0, 0, 100, 100)) is None  # a part of what is in the box


def test_camera_still_reads_the_flow():
    flow = np.zeros((64, 96, 2), np.float32)
    flow[20:40, 30:60] = 5.0  # an object moving
    assert camera_still(flow)
    flow[..., 0] += 0.5
    assert not camera_still(flow)


def test_a_box_on_a_white_animal_on_a_light_pavement_takes_the_animal():
    """The case of ``01_dog.mp4``: the animal's whites are the pavement's greys; only the
    empty pavement the camera saw elsewhere in the clip tells them apart."""
    frames, masks = still_camera_clip("walk", n=48, seed=0)
    prompt = Box(*_box(masks[0]), frame=0, object_id=1)
    with_plate = _run(frames, prompt)
    without = _run(frames, prompt, plate_frames=0)
    assert jaccard(with_plate[0], masks[0]) > 0.7
    assert jaccard(without[0], masks[0]) < 0.45
    assert (
        np.mean([jaccard(p, m) for p, m in zip(with_plate, masks, strict=True)])
        > np.mean([jaccard(p, m) for p, m in zip(without, masks, strict=True)]) + 0.05
    )


@pytest.mark.parametrize("case", ["still"])
def test_an_object_that_never_moves_is_tracked_as_without_the_plate(case):
    """The plate holds an object that stays put: the cue must stay silent."""
    assert case in STILL_CASES
    frames, masks = still_camera_clip(case, n=24, seed=0)
    prompt = MaskPrompt(masks[0], frame=0, object_id=1)
    with_plate = _run(frames, prompt)
    without = _run(frames, prompt, plate_frames=0)
    assert all(np.array_equal(a, b) for a, b in zip(with_plate, without, strict=True))


def test_a_panning_camera_is_tracked_as_without_the_plate():
    frames, masks = fast_motion_clip(n=16, seed=1, path="follow", pan=(40.0, 6.0))
    prompt = MaskPrompt(masks[0], frame=0, object_id=1)
    with_plate = _run(frames, prompt)
    without = _run(frames, prompt, plate_frames=0)
    assert all(np.array_equal(a, b) for a, b in zip(with_plate, without, strict=True))


def test_the_plate_removes_the_ground_a_walker_dragged_along():
    """From the true first mask, the still camera's plate keeps the pavement between the
    legs and the shadow out of the walker's mask."""
    frames, masks = still_camera_clip("walk", n=48, seed=1)
    prompt = MaskPrompt(masks[0], frame=0, object_id=1)
    with_plate = _run(frames, prompt)
    without = _run(frames, prompt, plate_frames=0)
    extra = lambda runs: np.mean(  # noqa: E731
        [np.count_nonzero(p & ~m) / m.sum() for p, m in zip(runs, masks, strict=True)]
    )
    assert extra(with_plate) < 0.8 * extra(without)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"plate_frames": 3}, "plate_frames"),
        ({"plate_span": 0}, "plate_span"),
        ({"plate_strength": -1.0}, "plate_strength"),
    ],
)
def test_plate_options_are_checked(options, message):
    with pytest.raises(Sam2MattingError, match=message):
        build(**options)
