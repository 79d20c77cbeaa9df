"""SAM2Matting's learned matting stage: region-proposal bridge + progressive heads + native refiner.

Per frame, for all objects at once (batched):

1. **Working image.** With tracker features, the working grid is the features' (4 × the
   stride-4 grid, e.g. 1024² for SAM2); otherwise the frame is resized so its long side is
   ``working_size`` (multiples of 16) and the :class:`~.encoders.CompactEncoder` computes the
   features from RGB + mask — on the objects' window only (their bounding box plus a margin,
   :func:`object_window`), so the cost follows the objects' size. Hybrid networks also get the
   guided filter's alpha for the mask (:func:`guided_prior`), a classical answer whose errors
   are largely independent of the network's.
2. **Bridge.** The ROI detector proposes the matting-critical pixels (stride 4; threshold from
   the weights' config); optionally a per-object hysteresis
   (:class:`~sam2matting.bridge.proposals.RoiStabilizer`) steadies it over consecutive frames;
   the pseudo-trimap is 0.5 in the ROI and the binary mask elsewhere
   (:func:`sam2matting.bridge.trimap.pseudo_trimap`).
3. **Heads.** The progressive predictor gives alpha at strides 8, 4, 2 of the working image
   (hybrid: each stage also sees the prior).
4. **Native refinement.** The stride-2 alpha is resized to the frame; tiles covering the ROI at
   the frame's own resolution are re-solved by the native refiner from the full-res RGB, the
   coarse alpha and the predictor's features (and the prior). A 4K frame gets a 4K matte; the
   cost grows with the ROI's area.
5. **Known region.** Outside the ROI the matte is the tracker's binary mask at the frame's
   resolution (the pseudo-trimap's known pixels), inside it the heads' / refiner's alpha.

Configs: :func:`hybrid_config` (the shipped default: :func:`compact_config` plus the guided
prior), :func:`compact_config` (own encoder, narrow heads, CPU-fast) and :func:`paper_config` (tracker features, the paper's exact layer sizes; official weights load
into it through :func:`sam2matting.matting.weights.load_official_heads`).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

import cv2
import numpy as np
import torch
from torch import nn

from ..bridge.proposals import (
    RoiStabilizer,
    gather_patches_numpy,
    scatter_patches,
    select_tiles,
)
from ..bridge.roi import RoiConfig, RoiDetector
from ..bridge.trimap import morphological_trimap, pseudo_trimap
from ..errors import InputError, Sam2MattingError
from ..preprocess import IMAGENET_MEAN, IMAGENET_STD
from ..types import ObjectTrack, check_rgb_frame
from .arbiter import EdgeArbiter, arbitrate, load_arbiter
from .classical import band_alpha
from .edge_refine import colour_line_refine
from .encoders import CompactEncoder, EncoderConfig, normalize_rgb, tap_tracker_features
from .heads import PredictorConfig, ProgressiveAlphaPredictor, fuse_batchnorm, resize_to
from .refine import NativeRefiner, RefinerConfig, fill_tile_context
from .temporal import TemporalConfig, TemporalSmoother
from .windows import object_window, snap_window, working_shape

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LearnedMatting",
    "LearnedMattingConfig",
    "NetConfig",
    "NetOutput",
    "SAM2MattingNet",
    "compact_config",
    "config_from_dict",
    "count_parameters",
    "guided_prior",
    "hybrid_config",
    "model_presets",
    "normalize_rgb",
    "object_window",
    "paper_config",
    "snap_window",
    "tiny_config",
    "working_shape",
]


# --------------------------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NetConfig:
    """The whole learned network. ``encoder=None``: tracker features only (paper variant);
    ``refiner=None``: stop at the stride-2 alpha, bilinearly upsampled (the paper's output).
    ``working_size``: long side of the working image when the own encoder is used.
    ``prior_radius``: > 0 makes the heads *hybrid*: the predictor and refiner also see the
    guided filter's alpha (:func:`guided_prior`, band half-width ``prior_radius`` working
    pixels), whose errors are largely independent of the network's; 0 → the paper's inputs.
    ``official``: run the official SAM2Matting pipeline exactly (:meth:`SAM2MattingNet.
    official_forward`: mask = the tracker's stride-4 logits > 0, image = the tracker's own
    normalised input, stride-2 alpha resized bilinearly to the frame, no refiner, no pasting)."""

    name: str
    roi: RoiConfig
    predictor: PredictorConfig
    encoder: EncoderConfig | None = None
    refiner: RefinerConfig | None = None
    working_size: int = 512
    prior_radius: int = 0
    official: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def compact_config() -> NetConfig:
    """Own encoder + bridge/heads at about a quarter of the paper's widths (weights compact-v1;
    the default adds the guided prior, :func:`hybrid_config`).

    Same structure and feature interface (32 / 64 / 256 channels at strides 4 / 8 / 16) as the
    paper; narrower so that bridge + heads run in tens of milliseconds per 512×288 frame on a
    laptop CPU and train on a CPU within the hour.
    """
    return NetConfig(
        name="compact",
        encoder=EncoderConfig(stem=16, widths=(32, 64, 128), out_channels=(32, 64, 256)),
        roi=RoiConfig(branch_widths=((32, 16), (32, 16), (64, 16)), fusion_widths=(24, 16)),
        predictor=PredictorConfig(
            stage_widths=((128, 48, 24), (64, 24), (48, 24, 16)), head_width=16
        ),
        refiner=RefinerConfig(feature_channels=16, widths=(16, 16), tile=32),
        working_size=512,
    )


def hybrid_config() -> NetConfig:
    """The compact network with the guided-filter prior (``prior_radius`` 5 working pixels, the
    guided head's band at 512×288): the shipped default since weights v2 (see CHANGELOG)."""
    c = compact_config()
    assert c.refiner is not None
    return dataclasses.replace(
        c,
        name="compact-guided",
        # the threshold the v1 weights shipped with (picked after training, see their manifest),
        # so fine-tuning from them trains with the trimaps they are used with
        roi=dataclasses.replace(c.roi, threshold=0.8),
        predictor=dataclasses.replace(c.predictor, prior_channels=1),
        refiner=dataclasses.replace(c.refiner, prior_channels=1),
        prior_radius=5,
    )


def tiny_config(prior: bool = False) -> NetConfig:
    """A minimal network of the compact structure (tests: contract runs, training smoke test);
    ``prior=True``: the hybrid variant."""
    q = 1 if prior else 0
    return NetConfig(
        name="tiny-guided" if prior else "tiny",
        encoder=EncoderConfig(
            stem=4, widths=(8, 8, 8), out_channels=(8, 8, 16), context_dilations=()
        ),
        roi=RoiConfig(
            feature_channels=(8, 8, 16),
            branch_widths=((4, 4), (4, 4), (4, 4)),
            fusion_widths=(4, 4),
        ),
        predictor=PredictorConfig(
            feature_channels=(8, 8, 16),
            stage_widths=((8, 4), (8, 4), (8, 4)),
            head_width=4,
            prior_channels=q,
        ),
        refiner=RefinerConfig(feature_channels=4, widths=(4,), tile=16, prior_channels=q),
        working_size=128,
        prior_radius=3 if prior else 0,
    )


def paper_config(refiner: bool = False) -> NetConfig:
    """The paper's heads exactly as released (≈ 4.95 M parameters for ROI + heads): the
    official code's convolutions with biases, its bilinear resampling everywhere and its
    pipeline (``official=True``); official checkpoints load into it
    (:func:`~sam2matting.matting.weights.load_official_heads`).

    No own encoder (the tracker provides F4/F8/F16); ``refiner=True`` adds an (untrained,
    identity-initialised) native refiner on the 64-channel stage-3 features, which the
    official pipeline does not run (no refiner was trained for those features).
    """
    return NetConfig(
        name="paper",
        encoder=None,
        roi=RoiConfig(bias=True, resample="bilinear"),
        predictor=PredictorConfig(bias=True, resample="bilinear"),
        refiner=RefinerConfig(feature_channels=64) if refiner else None,
        working_size=1024,
        official=True,
    )


def model_presets() -> dict[str, Callable[[], NetConfig]]:
    """Named network configs (``--model`` of training, ``model`` of random-init heads)."""
    return {
        "compact": compact_config,
        "compact-guided": hybrid_config,
        "paper": paper_config,
        "tiny": tiny_config,
        "tiny-guided": lambda: tiny_config(prior=True),
    }


def config_from_dict(data: dict[str, Any]) -> NetConfig:
    """Inverse of :meth:`NetConfig.to_dict` (as stored in a weights manifest)."""

    def tup(x: Any) -> Any:
        return tuple(tup(v) for v in x) if isinstance(x, list | tuple) else x

    def build(cls: Any, d: dict[str, Any] | None) -> Any:
        if d is None:
            return None
        return cls(**{k: tup(v) for k, v in d.items()})

    try:
        return NetConfig(
            name=str(data["name"]),
            roi=build(RoiConfig, data["roi"]),
            predictor=build(PredictorConfig, data["predictor"]),
            encoder=build(EncoderConfig, data.get("encoder")),
            refiner=build(RefinerConfig, data.get("refiner")),
            working_size=int(data.get("working_size", 512)),
            prior_radius=int(data.get("prior_radius", 0)),
            official=bool(data.get("official", False)),
        )
    except (KeyError, TypeError) as exc:
        from ..errors import WeightsError

        raise WeightsError(f"weights manifest has an invalid network config: {exc}") from exc


# --------------------------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------------------------
@dataclass
class NetOutput:
    """Everything a forward pass produces (training supervises all of it).

    ``roi_logits`` B×1×H/4×W/4; ``roi`` bool, same shape; ``trimap`` B×1×H/4×W/4 in {0, .5, 1};
    ``alphas`` (stride 8, 4, 2) in [0, 1]; ``features`` the finest stage's hidden maps (stride 2).
    """

    roi_logits: torch.Tensor
    roi: torch.Tensor
    trimap: torch.Tensor
    alphas: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    features: torch.Tensor


class SAM2MattingNet(nn.Module):
    """Encoder (optional) + ROI detector + progressive predictor + native refiner (optional)."""

    def __init__(self, config: NetConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or compact_config()
        self.encoder = CompactEncoder(c.encoder) if c.encoder is not None else None
        self.roi = RoiDetector(c.roi)
        self.predictor = ProgressiveAlphaPredictor(c.predictor)
        if c.refiner is not None and c.refiner.feature_channels != self.predictor.out_features:
            raise ValueError(
                f"refiner expects {c.refiner.feature_channels} feature channels but the predictor "
                f"gives {self.predictor.out_features}"
            )
        self.refiner = NativeRefiner(c.refiner) if c.refiner is not None else None
        wants = {c.predictor.prior_channels} | (
            {c.refiner.prior_channels} if c.refiner is not None else set()
        )
        if wants != ({1} if c.prior_radius > 0 else {0}):
            raise ValueError(
                "prior_radius > 0 needs prior_channels = 1 in the predictor and refiner "
                "(and 0 without a prior)"
            )

    @property
    def uses_prior(self) -> bool:
        """Whether the heads take the guided-filter prior (hybrid variant)."""
        return self.config.prior_radius > 0

    def features(
        self,
        rgb: torch.Tensor,
        mask: torch.Tensor,
        tracker_features: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if tracker_features is not None:
            return tracker_features
        if self.encoder is None:
            raise Sam2MattingError(
                "this matting network has no own encoder and the tracker gave no features"
            )
        f4, f8, f16 = self.encoder(rgb, mask)
        return f4, f8, f16

    def forward(
        self,
        rgb: torch.Tensor,
        mask: torch.Tensor,
        tracker_features: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        roi_override: torch.Tensor | None = None,
        prior: torch.Tensor | None = None,
    ) -> NetOutput:
        """``rgb`` B×3×H×W normalised, ``mask`` B×1×H×W in {0, 1}, H, W multiples of 16.

        ``roi_override`` (bool B×1×H/4×W/4) replaces the learned ROI (ablations, stabilising);
        ``prior`` B×1×H×W: the guided prior (:func:`guided_prior`), hybrid networks only.
        """
        feats = self.features(rgb, mask, tracker_features)
        size4 = (int(feats[0].shape[-2]), int(feats[0].shape[-1]))
        roi_logits = self.roi(feats, mask, rgb)
        roi = self.roi.propose(roi_logits) if roi_override is None else roi_override.bool()
        mask4 = (resize_to(mask, size4) > 0.5).to(rgb.dtype)
        trimap = pseudo_trimap(mask4, roi)
        out = self.predictor(feats, trimap, rgb, prior)
        return NetOutput(roi_logits, roi, trimap, out.alphas, out.features)

    def official_forward(
        self,
        features: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        mask: torch.Tensor,
        image: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The official SAM2Matting heads' computation (``_detect_unknown_region`` then
        ``_forward_alpha_heads``), for networks built with :func:`paper_config`.

        ``features``: (F4, F8, F16), B×C×(S/4)², B×C×(S/8)², B×C×(S/16)² — the tracker's
        high-resolution features of its S×S input; ``mask``: B×1×(S/4)² in {0, 1} (the tracker's
        low-res mask logits > 0); ``image``: B×3×S×S, the tracker's normalised input.
        Returns (ROI logits B×1×(S/4)², alpha B×1×(S/2)² in [0, 1]).
        """
        if not self.config.official:
            raise Sam2MattingError(
                f"official_forward needs the official heads (paper_config); this is {self.config.name!r}"
            )
        roi_logits = self.roi(features, mask, image)
        # hard ROI: 0.5 inside, the binary mask elsewhere (the pseudo-trimap)
        roi = (torch.sigmoid(roi_logits) > self.config.roi.threshold).to(mask.dtype)
        trimap = roi * 0.5 + (1 - roi) * mask
        out = self.predictor(features, trimap, image)
        return roi_logits, out.alpha


def guided_prior(image01: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """The hybrid heads' classical prior: what the ``guided`` head answers for this binary mask
    (band half-width ``radius``), float32 H×W in [0, 1]. ``image01``: H×W×3 float32 in [0, 1]
    at the working resolution (training computes it on its working crops the same way)."""
    binary = mask > 0.5
    if not binary.any():
        return np.zeros(mask.shape, np.float32)
    return band_alpha(image01, binary.astype(np.float32), binary, radius, "guided")


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (BN running statistics excluded)."""
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------------------------
# the matting stage
# --------------------------------------------------------------------------------------------
RoiMode = Literal["learned", "morphological", "mask"]


@dataclass
class LearnedMattingConfig:
    """Options of the ``sam2matting`` head.

    ``weights``: a shipped weights name (``"default"``), a path to a ``.safetensors`` file with
    its manifest next to it, a path to an official SAM2Matting ``.pt`` checkpoint (paper
    config, tracker features), or ``None`` for random init (tests). ``feature_source``:
    ``"auto"`` uses tracker features when the network has no own encoder, the own encoder
    otherwise; ``"tracker"`` / ``"encoder"`` force one. ``refine``: native-resolution refinement
    (off → bilinear upsampling as in the paper). ``roi_mode``: ``learned`` (the method),
    ``morphological`` (classical band around the mask) or ``mask`` (no unknown region) — the
    last two are ablations. ``stabilize``: ROI hysteresis over consecutive frames (off by
    default: on the dev benchmark it changed MAD by −0.01 and dtSSD by −0.03, within noise).
    ``paste_known``: outside the ROI the alpha is the tracker's binary mask (the pseudo-trimap's
    known region), inside it the heads' (and refiner's) alpha; off → the heads' alpha everywhere.
    ``roi_threshold``: overrides the detector's ROI threshold from the weights' config.
    ``inner_limit``: if set, the learned ROI may reach into the mask only this far (fraction of
    the working image's diagonal: 0.01 ≈ one stride-4 cell at 512×288); deeper mask pixels are
    then known foreground — a guard against holes where a detector proposes busy interior
    textures (a weakly trained one did). ``None`` (default): no limit, as in the paper; with the
    shipped weights the limit no longer helped (dev subset and training-cutout composites).
    ``crop_margin``: the network runs on the objects' bounding box grown by this many working
    pixels (:func:`object_window`), so its cost follows the objects' area, not the frame's;
    outside it the alpha is the mask, as outside any ROI. ``None``: the whole frame.
    ``temporal``: strength of the motion-compensated smoothing of soft pixels over consecutive
    frames (:mod:`.temporal`; 0 = off): the per-frame network flickers more than the guided
    filter (dtSSD), and the smoothing keeps real changes (motion, new strands) untouched.
    ``edge_radius`` / ``edge_eps``: colour-line refinement of the finished matte
    (:mod:`.edge_refine`, a guided filter of the alpha by the frame's colours, radius in frame
    pixels; 0 = off), before the temporal smoothing: hard image edges become hard alpha edges
    (the heads' 1–2 px halo goes) and the pasted mask's staircase is anti-aliased. Chosen on the
    tuning clips (never the validation set): over radius 1–4 × eps 1e-5–1e-3, (2, 1e-4) gave
    the lowest MAD under both mask conditions (clean MAD 8.02 → 7.81, Grad 0.44 → 0.40, dtSSD
    2.08 → 1.79; tracker-like 8.30 → 8.10, 0.55 → 0.49, 2.45 → 2.12); radius ≥ 3 blurred fur,
    eps 1e-5 is numerically unstable in float32.
    ``arbiter``: the edge arbiter (:mod:`.arbiter`, needs ``edge_radius`` > 0) chooses per
    outline pixel between the refined learned matte and the tracker's mask refined the same
    way, so an outline the mask already has right stays a one-pixel edge; ``arbiter_strength``:
    how far the matte moves from the refined learned matte to the arbiter's answer (0–1; 0.5
    chosen on the tuning clips: the best mean over both mask conditions, tracker-like masks
    within 3 %); ``arbiter_weights``: its weights file (default: the shipped one). Off for
    official checkpoints.
    """

    weights: str | None = "default"
    model: str = "compact"
    device: str | None = None
    #: compute precision of the networks: None/"auto"/"float32" → fp32; "bfloat16" / "float16"
    #: → autocast (validated against the device by sam2matting.device.resolve_dtype)
    dtype: str | None = None
    #: per-pixel work (resizes, prior, tiles, paste) as torch ops on the device
    #: (:mod:`.resident`); None → on CUDA / MPS, not on the CPU (OpenCV is faster there)
    tensor_ops: bool | None = None
    feature_source: Literal["auto", "tracker", "encoder"] = "auto"
    refine: bool = True
    roi_mode: RoiMode = "learned"
    stabilize: bool = False
    roi_threshold: float | None = None
    paste_known: bool = True
    inner_limit: float | None = None
    working_size: int | None = None
    threads: int | None = None
    crop_margin: int | None = 64
    temporal: float = 0.5
    edge_radius: int = 2
    edge_eps: float = 1e-4
    arbiter: bool = True
    arbiter_strength: float = 0.5
    arbiter_weights: str | None = None


def _binary_mask(track: ObjectTrack, height: int, width: int) -> np.ndarray:
    """float32 H×W {0, 1}: the track's logits resized bilinearly, > 0 (= ``track.mask``, without
    the full-frame sigmoid)."""
    logits: np.ndarray = np.asarray(track.logits, dtype=np.float32)
    if logits.shape != (height, width):
        logits = cv2.resize(logits, (width, height), interpolation=cv2.INTER_LINEAR)
    return (logits > 0).astype(np.float32)


class LearnedMatting:
    """The learned :class:`~sam2matting.matting.base.MattingStage` (see module docstring)."""

    name = "sam2matting"

    def __init__(
        self,
        net: SAM2MattingNet,
        config: LearnedMattingConfig | None = None,
        device: torch.device | None = None,
    ) -> None:
        self.config = config or LearnedMattingConfig(weights=None)
        self.device = device or torch.device("cpu")
        # a private copy with BatchNorm folded into the convolutions (inference only)
        fused = fuse_batchnorm(copy.deepcopy(net).eval()).to(self.device)
        self.net: SAM2MattingNet = cast(SAM2MattingNet, fused)
        if self.device.type == "cpu":
            # NHWC convolutions are ~2× faster with oneDNN on CPU
            self.net = self.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if self.config.roi_threshold is not None:
            cfg_roi = dataclasses.replace(
                net.config.roi, threshold=float(self.config.roi_threshold)
            )
            self.net.config = dataclasses.replace(net.config, roi=cfg_roi)
            self.net.roi.config = cfg_roi
        thr = self.net.config.roi.threshold
        self.stabilizer = RoiStabilizer(high=thr, low=max(0.0, thr - 0.1))
        self.temporal = TemporalSmoother(TemporalConfig(strength=float(self.config.temporal)))
        if int(self.config.edge_radius) < 0 or (
            self.config.edge_radius > 0 and not float(self.config.edge_eps) > 0
        ):
            raise InputError(
                f"edge_radius must be >= 0 and edge_eps > 0, got {self.config.edge_radius} / "
                f"{self.config.edge_eps}"
            )
        self.arbiter: EdgeArbiter | None = None
        if not 0.0 <= float(self.config.arbiter_strength) <= 1.0:
            raise InputError(
                f"arbiter_strength must be in [0, 1], got {self.config.arbiter_strength}"
            )
        if (
            self.config.arbiter
            and self.config.arbiter_strength > 0
            and self.config.edge_radius > 0
            and not net.config.official
        ):
            self.arbiter = load_arbiter(self.config.arbiter_weights, self.device)
        to = self.config.tensor_ops
        self.tensor_ops = self.device.type != "cpu" if to is None else bool(to)
        #: seconds per stage for the last call (bridge+heads, refine, …), for benchmarks
        self.last_timings: dict[str, float] = {}
        #: share of the frame's pixels inside refined tiles on the last call (all objects)
        self.last_coverage = 0.0
        #: host↔device copies and syncs of the last call on the resident path (:mod:`.resident`)
        self.last_transfers: dict[str, int] = {}
        #: the official pipeline's image: (size, mean, std) of the tracker's own input; None:
        #: 4 × the stride-4 grid with ImageNet statistics (SAM 2). Set by models.build_official.
        self.official_input: (
            tuple[int, tuple[float, float, float], tuple[float, float, float]] | None
        ) = None

    def reset(self) -> None:
        """Forget the ROI hysteresis and temporal smoothing state."""
        self.stabilizer.reset()
        self.temporal.reset()

    # -- helpers ------------------------------------------------------------------------------
    def _use_tracker_features(self, tracks: dict[int, ObjectTrack]) -> bool:
        src = self.config.feature_source
        have = all(t.features is not None for t in tracks.values())
        if src == "encoder":
            if self.net.encoder is None:
                raise Sam2MattingError(
                    "feature_source='encoder' but this network has no own encoder"
                )
            return False
        if src == "tracker" or self.net.encoder is None:
            if not have:
                raise InputError(
                    "this matting head needs tracker features (ObjectTrack.features); "
                    "use a tracker that provides them or a head with its own encoder"
                )
            return True
        return False

    def _roi_override(
        self, masks: np.ndarray, prob: np.ndarray, ids: list[int], frame_index: int
    ) -> np.ndarray:
        """Bool B×h4×w4 ROI per the configured mode (the learned ROI, with hysteresis when
        ``stabilize`` is on)."""
        mode = self.config.roi_mode
        if mode == "mask":
            return np.zeros(prob.shape, bool)
        if mode == "morphological":
            out = np.zeros(prob.shape, bool)
            h4, w4 = prob.shape[1:]
            for k in range(len(ids)):
                m4 = cv2.resize(
                    masks[k].astype(np.uint8), (w4, h4), interpolation=cv2.INTER_NEAREST
                )
                out[k] = morphological_trimap(m4.astype(bool)) == 0.5
            return out
        if not self.config.stabilize:
            roi = prob > self.net.config.roi.threshold
        else:
            roi = np.stack([self.stabilizer(i, frame_index, prob[k]) for k, i in enumerate(ids)])
        limit = self.config.inner_limit
        if limit is not None:
            # deep inside the tracker's mask is known foreground (as for any trimap): the
            # detector's occasional interior proposals on busy textures would punch holes
            h4, w4 = prob.shape[1:]
            r = max(1, round(limit * float(np.hypot(h4, w4))))
            disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
            for k in range(len(ids)):
                m4 = cv2.resize(masks[k].astype(np.uint8), (w4, h4), interpolation=cv2.INTER_AREA)
                roi[k] &= cv2.erode(m4, disc, borderType=cv2.BORDER_REPLICATE) == 0
        return roi

    # -- the stage ----------------------------------------------------------------------------
    def matte(
        self, image: np.ndarray, tracks: dict[int, ObjectTrack], frame_index: int = 0
    ) -> dict[int, np.ndarray]:
        """Alpha per object, float32 H×W in [0, 1], for an H×W×3 uint8 RGB frame."""
        if self.tensor_ops and not self.net.config.official:
            from .resident import matte_resident  # every step on the device, temporal included

            return matte_resident(self, image, tracks, frame_index)
        from ..device import autocast_for

        with autocast_for(self.device, self.config.dtype):
            out = self._matte(image, tracks, frame_index)
        if self.config.edge_radius > 0:  # on the host, like the temporal filter
            t0 = time.perf_counter()
            r, eps = int(self.config.edge_radius), float(self.config.edge_eps)
            out = {oid: colour_line_refine(image, a, r, eps) for oid, a in out.items()}
            self.last_timings["edges"] = time.perf_counter() - t0
            if self.arbiter is not None:
                t0 = time.perf_counter()
                h, w = image.shape[:2]
                for oid, a in out.items():
                    mask = _binary_mask(tracks[oid], h, w)
                    crisp = colour_line_refine(image, mask, r, eps)
                    arb = arbitrate(self.arbiter, image, a, crisp, mask)
                    out[oid] = a + float(self.config.arbiter_strength) * (arb - a)
                self.last_timings["arbiter"] = time.perf_counter() - t0
        if self.config.temporal > 0:  # on the host: flow and the blend are OpenCV work
            t0 = time.perf_counter()
            out = {oid: self.temporal(oid, frame_index, image, a) for oid, a in out.items()}
            self.last_timings["temporal"] = time.perf_counter() - t0
        return out

    @torch.inference_mode()
    def _matte(
        self, image: np.ndarray, tracks: dict[int, ObjectTrack], frame_index: int = 0
    ) -> dict[int, np.ndarray]:
        image = check_rgb_frame(image)
        if self.net.config.official:
            return self._matte_official(image, tracks)
        h, w = image.shape[:2]
        out: dict[int, np.ndarray] = {}
        timings = {"prepare": 0.0, "heads": 0.0, "upsample": 0.0, "refine": 0.0, "paste": 0.0}
        t0 = time.perf_counter()
        use_feats = self._use_tracker_features(tracks) if tracks else False
        ids: list[int] = []
        feats_list: list[tuple[torch.Tensor, ...]] = []
        if use_feats:
            for oid, tr in tracks.items():
                feats_list.append(tap_tracker_features(tr.features or {}, device=self.device))
                ids.append(oid)
            if ids:
                h4, w4 = feats_list[0][0].shape[-2:]
                if any(f[0].shape[-2:] != (h4, w4) for f in feats_list):
                    raise InputError(
                        "objects of one frame carry tracker features of different sizes"
                    )
                hw, ww = 4 * int(h4), 4 * int(w4)
        else:
            long_side = self.config.working_size or self.net.config.working_size
            hw, ww = working_shape(h, w, long_side)
            ids = list(tracks)
        masks_np: list[np.ndarray] = []
        keep: list[int] = []
        for k, oid in enumerate(ids):
            m = tracks[oid].mask(hw, ww)
            if not m.any():
                out[oid] = np.zeros((h, w), np.float32)
                continue
            masks_np.append(m)
            keep.append(k)
        if not keep:
            self.last_timings = timings
            return out
        ids = [ids[k] for k in keep]
        b = len(ids)
        dev = self.device
        interp = cv2.INTER_AREA if (hw < h or ww < w) else cv2.INTER_LINEAR
        small = cv2.resize(image, (ww, hw), interpolation=interp)
        small_t = torch.from_numpy(small).to(dev).permute(2, 0, 1)[None].float().div_(255)
        # the network runs on the objects' window of the working image (cost ∝ object area)
        full = (0, hw, 0, ww)
        win = full if use_feats else object_window(masks_np, self.config.crop_margin)
        y0, y1, x0, x1 = win
        crop = (slice(None), slice(None), slice(y0, y1), slice(x0, x1))
        rgb = normalize_rgb(small_t[crop]).expand(b, 3, y1 - y0, x1 - x0)
        masks_all = np.stack(masks_np)
        masks = torch.from_numpy(masks_all[:, None, y0:y1, x0:x1].astype(np.float32)).to(dev)
        rgb = rgb.contiguous(memory_format=torch.channels_last)
        masks = masks.contiguous(memory_format=torch.channels_last)
        prior: torch.Tensor | None = None  # whole working image (the refiner samples it)
        if self.net.uses_prior:
            r = self.net.config.prior_radius
            small01 = small.astype(np.float32) / 255.0
            priors = np.stack([guided_prior(small01, m, r) for m in masks_np])[:, None]
            prior = torch.from_numpy(priors).to(dev).contiguous(memory_format=torch.channels_last)
        prior_crop = prior[crop] if prior is not None else None
        tracker_feats = None
        if use_feats:
            tracker_feats = tuple(torch.cat([feats_list[k][s] for k in keep]) for s in range(3))
        t1 = time.perf_counter()
        timings["prepare"] = t1 - t0

        net = self.net
        feats = net.features(rgb, masks, tracker_feats)  # type: ignore[arg-type]
        roi_logits = net.roi(feats, masks, rgb)
        # ROI probabilities on the whole working grid (0 outside the window), so the ROI modes
        # and the stabiliser's per-object state see one frame-sized grid
        prob = np.zeros((b, hw // 4, ww // 4), np.float32)
        prob[:, y0 // 4 : y1 // 4, x0 // 4 : x1 // 4] = torch.sigmoid(roi_logits.float())[
            :, 0
        ].cpu()
        roi_np = self._roi_override(masks_all, prob, ids, frame_index)
        roi = torch.from_numpy(roi_np[:, None, y0 // 4 : y1 // 4, x0 // 4 : x1 // 4]).to(dev)
        size4 = (int(feats[0].shape[-2]), int(feats[0].shape[-1]))
        mask4 = (resize_to(masks, size4) > 0.5).float()
        trimap = pseudo_trimap(mask4, roi)
        pred = net.predictor(feats, trimap, rgb, prior_crop)
        coarse, hidden = pred.alpha, pred.features
        if win != full:  # back on the whole working grid: the mask outside the window
            mask2 = np.stack(
                [
                    cv2.resize(
                        m.astype(np.float32), (ww // 2, hw // 2), interpolation=cv2.INTER_AREA
                    )
                    for m in masks_np
                ]
            )
            coarse = torch.from_numpy(mask2[:, None]).to(dev)
            coarse[:, :, y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = pred.alpha.float()
            hidden = pred.features.new_zeros((b, pred.features.shape[1], hw // 2, ww // 2))
            hidden[:, :, y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = pred.features
        alpha2 = coarse[:, 0].float().cpu().numpy()
        t2 = time.perf_counter()
        timings["heads"] = t2 - t1

        alphas = [
            np.clip(cv2.resize(alpha2[k], (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
            for k in range(b)
        ]
        t3 = time.perf_counter()
        timings["upsample"] = t3 - t2
        self.last_coverage = 0.0
        if self.config.refine and net.refiner is not None:
            self._refine(image, alphas, roi_np, coarse, hidden, prior)
        t4 = time.perf_counter()
        timings["refine"] = t4 - t3
        if self.config.paste_known:
            # the pseudo-trimap's known region keeps the tracker's mask at the frame's own
            # resolution (hard edges stay hard; no drift or noise outside the ROI)
            for k, oid in enumerate(ids):
                roi8 = roi_np[k].astype(np.uint8) * 255
                roi_n = cv2.resize(roi8, (w, h), interpolation=cv2.INTER_LINEAR)
                alphas[k] = np.where(roi_n > 127, alphas[k], _binary_mask(tracks[oid], h, w))
            timings["paste"] = time.perf_counter() - t4
        for k, oid in enumerate(ids):
            out[oid] = alphas[k].astype(np.float32, copy=False)
        self.last_timings = timings
        return out

    def _matte_official(
        self, image: np.ndarray, tracks: dict[int, ObjectTrack]
    ) -> dict[int, np.ndarray]:
        """The official SAM2Matting pipeline per frame (``_run_single_frame_inference`` of its
        video predictor): mask = the tracker's low-res logits > 0 on the stride-4 grid, image =
        the tracker's input (PIL bicubic to S², normalised as the tracker does), the heads'
        :meth:`~SAM2MattingNet.official_forward`, and the stride-2 alpha resized bilinearly to the
        frame. No refiner (none was trained for these features), no ROI hysteresis, no pasting."""
        import torch.nn.functional as F

        from ..preprocess import meta_model_input

        h, w = image.shape[:2]
        timings = {"prepare": 0.0, "heads": 0.0, "upsample": 0.0, "refine": 0.0, "paste": 0.0}
        self.last_coverage = 0.0
        if not tracks:
            self.last_timings = timings
            return {}
        t0 = time.perf_counter()
        if not all(t.features is not None for t in tracks.values()):
            raise InputError(
                "the official SAM2Matting heads need tracker features (ObjectTrack.features): use a SAM 2 tracker "
                "(e.g. --model sam2matting-sam2.1-tiny)"
            )
        ids = list(tracks)
        dev = self.device
        feats_list = [tap_tracker_features(tracks[i].features or {}, device=dev) for i in ids]
        h4, w4 = (int(s) for s in feats_list[0][0].shape[-2:])
        if any(tuple(f[0].shape[-2:]) != (h4, w4) for f in feats_list):
            raise InputError("objects of one frame carry tracker features of different sizes")
        feats = tuple(torch.cat([f[s] for f in feats_list]) for s in range(3))
        masks = []
        for i in ids:
            logits = torch.from_numpy(np.asarray(tracks[i].logits, np.float32))[None, None]
            if tuple(logits.shape[-2:]) != (h4, w4):
                logits = F.interpolate(logits, size=(h4, w4), mode="bilinear", align_corners=False)
            masks.append((logits > 0).float())
        mask = torch.cat(masks).to(dev)
        size, mean, std = self.official_input or (4 * h4, IMAGENET_MEAN, IMAGENET_STD)
        rgb = meta_model_input(image, size, mean, std, device=dev)
        rgb = rgb.expand(len(ids), -1, -1, -1)
        t1 = time.perf_counter()
        timings["prepare"] = t1 - t0
        _, alpha2 = self.net.official_forward(features=feats, mask=mask, image=rgb)  # type: ignore[arg-type]
        t2 = time.perf_counter()
        timings["heads"] = t2 - t1
        alpha = F.interpolate(alpha2.float(), size=(h, w), mode="bilinear", align_corners=False)
        alphas = alpha[:, 0].clamp_(0.0, 1.0).cpu().numpy()
        timings["upsample"] = time.perf_counter() - t2
        self.last_timings = timings
        return {i: alphas[k].astype(np.float32, copy=False) for k, i in enumerate(ids)}

    def _refine(
        self,
        image: np.ndarray,
        alphas: list[np.ndarray],
        roi: np.ndarray,
        coarse: torch.Tensor,
        features: torch.Tensor,
        prior: torch.Tensor | None = None,
    ) -> None:
        """Re-solve the tiles covering each object's ROI band at native resolution, in place."""
        refiner = self.net.refiner
        if refiner is None:
            return
        rc = refiner.config
        h, w = image.shape[:2]
        tiles = [select_tiles(roi[k], h, w, rc.tile, grow=0) for k in range(len(alphas))]
        counts = [len(t) for t in tiles]
        self.last_coverage = sum(t.covered_fraction for t in tiles)
        if sum(counts) == 0:
            return
        origins = np.concatenate([t.origins for t in tiles])
        patches = gather_patches_numpy(image, origins, rc.tile, rc.pad)  # n×P×P×3 uint8
        n_all, p = len(origins), rc.tile + 2 * rc.pad
        # one channels-last input buffer, filled in place:
        # [RGB 3, coarse alpha 1, features C, prior P]
        x = torch.empty(
            (n_all, rc.in_channels, p, p),
            device=self.device,
            memory_format=torch.channels_last,
        )
        rgb = torch.from_numpy(patches).to(self.device).permute(0, 3, 1, 2)
        x[:, :3] = normalize_rgb(rgb.float().div_(255.0))
        # coarse alpha and features sampled together (one grid_sample per object); the prior
        # (working resolution, not stride 2) separately
        fill_tile_context(x, [t.origins for t in tiles], coarse, features, prior, rc, (h, w))
        fine = refiner.forward_packed(x)[:, 0].float().cpu().numpy()
        start = 0
        for k, t in enumerate(tiles):
            n = counts[k]
            if n:
                scatter_patches(alphas[k], fine[start : start + n], t.origins, rc.tile, rc.pad)
            start += n
