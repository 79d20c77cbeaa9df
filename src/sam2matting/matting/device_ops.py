"""Tensor-op versions of the matting stages' per-pixel work, for CUDA / MPS.

On a GPU machine the learned head's network is a few milliseconds; what cost time was the work
around it done in numpy / OpenCV on the host (measured at 1080p on an H200: 47 ms per frame, of
which the network 6): resizing, the guided-filter prior, gathering and scattering the
refinement tiles, pasting the known region. Here the same steps run as torch ops where the
tensors already are, and the frame goes up once and the alphas come down once.

On the CPU the numpy / OpenCV code stays the default (OpenCV's box filters and resizes beat
torch's there); ``tensor_ops=True`` in the head options runs these ops on the CPU too, which
is how the tests compare both paths. They are not bit-identical: ``F.interpolate(mode="area")``
averages over fractional cells differently from OpenCV's ``INTER_AREA`` when the scale is not
an integer, and the fast guided filter's subsampled grid then differs slightly. The tests
bound the difference (mean |Δα| ≤ 0.01, 99th percentile ≤ 0.1 on a test clip).
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..bridge.proposals import select_tiles
from ..bridge.trimap import band_width_for
from ..types import ObjectTrack
from .classical import (
    ClassicalConfig,
    ClassicalMatting,
    guided_subsample,
    solve_colour_regression,
)


class LearnedStage(Protocol):
    """What :func:`finish_learned` uses of the learned head (:class:`~.learned.LearnedMatting`;
    a protocol so that this module, which the learned head imports, does not import it back)."""

    net: Any
    config: Any
    last_coverage: float


__all__ = [
    "LearnedStage",
    "TensorGuidedMatting",
    "band_alpha",
    "box_filter",
    "dilate",
    "erode",
    "finish_learned",
    "gather_patches",
    "guided_filter",
    "image_to_tensor",
    "logits_to_tensor",
    "resize",
]


# --------------------------------------------------------------------------------------------
# elementary ops
# --------------------------------------------------------------------------------------------
def image_to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """H×W×3 uint8 → 1×3×H×W float32 in [0, 1] on ``device`` (uploaded as uint8: 4× less)."""
    t = torch.from_numpy(np.ascontiguousarray(image)).to(device, non_blocking=True)
    return t.permute(2, 0, 1)[None].float().div_(255.0)


def logits_to_tensor(tracks: list[ObjectTrack], device: torch.device) -> torch.Tensor:
    """The tracks' logits (same shape) stacked as B×1×h×w float32 on ``device``."""
    arr = np.stack([np.asarray(t.logits, dtype=np.float32) for t in tracks])[:, None]
    return torch.from_numpy(arr).to(device)


