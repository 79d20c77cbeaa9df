"""The oracle tracker: ground-truth masks behind the tracker protocol, for evaluation.

It answers "how good would the matting be with a perfect tracker?" and, with a perturbation,
"how does the matting stage cope with a tracker's typical errors?" (:mod:`sam2matting.degrade`).

Ground truth: ``build(masks_dir=PATH)`` — a folder of mask images, one per frame in natural
order (``frame2`` before ``frame10``) — or ``build(masks=[...])`` — one array per frame. Masks
are read lazily, one frame at a time. What a mask means (:func:`label_map`):

- palette (indexed) PNGs and integer arrays (any integer dtype) are label maps: value *v* is object *v*;
  255 next to other values is DAVIS's "void" label and ignored; a map whose only nonzero value
  is 255 (a 0/255 binary mask) is object 1;
- grey / colour images are binary: object 1 where the value is > 127 (any nonzero for 0/1
  images); RGBA / grey+alpha images use their alpha;
- bool arrays are object 1; float arrays are object 1 where > 0.5.

Prompts: every prompt type is accepted (text too) and its *content is ignored*: the ground
truth defines the objects. A prompt only says which object id to report from which frame on;
the id must be present in the ground truth on the prompt's frame (else PromptError). Objects
appear like with any tracker: going forward from their first prompted frame, going backward
from their last. The logits are ±:data:`ORACLE_LOGIT` at frame resolution.

``perturbation``: degradation name(s) from :data:`sam2matting.degrade.DEGRADATIONS` (``"erode"``,
``"erode,holes:0.3"``, or a list) applied to each object's mask with ``strength`` (default 0.5)
and a generator seeded by ``(seed, frame, object id)``, so results do not depend on the order or
direction frames are visited in.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..degrade import degrade_mask_chain, parse_degradations
from ..errors import InputError, PromptError, Sam2MattingError
from ..types import (
    Box,
    MaskPrompt,
    ObjectTrack,
    Points,
    Prompt,
    TextPrompt,
    TrackedFrame,
    validate_prompt,
)
from .base import propagation_end

if TYPE_CHECKING:
    from ..io.readers import FrameSource

__all__ = ["ORACLE_LOGIT", "OracleSession", "OracleTracker", "build", "label_map", "read_label_map"]

#: magnitude of the oracle's logits (sigmoid(10) ≈ 0.99995)
ORACLE_LOGIT = 10.0
#: DAVIS's "void" label in palette annotations
VOID_LABEL = 255


def label_map(mask: np.ndarray) -> np.ndarray:
    """An H×W int32 label map (0 = background, v = object v) from a mask array.

    Integer arrays (and palette indices) are label maps, bool arrays object 1, float arrays
    object 1 where > 0.5, H×W×C arrays binary masks (see the module docstring).
    """
    arr = np.asarray(mask)
    if arr.ndim == 3 and arr.shape[2] in (1, 2, 3, 4):
        # colour or alpha images: alpha when present, else the brightest channel; binary
        arr = arr[..., -1] if arr.shape[2] in (2, 4) else arr.max(axis=2)
        return _binary_labels(arr)
    if arr.ndim != 2:
        raise InputError(f"a ground-truth mask must be H×W, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int32)
    if np.issubdtype(arr.dtype, np.floating):
        return (arr > 0.5).astype(np.int32)
    labels = arr.astype(np.int32)
    values = np.unique(labels)
    nonzero = values[values != 0]
    if nonzero.size == 1 and nonzero[0] == VOID_LABEL:
        return (labels == VOID_LABEL).astype(np.int32)  # a 0/255 binary mask
    labels[labels == VOID_LABEL] = 0
    return labels


def _binary_labels(grey: np.ndarray) -> np.ndarray:
    """Object 1 where > half the 8-bit range (JPEG noise safe); any nonzero for 0/1 images."""
    threshold = 0 if grey.size and int(grey.max()) <= 1 else 127
    return (grey > threshold).astype(np.int32)


def read_label_map(path: str | Path) -> np.ndarray:
    """Read a mask image as an H×W int32 label map (see :func:`label_map`)."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with Image.open(p) as im:
            im.load()
            if im.mode == "P":
                return label_map(np.asarray(im))
            if im.mode in ("I", "I;16", "I;16B", "I;16L"):
                return _binary_labels(np.asarray(im) > 0)
            if im.mode in ("RGBA", "LA", "PA"):
                return _binary_labels(np.asarray(im.getchannel("A")))
            return _binary_labels(np.asarray(im.convert("L")))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"unreadable mask image: {p}") from exc


class _GroundTruth:
    """Lazy per-frame access to the label maps of a folder or a sequence of arrays."""

    def __init__(self, masks_dir: Path | None, masks: Sequence[np.ndarray] | None) -> None:
        self._paths: list[Path] | None = None
        self._arrays: Sequence[np.ndarray] | None = None
        if masks_dir is not None:
            from ..io.readers import list_images

            if not masks_dir.is_dir():
                raise InputError(f"masks folder not found: {masks_dir}")
            self._paths = list_images(masks_dir)
            if not self._paths:
                raise InputError(f"no mask images in {masks_dir}")
            self.origin = str(masks_dir)
        else:
            assert masks is not None  # build() guarantees one of the two
            if len(masks) == 0:
                raise InputError("no ground-truth masks given")
            self._arrays = masks
            self.origin = "the given masks"

    def __len__(self) -> int:
        return len(self._paths) if self._paths is not None else len(self._arrays or ())

    def labels(self, index: int, width: int, height: int) -> np.ndarray:
        if self._paths is not None:
            labels = read_label_map(self._paths[index])
            where = str(self._paths[index])
        else:
            assert self._arrays is not None
            labels = label_map(self._arrays[index])
            where = f"ground-truth mask {index}"
        if labels.shape != (height, width):
            raise InputError(
                f"{where} is {labels.shape[1]}×{labels.shape[0]} but the frames are {width}×{height}"
            )
        return labels


