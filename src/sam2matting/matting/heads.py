"""The progressive alpha predictor of SAM2Matting: three cascaded stages, coarse → fine.

Inputs (all batched per object, ``B`` = objects): multi-scale features ``F4, F8, F16`` at
strides 4 / 8 / 16 of the *working* image, the pseudo-trimap ``T`` (stride 4, values
0 / 0.5 / 1) and the normalised RGB of the working image (stride 1). Each stage sees
``concat[F_s, T_s, RGB_s(, A_prev)]`` at its feature stride, upsamples ×2 with a 4×4 stride-2
transposed convolution, refines with 3×3 conv + BN + ReLU blocks and ends in a
``width → head_width → 1`` head with a sigmoid:

========  ===============================  =================================  ===============
stage     input (paper channels)            body (paper widths)                alpha at stride
========  ===============================  =================================  ===============
1         F16 256 + T + RGB = 260           ConvT→512, 512→128, 128→64          8
2         F8 64 + T + RGB + A1 = 69         ConvT→256, 256→64                   4
3         F4 32 + T + RGB + A2 = 37         ConvT→256, 256→128, 128→64          2
========  ===============================  =================================  ===============

Every stage predicts the full alpha at its scale (not a residual); the previous stage's alpha
is an input, so the cascade can only add detail. The per-stage alphas are all returned because
the training loss supervises every scale (weights 0.3 / 0.6 / 1.2 coarse → fine).

Three steps, as everywhere in the package: :class:`PredictorConfig` (typed, no I/O) →
:class:`ProgressiveAlphaPredictor` (random init) → weights through
:mod:`sam2matting.matting.weights` (strict).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "RESAMPLE_MODES",
    "AlphaHead",
    "ConvBNReLU",
    "PredictorConfig",
    "PredictorOutput",
    "PredictorStage",
    "ProgressiveAlphaPredictor",
    "fuse_batchnorm",
    "resample",
    "resize_to",
]


class ConvBNReLU(nn.Sequential):
    """``kernel``×``kernel`` convolution + BatchNorm + ReLU; 'same' padding.

    ``bias``: the convolution's own bias (redundant before BatchNorm, so our heads have none;
    the official SAM2Matting heads have one). Submodule names ``conv`` / ``bn`` are part of the
    weight-file layout (keep them).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int = 3,
        stride: int = 1,
        dilation: int = 1,
        bias: bool = False,
    ) -> None:
        pad = dilation * (kernel // 2)
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation, bias=bias)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)


