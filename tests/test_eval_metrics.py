"""Metrics on hand-computable cases, and Conn against a direct (slow) reading of its definition."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import ndimage

from sam2matting.eval import metrics as M


def _smooth_matte(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A soft blob with a gradient rim, quantised to 8 bits."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65)
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    return M.quantize_alpha(np.clip((0.3 * min(h, w) - d) / 6.0, 0, 1))


def test_quantize_is_round_half_up_to_8_bits() -> None:
    q = M.quantize_alpha(np.array([[0.0, 0.5, 1.0, 1.3, -0.2, 0.2 / 255]], np.float32))
    assert np.allclose(q * 255, [[0, 128, 255, 255, 0, 0]])
    assert np.array_equal(
        M.quantize_alpha(np.array([[0, 77, 255]], np.uint8)) * 255, [[0, 77, 255]]
    )


def test_identical_mattes_score_zero() -> None:
    a = _smooth_matte()
    for f in (M.mad, M.mse, M.grad, M.grad_hr, M.conn):
        assert f(a, a) == 0.0, f.__name__
    assert M.dtssd(a, a, a, a) == 0.0
    assert M.jaccard(a > 0.5, a > 0.5) == 1.0
    assert M.boundary_f(a > 0.5, a > 0.5) == 1.0


def test_constant_offset_gives_mad_d_times_1e3() -> None:
    true = np.full((20, 30), 100 / 255, np.float32)
    d = 25 / 255
    pred = true + d
    assert M.mad(pred, true) == pytest.approx(d * 1e3, rel=1e-5)
    assert M.mse(pred, true) == pytest.approx(d * d * 1e3, rel=1e-5)
    # an offset does not change gradients: Grad-HR is 0
    soft = _smooth_matte() * 0.5
    assert M.grad_hr(soft + 0.25, soft) == pytest.approx(0.0, abs=1e-6)


def test_grad_normalisation_ignores_affine_changes_hr_does_not() -> None:
    a = _smooth_matte()
    b = 0.5 * a + 0.2
    assert M.grad(b, a) == pytest.approx(0.0, abs=1e-6)  # min–max normalised: same matte
    assert M.grad_hr(b, a) > 0.0
    # quadratic in the gradient difference: half the edge height → a quarter of Grad-HR vs flat
    flat = np.zeros_like(a)
    assert M.grad_hr(0.5 * a, flat) == pytest.approx(0.25 * M.grad_hr(a, flat), rel=1e-5)


def test_gaussian_derivative_kernel() -> None:
    kx, ky = M.gaussian_derivative_filters(1.4)
    assert kx.shape == (9, 9)  # half-width ceil(1.4·sqrt(−2 ln(sqrt(2π)·1.4·0.01))) = 4
    assert np.sqrt((kx**2).sum()) == pytest.approx(1.0)
    assert np.allclose(kx, -kx[:, ::-1])  # odd along x
    assert np.allclose(ky, kx.T)


def test_grad_of_one_pixel_shift_is_positive_and_symmetric() -> None:
    a = np.zeros((32, 32), np.float32)
    a[:, 16:] = 1.0
    b = np.roll(a, 1, axis=1)
    b[:, 0] = 0.0
    g = M.grad(b, a)
    assert g > 0
    assert g == pytest.approx(M.grad(a, b), rel=1e-6)
    assert M.mad(b, a) == pytest.approx(1e3 / 32)  # one column of 32 differs by 1


def test_conn_counts_a_disconnected_blob() -> None:
    true = np.zeros((40, 40), np.float32)
    true[5:20, 5:20] = 1.0
    pred = true.copy()
    pred[30:34, 30:35] = 1.0  # 20 pixels, not connected to the subject
    # blob pixels: level 0 in the prediction (never in the largest component) → φ̂ = 0, φ = 1
    assert M.conn(pred, true) == pytest.approx(20 / 1e3)
    # MAD sees the same 20 pixels
    assert M.mad(pred, true) == pytest.approx(20 / 1600 * 1e3)


def _conn_reference(pred: np.ndarray, true: np.ndarray) -> float:
    """Conn read straight from its definition, with scipy labelling (4-connectivity)."""
    th = np.arange(0.0, 1.1, 0.1)
    level = np.full(true.shape, -1.0)
    for i in range(1, len(th)):
        inter = (true >= th[i]) & (pred >= th[i])
        lab, n = ndimage.label(inter)
        omega = np.zeros(true.shape, bool)
        if n:
            sizes = np.bincount(lab.ravel())[1:]
            omega = lab == 1 + int(np.argmax(sizes))
        level[(level == -1) & ~omega] = th[i - 1]
    level[level == -1] = 1.0
    td, pd = true - level, pred - level
    return float(np.abs((1 - td * (td >= 0.15)) - (1 - pd * (pd >= 0.15))).sum() / 1e3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conn_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    true = _smooth_matte(seed=seed)
    noise = rng.normal(0, 0.15, true.shape).astype(np.float32)
    pred = M.quantize_alpha(np.clip(true + noise * (true > 0.05), 0, 1))
    pred[rng.random(true.shape) < 0.01] = 1.0  # speckles: extra components
    assert M.conn(pred, true) == pytest.approx(_conn_reference(pred, true), rel=1e-6, abs=1e-9)


def test_conn_of_empty_mattes_is_zero() -> None:
    z = np.zeros((10, 10), np.float32)
    assert M.conn(z, z) == 0.0


def test_dtssd() -> None:
    a = _smooth_matte()
    # static clip predicted perfectly or with a constant error: 0
    assert M.dtssd(a, a, a, a) == 0.0
    assert M.dtssd(a + 0.1, a + 0.1, a, a) == pytest.approx(0.0, abs=1e-6)
    # the prediction jumps by d between frames while the truth does not: d × 1e2
    d = 0.05
    assert M.dtssd(a + d, a, a, a) == pytest.approx(d * 1e2, rel=1e-4)


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (h // 4, w // 4, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def test_flicker_static_and_moving() -> None:
    img = _texture(96, 128)
    a = _smooth_matte(96, 128)
    assert M.flicker(a, a, img, img) == pytest.approx(0.0, abs=1e-9)
    d = 0.1
    assert M.flicker(np.clip(a + d, 0, 1), a, img, img) == pytest.approx(
        float(((np.clip(a + d, 0, 1) - a) ** 2).mean() * 1e3), rel=1e-4
    )
    # everything shifts 3 px right: the warped previous matte explains the current one
    img2 = np.roll(img, 3, axis=1)
    a2 = np.roll(a, 3, axis=1)
    flow = M.compute_flow_pair(img2, img)
    assert flow.valid.mean() > 0.8
    assert M.flicker(a2, a, flow=flow) < 0.2 * M.mse(a2, a)


def test_jaccard_and_boundary_f() -> None:
    a = np.zeros((100, 100), bool)
    b = np.zeros((100, 100), bool)
    a[10:20, 10:20] = True
    b[10:20, 15:25] = True
    assert M.jaccard(a, b) == pytest.approx(50 / 150)
    assert M.jaccard(np.zeros_like(a), np.zeros_like(a)) == 1.0
    assert M.boundary_f(np.zeros_like(a), np.zeros_like(a)) == 1.0
    assert M.boundary_f(a, np.zeros_like(a)) == 0.0
    # tolerance ceil(0.008 × 141.4) = 2 px: a one-pixel shift is a perfect contour match
    assert M.boundary_f(a, np.roll(a, 1, axis=1)) == 1.0
    assert M.boundary_f(a, b) < 1.0
    big = np.zeros((100, 100), bool)
    big[50:90, 50:90] = True
    assert M.boundary_f(a, big) == 0.0  # far apart


def test_mask_boundary_is_one_pixel_wide() -> None:
    m = np.zeros((10, 10), bool)
    m[3:7, 3:7] = True
    b = M.mask_boundary(m)
    assert b.sum() > 0 and b[4:6, 4:6].sum() == 0


def test_clip_state_streams_and_times() -> None:
    img = _texture(48, 64)
    a = _smooth_matte()
    state = M.ClipMetricState()
    first = state.update(a, a, img)
    assert first["dtssd"] == 0.0 and first["flicker"] == 0.0 and first["mad"] == 0.0
    second = state.update(a, a, img)
    assert second["dtssd"] == 0.0 and second["flicker"] == pytest.approx(0.0, abs=1e-9)
    assert set(second) == {*M.MATTING_METRICS, "flicker_gt", *M.MASK_METRICS}
    assert "conn" in state.seconds and "flow" in state.seconds
    only = M.ClipMetricState(metrics=("mad", "dtssd"))
    assert set(only.update(a, a)) == {"mad", "dtssd"}
    with pytest.raises(ValueError, match="unknown metrics"):
        M.ClipMetricState(metrics=("sad",))
    with pytest.raises(ValueError):
        M.mad(a, a[:-1])


def test_metrics_are_fast_at_512x288() -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:288, 0:512].astype(np.float32)
    true = M.quantize_alpha(np.clip((90 - np.hypot(xx - 256, yy - 144)) / 8, 0, 1))
    pred = M.quantize_alpha(np.clip(true + rng.normal(0, 0.05, true.shape) * (true > 0), 0, 1))
    t0 = time.perf_counter()
    for _ in range(5):
        M.conn(pred, true)
        M.grad(pred, true)
    per_frame = (time.perf_counter() - t0) / 5
    assert per_frame < 0.25, f"Conn + Grad took {per_frame * 1e3:.0f} ms per 512×288 frame"
