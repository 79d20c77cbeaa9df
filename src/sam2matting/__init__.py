"""sam2matting: video and image matting by tracker-to-matting decoupling.

A video tracker keeps the target consistent over time; a region-proposal bridge finds the
matting-critical pixels; matting heads resolve them into alpha. Importing this package is free:
no device, network or heavy import happens until a function is called.

Main entry points: :func:`matte_video`, :func:`matte_image`, :class:`MattingSession`, and
:func:`matte_batch` for many clips on Dask (``pip install 'sam2matting[batch]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    InputError,
    MissingDependencyError,
    OutputError,
    PromptError,
    Sam2MattingError,
    WeightsError,
)
from .types import Box, FrameResult, MaskPrompt, Points, TextPrompt

__version__ = "0.1.0"

__all__ = [
    "Box",
    "FrameResult",
    "InputError",
    "MaskPrompt",
    "MattingSession",
    "MissingDependencyError",
    "OutputError",
    "Points",
    "PromptError",
    "Sam2MattingError",
    "TextPrompt",
    "WeightsError",
    "__version__",
    "matte_batch",
    "matte_image",
    "matte_video",
]

if TYPE_CHECKING:
    from .api import MattingSession, matte_image, matte_video
    from .batch import matte_batch

_LAZY = {"MattingSession", "matte_image", "matte_video"}


def __getattr__(name: str) -> Any:
    # The API pulls in OpenCV/PyAV; load it on first use so `import sam2matting` stays free.
    if name in _LAZY:
        from . import api

        return getattr(api, name)
    if name == "matte_batch":  # Dask loads only when a batch runs
        from .batch import matte_batch

        return matte_batch
    raise AttributeError(f"module 'sam2matting' has no attribute {name!r}")
