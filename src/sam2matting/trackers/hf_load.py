"""Foundation trackers from files: official checkpoints (SAM 2 / 2.1 / 3, SAM2Matting) and local
transformers folders, dispatched to the family's builder.

This module sits above :mod:`.hf_sam2` and :mod:`.hf_sam3` (SAM 3 reuses SAM 2's building
helpers), so that neither imports the other back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import WeightsError
from .hf_common import HFVideoTracker
from .hf_sam2 import (
    _check_options,
    _is_checkpoint_file,
    build,
    build_edgetam,
    build_sam2_from_state_dict,
)

__all__ = ["build_from_state_dict", "build_path"]


def build_from_state_dict(
    name: str,
    state: dict[str, Any],
    options: dict[str, Any],
    *,
    file_name: str = "checkpoint",
    expect_variant: tuple[str, str] | None = None,
    expect_family: str | None = None,
) -> HFVideoTracker:
    """A tracker from an official checkpoint's flat state dict (Meta's SAM 2 / 2.1 or SAM 3, or
    a SAM2Matting checkpoint whose head keys are set aside). ``expect_variant``: (size, version)
    a preset requires, e.g. ("tiny", "2.1"); ``expect_family``: "sam2" or "sam3". A checkpoint
    of another family or variant is a :class:`WeightsError` naming the file. Everything is
    checked before the model is built."""
    from . import convert
    from .hf_sam3 import build_from_state_dict as build_sam3

    tracker_sd, _ = convert.split_head_keys(state)
    family = convert.detect_family(tracker_sd)
    if expect_family is not None and family != expect_family:
        want = {"sam2": "SAM 2 / 2.1", "sam3": "SAM 3"}.get(expect_family, expect_family)
        raise WeightsError(f"{file_name}: holds a {family} tracker, but {name} expects {want}")
    if family == "sam3":
        return build_sam3(name, state, options, file_name=file_name)
    if family != "sam2":
        raise WeightsError(
            f"{file_name}: holds a {family} tracker; only SAM 2 / 2.1 and SAM 3 official "
            "checkpoints are converted"
        )
    return build_sam2_from_state_dict(
        name, state, options, file_name=file_name, expect_variant=expect_variant
    )


def build_path(path: str, **options: Any) -> HFVideoTracker:
    """Build a foundation tracker from a local transformers folder or an official checkpoint file.

    Folders dispatch on ``config.json``'s ``model_type`` (sam2_video, edgetam_video,
    sam3_tracker_video, sam3_video); files are converted (:mod:`~sam2matting.trackers.convert`, :mod:`~.convert_sam3`).
    """
    p = Path(path)
    if not p.exists():
        raise WeightsError(f"tracker path {p} does not exist")
    if p.is_file():
        _check_options("path", options)
        if not _is_checkpoint_file(p):
            raise WeightsError(
                f"{p.name}: expected a transformers model folder or an official .pt checkpoint"
            )
        from . import convert

        state = convert.load_checkpoint(p)
        return build_from_state_dict("path", state, options, file_name=p.name)
    config_file = p / "config.json"
    if not config_file.is_file():
        raise WeightsError(f"{p} has no config.json: not a transformers model folder")
    try:
        model_type = json.loads(config_file.read_text()).get("model_type", "")
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{config_file} is not readable JSON") from exc
    label = f"{model_type or 'model'} ({p.name})"
    if model_type in ("sam2_video", "sam2"):
        return build(label, **{**options, "weights": str(p)})
    if model_type in ("edgetam_video", "edgetam"):
        return build_edgetam(**{**options, "weights": str(p)})
    if model_type in ("sam3_tracker_video", "sam3_tracker", "sam3_video", "sam3"):
        from .hf_sam3 import build as build_sam3

        return build_sam3(**{**options, "weights": str(p)})
    raise WeightsError(
        f"{p}: model_type {model_type!r} is not a supported tracker (SAM2, EdgeTAM, SAM3)"
    )
