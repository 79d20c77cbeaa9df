"""Weights of the learned heads: official-key conversion (on a synthesised checkpoint with the
official names and the paper's shapes), strict loading, checksums, and the shipped weights."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sam2matting.errors import WeightsError
from sam2matting.matting.learned import SAM2MattingNet, config_from_dict, tiny_config
from sam2matting.matting.weights import (
    DEFAULT_WEIGHTS,
    SHIPPED,
    convert_official_heads,
    load_network,
    load_official_heads,
    load_state_dict_strict,
    save_weights,
    sha256_file,
)


def _conv_bn(
    prefix: str, cin: int, cout: int, k: int = 3, transposed: bool = False
) -> dict[str, torch.Tensor]:
    """An official conv (no bias) + BN pair: indices 3m (conv) and 3m + 1 (BN) of a Sequential."""
    w = torch.randn(cin, cout, 4, 4) if transposed else torch.randn(cout, cin, k, k)
    base, idx = prefix.rsplit(".", 1)
    bn = f"{base}.{int(idx) + 1}"
    return {
        f"{prefix}.weight": w,
        f"{bn}.weight": torch.rand(cout),
        f"{bn}.bias": torch.randn(cout),
        f"{bn}.running_mean": torch.randn(cout),
        f"{bn}.running_var": torch.rand(cout) + 0.5,
        f"{bn}.num_batches_tracked": torch.tensor(7),
    }


def official_head_state_dict() -> dict[str, torch.Tensor]:
    """The head part of an official checkpoint, written out from ARCHITECTURE.md's layer table."""
    sd: dict[str, torch.Tensor] = {}
    # ROI detector: one branch per scale on concat[features, mask, RGB]
    for i, (cin, w1, w2) in enumerate([(36, 128, 64), (68, 128, 64), (260, 256, 64)]):
        sd |= _conv_bn(f"unknown_region_predictor.{i}.0", cin, w1)
        sd |= _conv_bn(f"unknown_region_predictor.{i}.3", w1, w2)
    # fusion 192 → 64 → 32 → 1×1 → 1
    sd |= _conv_bn("unknown_fusion.0", 192, 64)
    sd |= _conv_bn("unknown_fusion.3", 64, 32)
    sd["unknown_fusion.6.weight"] = torch.randn(1, 32, 1, 1)
    sd["unknown_fusion.6.bias"] = torch.randn(1)
    # progressive predictor: ConvT ×2 then 3×3 blocks, per stage
    stages = [(260, [512, 128, 64]), (69, [256, 64]), (37, [256, 128, 64])]
    for k, (cin, widths) in enumerate(stages):
        sd |= _conv_bn(f"unknown_alpha_predictor.{k}.0", cin, widths[0], transposed=True)
        for m, (a, b) in enumerate(itertools.pairwise(widths), start=1):
            sd |= _conv_bn(f"unknown_alpha_predictor.{k}.{3 * m}", a, b)
        # 64 → 32 → 1 head
        sd |= _conv_bn(f"alpha_pred{k + 1}.0", 64, 32)
        sd[f"alpha_pred{k + 1}.3.weight"] = torch.randn(1, 32, 1, 1)
        sd[f"alpha_pred{k + 1}.3.bias"] = torch.randn(1)
    return sd


