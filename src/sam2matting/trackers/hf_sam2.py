"""SAM2, SAM2.1 (Hiera tiny / small / base+ / large) and EdgeTAM through transformers.

Builders take the same options:

``weights``
    a Hugging Face id, a local transformers folder, or an official checkpoint ``.pt`` (Meta's
    ``sam2*.pt`` or a SAM2Matting checkpoint; converted by :mod:`~sam2matting.trackers.convert`).
    Default: the registry's hub id (local cache first; the hub only when ``HF_HUB_OFFLINE`` is unset).
``config``
    a transformers config: build that architecture with random weights (tests, benchmarks), or
    with ``weights=`` an official ``.pt``, the architecture to load it into (default: inferred).
``device`` / ``dtype``
    resolved once (None/"auto": CUDA, else MPS, else CPU; bf16 autocast on CUDA).
``return_features``
    attach the per-frame FPN features (stride 4/8/16) to every ObjectTrack (default True).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..device import resolve_device
from ..errors import MissingDependencyError, WeightsError
from .hf_common import (
    HALF_MEAN,
    HALF_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    HFVideoTracker,
    Preprocessing,
    TrackerBackend,
)
from .weights import hub_id_for, load_pretrained

if TYPE_CHECKING:
    from transformers import EdgeTamVideoConfig, Sam2VideoConfig

__all__ = [
    "SAM2_SIZES",
    "EdgeTamBackend",
    "Sam2Backend",
    "build",
    "build_edgetam",
    "build_sam2_from_state_dict",
    "repvit_backbone",
    "sam2_config",
    "tiny_edgetam_config",
    "tiny_repvit_edgetam_config",
    "tiny_sam2_config",
]

#: Hiera backbone settings of the released SAM2 / SAM2.1 checkpoints (same for both versions)
SAM2_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "hidden_size": 96,
        "embed_dim_per_stage": [96, 192, 384, 768],
        "num_attention_heads_per_stage": [1, 2, 4, 8],
        "blocks_per_stage": [1, 2, 7, 2],
        "global_attention_blocks": [5, 7, 9],
        "window_positional_embedding_background_size": [7, 7],
        "window_size_per_stage": [8, 4, 14, 7],
    },
    "small": {
        "hidden_size": 96,
        "embed_dim_per_stage": [96, 192, 384, 768],
        "num_attention_heads_per_stage": [1, 2, 4, 8],
        "blocks_per_stage": [1, 2, 11, 2],
        "global_attention_blocks": [7, 10, 13],
        "window_positional_embedding_background_size": [7, 7],
        "window_size_per_stage": [8, 4, 14, 7],
    },
    "base-plus": {
        "hidden_size": 112,
        "embed_dim_per_stage": [112, 224, 448, 896],
        "num_attention_heads_per_stage": [2, 4, 8, 16],
        "blocks_per_stage": [2, 3, 16, 3],
        "global_attention_blocks": [12, 16, 20],
        "window_positional_embedding_background_size": [14, 14],
        "window_size_per_stage": [8, 4, 14, 7],
    },
    "large": {
        "hidden_size": 144,
        "embed_dim_per_stage": [144, 288, 576, 1152],
        "num_attention_heads_per_stage": [2, 4, 8, 16],
        "blocks_per_stage": [2, 6, 36, 4],
        "global_attention_blocks": [23, 33, 43],
        "window_positional_embedding_background_size": [7, 7],
        "window_size_per_stage": [8, 4, 16, 8],
    },
}


def sam2_config(size: str = "tiny", version: str = "2.1") -> Sam2VideoConfig:
    """The real architecture of a released SAM2 (``version="2"``) or SAM2.1 checkpoint.

    SAM2.1 adds temporal encodings to the object pointers and a learned "object absent" spatial
    memory embedding; the rest (1024² input, 7 memory frames, 16 object pointers) is shared.
    """
    from transformers import Sam2HieraDetConfig, Sam2VideoConfig, Sam2VisionConfig

    if size not in SAM2_SIZES:
        raise ValueError(f"unknown SAM2 size {size!r}; one of {', '.join(SAM2_SIZES)}")
    if version not in ("2", "2.1"):
        raise ValueError(f"unknown SAM2 version {version!r}; use '2' or '2.1'")
    hiera = SAM2_SIZES[size]
    backbone = Sam2HieraDetConfig(**hiera)
    vision = Sam2VisionConfig(
        backbone_config=backbone, backbone_channel_list=list(reversed(hiera["embed_dim_per_stage"]))
    )
    v21 = version == "2.1"
    return Sam2VideoConfig(
        vision_config=vision,
        enable_temporal_pos_encoding_for_object_pointers=v21,
        enable_occlusion_spatial_embedding=v21,
    )


def _tiny_vision_config(image_size: int, fpn_hidden_size: int = 128) -> Any:
    from transformers import Sam2HieraDetConfig, Sam2VisionConfig

    s = image_size
    backbone = Sam2HieraDetConfig(
        hidden_size=8,
        embed_dim_per_stage=[8, 16, 32, 64],
        num_attention_heads_per_stage=[1, 1, 2, 2],
        blocks_per_stage=[1, 1, 2, 1],
        global_attention_blocks=[3],
        window_positional_embedding_background_size=[4, 4],
        window_size_per_stage=[4, 4, 4, 2],
        image_size=[s, s],
    )
    return Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[64, 32, 16, 8],
        backbone_feature_sizes=[[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]],
        fpn_hidden_size=fpn_hidden_size,
    )


def tiny_sam2_config(
    image_size: int = 64,
    version: str = "2.1",
    num_maskmem: int = 7,
    max_object_pointers: int = 16,
    hidden_size: int = 128,
) -> Sam2VideoConfig:
    """A ~1 M-parameter SAM2 with the real wiring (Hiera, FPN, memory, pointers) for CPU tests.

    Features come out as {4: 16 ch, 8: 32 ch, 16: 128 ch} at ``image_size/4, /8, /16``;
    ``hidden_size=256`` gives the real models' 32 / 64 / 256 channels (what the official
    SAM2Matting heads take), at a few million parameters.
    """
    from transformers import Sam2VideoConfig
    from transformers.models.sam2_video.configuration_sam2_video import (
        Sam2VideoMaskDecoderConfig,
        Sam2VideoPromptEncoderConfig,
    )

    s = image_size
    v21 = version == "2.1"
    return Sam2VideoConfig(
        vision_config=_tiny_vision_config(s, hidden_size),
        image_size=s,
        prompt_encoder_config=Sam2VideoPromptEncoderConfig(
            hidden_size=hidden_size, image_size=s, patch_size=16
        ),
        mask_decoder_config=Sam2VideoMaskDecoderConfig(
            hidden_size=hidden_size, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32
        ),
        num_maskmem=num_maskmem,
        max_object_pointers_in_encoder=max_object_pointers,
        memory_attention_hidden_size=hidden_size,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[s // 16, s // 16],
        memory_encoder_hidden_size=hidden_size,
        # the memory cross-attention's key/value width is fixed at 64 in transformers
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=hidden_size,
        memory_fuser_embed_dim=hidden_size,
        memory_fuser_intermediate_dim=64,
        memory_fuser_num_layers=1,
        enable_temporal_pos_encoding_for_object_pointers=v21,
        enable_occlusion_spatial_embedding=v21,
    )


def tiny_edgetam_config(image_size: int = 64) -> EdgeTamVideoConfig:
    """A tiny EdgeTAM (spatial perceiver memory, 2-D RoPE over latents) on a tiny Hiera backbone.

    The released EdgeTAM uses a RepViT backbone; the EdgeTAM-specific parts (perceiver, memory
    attention) are what this config exercises.
    """
    from transformers import EdgeTamVideoConfig
    from transformers.models.edgetam_video.configuration_edgetam_video import (
        EdgeTamVideoMaskDecoderConfig,
        EdgeTamVideoPromptEncoderConfig,
    )

    s = image_size
    return EdgeTamVideoConfig(
        vision_config=_tiny_vision_config(s),
        image_size=s,
        prompt_encoder_config=EdgeTamVideoPromptEncoderConfig(
            hidden_size=128, image_size=s, patch_size=16
        ),
        mask_decoder_config=EdgeTamVideoMaskDecoderConfig(
            hidden_size=128, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32
        ),
        memory_attention_hidden_size=128,
        memory_attention_num_layers=1,
        memory_attention_mlp_hidden_size=64,
        memory_attention_rope_feat_sizes=[s // 16, s // 16],
        memory_attention_rope_k_sizes=[2, 2],
        memory_encoder_hidden_size=128,
        # the memory cross-attention's key/value width is fixed at 64 in transformers
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128,
        memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=64,
        memory_fuser_num_layers=1,
        perceiver_resampler_num_latents=8,
        perceiver_resampler_num_latents_2d=4,
        perceiver_resampler_hidden_size=64,
        perceiver_resampler_mlp_intermediate_size=32,
        perceiver_resampler_attention_head_dim=64,
        perceiver_resampler_num_layers=1,
    )


# ----------------------------------------------------------------------------- EdgeTAM backbone
# The released EdgeTAM wraps timm's RepViT-M1 (``TimmWrapperModel``), and this project never
# installs timm. These modules rebuild the same network with the same parameter names (timm's
# features-only wrapper flattens ``stages.N`` into ``stages_N``), so the released transformers
# checkpoint loads into it unchanged.

#: timm RepViT variants: (stage widths, stage depths, legacy RepVGG branch)
REPVIT_VARIANTS: dict[str, tuple[tuple[int, ...], tuple[int, ...], bool]] = {
    "repvit_m1": ((48, 96, 192, 384), (2, 2, 14, 2), True),
    "repvit_m2": ((64, 128, 256, 512), (2, 2, 12, 2), True),
    "repvit_m3": ((64, 128, 256, 512), (4, 4, 18, 2), True),
    "repvit_m0_9": ((48, 96, 192, 384), (2, 2, 14, 2), False),
    "repvit_m1_0": ((56, 112, 224, 448), (2, 2, 14, 2), False),
    "repvit_m1_1": ((64, 128, 256, 512), (2, 2, 12, 2), False),
    "repvit_m1_5": ((64, 128, 256, 512), (4, 4, 24, 4), False),
    "repvit_m2_3": ((80, 160, 320, 640), (6, 6, 34, 2), False),
}


def _repvit_modules() -> dict[str, type]:
    """RepViT building blocks (defined lazily so importing this module stays free of torch)."""
    import torch
    from torch import nn

    def make_divisible(v: float, divisor: int = 8) -> int:
        return max(divisor, int(v + divisor / 2) // divisor * divisor)

    class ConvNorm(nn.Sequential):
        def __init__(
            self, cin: int, cout: int, k: int = 1, stride: int = 1, pad: int = 0, groups: int = 1
        ) -> None:
            super().__init__()
            self.add_module("c", nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False))
            self.add_module("bn", nn.BatchNorm2d(cout))

    class SqueezeExcite(nn.Module):
        def __init__(self, ch: int) -> None:
            super().__init__()
            rd = make_divisible(ch * 0.25)
            self.fc1 = nn.Conv2d(ch, rd, 1)
            self.bn = nn.Identity()
            self.act = nn.ReLU()
            self.fc2 = nn.Conv2d(rd, ch, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = self.fc2(self.act(self.bn(self.fc1(x.mean((2, 3), keepdim=True)))))
            return x * torch.sigmoid(s)

    class RepVggDw(nn.Module):
        def __init__(self, ch: int, k: int, legacy: bool) -> None:
            super().__init__()
            self.conv = ConvNorm(ch, ch, k, 1, (k - 1) // 2, groups=ch)
            self.conv1: nn.Module = (
                ConvNorm(ch, ch, 1, 1, 0, groups=ch) if legacy else nn.Conv2d(ch, ch, 1, groups=ch)
            )
            self.bn: nn.Module = nn.Identity() if legacy else nn.BatchNorm2d(ch)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.bn(self.conv(x) + self.conv1(x) + x)

    class Mlp(nn.Module):
        def __init__(self, ch: int, hidden: int) -> None:
            super().__init__()
            self.conv1 = ConvNorm(ch, hidden)
            self.act = nn.GELU()
            self.conv2 = ConvNorm(hidden, ch)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv2(self.act(self.conv1(x)))

    class Block(nn.Module):
        def __init__(self, ch: int, ratio: int, k: int, use_se: bool, legacy: bool) -> None:
            super().__init__()
            self.token_mixer = RepVggDw(ch, k, legacy)
            self.se: nn.Module = SqueezeExcite(ch) if use_se else nn.Identity()
            self.channel_mixer = Mlp(ch, ch * ratio)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.se(self.token_mixer(x))
            return x + self.channel_mixer(x)

    class Stem(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.conv1 = ConvNorm(cin, cout // 2, 3, 2, 1)
            self.act1 = nn.GELU()
            self.conv2 = ConvNorm(cout // 2, cout, 3, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv2(self.act1(self.conv1(x)))

    class Downsample(nn.Module):
        def __init__(self, cin: int, ratio: int, cout: int, k: int, legacy: bool) -> None:
            super().__init__()
            self.pre_block = Block(cin, ratio, k, False, legacy)
            self.spatial_downsample = ConvNorm(cin, cin, k, 2, (k - 1) // 2, groups=cin)
            self.channel_downsample = ConvNorm(cin, cout)
            self.ffn = Mlp(cout, cout * ratio)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.channel_downsample(self.spatial_downsample(self.pre_block(x)))
            return x + self.ffn(x)

    class Stage(nn.Module):
        def __init__(
            self, cin: int, cout: int, depth: int, ratio: int, k: int, down: bool, legacy: bool
        ) -> None:
            super().__init__()
            self.downsample: nn.Module = (
                Downsample(cin, ratio, cout, k, legacy) if down else nn.Identity()
            )
            self.blocks = nn.Sequential(
                *[Block(cout, ratio, k, i % 2 == 0, legacy) for i in range(depth)]
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.blocks(self.downsample(x))

    class Features(nn.Module):
        def __init__(
            self, widths: tuple[int, ...], depths: tuple[int, ...], legacy: bool, in_chans: int = 3
        ) -> None:
            super().__init__()
            self.stem = Stem(in_chans, widths[0])
            cin = widths[0]
            for i, (w, d) in enumerate(zip(widths, depths)):
                self.add_module(f"stages_{i}", Stage(cin, w, d, 2, 3, i > 0, legacy))
                cin = w
            self.num_stages = len(widths)

        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            x = self.stem(x)
            out = []
            for i in range(self.num_stages):
                x = getattr(self, f"stages_{i}")(x)
                out.append(x)
            return out

    return {"Features": Features}


def repvit_backbone(config: Any) -> Any:
    """A timm-free stand-in for ``TimmWrapperModel(repvit_*, features_only=True)`` (same keys).

    ``config``: the TimmWrapperConfig (``architecture`` e.g. "repvit_m1.dist_in1k"; its
    ``model_args`` may override ``embed_dim``/``depth``/``legacy`` as timm allows).
    """
    from types import SimpleNamespace

    from torch import nn

    arch = str(getattr(config, "architecture", "") or "").split(".")[0]
    if arch not in REPVIT_VARIANTS:
        raise MissingDependencyError(
            f"EdgeTAM backbone {arch or '?'} needs timm, which this project does not install; "
            f"only RepViT ({', '.join(REPVIT_VARIANTS)}) is rebuilt without it"
        )
    widths, depths, legacy = REPVIT_VARIANTS[arch]
    args = dict(getattr(config, "model_args", None) or {})
    widths = tuple(args.get("embed_dim", widths))
    depths = tuple(args.get("depth", depths))
    legacy = bool(args.get("legacy", legacy))
    features_cls = _repvit_modules()["Features"]

    class RepViTBackbone(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = config
            self.timm_model = features_cls(widths, depths, legacy, int(args.get("in_chans", 3)))

        def forward(self, pixel_values: Any, **kwargs: Any) -> Any:
            feats = self.timm_model(pixel_values)
            return SimpleNamespace(last_hidden_state=feats, hidden_states=None)

    return RepViTBackbone()


@contextlib.contextmanager
def _timm_free_edgetam() -> Iterator[None]:
    """While building an EdgeTAM model, make RepViT backbones without timm (when timm is absent)."""
    import importlib.util

    if importlib.util.find_spec("timm") is not None:
        yield
        return
    from transformers.models.edgetam import modeling_edgetam

    real = modeling_edgetam.AutoModel

    class _AutoModel:
        @staticmethod
        def from_config(config: Any, **kwargs: Any) -> Any:
            if getattr(config, "model_type", "") == "timm_wrapper":
                return repvit_backbone(config)
            return real.from_config(config, **kwargs)

    modeling_edgetam.AutoModel = _AutoModel  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        modeling_edgetam.AutoModel = real  # type: ignore[misc]


def tiny_repvit_edgetam_config(image_size: int = 64) -> EdgeTamVideoConfig:
    """:func:`tiny_edgetam_config` with the released model's backbone type (a tiny RepViT behind
    a ``timm_wrapper`` config), to test the timm-free backbone and its checkpoint layout."""
    from transformers import TimmWrapperConfig
    from transformers.models.edgetam.configuration_edgetam import EdgeTamVisionConfig

    s = image_size
    backbone = TimmWrapperConfig(
        architecture="repvit_m1.dist_in1k",
        model_args={
            "in_chans": 3,
            "features_only": True,
            "out_indices": [0, 1, 2, 3],
            "embed_dim": [8, 16, 32, 64],
            "depth": [1, 1, 2, 1],
        },
    )
    config = tiny_edgetam_config(image_size)
    config.vision_config = EdgeTamVisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[64, 32, 16, 8],
        backbone_feature_sizes=[[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]],
        fpn_hidden_size=128,
    )
    return config


class Sam2Backend(TrackerBackend):
    """Sam2VideoModel (SAM2 and SAM2.1)."""

    family = "sam2"

    def __init__(self, model: Any, preprocessing: Preprocessing | None = None) -> None:
        from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

        self.model = model
        self.session_class = Sam2VideoInferenceSession
        self.preprocessing = preprocessing or Preprocessing(_image_size(model.config))


class EdgeTamBackend(TrackerBackend):
    """EdgeTamVideoModel: memory is encoded inside the per-frame call (spatial perceiver)."""

    family = "edgetam"
    inline_memory = True

    def __init__(self, model: Any, preprocessing: Preprocessing | None = None) -> None:
        from transformers.models.edgetam_video.modeling_edgetam_video import (
            EdgeTamVideoInferenceSession,
        )

        self.model = model
        self.session_class = EdgeTamVideoInferenceSession
        self.preprocessing = preprocessing or Preprocessing(_image_size(model.config))


def _image_size(config: Any) -> int:
    size = config.image_size
    return int(size[0] if isinstance(size, (list, tuple)) else size)


def _preprocessing_for(source: str | Path | None, image_size: int, family: str) -> Preprocessing:
    """Mean/std/size from a checkpoint's (video) preprocessor config when one is at hand, else
    the family's defaults (ImageNet statistics for SAM2/EdgeTAM, 0.5/0.5 for SAM3)."""
    mean, std = (HALF_MEAN, HALF_STD) if family == "sam3" else (IMAGENET_MEAN, IMAGENET_STD)
    # Meta's SAM 2 / 2.1 / EdgeTAM predictors resize the uint8 frame with PIL (bicubic); SAM3
    # keeps the torch resize (its official pre-processing was not checked here)
    resize = "bilinear-antialias" if family == "sam3" else "pil-bicubic"
    data: dict[str, Any] = {}
    if source is not None:
        for filename in ("video_preprocessor_config.json", "preprocessor_config.json"):
            path: str | None = None
            if Path(source).is_dir():
                candidate = Path(source) / filename
                path = str(candidate) if candidate.is_file() else None
            else:
                try:
                    from huggingface_hub import try_to_load_from_cache

                    found = try_to_load_from_cache(str(source), filename)
                    path = found if isinstance(found, str) else None
                except Exception:
                    path = None
            if path:
                try:
                    data = json.loads(Path(path).read_text())
                except (OSError, ValueError):
                    data = {}
                if data:
                    break
    if "image_mean" in data and "image_std" in data:
        mean = tuple(float(v) for v in data["image_mean"])  # type: ignore[assignment]
        std = tuple(float(v) for v in data["image_std"])  # type: ignore[assignment]
    return Preprocessing(image_size=image_size, mean=mean, std=std, resize=resize)


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "transformers is not installed; install it with: pip install 'sam2matting[trackers]'"
        ) from exc
    return transformers