def fuse_batchnorm(module: nn.Module) -> nn.Module:
    """Fold every BatchNorm of the ConvBNReLU / UpConvBNReLU blocks into its convolution, in place.

    For inference only (eval-mode statistics): the outputs are unchanged up to float rounding,
    and one memory pass per block is saved. Returns ``module``.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for block in module.modules():
        if isinstance(block, ConvBNReLU | UpConvBNReLU) and isinstance(block.bn, nn.BatchNorm2d):
            block.conv = fuse_conv_bn_eval(
                block.conv.eval(), block.bn.eval(), transpose=isinstance(block, UpConvBNReLU)
            )
            block.bn = nn.Identity()  # type: ignore[assignment]
    return module


class UpConvBNReLU(nn.Sequential):
    """×2 upsampling: 4×4 stride-2 transposed convolution (+ bias when ``bias``) + BN + ReLU."""

    def __init__(self, cin: int, cout: int, bias: bool = False) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=bias)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)


class AlphaHead(nn.Module):
    """``width → hidden`` 3×3 conv+BN+ReLU, then a 1×1 conv to one logit (the paper's 64→32→1)."""

    def __init__(self, width: int, hidden: int, bias: bool = False) -> None:
        super().__init__()
        self.block = ConvBNReLU(width, hidden, bias=bias)
        self.out = nn.Conv2d(hidden, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.block(x))


#: how the heads resample their inputs between scales: ``"area"`` (ours: average when shrinking
#: by an integer factor, else bilinear) or ``"bilinear"`` (the official code: every resize is
#: ``F.interpolate(mode="bilinear", align_corners=False)`` without antialiasing)
RESAMPLE_MODES = ("area", "bilinear")


def resample(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Resize B×C×h×w to ``size`` with one of :data:`RESAMPLE_MODES`."""
    if mode == "bilinear":
        if tuple(x.shape[-2:]) == tuple(size):
            return x  # bilinear, align_corners=False, at scale 1 is the identity
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    if mode == "area":
        return resize_to(x, size)
    raise ValueError(f"unknown resampling mode {mode!r}; choose one of {RESAMPLE_MODES}")


def resize_to(x: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Resize B×C×h×w to ``size`` (h, w): area when shrinking by an integer factor, else bilinear."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    h, w = x.shape[-2:]
    if (
        mode == "bilinear"
        and h % size[0] == 0
        and w % size[1] == 0
        and h // size[0] == w // size[1]
    ):
        k = h // size[0]
        return F.avg_pool2d(x, k)
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


@dataclass(frozen=True)
class PredictorConfig:
    """Widths of the progressive alpha predictor.

    ``feature_channels``: channels of F4, F8, F16. ``stage_widths``: per stage, the transposed
    convolution's output width followed by the 3×3 block widths (the last one feeds the head).
    ``head_width``: hidden width of each stage's alpha head. ``rgb_channels``: 3.
    ``prior_channels``: 1 → every stage also sees a classical prior alpha (the guided filter's,
    see :mod:`sam2matting.matting.learned`), appended after the paper's inputs; 0 → the paper.
    The defaults are the paper's sizes. ``bias``: convolutions with biases (the official heads);
    ``resample``: one of :data:`RESAMPLE_MODES` (``"bilinear"`` is the official code's).
    :func:`~sam2matting.matting.learned.paper_config` sets both as the official code has them.
    """

    feature_channels: tuple[int, int, int] = (32, 64, 256)
    stage_widths: tuple[tuple[int, ...], ...] = ((512, 128, 64), (256, 64), (256, 128, 64))
    head_width: int = 32
    rgb_channels: int = 3
    prior_channels: int = 0
    bias: bool = False
    resample: str = "area"

    def stage_inputs(self) -> tuple[int, int, int]:
        """Input channels of stages 1–3: F16+T+RGB, F8+T+RGB+A1, F4+T+RGB+A2 (+ the prior
        alpha, last, when ``prior_channels`` is 1: the hybrid compact heads)."""
        c4, c8, c16 = self.feature_channels
        r, q = self.rgb_channels, self.prior_channels
        return (c16 + 1 + r + q, c8 + 2 + r + q, c4 + 2 + r + q)


class PredictorStage(nn.Module):
    """One cascade stage: ConvT ×2 then 3×3 blocks (``body``), then the alpha ``head``."""

    def __init__(
        self, cin: int, widths: tuple[int, ...], head_width: int, bias: bool = False
    ) -> None:
        super().__init__()
        if len(widths) < 1:
            raise ValueError("a predictor stage needs at least the transposed-convolution width")
        layers: list[nn.Module] = [UpConvBNReLU(cin, widths[0], bias=bias)]
        for a, b in itertools.pairwise(widths):
            layers.append(ConvBNReLU(a, b, bias=bias))
        self.body = nn.Sequential(*layers)
        self.head = AlphaHead(widths[-1], head_width, bias=bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (alpha logits B×1×2h×2w, last hidden features B×width×2h×2w)."""
        feats = self.body(x)
        return self.head(feats), feats


@dataclass
class PredictorOutput:
    """Alphas in [0, 1] at strides 8, 4, 2 (coarse → fine) and the finest stage's features."""

    alphas: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    features: torch.Tensor

    @property
    def alpha(self) -> torch.Tensor:
        """The finest alpha, B×1×(H/2)×(W/2)."""
        return self.alphas[-1]


class ProgressiveAlphaPredictor(nn.Module):
    """Three cascaded stages producing alpha at strides 8, 4 and 2 (see module docstring)."""

    def __init__(self, config: PredictorConfig | None = None) -> None:
        super().__init__()
        self.config = config or PredictorConfig()
        if len(self.config.stage_widths) != 3:
            raise ValueError("the progressive predictor has exactly three stages")
        ins = self.config.stage_inputs()
        self.stages = nn.ModuleList(
            PredictorStage(cin, tuple(w), self.config.head_width, bias=self.config.bias)
            for cin, w in zip(ins, self.config.stage_widths)
        )

    @property
    def out_features(self) -> int:
        """Channels of the finest stage's hidden features (handed to the native refiner)."""
        return int(self.config.stage_widths[-1][-1])

    def forward(
        self,
        features: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        trimap: torch.Tensor,
        rgb: torch.Tensor,
        prior: torch.Tensor | None = None,
    ) -> PredictorOutput:
        """``features``: (F4, F8, F16), B×C×(H/s)×(W/s); ``trimap``: B×1×(H/4)×(W/4) in {0, .5, 1};
        ``rgb``: B×3×H×W normalised; ``prior``: B×1×H×W in [0, 1], required exactly when the
        config has ``prior_channels``. H and W must be multiples of 16."""
        if (prior is not None) != (self.config.prior_channels > 0):
            raise ValueError(
                "this predictor needs a prior alpha"
                if prior is None
                else "this predictor takes no prior alpha"
            )
        f4, f8, f16 = features
        mode = self.config.resample
        alphas: list[torch.Tensor] = []
        prev: torch.Tensor | None = None
        hidden = f4
        for stage, feat in zip(self.stages, (f16, f8, f4)):
            size = (int(feat.shape[-2]), int(feat.shape[-1]))
            parts = [feat, resample(trimap, size, mode), resample(rgb, size, mode)]
            if prev is not None:
                parts.append(resample(prev, size, mode))
            if prior is not None:
                parts.append(resample(prior, size, mode))
            logits, hidden = stage(torch.cat(parts, dim=1))
            prev = torch.sigmoid(logits)
            alphas.append(prev)
        return PredictorOutput(alphas=(alphas[0], alphas[1], alphas[2]), features=hidden)
