"""Media I/O: frame sources (readers), matte outputs (writers) and the compositing module.

Importing is free: PyAV and OpenCV load on first use inside the functions that need them.
"""

from __future__ import annotations

from .compose import BackgroundSource, composite, parse_colour, premultiply, unpremultiply
from .readers import ArraySource, FrameSource, VideoInfo, open_source
from .writers import (
    FORMATS,
    FormatSpec,
    MatteWriter,
    open_writer,
    output_path,
    probe,
    read_alpha_frames,
)

__all__ = [
    "FORMATS",
    "ArraySource",
    "BackgroundSource",
    "FormatSpec",
    "FrameSource",
    "MatteWriter",
    "VideoInfo",
    "composite",
    "open_source",
    "open_writer",
    "output_path",
    "parse_colour",
    "premultiply",
    "probe",
    "read_alpha_frames",
    "unpremultiply",
]
