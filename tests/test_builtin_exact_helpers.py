"""The built-in tracker's hot helpers, rewritten for speed, give exactly what their plain
NumPy forms gave: the tracker's frames must not move by a bit (``LOGIT_LIMIT`` clipping, the
smallest probability, the second-highest of four strips). The affine motion fit, solved in
closed form, agrees with NumPy's solver to 1e-5 px."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.trackers.builtin import (
    _LOGIT_EPS,
    LOGIT_LIMIT,
    _components_touching,
    _fit_affine,
    _logit,
    _median,
    _regrow,
    _second_highest,
    _sigmoid,
    max_scale_change,
    regrow_colour,
)
from sam2matting.trackers.builtin_layers import _deviates


def _plain_sigmoid(z: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(z, -LOGIT_LIMIT, LOGIT_LIMIT)))).astype(np.float32)


def _plain_logit(p: np.ndarray) -> np.ndarray:
    eps = float(_plain_sigmoid(np.array([-LOGIT_LIMIT]))[0])
    q = np.clip(p, eps, 1.0 - eps)
    return np.log(q / (1.0 - q)).astype(np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_logit_equal_the_plain_formulas_bit_for_bit(dtype) -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(0.0, 8.0, (64, 96)).astype(dtype)
    z[0, :6] = [-30.0, 30.0, 0.0, LOGIT_LIMIT, -LOGIT_LIMIT, 1e-7]
    out = _sigmoid(z)
    assert out.dtype == np.float32 and np.array_equal(out, _plain_sigmoid(z))
    p = rng.random((64, 96)).astype(dtype)
    below = np.nextafter(np.float32(_LOGIT_EPS), np.float32(0))
    above = np.nextafter(np.float32(_LOGIT_EPS), np.float32(1))
    p[0, :7] = [0.0, 1.0, _LOGIT_EPS, below, above, 1.0 - _LOGIT_EPS, 0.5]
    for probs in (p, out):
        got = _logit(probs)
        assert got.dtype == np.float32 and np.array_equal(got, _plain_logit(probs))
    assert z[0, 0] == -30.0 and p[0, 1] == 1.0  # the inputs are left as they were


def test_second_highest_is_the_sorted_third_of_four() -> None:
    rng = np.random.default_rng(4)
    a, b, c, d = (rng.normal(size=(30, 40)).astype(np.float32) for _ in range(4))
    b[:5] = a[:5]  # ties
    c[5:10] = d[5:10] = a[5:10]
    want = np.sort(np.stack([a, b, c, d]), axis=0)[2]
    assert np.array_equal(_second_highest(a, b, c, d), want)


def test_median_is_numpys() -> None:
    rng = np.random.default_rng(5)
    for n in [1, 2, 3, 4, 7, 600, 601, 2401]:
        for _ in range(10):
            x = rng.normal(size=n) * rng.choice([1e-3, 1.0, 1e5])
            x[: n // 3] = x[-1]  # ties
            assert _median(x) == float(np.median(x))
    assert np.isnan(_median(np.array([1.0, np.nan, 2.0])))
    assert np.isnan(_median(np.array([])))


def _plain_fit_affine(displacement: np.ndarray, select: np.ndarray) -> np.ndarray | None:
    """The robust affine fit as first written: NumPy's solver and SVD on the same subsample."""
    count = int(np.count_nonzero(select))
    stride = max(1, int(np.sqrt(count / 600)))
    ys, xs = np.nonzero(select[::stride, ::stride])
    ys, xs = ys * stride, xs * stride
    design = np.stack([xs, ys, np.ones_like(xs)], axis=1).astype(np.float64)
    target = displacement[ys, xs].astype(np.float64) + design[:, :2]
    weights = np.ones(xs.size)
    params = np.zeros((3, 2))
    for _ in range(4):
        wd = design * weights[:, None]
        params = np.linalg.solve(wd.T @ design + 1e-6 * np.eye(3), wd.T @ target)
        residual = np.linalg.norm(design @ params - target, axis=1)
        scale = max(1.0, 1.4826 * float(np.median(residual)))
        weights = np.minimum(1.0, 1.5 * scale / np.maximum(residual, 1e-9))
    affine = params.T
    singular = np.linalg.svd(affine[:, :2], compute_uv=False)
    if singular.max() > max_scale_change() or singular.min() < 1.0 / max_scale_change():
        shift = np.median(target - design[:, :2], axis=0)
        return np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
    return affine


