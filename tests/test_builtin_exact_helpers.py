"""The built-in tracker's hot helpers, rewritten for speed, give exactly what their plain
NumPy forms gave: the tracker's frames must not move by a bit (``LOGIT_LIMIT`` clipping, the
smallest probability, the second-highest of four strips)."""

from __future__ import annotations

import numpy as np
import pytest

from sam2matting.trackers.builtin import (
    _LOGIT_EPS,
    LOGIT_LIMIT,
    _logit,
    _median,
    _second_highest,
    _sigmoid,
)


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