class OracleTracker:
    """Reports ground-truth masks (optionally degraded) as a tracker would."""

    name = "oracle"
    provides_features = False
    prompt_types: tuple[type, ...] = (Points, Box, MaskPrompt, TextPrompt)

    def __init__(
        self,
        masks_dir: str | Path | None = None,
        masks: Sequence[np.ndarray] | None = None,
        perturbation: str | Sequence[str] | None = None,
        strength: float = 0.5,
        seed: int = 0,
    ) -> None:
        if (masks_dir is None) == (masks is None):
            raise Sam2MattingError(
                "the oracle tracker needs exactly one of masks_dir=PATH or masks=[...]"
            )
        self.masks_dir = Path(masks_dir) if masks_dir is not None else None
        self.masks = masks
        self.perturbation = parse_degradations(perturbation, strength)
        self.seed = int(seed)
        _GroundTruth(self.masks_dir, self.masks)  # fail early on a missing or empty folder

    def open(self, source: FrameSource) -> OracleSession:
        """Start a session over ``source``; the mask count must equal its frame count."""
        return OracleSession(self, source)


def build(
    masks_dir: str | Path | None = None,
    masks: Sequence[np.ndarray] | None = None,
    perturbation: str | Sequence[str] | None = None,
    strength: float = 0.5,
    seed: int = 0,
    **options: Any,
) -> OracleTracker:
    """Registry builder (see :class:`OracleTracker` and the module docstring)."""
    if options:
        raise Sam2MattingError(
            f"unknown option(s) for the oracle tracker: {', '.join(sorted(options))}; choose from: masks_dir, masks, perturbation, strength, seed"
        )
    return OracleTracker(masks_dir, masks, perturbation, strength, seed)


class OracleSession:
    """A session of :class:`OracleTracker`: reads frame *i*'s mask when frame *i* is yielded."""

    def __init__(self, tracker: OracleTracker, source: FrameSource) -> None:
        self._tracker = tracker
        self._source: FrameSource | None = source
        info = source.info
        self._width, self._height, self._num_frames = info.width, info.height, info.num_frames
        self._truth = _GroundTruth(tracker.masks_dir, tracker.masks)
        if len(self._truth) != self._num_frames:
            raise InputError(
                f"{self._truth.origin} has {len(self._truth)} masks but the clip has {self._num_frames} frames"
            )
        self._prompted: dict[int, set[int]] = {}

    @property
    def object_ids(self) -> list[int]:
        """Ids of every object prompted so far, ascending."""
        return sorted(self._prompted)

    def add_prompt(self, prompt: Prompt) -> None:
        """Record that ``prompt.object_id`` is tracked from ``prompt.frame`` (content ignored)."""
        self._require_open()
        if not isinstance(prompt, (Points, Box, MaskPrompt, TextPrompt)):
            raise PromptError(f"the oracle tracker cannot use {type(prompt).__name__} prompts")
        validate_prompt(prompt, self._width, self._height, self._num_frames)
        labels = self._truth.labels(prompt.frame, self._width, self._height)
        if not (labels == prompt.object_id).any():
            present = sorted(int(v) for v in np.unique(labels) if v != 0)
            listed = ", ".join(map(str, present)) if present else "none"
            raise PromptError(
                f"object {prompt.object_id} is not in the ground-truth mask of frame {prompt.frame} (objects there: {listed})"
            )
        self._prompted.setdefault(prompt.object_id, set()).add(prompt.frame)

    def propagate(
        self, start_frame: int, *, reverse: bool = False, end_frame: int | None = None
    ) -> Iterator[TrackedFrame]:
        """Yield frames ``start_frame`` … ``end_frame`` (inclusive) with each present object's mask."""
        source = self._require_open()
        end = propagation_end(start_frame, reverse, end_frame, self._num_frames)
        frames = (
            source.iter_frames_reverse(start_frame, end)
            if reverse
            else source.iter_frames(start_frame, end + 1)
        )
        return self._run(frames, reverse)

    def _run(
        self, frames: Iterator[tuple[int, np.ndarray]], reverse: bool
    ) -> Iterator[TrackedFrame]:
        for index, image in frames:
            present = [
                obj
                for obj, prompted in sorted(self._prompted.items())
                if (max(prompted) >= index if reverse else min(prompted) <= index)
            ]
            objects: dict[int, ObjectTrack] = {}
            if present:
                labels = self._truth.labels(index, self._width, self._height)
                for obj in present:
                    mask = labels == obj
                    if self._tracker.perturbation:
                        rng = np.random.default_rng([self._tracker.seed, index, obj])
                        mask = degrade_mask_chain(mask, self._tracker.perturbation, rng)
                    logits = np.where(mask, ORACLE_LOGIT, -ORACLE_LOGIT).astype(np.float32)
                    objects[obj] = ObjectTrack(logits=logits, score=1.0 if mask.any() else 0.0)
            yield TrackedFrame(index=index, image=image, objects=objects)

    def close(self) -> None:
        """Forget the prompts (the source stays open). Idempotent."""
        self._source = None
        self._prompted = {}

    def __enter__(self) -> OracleSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require_open(self) -> FrameSource:
        if self._source is None:
            raise Sam2MattingError("the tracker session is closed")
        return self._source
