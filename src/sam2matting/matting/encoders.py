"""Feature sources for the bridge and the matting heads.

Two sources give the same three maps (strides 4 / 8 / 16 with 32 / 64 / 256 channels, the
shape of SAM2's per-frame FPN features):

- :func:`tap_tracker_features`: the tracker's own features, taken from
  ``ObjectTrack.features`` (``{4: …, 8: …, 16: …}``), checked and batched;
- :class:`CompactEncoder`: a small CNN on ``concat[RGB, mask]`` of the working image that needs
  no tracker weights, so the same bridge and heads run behind any tracker (the built-in one
  included). This is the embedded default; it is trained with the heads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..preprocess import IMAGENET_MEAN, IMAGENET_STD
from .heads import ConvBNReLU

__all__ = [
    "FEATURE_STRIDES",
    "CompactEncoder",
    "EncoderConfig",
    "normalize_rgb",
    "tap_tracker_features",
]

#: strides of the three feature maps, fine → coarse
FEATURE_STRIDES = (4, 8, 16)


def normalize_rgb(rgb01: torch.Tensor) -> torch.Tensor:
    """B×3×H×W RGB in [0, 1] → ImageNet-normalised (what SAM2's image encoder also sees).

    Lives here, below :mod:`.learned` and :mod:`.device_ops`, which both use it."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=rgb01.dtype, device=rgb01.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=rgb01.dtype, device=rgb01.device).view(1, 3, 1, 1)
    return (rgb01 - mean) / std


@dataclass(frozen=True)
class EncoderConfig:
    """``stem``: width at stride 2; ``widths``: internal widths at strides 4, 8, 16;
    ``out_channels``: channels of the three outputs (the tracker features' 32 / 64 / 256);
    ``context_dilations``: extra dilated 3×3 blocks at stride 16 (receptive field for context)."""

    stem: int = 16
    widths: tuple[int, int, int] = (32, 64, 128)
    out_channels: tuple[int, int, int] = (32, 64, 256)
    context_dilations: tuple[int, ...] = (2, 4)
    in_channels: int = 4


class CompactEncoder(nn.Module):
    """RGB (normalised) + mask → (F4, F8, F16). Input B×4×H×W, H and W multiples of 16.

    Each stride step is a stride-2 3×3 block followed by a 3×3 block; stride 16 adds dilated
    blocks for context. 1×1 projections give the tracker-feature channel counts.
    """

    def __init__(self, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or EncoderConfig()
        self.stem = nn.Sequential(
            ConvBNReLU(c.in_channels, c.stem, stride=2), ConvBNReLU(c.stem, c.stem)
        )
        w4, w8, w16 = c.widths
        self.down4 = nn.Sequential(ConvBNReLU(c.stem, w4, stride=2), ConvBNReLU(w4, w4))
        self.down8 = nn.Sequential(ConvBNReLU(w4, w8, stride=2), ConvBNReLU(w8, w8))
        blocks16: list[nn.Module] = [ConvBNReLU(w8, w16, stride=2), ConvBNReLU(w16, w16)]
        blocks16 += [ConvBNReLU(w16, w16, dilation=d) for d in c.context_dilations]
        self.down16 = nn.Sequential(*blocks16)
        o4, o8, o16 = c.out_channels
        self.proj = nn.ModuleList(
            ConvBNReLU(w, o, kernel=1) for w, o in zip((w4, w8, w16), (o4, o8, o16))
        )

    def forward(self, rgb: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``rgb``: B×3×H×W normalised; ``mask``: B×1×H×W in {0, 1} → (F4, F8, F16)."""
        x = self.stem(torch.cat([rgb, mask], dim=1))
        x4 = self.down4(x)
        x8 = self.down8(x4)
        x16 = self.down16(x8)
        return tuple(p(t) for p, t in zip(self.proj, (x4, x8, x16)))


def _as_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    return torch.from_numpy(np.ascontiguousarray(np.asarray(value, dtype=np.float32)))


def tap_tracker_features(
    features: Mapping[int, Any],
    channels: tuple[int, int, int] = (32, 64, 256),
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The tracker's per-frame features as (F4, F8, F16), each 1×C×h×w on ``device``.

    ``features`` is ``ObjectTrack.features``: ``{4: C×h×w, 8: …, 16: …}`` (torch tensors or
    arrays; a leading batch dimension of 1 is accepted). Raises :class:`InputError` when a
    stride is missing, the channel counts differ from ``channels`` or the grids are not
    2× apart (the heads need F4 = 2·F8 = 4·F16 spatially).
    """
    out: list[torch.Tensor] = []
    for stride, ch in zip(FEATURE_STRIDES, channels):
        if stride not in features:
            raise InputError(
                f"tracker features lack stride {stride} (have {sorted(features)}); "
                "the heads need strides 4, 8 and 16"
            )
        t = _as_tensor(features[stride])
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3 or t.shape[0] != ch:
            raise InputError(
                f"tracker features at stride {stride} have shape {tuple(t.shape)}; expected {ch}×h×w"
            )
        out.append(t.to(device=device, dtype=dtype)[None])
    f4, f8, f16 = out
    h16, w16 = f16.shape[-2:]
    if tuple(f8.shape[-2:]) != (2 * h16, 2 * w16) or tuple(f4.shape[-2:]) != (4 * h16, 4 * w16):
        raise InputError(
            "tracker feature grids must be 2× apart: got "
            f"{tuple(f4.shape[-2:])}, {tuple(f8.shape[-2:])}, {tuple(f16.shape[-2:])}"
        )
    return f4, f8, f16
