"""Weights of the learned heads: official-key conversion (on a synthesised checkpoint with the
official names and the paper's shapes), strict loading, checksums, and the shipped weights."""

from __future__ import annotations

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
    load_network,
    load_state_dict_strict,
    save_weights,
    sha256_file,
)


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
    assert DEFAULT_WEIGHTS == "compact-guided-v3"
    assert net.config.name == "compact-guided" and net.uses_prior
    # trained in stages, each recorded with its command; the last one widened compact-v1
    manifest = json.loads(SHIPPED[DEFAULT_WEIGHTS].manifest_path.read_text())
    assert [st["stage"] for st in manifest["stages"]] == [1, 2, 3, 4]
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
