"""Device resolution, done once at the API boundary (never a default "cuda", never at import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import Sam2MattingError

if TYPE_CHECKING:
    import torch

__all__ = ["describe_device", "resolve_device"]


def resolve_device(device: str | None = None) -> torch.device:
    """``None``/"auto" → CUDA if available, else MPS, else CPU; otherwise the named device.

    Raises Sam2MattingError for a device that is named but not available here.
    """
    import torch

    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise Sam2MattingError(
            f"unknown device {device!r}; use cpu, cuda, cuda:N, mps or auto"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise Sam2MattingError(
            f"device {device!r} requested but CUDA is not available on this machine"
        )
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise Sam2MattingError(
                f"device {device!r} requested but MPS is not available on this machine"
            )
    return dev


def describe_device(device: str | None = None) -> str:
    """One line naming the device that ``resolve_device(device)`` picks (for ``info``)."""
    import torch

    dev = resolve_device(device)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return dev.type
