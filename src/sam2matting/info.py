"""``sam2matting info``: versions, trackers, heads, whether weights are present, device."""

from __future__ import annotations

import importlib
import platform
from importlib import metadata

from . import __version__

__all__ = ["collect_info"]

_PACKAGES = (
    "torch",
    "numpy",
    "av",
    "opencv-python-headless",
    "PyMatting",
    "transformers",
    "onnxruntime",
)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _tracker_weights(name: str) -> str:
    from .trackers.registry import TRACKERS

    spec = TRACKERS[name]
    if not spec.needs_weights:
        return "no weights needed"
    for module_name in ("sam2matting.trackers.weights", "sam2matting.trackers.hf_common"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        status = getattr(module, "weights_status", None)
        if status is not None:
            return str(status(name))
    return f"weights: {spec.weights_hint or 'unknown'}"


def _head_weights(name: str) -> str:
    from .matting.registry import HEADS

    spec = HEADS[name]
    if not spec.needs_weights:
        try:
            module = importlib.import_module("sam2matting.matting.weights")
            status = getattr(module, "weights_status", None)
            if status is not None:
                return str(status(name))
        except ImportError:
            pass
        return "no downloaded weights needed"
    return "needs weights"


def collect_info() -> str:
    """A multi-line report for the ``info`` command."""
    from .matting.registry import DEFAULT_HEAD, HEADS
    from .trackers.registry import TRACKERS

    lines = [
        f"sam2matting {__version__} (Python {platform.python_version()}, {platform.machine()})"
    ]
    lines += [f"  {dist:<24} {_version(dist)}" for dist in _PACKAGES]
    lines.append("trackers (--tracker):")
    for name, spec in sorted(TRACKERS.items()):
        lines.append(f"  {name:<22} {spec.description}")
        lines.append(f"  {'':<22} [{_tracker_weights(name)}]")
    from .models import OFFICIAL_MODELS, model_status

    lines.append("official SAM2Matting checkpoints (--model; tracker + heads):")
    for name, preset in OFFICIAL_MODELS.items():
        lines.append(f"  {name:<30} {preset.description}")
        lines.append(f"  {'':<30} [{model_status(name)}]")
    lines.append(f"matting heads (--head; default {DEFAULT_HEAD}):")
    for name, hspec in sorted(HEADS.items()):
        lines.append(f"  {name:<22} {hspec.description}")
        lines.append(f"  {'':<22} [{_head_weights(name)}]")
    try:
        from .device import describe_device

        lines.append(f"device (auto): {describe_device(None)}")
    except Exception as exc:  # info must never crash on a broken torch install
        lines.append(f"device: unavailable ({exc})")
    return "\n".join(lines)
