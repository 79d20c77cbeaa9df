"""Optional ``torch.compile`` of a session's networks (``compile=True``, CLI ``--compile``).

Off by default: compiling costs a warm-up (the first frames wait for the compiler; on this
project's 2-core CPU ~40 s for the learned head, see ``benchmarks/bench_gpu.py --smoke
--compile`` and the README) that only long clips earn back, and it needs a C/C++ compiler
(inductor writes C++ on the CPU and Triton launchers on CUDA).

What is compiled, when the session has it:

- a transformers SAM tracker's image encoder (``backend.model.vision_encoder``: fixed input
  size, so one graph);
- the learned head's networks — own encoder, ROI detector, progressive predictor and the
  native refiner's packed forward — with ``dynamic=True``, since the objects' window and the
  number of refinement tiles change from frame to frame.

Models without any (the built-in tracker, the classical heads) are left as they are.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from .errors import Sam2MattingError

__all__ = ["compile_models", "find_compiler"]


def find_compiler() -> str | None:
    """A compiler inductor can use: ``$CXX`` / ``$CC``, else g++, clang++, c++, gcc or cc on
    PATH (C++ for the CPU's generated code; Triton's launchers on CUDA need a C compiler)."""
    for name in (os.environ.get("CXX"), os.environ.get("CC"), "g++", "clang++", "c++", "gcc", "cc"):
        if name and shutil.which(name):
            return name
    return None


def compile_models(tracker: Any, head: Any) -> list[str]:
    """``torch.compile`` the networks of ``tracker`` and ``head`` in place (see module
    docstring); returns what was compiled (``[]`` when neither has a network).

    Raises :class:`Sam2MattingError` when no C/C++ compiler is on PATH (before anything runs,
    instead of a compiler traceback on the first frame)."""
    import torch
    from torch import nn

    targets: list[tuple[Any, str, bool]] = []  # (owner, attribute, dynamic shapes)
    model = getattr(getattr(tracker, "backend", None), "model", None)
    if isinstance(getattr(model, "vision_encoder", None), nn.Module):
        targets.append((model, "vision_encoder", False))
    net = getattr(head, "net", None)
    if isinstance(net, nn.Module):
        for name in ("encoder", "roi", "predictor"):
            if isinstance(getattr(net, name, None), nn.Module):
                targets.append((net, name, True))
        refiner = getattr(net, "refiner", None)
        if isinstance(refiner, nn.Module) and hasattr(refiner, "forward_packed"):
            targets.append((refiner, "forward_packed", True))
    if not targets:
        return []
    if find_compiler() is None:
        raise Sam2MattingError(
            "--compile needs a C/C++ compiler for torch.compile (g++ or clang++ on PATH, or $CXX)"
        )
    done = []
    for owner, attr, dynamic in targets:
        setattr(owner, attr, torch.compile(getattr(owner, attr), dynamic=dynamic))
        kind = "tracker" if owner is model else "head"
        done.append(f"{kind}.{attr}")
    return done
