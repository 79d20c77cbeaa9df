"""Frame sources: videos (PyAV), image folders, single images and in-memory arrays.

Every source yields H×W×3 uint8 RGB frames and knows its exact frame count, size and rate.
Sources are context managers; iterating decodes lazily (memory does not grow with the clip).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..types import check_rgb_frame

__all__ = ["ArraySource", "FrameSource", "VideoInfo", "open_source"]


@dataclass(frozen=True)
class VideoInfo:
    """What a source is: size in pixels, exact frame count, rate (frames/s) and origin.

    ``kind`` is ``"video"``, ``"images"`` (a folder or list of image files), ``"image"`` (one
    still) or ``"array"`` (frames given in memory). ``has_audio`` is true for videos with an
    audio stream that video outputs should carry.
    """

    width: int
    height: int
    num_frames: int
    fps: Fraction = Fraction(25)
    kind: str = "array"
    path: Path | None = None
    has_audio: bool = False
    codec: str | None = None


class FrameSource(ABC):
    """A clip of frames: sequential iteration, random access and bounded-memory reverse order."""

    info: VideoInfo

    def __len__(self) -> int:
        return self.info.num_frames

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release file handles. Idempotent."""

    def check_index(self, index: int) -> None:
        if not 0 <= index < self.info.num_frames:
            raise InputError(
                f"frame {index} is past the clip: it has {self.info.num_frames} frames (0..{self.info.num_frames - 1})"
            )

    @abstractmethod
    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for ``start <= index < stop`` in order (stop: end of clip)."""

    def read_frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (random access; videos seek, so prefer iter_frames for runs)."""
        self.check_index(index)
        for _, frame in self.iter_frames(index, index + 1):
            return frame
        raise InputError(f"could not read frame {index}")

    def iter_frames_reverse(
        self, start: int, stop: int = 0, chunk: int = 32
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` from ``start`` down to ``stop`` inclusive.

        Decodes ``chunk`` frames forward at a time and yields them reversed, so memory is bounded
        by ``chunk`` frames whatever the clip length.
        """
        self.check_index(start)
        hi = start + 1
        while hi > stop:
            lo = max(stop, hi - chunk)
            frames = list(self.iter_frames(lo, hi))
            yield from reversed(frames)
            hi = lo


class ArraySource(FrameSource):
    """Frames held by the caller: a sequence of H×W×3 arrays or one N×H×W×3 array."""

    def __init__(
        self, frames: Sequence[np.ndarray] | np.ndarray, fps: float | Fraction = 25
    ) -> None:
        if len(frames) == 0:
            raise InputError("no frames given")
        self._frames = frames
        first = check_rgb_frame(frames[0])
        h, w = first.shape[:2]
        for i, f in enumerate(frames):
            if np.asarray(f).shape[:2] != (h, w):
                raise InputError(
                    f"frame {i} is {np.asarray(f).shape[1]}×{np.asarray(f).shape[0]} but frame 0 is {w}×{h}: all frames must share one size"
                )
        self.info = VideoInfo(
            width=w,
            height=h,
            num_frames=len(frames),
            fps=Fraction(fps).limit_denominator(1001000),
            kind="array",
        )

    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        stop = self.info.num_frames if stop is None else min(stop, self.info.num_frames)
        for i in range(start, stop):
            yield i, check_rgb_frame(self._frames[i])

    def read_frame(self, index: int) -> np.ndarray:
        self.check_index(index)
        return check_rgb_frame(self._frames[index])


def open_source(
    source: str | Path | np.ndarray | Sequence[np.ndarray] | FrameSource, fps: float | None = None
) -> FrameSource:
    """Open a video file, an image folder, a single image, or in-memory frames as a FrameSource."""
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, (str, Path)):
        raise NotImplementedError("file sources are being written")  # filled in by the I/O work
    arr = source
    if isinstance(arr, np.ndarray) and arr.ndim == 3:
        arr = arr[None]
    return ArraySource(arr, fps=fps or 25)
