"""A small learned refiner of the built-in tracker's propagated mask near its outline.

The classical re-fit (colour histograms, guided filter, GrabCut band) gets most of a frame's
mask right but its boundary a few pixels wrong on every frame, and those errors feed the next
frame's warp. A tiny convolutional network (:class:`PropagationRefiner`, 5.3 k parameters,
about ±18 px of view) looks at the current frame's colours, the tracker's probability, and the
previous frame and mask moved onto this frame by the tracker's backward optical flow (where the
two frames agree the flow is right, and so is the moved mask), and predicts a correction of the
mask's log-odds. It only acts in a band of :func:`refine_band_pixels` around the tracker's
outline (elsewhere the tracker's answer is kept), so it is computed on blocks along the outline
only (:func:`~sam2matting.tiling.outline_crops`) and its cost follows the outline's length.

It is trained on synthetic clips made from training-split cutouts over synthetic textures and
the Apache-2.0 training background clips, with the real tracker's own masks as inputs
(:mod:`sam2matting.train.propagation_refiner`); DAVIS is never used for training.

Tracker option ``learned_refine`` (off by default), **grow-only** in a 2-px band: the refiner
may raise the tracker's log-odds but never lower them. Every two-sided variant shrank the mask on
DAVIS (on libby false negatives 2474 → 3369 pixels a frame, false positives 1359 → 754, at
854×480) and the loss compounded through the next frame's warp: the DAVIS tuning mean fell
(0.763 → 0.755). Grow-only it rises on all three tuning sequences, J&F dog 0.809 → 0.812,
kite-surf 0.784 → 0.794, libby 0.695 → 0.705 (mean 0.763 → 0.770); see the CHANGELOG for the
variants tried. With ``thin_structures`` it corrects the body only; the lines are drawn after.
Off by default for its cost: ~9 ms of CPU a frame on DAVIS dog at 512×288 (tracking 26.5–28.1
→ 21.4–22.4 frames per CPU-second, under the 25 target), and the synthetic fast-motion clips'
lowest J moves by −0.011 to +0.002.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..shipped_nets import load_shipped_net
from ..tiling import outline_crops

__all__ = [
    "REFINER_WEIGHTS",
    "LearnedRefiner",
    "PropagationRefiner",
    "load_refiner",
    "refine_band_pixels",
    "refine_logits",
    "refiner_band",
    "refiner_inputs",
    "single_thread",
]

#: the shipped refiner's weights file (in the package's weights/ folder)
REFINER_WEIGHTS = "sam2matting-propagation-refiner-v1.safetensors"
#: pixels of context the network needs on each side (its receptive field's half width)
MARGIN = 20
#: half width of the band the refiner may change, px at a 512-px working resolution
BAND_AT_512 = 2
#: logit of the tracker's probability fed to the residual is clipped to ±this
BASE_LIMIT = 4.0


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one CPU thread inside the block: the refiner's convolutions on small crops
    gain nothing from more, and on a busy machine two OpenMP threads were ~10× slower."""
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def refine_band_pixels(work_w: int, work_h: int) -> int:
    """Half width (px) of the band around the tracker's outline that the refiner may change:
    :data:`BAND_AT_512` px at a 512-px working resolution, scaled with it. Grow-only, DAVIS
    tuning-mean J&F for 1 / 2 / 3 / 4 / 5 px: 0.764 / 0.770 / 0.768 / 0.764 / 0.765 (off:
    0.763); networks trained for an 8-px band did worse (see the CHANGELOG)."""
    return max(1, round(BAND_AT_512 * max(work_w, work_h) / 512))


