"""Official SAM2 / SAM2.1 / SAM2Matting checkpoints → transformers layout, on synthesised checkpoints.

The "official" state dicts are produced by inverting the mapping on a transformers model, so
their keys and shapes are those of Meta's checkpoints; a sample of real official key names is
checked explicitly so that a wrong inverse cannot hide behind a consistent round trip.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from sam2matting.errors import WeightsError  # noqa: E402
from sam2matting.trackers import convert  # noqa: E402
from sam2matting.trackers.hf_sam2 import sam2_config, tiny_sam2_config  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# names as they appear in Meta's sam2.1_hiera_*.pt (state_dict["model"])
OFFICIAL_NAMES = [
    "image_encoder.trunk.pos_embed",
    "image_encoder.trunk.pos_embed_window",
    "image_encoder.trunk.patch_embed.proj.weight",
    "image_encoder.trunk.blocks.0.norm1.weight",
    "image_encoder.trunk.blocks.0.attn.qkv.weight",
    "image_encoder.trunk.blocks.0.mlp.layers.0.weight",
    "image_encoder.trunk.blocks.1.proj.weight",
    "image_encoder.neck.convs.0.conv.weight",
    "sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix",
    "sam_prompt_encoder.point_embeddings.3.weight",
    "sam_prompt_encoder.not_a_point_embed.weight",
    "sam_prompt_encoder.mask_downscaling.6.weight",
    "sam_prompt_encoder.no_mask_embed.weight",
    "sam_mask_decoder.transformer.layers.0.self_attn.out_proj.weight",
    "sam_mask_decoder.transformer.layers.1.cross_attn_image_to_token.q_proj.weight",
    "sam_mask_decoder.transformer.layers.0.norm4.weight",
    "sam_mask_decoder.transformer.layers.0.mlp.layers.1.weight",
    "sam_mask_decoder.transformer.final_attn_token_to_image.out_proj.weight",
    "sam_mask_decoder.transformer.norm_final_attn.weight",
    "sam_mask_decoder.output_upscaling.0.weight",
    "sam_mask_decoder.output_upscaling.1.weight",
    "sam_mask_decoder.output_hypernetworks_mlps.3.layers.2.weight",
    "sam_mask_decoder.iou_prediction_head.layers.1.weight",
    "sam_mask_decoder.pred_obj_score_head.layers.0.weight",
    "sam_mask_decoder.obj_score_token.weight",
    "sam_mask_decoder.conv_s0.weight",
    "memory_attention.layers.0.self_attn.q_proj.weight",
    "memory_attention.layers.0.cross_attn_image.out_proj.weight",
    "memory_attention.layers.0.norm3.weight",
    "memory_attention.layers.0.linear2.weight",
    "memory_attention.norm.weight",
    "memory_encoder.mask_downsampler.encoder.0.weight",
    "memory_encoder.mask_downsampler.encoder.10.weight",
    "memory_encoder.mask_downsampler.encoder.12.weight",
    "memory_encoder.pix_feat_proj.weight",
    "memory_encoder.fuser.layers.0.dwconv.weight",
    "memory_encoder.fuser.layers.0.pwconv2.weight",
    "memory_encoder.fuser.layers.0.gamma",
    "memory_encoder.out_proj.weight",
    "maskmem_tpos_enc",
    "no_mem_embed",
    "no_mem_pos_enc",
    "no_obj_ptr",
    "no_obj_embed_spatial",
    "obj_ptr_proj.layers.2.weight",
    "obj_ptr_tpos_proj.weight",
    "mask_downsample.weight",
]


def _model(config):
    from transformers import Sam2VideoModel

    torch.manual_seed(0)
    model = Sam2VideoModel(config).eval()
    # released checkpoints hold one Fourier matrix that transformers keeps twice; random init
    # draws the two copies independently, so tie them as in a converted checkpoint
    with torch.no_grad():
        model.shared_image_embedding.positional_embedding.copy_(
            model.prompt_encoder.shared_embedding.positional_embedding
        )
    return model


@pytest.fixture(scope="module")
def tiny_model():
    return _model(tiny_sam2_config())


def test_official_names_and_round_trip(tiny_model):
    sd = tiny_model.state_dict()
    official = convert.sam2_hf_to_official(sd)
    missing = [k for k in OFFICIAL_NAMES if k not in official]
    assert not missing, f"inverse mapping does not produce official names: {missing}"
    assert not any(
        k.startswith(("vision_encoder.", "prompt_encoder.", "mask_decoder.")) for k in official
    )
    assert official["sam_prompt_encoder.point_embeddings.0.weight"].shape == (1, 128)

    back = convert.sam2_official_to_hf(official)
    assert set(back) == set(sd)
    fresh = _model(tiny_sam2_config())
    convert.load_strict(fresh, back)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, sd[key]), key


def test_real_architectures_map_completely_and_variants_are_inferred():
    from transformers import Sam2VideoModel

    for size in ("tiny", "small", "base-plus", "large"):
        for version in ("2", "2.1"):
            with torch.device("meta"):
                model = Sam2VideoModel(sam2_config(size, version))
            sd = model.state_dict()
            official = convert.sam2_hf_to_official(sd)
            assert set(convert.sam2_official_to_hf(official)) == set(sd)
            assert convert.infer_sam2_variant(official) == (size, version)
            assert ("no_obj_embed_spatial" in official) == (version == "2.1")


def test_sam2matting_checkpoint_heads_are_split_off(tiny_model, tmp_path):
    official = convert.sam2_hf_to_official(tiny_model.state_dict())
    heads = {
        "unknown_region_predictor.branch4.0.weight": torch.randn(8, 4, 3, 3),
        "unknown_fusion.0.weight": torch.randn(4, 8, 1, 1),
        "unknown_alpha_predictor.head.weight": torch.randn(1, 4, 1, 1),
        "alpha_pred1.0.weight": torch.randn(4, 4, 3, 3),
        "alpha_pred2.0.bias": torch.randn(4),
        "alpha_pred3.2.weight": torch.randn(1, 4, 1, 1),
    }
    for prefix in ("", "sam2."):
        state = {prefix + k: v for k, v in official.items()} | heads
        path = tmp_path / f"SAM2Matting{prefix or '-'}.pt"
        torch.save({"model": state, "epoch": 5}, path)
        loaded = convert.load_checkpoint(path)
        tracker_sd, head_sd = convert.split_head_keys(loaded)
        assert set(head_sd) == set(heads)
        assert set(tracker_sd) == set(official)
        model = _model(tiny_sam2_config())
        convert.load_strict(model, convert.sam2_official_to_hf(tracker_sd))


def test_conversion_is_strict(tiny_model):
    official = convert.sam2_hf_to_official(tiny_model.state_dict())
    with pytest.raises(WeightsError, match="no SAM2 counterpart"):
        convert.sam2_official_to_hf({**official, "some_new_module.weight": torch.zeros(1)})
    converted = convert.sam2_official_to_hf(official)
    model = _model(tiny_sam2_config())
    broken = dict(converted)
    broken.pop("no_memory_embedding")
    with pytest.raises(WeightsError, match="missing"):
        convert.load_strict(model, broken)
    broken = dict(converted)
    broken["vision_encoder.backbone.blocks.99.attn.qkv.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError, match="unexpected"):
        convert.load_strict(model, broken)
    broken = dict(converted)
    broken["no_memory_embedding"] = torch.zeros(1, 1, 7)
    with pytest.raises(WeightsError, match="wrong shape"):
        convert.load_strict(model, broken)
    # a v2.1 checkpoint does not fit a v2 architecture (the extra embedding is unexpected)
    with pytest.raises(WeightsError):
        convert.load_strict(_model(tiny_sam2_config(version="2")), converted)


def test_unreadable_and_foreign_checkpoints(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="not a readable"):
        convert.load_checkpoint(bad)
    with pytest.raises(WeightsError, match="does not exist"):
        convert.load_checkpoint(tmp_path / "missing.pt")
    assert (
        convert.detect_family(
            {"image_encoder.trunk.body.stem.0.weight": 0, "sam_mask_decoder.x": 0}
        )
        == "edgetam"
    )
    assert convert.detect_family({"vision_encoder.a": 0, "mask_decoder.b": 0}) == "transformers"
    with pytest.raises(WeightsError, match="not a SAM2 checkpoint"):
        convert.infer_sam2_variant({"foo": torch.zeros(1)})


def test_tracker_from_official_checkpoint_keeps_head_weights(tiny_model, tmp_path):
    from sam2matting.trackers.hf_sam2 import build

    official = convert.sam2_hf_to_official(tiny_model.state_dict())
    path = tmp_path / "SAM2Matting-tiny.pt"
    torch.save({"model": {**official, "alpha_pred1.0.weight": torch.ones(2, 2)}}, path)
    tracker = build("sam2.1-hiera-tiny", weights=str(path), config=tiny_sam2_config(), device="cpu")
    assert tracker.head_state_dict is not None and set(tracker.head_state_dict) == {
        "alpha_pred1.0.weight"
    }
    for key, value in tracker.backend.model.state_dict().items():
        assert torch.equal(value, tiny_model.state_dict()[key]), key