def _make_tracker(
    name: str,
    backend: TrackerBackend,
    options: dict[str, Any],
    cls: type[HFVideoTracker] = HFVideoTracker,
    fill_hole_default: int = 8,
    **extra: Any,
) -> HFVideoTracker:
    return cls(
        name,
        backend,
        device=resolve_device(options.get("device")),
        dtype=options.get("dtype", "auto"),
        return_features=options.get("return_features", True),
        fill_hole_area=int(options.get("fill_hole_area", fill_hole_default)),
        memory_bfloat16=bool(options.get("memory_bfloat16", fill_hole_default > 0)),
        **extra,
    )


_KNOWN_OPTIONS = {
    "weights",
    "config",
    "device",
    "dtype",
    "return_features",
    "seed",
    "fill_hole_area",
    "memory_bfloat16",
}


def _check_options(name: str, options: dict[str, Any]) -> None:
    unknown = sorted(set(options) - _KNOWN_OPTIONS)
    if unknown:
        from ..errors import Sam2MattingError

        raise Sam2MattingError(
            f"tracker {name} does not take option(s) {', '.join(unknown)}; it takes {', '.join(sorted(_KNOWN_OPTIONS))}"
        )


def build(name: str = "sam2.1-hiera-tiny", **options: Any) -> HFVideoTracker:
    """Build the SAM2/SAM2.1 tracker registered as ``name`` (e.g. "sam2.1-hiera-tiny").

    ``config=`` builds that architecture with random weights (seeded by ``seed``, default 0);
    otherwise ``weights=`` (hub id, folder or ``.pt``) or the registry's hub id is loaded.
    """
    _check_options(name, options)
    transformers = _import_transformers()
    config = options.get("config")
    weights = options.get("weights")
    if weights is not None and _is_checkpoint_file(weights):
        return _build_from_checkpoint(name, Path(weights), options)
    if config is not None:
        import torch

        torch.manual_seed(int(options.get("seed", 0)))
        model = transformers.Sam2VideoModel(config)
        return _make_tracker(name, Sam2Backend(model), options)
    weights = weights or hub_id_for(name)
    model = load_pretrained(transformers.Sam2VideoModel, weights, name=name)
    pre = _preprocessing_for(weights, _image_size(model.config), "sam2")
    return _make_tracker(name, Sam2Backend(model, pre), options)


