"""Typed prompts and per-frame results shared by trackers, matting stages, the API and the CLI.

Coordinates are pixels of the *original* frame: x to the right, y down, origin at the top-left
corner of the top-left pixel. Frame indices are 0-based. Object ids are positive integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, PromptError

__all__ = [
    "Box",
    "FrameResult",
    "MaskPrompt",
    "ObjectTrack",
    "Points",
    "Prompt",
    "TextPrompt",
    "TrackedFrame",
    "validate_prompt",
]


@dataclass(frozen=True)
class Points:
    """Clicks on one frame: ``coords`` are (x, y) pixels; ``labels`` 1 = positive, 0 = negative."""

    coords: tuple[tuple[float, float], ...]
    labels: tuple[int, ...]
    frame: int = 0
    object_id: int = 1

    def __post_init__(self) -> None:
        if len(self.coords) == 0:
            raise PromptError("a points prompt needs at least one point")
        if len(self.coords) != len(self.labels):
            raise PromptError(
                f"points prompt has {len(self.coords)} points but {len(self.labels)} labels"
            )
        if any(label not in (0, 1) for label in self.labels):
            raise PromptError("point labels must be 1 (positive) or 0 (negative)")
        if not any(label == 1 for label in self.labels):
            raise PromptError("a points prompt needs at least one positive point")
        object.__setattr__(self, "coords", tuple((float(x), float(y)) for x, y in self.coords))
        object.__setattr__(self, "labels", tuple(int(v) for v in self.labels))


@dataclass(frozen=True)
class Box:
    """A box around the object: (x0, y0) top-left, (x1, y1) bottom-right, pixels, x1 > x0, y1 > y0."""

    x0: float
    y0: float
    x1: float
    y1: float
    frame: int = 0
    object_id: int = 1

    def __post_init__(self) -> None:
        if not (self.x1 > self.x0 and self.y1 > self.y0):
            raise PromptError(
                f"box ({self.x0},{self.y0},{self.x1},{self.y1}) is empty: need x1 > x0 and y1 > y0"
            )

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)


@dataclass(frozen=True, eq=False)
class MaskPrompt:
    """A mask of the object on one frame: ``mask`` is H×W, nonzero (or > 0.5 for floats) = object."""

    mask: np.ndarray
    frame: int = 0
    object_id: int = 1

    def __post_init__(self) -> None:
        m = np.asarray(self.mask)
        if m.ndim == 3 and m.shape[2] in (1, 3, 4):
            # Colour or RGBA mask images: use alpha when present, else any nonzero channel.
            m = m[..., 3] if m.shape[2] == 4 else m.max(axis=2)
        if m.ndim != 2:
            raise PromptError(f"mask prompt must be H×W, got shape {np.asarray(self.mask).shape}")
        binary = m > 0.5 if np.issubdtype(m.dtype, np.floating) else m > 0
        if not binary.any():
            raise PromptError("mask prompt is empty (no object pixels)")
        object.__setattr__(self, "mask", binary)

    @classmethod
    def from_file(cls, path: str | Path, frame: int = 0, object_id: int = 1) -> MaskPrompt:
        """Read a mask image (PNG/JPEG/…; grey, colour or RGBA) from ``path``."""
        from PIL import Image, UnidentifiedImageError

        p = Path(path)
        if p.exists() and not p.is_file():  # a FIFO or device would block the read
            raise PromptError(f"mask is not a regular file: {p}")
        if not p.is_file():
            raise PromptError(f"mask file not found: {p}")
        try:
            with Image.open(p) as im:
                im.load()
                arr = np.asarray(im.convert("RGBA") if im.mode in ("P", "LA") else im)
        except Image.DecompressionBombError as exc:
            raise PromptError(f"mask image is too large to decode safely: {p} ({exc})") from None
        except (UnidentifiedImageError, OSError) as exc:
            raise PromptError(f"mask file is not a readable image: {p}") from exc
        return cls(arr, frame=frame, object_id=object_id)


@dataclass(frozen=True)
class TextPrompt:
    """A phrase naming the object(s); needs a tracker with a text detector (SAM3)."""

    text: str
    frame: int = 0
    object_id: int = 1

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise PromptError("text prompt is empty")


Prompt = Points | Box | MaskPrompt | TextPrompt


def validate_prompt(prompt: Prompt, width: int, height: int, num_frames: int | None = None) -> None:
    """Raise :class:`PromptError` if ``prompt`` does not fit a clip of this size and length."""
    if prompt.object_id < 1:
        raise PromptError(f"object id must be a positive integer, got {prompt.object_id}")
    if prompt.frame < 0:
        raise PromptError(f"frame index must be >= 0, got {prompt.frame}")
    if num_frames is not None and prompt.frame >= num_frames:
        raise PromptError(
            f"prompt is on frame {prompt.frame} but the clip has {num_frames} frames (0..{num_frames - 1})"
        )
    if isinstance(prompt, Points):
        for x, y in prompt.coords:
            if not (0 <= x < width and 0 <= y < height):
                raise PromptError(f"point ({x:g},{y:g}) is outside the {width}×{height} frame")
    elif isinstance(prompt, Box):
        x0, y0, x1, y1 = prompt.xyxy
        if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
            raise PromptError(
                f"box ({x0:g},{y0:g},{x1:g},{y1:g}) is outside the {width}×{height} frame"
            )
        if x0 < -0.5 or y0 < -0.5 or x1 > width + 0.5 or y1 > height + 0.5:
            raise PromptError(
                f"box ({x0:g},{y0:g},{x1:g},{y1:g}) extends past the {width}×{height} frame"
            )
    elif isinstance(prompt, MaskPrompt):
        h, w = prompt.mask.shape
        if (w, h) != (width, height):
            raise PromptError(f"mask prompt is {w}×{h} but the frames are {width}×{height}")


@dataclass
class ObjectTrack:
    """One object's tracker output on one frame.

    ``logits``: float32 H'×W' mask logits (> 0 = object) at the tracker's own resolution, which
    may differ from the frame's. ``features``: optional multi-scale tracker features for the
    matting heads, ``{4: (C4,h4,w4), 8: …, 16: …}`` keyed by stride (torch tensors or arrays).
    ``score``: the tracker's confidence that the object is present (1.0 when it cannot tell).
    """

    logits: np.ndarray
    features: dict[int, Any] | None = None
    score: float = 1.0

    def mask(self, height: int, width: int) -> np.ndarray:
        """Binary H×W mask at the given frame size (logits resized bilinearly, then > 0)."""
        return self.probability(height, width) > 0.5

    def probability(self, height: int, width: int) -> np.ndarray:
        """Sigmoid of the logits, resized bilinearly to H×W, float32 in [0, 1]."""
        import cv2

        logits: np.ndarray = np.asarray(self.logits, dtype=np.float32)
        if logits.shape != (height, width):
            logits = np.asarray(cv2.resize(logits, (width, height), interpolation=cv2.INTER_LINEAR))
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))).astype(np.float32)


@dataclass
class TrackedFrame:
    """A frame as the tracker yields it: the RGB image (H×W×3 uint8) and each object's track."""

    index: int
    image: np.ndarray
    objects: dict[int, ObjectTrack] = field(default_factory=dict)


@dataclass
class FrameResult:
    """The pipeline's output for one frame: alpha per object, float32 H×W in [0, 1].

    ``scores``: the tracker's confidence per object on this frame ([0, 1]; below 0.5 the object
    counts as lost, see :mod:`sam2matting.lost`); objects not tracked on this frame are absent.
    """

    index: int
    image: np.ndarray
    alphas: dict[int, np.ndarray]
    masks: dict[int, np.ndarray] = field(default_factory=dict)
    scores: dict[int, float] = field(default_factory=dict)


def check_rgb_frame(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as a contiguous H×W×3 uint8 RGB array, or raise :class:`InputError`."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InputError(f"expected an H×W×3 RGB frame, got shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            arr = np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)
