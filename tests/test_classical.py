from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.matting import build_head
from sam2matting.matting.classical import guided_filter
from sam2matting.matting.foreground import estimate_foreground
from sam2matting.samples import make_sample_clip
from sam2matting.types import ObjectTrack


@pytest.fixture(scope="module")
def frame() -> tuple[np.ndarray, np.ndarray, dict[int, ObjectTrack]]:
    clip = make_sample_clip(256, 144, 4)
    image, alpha = clip.frame(1)
    # a tracker-like mask: the binary matte seen through a blocky 64×36 logit map
    low = cv2.resize((alpha > 0.5).astype(np.float32), (64, 36), interpolation=cv2.INTER_AREA)
    return image, alpha, {1: ObjectTrack(logits=(low - 0.5) * 20)}


def test_guided_filter_of_constant_is_constant() -> None:
    rng = np.random.default_rng(0)
    guide = rng.random((40, 50, 3), dtype=np.float32)
    out = guided_filter(guide, np.full((40, 50), 0.7, np.float32), 4, 1e-3)
    np.testing.assert_allclose(out, 0.7, atol=1e-4)


def test_guided_filter_follows_guide_edges() -> None:
    guide = np.zeros((32, 32, 3), np.float32)
    guide[:, 16:] = 1.0
    src = np.zeros((32, 32), np.float32)
    src[:, 13:] = 1.0  # a mask edge 3 px off the image edge
    out = guided_filter(guide, src, 5, 1e-4)
    # the output jumps where the image does (column 15 → 16), unlike a plain blur of the mask
    blurred = cv2.blur(src, (11, 11))
    assert out[16, 16] - out[16, 15] > 0.3 > blurred[16, 16] - blurred[16, 15]
    assert out[16, 16:].min() > 0.95


@pytest.mark.parametrize("name", ["mask", "guided", "closed-form"])
def test_heads_return_valid_alpha(frame, name: str) -> None:
    image, truth, tracks = frame
    alpha = build_head(name).matte(image, tracks)[1]
    assert alpha.shape == truth.shape and alpha.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0


def test_guided_beats_mask_only(frame) -> None:
    image, truth, tracks = frame
    mad_mask = np.abs(build_head("mask").matte(image, tracks)[1] - truth).mean()
    mad_guided = np.abs(build_head("guided").matte(image, tracks)[1] - truth).mean()
    assert mad_guided < mad_mask


def test_empty_mask_gives_zero_alpha(frame) -> None:
    image, _, _ = frame
    tracks = {3: ObjectTrack(logits=np.full((36, 64), -10, np.float32))}
    alpha = build_head("guided").matte(image, tracks)[3]
    assert not alpha.any()


def test_foreground_removes_background_colour() -> None:
    # a red subject with a soft edge over blue: the soft pixels' foreground must be red, not purple
    h, w = 32, 48
    alpha = np.zeros((h, w), np.float32)
    alpha[:, :20] = 1.0
    alpha[:, 20:28] = np.linspace(0.9, 0.1, 8)
    fg_true = np.array([1.0, 0.0, 0.0], np.float32)
    bg = np.array([0.0, 0.0, 1.0], np.float32)
    image = alpha[..., None] * fg_true + (1 - alpha[..., None]) * bg
    fg = estimate_foreground((image * 255).round().astype(np.uint8), alpha)
    soft = fg[:, 20:28]
    assert soft[..., 0].mean() > 0.9 and soft[..., 2].mean() < 0.1


def test_unknown_head_is_a_clear_error() -> None:
    from sam2matting.errors import Sam2MattingError

    with pytest.raises(Sam2MattingError, match="unknown matting head"):
        build_head("nope")
