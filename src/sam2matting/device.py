"""Device resolution, done once at the API boundary (never a default "cuda", never at import)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import Sam2MattingError

if TYPE_CHECKING:
    import torch

__all__ = ["autocast_for", "describe_device", "resolve_device", "resolve_dtype"]


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
    if dev.type not in ("cpu", "cuda", "mps"):
        raise Sam2MattingError(f"unsupported device {device!r}; use cpu, cuda, cuda:N, mps or auto")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise Sam2MattingError(
            f"device {device!r} requested but CUDA is not available on this machine"
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise Sam2MattingError(
            f"device {device!r} requested but this machine has "
            f"{torch.cuda.device_count()} CUDA device(s)"
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


#: ``--dtype`` spellings → canonical names (``auto``: each model picks; see :func:`resolve_dtype`)
_DTYPE_NAMES = {
    "auto": "auto",
    "fp32": "float32",
    "float32": "float32",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
}


def resolve_dtype(dtype: str | None, device: torch.device) -> str:
    """Validate a compute dtype against ``device`` once; returns ``auto``, ``float32``,
    ``bfloat16`` or ``float16``.

    ``auto`` leaves the choice to each model (the SAM trackers use bf16 autocast on CUDA, the
    matting heads float32). fp16 needs CUDA or MPS; bf16 needs a CUDA card that supports it
    (compute capability ≥ 8), or the CPU / MPS (autocast).
    """
    import torch

    name = _DTYPE_NAMES.get(str(dtype or "auto").lower())
    if name is None:
        raise Sam2MattingError(f"unknown dtype {dtype!r}; use auto, fp32, bf16 or fp16")
    if name == "float16" and device.type == "cpu":
        raise Sam2MattingError("dtype fp16 is not supported on the CPU; use fp32 or bf16")
    if name == "bfloat16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise Sam2MattingError(
            f"dtype bf16 is not supported by {torch.cuda.get_device_name(device)}; use fp16 or fp32"
        )
    return name


def autocast_for(device: torch.device, dtype: str | None) -> Any:
    """``torch.autocast`` for a resolved dtype on ``device`` (a null context for fp32/auto)."""
    import contextlib

    import torch

    name = _DTYPE_NAMES.get(str(dtype or "auto").lower(), "auto")
    if name in ("auto", "float32"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=getattr(torch, name))