def build_edgetam(**options: Any) -> HFVideoTracker:
    """Build EdgeTAM (``EdgeTamVideoModel``); same options as :func:`build`.

    The released EdgeTAM's RepViT-M1 backbone is a timm model; without timm (never installed
    here) it is rebuilt by :func:`repvit_backbone` with the same parameter names, so the
    released weights load as they are.
    """
    name = "edgetam"
    _check_options(name, options)
    transformers = _import_transformers()
    config = options.get("config")
    if config is not None:
        import torch

        torch.manual_seed(int(options.get("seed", 0)))
        with _timm_free_edgetam():
            model = transformers.EdgeTamVideoModel(config)
        return _make_tracker(name, EdgeTamBackend(model), options)
    weights = options.get("weights") or hub_id_for(name)
    with _timm_free_edgetam():
        model = load_pretrained(transformers.EdgeTamVideoModel, weights, name=name)
    pre = _preprocessing_for(weights, _image_size(model.config), "edgetam")
    return _make_tracker(name, EdgeTamBackend(model, pre), options)


def build_sam2_hiera_tiny(**options: Any) -> HFVideoTracker:
    return build("sam2-hiera-tiny", **options)


def build_sam2_hiera_small(**options: Any) -> HFVideoTracker:
    return build("sam2-hiera-small", **options)


