"""Classical matting stages: morphological trimap + an alpha solver in the unknown band.

Three stages share one trimap (bridge/trimap.py) and differ only in the solver:

- ``guided`` (the default until the learned heads' weights v2; now the fast option): a colour
  guided filter (He et al. 2013) of the tracker's soft mask, guided by the frame, inside the
  unknown band. O(N) box filters — about 4 ms for a 512×288 frame here — that snap the mask
  boundary to image edges and give soft transitions. It cannot invent detail the mask lacks
  (single hairs far outside the mask), which is what the learned heads are for; its answer is
  also one of the hybrid learned heads' inputs (:func:`band_alpha`).
- ``closed-form``: Levin et al.'s closed-form matting (pymatting) in the band: sharper on hair,
  ~30× slower (≈ 0.3 s per 512×288 frame), so it is an option and an evaluation baseline.
- ``mask``: the tracker's mask as alpha (the "no matting" baseline).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..bridge.trimap import band_width_for, morphological_trimap
from ..types import ObjectTrack
from .foreground import bounding_slices

log = logging.getLogger("sam2matting")

__all__ = [
    "ClassicalConfig",
    "ClassicalMatting",
    "band_alpha",
    "build_closed_form",
    "build_mask_only",
    "closed_form_solvable",
    "guided_filter",
]


def guided_filter(
    guide: np.ndarray, source: np.ndarray, radius: int, eps: float, subsample: int = 1
) -> np.ndarray:
    """Colour guided filter: float32 H×W output of filtering ``source`` (H×W) by ``guide``.

    ``guide``: H×W×3 float32 in [0, 1]; ``radius``: box radius in pixels; ``eps``: the
    regulariser (larger → smoother, smaller → follows guide edges more closely);
    ``subsample``: the fast guided filter (He & Sun 2015): the linear coefficients are solved
    on a copy ``subsample``× smaller (radius scaled alike) and upsampled bilinearly, which
    cuts the cost by about ``subsample²`` with little loss, since they vary smoothly.
    """
    full_guide = guide.astype(np.float32)
    if subsample > 1:
        h, w = source.shape
        small = (max(1, w // subsample), max(1, h // subsample))
        guide = cv2.resize(full_guide, small, interpolation=cv2.INTER_AREA)
        source = cv2.resize(source.astype(np.float32), small, interpolation=cv2.INTER_AREA)
        radius = max(1, round(radius / subsample))
    ksize = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, ksize, normalize=True, borderType=cv2.BORDER_REFLECT)

    g = guide.astype(np.float32)
    p = source.astype(np.float32)
    mean_g = box(g)
    mean_p = box(p)
    # per-pixel covariance of guide channels and guide/source
    corr = [box(g[..., i] * g[..., j]) for i in range(3) for j in range(i, 3)]
    cov_gp = box(g * p[..., None]) - mean_g * mean_p[..., None]
    means = (mean_g[..., 0], mean_g[..., 1], mean_g[..., 2])
    a0, a1, a2 = solve_colour_regression(
        corr, means, (cov_gp[..., 0], cov_gp[..., 1], cov_gp[..., 2]), eps
    )
    b = mean_p - a0 * mean_g[..., 0] - a1 * mean_g[..., 1] - a2 * mean_g[..., 2]
    coefficients = [box(a0), box(a1), box(a2), box(b)]
    if subsample > 1:
        size = (full_guide.shape[1], full_guide.shape[0])
        coefficients = [cv2.resize(c, size, interpolation=cv2.INTER_LINEAR) for c in coefficients]
    c0, c1, c2, cb = coefficients
    out = c0 * full_guide[..., 0] + c1 * full_guide[..., 1] + c2 * full_guide[..., 2] + cb
    return out.astype(np.float32)


def solve_colour_regression(
    corr: Sequence[Any], means: Sequence[Any], cov: Sequence[Any], eps: float
) -> tuple[Any, Any, Any]:
    """The guided filter's per-pixel linear coefficients (a0, a1, a2): solve
    (Σ_guide + eps·I) a = cov(guide, source) with the closed-form inverse of the symmetric 3×3.

    ``corr``: box-filtered g_i·g_j for (i, j) = 00, 01, 02, 11, 12, 22; ``means``: the guide's
    three box means; ``cov``: the three guide/source covariances. Arithmetic only, so the same
    code serves numpy arrays (CPU path) and torch tensors (device path)."""
    m0, m1, m2 = means
    s00 = corr[0] - m0 * m0 + eps
    s01 = corr[1] - m0 * m1
    s02 = corr[2] - m0 * m2
    s11 = corr[3] - m1 * m1 + eps
    s12 = corr[4] - m1 * m2
    s22 = corr[5] - m2 * m2 + eps
    i00 = s11 * s22 - s12 * s12
    i01 = s02 * s12 - s01 * s22
    i02 = s01 * s12 - s02 * s11
    i11 = s00 * s22 - s02 * s02
    i12 = s02 * s01 - s00 * s12
    i22 = s00 * s11 - s01 * s01
    det = s00 * i00 + s01 * i01 + s02 * i02
    c0, c1, c2 = cov
    a0 = (i00 * c0 + i01 * c1 + i02 * c2) / det
    a1 = (i01 * c0 + i11 * c1 + i12 * c2) / det
    a2 = (i02 * c0 + i12 * c1 + i22 * c2) / det
    return a0, a1, a2


def guided_subsample(radius: int) -> int:
    """Subsampling of the fast guided filter for a band of ``radius`` px: keep at least 3 px
    of radius at the coarse scale (narrow bands, small frames: exact filter)."""
    return max(1, radius // 3)


@dataclass(frozen=True)
class ClassicalConfig:
    """``solver``: "guided" | "closed-form" | "mask". ``band_fraction``: half-width of the
    unknown band as a fraction of the frame diagonal (see bridge.trimap.band_width_for);
    ``guided_eps``: guided-filter regulariser (on [0, 1] colours)."""

    solver: str = "guided"
    band_fraction: float = 0.008
    min_band: int = 3
    guided_eps: float = 1e-3


class ClassicalMatting:
    """Morphological trimap + a classical solver, per object (see module docstring)."""

    def __init__(self, config: ClassicalConfig | None = None) -> None:
        self.config = config or ClassicalConfig()
        if self.config.solver not in ("guided", "closed-form", "mask"):
            raise ValueError(f"unknown classical solver {self.config.solver!r}")
        self.name = {"guided": "guided", "closed-form": "closed-form", "mask": "mask"}[
            self.config.solver
        ]

    def reset(self) -> None:
        """Stateless: nothing to forget."""

    def matte(
        self, image: np.ndarray, tracks: dict[int, ObjectTrack], frame_index: int = 0
    ) -> dict[int, np.ndarray]:
        h, w = image.shape[:2]
        guide: np.ndarray | None = None
        out: dict[int, np.ndarray] = {}
        for obj_id, track in tracks.items():
            prob = track.probability(h, w)
            mask = prob > 0.5
            if self.config.solver == "mask" or not mask.any():
                out[obj_id] = mask.astype(np.float32)
                continue
            if guide is None:
                guide = image.astype(np.float32) / 255.0
            out[obj_id] = self._solve(guide, prob, mask)
        return out

    def _solve(self, guide: np.ndarray, prob: np.ndarray, mask: np.ndarray) -> np.ndarray:
        h, w = mask.shape
        radius = band_width_for(h, w, self.config.band_fraction, self.config.min_band)
        return band_alpha(guide, prob, mask, radius, self.config.solver, self.config.guided_eps)


def closed_form_solvable(trimap: np.ndarray) -> bool:
    """Closed-form matting needs definite foreground *and* background pixels to anchor its
    linear system (pymatting raises "Trimap did not contain foreground values" otherwise):
    a thin object such as a spider web can lose all its foreground to the trimap's erosion.
    Where this is false :func:`band_alpha` uses the guided filter instead, so a clip with one
    such frame still gets a matte."""
    return bool((trimap >= 0.9).any() and (trimap <= 0.1).any())


def band_alpha(
    guide: np.ndarray,
    source: np.ndarray,
    mask: np.ndarray,
    radius: int,
    solver: str = "guided",
    eps: float = 1e-3,
) -> np.ndarray:
    """Alpha from a morphological trimap of ``mask`` (band half-width ``radius`` px): the mask
    outside the band, the ``solver``'s answer inside it.

    ``guide``: H×W×3 float32 in [0, 1]; ``source``: the (soft) mask the guided filter smooths;
    ``solver``: ``"guided"`` or ``"closed-form"``. Also the classical prior that the hybrid
    learned heads see (:mod:`sam2matting.matting.learned`).
    """
    trimap = morphological_trimap(mask, radius)
    band = trimap == 0.5
    alpha = mask.astype(np.float32)
    region = bounding_slices(band, 2 * radius)
    if region is None:
        return alpha
    ys, xs = region
    g, t, p = guide[ys, xs], trimap[ys, xs], source[ys, xs]
    solved: np.ndarray | None = None
    if solver != "guided" and closed_form_solvable(t):
        from pymatting import estimate_alpha_cf

        try:
            solved = estimate_alpha_cf(g.astype(np.float64), t.astype(np.float64))
        except ValueError as exc:  # pymatting's own checks on a degenerate trimap
            log.debug("closed-form matting failed (%s); guided filter used for this frame", exc)
    elif solver != "guided":
        log.debug("trimap has no definite foreground or background; guided filter used")
    if solved is None:
        solved = guided_filter(g, p, radius, eps, guided_subsample(radius))
    solved = solved.astype(np.float32, copy=False)
    crop = alpha[ys, xs]
    unknown = t == 0.5
    crop[unknown] = np.clip(solved[unknown], 0.0, 1.0)
    alpha[ys, xs] = crop
    return alpha


def build_closed_form(**options: object) -> ClassicalMatting:
    from ..options import check_head_options

    check_head_options("closed-form", ClassicalConfig, options, exclude=("solver",))
    return ClassicalMatting(ClassicalConfig(solver="closed-form", **options))  # type: ignore[arg-type]


def build_mask_only(**options: object) -> ClassicalMatting:
    from ..options import check_head_options

    check_head_options("mask", ClassicalConfig, options, exclude=("solver",))
    return ClassicalMatting(ClassicalConfig(solver="mask", **options))  # type: ignore[arg-type]