def resize(x: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Resize B×C×H×W to ``size`` (h, w): ``"area"`` when shrinking (OpenCV ``INTER_AREA``),
    bilinear with half-pixel centres otherwise (OpenCV ``INTER_LINEAR``)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == "area" and (size[0] < x.shape[-2] or size[1] < x.shape[-1]):
        try:
            return F.interpolate(x, size=size, mode="area")
        except RuntimeError:
            # MPS pools only when the sizes divide evenly: then shrink on the CPU (a few MB)
            return F.interpolate(x.cpu(), size=size, mode="area").to(x.device)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _reflect_index(n: int, r: int, device: torch.device) -> torch.Tensor:
    """Indices of a length-``n`` axis padded by ``r`` with OpenCV's ``BORDER_REFLECT``
    (``fedcba|abcdef|fedcba``: the edge pixel repeats, unlike torch's ``reflect``)."""
    i = torch.arange(-r, n + r, device=device)
    period = 2 * n
    i = torch.remainder(i, period)
    return torch.where(i >= n, period - 1 - i, i)


def box_filter(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over a (2r+1)² box of B×C×H×W ``x``, borders reflected as OpenCV's
    ``boxFilter(..., BORDER_REFLECT)``. Separable: two 1-D average pools."""
    if r <= 0:
        return x
    h, w = x.shape[-2:]
    x = x.index_select(-2, _reflect_index(h, r, x.device))
    x = x.index_select(-1, _reflect_index(w, r, x.device))
    b, c = x.shape[:2]
    k = 2 * r + 1
    x = F.avg_pool2d(x.reshape(b * c, 1, *x.shape[-2:]), (k, 1), stride=1)
    x = F.avg_pool2d(x, (1, k), stride=1)
    return x.reshape(b, c, h, w)


def guided_filter(
    guide: torch.Tensor, source: torch.Tensor, radius: int, eps: float, subsample: int = 1
) -> torch.Tensor:
    """Colour guided filter (He et al.), the tensor twin of
    :func:`sam2matting.matting.classical.guided_filter`: ``guide`` B×3×H×W in [0, 1],
    ``source`` B×1×H×W → B×1×H×W float32. ``subsample`` > 1: the fast guided filter (the
    coefficients solved on a copy that much smaller, upsampled bilinearly)."""
    full_guide = guide.float()
    g, p = full_guide, source.float()
    h, w = p.shape[-2:]
    if subsample > 1:
        small = (max(1, h // subsample), max(1, w // subsample))
        g = resize(g, small, "area")
        p = resize(p, small, "area")
        radius = max(1, round(radius / subsample))
    # one batched box filter over [g (3), p (1), g·p (3), g_i·g_j (6)]
    gg = [g[:, i : i + 1] * g[:, j : j + 1] for i in range(3) for j in range(i, 3)]
    stats = box_filter(torch.cat([g, p, g * p, *gg], dim=1), radius)
    mean_g, mean_p, corr_gp = stats[:, 0:3], stats[:, 3:4], stats[:, 4:7]
    corr = stats[:, 7:13]
    cov_gp = corr_gp - mean_g * mean_p
    m0, m1, m2 = mean_g[:, 0:1], mean_g[:, 1:2], mean_g[:, 2:3]
    a0, a1, a2 = solve_colour_regression(
        [corr[:, k : k + 1] for k in range(6)],
        (m0, m1, m2),
        (cov_gp[:, 0:1], cov_gp[:, 1:2], cov_gp[:, 2:3]),
        eps,
    )
    b = mean_p - a0 * m0 - a1 * m1 - a2 * m2
    coef = box_filter(torch.cat([a0, a1, a2, b], dim=1), radius)
    if subsample > 1:
        coef = F.interpolate(coef, size=(h, w), mode="bilinear", align_corners=False)
    return (coef[:, 0:3] * full_guide).sum(dim=1, keepdim=True) + coef[:, 3:4]


@functools.lru_cache(maxsize=16)
def _disc_cpu(radius: int) -> torch.Tensor:
    # OpenCV's own elliptic structuring element, so the band matches bridge.trimap exactly
    d = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return torch.from_numpy(d.astype(np.float32))[None, None]


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary dilation of B×1×H×W {0, 1} ``mask`` by OpenCV's elliptic disc (bool out; pixels
    past the border never switch a pixel on, as in ``cv2.dilate``)."""
    if radius <= 0:
        return mask > 0.5
    disc = _disc_cpu(radius).to(mask.device)
    # only "> 0.5" of a sum of 0/1 products is used, so reduced-precision (TF32) sums are exact
    return F.conv2d(mask.float(), disc, padding=radius) > 0.5


def erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary erosion by the same disc (the border counts as foreground, as in ``cv2.erode``)."""
    return ~dilate(1.0 - mask.float(), radius)


def band_alpha(
    guide: torch.Tensor,
    source: torch.Tensor,
    mask: torch.Tensor,
    radius: int,
    eps: float = 1e-3,
) -> torch.Tensor:
    """Tensor twin of :func:`sam2matting.matting.classical.band_alpha` with the guided solver:
    the binary ``mask`` (B×1×H×W) outside the morphological band of half-width ``radius``,
    the guided filter of ``source`` (guided by ``guide`` B×3×H×W or 1×3×H×W) inside it.

    Like the CPU version the filter runs on the band's bounding box plus ``2·radius`` (one
    small device→host copy per call, for the box), so its cost follows the band, not the frame.
    """
    m = mask.float()
    band = dilate(m, radius) & ~erode(m, radius)
    rows = band.any(dim=-1).any(dim=0).flatten()
    cols = band.any(dim=-2).any(dim=0).flatten()
    ys = torch.nonzero(rows).flatten().cpu()
    xs = torch.nonzero(cols).flatten().cpu()
    if len(ys) == 0:
        return m
    h, w = m.shape[-2:]
    margin = 2 * radius
    y0, y1 = max(0, int(ys[0]) - margin), min(h, int(ys[-1]) + 1 + margin)
    x0, x1 = max(0, int(xs[0]) - margin), min(w, int(xs[-1]) + 1 + margin)
    g = guide[..., y0:y1, x0:x1].expand(m.shape[0], 3, y1 - y0, x1 - x0)
    solved = guided_filter(g, source[..., y0:y1, x0:x1], radius, eps, guided_subsample(radius))
    out = m.clone()
    crop = out[..., y0:y1, x0:x1]
    inside = band[..., y0:y1, x0:x1]
    out[..., y0:y1, x0:x1] = torch.where(inside, solved.clamp(0.0, 1.0), crop)
    return out


def gather_patches(image: torch.Tensor, origins: torch.Tensor, size: int, pad: int) -> torch.Tensor:
    """n padded patches of a 1×C×H×W tensor → n×C×P×P (P = size + 2·pad), indices past the
    border clamped (as :func:`sam2matting.bridge.proposals.gather_patches_numpy`)."""
    h, w = image.shape[-2:]
    offs = torch.arange(-pad, size + pad, device=image.device)
    o = origins.to(image.device, torch.long)
    yi = (o[:, 0:1] + offs[None]).clamp(0, h - 1)  # n×P
    xi = (o[:, 1:2] + offs[None]).clamp(0, w - 1)
    img = image[0]  # C×H×W
    return img[:, yi[:, :, None], xi[:, None, :]].permute(1, 0, 2, 3)


def scatter_cores(
    target: torch.Tensor, patches: torch.Tensor, origins: torch.Tensor, size: int, pad: int
) -> None:
    """Write the ``size``² cores of n×P×P ``patches`` into H×W ``target`` at ``origins``
    (in place; cores reaching past the border are cut, as
    :func:`sam2matting.bridge.proposals.scatter_patches`)."""
    h, w = target.shape
    n = int(origins.shape[0])
    o = origins.to(target.device, torch.long)
    offs = torch.arange(size, device=target.device)
    ys = (o[:, 0:1] + offs[None])[:, :, None].expand(n, size, size)
    xs = (o[:, 1:2] + offs[None])[:, None, :].expand(n, size, size)
    core = patches[:, pad : pad + size, pad : pad + size]
    keep = (ys < h) & (xs < w)
    target[ys[keep], xs[keep]] = core[keep].to(target.dtype)


# --------------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------------
class TensorGuidedMatting(ClassicalMatting):
    """The ``guided`` head with its filter on a torch device (same trimap, same answer up to
    float rounding; the frame goes up once, each alpha comes down once)."""

    def __init__(self, config: ClassicalConfig, device: torch.device) -> None:
        super().__init__(config)
        self.device = device

    @torch.inference_mode()
    def matte(
        self, image: np.ndarray, tracks: dict[int, ObjectTrack], frame_index: int = 0
    ) -> dict[int, np.ndarray]:
        h, w = image.shape[:2]
        if not tracks:
            return {}
        ids = list(tracks)
        guide = image_to_tensor(image, self.device)
        logits = torch.cat(
            [resize(logits_to_tensor([tracks[i]], self.device), (h, w)) for i in ids]
        )
        prob = torch.sigmoid(logits)
        mask = (prob > 0.5).float()
        radius = band_width_for(h, w, self.config.band_fraction, self.config.min_band)
        alpha = band_alpha(guide, prob, mask, radius, self.config.guided_eps)
        out = alpha[:, 0].cpu().numpy()
        return {i: out[k] for k, i in enumerate(ids)}


def guided_priors(small01: torch.Tensor, masks: torch.Tensor, radius: int) -> torch.Tensor:
    """The hybrid heads' prior on the device (tensor twin of
    :func:`sam2matting.matting.learned.guided_prior`): ``small01`` 1×3×h×w, ``masks`` B×1×h×w
    {0, 1} → B×1×h×w float32."""
    return band_alpha(small01, masks, masks, radius)


def finish_learned(
    stage: LearnedStage,
    image_t: torch.Tensor,
    tracks: list[ObjectTrack],
    coarse: torch.Tensor,
    hidden: torch.Tensor,
    prior: torch.Tensor | None,
    roi: np.ndarray,
    timings: dict[str, float],
) -> np.ndarray:
    """Steps 4-5 of the learned head on the device: upsample the stride-2 alpha to the frame,
    re-solve the ROI tiles with the native refiner, paste the tracker's mask outside the ROI.

    ``image_t`` 1×3×H×W in [0, 1]; ``coarse`` B×1×h2×w2; ``hidden`` B×C×h2×w2; ``prior``
    B×1×hw×ww or None; ``roi`` bool B×h4×w4 (numpy, small). Returns float32 B×H×W (one copy
    to the host).
    """
    import time

    from .encoders import normalize_rgb
    from .refine import fill_tile_context

    t0 = time.perf_counter()
    h, w = image_t.shape[-2:]
    dev = image_t.device
    alpha = resize(coarse.float(), (h, w)).clamp_(0.0, 1.0)[:, 0]  # B×H×W
    t1 = time.perf_counter()
    timings["upsample"] = t1 - t0
    stage.last_coverage = 0.0
    refiner = stage.net.refiner
    if stage.config.refine and refiner is not None:
        rc = refiner.config
        tiles = [select_tiles(roi[k], h, w, rc.tile, grow=0) for k in range(len(tracks))]
        stage.last_coverage = sum(t.covered_fraction for t in tiles)
        if sum(len(t) for t in tiles):
            origins = torch.from_numpy(np.concatenate([t.origins for t in tiles]))
            x = torch.empty(
                (len(origins), rc.in_channels, rc.tile + 2 * rc.pad, rc.tile + 2 * rc.pad),
                device=dev,
            )
            x[:, :3] = normalize_rgb(gather_patches(image_t, origins, rc.tile, rc.pad))
            fill_tile_context(x, [t.origins for t in tiles], coarse, hidden, prior, rc, (h, w))
            fine = refiner.forward_packed(x)[:, 0].float()
            start = 0
            for k, t in enumerate(tiles):
                if len(t):
                    o = torch.from_numpy(t.origins)
                    scatter_cores(alpha[k], fine[start : start + len(t)], o, rc.tile, rc.pad)
                    start += len(t)
    t2 = time.perf_counter()
    timings["refine"] = t2 - t1
    if stage.config.paste_known:
        roi_t = torch.from_numpy(roi.astype(np.float32))[:, None].to(dev)
        inside = resize(roi_t, (h, w))[:, 0] >= 0.5  # OpenCV: uint8 bilinear of 0/255 > 127
        known = torch.cat([resize(logits_to_tensor([t], dev), (h, w)) for t in tracks])[:, 0] > 0
        alpha = torch.where(inside, alpha, known.float())
        timings["paste"] = time.perf_counter() - t2
    return alpha.cpu().numpy()
