"""Official checkpoints → the transformers layout (strict about keys).

Handles Meta's SAM2 / SAM2.1 checkpoints (``sam2_hiera_*.pt``, ``sam2.1_hiera_*.pt``: a state dict
under ``"model"`` with keys such as ``image_encoder.trunk.*``, ``sam_mask_decoder.*``,
``memory_attention.*``, ``memory_encoder.*``, ``maskmem_tpos_enc``, ``no_mem_embed``,
``obj_ptr_proj.*``) and the tracker part of official SAM2Matting checkpoints, which add the matting
head modules ``unknown_region_predictor``, ``unknown_fusion``, ``unknown_alpha_predictor`` and
``alpha_pred1..3``: :func:`split_head_keys` separates those for the matting heads.

The key mapping is a table of prefix templates read in both directions (official → transformers
for loading, transformers → official to synthesise official-layout checkpoints in tests and to
export), plus three structural rules: the four point embeddings are stacked into one matrix, the
prompt encoder's Fourier matrix is shared with the model's image embedding, and the memory
encoder's mask-downsampler ``Sequential`` indices become named layers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checkpoints import load_state_dict_strict, read_torch_checkpoint
from ..errors import WeightsError

if TYPE_CHECKING:
    import torch

__all__ = [
    "HEAD_MODULES",
    "detect_family",
    "infer_sam2_variant",
    "load_checkpoint",
    "load_strict",
    "sam2_hf_to_official",
    "sam2_official_to_hf",
    "split_head_keys",
]

#: module names of the SAM2Matting matting heads inside an official SAM2Matting checkpoint
HEAD_MODULES = (
    "unknown_region_predictor",
    "unknown_fusion",
    "unknown_alpha_predictor",
    "alpha_pred1",
    "alpha_pred2",
    "alpha_pred3",
)

# (official prefix, transformers prefix). {i}/{j} are integers and {a} an attention name; the
# first template matching a key's start wins, in either direction, so specific rules come first.
_ATTN = "(?P<a>self_attn|cross_attn_token_to_image|cross_attn_image_to_token|cross_attn_image|final_attn_token_to_image)"
_SAM2_RULES: list[tuple[str, str]] = [
    # image encoder: Hiera trunk + FPN neck
    ("image_encoder.trunk.patch_embed.proj.", "vision_encoder.backbone.patch_embed.projection."),
    (
        "image_encoder.trunk.blocks.{i}.norm{j}.",
        "vision_encoder.backbone.blocks.{i}.layer_norm{j}.",
    ),
    (
        "image_encoder.trunk.blocks.{i}.mlp.layers.0.",
        "vision_encoder.backbone.blocks.{i}.mlp.proj_in.",
    ),
    (
        "image_encoder.trunk.blocks.{i}.mlp.layers.1.",
        "vision_encoder.backbone.blocks.{i}.mlp.proj_out.",
    ),
    ("image_encoder.trunk.blocks.{i}.attn.", "vision_encoder.backbone.blocks.{i}.attn."),
    ("image_encoder.trunk.blocks.{i}.proj.", "vision_encoder.backbone.blocks.{i}.proj."),
    ("image_encoder.trunk.pos_embed_window", "vision_encoder.backbone.pos_embed_window"),
    ("image_encoder.trunk.pos_embed", "vision_encoder.backbone.pos_embed"),
    ("image_encoder.neck.convs.{i}.conv.", "vision_encoder.neck.convs.{i}."),
    # prompt encoder
    (
        "sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix",
        "prompt_encoder.shared_embedding.positional_embedding",
    ),
    ("sam_prompt_encoder.mask_downscaling.0.", "prompt_encoder.mask_embed.conv1."),
    ("sam_prompt_encoder.mask_downscaling.1.", "prompt_encoder.mask_embed.layer_norm1."),
    ("sam_prompt_encoder.mask_downscaling.3.", "prompt_encoder.mask_embed.conv2."),
    ("sam_prompt_encoder.mask_downscaling.4.", "prompt_encoder.mask_embed.layer_norm2."),
    ("sam_prompt_encoder.mask_downscaling.6.", "prompt_encoder.mask_embed.conv3."),
    ("sam_prompt_encoder.not_a_point_embed.", "prompt_encoder.not_a_point_embed."),
    ("sam_prompt_encoder.no_mask_embed.", "prompt_encoder.no_mask_embed."),
    # mask decoder (two-way transformer, upscaling, heads)
    (
        "sam_mask_decoder.transformer.layers.{i}.{a}.out_proj.",
        "mask_decoder.transformer.layers.{i}.{a}.o_proj.",
    ),
    ("sam_mask_decoder.transformer.layers.{i}.{a}.", "mask_decoder.transformer.layers.{i}.{a}."),
    (
        "sam_mask_decoder.transformer.layers.{i}.norm{j}.",
        "mask_decoder.transformer.layers.{i}.layer_norm{j}.",
    ),
    (
        "sam_mask_decoder.transformer.layers.{i}.mlp.layers.0.",
        "mask_decoder.transformer.layers.{i}.mlp.proj_in.",
    ),
    (
        "sam_mask_decoder.transformer.layers.{i}.mlp.layers.1.",
        "mask_decoder.transformer.layers.{i}.mlp.proj_out.",
    ),
    ("sam_mask_decoder.transformer.{a}.out_proj.", "mask_decoder.transformer.{a}.o_proj."),
    ("sam_mask_decoder.transformer.{a}.", "mask_decoder.transformer.{a}."),
    (
        "sam_mask_decoder.transformer.norm_final_attn.",
        "mask_decoder.transformer.layer_norm_final_attn.",
    ),
    ("sam_mask_decoder.output_upscaling.0.", "mask_decoder.upscale_conv1."),
    ("sam_mask_decoder.output_upscaling.1.", "mask_decoder.upscale_layer_norm."),
    ("sam_mask_decoder.output_upscaling.3.", "mask_decoder.upscale_conv2."),
    (
        "sam_mask_decoder.output_hypernetworks_mlps.{i}.layers.0.",
        "mask_decoder.output_hypernetworks_mlps.{i}.proj_in.",
    ),
    (
        "sam_mask_decoder.output_hypernetworks_mlps.{i}.layers.1.",
        "mask_decoder.output_hypernetworks_mlps.{i}.layers.0.",
    ),
    (
        "sam_mask_decoder.output_hypernetworks_mlps.{i}.layers.2.",
        "mask_decoder.output_hypernetworks_mlps.{i}.proj_out.",
    ),
    ("sam_mask_decoder.iou_prediction_head.layers.0.", "mask_decoder.iou_prediction_head.proj_in."),
    (
        "sam_mask_decoder.iou_prediction_head.layers.1.",
        "mask_decoder.iou_prediction_head.layers.0.",
    ),
    (
        "sam_mask_decoder.iou_prediction_head.layers.2.",
        "mask_decoder.iou_prediction_head.proj_out.",
    ),
    ("sam_mask_decoder.pred_obj_score_head.layers.0.", "mask_decoder.pred_obj_score_head.proj_in."),
    (
        "sam_mask_decoder.pred_obj_score_head.layers.1.",
        "mask_decoder.pred_obj_score_head.layers.0.",
    ),
    (
        "sam_mask_decoder.pred_obj_score_head.layers.2.",
        "mask_decoder.pred_obj_score_head.proj_out.",
    ),
    ("sam_mask_decoder.iou_token.", "mask_decoder.iou_token."),
    ("sam_mask_decoder.mask_tokens.", "mask_decoder.mask_tokens."),
    ("sam_mask_decoder.obj_score_token.", "mask_decoder.obj_score_token."),
    ("sam_mask_decoder.conv_s0.", "mask_decoder.conv_s0."),
    ("sam_mask_decoder.conv_s1.", "mask_decoder.conv_s1."),
    # memory attention
    ("memory_attention.layers.{i}.{a}.out_proj.", "memory_attention.layers.{i}.{a}.o_proj."),
    ("memory_attention.layers.{i}.{a}.", "memory_attention.layers.{i}.{a}."),
    ("memory_attention.layers.{i}.norm{j}.", "memory_attention.layers.{i}.layer_norm{j}."),
    ("memory_attention.layers.{i}.linear{j}.", "memory_attention.layers.{i}.linear{j}."),
    ("memory_attention.norm.", "memory_attention.layer_norm."),
    # memory encoder (the mask downsampler is handled structurally)
    ("memory_encoder.pix_feat_proj.", "memory_encoder.feature_projection."),
    (
        "memory_encoder.fuser.layers.{i}.dwconv.",
        "memory_encoder.memory_fuser.layers.{i}.depthwise_conv.",
    ),
    ("memory_encoder.fuser.layers.{i}.norm.", "memory_encoder.memory_fuser.layers.{i}.layer_norm."),
    (
        "memory_encoder.fuser.layers.{i}.pwconv{j}.",
        "memory_encoder.memory_fuser.layers.{i}.pointwise_conv{j}.",
    ),
    ("memory_encoder.fuser.layers.{i}.gamma", "memory_encoder.memory_fuser.layers.{i}.scale"),
    ("memory_encoder.out_proj.", "memory_encoder.projection."),
    # tracker-level parameters
    ("maskmem_tpos_enc", "memory_temporal_positional_encoding"),
    ("no_mem_embed", "no_memory_embedding"),
    ("no_mem_pos_enc", "no_memory_positional_encoding"),
    ("no_obj_ptr", "no_object_pointer"),
    ("no_obj_embed_spatial", "occlusion_spatial_embedding_parameter"),
    ("obj_ptr_proj.layers.0.", "object_pointer_proj.proj_in."),
    ("obj_ptr_proj.layers.1.", "object_pointer_proj.layers.0."),
    ("obj_ptr_proj.layers.2.", "object_pointer_proj.proj_out."),
    ("obj_ptr_tpos_proj.", "temporal_positional_encoding_projection_layer."),
    ("mask_downsample.", "mask_downsample."),
]


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.escape(template)
    pattern = pattern.replace(r"\{i\}", r"(?P<i>\d+)").replace(r"\{j\}", r"(?P<j>\d+)")
    pattern = pattern.replace(r"\{a\}", _ATTN)
    # a template ending in a parameter name must match the whole key, not a longer name
    return re.compile(pattern if template.endswith(".") else pattern + "$")


_FORWARD = [(_compile(o), h) for o, h in _SAM2_RULES]
_BACKWARD = [(_compile(h), o) for o, h in _SAM2_RULES]

_POINT_EMBED = re.compile(r"sam_prompt_encoder\.point_embeddings\.(\d+)\.weight$")
_MASK_DOWNSAMPLER = re.compile(r"memory_encoder\.mask_downsampler\.encoder\.(\d+)\.(.+)$")
_HF_MASK_DOWNSAMPLER = re.compile(
    r"memory_encoder\.mask_downsampler\.(?:layers\.(\d+)\.(conv|layer_norm)|final_conv)\.(.+)$"
)


def _translate(key: str, rules: list[tuple[re.Pattern[str], str]]) -> str | None:
    for pattern, target in rules:
        m = pattern.match(key)
        if m:
            return target.format(**m.groupdict()) + key[m.end() :]
    return None


def load_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Read an official checkpoint (``.pt``) on CPU, safely (weights-only), into a flat state
    dict (see :func:`sam2matting.checkpoints.read_torch_checkpoint`)."""
    return read_torch_checkpoint(path)


