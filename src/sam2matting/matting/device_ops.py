"""Tensor-op versions of the matting stages' per-pixel work, for CUDA / MPS.

On a GPU machine the learned head's network is a few milliseconds; what cost time was the work
around it done in numpy / OpenCV on the host (measured at 1080p on an H200: 47 ms per frame, of
which the network 6): resizing, the guided-filter prior, gathering and scattering the
refinement tiles, pasting the known region. Here are the elementary ops (resize, box and guided
filter, morphology, the band's box) and the ``guided`` head on the device;
:mod:`sam2matting.matting.resident` runs the whole learned head with them.

On the CPU the numpy / OpenCV code stays the default (OpenCV's box filters and resizes beat
torch's there); ``tensor_ops=True`` in the head options runs these ops on the CPU too, which
is how the tests compare both paths. ``resize(mode="area")`` reproduces OpenCV's
``INTER_AREA`` also at non-integer scales (``F.interpolate(mode="area")`` does not: its
adaptive pooling weighs fractional cells differently, which moved the learned head's alpha by
up to 0.3 on a 180-row frame); what remains is float rounding.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..bridge.trimap import band_width_for
from ..types import ObjectTrack
from .classical import (
    ClassicalConfig,
    ClassicalMatting,
    guided_subsample,
    solve_colour_regression,
)

__all__ = [
    "TensorGuidedMatting",
    "band_alpha",
    "bounding_box",
    "box_filter",
    "dilate",
    "erode",
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


@functools.lru_cache(maxsize=32)
def _area_weights(src: int, dst: int, device: torch.device) -> torch.Tensor:
    """dst×src matrix of OpenCV's ``INTER_AREA`` shrink along one axis: output cell d averages
    the source interval [d·src/dst, (d+1)·src/dst) with fractional weights at its ends (exact
    integer overlaps in units of 1/dst; made on the device, so nothing is uploaded)."""
    d = torch.arange(dst, device=device, dtype=torch.int64)[:, None]
    s = torch.arange(src, device=device, dtype=torch.int64)[None, :]
    overlap = torch.minimum((d + 1) * src, (s + 1) * dst) - torch.maximum(d * src, s * dst)
    return overlap.clamp_(min=0).float() / float(src)


def resize(x: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Resize B×C×H×W to ``size`` (h, w): ``"area"`` when shrinking (OpenCV ``INTER_AREA``,
    also at non-integer scales, where ``F.interpolate(mode="area")``'s adaptive pooling
    averages differently), bilinear with half-pixel centres otherwise (OpenCV
    ``INTER_LINEAR``)."""
    h, w = x.shape[-2:]
    if (h, w) == tuple(size):
        return x
    if mode == "area" and size[0] <= h and size[1] <= w:
        if h % size[0] == 0 and w % size[1] == 0:  # whole cells: a plain average pool
            return F.avg_pool2d(x, (h // size[0], w // size[1]))
        # separable weighted sums (two small matmuls: cheap on a GPU, and MPS-safe)
        out = x.float()
        if size[0] != h:
            out = torch.matmul(_area_weights(h, size[0], x.device), out)
        if size[1] != w:
            out = torch.matmul(out, _area_weights(w, size[1], x.device).t())
        return out.to(x.dtype)
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
def _disc(radius: int, device: torch.device) -> torch.Tensor:
    # OpenCV's own elliptic structuring element, so the band matches bridge.trimap exactly;
    # kept per device so it is uploaded once, not on every call
    d = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return torch.from_numpy(d.astype(np.float32))[None, None].to(device)


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary dilation of B×1×H×W {0, 1} ``mask`` by OpenCV's elliptic disc (bool out; pixels
    past the border never switch a pixel on, as in ``cv2.dilate``)."""
    if radius <= 0:
        return mask > 0.5
    disc = _disc(radius, mask.device)
    # only "> 0.5" of a sum of 0/1 products is used, so reduced-precision (TF32) sums are exact
    return F.conv2d(mask.float(), disc, padding=radius) > 0.5


def erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary erosion by the same disc (the border counts as foreground, as in ``cv2.erode``)."""
    return ~dilate(1.0 - mask.float(), radius)


def bounding_box(cells: torch.Tensor) -> torch.Tensor:
    """[any, y0, y1, x0, x1] (int64, on the device; y1 / x1 exclusive) of the set cells of an
    H×W bool tensor, without a data-dependent shape (no ``nonzero``): the host reads the five
    numbers in one small copy."""
    rows, cols = cells.any(dim=1), cells.any(dim=0)
    h, w = rows.shape[0], cols.shape[0]
    y0 = torch.argmax(rows.float())
    y1 = h - torch.argmax(rows.flip(0).float())
    x0 = torch.argmax(cols.float())
    x1 = w - torch.argmax(cols.flip(0).float())
    return torch.stack([rows.any().long(), y0, y1, x0, x1])


def band_alpha(
    guide: torch.Tensor,
    source: torch.Tensor,
    mask: torch.Tensor,
    radius: int,
    eps: float = 1e-3,
    box: list[int] | None = None,
    band: torch.Tensor | None = None,
) -> torch.Tensor:
    """Tensor twin of :func:`sam2matting.matting.classical.band_alpha` with the guided solver:
    the binary ``mask`` (B×1×H×W) outside the morphological band of half-width ``radius``,
    the guided filter of ``source`` (guided by ``guide`` B×3×H×W or 1×3×H×W) inside it.

    Like the CPU version the filter runs on the band's bounding box plus ``2·radius``, so its
    cost follows the band, not the frame. ``box``: the band's :func:`bounding_box` (all
    objects), already read by the caller; None → read here (one small device→host copy).
    ``band``: the band (B×1×H×W bool) when the caller has it.
    """
    m = mask.float()
    if band is None:
        band = dilate(m, radius) & ~erode(m, radius)
    if box is None:
        box = [int(v) for v in bounding_box(band.any(dim=0)[0]).cpu().tolist()]
    if not box[0]:
        return m
    h, w = m.shape[-2:]
    margin = 2 * radius
    y0, y1 = max(0, box[1] - margin), min(h, box[2] + margin)
    x0, x1 = max(0, box[3] - margin), min(w, box[4] + margin)
    g = guide[..., y0:y1, x0:x1].expand(m.shape[0], 3, y1 - y0, x1 - x0)
    solved = guided_filter(g, source[..., y0:y1, x0:x1], radius, eps, guided_subsample(radius))
    out = m.clone()
    crop = out[..., y0:y1, x0:x1]
    inside = band[..., y0:y1, x0:x1]
    out[..., y0:y1, x0:x1] = torch.where(inside, solved.clamp(0.0, 1.0), crop)
    return out


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
        shapes = {np.shape(tracks[i].logits) for i in ids}
        groups = [ids] if len(shapes) == 1 else [[i] for i in ids]  # one upload per shape
        logits = torch.cat(
            [resize(logits_to_tensor([tracks[i] for i in g], self.device), (h, w)) for g in groups]
        )
        prob = torch.sigmoid(logits)
        mask = (prob > 0.5).float()
        radius = band_width_for(h, w, self.config.band_fraction, self.config.min_band)
        alpha = band_alpha(guide, prob, mask, radius, self.config.guided_eps)
        out = alpha[:, 0].cpu().numpy()
        return {i: out[k] for k, i in enumerate(ids)}
