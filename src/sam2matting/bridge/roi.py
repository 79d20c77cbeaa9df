"""The ROI detector of SAM2Matting's region-proposal bridge.

It finds the *matting-critical* pixels (hair, fur, motion blur, semi-transparency, and the
places where the tracker's mask is wrong) from several priors at once: one conv branch per
feature scale on ``concat[F_s, mask_s, RGB_s]``, each upsampled to stride 4, concatenated and
fused to a single stride-4 logit. ROI = ``sigmoid(logit) > threshold`` (0.65 in the paper).

Paper sizes (the defaults of :class:`RoiConfig`)::

    stride 4:  36 → 128 → 64      (F4 32 + mask + RGB)
    stride 8:  68 → 128 → 64      (F8 64 + mask + RGB)
    stride 16: 260 → 256 → 64     (F16 256 + mask + RGB)
    fusion:    192 → 64 → 32 → 1×1 → 1 logit

All 3×3 convolutions are conv + BN + ReLU. The threshold is hard, so the alpha losses never
reach the detector through the pseudo-trimap (it has its own loss against the ground-truth ROI).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..matting.heads import ConvBNReLU, resample

__all__ = ["RoiConfig", "RoiDetector"]


@dataclass(frozen=True)
class RoiConfig:
    """``feature_channels``: channels of F4, F8, F16; ``branch_widths``: the two 3×3 widths of
    each scale's branch; ``fusion_widths``: the two 3×3 widths after concatenation;
    ``threshold``: sigmoid level above which a pixel is in the ROI; ``bias``: convolutions with
    biases (the official heads); ``resample``: ``"area"`` (ours) or ``"bilinear"`` (the official
    code's ``F.interpolate`` everywhere), see :data:`~sam2matting.matting.heads.RESAMPLE_MODES`."""

    feature_channels: tuple[int, int, int] = (32, 64, 256)
    branch_widths: tuple[tuple[int, int], ...] = ((128, 64), (128, 64), (256, 64))
    fusion_widths: tuple[int, int] = (64, 32)
    threshold: float = 0.65
    rgb_channels: int = 3
    bias: bool = False
    resample: str = "area"


class RoiDetector(nn.Module):
    """Multi-scale ROI detector → B×1×(H/4)×(W/4) logits (see module docstring)."""

    def __init__(self, config: RoiConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or RoiConfig()
        if len(c.branch_widths) != 3:
            raise ValueError("the ROI detector has exactly three branches (strides 4, 8, 16)")
        self.branches = nn.ModuleList(
            nn.Sequential(
                ConvBNReLU(ch + 1 + c.rgb_channels, w1, bias=c.bias),
                ConvBNReLU(w1, w2, bias=c.bias),
            )
            for ch, (w1, w2) in zip(c.feature_channels, c.branch_widths)
        )
        fused = sum(w2 for _, w2 in c.branch_widths)
        f1, f2 = c.fusion_widths
        self.fusion = nn.Sequential(
            ConvBNReLU(fused, f1, bias=c.bias), ConvBNReLU(f1, f2, bias=c.bias)
        )
        self.out = nn.Conv2d(f2, 1, 1)

    def forward(
        self,
        features: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        mask: torch.Tensor,
        rgb: torch.Tensor,
    ) -> torch.Tensor:
        """``features``: (F4, F8, F16); ``mask``: B×1×h×w in {0, 1} (any grid: the working image
        for ours, the stride-4 grid for the official heads); ``rgb``: B×3×H×W normalised.

        Returns ROI logits B×1×(H/4)×(W/4) (apply sigmoid, compare with ``threshold``).
        """
        size4 = (int(features[0].shape[-2]), int(features[0].shape[-1]))
        mode = self.config.resample
        outs = []
        for branch, feat in zip(self.branches, features):
            size = (int(feat.shape[-2]), int(feat.shape[-1]))
            x = torch.cat([feat, resample(mask, size, mode), resample(rgb, size, mode)], dim=1)
            outs.append(resample(branch(x), size4, mode))
        return self.out(self.fusion(torch.cat(outs, dim=1)))

    def propose(self, logits: torch.Tensor) -> torch.Tensor:
        """Boolean ROI from logits: ``sigmoid(logits) > threshold`` (hard, no gradient)."""
        return torch.sigmoid(logits.detach()) > self.config.threshold