class PropagationRefiner(nn.Module):
    """Corrected object logits from (RGB_t − 0.5, p_t, RGB_{t−1} − 0.5, p_{t−1}).

    Context at half resolution (2×2 average pool, 3×3 convolutions with dilation 1, 2, 4, 1:
    ±16 px of view for a quarter of the cost), upsampled and joined with the full-resolution
    inputs for one 3×3 and one 1×1 convolution that place the edge. The output is the
    tracker's clipped log-odds plus the network's correction (the last layer starts at zero:
    an untrained refiner is the identity)."""

    def __init__(self, width: int = 12) -> None:
        super().__init__()
        self.width = int(width)
        self.context = nn.Sequential(
            nn.Conv2d(8, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=2, dilation=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=4, dilation=4),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        # learned ×2 upsampling (one matrix product per half-resolution pixel: cheaper on CPU
        # than a bilinear resize of every channel) added to a 1×1 projection of the inputs
        self.up = nn.ConvTranspose2d(width, 8, 2, stride=2)
        self.skip = nn.Conv2d(8, 8, 1)
        self.head = nn.Conv2d(8, 1, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        assert self.head.bias is not None
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits B×1×H×W for inputs B×8×H×W (:func:`refiner_inputs`)."""
        h, w = x.shape[-2:]
        # odd sides: repeat the last row / column so the half-resolution grid covers them
        xe = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate") if (h % 2 or w % 2) else x
        ctx = self.up(self.context(F.avg_pool2d(xe, 2)))[..., :h, :w]
        feat = torch.relu(ctx + self.skip(x))
        p = x[:, 3:4].clamp(1e-4, 1 - 1e-4)
        base = torch.logit(p).clamp(-BASE_LIMIT, BASE_LIMIT)
        out: torch.Tensor = base + self.head(feat)
        return out


def refiner_inputs(
    rgb01: torch.Tensor, prob: torch.Tensor, prev_rgb01: torch.Tensor, prev_prob: torch.Tensor
) -> torch.Tensor:
    """B×8×H×W network input from RGB in [0, 1] (B×3×H×W) and probabilities (B×1×H×W) of this
    and the previous frame."""
    return torch.cat([rgb01 - 0.5, prob, prev_rgb01 - 0.5, prev_prob], dim=1)


def refiner_band(prob: np.ndarray, half_width: int) -> np.ndarray:
    """bool H×W: pixels within ``half_width`` px of the outline of ``prob > 0.5`` (both sides)."""
    mask = (prob > 0.5).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * half_width + 1, 2 * half_width + 1))
    band: np.ndarray = cv2.dilate(mask, k) > cv2.erode(mask, k)
    return band


@torch.inference_mode()
def refine_logits(
    net: PropagationRefiner,
    rgb: np.ndarray,
    prob: np.ndarray,
    prev_rgb: np.ndarray,
    prev_prob: np.ndarray,
    logits: np.ndarray,
    half_width: int,
    limit: float = 12.0,
    block: int = 48,
    grow_only: bool = True,
) -> np.ndarray:
    """``logits`` (float32 H×W, the tracker's) with the refiner's answer in the band of
    ``half_width`` px around the outline of ``prob > 0.5``; a new array. ``rgb``/``prev_rgb``:
    H×W×3 uint8 (this and the previous frame), ``prob``/``prev_prob``: float32 H×W in [0, 1].
    Only blocks holding band pixels are computed (``block`` 48: ~20 % less CPU than 64 or
    128 on a large object's outline, as fast as 32). ``grow_only``: the refiner may raise the
    tracker's logits but never lower them, so it can only add to the mask (what it adds, it
    adds near the outline, where the tracker's re-fit misses the object's edge): every
    two-sided variant shrank the mask on DAVIS and the loss compounded through the next
    frame's warp."""
    out = np.array(logits, np.float32, copy=True)
    band = refiner_band(prob, half_width)
    if not band.any():
        return out
    scale = np.float32(1.0 / 255.0)
    for (y0, y1, x0, x1), (cy0, cy1, cx0, cx1) in outline_crops(band, block, MARGIN):
        crop = (slice(cy0, cy1), slice(cx0, cx1))
        images = [
            torch.from_numpy(im[crop].astype(np.float32) * scale).permute(2, 0, 1)[None]
            for im in (rgb, prev_rgb)
        ]
        probs = [
            torch.from_numpy(np.ascontiguousarray(p[crop], np.float32))[None, None]
            for p in (prob, prev_prob)
        ]
        x = refiner_inputs(images[0], probs[0], images[1], probs[1])
        # NHWC: much faster with oneDNN on CPU (as the edge arbiter)
        x = x.contiguous(memory_format=torch.channels_last)
        res = net(x)[0, 0].float().numpy()
        core = res[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
        sel = band[y0:y1, x0:x1]
        out[y0:y1, x0:x1][sel] = np.clip(core[sel], -limit, limit)
    if grow_only:
        out[band] = np.maximum(out[band], logits[band])
    return out


class LearnedRefiner:
    """The refiner as the tracker calls it: ``refiner(rgb, prob, prev_rgb, prev_prob, logits)``
    → corrected logits (see :func:`refine_logits`; the previous frame and mask already moved
    onto this frame by the optical flow), on one torch thread."""

    def __init__(
        self, net: PropagationRefiner, limit: float = 12.0, grow_only: bool = True
    ) -> None:
        self.net = net
        self.limit = limit
        self.grow_only = grow_only

    def __call__(
        self,
        rgb: np.ndarray,
        prob: np.ndarray,
        prev_rgb: np.ndarray,
        prev_prob: np.ndarray,
        logits: np.ndarray,
    ) -> np.ndarray:
        h, w = prob.shape
        with single_thread():
            return refine_logits(
                self.net,
                rgb,
                prob,
                prev_rgb,
                prev_prob,
                logits,
                refine_band_pixels(w, h),
                self.limit,
                grow_only=self.grow_only,
            )


def load_refiner(path: str | Path | None = None) -> PropagationRefiner:
    """The refiner from a safetensors file (default: the shipped one), in eval mode on CPU;
    :class:`~sam2matting.errors.WeightsError` (one line) when the file is absent or wrong."""
    return load_shipped_net(
        path,
        REFINER_WEIGHTS,
        lambda state: PropagationRefiner(int(state["context.0.weight"].shape[0])),
        "learned refiner",
        prefix="builtin tracker: ",
    )
