"""The tracker protocol: what every tracker (built-in, oracle, SAM2/SAM3/EdgeTAM) provides.

A :class:`Tracker` is a configured, weight-loaded model; :meth:`Tracker.open` starts a
:class:`TrackerSession` over one frame source. The session takes prompts on any frame for any
object id and propagates forward or backward, yielding one :class:`~sam2matting.types.TrackedFrame`
per frame. Sessions read frames from the source themselves (sequentially or by index), keep only
the state their model attends to (bounded memory), and must be closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..io.readers import FrameSource
    from ..types import Prompt, TrackedFrame

__all__ = ["Tracker", "TrackerSession", "propagation_end"]


@runtime_checkable
class TrackerSession(Protocol):
    def add_prompt(self, prompt: Prompt) -> None:
        """Add a prompt (points, box, mask, text) on ``prompt.frame`` for ``prompt.object_id``.

        A prompt on a frame that already has one for the same object *corrects* it: the new
        prompt is combined (points) or replaces it (box, mask). Raises PromptError when the
        tracker cannot use this prompt type (e.g. text on a tracker with no text detector).
        """
        ...

    def propagate(
        self, start_frame: int, *, reverse: bool = False, end_frame: int | None = None
    ) -> Iterator[TrackedFrame]:
        """Yield tracked frames from ``start_frame`` to ``end_frame`` (inclusive; default: the
        last frame going forward, frame 0 going backward). Prompted frames met on the way are
        conditioning frames: their prompts are applied there. Objects whose first prompt lies
        after the current frame (going forward) are absent from ``TrackedFrame.objects``."""
        ...

    @property
    def object_ids(self) -> list[int]:
        """Ids of every object prompted so far, ascending."""
        ...

    def close(self) -> None:
        """Release the session's memory. Idempotent."""
        ...


@runtime_checkable
class Tracker(Protocol):
    name: str
    #: whether TrackedFrame objects carry multi-scale ``features`` for the matting heads
    provides_features: bool
    #: prompt classes this tracker accepts (e.g. (Points, Box, MaskPrompt))
    prompt_types: tuple[type, ...]

    def open(self, source: FrameSource) -> TrackerSession:
        """Start a session over ``source`` (an open FrameSource; not closed by the session)."""
        ...


def propagation_end(start_frame: int, reverse: bool, end_frame: int | None, num_frames: int) -> int:
    """Validate a propagate() request and return its inclusive end frame.

    The default end is the last frame going forward and frame 0 going backward. Raises
    InputError for a start or end past the clip, or an end on the wrong side of the start.
    """
    from ..errors import InputError

    n = num_frames
    if not 0 <= start_frame < n:
        raise InputError(
            f"start frame {start_frame} is outside the clip: it has {n} frames (0..{n - 1})"
        )
    end = (0 if reverse else n - 1) if end_frame is None else end_frame
    if not 0 <= end < n:
        raise InputError(f"end frame {end} is outside the clip: it has {n} frames (0..{n - 1})")
    if (end < start_frame and not reverse) or (end > start_frame and reverse):
        direction = "backward" if reverse else "forward"
        raise InputError(
            f"cannot propagate {direction} from frame {start_frame} to frame {end}: the end frame "
            "lies the wrong way"
        )
    return end
