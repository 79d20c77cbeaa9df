"""The training losses of SAM2Matting (paper) plus the native refiner's.

- **ROI**: focal + smooth-L1 between the detector's sigmoid and the ground-truth ROI
  (:func:`sam2matting.bridge.trimap.ground_truth_roi`: ``dilate(α > 0.15) − erode(α > 0.5)``,
  united here with the pixels where the simulated tracker mask is wrong, since the
  pseudo-trimap must mark those unknown too).
- **Alpha**: L1 + Laplacian-pyramid loss per scale, weighted 0.3 / 0.6 / 1.2 coarse → fine.
- **Consistency**: focal + dice between the (softly) thresholded matte and the ground-truth
  binary mask ``α > 0.5`` (the paper's training mask), which stops holes in the matte.
- **Refiner**: L1 + Laplacian on the native tiles' cores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "ALPHA_SCALE_WEIGHTS",
    "alpha_loss",
    "consistency_loss",
    "dice_loss",
    "focal_loss",
    "gradient_loss",
    "laplacian_loss",
    "roi_loss",
    "soft_threshold",
]

#: alpha-loss weights of the stride-8, stride-4 and stride-2 outputs (paper)
ALPHA_SCALE_WEIGHTS = (0.3, 0.6, 1.2)


def focal_loss(
    prob: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, alpha: float = 0.25
) -> torch.Tensor:
    """Binary focal loss (Lin et al.) on probabilities in (0, 1); mean over all pixels."""
    p = prob.clamp(1e-6, 1 - 1e-6)
    ce = -(target * torch.log(p) + (1 - target) * torch.log(1 - p))
    pt = target * p + (1 - target) * (1 - p)
    weight = target * alpha + (1 - target) * (1 - alpha)
    return (weight * (1 - pt) ** gamma * ce).mean()


def focal_loss_with_logits(
    logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, alpha: float = 0.25
) -> torch.Tensor:
    """Numerically stable focal loss on logits; mean over all pixels."""
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    pt = target * p + (1 - target) * (1 - p)
    weight = target * alpha + (1 - target) * (1 - alpha)
    return (weight * (1 - pt) ** gamma * ce).mean()


def dice_loss(prob: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 − Dice coefficient per sample, averaged over the batch (B×1×H×W inputs)."""
    p = prob.flatten(1)
    t = target.flatten(1)
    inter = (p * t).sum(1)
    return (1 - (2 * inter + eps) / (p.sum(1) + t.sum(1) + eps)).mean()


def roi_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """ROI detector loss: focal (on logits) + smooth-L1 of the sigmoid, vs the GT ROI {0, 1}.

    The focal term's class weight is 0.5 (not RetinaNet's 0.25): the ROI is a band of a few
    percent of the pixels and missing it costs more than an over-wide band."""
    return focal_loss_with_logits(logits, target, alpha=0.5) * 10.0 + F.smooth_l1_loss(
        torch.sigmoid(logits), target
    )


_GAUSS = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _gauss_blur(x: torch.Tensor) -> torch.Tensor:
    k = _GAUSS.to(x.device, x.dtype)
    kernel = (k[:, None] * k[None, :]).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=x.shape[1])


def laplacian_loss(pred: torch.Tensor, true: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """L1 between Laplacian pyramids (weights 2^level, as in MODNet/RVM's matting losses)."""
    loss = pred.new_zeros(())
    a, b = pred, true
    for level in range(levels):
        if min(a.shape[-2:]) < 8:
            break
        ga, gb = _gauss_blur(a), _gauss_blur(b)
        da, db = F.avg_pool2d(ga, 2), F.avg_pool2d(gb, 2)
        ua = F.interpolate(da, size=a.shape[-2:], mode="bilinear", align_corners=False)
        ub = F.interpolate(db, size=b.shape[-2:], mode="bilinear", align_corners=False)
        loss = loss + (2**level) * F.l1_loss(a - ua, b - ub)
        a, b = da, db
    return loss


def gradient_loss(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """L1 between the alphas' finite differences (x and y), weighted towards the true edges.

    An edge drawn softer than the truth spreads a step over several pixels: its per-pixel L1 is
    small but its gradient error is not (the Grad metric sees it). Pixels where the true
    gradient is large count double, so a hard edge is learned as a step, not a ramp.
    """
    loss = pred.new_zeros(())
    for dim in (-1, -2):
        dp, dt = torch.diff(pred, dim=dim), torch.diff(true, dim=dim)
        weight = 1.0 + (dt.abs() > 0.25).to(pred.dtype)
        loss = loss + (weight * (dp - dt).abs()).mean()
    return loss


def alpha_loss(
    alphas: tuple[torch.Tensor, ...], true: torch.Tensor
) -> tuple[torch.Tensor, list[float]]:
    """Σ_s w_s · (L1 + Laplacian) of each scale's alpha vs the GT alpha area-resized to it.

    ``alphas``: (stride 8, 4, 2) B×1×h×w; ``true``: B×1×H×W at the working resolution.
    Returns the total and the per-scale values (for logging).
    """
    total = true.new_zeros(())
    parts = []
    for w, a in zip(ALPHA_SCALE_WEIGHTS, alphas):
        t = F.adaptive_avg_pool2d(true, (int(a.shape[-2]), int(a.shape[-1])))
        term = F.l1_loss(a, t) + laplacian_loss(a, t)
        total = total + w * term
        parts.append(float(term.detach()))
    return total, parts


def soft_threshold(
    alpha: torch.Tensor, level: float = 0.5, temperature: float = 0.05
) -> torch.Tensor:
    """Differentiable ``alpha > level``: a steep sigmoid (the "thresholded matte")."""
    return torch.sigmoid((alpha - level) / temperature)


def consistency_loss(alpha: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Matte-to-mask consistency: focal + dice between the thresholded matte and ``mask``.

    ``alpha``: B×1×h×w finest alpha; ``mask``: B×1×H×W binary, area-resized to h×w and
    re-binarised.
    """
    m = (F.adaptive_avg_pool2d(mask, (int(alpha.shape[-2]), int(alpha.shape[-1]))) > 0.5).to(
        alpha.dtype
    )
    hard = soft_threshold(alpha)
    return focal_loss(hard, m) * 10.0 + dice_loss(hard, m)
