"""Where a tracker lost an object: spans of frames whose confidence fell below a threshold.

Every tracker reports a per-frame, per-object confidence (``ObjectTrack.score``: the foundation
trackers' object-presence probability, the built-in tracker's size-and-colour check). The
API feeds those scores to a :class:`LossMonitor`, which turns runs of low-confidence frames into
:class:`LostSpan` s and one-line warnings a user can act on::

    object 1 lost from frame 36 to 120; add a prompt there
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LOST_SCORE", "LossMonitor", "LostSpan", "min_lost_frames"]

#: an object whose confidence on a frame is below this is lost on that frame
LOST_SCORE = 0.5


def min_lost_frames() -> int:
    """Shortest run of low-confidence frames reported as a loss: a one- or two-frame dip
    (motion blur, a brief occlusion the tracker recovers from) is not worth a prompt."""
    return 3


@dataclass(frozen=True)
class LostSpan:
    """Frames ``start``..``end`` (inclusive) on which object ``object_id`` was lost."""

    object_id: int
    start: int
    end: int

    def message(self, last_frame: int | None = None, first_input_frame: int = 0) -> str:
        """``object 1 lost from frame 36; add a prompt there`` (``… to 80 …`` when it was
        found again before ``last_frame``, the clip's last frame). With a frame range that
        starts at input frame ``first_input_frame`` > 0 the input's numbers follow:
        ``… from frame 36 (input frame 136) …``."""
        until_end = self.start == self.end or (last_frame is not None and self.end >= last_frame)
        where = f"from frame {self.start}" + ("" if until_end else f" to {self.end}")
        if first_input_frame:
            start, end = self.start + first_input_frame, self.end + first_input_frame
            where += f" (input frame {start}" + (")" if until_end else f" to {end})")
        return f"object {self.object_id} lost {where}; add a prompt there"


@dataclass
class LossMonitor:
    """Collects per-frame confidences (any frame order) and reports the spans where objects
    were lost. ``threshold``: see :data:`LOST_SCORE`; ``min_frames``: see :func:`min_lost_frames`."""

    threshold: float = LOST_SCORE
    min_frames: int = field(default_factory=min_lost_frames)
    _scores: dict[int, dict[int, float]] = field(default_factory=dict)

    def update(self, index: int, scores: dict[int, float]) -> None:
        """Record the confidence of each object on frame ``index`` (objects not yet present
        are simply left out)."""
        for obj, score in scores.items():
            self._scores.setdefault(obj, {})[index] = float(score)

    def frame_scores(self, index: int) -> dict[int, float]:
        """Object id → confidence on frame ``index`` (objects recorded there only)."""
        return {obj: s[index] for obj, s in sorted(self._scores.items()) if index in s}

    def scores(self, object_id: int) -> dict[int, float]:
        """Frame index → confidence of one object, for the frames recorded."""
        return dict(sorted(self._scores.get(object_id, {}).items()))

    def spans(self) -> list[LostSpan]:
        """Runs of at least ``min_frames`` consecutive recorded frames below ``threshold``,
        per object, in object then frame order."""
        out: list[LostSpan] = []
        for obj in sorted(self._scores):
            run: list[int] = []
            for index, score in sorted(self._scores[obj].items()):
                if score < self.threshold and (not run or index == run[-1] + 1):
                    run.append(index)
                    continue
                if len(run) >= self.min_frames:
                    out.append(LostSpan(obj, run[0], run[-1]))
                run = [index] if score < self.threshold else []
            if len(run) >= self.min_frames:
                out.append(LostSpan(obj, run[0], run[-1]))
        return out

    def warnings(self, last_frame: int | None = None, first_input_frame: int = 0) -> list[str]:
        """One line per lost span (see :meth:`LostSpan.message`)."""
        return [span.message(last_frame, first_input_frame) for span in self.spans()]
