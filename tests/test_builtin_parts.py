"""Parts of an object found again beyond an occluder (``trackers/builtin_parts.py``)."""

from __future__ import annotations

import numpy as np

from builtin_clips import ellipse_clip, j_curves
from sam2matting.trackers.builtin_parts import (
    recover_parts,
    recovery_gap,
    recovery_part_share,
    recovery_trigger,
    relative_motion,
)
from sam2matting.trackers.builtin_unchanged import unchanged_level, unchanged_residual

H, W = 120, 200
STILL = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def moving(dx: float, dy: float = 0.0) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def scene(part: tuple[int, int, int, int] = (40, 80, 95, 125)) -> tuple[np.ndarray, ...]:
    """An object at x 40..125, y 40..80 behind a trunk at x 80..95: the mask holds the near
    side (1600 px), the far side ``part`` (y0, y1, x0, x1; 1200 px) shows object colours that
    move with the object; everything else is background."""
    mask = np.zeros((H, W), bool)
    mask[40:80, 40:80] = True
    colour = np.full((H, W), -3.0, np.float32)
    motion = np.full((H, W), -1.0, np.float32)
    colour[mask] = 3.0
    motion[mask] = 2.0
    y0, y1, x0, x1 = part
    colour[y0:y1, x0:x1] = 3.0
    motion[y0:y1, x0:x1] = 2.0
    return mask, colour, colour + motion, motion


def test_the_part_beyond_the_occluder_on_the_side_the_object_moves_to_comes_back() -> None:
    mask, colour, evidence, motion = scene()
    added = recover_parts(mask, colour, evidence, motion, 4400.0, moving(4.0), STILL)
    expected = np.zeros((H, W), bool)
    expected[40:80, 95:125] = True
    assert np.array_equal(added, expected)
    # the same when the camera pans with the object: only the relative motion counts
    added = recover_parts(mask, colour, evidence, motion, 4400.0, STILL, moving(-4.0))
    assert np.array_equal(added, expected)


def test_a_region_of_the_object_colours_off_its_path_or_behind_it_stays_out() -> None:
    mask, colour, evidence, motion = scene()
    # moving up, down or left: the part on the right is not where the occluder uncovers
    for motion_model in (moving(0.0, -4.0), moving(0.0, 4.0), moving(-4.0)):
        added = recover_parts(mask, colour, evidence, motion, 4400.0, motion_model, STILL)
        assert not added.any()
    # a patch above the object while it moves right (kite-surf's town on the horizon)
    mask, colour, evidence, motion = scene(part=(0, 30, 40, 80))
    assert not recover_parts(mask, colour, evidence, motion, 4400.0, moving(4.0), STILL).any()
    # ahead (within 45° of the motion) but below the rows the object spans
    mask, colour, evidence, motion = scene(part=(82, 110, 95, 140))
    assert not recover_parts(mask, colour, evidence, motion, 4400.0, moving(4.0), STILL).any()
    # the same patch moving down-right with the object: now beside it along its motion
    assert recover_parts(mask, colour, evidence, motion, 4400.0, moving(3.0, 3.0), STILL).any()


def test_nothing_is_recovered_without_relative_motion_or_a_missing_part() -> None:
    mask, colour, evidence, motion = scene()
    # the part is held by another, trusted object: one pixel, one owner
    held = np.zeros((H, W), bool)
    held[30:90, 90:130] = True
    args = (mask, colour, evidence, motion, 4400.0, moving(4.0), STILL)
    assert not recover_parts(*args, blocked=held).any()
    assert recover_parts(*args, blocked=~held).any()
    # object and background move alike: no occluder sweeps a side of it
    assert not recover_parts(mask, colour, evidence, motion, 4400.0, moving(3.0), moving(2.5)).any()
    # the mask already holds most of the object
    full = mask.sum() / recovery_trigger() - 1
    assert not recover_parts(mask, colour, evidence, motion, full, moving(4.0), STILL).any()
    # an empty mask
    empty = np.zeros((H, W), bool)
    assert not recover_parts(empty, colour, evidence, motion, 4400.0, moving(4.0), STILL).any()


