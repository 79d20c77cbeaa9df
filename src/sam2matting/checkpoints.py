"""Checkpoint handling, one home for trackers and matting heads alike.

Everything that reads weights goes through here: safe reading of PyTorch checkpoints
(``torch.load(..., weights_only=True)`` only, never arbitrary pickles) and of safetensors files,
unwrapping of ``{"model": …}`` / ``{"state_dict": …}`` containers, and the strict key/shape check
(:func:`check_state_dict`, :func:`load_state_dict_strict`) that every loader uses before touching
a module, so a bad file never leaves a model loaded half-way. Key *conversions* (official →
ours) live with the model they serve (``trackers/convert.py``, ``matting/weights.py``) and call
these. Errors are one-line :class:`~sam2matting.errors.WeightsError` naming the file (the
third-party cause shortened by :func:`~sam2matting.errors.checkpoint_reason` /
:func:`~sam2matting.errors.one_line`).

Dependencies: this module imports only :mod:`sam2matting.errors` (torch and safetensors lazily),
so trackers and matting heads both sit above it and never import each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import WeightsError, checkpoint_reason, one_line

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "check_state_dict",
    "load_state_dict_strict",
    "read_safetensors",
    "read_torch_checkpoint",
    "unwrap_state_dict",
]

#: containers official and third-party checkpoints put their state dict under
_WRAPPERS = ("model", "state_dict", "model_state_dict")


def unwrap_state_dict(obj: Any, name: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The flat ``{key: tensor}`` dict inside a loaded checkpoint object.

    Accepts a bare state dict or one under ``"model"`` / ``"state_dict"`` /
    ``"model_state_dict"``; strips a ``module.`` (DataParallel) prefix shared by every key.
    Non-tensor entries are dropped. :class:`WeightsError` when no tensors are found.
    """
    import torch

    for wrapper in _WRAPPERS:
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
            break
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) for k in obj):
        raise WeightsError(f"{name} does not hold a state dict")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError(f"{name} holds no tensors")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors


def read_torch_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``.pt`` / ``.pth`` checkpoint on the CPU, safely, into a flat state dict.

    Only ``weights_only=True`` loading is used: a pickle that needs arbitrary code (a whole
    pickled model, custom classes) is refused, as is a truncated or corrupt file — each with a
    one-line :class:`WeightsError` naming the file.
    """
    import pickle
    import zipfile

    import torch

    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsError(f"checkpoint {p} does not exist")
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):
            # a pickle of objects (classes, functions), not plain tensors and containers
            import re

            found = re.search(r"GLOBAL (\S+)", str(exc))
            what = found.group(1) if found else "a Python object"
            raise WeightsError(
                f"{p.name}: not a weights-only checkpoint (unpickling it would run code: "
                f"{what[:100]}); refused for safety"
            ) from exc
        raise WeightsError(
            f"{p.name}: not a readable PyTorch checkpoint (truncated or corrupt?)"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise WeightsError(
            f"{p.name}: not a readable PyTorch checkpoint (truncated or corrupt? "
            f"{checkpoint_reason(exc)[:80]})"
        ) from exc
    except Exception as exc:  # any other failure inside torch.load means the same
        raise WeightsError(
            f"{p.name}: not a readable PyTorch checkpoint ({checkpoint_reason(exc)})"
        ) from exc
    return unwrap_state_dict(obj, p.name)


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` file on the CPU; :class:`WeightsError` when unreadable."""
    from safetensors.torch import load_file

    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsError(f"weights file not found: {p}")
    try:
        return dict(load_file(str(p)))
    except Exception as exc:  # safetensors raises its own error types
        raise WeightsError(f"cannot read weights file {p}: {one_line(exc)}") from exc


def check_state_dict(
    expected: Mapping[str, Any], state: Mapping[str, Any], what: str = "weights"
) -> None:
    """Raise WeightsError unless ``state`` has exactly ``expected``'s keys and shapes."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(state))
        if tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
    if shapes:
        problems.append(f"{len(shapes)} with the wrong shape (e.g. {shapes[0]})")
    if problems:
        raise WeightsError(f"{what} do not match the network: " + "; ".join(problems))


def load_state_dict_strict(
    module: nn.Module, state: Mapping[str, torch.Tensor], what: str = "weights"
) -> None:
    """Load ``state`` into ``module``; any missing, unexpected or mis-shaped key → WeightsError.

    The check runs before anything is copied (nothing is loaded half-way). Tensors are cast to
    the module's dtypes (shipped files are float16).
    """
    own = module.state_dict()
    check_state_dict(own, state, what)
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
