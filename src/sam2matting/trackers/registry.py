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
    (a transformers model folder or an official checkpoint file). ``auto`` resolves as in
    :mod:`sam2matting.trackers.auto` (the chosen tracker gets ``options``).
    """
    if name == "auto":
        from .auto import build_auto

        return build_auto(lambda chosen: build_tracker(chosen, **options))
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


# --- foundation trackers through transformers (hf_sam2 / hf_sam3); weights from the HF hub or a path
for _name, _builder, _desc in (
    ("sam2-hiera-tiny", "build_sam2_hiera_tiny", "SAM2 Hiera-T (transformers Sam2VideoModel)"),
    ("sam2-hiera-small", "build_sam2_hiera_small", "SAM2 Hiera-S (transformers Sam2VideoModel)"),
    (
        "sam2-hiera-base-plus",
        "build_sam2_hiera_base_plus",
        "SAM2 Hiera-B+ (transformers Sam2VideoModel)",
    ),
    ("sam2-hiera-large", "build_sam2_hiera_large", "SAM2 Hiera-L (transformers Sam2VideoModel)"),
    (
        "sam2.1-hiera-tiny",
        "build_sam2_1_hiera_tiny",
        "SAM2.1 Hiera-T: points, boxes, masks; FPN features for the heads",
    ),
    (
        "sam2.1-hiera-small",
        "build_sam2_1_hiera_small",
        "SAM2.1 Hiera-S: points, boxes, masks; FPN features for the heads",
    ),
    (
        "sam2.1-hiera-base-plus",
        "build_sam2_1_hiera_base_plus",
        "SAM2.1 Hiera-B+: points, boxes, masks; FPN features for the heads",
    ),
    (
        "sam2.1-hiera-large",
        "build_sam2_1_hiera_large",
        "SAM2.1 Hiera-L: points, boxes, masks; FPN features for the heads",
    ),
    (
        "edgetam",
        "build_edgetam",
        "EdgeTAM: points, boxes, masks (transformers EdgeTamVideoModel; RepViT rebuilt without timm)",
    ),
):
    register(
        TrackerSpec(
            _name,
            f"sam2matting.trackers.hf_sam2:{_builder}",
            _desc,
            needs_weights=True,
            weights_hint={"edgetam": "yonigozlan/EdgeTAM-hf"}.get(_name, f"facebook/{_name}"),
            extra="trackers",
        )
    )
register(
    TrackerSpec(
        "sam3",
        "sam2matting.trackers.hf_sam3:build",
        "SAM3: points, boxes, masks and text (every instance of a phrase); option text=False loads the tracker only",
        needs_weights=True,
        weights_hint="facebook/sam3",
        extra="trackers",
    )
)
register(
    TrackerSpec(
        "path",
        "sam2matting.trackers.hf_load:build_path",
        "a local transformers model folder or official checkpoint (.pt) given as --tracker PATH",
        needs_weights=True,
        weights_hint="a local folder or .pt file",
        extra="trackers",
    )
)