def test_parts_need_colour_motion_size_and_nearness() -> None:
    mask, colour, evidence, motion = scene()
    # background motion on the part: it does not move with the object
    still = motion.copy()
    still[40:80, 95:125] = -2.0
    assert not recover_parts(mask, colour, colour + still, still, 4400.0, moving(4.0), STILL).any()
    # compatible, not clearly object colours
    pale = colour.copy()
    pale[40:80, 95:125] = 0.5
    assert not recover_parts(mask, pale, pale + motion, motion, 4400.0, moving(4.0), STILL).any()
    # object-coloured, but less so than the mask itself (a mask that took in background
    # from a box is not extended along more of it)
    weak = colour.copy()
    weak[40:80, 95:125] = 2.0
    weak[mask] = 3.5
    assert not recover_parts(mask, weak, weak + motion, motion, 4400.0, moving(4.0), STILL).any()
    weak[mask] = 1.9
    assert recover_parts(mask, weak, weak + motion, motion, 4400.0, moving(4.0), STILL).any()
    # smaller than a part
    side = int(np.sqrt(recovery_part_share() * 4400.0)) - 2
    mask, colour, evidence, motion = scene(part=(50, 50 + side, 95, 95 + side))
    assert not recover_parts(mask, colour, evidence, motion, 4400.0, moving(4.0), STILL).any()
    # farther than an object size (66 px) from the mask
    mask, colour, evidence, motion = scene(part=(40, 80, 150, 190))
    assert not recover_parts(mask, colour, evidence, motion, 4400.0, moving(4.0), STILL).any()


def test_a_part_broken_up_by_leaves_in_front_of_it_is_one_part() -> None:
    """The far side seen through foliage: pieces each smaller than a part, separated by
    background at most 2 × ``recovery_gap`` px wide, come back together; the background
    between them stays out."""
    gap = 2 * recovery_gap()
    mask, colour, evidence, motion = scene()
    leaves = np.zeros((H, W), bool)
    leaves[40:80, 95:125] = True
    # horizontal and vertical strands every 10 px, ``gap`` px wide: 9 pieces of ~6 % of a part
    for y in range(48, 80, 10):
        leaves[y : y + gap] = False
    for x in range(103, 125, 10):
        leaves[:, x : x + gap] = False
    strands = np.zeros((H, W), bool)
    strands[40:80, 95:125] = ~leaves[40:80, 95:125]
    for term in (colour, evidence, motion):
        term[strands] = -3.0
    added = recover_parts(mask, colour, evidence, motion, 4400.0, moving(4.0), STILL)
    assert np.array_equal(added, leaves)
    # strands one pixel wider than the gap: the pieces stay apart, each too small
    for y in range(48, 80, 10):
        strands[y : y + gap + 1, 95:125] = True
    for x in range(103, 125, 10):
        strands[40:80, x : x + gap + 1] = True
    for term in (colour, evidence, motion):
        term[strands] = -3.0
    assert not recover_parts(mask, colour, evidence, motion, 4400.0, moving(4.0), STILL).any()


def test_one_frame_s_wrong_motion_fit_does_not_turn_the_search_away() -> None:
    """The relative motion is the median with the last frames': one fit that says "up" while
    the object has been moving right does not stop the part on its right coming back, and
    a lasting turn does."""
    mask, colour, evidence, motion = scene()
    args = (mask, colour, evidence, motion, 4400.0)
    assert not recover_parts(*args, moving(0.0, -4.0), STILL).any()
    right = ((4.0, 0.0), (4.5, 0.5))
    added = recover_parts(*args, moving(0.0, -4.0), STILL, recent=right)
    expected = np.zeros((H, W), bool)
    expected[40:80, 95:125] = True
    assert np.array_equal(added, expected)
    up = ((0.0, -4.0), (0.5, -4.5))
    assert not recover_parts(*args, moving(4.0), STILL, recent=up).any()
    assert relative_motion(moving(4.0), moving(1.0, 2.0), (10.0, 20.0)).tolist() == [3.0, -2.0]


