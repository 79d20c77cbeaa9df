"""The ``guided`` head's builder: the classical guided-filter stage, as OpenCV on the CPU or as
tensor ops on a CUDA / MPS device.

It sits above :mod:`.classical` (the CPU stage) and :mod:`.device_ops` (its tensor twin, which
builds on :mod:`.classical`), so neither of those imports the other back. The CPU path does not
import torch.
"""

from __future__ import annotations

from ..options import check_head_options
from .classical import ClassicalConfig, ClassicalMatting

__all__ = ["build_guided"]


def build_guided(*, device: str | None = None, **options: object) -> ClassicalMatting:
    """The ``guided`` head; on a CUDA / MPS ``device`` its filter runs as tensor ops there
    (:mod:`sam2matting.matting.device_ops`), on the CPU with OpenCV (faster there)."""
    check_head_options("guided", ClassicalConfig, options, exclude=("solver",))
    stage = ClassicalMatting(ClassicalConfig(solver="guided", **options))  # type: ignore[arg-type]
    if device is not None:
        from ..device import resolve_device

        dev = resolve_device(device)
        if dev.type != "cpu":
            from .device_ops import TensorGuidedMatting

            return TensorGuidedMatting(stage.config, dev)
    return stage
