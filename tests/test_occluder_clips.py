"""``eval.occluder_clips.cutout_pole_clip``: thin poles sweeping across a cutout the camera
pans with, and the same clip without them (the control of ``bench_builtin.py --only
occluders``)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.eval.motion_clips import HEIGHT, WIDTH, textured_background
from sam2matting.eval.occluder_clips import cutout_pole_clip


def _walker() -> tuple[np.ndarray, np.ndarray]:
    """A warm ellipse with a soft edge: a cutout's RGB and alpha (uint8)."""
    alpha = np.zeros((120, 90), np.uint8)
    cv2.ellipse(alpha, (45, 60), (35, 52), 0, 0, 360, 255, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.5)
    rgb = np.zeros((120, 90, 3), np.uint8)
    rgb[...] = (200, 120, 60)
    return rgb, alpha


def test_poles_sweep_across_the_walker_and_the_control_is_the_same_clip_without_them() -> None:
    panorama = textured_background(HEIGHT, 3 * WIDTH, seed=1)
    frames, masks = cutout_pole_clip(panorama, _walker(), n=30, seed=2)
    bare, whole = cutout_pole_clip(panorama, _walker(), n=30, seed=2, poles=0)
    assert len(frames) == len(masks) == 30
    assert frames[0].shape == (HEIGHT, WIDTH, 3) and frames[0].dtype == np.uint8
    assert masks[0].shape == (HEIGHT, WIDTH) and masks[0].dtype == bool
    # the truth is the walker where no pole covers it: never more than the control's
    hidden = [int(np.count_nonzero(w & ~m)) for m, w in zip(masks, whole, strict=True)]
    assert all(np.count_nonzero(m & ~w) == 0 for m, w in zip(masks, whole, strict=True))
    # the poles cross the walker: on several frames, in more than one sweep
    crossing = [i for i, h in enumerate(hidden) if h > 0]
    assert len(crossing) >= 5
    assert max(np.diff(crossing)) > 1  # a gap between two poles' passes
    # the poles are the only difference: full-height columns
    for a, b in zip(frames, bare, strict=True):
        changed = np.abs(a.astype(int) - b.astype(int)).sum(axis=-1) > 0
        columns = changed.any(axis=0)
        assert changed[:, columns].mean() > 0.9
        assert columns.mean() < 0.2
    # the camera follows the walker: it drifts less than 0.6 px a frame in the picture
    first, last = np.nonzero(whole[0])[1], np.nonzero(whole[-1])[1]
    assert abs(first.mean() - last.mean()) < 0.7 * 30
    # deterministic
    again, _ = cutout_pole_clip(panorama, _walker(), n=30, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))


def test_bad_pole_clip_arguments_are_refused() -> None:
    panorama = textured_background(HEIGHT, 3 * WIDTH, seed=1)
    with pytest.raises(ValueError, match="at least 2 frames"):
        cutout_pole_clip(panorama, _walker(), n=1)
    with pytest.raises(ValueError, match=r"poles must be 0\.\.3"):
        cutout_pole_clip(panorama, _walker(), poles=4)
    with pytest.raises(ValueError, match="panorama too narrow"):
        cutout_pole_clip(panorama[:, :WIDTH], _walker(), n=48)
