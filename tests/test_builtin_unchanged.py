"""The background already seen, unchanged (``trackers/builtin_unchanged.py``)."""

from __future__ import annotations

import cv2
import numpy as np

from builtin_clips import ellipse_clip, j_curves
from sam2matting.trackers.builtin_unchanged import (
    drop_unchanged,
    unchanged_level,
    unchanged_residual,
    unchanged_smallest,
)

H, W = 120, 200


def pan(dx: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, 0.0]])


def frames() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(previous frame, this frame, previous mask): a textured scene panned 4 px left; the
    previous mask is a block at x 40..80."""
    rng = np.random.default_rng(5)
    previous = rng.integers(0, 256, (H, W, 3)).astype(np.uint8)
    current = cv2.warpAffine(previous, pan(-4.0), (W, H), borderMode=cv2.BORDER_REPLICATE)
    previous_mask = np.zeros((H, W), bool)
    previous_mask[40:80, 40:80] = True
    return previous, current, previous_mask


def test_pieces_added_on_the_background_already_seen_are_dropped() -> None:
    previous, current, previous_mask = frames()
    predicted = np.zeros((H, W), bool)
    predicted[40:80, 36:76] = True
    mask = predicted.copy()
    mask[40:80, 100:120] = True  # added on the scene, unchanged (up to noise under the level)
    mask[40:80, 130:150] = True  # added where something new came into view
    mask[10:13, 10:13] = True  # a 9-px sliver on the scene: too small to judge
    mask[85:100, 50:70] = True  # added, but the previous mask held its spot
    held = previous_mask.copy()
    held[85:100, 54:74] = True  # (4 px right: the scene moves 4 px left)
    rng = np.random.default_rng(6)
    noise = rng.integers(-6, 7, current.shape)
    frame = np.clip(current.astype(int) + noise, 0, 255).astype(np.uint8)
    frame[40:80, 130:150] = 255 - frame[40:80, 130:150] // 2
    assert unchanged_smallest() > 9
    out = drop_unchanged(mask, predicted, frame, previous, held, pan(-4.0))
    expected = mask.copy()
    expected[40:80, 100:120] = False
    assert np.array_equal(out, expected)
    # where the object's motion (here: none) explains the spot better, it is the object's:
    # an object moving onto a spot of its own colours, its texture moving with it
    # (a faint texture at x 96..128: the background's motion changes it by a few grey levels,
    # the object's, none)
    faint = previous.copy()
    faint[40:80, 96:128] = 120 + rng.integers(-4, 5, (40, 32, 3))
    moved_with = cv2.warpAffine(faint, pan(-4.0), (W, H), borderMode=cv2.BORDER_REPLICATE)
    moved_with[40:80, 100:120] = faint[40:80, 100:120]
    change = unchanged_residual(moved_with, faint, held, pan(-4.0))
    assert 0 < np.median(change[40:80, 100:120]) < unchanged_level()
    assert not drop_unchanged(mask, predicted, moved_with, faint, held, pan(-4.0))[
        40:80, 100:120
    ].any()
    out = drop_unchanged(mask, predicted, moved_with, faint, held, pan(-4.0), pan(0.0))
    assert out[40:80, 100:120].all()
    out = drop_unchanged(mask, predicted, frame, previous, held, pan(-4.0), pan(0.0))
    assert np.array_equal(out, expected)
    # the predicted object is never judged, however unchanged its pixels
    kept = drop_unchanged(predicted, predicted, current, current, previous_mask, pan(0.0))
    assert np.array_equal(kept, predicted)
    # judged, its strip outside the previous mask alone would go
    strip = np.zeros((H, W), bool)
    strip[40:80, 36:40] = True
    assert not drop_unchanged(strip, ~strip, current, current, previous_mask, pan(0.0)).any()


def test_the_residual_is_the_change_under_the_background_s_motion() -> None:
    previous, current, previous_mask = frames()
    change = unchanged_residual(current, previous, previous_mask, pan(-4.0))
    # the scene is reproduced exactly; the previous mask (moved 4 px left) is infinite;
    # the right edge, brought in from outside the previous frame, too
    assert np.isinf(change[40:80, 36:76]).all()
    assert not np.isinf(change[40:80, 76:80]).any()
    assert np.isinf(change[:, W - 4 :]).all()
    assert float(change[~np.isinf(change)].max()) == 0.0
    # a window gives that window of the whole frame's
    whole = unchanged_residual(current, previous, previous_mask, pan(-2.5))
    part = unchanged_residual(current, previous, previous_mask, pan(-2.5), (30, 20, 150, 90))
    assert np.array_equal(part, whole[20:90, 30:150])
    assert unchanged_level() == 10.0


def test_an_object_passing_a_still_patch_of_its_colours_does_not_take_it_in() -> None:
    """End to end through the tracker: without the test the mask grows into the patch as the
    object reaches it (J 0.52 by frame 24); with it the patch stays out (lowest J 0.97). The
    clip: :func:`builtin_clips.ellipse_clip` on row 66 with a still patch of its colours."""
    patch = (slice(78, 100), slice(120, 200))  # flat, of the object's colours, just below its path
    curves = j_curves(*ellipse_clip(30, 66, under=(patch, (200, 115, 45))), "unchanged_background")
    assert min(curves[True][1:]) > 0.9
    assert min(curves[False][1:]) < 0.6


def test_an_object_moving_into_a_still_patch_of_its_colours_is_held() -> None:
    """``eval/texture_clips.same_colour_clip``: an object moves into a still patch of its own
    colours in another texture. Without the test the mask spreads into the patch (lowest J
    0.10; 0.75 with it); the patch's pixels are the scene the previous frame showed, unchanged."""
    from sam2matting.eval.metrics import jaccard
    from sam2matting.eval.texture_clips import same_colour_clip
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import build
    from sam2matting.types import MaskPrompt

    frames, masks = same_colour_clip(24)
    lowest = {}
    for on in (False, True):
        with build(unchanged_background=on).open(ArraySource(frames)) as session:
            session.add_prompt(MaskPrompt(masks[0]))
            lowest[on] = min(
                jaccard(tf.objects[1].mask(288, 512), masks[tf.index])
                for tf in session.propagate(0)
            )
    assert lowest[False] < 0.3
    assert lowest[True] > 0.7
