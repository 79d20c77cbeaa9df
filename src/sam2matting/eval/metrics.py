"""The matting and tracking metrics: the one implementation in the project.

Matting metrics follow the evaluation scripts of Robust Video Matting (``evaluate_lr.py`` /
``evaluate_hr.py``), which MatAnyone and SAM2Matting reuse, so numbers are comparable with
published tables:

- alphas are compared as 8-bit images divided by 255 (:func:`quantize_alpha`);
- ``MAD`` = mean |α̂ − α| × 1e3, ``MSE`` = mean (α̂ − α)² × 1e3;
- ``Grad`` = Σ (|∇G α̂| − |∇G α|)² / 1e3 with first-derivative-of-Gaussian filters (σ = 1.4,
  half-width from the 0.01 cut-off, unit L2 norm). The low-resolution protocol min–max
  normalises both mattes first (:func:`grad`); the high-resolution one does not
  (:func:`grad_hr`);
- ``Conn`` = Σ |φ(α) − φ(α̂)| / 1e3 with thresholds 0.1 … 1.0, the largest 4-connected component
  of ``{α ≥ t} ∩ {α̂ ≥ t}`` and the 0.15 cut;
- ``dtSSD`` = sqrt(mean(((α̂ₜ − α̂ₜ₋₁) − (αₜ − αₜ₋₁))²)) × 1e2, frame 0 counted as 0.

Beyond RVM's set:

- ``flicker`` (:func:`flicker`): the previous *predicted* matte warped to the current frame with
  DIS optical flow computed on the RGB frames, MSE × 1e3 over pixels the flow is trusted on
  (forward–backward consistent, landing inside the frame). It needs no ground truth, so it also
  scores real footage; the same number for the ground truth (``flicker_gt``) is its floor;
- for masks, ``J`` (IoU, :func:`jaccard`) and ``F`` (:func:`boundary_f`), the DAVIS boundary
  F-measure: one-pixel boundaries of both masks, matched within ``ceil(0.008 × diagonal)``
  pixels by dilation with a disc, as the DAVIS toolkit does.

All functions take float arrays in [0, 1] of one shape (H×W) and return Python floats; they are
vectorised (OpenCV filters and connected components), a few milliseconds per 512×288 frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

__all__ = [
    "MASK_METRICS",
    "MATTING_METRICS",
    "ClipMetricState",
    "FlowPair",
    "boundary_f",
    "compute_flow_pair",
    "conn",
    "dtssd",
    "flicker",
    "grad",
    "grad_hr",
    "jaccard",
    "mad",
    "mask_boundary",
    "mse",
    "quantize_alpha",
]

#: per-frame matting metrics the evaluation reports, in table order
MATTING_METRICS = ("mad", "mse", "grad", "grad_hr", "conn", "dtssd", "flicker")
#: per-frame mask metrics (tracker quality)
MASK_METRICS = ("j", "f")


def quantize_alpha(alpha: np.ndarray) -> np.ndarray:
    """Round a matte to 8 bits and back: float32 H×W with values k/255, k ∈ 0..255.

    ``alpha``: float in [0, 1] (clipped) or uint8 (0..255). This is what writing the matte as a
    PNG and reading it back as ``imread(...) / 255`` does in RVM's scripts (round half up).
    """
    a = np.asarray(alpha)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    q = np.floor(np.clip(a.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5)
    return q.astype(np.float32) / 255.0


def _check_pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float32)
    t = np.asarray(true, dtype=np.float32)
    if p.shape != t.shape:
        raise ValueError(f"prediction is {p.shape} but ground truth is {t.shape}")
    if p.ndim != 2:
        raise ValueError(f"mattes must be H×W, got shape {p.shape}")
    return p, t


def mad(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute difference × 1e3 of two H×W mattes in [0, 1]."""
    p, t = _check_pair(pred, true)
    return float(np.abs(p - t).mean(dtype=np.float64) * 1e3)


