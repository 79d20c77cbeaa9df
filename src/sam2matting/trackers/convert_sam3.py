"""Official SAM 3 checkpoints (the tracker part) → transformers' ``Sam3TrackerVideoModel``.

Layouts, read from the code (not inferred):

- **Official file** (Meta's ``sam3.pt`` and FudanCVL's ``SAM2Matting-SAM3.pt``, state dict under
  ``"model"``): ``detector.*`` is Meta's SAM 3 image model — its vision backbone
  ``detector.backbone.vision_backbone.*`` (ViT ``trunk``, the detector's FPN neck ``convs`` and the
  tracker's FPN neck ``sam2_convs``), its text encoder ``detector.backbone.language_backbone.*``, DETR
  encoder/decoder ``detector.transformer.*``, ``detector.geometry_encoder.*``,
  ``detector.segmentation_head.*`` and ``detector.dot_prod_scoring.*``; ``tracker.*`` is the SAM 3
  tracker (``Sam3TrackerBase``: ``sam_prompt_encoder``, ``sam_mask_decoder``, the memory attention
  ``transformer.encoder``, the memory encoder ``maskmem_backbone``, pointers and embeddings) and, in
  SAM2Matting-SAM3.pt, the six matting head modules. SAM2Matting's ``inference_video_sam3.py``
  keeps exactly ``detector.backbone.vision_backbone.*`` (as ``backbone.vision_backbone.*``) and
  ``tracker.*`` (prefix removed) for its predictor; that *predictor layout* is accepted too.
- **transformers**: ``vision_encoder.backbone.*`` (ViT; q/k/v split, position table without the
  class-token row), ``vision_encoder.neck.*`` (the tracker neck), and the SAM 2-style tracker keys
  (``prompt_encoder``, ``mask_decoder``, ``memory_attention``, ``memory_encoder``, …) — what the
  transformers conversion script ``convert_sam3_video_to_hf.py`` produces and what its
  ``sam3_tracker`` loading rules (``detector_model.vision_encoder.backbone`` → ``vision_encoder.
  backbone``, ``tracker_neck`` → ``vision_encoder.neck``) expect.

What is **not converted** (``Sam3TrackerVideoModel`` has no place for it, and the official
SAM2Matting video predictor does not use it): the detector's own FPN neck
(``detector.backbone.vision_backbone.convs.*``; loaded by the official predictor but never run by
its tracker) and the rest of the SAM 3 detector — text encoder, DETR encoder/decoder, geometry
encoder, segmentation head, dot-product scoring (Meta's ``sam3.pt`` has them; the matting
predictor never loads them). Text prompts therefore need ``--tracker sam3`` with transformers'
own ``facebook/sam3`` weights. The ViT's rotary tables ``attn.freqs_cis`` are derived buffers:
transformers recomputes them, so they are checked for shape and not copied.

Tracker keys are first renamed to the SAM 2 official names (``transformer.encoder`` →
``memory_attention``, ``maskmem_backbone`` → ``memory_encoder``, the mask decoder's ``mlp.lin1/2``
→ ``mlp.layers.0/1``) and then go through the SAM 2 table of :mod:`.convert`, so SAM 2 and SAM 3
share one tracker mapping.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from ..errors import WeightsError
from . import convert

if TYPE_CHECKING:
    from transformers import Sam3TrackerVideoConfig

__all__ = [
    "SAM3_NOT_CONVERTED",
    "describe_not_converted",
    "sam3_config_from_state",
    "sam3_official_to_hf",
    "split_sam3_checkpoint",
]

_VISION = "backbone.vision_backbone."

#: parts of an official SAM 3 file that Sam3TrackerVideoModel has no place for, by key prefix
#: (in the file layout) → what they are
SAM3_NOT_CONVERTED: dict[str, str] = {
    "detector.backbone.vision_backbone.convs.": "the detector's FPN neck",
    "detector.backbone.language_backbone.": "the text encoder",
    "detector.transformer.": "the DETR encoder/decoder",
    "detector.geometry_encoder.": "the geometry (box/point) encoder",
    "detector.segmentation_head.": "the detector's segmentation head",
    "detector.dot_prod_scoring.": "the detector's text-query scoring",
}

# SAM 3 tracker names → the SAM 2 official names (whole path components only)
_TO_SAM2_NAMES = [
    (re.compile(r"^transformer\.encoder\.norm\."), "memory_attention.norm."),
    (re.compile(r"^transformer\.encoder\.layers\."), "memory_attention.layers."),
    (re.compile(r"^maskmem_backbone\."), "memory_encoder."),
    (
        re.compile(r"^(sam_mask_decoder\.transformer\.layers\.\d+\.mlp\.)lin([12])\."),
        None,  # lin1 → layers.0, lin2 → layers.1
    ),
]

_BLOCK = re.compile(r"^trunk\.blocks\.(\d+)\.(.+)$")
_NECK = re.compile(
    r"^sam2_convs\.(\d+)\.(dconv_2x2_0|dconv_2x2_1|dconv_2x2|conv_1x1|conv_3x3)\.(.+)$"
)
_NECK_NAMES = {
    "dconv_2x2_0": "scale_layers.0",
    "dconv_2x2_1": "scale_layers.2",
    "dconv_2x2": "scale_layers.0",
    "conv_1x1": "proj1",
    "conv_3x3": "proj2",
}
_BLOCK_NAMES = {
    "norm1.": "layer_norm1.",
    "norm2.": "layer_norm2.",
    "attn.proj.": "attention.o_proj.",
    "mlp.fc1.": "mlp.fc1.",
    "mlp.fc2.": "mlp.fc2.",
}


def split_sam3_checkpoint(
    state: dict[str, Any], name: str = "checkpoint"
) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    """An official SAM 3 / SAM2Matting-SAM3 state dict → (tracker keys in the predictor layout,
    matting-head keys, counts of the keys not converted by :data:`SAM3_NOT_CONVERTED` part).

    The file layout (``detector.`` / ``tracker.``) and SAM2Matting's predictor layout
    (``backbone.vision_backbone.*`` plus bare tracker keys) are both accepted. A ``detector.`` key
    outside the vision backbone and the known detector parts is a :class:`WeightsError` (strict:
    nothing is silently dropped).
    """
    tracker: dict[str, Any] = {}
    skipped: dict[str, int] = {}
    unknown: list[str] = []
    for key, value in state.items():
        part = next((p for p in SAM3_NOT_CONVERTED if key.startswith(p)), None)
        if part is None and key.startswith(_VISION + "convs."):
            part = "detector." + _VISION + "convs."
        if part is not None:
            skipped[part] = skipped.get(part, 0) + 1
            continue
        if key.startswith("detector." + _VISION):
            tracker[key[len("detector.") :]] = value
        elif key.startswith("tracker."):
            tracker[key[len("tracker.") :]] = value
        elif key.startswith("detector."):
            unknown.append(key)
        else:
            tracker[key] = value
    if unknown:
        raise WeightsError(
            f"{name}: {len(unknown)} SAM 3 detector key(s) of no known part, "
            f"e.g. {', '.join(unknown[:3])}"
        )
    tracker_sd, heads = convert.split_head_keys(tracker)
    return tracker_sd, heads, skipped


def _vit_heads(state: dict[str, Any]) -> tuple[int, int]:
    """(number of heads, head width) of the ViT, from a block's rotary table (tokens × width/2)."""
    width = int(state[_VISION + "trunk.patch_embed.proj.weight"].shape[0])
    table = state.get(_VISION + "trunk.blocks.0.attn.freqs_cis")
    if table is None:
        raise WeightsError("not a SAM 3 vision backbone: trunk.blocks.0.attn.freqs_cis is missing")
    head_dim = 2 * int(table.shape[-1])
    if head_dim <= 0 or width % head_dim:
        raise WeightsError(f"SAM 3 ViT: width {width} is not a multiple of head width {head_dim}")
    return width // head_dim, head_dim


