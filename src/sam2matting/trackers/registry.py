"""Registry of tracker names → lazily imported builders (importing this module is free)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Sam2MattingError

if TYPE_CHECKING:
    from .base import Tracker

__all__ = ["TRACKERS", "TrackerSpec", "build_tracker", "tracker_names"]


@dataclass(frozen=True)
class TrackerSpec:
    """``builder`` is ``"module:function"``; the function takes ``(**options)`` and returns a Tracker.

    ``needs_weights``: whether the tracker is useless without downloaded weights;
    ``weights_hint``: where the weights come from (a Hugging Face id or a file name).
    """

    name: str
    builder: str
    description: str
    needs_weights: bool = False
    weights_hint: str = ""
    extra: str = ""


TRACKERS: dict[str, TrackerSpec] = {}


def register(spec: TrackerSpec) -> TrackerSpec:
    TRACKERS[spec.name] = spec
    return spec


register(
    TrackerSpec(
        "builtin",
        "sam2matting.trackers.builtin:build",
        "weight-free: GrabCut/colour-model init, DIS optical flow propagation, colour refit",
    )
)
register(
    TrackerSpec(
        "oracle",
        "sam2matting.trackers.oracle:build",
        "reads ground-truth masks from a folder (evaluation); option masks_dir=PATH",
    )
)


def tracker_names() -> list[str]:
    return sorted(TRACKERS)


def build_tracker(name: str, **options: Any) -> Tracker:
    """Build the tracker registered as ``name``, or one loaded from a local path.

    A ``name`` that is an existing path is handed to the path loader of the foundation trackers
    (a transformers model folder or an official checkpoint file).
    """
    spec = TRACKERS.get(name)
    if spec is None:
        if Path(name).exists() and "path" in TRACKERS:
            spec = TRACKERS["path"]
            options = {"path": name, **options}
        else:
            raise Sam2MattingError(
                f"unknown tracker {name!r}; choose one of: {', '.join(tracker_names())} or a local model path"
            )
    module_name, func_name = spec.builder.split(":")
    module = importlib.import_module(module_name)
    builder = getattr(module, func_name)
    tracker: Tracker = builder(**options)
    return tracker