def mse(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean squared error × 1e3 of two H×W mattes in [0, 1]."""
    p, t = _check_pair(pred, true)
    d = (p - t).astype(np.float64)
    return float((d * d).mean() * 1e3)


# -- Grad -------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def gaussian_derivative_filters(
    sigma: float = 1.4, epsilon: float = 1e-2
) -> tuple[np.ndarray, np.ndarray]:
    """The x- and y-derivative-of-Gaussian kernels of the Grad metric (unit L2 norm each).

    Half-width ``ceil(σ·sqrt(−2·ln(sqrt(2π)·σ·ε)))`` (4 for σ = 1.4, a 9×9 kernel); ``kx[i, j] =
    g(i − h)·g'(j − h)`` with g the Gaussian and g' its derivative; ``ky = kxᵀ``.
    """
    half = int(np.ceil(sigma * np.sqrt(-2.0 * np.log(np.sqrt(2.0 * np.pi) * sigma * epsilon))))
    r = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-(r**2) / (2.0 * sigma**2)) / (sigma * np.sqrt(2.0 * np.pi))
    dg = -r * g / sigma**2
    kx = np.outer(g, dg)
    kx /= np.sqrt((kx**2).sum())
    kx.setflags(write=False)
    ky = np.ascontiguousarray(kx.T)
    ky.setflags(write=False)
    return kx, ky


def _gradient_magnitude(img: np.ndarray, sigma: float) -> np.ndarray:
    kx, ky = gaussian_derivative_filters(sigma)
    gx = cv2.filter2D(img, cv2.CV_32F, kx, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(img, cv2.CV_32F, ky, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx * gx + gy * gy)


def _minmax_normalise(x: np.ndarray) -> np.ndarray:
    """``cv2.normalize(x, 1, 0, NORM_MINMAX)``: scale to [0, 1]; a constant image becomes 0."""
    lo, hi = float(x.min()), float(x.max())
    if hi - lo <= np.finfo(np.float64).eps:
        return np.zeros_like(x)
    return ((x - lo) * (1.0 / (hi - lo))).astype(np.float32)


def grad(
    pred: np.ndarray, true: np.ndarray, *, sigma: float = 1.4, normalize: bool = True
) -> float:
    """Gradient error / 1e3 (RVM's low-resolution protocol: both mattes min–max normalised).

    ``normalize=False`` gives the high-resolution protocol (:func:`grad_hr`).
    """
    p, t = _check_pair(pred, true)
    if normalize:
        p, t = _minmax_normalise(p), _minmax_normalise(t)
    d = _gradient_magnitude(t, sigma) - _gradient_magnitude(p, sigma)
    return float((d.astype(np.float64) ** 2).sum() / 1e3)


def grad_hr(pred: np.ndarray, true: np.ndarray, *, sigma: float = 1.4) -> float:
    """Gradient error / 1e3 without min–max normalisation (RVM's high-resolution protocol)."""
    return grad(pred, true, sigma=sigma, normalize=False)


# -- Conn -------------------------------------------------------------------------------------

#: Conn thresholds 0, 0.1, …, 1.0 (float64, exactly as ``np.arange(0, 1 + step, step)``)
_CONN_THRESHOLDS = np.arange(0.0, 1.0 + 0.1, 0.1)


def _largest_component(binary: np.ndarray) -> np.ndarray:
    """Bool mask of the largest 4-connected component (first in raster order on ties)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=4)
    if n <= 1:
        return np.zeros(binary.shape, bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == largest


def conn(pred: np.ndarray, true: np.ndarray, *, cut: float = 0.15) -> float:
    """Connectivity error / 1e3 (Rhemann et al.; RVM's ``MetricCONN``).

    For each threshold t = 0.1 … 1.0, Ω_t is the largest 4-connected component of
    ``{α ≥ t} ∩ {α̂ ≥ t}``; a pixel's level ℓ is the last threshold before it drops out of Ω
    (1 if it never does); φ(x) = 1 − (x − ℓ)·[x − ℓ ≥ cut]; error = Σ |φ(α) − φ(α̂)| / 1e3.
    Work is restricted to the bounding box of ``α ≥ 0.1 or α̂ ≥ 0.1``: outside it both φ are 1.
    """
    p, t = _check_pair(pred, true)
    th = _CONN_THRESHOLDS
    support = (t >= th[1]) | (p >= th[1])
    rows = np.flatnonzero(support.any(axis=1))
    if rows.size == 0:
        return 0.0
    cols = np.flatnonzero(support.any(axis=0))
    ys, xs = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    p, t = p[ys, xs], t[ys, xs]
    level = np.full(t.shape, -1.0)
    for i in range(1, len(th)):
        inter = ((t >= th[i]) & (p >= th[i])).astype(np.uint8)
        omega = _largest_component(inter)
        level[(level == -1.0) & ~omega] = th[i - 1]
    level[level == -1.0] = 1.0
    t_diff = t - level
    p_diff = p - level
    t_phi = 1.0 - t_diff * (t_diff >= cut)
    p_phi = 1.0 - p_diff * (p_diff >= cut)
    return float(np.abs(t_phi - p_phi).sum() / 1e3)


# -- temporal ---------------------------------------------------------------------------------


def dtssd(
    pred_t: np.ndarray, pred_tm1: np.ndarray, true_t: np.ndarray, true_tm1: np.ndarray
) -> float:
    """Temporal coherence error × 1e2 between frames t−1 and t (RVM's ``MetricDTSSD``).

    sqrt(mean(((α̂ₜ − α̂ₜ₋₁) − (αₜ − αₜ₋₁))²)) × 1e2; the caller counts frame 0 as 0.
    """
    p, t = _check_pair(pred_t, true_t)
    pm, tm = _check_pair(pred_tm1, true_tm1)
    if p.shape != pm.shape:
        raise ValueError(f"frame t is {p.shape} but frame t-1 is {pm.shape}")
    d = ((p - pm) - (t - tm)).astype(np.float64)
    return float(np.sqrt((d * d).mean()) * 1e2)


@dataclass
class FlowPair:
    """Dense flow from frame t to t−1 and the pixels where it is trusted.

    ``map_x``, ``map_y``: float32 H×W sampling positions in frame t−1 for each pixel of frame t
    (for ``cv2.remap``); ``valid``: bool H×W, forward–backward consistent and inside frame t−1.
    """

    map_x: np.ndarray
    map_y: np.ndarray
    valid: np.ndarray

    def warp(self, previous: np.ndarray) -> np.ndarray:
        """Warp an H×W float array of frame t−1 onto frame t (bilinear)."""
        return cv2.remap(
            np.asarray(previous, np.float32),
            self.map_x,
            self.map_y,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )


def _gray(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 3:
        arr = cv2.cvtColor(np.ascontiguousarray(arr[..., :3]), cv2.COLOR_RGB2GRAY)
    if arr.dtype != np.uint8:
        arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0) + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


@lru_cache(maxsize=1)
def _dis() -> cv2.DISOpticalFlow:
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]


def compute_flow_pair(image_t: np.ndarray, image_tm1: np.ndarray) -> FlowPair:
    """DIS optical flow (OpenCV, medium preset) between two RGB frames (H×W×3 uint8).

    Occlusions by the forward–backward check of Sundaram et al. (2010): a pixel is trusted when
    ``|b + f(x + b)|² ≤ 0.01·(|b|² + |f(x + b)|²) + 0.5`` (b: flow t→t−1, f: flow t−1→t).
    """
    g1, g0 = _gray(image_t), _gray(image_tm1)
    if g1.shape != g0.shape:
        raise ValueError(f"frames differ in size: {g1.shape} vs {g0.shape}")
    dis = _dis()
    back = np.asarray(dis.calc(g1, g0, None))  # type: ignore[call-overload]  # frame t → t-1
    fwd = np.asarray(dis.calc(g0, g1, None))  # type: ignore[call-overload]  # frame t-1 → t
    h, w = g1.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x = xx + back[..., 0]
    map_y = yy + back[..., 1]
    fwd_at = cv2.remap(fwd, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    s = back + fwd_at
    mag = (back**2).sum(-1) + (fwd_at**2).sum(-1)
    consistent = (s**2).sum(-1) <= 0.01 * mag + 0.5
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    return FlowPair(map_x=map_x, map_y=map_y, valid=consistent & inside)


def flicker(
    alpha_t: np.ndarray,
    alpha_tm1: np.ndarray,
    image_t: np.ndarray | None = None,
    image_tm1: np.ndarray | None = None,
    *,
    flow: FlowPair | None = None,
) -> float:
    """Flow-compensated flicker × 1e3: MSE between ``alpha_t`` and ``alpha_tm1`` warped onto t.

    The flow comes from the RGB frames (``image_t``, ``image_tm1``, H×W×3 uint8) or a
    precomputed ``flow`` (:func:`compute_flow_pair`, reuse it to score several mattes of the same
    frames). Only trusted (non-occluded, in-frame) pixels count; 0 if there are none.
    """
    a, am = _check_pair(alpha_t, alpha_tm1)
    if flow is None:
        if image_t is None or image_tm1 is None:
            raise ValueError("flicker needs the two RGB frames or a precomputed flow")
        flow = compute_flow_pair(image_t, image_tm1)
    valid = flow.valid
    if not valid.any():
        return 0.0
    d = (a - flow.warp(am))[valid].astype(np.float64)
    return float((d * d).mean() * 1e3)


# -- masks (DAVIS J & F) ----------------------------------------------------------------------


def jaccard(pred_mask: np.ndarray, true_mask: np.ndarray) -> float:
    """Region similarity J: |A ∩ B| / |A ∪ B| of two H×W masks (nonzero = object); 1 if both are empty."""
    p = np.asarray(pred_mask).astype(bool)
    t = np.asarray(true_mask).astype(bool)
    if p.shape != t.shape:
        raise ValueError(f"prediction is {p.shape} but ground truth is {t.shape}")
    union = np.count_nonzero(p | t)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(p & t) / union)


def mask_boundary(mask: np.ndarray) -> np.ndarray:
    """One-pixel boundary of a binary H×W mask, as DAVIS's ``seg2bmap`` (same-size case).

    A pixel is on the boundary when it differs from its east, south or south-east neighbour.
    """
    seg = np.asarray(mask).astype(bool)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


@lru_cache(maxsize=16)
def _disc(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= radius**2).astype(np.uint8)


def boundary_f(pred_mask: np.ndarray, true_mask: np.ndarray, bound_th: float = 0.008) -> float:
    """Contour accuracy F of two H×W masks (DAVIS ``f_measure``).

    Boundaries (:func:`mask_boundary`) match when within ``ceil(bound_th × image diagonal)``
    pixels (``bound_th ≥ 1`` is a pixel count); precision and recall by dilating each boundary
    with a disc; F = 2PR / (P + R). Both empty → 1; one empty → 0.
    """
    p = np.asarray(pred_mask).astype(bool)
    t = np.asarray(true_mask).astype(bool)
    if p.shape != t.shape:
        raise ValueError(f"prediction is {p.shape} but ground truth is {t.shape}")
    radius = int(bound_th if bound_th >= 1 else np.ceil(bound_th * np.hypot(*p.shape)))
    pb, tb = mask_boundary(p), mask_boundary(t)
    n_p, n_t = int(pb.sum()), int(tb.sum())
    if n_p == 0 and n_t == 0:
        return 1.0
    if n_p == 0 or n_t == 0:
        return 0.0
    disc = _disc(radius)
    p_dil = cv2.dilate(pb.astype(np.uint8), disc).astype(bool)
    t_dil = cv2.dilate(tb.astype(np.uint8), disc).astype(bool)
    precision = np.count_nonzero(pb & t_dil) / n_p
    recall = np.count_nonzero(tb & p_dil) / n_t
    if precision + recall == 0:
        return 0.0
    return float(2.0 * precision * recall / (precision + recall))


# -- streaming per-clip evaluation ------------------------------------------------------------


@dataclass
class ClipMetricState:
    """Per-frame metrics over one clip and one object, fed frame by frame in order.

    ``update`` quantises both mattes to 8 bits, computes every per-frame metric and keeps only
    the previous frame (bounded memory). ``metrics`` picks which ones (default: all of
    :data:`MATTING_METRICS` plus J and F of the mattes thresholded at 0.5); ``conn`` is the
    slowest and can be left out. Flicker needs the RGB frames; without them it is skipped.
    """

    metrics: tuple[str, ...] = (*MATTING_METRICS, "flicker_gt", *MASK_METRICS)
    _prev_pred: np.ndarray | None = field(default=None, repr=False)
    _prev_true: np.ndarray | None = field(default=None, repr=False)
    _prev_image: np.ndarray | None = field(default=None, repr=False)
    #: seconds spent per metric so far (and ``flow`` when this state computed the flow itself)
    seconds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = {*MATTING_METRICS, "flicker_gt", *MASK_METRICS}
        unknown = [m for m in self.metrics if m not in known]
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; known: {sorted(known)}")

    def update(
        self,
        pred: np.ndarray,
        true: np.ndarray,
        image: np.ndarray | None = None,
        *,
        flow: FlowPair | None = None,
    ) -> dict[str, float]:
        """Metrics of the next frame. ``pred``/``true``: H×W float in [0, 1] or uint8;
        ``image``: the RGB frame (H×W×3 uint8) for flicker; ``flow``: a precomputed flow from
        this frame to the previous one (skips recomputing it). Seconds spent per metric add up
        in :attr:`seconds`."""
        p, t = quantize_alpha(pred), quantize_alpha(true)
        _check_pair(p, t)
        want = self.metrics
        out: dict[str, float] = {}
        clock = time.perf_counter

        def timed(name: str, func: Callable[[], float]) -> None:
            t0 = clock()
            out[name] = func()
            self.seconds[name] = self.seconds.get(name, 0.0) + clock() - t0

        if "mad" in want:
            timed("mad", lambda: mad(p, t))
        if "mse" in want:
            timed("mse", lambda: mse(p, t))
        if "grad" in want:
            timed("grad", lambda: grad(p, t))
        if "grad_hr" in want:
            timed("grad_hr", lambda: grad_hr(p, t))
        if "conn" in want:
            timed("conn", lambda: conn(p, t))
        prev_p, prev_t = self._prev_pred, self._prev_true
        if "dtssd" in want:
            timed(
                "dtssd",
                lambda: 0.0 if prev_p is None or prev_t is None else dtssd(p, prev_p, t, prev_t),
            )
        wants_flicker = "flicker" in want or "flicker_gt" in want
        if wants_flicker and (image is not None or flow is not None):
            if prev_p is None or prev_t is None:
                for name in ("flicker", "flicker_gt"):
                    if name in want:
                        out[name] = 0.0
            else:
                if flow is None:
                    if self._prev_image is None:
                        raise ValueError("flicker needs the image of every frame")
                    t0 = clock()
                    flow = compute_flow_pair(image, self._prev_image)  # type: ignore[arg-type]
                    self.seconds["flow"] = self.seconds.get("flow", 0.0) + clock() - t0
                fp = flow
                if "flicker" in want:
                    timed("flicker", lambda: flicker(p, prev_p, flow=fp))
                if "flicker_gt" in want:
                    timed("flicker_gt", lambda: flicker(t, prev_t, flow=fp))
        if "j" in want or "f" in want:
            pm, tm = p > 0.5, t > 0.5
            if "j" in want:
                timed("j", lambda: jaccard(pm, tm))
            if "f" in want:
                timed("f", lambda: boundary_f(pm, tm))
        self._prev_pred, self._prev_true = p, t
        self._prev_image = None if image is None else np.asarray(image)
        return out