@pytest.mark.parametrize("seed", range(6))
def test_the_closed_form_affine_fit_is_numpys_irls(seed: int) -> None:
    """Not bit for bit (sums in another order): the motions agree within 1e-5 px, on an
    object's rotating and scaling flow with a fifth of its pixels following something else,
    and on a deformation beyond ``max_scale_change`` (a robust translation instead)."""
    rng = np.random.default_rng(seed)
    h, w = 180, 240
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    angle, scale = rng.uniform(-0.1, 0.1), rng.uniform(0.9, 1.1)
    if seed == 5:
        scale = 1.6  # implausible
    a = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    t = rng.uniform(-20, 20, 2)
    flow = np.stack(
        [a[0, 0] * xx + a[0, 1] * yy + t[0] - xx, a[1, 0] * xx + a[1, 1] * yy + t[1] - yy], -1
    )
    flow += rng.normal(0.0, 0.3, flow.shape)
    select = (xx - 120) ** 2 / 80**2 + (yy - 90) ** 2 / 50**2 < 1
    flow[select & (rng.random((h, w)) < 0.2)] = rng.uniform(-30, 30, 2)  # outliers
    flow = flow.astype(np.float32)
    got, want = _fit_affine(flow, select), _plain_fit_affine(flow, select)
    assert got is not None and want is not None
    assert np.abs(got - want).max() < 1e-5
    if seed == 5:
        assert got[0, 0] == got[1, 1] == 1.0 and got[0, 1] == got[1, 0] == 0.0
    else:
        assert np.abs(got[:, :2] - a).max() < 0.01  # the object's own motion, not the outliers'
    small = np.zeros((h, w), bool)
    small[:5, :5] = True
    assert _fit_affine(flow, small) is None  # under 30 pixels


def test_layer_deviations_compared_squared_equal_the_distances_compared() -> None:
    rng = np.random.default_rng(7)
    flow = rng.normal(0.0, 3.0, (72, 128, 2)).astype(np.float32)
    motion = np.array([[1.02, 0.01, 1.5], [-0.01, 0.99, -2.0]])
    step = 2
    x = step * np.arange(128, dtype=np.float32)[None, :]
    y = step * np.arange(72, dtype=np.float32)[:, None]
    a = motion.astype(np.float32)
    dx = flow[..., 0] - ((a[0, 0] - 1) * x + a[0, 1] * y + a[0, 2])
    dy = flow[..., 1] - (a[1, 0] * x + (a[1, 1] - 1) * y + a[1, 2])
    for tolerance in (2.0, 3.0, 4.5):
        assert np.array_equal(
            _deviates(flow, motion, tolerance, step), np.hypot(dx, dy) > tolerance
        )


def _plain_components_touching(mask: np.ndarray, keep: np.ndarray) -> np.ndarray:
    if not mask.any():
        return mask
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    hit = np.zeros(n, bool)
    hit[np.unique(labels[keep & mask])] = True
    hit[0] = False
    return hit[labels]


def _plain_regrow(logits: np.ndarray, colour: np.ndarray, reach: int) -> np.ndarray:
    current = logits > 0
    if not current.any():
        return logits
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    near = cv2.dilate(current.astype(np.uint8), disc) > 0
    candidate = (colour >= regrow_colour()) & near & ~current
    added = _plain_components_touching(candidate | current, current) & candidate
    return np.where(added, np.maximum(logits, 1.0), logits).astype(np.float32)


@pytest.mark.parametrize("seed", range(4))
def test_components_and_regrowing_on_the_masks_box_equal_the_whole_frames(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = 144, 256
    noise = cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), 4.0)
    logits = (noise * 40.0).astype(np.float32)
    logits[:, : 60 + 20 * seed] = -5.0  # the mask away from the left edge
    if seed == 3:
        logits[:, 200:] = 3.0  # and touching the right one
    keep = np.zeros((h, w), bool)
    keep[40:100, 120:180] = True
    colour = (rng.normal(size=(h, w)) * 3.0).astype(np.float32)
    mask = logits > 0
    assert np.array_equal(_components_touching(mask, keep), _plain_components_touching(mask, keep))
    for reach in (2, 6):
        assert np.array_equal(_regrow(logits, colour, reach), _plain_regrow(logits, colour, reach))
    empty = np.zeros((h, w), bool)
    assert not _components_touching(empty, keep).any()
    assert _regrow(np.full((h, w), -2.0, np.float32), colour, 6).max() == -2.0
