"""Mask boxes and centres (:mod:`sam2matting.trackers.builtin_masks`): the same numbers as
listing the pixels with ``np.nonzero``, which the tracker's per-frame steps used before."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.trackers.builtin_masks import binary_u8, mask_bounds, mask_centre, mask_pixels


def _random_masks(n: int = 60) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        m = np.zeros((288, 512), np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            centre = (int(rng.integers(0, 512)), int(rng.integers(0, 288)))
            axes = (int(rng.integers(1, 200)), int(rng.integers(1, 120)))
            cv2.ellipse(m, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        out.append(m > 0)
    return out


def test_bounds_and_centre_equal_those_of_the_listed_pixels_exactly() -> None:
    for m in [*_random_masks(), np.ones((288, 512), bool)]:
        ys, xs = np.nonzero(m)
        assert mask_bounds(m) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        # exact (integer sums), so the tracker's results do not move by a bit
        assert mask_centre(m) == (float(xs.mean()), float(ys.mean()))


def test_views_and_single_pixels_and_empty_masks() -> None:
    m = np.zeros((50, 80), bool)
    m[7, 11] = True
    assert mask_bounds(m) == (11, 7, 12, 8) and mask_centre(m) == (11.0, 7.0)
    strided = np.zeros((100, 160), bool)
    strided[14, 22] = True
    assert mask_bounds(strided[::2, ::2]) == (11, 7, 12, 8)
    assert mask_bounds(np.zeros((5, 5), bool)) is None
    assert mask_centre(np.zeros((5, 5), bool)) is None


def test_pixels_are_those_np_nonzero_lists_in_the_same_order() -> None:
    masks = [*_random_masks(20), np.ones((288, 512), bool), np.zeros((288, 512), bool)]
    masks.append(masks[0][::3, ::2])  # a strided view
    masks.append(np.asfortranarray(masks[1]))
    for m in masks:
        ys, xs = mask_pixels(m)
        ry, rx = np.nonzero(m)
        assert np.array_equal(ys, ry) and np.array_equal(xs, rx)
        assert ys.dtype == ry.dtype and xs.dtype == rx.dtype
    with pytest.raises(ValueError, match="2-D"):
        mask_pixels(np.ones((2, 3, 4), bool))


def test_binary_image_gives_opencvs_binary_moments() -> None:
    rng = np.random.default_rng(1)
    for m in _random_masks(10):
        # weights that a uint8 cast keeps (2.7 → 2) or drops (0.4 → 0), as binaryImage reads them
        weights = (m * rng.uniform(0.0, 3.0, m.shape)).astype(np.float32)
        for image in (m, weights, m.astype(np.uint8) * 255):
            u = binary_u8(image)
            assert u.dtype == np.uint8 and set(np.unique(u)) <= {0, 1}
            ours = cv2.moments(u)
            theirs = cv2.moments(np.ascontiguousarray(image, dtype=np.uint8), binaryImage=True)
            assert all(ours[k] == theirs[k] for k in ("m00", "m10", "m01"))


def test_shifted_moves_a_mask_nearest_or_covering() -> None:
    from sam2matting.trackers.builtin_masks import shifted

    mask = np.zeros((20, 30), bool)
    mask[5:10, 4:8] = True
    expected = np.zeros_like(mask)
    expected[7:12, 7:11] = True
    assert np.array_equal(shifted(mask, 3.0, 2.0), expected)
    assert np.array_equal(shifted(mask, 3.0, 2.0, nearest=False), expected)
    # a sub-pixel move: nearest keeps the size; bilinear is OpenCV's, rounded on uint8
    assert shifted(mask, 0.5, 0.0).sum() == mask.sum()
    for dx, dy in ((0.5, 0.0), (0.3, -1.7), (12.25, 3.5)):
        direct = cv2.warpAffine(
            mask.astype(np.uint8),
            np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]]),
            (30, 20),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        assert np.array_equal(shifted(mask, dx, dy, nearest=False), direct > 0)
    # moved out of the frame: empty
    assert not shifted(mask, 40.0, 0.0).any()
