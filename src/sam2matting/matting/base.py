"""The matting-stage protocol: from a frame and the tracker's per-object output to alpha mattes.

A stage is the bridge (which pixels are matting-critical) plus a head (what their alpha is).
Stages are built once (weights loaded, device resolved) and called per frame with all objects
of that frame, so a learned stage can batch objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from ..types import ObjectTrack

__all__ = ["MattingStage"]


@runtime_checkable
class MattingStage(Protocol):
    name: str

    def matte(
        self, image: np.ndarray, tracks: dict[int, ObjectTrack], frame_index: int = 0
    ) -> dict[int, np.ndarray]:
        """Alpha per object: ``image`` is H×W×3 uint8 RGB; returns float32 H×W arrays in [0, 1].

        ``frame_index`` lets stateful stages (temporal stabilising) know where they are; they
        must also work when called on frames out of order (backward passes, corrections).
        """
        ...

    def reset(self) -> None:
        """Forget temporal state (start of a new pass or clip)."""
        ...
