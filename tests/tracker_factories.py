"""Tracker factories and small synthetic clips for the tracker contract tests.

Every tracker the project ships gets an entry in :data:`FACTORIES`; ``test_tracker_contract.py``
runs the same checks on all of them. A :class:`TrackerFactory` builds a tracker for a given
:class:`ContractClip` (the oracle needs the clip's masks; other trackers ignore it) and says
what may be asserted about it:

- ``accurate``: its masks overlap the truth (IoU ≥ ``min_iou``). False for random-weight
  foundation trackers, which must still pass every shape / id / propagation / determinism check;
- ``follows_prompts``: the prompt's content shapes the output (False for the oracle, whose
  ground truth defines the objects);
- ``causal``: a prompt on frame k leaves frames before k unchanged in a forward run. SAM2-style
  memory attends to *every* conditioning frame, future ones included, so it is not causal.

Other helpers add factories without editing this file: any ``tests/tracker_factories_*.py``
module that defines ``FACTORIES: dict[str, TrackerFactory]`` is merged in (names must be new).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sam2matting.samples import make_sample_clip
from sam2matting.trackers.base import Tracker
from sam2matting.types import Box, MaskPrompt, Points, Prompt, TextPrompt

__all__ = [
    "FACTORIES",
    "ContractClip",
    "TrackerFactory",
    "make_sample_contract_clip",
    "make_two_disc_clip",
    "prompt_of_kind",
]


@dataclass(frozen=True, eq=False)
class ContractClip:
    """A few small frames with exact per-object masks.

    ``frames``: list of H×W×3 uint8 RGB; ``masks[obj][t]``: bool H×W mask of object ``obj`` on
    frame t; ``texts[obj]``: a phrase naming the object (for text-prompt trackers).
    """

    frames: list[np.ndarray]
    masks: dict[int, list[np.ndarray]]
    texts: dict[int, str] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def height(self) -> int:
        return int(self.frames[0].shape[0])

    @property
    def width(self) -> int:
        return int(self.frames[0].shape[1])

    @property
    def object_ids(self) -> list[int]:
        return sorted(self.masks)

    def label_maps(self) -> list[np.ndarray]:
        """Per-frame uint8 label maps (0 = background, v = object v)."""
        out = []
        for t in range(self.num_frames):
            labels = np.zeros((self.height, self.width), np.uint8)
            for obj in self.object_ids:
                labels[self.masks[obj][t]] = obj
            out.append(labels)
        return out

    def box(self, obj: int, t: int, margin: float = 2.0) -> Box:
        """A box around object ``obj`` on frame ``t`` with ``margin`` px of background."""
        ys, xs = np.nonzero(self.masks[obj][t])
        return Box(
            max(0.0, xs.min() - margin),
            max(0.0, ys.min() - margin),
            min(self.width - 1.0, xs.max() + 1 + margin),
            min(self.height - 1.0, ys.max() + 1 + margin),
            frame=t,
            object_id=obj,
        )

    def centre(self, obj: int, t: int) -> tuple[float, float]:
        """A pixel deep inside object ``obj`` on frame ``t`` (maximum of the distance map)."""
        dist = cv2.distanceTransform(self.masks[obj][t].astype(np.uint8), cv2.DIST_L2, 3)
        y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
        return float(x), float(y)


def make_two_disc_clip(width: int = 128, height: int = 72, num_frames: int = 8) -> ContractClip:
    """Two textured discs (object 1 warm, object 2 cool) moving towards each other, never
    touching, over a grey-green textured background that pans slowly."""
    rng = np.random.default_rng(7)
    noise = rng.random((height // 6 + 3, width // 6 + 3, 3)).astype(np.float32)
    big = cv2.resize(noise, (width + 16, height + 8), interpolation=cv2.INTER_CUBIC)
    background = 0.35 + 0.2 * np.clip(big, 0, 1) * np.array([0.8, 1.0, 0.7], np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r1, r2 = 0.17 * height, 0.14 * height
    frames: list[np.ndarray] = []
    masks: dict[int, list[np.ndarray]] = {1: [], 2: []}
    for t in range(num_frames):
        u = t / max(num_frames - 1, 1)
        c1 = (width * (0.2 + 0.2 * u), height * (0.5 + 0.08 * np.sin(3 * u)))
        c2 = (width * (0.82 - 0.15 * u), height * (0.42 - 0.06 * u))
        ox = round(8 * u)
        img = background[4 : 4 + height, ox : ox + width].copy()
        m1 = (xx - c1[0]) ** 2 + (yy - c1[1]) ** 2 <= r1**2
        m2 = (xx - c2[0]) ** 2 + (yy - c2[1]) ** 2 <= r2**2
        tex1 = 0.5 + 0.5 * np.sin((xx - c1[0]) / 2.5) * np.cos((yy - c1[1]) / 3.0)
        tex2 = 0.5 + 0.5 * np.cos((xx - c2[0]) / 3.0 + (yy - c2[1]) / 2.0)
        warm = np.stack([0.85 + 0.1 * tex1, 0.3 + 0.25 * tex1, 0.15 + 0.1 * tex1], axis=-1)
        cool = np.stack([0.15 + 0.1 * tex2, 0.3 + 0.2 * tex2, 0.85 + 0.1 * tex2], axis=-1)
        img[m1] = warm[m1]
        img[m2] = cool[m2]
        frames.append(np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8))
        masks[1].append(m1)
        masks[2].append(m2)
    return ContractClip(frames, masks, texts={1: "orange disc", 2: "blue disc"})


def make_sample_contract_clip(
    width: int = 128, height: int = 72, num_frames: int = 8
) -> ContractClip:
    """The project's synthetic sample clip (one soft-edged object), mask = alpha > 0.5."""
    clip = make_sample_clip(width=width, height=height, num_frames=num_frames)
    frames, masks = [], []
    for image, alpha in clip:
        frames.append(image)
        masks.append(alpha > 0.5)
    return ContractClip(frames, {1: masks}, texts={1: "orange creature"})


