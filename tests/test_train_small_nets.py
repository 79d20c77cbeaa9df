"""The small networks' training commands share their start-up checks and weight writing."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import torch

from sam2matting.train.small_nets import save_weights_and_manifest, start


def test_weights_and_manifest_are_written_whole(tmp_path: Path) -> None:
    net = torch.nn.Conv2d(3, 2, 3)
    path = save_weights_and_manifest(net, tmp_path / "out", "tiny-v1", command="x", seed=3)
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert list(manifest)[:4] == ["format", "file", "sha256", "parameters"]
    assert manifest["file"] == "tiny-v1.safetensors" and manifest["seed"] == 3
    assert manifest["parameters"] == 3 * 2 * 9 + 2
    assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny-v1.json", "tiny-v1.safetensors"]
    from safetensors.torch import load_file

    loaded = load_file(str(path))
    assert torch.equal(loaded["weight"], net.weight.detach())


def test_start_refuses_a_data_root_without_cutouts(tmp_path: Path, capsys) -> None:
    args = argparse.Namespace(data_root=str(tmp_path), threads=None)
    assert start(args) == 2
    assert "has no matting/ folder" in capsys.readouterr().err
    (tmp_path / "matting").mkdir()
    assert start(args) is None
