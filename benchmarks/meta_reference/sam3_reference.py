"""Key layout of official SAM2Matting-SAM3 checkpoints, from the official module definitions.

Runs in its OWN virtual environment, never the project's. FudanCVL/SAM2Matting ships its own copy
of Meta's ``sam3`` package; its SAM 3 video predictor (``build_sam3matting_video_predictor``)
is a ``Sam3TrackerBase`` (Meta's SAM 3 tracker) with a visual-only ``SAM3VLBackbone`` and the six
matting head modules. ``inference_video_sam3.py`` loads ``SAM2Matting-SAM3.pt`` by keeping
``detector.backbone.vision_backbone.*`` (→ ``backbone.vision_backbone.*``) and ``tracker.*``
(→ the predictor's own keys) — the layout of Meta's ``sam3.pt``, whose ``detector.*`` also holds
the text / DETR detector that the matting predictor never loads.

Setup used (README "Official checkpoints"):

    git -C <SAM2Matting checkout> archive HEAD sam3 | tar -x -C /work/wt/meta_sam3
    /work/wt/metavenv/bin/pip install --target /work/wt/meta_sam3/deps --no-deps timm einops
    PYTHONPATH=/work/wt/meta_sam3/deps:benchmarks/meta_reference/sam3_stubs:/work/wt/meta_sam3:tests \
        /work/wt/metavenv/bin/python benchmarks/meta_reference/sam3_reference.py tests/data

``sam3_stubs/`` holds ``sitecustomize_stub`` (placeholder modules for torchvision, triton, … that
the sam3 package imports but the tracker never calls) and ``cpu_mode.CudaToDevice`` (a torch
function mode that sends the few hard-coded ``device="cuda"`` allocations to the CPU).

Writes, in the output folder:

- ``sam2matting_sam3_official_keys.json.gz``: every key of the official file layout the matting
  predictor loads, with its shape (the full-size model, built on the CPU with random init), plus
  the keys of Meta's full SAM 3 video model that only its detector uses (``detector_only``);
- ``sam2matting_sam3_tiny_spec.json``: key, shape, dtype, mean and std of a *tiny* model built
  from the same official classes (ViT 32 wide × 2 blocks at 56², tracker and heads at full width), in the
  file layout; the project's tests synthesise seeded random weights of this spec.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import sitecustomize_stub  # noqa: F401  (placeholder modules first)
import torch
from cpu_mode import CudaToDevice

TINY_IMAGE = 56


def file_key(key: str) -> str:
    """Predictor key → key in the released checkpoint (see inference_video_sam3.py)."""
    if key.startswith("backbone.vision_backbone."):
        return "detector." + key
    return "tracker." + key


def full_layout() -> dict[str, list[int]]:
    from sam3.model.sam3matting_video_predictor import build_sam3matting_video_predictor

    with CudaToDevice("cpu"):
        predictor = build_sam3matting_video_predictor(checkpoint=None, device="cpu")
    return {file_key(k): list(v.shape) for k, v in predictor.state_dict().items()}


def detector_only(tracker_keys: set[str]) -> dict[str, list[int]]:
    """Keys of Meta's full SAM 3 video model (sam3.pt layout) the matting predictor never loads."""
    from sam3.model_builder import build_sam3_video_model

    bpe = Path(sys.modules["sam3"].__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    with CudaToDevice("cpu"):
        model = build_sam3_video_model(
            checkpoint_path=None, load_from_HF=False, bpe_path=str(bpe), device="cpu"
        )
    out = {}
    for k, v in model.state_dict().items():
        if k.startswith("detector.") and k not in tracker_keys:
            out[k] = list(v.shape)
    return out


def tiny_model(predictor: bool = False) -> torch.nn.Module:
    """The official classes at tiny size; tracker and heads keep their real widths (the heads
    need 32 / 64 / 256 feature channels). ``predictor``: the official SAM2Matting video
    predictor class (``SAM3MattingVideoPredictor``, same modules) instead of the bare base."""
    from sam3.model.decoder import TransformerDecoderLayerv2, TransformerEncoderCrossAttention
    from sam3.model.memory import CXBlock, SimpleFuser, SimpleMaskDownSampler, SimpleMaskEncoder
    from sam3.model.model_misc import TransformerWrapper
    from sam3.model.necks import Sam3DualViTDetNeck
    from sam3.model.position_encoding import PositionEmbeddingSine
    from sam3.model.sam3_tracker_base import Sam3TrackerBase
    from sam3.model.vitdet import ViT
    from sam3.model.vl_combiner import SAM3VLBackbone
    from sam3.sam.transformer import RoPEAttention

    s, grid = TINY_IMAGE, TINY_IMAGE // 14
    with CudaToDevice("cpu"):
        vit = ViT(
            img_size=s,
            pretrain_img_size=336,
            patch_size=14,
            embed_dim=32,
            depth=2,
            num_heads=2,
            mlp_ratio=2.0,
            norm_layer="LayerNorm",
            drop_path_rate=0.0,
            qkv_bias=True,
            use_abs_pos=True,
            tile_abs_pos=True,
            global_att_blocks=(1,),
            rel_pos_blocks=(),
            use_rope=True,
            use_interp_rope=True,
            window_size=2,
            pretrain_use_cls_token=True,
            retain_cls_token=False,
            ln_pre=True,
            ln_post=False,
            return_interm_layers=False,
            bias_patch_embed=False,
        )
        pos = PositionEmbeddingSine(num_pos_feats=256, normalize=True, temperature=10000)
        neck = Sam3DualViTDetNeck(
            position_encoding=pos,
            d_model=256,
            scale_factors=[4.0, 2.0, 1.0, 0.5],
            trunk=vit,
            add_sam2_neck=True,
        )
        backbone = SAM3VLBackbone(scalp=1, visual=neck, text=None)
        kw = dict(embedding_dim=256, num_heads=1, downsample_rate=1, dropout=0.0)
        layer = TransformerDecoderLayerv2(
            cross_attention_first=False,
            activation="relu",
            dim_feedforward=64,
            dropout=0.0,
            pos_enc_at_attn=False,
            pre_norm=True,
            self_attention=RoPEAttention(**kw, rope_theta=10000.0, feat_sizes=[grid, grid]),
            d_model=256,
            pos_enc_at_cross_attn_keys=True,
            pos_enc_at_cross_attn_queries=False,
            cross_attention=RoPEAttention(
                **kw, kv_in_dim=64, rope_theta=10000.0, feat_sizes=[grid, grid], rope_k_repeat=True
            ),
        )
        encoder = TransformerEncoderCrossAttention(
            remove_cross_attention_layers=[],
            batch_first=True,
            d_model=256,
            frozen=False,
            pos_enc_at_input=True,
            layer=layer,
            num_layers=1,
        )
        transformer = TransformerWrapper(encoder=encoder, decoder=None, d_model=256)
        low_res = s // 14 * 4
        maskmem = SimpleMaskEncoder(
            out_dim=64,
            position_encoding=PositionEmbeddingSine(num_pos_feats=64, normalize=True),
            mask_downsampler=SimpleMaskDownSampler(
                kernel_size=3, stride=2, padding=1, interpol_size=[4 * low_res, 4 * low_res]
            ),
            fuser=SimpleFuser(
                layer=CXBlock(
                    dim=256, kernel_size=7, padding=3, layer_scale_init_value=1e-6, use_dwconv=True
                ),
                num_layers=1,
            ),
        )
        from sam3.model.sam3matting_video_predictor import SAM3MattingVideoPredictor

        cls = SAM3MattingVideoPredictor if predictor else Sam3TrackerBase
        model = cls(
            image_size=s,
            num_maskmem=7,
            backbone=backbone,
            backbone_stride=14,
            transformer=transformer,
            maskmem_backbone=maskmem,
            multimask_output_in_sam=True,
            multimask_output_for_tracking=True,
            multimask_min_pt_num=0,
            multimask_max_pt_num=1,
            max_cond_frames_in_attn=4,
            forward_backbone_per_frame_for_eval=True,
            sam_mask_decoder_extra_args={
                "dynamic_multimask_via_stability": True,
                "dynamic_multimask_stability_delta": 0.05,
                "dynamic_multimask_stability_thresh": 0.98,
            },
        )
    return model


def spec_of(model: torch.nn.Module) -> list[list]:
    """Rows ``[file key, shape, dtype, mean, std]`` (the format of tests/meta_reference.py)."""
    rows = []
    for k, v in model.state_dict().items():
        t = v.detach()
        if t.is_complex() or not t.is_floating_point():  # rope tables, BN counters: no statistics
            rows.append([file_key(k), list(t.shape), str(t.dtype), 0.0, 0.0])
            continue
        t = t.float()
        std = float(t.std()) if t.numel() > 1 else 0.0
        rows.append(
            [file_key(k), list(t.shape), str(v.dtype), round(float(t.mean()), 6), round(std, 6)]
        )
    return rows


def conformance(rows: list[list], out_path: Path) -> None:
    """Run FudanCVL's SAM 3 matting video predictor (tiny, seeded weights of ``rows``) on
    ``meta_reference.make_clip`` with ``SAM3_BOX`` on frame 0, forward; store per frame the
    low-res mask logits, the video-resolution mask logits and the official alpha."""
    import os
    import tempfile

    import numpy as np
    from PIL import Image

    import meta_reference as ref

    state = ref.synth_sam3_state(rows)
    # the file layout → the predictor's own keys (as inference_video_sam3.py does)
    sd = {}
    for k, v in state.items():
        if k.startswith("detector.backbone.vision_backbone."):
            sd[k[len("detector.") :]] = v
        elif k.startswith("tracker."):
            sd[k[len("tracker.") :]] = v
    import types

    import sam3.model.sam3matting_video_predictor as official
    import torch.nn.functional as F

    def interpolate(x, size=None, **kw):
        # the official predictor hard-codes the full-size model's 288² mask grid (= 1008 / 14 · 4);
        # the tiny model's grid is 4 · 56 / 14 = 16²
        if size == (288, 288):
            size = (predictor.low_res_mask_size, predictor.low_res_mask_size)
        return F.interpolate(x, size=size, **kw)

    official.F = types.SimpleNamespace(interpolate=interpolate)
    with CudaToDevice("cpu"):
        predictor = tiny_model(predictor=True)
        predictor.load_state_dict(sd, strict=True)
        predictor.eval()
        clip = ref.make_clip()
        h, w = clip.shape[1:3]
        low, video, alpha = [], [], []
        with tempfile.TemporaryDirectory() as folder, torch.inference_mode():
            for i, f in enumerate(clip):
                # lossless PNG content under a .jpg name (the loader filters on the extension)
                Image.fromarray(f).save(os.path.join(folder, f"{i}.jpg"), format="PNG")
            st = predictor.init_state(
                video_path=folder, offload_video_to_cpu=True, offload_state_to_cpu=True
            )
            x0, y0, x1, y1 = ref.SAM3_BOX
            box = torch.tensor([[x0 / w, y0 / h], [x1 / w, y1 / h]], dtype=torch.float32)
            predictor.add_new_points_or_box(st, frame_idx=0, obj_id=1, box=box.flatten())
            for idx, _ids, masks, a, _ in predictor.propagate_in_video(st, tqdm_disable=True):
                out = st["output_dict"]
                per = out["cond_frame_outputs"].get(idx) or out["non_cond_frame_outputs"][idx]
                low.append(per["pred_masks"][0, 0].float().cpu().numpy())
                video.append(masks[0, 0].float().cpu().numpy())
                alpha.append(np.asarray(a)[0])
    np.savez_compressed(
        out_path,
        low_res_logits=np.stack(low).astype(np.float32),
        video_logits=np.stack(video).astype(np.float16),
        alpha=np.stack(alpha).astype(np.float32),
    )
    print(f"conformance: {len(low)} frames, low-res {low[0].shape}, alpha {alpha[0].shape}")


def main() -> None:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    torch.manual_seed(0)
    full = full_layout()
    print(f"full layout: {len(full)} keys")
    det = detector_only(set(full))
    print(f"detector-only keys of Meta's SAM 3 video model: {len(det)}")
    with gzip.open(out_dir / "sam2matting_sam3_official_keys.json.gz", "wt") as f:
        json.dump({"matting_predictor": full, "detector_only": det}, f)
    tiny = spec_of(tiny_model())
    print(f"tiny layout: {len(tiny)} keys")
    (out_dir / "sam2matting_sam3_tiny_spec.json").write_text(
        "[\n" + ",\n".join(json.dumps(row) for row in tiny) + "\n]\n"
    )
    conformance(tiny, out_dir / "meta_sam3_tiny_reference.npz")


if __name__ == "__main__":
    main()
