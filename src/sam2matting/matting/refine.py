"""Native-resolution refinement (beyond the paper, whose alpha stops at 512² and is upsampled).

Inside the region proposals (tiles covering the ROI band at the frame's own resolution, see
:mod:`sam2matting.bridge.proposals`) a small fully-convolutional refiner takes

- the full-resolution RGB crop (normalised),
- the coarse alpha (the predictor's stride-2 alpha, sampled bilinearly at native pixels),
- the predictor's finest hidden features, sampled the same way,
- for the hybrid heads, the classical prior alpha (guided filter), sampled the same way,

and predicts a correction ``δ``; the fine alpha is ``clamp(coarse + δ, 0, 1)``. Outside the
tiles the coarse alpha stands. Patches carry ``pad`` pixels of context on each side (one per
3×3 convolution), so each tile's core is computed exactly as on the whole frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .heads import ConvBNReLU

__all__ = ["NativeRefiner", "RefinerConfig", "fill_tile_context", "sample_native"]


@dataclass(frozen=True)
class RefinerConfig:
    """``feature_channels``: channels of the predictor features it receives; ``widths``: its
    3×3 conv widths; ``tile``: side of a native tile (pixels); ``prior_channels``: 1 → a prior
    alpha is appended after the features (hybrid heads)."""

    feature_channels: int = 64
    widths: tuple[int, ...] = (32, 24, 16)
    tile: int = 32
    prior_channels: int = 0

    @property
    def in_channels(self) -> int:
        """RGB 3 + coarse alpha 1 + features + prior."""
        return 4 + self.feature_channels + self.prior_channels

    @property
    def pad(self) -> int:
        """Context pixels per side: one per 3×3 convolution (blocks + output conv)."""
        return len(self.widths) + 1


class NativeRefiner(nn.Module):
    """``concat[RGB 3, coarse alpha 1, features C, prior P]`` → corrected alpha, on native
    patches."""

    def __init__(self, config: RefinerConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or RefinerConfig()
        cin = c.in_channels
        layers: list[nn.Module] = []
        for w in c.widths:
            layers.append(ConvBNReLU(cin, w))
            cin = w
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(cin, 1, 3, padding=1)
        # start as the identity (δ = 0): an untrained refiner leaves the coarse alpha as is
        nn.init.zeros_(self.out.weight)
        if self.out.bias is not None:
            nn.init.zeros_(self.out.bias)

    def forward(
        self,
        rgb: torch.Tensor,
        coarse: torch.Tensor,
        features: torch.Tensor,
        prior: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``rgb`` n×3×P×P normalised, ``coarse`` n×1×P×P in [0, 1], ``features`` n×C×P×P,
        ``prior`` n×1×P×P (exactly when the config has ``prior_channels``) → n×1×P×P alpha in
        [0, 1]. Only the central ``P − 2·pad`` pixels are exact."""
        if (prior is not None) != (self.config.prior_channels > 0):
            raise ValueError(
                "this refiner needs a prior alpha"
                if prior is None
                else "this refiner takes no prior"
            )
        parts = [rgb, coarse, features] + ([prior] if prior is not None else [])
        return self.forward_packed(torch.cat(parts, dim=1))

    def forward_packed(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`forward` on the already concatenated n×(4+C+P)×P×P input
        (RGB, coarse alpha, features, prior): lets inference fill one buffer instead of
        copying."""
        delta = self.out(self.body(x))
        return (x[:, 3:4] + delta).clamp(0.0, 1.0)


def sample_native(
    source: torch.Tensor, origins: torch.Tensor, size: int, pad: int, native_hw: tuple[int, int]
) -> torch.Tensor:
    """Bilinearly sample a 1×C×h×w map at the native pixels of n padded patches.

    Equivalent to resizing ``source`` to ``native_hw`` (bilinear, half-pixel centres, as
    ``F.interpolate(align_corners=False)``) and cropping the patches, but costs only the
    patches' area. ``origins``: n×2 (y0, x0) patch cores at native resolution; indices past the
    frame edge are clamped like :func:`~sam2matting.bridge.proposals.gather_patches`.
    Returns n×C×(size+2pad)×(size+2pad).
    """
    h, w = native_hw
    n = int(origins.shape[0])
    p = size + 2 * pad
    offs = torch.arange(-pad, size + pad, device=source.device, dtype=torch.float32)
    ys = (origins[:, 0:1].to(source.device, torch.float32) + offs[None]).clamp(0, h - 1)
    xs = (origins[:, 1:2].to(source.device, torch.float32) + offs[None]).clamp(0, w - 1)
    gy = (ys + 0.5) / h * 2 - 1  # n × p
    gx = (xs + 0.5) / w * 2 - 1
    grid = torch.stack([gx[:, None, :].expand(n, p, p), gy[:, :, None].expand(n, p, p)], dim=-1).to(
        source.dtype
    )
    out = F.grid_sample(
        source,
        grid.reshape(1, n * p, p, 2),
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )  # 1 × C × (n·p) × p
    return out.reshape(source.shape[1], n, p, p).permute(1, 0, 2, 3)


def fill_tile_context(
    x: torch.Tensor,
    origins: Sequence[np.ndarray],
    coarse: torch.Tensor,
    features: torch.Tensor,
    prior: torch.Tensor | None,
    config: RefinerConfig,
    size: tuple[int, int],
) -> None:
    """Fill channels 3… of the refiner's packed input ``x`` (N×C×P×P, tiles of all objects in
    order) in place: each object's coarse alpha and features (one grid sample per object), then
    its prior. ``origins[k]``: object k's tile origins (n_k×2); ``coarse``: B×1×h×w;
    ``features``: B×F×h×w; ``prior``: B×1×H'×W' or None; ``size``: the frame's (H, W)."""
    source = torch.cat([coarse.float(), features.float()], dim=1)
    c_end = 4 + config.feature_channels
    start = 0
    for k, o_np in enumerate(origins):
        if len(o_np):
            o = torch.from_numpy(np.ascontiguousarray(o_np))
            rows = slice(start, start + len(o_np))
            x[rows, 3:c_end] = sample_native(source[k : k + 1], o, config.tile, config.pad, size)
            if prior is not None:
                x[rows, c_end:] = sample_native(
                    prior[k : k + 1].float(), o, config.tile, config.pad, size
                )
            start += len(o_np)
