"""Loading the small networks the package ships (the edge arbiter, the built-in tracker's
propagation refiner and pixel embedder) from their safetensors files.

Each is a few-k-parameter CNN whose width is read from the file, evaluated on CPU (or the
matting device) in channels-last layout. One loader, so a missing or corrupt file reads the
same one-line error everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from .errors import Sam2MattingError, WeightsError

__all__ = ["load_shipped_net", "shipped_weights_path"]

_Net = TypeVar("_Net", bound=nn.Module)


def shipped_weights_path(name: str) -> Path:
    """The file ``name`` in the package's ``weights/`` folder."""
    return Path(__file__).resolve().parent / "weights" / name


def load_shipped_net(
    path: str | Path | None,
    default_name: str,
    build: Callable[[dict[str, Any]], _Net],
    what: str,
    *,
    prefix: str = "",
    error: type[Sam2MattingError] = WeightsError,
    device: torch.device | None = None,
) -> _Net:
    """The network ``build(state)`` with the state of ``path`` (default: the shipped
    ``default_name``) loaded, in eval mode, channels-last, on ``device`` (default CPU).

    ``what`` names it in errors ("learned refiner"), after ``prefix`` ("builtin tracker: ");
    a missing file, a corrupt one or one of another architecture is ``error``, one line."""
    from safetensors.torch import load_file

    p = Path(path) if path is not None else shipped_weights_path(default_name)
    if not p.is_file():
        raise error(f"{prefix}{what} weights not found: {p}")
    try:
        state: dict[str, Any] = load_file(str(p))
        net = build(state)
        net.load_state_dict(state)
    except Exception as exc:  # corrupt file, wrong architecture
        raise error(f"{prefix}cannot load {what} weights {p}: {exc}") from exc
    net = net.eval().to(device or torch.device("cpu"))
    return net.to(memory_format=torch.channels_last)  # type: ignore[call-overload,no-any-return]
