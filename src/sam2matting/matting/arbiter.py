"""Edge arbiter: per outline pixel, the learned matte or the tracker's mask made crisp.

The learned heads resolve hair, fur, blur and glass, but on a truly hard outline they answer
with a ramp a pixel or two wider than the edge and a 0.5-contour that wanders by about a pixel
(they were trained to distrust the mask they are given). The tracker's binary mask, filtered by
the frame's colours (:func:`~.edge_refine.colour_line_refine`), is then the better matte: one
anti-aliased pixel exactly where the image's edge is. Where the mask is wrong (a SAM 2 mask is
often a few pixels off, misses strands) or the edge is really soft, the learned matte is better.

Which one holds is a local question of the image and the two answers, so a tiny convolutional
network decides it (:class:`EdgeArbiter`, ~5 k parameters, 17 px receptive field): from the
frame's colours, the learned matte ``A``, the crisp mask ``E`` and the mask itself it predicts a
weight ``w`` per pixel and the result is ``E + w · (A − E)``. Where ``A`` and ``E`` agree the
output is that common value whatever ``w`` is, so only blocks along the outline are computed
(the same blocks as the colour-line refinement), and the cost follows the outline's length.

It is trained on still-image composites from the training split only (:mod:`sam2matting.train
.arbiter`), with exact and simulated-tracker masks, and ships as its own small weights file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..shipped_nets import load_shipped_net
from .edge_refine import outline_crops

__all__ = [
    "ARBITER_WEIGHTS",
    "EdgeArbiter",
    "arbiter_inputs",
    "arbitrate",
    "load_arbiter",
]

#: the shipped arbiter's weights file (next to the heads' weights)
ARBITER_WEIGHTS = "sam2matting-edge-arbiter-v1.safetensors"
#: pixels of context the network needs on each side (its receptive field's half width)
MARGIN = 10


class EdgeArbiter(nn.Module):
    """``w`` ∈ [0, 1] per pixel from (RGB − 0.5, A, E, mask): 4 dilated 3×3 convolutions."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.width = int(width)
        self.net = nn.Sequential(
            nn.Conv2d(6, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=2, dilation=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=4, dilation=4),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 1, 3, padding=1),
        )
        last = self.net[-1]
        assert isinstance(last, nn.Conv2d)
        nn.init.zeros_(last.weight)
        assert last.bias is not None
        nn.init.constant_(last.bias, 3.0)  # untrained: w ≈ 0.95, i.e. the learned matte

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))

    def blend(self, x: torch.Tensor) -> torch.Tensor:
        """The arbitrated alpha for inputs ``x`` (B×6×H×W, :func:`arbiter_inputs`)."""
        a, e = x[:, 3:4], x[:, 4:5]
        return e + self.forward(x) * (a - e)


def arbiter_inputs(
    rgb01: torch.Tensor, learned: torch.Tensor, crisp: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """B×6×H×W network input from RGB in [0, 1] (B×3×H×W) and three B×1×H×W maps."""
    return torch.cat([rgb01 - 0.5, learned, crisp, mask], dim=1)


@torch.inference_mode()
def arbitrate(
    net: EdgeArbiter,
    image: np.ndarray,
    learned: np.ndarray,
    crisp: np.ndarray,
    mask: np.ndarray,
    block: int = 64,
) -> np.ndarray:
    """The arbitrated alpha (float32 H×W) for an H×W×3 uint8 frame, the learned matte, the
    crisp mask and the binary mask; a new array. Only blocks where the two mattes differ are
    computed (elsewhere the answer is their common value)."""
    differ = np.abs(learned - crisp) > 1e-4
    out = np.asarray(learned, np.float32).copy()
    if not differ.any():
        return out
    dev = next(net.parameters()).device
    scale = np.float32(1.0 / 255.0)
    for (y0, y1, x0, x1), (cy0, cy1, cx0, cx1) in outline_crops(differ, block, MARGIN):
        rgb = torch.from_numpy(image[cy0:cy1, cx0:cx1].astype(np.float32) * scale)
        maps = [
            torch.from_numpy(np.ascontiguousarray(m[cy0:cy1, cx0:cx1], np.float32))[None, None]
            for m in (learned, crisp, mask)
        ]
        x = arbiter_inputs(rgb.permute(2, 0, 1)[None], *maps).to(dev)
        # NHWC: ~6× faster with oneDNN on CPU (52 → 8 ms for a 512×288 frame)
        x = x.contiguous(memory_format=torch.channels_last)
        res = net.blend(x)[0, 0].float().cpu().numpy()
        out[y0:y1, x0:x1] = np.clip(res[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0], 0.0, 1.0)
    return out


def load_arbiter(path: str | Path | None = None, device: torch.device | None = None) -> EdgeArbiter:
    """The arbiter from a safetensors file (default: the shipped one), in eval mode;
    :class:`~sam2matting.errors.InputError` (one line) when the file is absent or wrong."""
    return load_shipped_net(
        path,
        ARBITER_WEIGHTS,
        lambda state: EdgeArbiter(int(state["net.0.weight"].shape[0])),
        "edge arbiter",
        error=InputError,
        device=device,
    )
