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
    "checkpoint_reason",
    "one_line",
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


def one_line(error: BaseException | str, limit: int = 200) -> str:
    """The first non-empty line of an error's text, at most ``limit`` characters.

    Third-party errors (torch's unpickler, safetensors, FFmpeg) explain themselves over many
    lines; a user error here is one line, so their first line is quoted and the rest dropped.
    """
    text = str(error)
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if not line:
        line = type(error).__name__ if isinstance(error, BaseException) else "unknown error"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def checkpoint_reason(error: BaseException) -> str:
    """One line saying why ``torch.load`` refused a file.

    torch's own text for a non-checkpoint starts with advice about ``weights_only`` and puts
    the cause after "WeightsUnpickler error:" (often on the next line); zip errors add a
    paragraph of advice after their first sentence. Only the cause is kept.
    """
    lines = [part.strip() for part in str(error).splitlines() if part.strip()]
    for i, part in enumerate(lines):
        if "WeightsUnpickler error:" in part:
            rest = part.split("WeightsUnpickler error:", 1)[1].strip()
            if not rest and i + 1 < len(lines):
                rest = lines[i + 1]
            return one_line(f"not a PyTorch checkpoint ({rest or 'unreadable pickle'})")
    first = lines[0] if lines else type(error).__name__
    return one_line(first.split(". ", 1)[0])
