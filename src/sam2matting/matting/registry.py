"""Registry of matting-stage names → lazily imported builders (importing this module is free)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Sam2MattingError

if TYPE_CHECKING:
    from .base import MattingStage

__all__ = ["HEADS", "HeadSpec", "build_head", "head_names"]


@dataclass(frozen=True)
class HeadSpec:
    """``builder`` is ``"module:function"`` taking ``(**options)`` and returning a MattingStage."""

    name: str
    builder: str
    description: str
    needs_weights: bool = False


HEADS: dict[str, HeadSpec] = {}


def register(spec: HeadSpec) -> HeadSpec:
    HEADS[spec.name] = spec
    return spec


register(
    HeadSpec(
        "guided",
        "sam2matting.matting.guided_head:build_guided",
        "classical: morphological trimap + edge-aware guided-filter alpha in the unknown band "
        "(about 15x faster than the learned head on CPU)",
    )
)
register(
    HeadSpec(
        "closed-form",
        "sam2matting.matting.classical:build_closed_form",
        "classical: morphological trimap + closed-form matting (pymatting) in the unknown band (slow, sharp)",
    )
)
register(
    HeadSpec(
        "mask",
        "sam2matting.matting.classical:build_mask_only",
        "baseline: the tracker's mask used as alpha (no matting)",
    )
)
register(
    HeadSpec(
        "sam2matting",
        "sam2matting.matting.weights:build_learned_head",
        "learned (default): ROI bridge + progressive alpha heads + native-resolution refiner; "
        "shipped hybrid weights (own encoder + the guided filter's alpha as a prior), or "
        "tracker features with official SAM2Matting weights",
        needs_weights=False,  # the compact weights ship inside the package
    )
)

#: the head used when the caller names none: the learned heads since their weights v2 beat
#: ``guided`` on the dev benchmark (see CHANGELOG); ``guided`` was the default before
DEFAULT_HEAD = "sam2matting"


def head_names() -> list[str]:
    return sorted(HEADS)


def build_head(name: str | None = None, **options: Any) -> MattingStage:
    name = name or DEFAULT_HEAD
    spec = HEADS.get(name)
    if spec is None:
        raise Sam2MattingError(
            f"unknown matting head {name!r}; choose one of: {', '.join(head_names())}"
        )
    module_name, func_name = spec.builder.split(":")
    stage: MattingStage = getattr(importlib.import_module(module_name), func_name)(**options)
    return stage