def build_sam2_hiera_base_plus(**options: Any) -> HFVideoTracker:
    return build("sam2-hiera-base-plus", **options)


def build_sam2_hiera_large(**options: Any) -> HFVideoTracker:
    return build("sam2-hiera-large", **options)


def build_sam2_1_hiera_tiny(**options: Any) -> HFVideoTracker:
    return build("sam2.1-hiera-tiny", **options)


def build_sam2_1_hiera_small(**options: Any) -> HFVideoTracker:
    return build("sam2.1-hiera-small", **options)


def build_sam2_1_hiera_base_plus(**options: Any) -> HFVideoTracker:
    return build("sam2.1-hiera-base-plus", **options)


def build_sam2_1_hiera_large(**options: Any) -> HFVideoTracker:
    return build("sam2.1-hiera-large", **options)


def _is_checkpoint_file(weights: Any) -> bool:
    p = Path(str(weights))
    return p.is_file() and p.suffix.lower() in (".pt", ".pth", ".ckpt", ".bin")


def _build_from_checkpoint(name: str, path: Path, options: dict[str, Any]) -> HFVideoTracker:
    """An official SAM 2 / 2.1 or SAM2Matting-SAM2.1 checkpoint: convert, load strictly, keep
    head weights."""
    from . import convert

    state = convert.load_checkpoint(path)
    return build_sam2_from_state_dict(name, state, options, file_name=path.name)