def test_official_head_weights_convert_and_load_strictly(tmp_path: Path) -> None:
    heads = official_head_state_dict()
    n_params = sum(
        v.numel()
        for k, v in heads.items()
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert abs(n_params - 4.95e6) / 4.95e6 < 0.01  # the paper's "~4.95 M parameters for both heads"
    # a full checkpoint also holds the tracker's weights (ignored here) and may nest under "model"
    ckpt = {
        "model": {**heads, "image_encoder.trunk.patch_embed.proj.weight": torch.randn(8, 3, 7, 7)}
    }
    path = tmp_path / "SAM2Matting-SAM2.1Tiny.pt"
    torch.save(ckpt, path)
    net = load_official_heads(path)
    assert torch.equal(
        net.roi.branches[2][0].conv.weight, heads["unknown_region_predictor.2.0.weight"]
    )
    assert torch.equal(net.roi.out.bias, heads["unknown_fusion.6.bias"])
    assert torch.equal(
        net.predictor.stages[0].body[0].conv.weight, heads["unknown_alpha_predictor.0.0.weight"]
    )
    assert torch.equal(
        net.predictor.stages[2].body[2].bn.running_var,
        heads["unknown_alpha_predictor.2.7.running_var"],
    )
    assert torch.equal(net.predictor.stages[1].head.out.weight, heads["alpha_pred2.3.weight"])
    # the registry path for official checkpoints goes through the same function
    assert load_network(str(path)).config.name == "paper"


def test_official_conversion_is_strict() -> None:
    heads = official_head_state_dict()
    missing = {k: v for k, v in heads.items() if not k.startswith("alpha_pred3.")}
    with pytest.raises(WeightsError, match="missing"):
        load_official_heads(missing)
    extra = {**heads, "unknown_fusion.9.weight": torch.randn(1)}
    with pytest.raises(WeightsError, match="unexpected"):
        load_official_heads(extra)
    bad_layout = {**heads, "unknown_fusion.2.weight": torch.randn(1)}  # index 2 is a ReLU
    with pytest.raises(WeightsError, match="layout"):
        convert_official_heads(bad_layout)
    wrong_shape = dict(heads)
    wrong_shape["unknown_fusion.0.weight"] = torch.randn(64, 191, 3, 3)
    with pytest.raises(WeightsError, match="wrong shape"):
        load_official_heads(wrong_shape)
    with pytest.raises(WeightsError, match="no SAM2Matting head"):
        convert_official_heads({"image_encoder.x": torch.zeros(1)})


def test_save_and_load_round_trip_with_checksum(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = SAM2MattingNet(tiny_config())
    path = tmp_path / "w.safetensors"
    manifest = save_weights(net, path, net.config.to_dict(), {"seed": 0})
    assert manifest["sha256"] == sha256_file(path)
    loaded = load_network(str(path))
    for (k, a), b in zip(net.state_dict().items(), loaded.state_dict().values()):
        tol = 1e-2 * float(a.abs().max()) + 1e-3 if a.is_floating_point() else 0
        assert torch.allclose(a.float(), b.float(), atol=tol), k
    # a flipped byte → checksum mismatch
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum"):
        load_network(str(path))


def test_strict_loading_rejects_missing_and_unexpected_keys() -> None:
    net = SAM2MattingNet(tiny_config())
    state = net.state_dict()
    with pytest.raises(WeightsError, match="missing"):
        load_state_dict_strict(net, {k: v for k, v in state.items() if "refiner" not in k})
    with pytest.raises(WeightsError, match="unexpected"):
        load_state_dict_strict(net, {**state, "extra.weight": torch.zeros(1)})
    with pytest.raises(WeightsError, match="unknown weights"):
        load_network("no-such-weights")
    with pytest.raises(WeightsError, match="not found"):
        load_network("/nonexistent/w.safetensors")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_weights_load_strictly_and_match_their_manifest(name: str) -> None:
    entry = SHIPPED[name]
    assert entry.path.is_file(), f"shipped weights missing: {entry.path}"
    manifest = json.loads(entry.manifest_path.read_text())
    assert manifest["sha256"] == sha256_file(entry.path)
    assert entry.path.stat().st_size < 8_000_000  # "small"
    # the dev benchmark's cutouts are held out of training
    from sam2matting.eval.synth import DEV_FOREGROUNDS

    assert not set(manifest["data"]["cutouts_train"]) & set(DEV_FOREGROUNDS)
    assert "davis" not in " ".join(manifest["data"]["background_videos"]).lower()
    for key in ("command", "seed", "commit", "config"):
        assert key in manifest
    net = load_network(name)
    assert net.encoder is not None and net.refiner is not None
    assert net.config == config_from_dict(manifest["config"])


def test_the_default_weights_are_the_hybrid_heads() -> None:
    net = load_network("default")
    assert DEFAULT_WEIGHTS == "compact-guided-v2"
    assert net.config.name == "compact-guided" and net.uses_prior
    # trained in stages, each recorded with its command; the last one widened compact-v1
    manifest = json.loads(SHIPPED[DEFAULT_WEIGHTS].manifest_path.read_text())
    assert [st["stage"] for st in manifest["stages"]] == [1, 2, 3]
    assert "--model compact-guided" in manifest["stages"][-1]["command"]


def test_shipped_weights_checksum_mismatch_is_a_weights_error(tmp_path: Path) -> None:
    entry = SHIPPED[DEFAULT_WEIGHTS]
    copy = tmp_path / entry.path.name
    shutil.copy(entry.path, copy)
    manifest = json.loads(entry.manifest_path.read_text())
    manifest["sha256"] = "0" * 64
    copy.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="checksum mismatch"):
        load_network(str(copy))


def test_default_head_runs_with_shipped_weights() -> None:
    from sam2matting.matting import build_head
    from sam2matting.samples import make_sample_clip
    from sam2matting.types import ObjectTrack

    stage = build_head("sam2matting", device="cpu")
    image, alpha = make_sample_clip(width=256, height=144, num_frames=2).frame(0)
    track = ObjectTrack(logits=np.where(alpha > 0.5, 8.0, -8.0).astype(np.float32))
    out = stage.matte(image, {1: track})[1]
    assert out.shape == (144, 256)
    assert np.abs(out - alpha).mean() < 0.05
