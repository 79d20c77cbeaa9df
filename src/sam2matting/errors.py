"""Exceptions the package raises on purpose.

Every error a user can cause (bad file, bad prompt, unwritable output, missing weights) is a
:class:`Sam2MattingError`. The CLI prints its message as one line and exits non-zero; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "MissingDependencyError",
    "OutputError",
    "PromptError",
    "Sam2MattingError",
    "WeightsError",
]


class Sam2MattingError(Exception):
    """Base class: a problem with what the caller asked for, not a bug."""

    exit_code = 2


class InputError(Sam2MattingError):
    """The input media is missing, unreadable, empty, truncated or inconsistent."""


class PromptError(Sam2MattingError):
    """A prompt is malformed, empty, outside the frame, or on a frame the clip does not have."""


class OutputError(Sam2MattingError):
    """An output cannot be written (unknown format, unwritable folder, encoder failure)."""


class WeightsError(Sam2MattingError):
    """Model weights are absent, corrupt, or do not match the architecture."""


class MissingDependencyError(Sam2MattingError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(module: str, extra: str) -> object:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the pip extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{module} is not installed; install it with: pip install 'sam2matting[{extra}]'"
        ) from exc
