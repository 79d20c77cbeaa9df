from __future__ import annotations

import numpy as np

from sam2matting.bridge.trimap import (
    UNKNOWN,
    band_width_for,
    ground_truth_roi,
    morphological_trimap,
    pseudo_trimap,
)


def _square(n: int = 64, lo: int = 20, hi: int = 44) -> np.ndarray:
    m = np.zeros((n, n), bool)
    m[lo:hi, lo:hi] = True
    return m


def test_morphological_trimap_band_is_around_the_boundary() -> None:
    m = _square()
    t = morphological_trimap(m, radius=3)
    assert set(np.unique(t)) == {0.0, UNKNOWN, 1.0}
    assert t[32, 32] == 1.0 and t[0, 0] == 0.0
    # the mask starts at column 20: columns 17..22 (3 px either side of the edge) are unknown
    assert t[32, 16] == 0.0 and t[32, 23] == 1.0
    assert (t[32, 17:23] == UNKNOWN).all()


def test_asymmetric_band() -> None:
    t = morphological_trimap(_square(), radius=5, inner_radius=1)
    assert t[32, 15] == UNKNOWN and t[32, 22] == 1.0


def test_band_width_scales_with_resolution() -> None:
    assert band_width_for(288, 512) < band_width_for(2160, 3840)
    assert band_width_for(10, 10) == 3


def test_pseudo_trimap_numpy_and_torch_agree() -> None:
    import torch

    m = _square()
    roi = np.zeros_like(m)
    roi[18:24, :] = True
    t = pseudo_trimap(m, roi)
    assert t[20, 30] == UNKNOWN and t[32, 32] == 1.0 and t[0, 0] == 0.0
    tt = pseudo_trimap(torch.from_numpy(m), torch.from_numpy(roi))
    np.testing.assert_array_equal(tt.numpy(), t)


def test_ground_truth_roi_covers_soft_pixels() -> None:
    alpha = np.zeros((64, 64), np.float32)
    alpha[20:44, 20:44] = 1.0
    alpha[20:44, 44:48] = 0.3  # soft fringe
    roi = ground_truth_roi(alpha, radius=2)
    assert roi[30, 45] and not roi[32, 30] and not roi[0, 0]