def split_head_keys(state_dict: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a SAM2Matting checkpoint into (tracker state dict, matting-head state dict).

    Head keys are those with a :data:`HEAD_MODULES` name as a path component; they are returned
    from that component on (``"x.alpha_pred1.0.weight"`` → ``"alpha_pred1.0.weight"``). Any prefix
    shared by the tracker keys in front of ``image_encoder.`` (e.g. ``"sam2."``) is removed.
    """
    tracker: dict[str, Any] = {}
    heads: dict[str, Any] = {}
    for key, value in state_dict.items():
        parts = key.split(".")
        hit = next((i for i, part in enumerate(parts) if part in HEAD_MODULES), None)
        if hit is None:
            tracker[key] = value
        else:
            heads[".".join(parts[hit:])] = value
    prefix = _tracker_prefix(tracker)
    if prefix:
        tracker = {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in tracker.items()}
    return tracker, heads


def _tracker_prefix(state_dict: dict[str, Any]) -> str:
    for key in state_dict:
        idx = key.find("image_encoder.")
        if idx > 0 and key[idx - 1] == ".":
            return key[:idx]
    return ""


def detect_family(state_dict: dict[str, Any]) -> str:
    """ "sam2" for SAM2/SAM2.1 official layouts, "transformers" for already converted dicts,
    "sam3" / "edgetam" when recognised, else "unknown"."""
    keys = list(state_dict)
    if any(k.startswith("image_encoder.trunk.body.") for k in keys):
        return "edgetam"
    if any(k.startswith("image_encoder.trunk.") for k in keys) and any(
        k.startswith("sam_mask_decoder.") for k in keys
    ):
        return "sam2"
    if any(k.startswith("vision_encoder.") for k in keys) and any(
        k.startswith("mask_decoder.") for k in keys
    ):
        return "transformers"
    if any(k.startswith(("detector.", "tracker.", "backbone.vision_backbone")) for k in keys):
        return "sam3"
    return "unknown"


def infer_sam2_variant(state_dict: dict[str, Any]) -> tuple[str, str]:
    """(size, version) of an official SAM2 state dict, from the Hiera width and depth and from the
    SAM2.1-only "object absent" embedding: e.g. ("tiny", "2.1")."""
    patch = state_dict.get("image_encoder.trunk.patch_embed.proj.weight")
    if patch is None:
        raise WeightsError(
            "not a SAM2 checkpoint: image_encoder.trunk.patch_embed.proj.weight is missing"
        )
    width = int(patch.shape[0])
    depth = len(
        {k.split(".")[3] for k in state_dict if k.startswith("image_encoder.trunk.blocks.")}
    )
    sizes = {(96, 12): "tiny", (96, 16): "small", (112, 24): "base-plus", (144, 48): "large"}
    size = sizes.get((width, depth))
    if size is None:
        raise WeightsError(
            f"unknown SAM2 backbone: width {width}, {depth} blocks (tiny/small/base+/large expected)"
        )
    version = "2.1" if "no_obj_embed_spatial" in state_dict else "2"
    return size, version


def sam2_official_to_hf(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Official SAM2/SAM2.1 keys → :class:`transformers.Sam2VideoModel` keys (tensors shared).

    Raises :class:`WeightsError` naming the keys no rule knows (strict: nothing is dropped).
    """
    import torch

    out: dict[str, Any] = {}
    unknown: list[str] = []
    points: dict[int, Any] = {}
    downsampler: dict[int, dict[str, Any]] = {}
    for key, value in state_dict.items():
        m = _POINT_EMBED.match(key)
        if m:
            points[int(m.group(1))] = value
            continue
        m = _MASK_DOWNSAMPLER.match(key)
        if m:
            downsampler.setdefault(int(m.group(1)), {})[m.group(2)] = value
            continue
        new = _translate(key, _FORWARD)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        raise WeightsError(
            f"{len(unknown)} checkpoint key(s) have no SAM2 counterpart, e.g. {', '.join(unknown[:3])}"
        )
    if points:
        if sorted(points) != list(range(len(points))):
            raise WeightsError(
                f"point embeddings {sorted(points)} are not numbered 0..{len(points) - 1}"
            )
        out["prompt_encoder.point_embed.weight"] = torch.cat(
            [points[i] for i in range(len(points))], dim=0
        )
    if downsampler:
        # Sequential(conv, norm, act) × n, then a final 1×1 conv: indices 3k, 3k+1 and the last
        last = max(downsampler)
        for idx, params in downsampler.items():
            if idx == last:
                name = "final_conv"
            elif idx % 3 == 0:
                name = f"layers.{idx // 3}.conv"
            elif idx % 3 == 1:
                name = f"layers.{idx // 3}.layer_norm"
            else:
                raise WeightsError(
                    f"unexpected parameters at memory_encoder.mask_downsampler.encoder.{idx}"
                )
            for param, value in params.items():
                out[f"memory_encoder.mask_downsampler.{name}.{param}"] = value
    fourier = out.get("prompt_encoder.shared_embedding.positional_embedding")
    if fourier is not None:
        out["shared_image_embedding.positional_embedding"] = fourier
    return out


def sam2_hf_to_official(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`sam2_official_to_hf`: transformers Sam2VideoModel keys → official keys.

    Used to synthesise official-layout checkpoints (tests) and to export. Raises
    :class:`WeightsError` for keys with no official counterpart.
    """
    out: dict[str, Any] = {}
    unknown: list[str] = []
    layers: set[int] = set()
    final: dict[str, Any] = {}
    for key, value in state_dict.items():
        if key == "shared_image_embedding.positional_embedding":
            continue  # a copy of the prompt encoder's matrix in transformers
        if key == "prompt_encoder.point_embed.weight":
            for i in range(value.shape[0]):
                out[f"sam_prompt_encoder.point_embeddings.{i}.weight"] = value[i : i + 1].clone()
            continue
        m = _HF_MASK_DOWNSAMPLER.match(key)
        if m:
            if m.group(1) is None:
                final[m.group(3)] = value
            else:
                k = int(m.group(1))
                layers.add(k)
                idx = 3 * k + (0 if m.group(2) == "conv" else 1)
                out[f"memory_encoder.mask_downsampler.encoder.{idx}.{m.group(3)}"] = value
            continue
        new = _translate(key, _BACKWARD)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        raise WeightsError(
            f"{len(unknown)} key(s) have no official SAM2 counterpart, e.g. {', '.join(unknown[:3])}"
        )
    if final:
        idx = 3 * (max(layers) + 1) if layers else 0
        for param, value in final.items():
            out[f"memory_encoder.mask_downsampler.encoder.{idx}.{param}"] = value
    return out


def load_strict(
    model: torch.nn.Module, state_dict: dict[str, Any], what: str = "checkpoint"
) -> None:
    """Load ``state_dict`` into ``model`` requiring exactly its keys and shapes.

    Raises :class:`WeightsError` listing (the first few) missing, unexpected or mis-shaped keys.
    Buffers the model does not persist are not required.
    """
    load_state_dict_strict(model, state_dict, what)