def _square(n: int, what: str) -> int:
    side = math.isqrt(n)
    if side * side != n:
        raise WeightsError(f"SAM 3 checkpoint: {what} has {n} entries, not a square grid")
    return side


def _indices(state: dict[str, Any], prefix: str) -> set[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return {int(m.group(1)) for k in state if (m := pat.match(k))}


def _count(state: dict[str, Any], prefix: str) -> int:
    return len(_indices(state, prefix))


def _last_index(state: dict[str, Any], prefix: str) -> int:
    found = _indices(state, prefix)
    if not found:
        raise KeyError(prefix + "0")
    return max(found)


def sam3_config_from_state(tracker_sd: dict[str, Any]) -> Sam3TrackerVideoConfig:
    """The ``Sam3TrackerVideoConfig`` of an official SAM 3 tracker state dict (predictor layout).

    Widths, depths and grid sizes are read from the weights (the released SAM 3 gives the
    transformers defaults); what weights cannot tell is what Meta's ``Sam3TrackerBase`` fixes in
    code: 8 mask-decoder heads, 1 memory-attention head, patch 14, scale factors 4 / 2 / 1 / ½.
    """
    from transformers import Sam3TrackerVideoConfig
    from transformers.models.sam3.configuration_sam3 import Sam3VisionConfig, Sam3ViTConfig
    from transformers.models.sam3_tracker_video.configuration_sam3_tracker_video import (
        Sam3TrackerVideoMaskDecoderConfig,
        Sam3TrackerVideoPromptEncoderConfig,
    )

    sd = tracker_sd
    try:
        patch = sd[_VISION + "trunk.patch_embed.proj.weight"]
        width, patch_size = int(patch.shape[0]), int(patch.shape[-1])
        heads, _ = _vit_heads(sd)
        depth = _count(sd, _VISION + "trunk.blocks.")
        tokens = [
            int(sd[f"{_VISION}trunk.blocks.{i}.attn.freqs_cis"].shape[0]) for i in range(depth)
        ]
        grid = max(_square(t, "a rotary table") for t in tokens)
        window = min(_square(t, "a rotary table") for t in tokens)
        global_blocks = [i for i, t in enumerate(tokens) if _square(t, "a rotary table") == grid]
        if window == grid:  # every block global: the window is never used
            global_blocks = list(range(depth))
        pos = sd[_VISION + "trunk.pos_embed"]
        pretrain = _square(int(pos.shape[1]) - 1, "trunk.pos_embed (minus its class token)")
        intermediate = int(sd[_VISION + "trunk.blocks.0.mlp.fc1.weight"].shape[0])
        hidden = int(sd[_VISION + "sam2_convs.0.conv_1x1.weight"].shape[0])
        md = "sam_mask_decoder."
        mlp_dim = int(sd[md + "transformer.layers.0.mlp.lin1.weight"].shape[0])
        attn_width = int(
            sd[md + "transformer.layers.0.cross_attn_token_to_image.q_proj.weight"].shape[0]
        )
        iou_hidden = int(sd[md + "iou_prediction_head.layers.0.weight"].shape[0])
        mask_channels = int(sd["sam_prompt_encoder.mask_downscaling.3.weight"].shape[0])
        mem = "maskmem_backbone."
        mem_out = int(sd[mem + "out_proj.weight"].shape[0])
        fuser_layers = _count(sd, mem + "fuser.layers.")
        fuser_inter = int(sd[mem + "fuser.layers.0.pwconv1.weight"].shape[0])
        # Sequential(conv, norm, act) per stride-2 stage, then a final 1×1 conv at index 3·stages
        last = _last_index(sd, mem + "mask_downsampler.encoder.")
        down_embed = int(sd[f"{mem}mask_downsampler.encoder.{last}.weight"].shape[0])
        attn_layers = _count(sd, "transformer.encoder.layers.")
        ff = int(sd["transformer.encoder.layers.0.linear1.weight"].shape[0])
        num_maskmem = int(sd["maskmem_tpos_enc"].shape[0])
    except KeyError as exc:
        raise WeightsError(f"not a SAM 3 tracker: {exc.args[0]} is missing") from exc
    if last % 3:
        raise WeightsError(f"SAM 3 mask downsampler: its last layer is at index {last}")
    image_size = grid * patch_size
    vit = Sam3ViTConfig(
        hidden_size=width,
        intermediate_size=intermediate,
        num_hidden_layers=depth,
        num_attention_heads=heads,
        image_size=image_size,
        patch_size=patch_size,
        window_size=window,
        global_attn_indexes=global_blocks,
        pretrain_image_size=pretrain * patch_size,
    )
    vision = Sam3VisionConfig(backbone_config=vit, fpn_hidden_size=hidden)
    config = Sam3TrackerVideoConfig(  # type: ignore[call-arg]  # image_size: property set in __post_init__
        vision_config=vision,
        prompt_encoder_config=Sam3TrackerVideoPromptEncoderConfig(
            hidden_size=hidden, patch_size=patch_size, mask_input_channels=mask_channels
        ),
        mask_decoder_config=Sam3TrackerVideoMaskDecoderConfig(
            hidden_size=hidden,
            mlp_dim=mlp_dim,
            attention_downsample_rate=max(hidden // max(attn_width, 1), 1),
            iou_head_hidden_dim=iou_hidden,
        ),
        num_maskmem=num_maskmem,
        memory_attention_hidden_size=hidden,
        memory_attention_num_layers=attn_layers,
        memory_attention_feed_forward_hidden_size=ff,
        memory_encoder_hidden_size=hidden,
        memory_encoder_output_channels=mem_out,
        mask_downsampler_embed_dim=down_embed,
        mask_downsampler_total_stride=2 ** (last // 3),
        memory_fuser_num_layers=fuser_layers,
        memory_fuser_embed_dim=hidden,
        memory_fuser_intermediate_dim=fuser_inter,
        enable_occlusion_spatial_embedding="no_obj_embed_spatial" in sd,
        enable_temporal_pos_encoding_for_object_pointers="obj_ptr_tpos_proj.weight" in sd,
        image_size=image_size,
    )
    return config


def _vision_to_hf(key: str, value: Any, out: dict[str, Any]) -> bool:
    """One ``backbone.vision_backbone.*`` key → transformers key(s) in ``out``; False if unknown."""
    import torch

    rest = key[len(_VISION) :]
    vit = "vision_encoder.backbone."
    if rest == "trunk.patch_embed.proj.weight":
        out[vit + "embeddings.patch_embeddings.projection.weight"] = value
        return True
    if rest == "trunk.pos_embed":
        # the official table keeps a class-token row in front; transformers' does not
        side = math.isqrt(int(value.shape[1]) - 1)
        if value.dim() != 3 or side * side + 1 != int(value.shape[1]):
            return False
        out[vit + "embeddings.position_embeddings"] = value[:, 1:, :]
        return True
    if rest.startswith("trunk.ln_pre."):
        out[vit + "layer_norm." + rest[len("trunk.ln_pre.") :]] = value
        return True
    m = _BLOCK.match(rest)
    if m:
        i, tail = m.group(1), m.group(2)
        layer = f"{vit}layers.{i}."
        if tail == "attn.freqs_cis":
            return True  # derived rotary table: transformers recomputes it (shape checked later)
        if tail.startswith("attn.qkv."):
            q, k, v = torch.chunk(value, 3, dim=0)
            param = tail[len("attn.qkv.") :]
            for proj, t in (("q_proj", q), ("k_proj", k), ("v_proj", v)):
                out[f"{layer}attention.{proj}.{param}"] = t
            return True
        for src, dst in _BLOCK_NAMES.items():
            if tail.startswith(src):
                out[layer + dst + tail[len(src) :]] = value
                return True
        return False
    m = _NECK.match(rest)
    if m:
        out[
            f"vision_encoder.neck.fpn_layers.{m.group(1)}.{_NECK_NAMES[m.group(2)]}.{m.group(3)}"
        ] = value
        return True
    return False


def _to_sam2_name(key: str) -> str:
    for pattern, target in _TO_SAM2_NAMES:
        m = pattern.match(key)
        if m:
            if target is None:
                return f"{m.group(1)}layers.{int(m.group(2)) - 1}." + key[m.end() :]
            return target + key[m.end() :]
    return key


def sam3_official_to_hf(
    tracker_sd: dict[str, Any], config: Sam3TrackerVideoConfig | None = None
) -> dict[str, Any]:
    """Official SAM 3 tracker keys (predictor layout, heads and detector parts already set aside
    by :func:`split_sam3_checkpoint`) → ``Sam3TrackerVideoModel`` keys.

    Strict: a key no rule knows is a :class:`WeightsError`. ``config`` (default: read from the
    weights) is used to check the rotary tables, which are not copied.
    """
    out: dict[str, Any] = {}
    tracker: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in tracker_sd.items():
        if key.startswith(_VISION):
            if not _vision_to_hf(key, value, out):
                unknown.append(key)
        else:
            tracker[_to_sam2_name(key)] = value
    if unknown:
        raise WeightsError(
            f"{len(unknown)} SAM 3 vision-backbone key(s) have no transformers counterpart, "
            f"e.g. {', '.join(unknown[:3])}"
        )
    if any(k.startswith("image_encoder.") for k in tracker):
        raise WeightsError("a SAM 2 image encoder inside a SAM 3 checkpoint")
    out.update(convert.sam2_official_to_hf(tracker))
    _check_rotary_tables(tracker_sd, config or sam3_config_from_state(tracker_sd))
    return out


def _check_rotary_tables(tracker_sd: dict[str, Any], config: Sam3TrackerVideoConfig) -> None:
    vit: Any = getattr(config.vision_config, "backbone_config", None)
    if vit is None:
        raise WeightsError("SAM 3 config without a vision backbone config")
    grid = int(vit.image_size) // int(vit.patch_size)
    head_half = int(vit.hidden_size) // int(vit.num_attention_heads) // 2
    for i in range(int(vit.num_hidden_layers)):
        key = f"{_VISION}trunk.blocks.{i}.attn.freqs_cis"
        table = tracker_sd.get(key)
        if table is None:
            raise WeightsError(f"SAM 3 vision backbone: {key} is missing")
        side = grid if i in vit.global_attn_indexes else int(vit.window_size)
        if tuple(table.shape) != (side * side, head_half):
            raise WeightsError(
                f"{key}: shape {tuple(table.shape)}, but the architecture needs "
                f"({side * side}, {head_half})"
            )


def describe_not_converted(skipped: dict[str, int]) -> str:
    """'… not converted: the text encoder (295 keys), …' for a notice; '' when nothing was."""
    if not skipped:
        return ""
    parts = [f"{SAM3_NOT_CONVERTED[p]} ({n} keys)" for p, n in skipped.items()]
    return "SAM 3 parts with no place in Sam3TrackerVideoModel, not converted: " + ", ".join(parts)
