"""Colour-line refinement of finished mattes (matting/edge_refine.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.matting.edge_refine import colour_line_refine


def _disc_scene(h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A red disc on a textured blue background, anti-aliased (4× supersampled): image, alpha."""
    s = 4
    yy, xx = np.mgrid[0 : h * s, 0 : w * s]
    big = ((yy - 48 * s) ** 2 + (xx - 60 * s) ** 2 < (30 * s) ** 2).astype(np.float32)
    alpha = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    bg = np.zeros((h, w, 3), np.float32)
    bg[..., 2] = 0.6 + 0.1 * rng.random((h, w))
    bg[..., 1] = 0.2
    fg = np.zeros((h, w, 3), np.float32)
    fg[..., 0] = 0.9
    fg[..., 1] = 0.3
    img = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return (img * 255).round().astype(np.uint8), alpha


def test_halo_on_hard_edge_is_pulled_back() -> None:
    image, truth = _disc_scene()
    # what a head that softens outlines hands over: a one-pixel ring of 0.35 outside the edge
    inside = (truth > 0.5).astype(np.uint8)
    ring = cv2.dilate(inside, np.ones((3, 3), np.uint8)) - inside
    halo = np.maximum(truth, 0.35 * ring.astype(np.float32))
    refined = colour_line_refine(image, halo, 2, 1e-4)
    outside = (truth == 0) & (halo > 0.05)  # halo pixels with the background's colour
    assert outside.sum() > 100
    assert refined[outside].mean() < 0.5 * halo[outside].mean()
    # and the object's core is kept
    core = cv2.erode(inside, np.ones((7, 7), np.uint8)).astype(bool)
    assert refined[core].min() > 0.99


def test_binary_staircase_is_antialiased_along_the_image() -> None:
    image, truth = _disc_scene()
    mask = (truth > 0.5).astype(np.float32)
    refined = colour_line_refine(image, mask, 2, 1e-4)
    assert np.abs(refined - truth).mean() < np.abs(mask - truth).mean()


def test_thin_strand_survives() -> None:
    h, w = 64, 64
    image = np.full((h, w, 3), 40, np.uint8)
    image[:, 31] = (230, 230, 210)  # a one-pixel bright strand
    alpha = np.zeros((h, w), np.float32)
    alpha[:, 31] = 1.0
    refined = colour_line_refine(image, alpha, 2, 1e-4)
    assert refined[:, 31].mean() > 0.9
    assert refined[:, :29].max() < 0.05


def test_constant_and_identity_cases() -> None:
    image, truth = _disc_scene()
    assert colour_line_refine(image, truth, 0, 1e-4) is truth
    ones = np.ones_like(truth)
    assert colour_line_refine(image, ones, 2, 1e-4) is ones
    with pytest.raises(ValueError, match="eps"):
        colour_line_refine(image, truth, 2, 0.0)


def test_pixels_far_from_the_outline_are_untouched_and_input_kept() -> None:
    image, truth = _disc_scene(96, 256)  # the disc sits left; columns past ~100 are constant
    mask = (truth > 0.5).astype(np.float32)
    before = mask.copy()
    refined = colour_line_refine(image, mask, 2, 1e-4)
    np.testing.assert_array_equal(mask, before)  # input not modified
    # beyond 2·radius + 1 px of the outline every window is constant: bit-identical
    outline = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    far = cv2.dilate(outline.astype(np.uint8), np.ones((11, 11), np.uint8)) == 0
    np.testing.assert_array_equal(refined[far], mask[far])
    assert (refined[~far] != mask[~far]).any()
    assert np.isfinite(refined).all()
    assert refined.min() >= 0.0 and refined.max() <= 1.0


def test_blockwise_filter_equals_the_whole_frame_filter() -> None:
    from sam2matting.matting.classical import guided_filter

    image, truth = _disc_scene(200, 300)
    rng = np.random.default_rng(1)
    alpha = np.clip(
        truth + 0.2 * rng.standard_normal(truth.shape) * (truth > 0) * (truth < 1), 0, 1
    )
    alpha = alpha.astype(np.float32)
    whole = np.clip(guided_filter(image.astype(np.float32) / 255.0, alpha, 2, 1e-4), 0, 1)
    for block in (16, 37, 128):
        blockwise = colour_line_refine(image, alpha, 2, 1e-4, block=block)
        np.testing.assert_allclose(blockwise, whole, atol=5e-4)  # float32 rounding