def prompt_of_kind(kind: type, clip: ContractClip, obj: int, t: int) -> Prompt:
    """A prompt of class ``kind`` for object ``obj`` on frame ``t`` derived from the truth."""
    if kind is MaskPrompt:
        return MaskPrompt(clip.masks[obj][t], frame=t, object_id=obj)
    if kind is Box:
        return clip.box(obj, t)
    if kind is Points:
        return Points((clip.centre(obj, t),), (1,), frame=t, object_id=obj)
    if kind is TextPrompt:
        return TextPrompt(clip.texts.get(obj, "object"), frame=t, object_id=obj)
    raise TypeError(f"no contract prompt for {kind!r}")


@dataclass(frozen=True)
class TrackerFactory:
    """How to build one tracker for a contract clip, and what may be asserted about it."""

    make: Callable[[ContractClip], Tracker]
    accurate: bool = True
    follows_prompts: bool = True
    causal: bool = True
    min_iou: float = 0.5


def _builtin(clip: ContractClip) -> Tracker:
    from sam2matting.trackers.builtin import build

    return build()


def _oracle(clip: ContractClip) -> Tracker:
    from sam2matting.trackers.oracle import build

    return build(masks=clip.label_maps())


def _oracle_perturbed(clip: ContractClip) -> Tracker:
    from sam2matting.trackers.oracle import build

    return build(masks=clip.label_maps(), perturbation="jagged,holes", strength=0.3, seed=3)


FACTORIES: dict[str, TrackerFactory] = {
    "builtin": TrackerFactory(_builtin),
    "oracle": TrackerFactory(_oracle, follows_prompts=False),
    "oracle-perturbed": TrackerFactory(_oracle_perturbed, follows_prompts=False),
}


def _merge_plugins(into: dict[str, TrackerFactory]) -> None:
    """Add the FACTORIES of every ``tracker_factories_*.py`` next to this file."""
    for path in sorted(Path(__file__).parent.glob("tracker_factories_*.py")):
        module: Any = importlib.import_module(path.stem)
        extra: dict[str, TrackerFactory] = getattr(module, "FACTORIES", {})
        clash = sorted(set(extra) & set(into))
        if clash:
            raise RuntimeError(f"{path.name} redefines tracker factories: {', '.join(clash)}")
        into.update(extra)


_merge_plugins(FACTORIES)
