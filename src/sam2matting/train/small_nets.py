"""What the small networks' training commands share (the edge arbiter,
:mod:`~sam2matting.train.arbiter`, and the tracker's propagation refiner,
:mod:`~sam2matting.train.propagation_refiner`): the start-up checks and writing the weights
with their manifest."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

__all__ = ["add_common_arguments", "save_weights_and_manifest", "start"]


def add_common_arguments(p: argparse.ArgumentParser, name: str) -> None:
    """The arguments every small network's training command takes: ``--data-root``, ``--out``,
    ``--name`` (default ``name``), ``--threads``, ``--quiet``."""
    p.add_argument("--data-root", required=True, help="../shared/data (training cutouts, videos)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--name", default=name, help=f"weights file stem (default {name})")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def start(args: argparse.Namespace) -> int | None:
    """Check ``args.data_root`` and apply ``args.threads``; an exit status when the command
    cannot run (a one-line error is printed), else None."""
    if not (Path(args.data_root) / "matting").is_dir():
        print(f"error: {args.data_root} has no matting/ folder", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    return None


def save_weights_and_manifest(net: torch.nn.Module, out: Path, name: str, **fields: Any) -> Path:
    """Write ``<out>/<name>.safetensors`` and ``<name>.json`` (each through a temporary name, so
    an interrupted run leaves no file that looks complete). The manifest starts with the file's
    name, sha256 and parameter count, then ``fields`` in order. Returns the weights' path."""
    from safetensors.torch import save_file

    from ..matting.weights import sha256_file

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.safetensors"
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
    tmp.replace(path)
    parameters = sum(int(t.numel()) for t in net.state_dict().values())
    manifest = {
        "format": "safetensors",
        "file": path.name,
        "sha256": sha256_file(path),
        "parameters": parameters,
        **fields,
    }
    man = path.with_suffix(".json")
    tmp_man = man.with_suffix(".json.tmp")
    tmp_man.write_text(json.dumps(manifest, indent=1) + "\n")
    tmp_man.replace(man)
    print(f"wrote {path} ({parameters} parameters) and {man.name}")
    return path