def build_sam2_from_state_dict(
    name: str,
    state: dict[str, Any],
    options: dict[str, Any],
    *,
    file_name: str = "checkpoint",
    expect_variant: tuple[str, str] | None = None,
) -> HFVideoTracker:
    """A SAM 2 / 2.1 tracker from an official checkpoint's flat state dict (Meta's
    ``sam2*.pt`` or a SAM2Matting checkpoint whose head keys are set aside). ``expect_variant``:
    (size, version) a preset requires, e.g. ("tiny", "2.1"); a checkpoint of another family or
    variant is a :class:`WeightsError` naming the file. Everything is checked before the model
    is built. (:func:`~sam2matting.trackers.hf_load.build_from_state_dict` dispatches SAM 3.)"""
    from . import convert

    tracker_sd, head_sd = convert.split_head_keys(state)
    family = convert.detect_family(tracker_sd)
    if family != "sam2":
        raise WeightsError(f"{file_name}: holds a {family} tracker, but {name} expects SAM 2 / 2.1")
    config = options.get("config")
    if config is None or expect_variant is not None:
        size, version = convert.infer_sam2_variant(tracker_sd)
        if expect_variant is not None and (size, version) != tuple(expect_variant):
            raise WeightsError(
                f"{file_name}: holds a SAM {version} {size} tracker, but {name} expects "
                f"SAM {expect_variant[1]} {expect_variant[0]}"
            )
    if config is None:
        config = sam2_config(size, version)
        label = name if name != "path" else f"sam{version}-hiera-{size} ({file_name})"
    else:
        label = name if name != "path" else f"sam2 ({file_name})"
    converted = convert.sam2_official_to_hf(tracker_sd)
    transformers = _import_transformers()
    model = transformers.Sam2VideoModel(config)
    convert.load_strict(model, converted, what=f"{file_name}: tracker weights")
    return _make_tracker(label, Sam2Backend(model), options, head_state_dict=head_sd or None)