def test_the_background_the_last_frame_already_showed_is_not_a_part() -> None:
    """A post of the object's colours that the object runs behind (DAVIS ``libby``, frame
    42): textureless, so its motion evidence is undecided, but the previous frame moved by
    the background's motion shows it there already, outside the mask. A part that came into
    view beyond the occluder changed what that spot shows."""
    mask, colour, evidence, motion = scene()
    rng = np.random.default_rng(3)
    previous = rng.integers(0, 256, (H, W, 3)).astype(np.uint8)
    previous_mask = np.zeros((H, W), bool)
    previous_mask[40:80, 38:78] = True
    pan = moving(-4.0)  # the camera pans with the object: the scene moves 4 px left
    import cv2

    current = cv2.warpAffine(previous, pan, (W, H), borderMode=cv2.BORDER_REPLICATE)
    args = (mask, colour, evidence, motion, 4400.0, STILL, pan)
    expected = np.zeros((H, W), bool)
    expected[40:80, 95:125] = True
    # unchanged up to noise below the level (a post): nothing comes back
    noisy = np.clip(current.astype(int) + rng.integers(-6, 7, current.shape), 0, 255)
    post = current.copy()
    post[40:80, 95:125] = noisy.astype(np.uint8)[40:80, 95:125]
    assert not recover_parts(*args, previous=(post, previous, previous_mask)).any()
    # the same spot now shows something else (the head beyond the trunk): it comes back
    head = current.copy()
    head[40:80, 95:125] = 255 - current[40:80, 95:125] // 2
    assert np.array_equal(recover_parts(*args, previous=(head, previous, previous_mask)), expected)
    # and what the previous mask held there does not count as background shown before
    held = previous_mask.copy()
    held[40:80, 99:129] = True  # 4 px right of the part's spot: the scene moves 4 px left
    assert np.array_equal(recover_parts(*args, previous=(post, previous, held)), expected)
    change = unchanged_residual(post, previous, held, pan)
    assert np.isinf(change[40:80, 95:125]).all()
    assert np.median(change[10:30, 10:190]) < unchanged_level()


def test_recovered_parts_never_grow_the_object_past_its_reference_size() -> None:
    mask, colour, evidence, motion = scene()
    # the part (1200 px) would take the mask (1600 px) past a reference size of 2700 px
    assert not recover_parts(mask, colour, evidence, motion, 2700.0, moving(4.0), STILL).any()
    assert recover_parts(mask, colour, evidence, motion, 2900.0, moving(4.0), STILL).any()


def bar_crossing(
    bar_width: int = 18, frames: int = 40
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The ellipse of :func:`builtin_clips.ellipse_clip` on row 75, passing behind a grey bar
    ``bar_width`` px wide at x 110: (frames, true masks)."""
    bar = (slice(None), slice(110, 110 + bar_width))
    return ellipse_clip(frames, 75, over=(bar, (90, 90, 100)))


def test_an_object_passing_behind_a_wide_bar_is_found_again_beyond_it() -> None:
    """End to end through the tracker: without the recovery the mask stays on the near side of
    the bar and shrinks to nothing as the object passes behind it (J 0.01 on frame 31)."""
    curves = j_curves(*bar_crossing(), "part_recovery")
    # the part beyond the bar comes back while the object is still half behind it (lowest J
    # 0.94 here), where without it the mask shrinks to nothing (0.01)
    assert min(curves[True][1:]) > 0.75
    assert np.mean(curves[True][1:]) > 0.95
    assert min(curves[False][1:]) < 0.5
