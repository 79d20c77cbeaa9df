"""Per-frame confidence and lost-object warnings: the monitor, and through the API."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from sam2matting import Box, MattingSession, matte_video
from sam2matting.lost import LOST_SCORE, LossMonitor, LostSpan
from sam2matting.samples import make_sample_clip


def test_monitor_reports_runs_of_low_confidence_and_ignores_short_dips() -> None:
    monitor = LossMonitor()
    for i in range(20):
        monitor.update(i, {1: 0.9 if not (5 <= i <= 6 or i >= 12) else 0.1, 2: 0.8})
    assert monitor.spans() == [LostSpan(1, 12, 19)]  # the 2-frame dip at 5–6 is no loss
    assert monitor.warnings(last_frame=19) == ["object 1 lost from frame 12; add a prompt there"]
    assert monitor.frame_scores(5) == {1: 0.1, 2: 0.8}


def test_monitor_names_where_a_lost_object_came_back_and_accepts_any_order() -> None:
    monitor = LossMonitor()
    for i in reversed(range(30)):  # backward passes record frames in reverse
        monitor.update(i, {3: 0.0 if 10 <= i < 15 else 1.0})
    assert monitor.spans() == [LostSpan(3, 10, 14)]
    assert monitor.warnings(last_frame=29) == [
        "object 3 lost from frame 10 to 14; add a prompt there"
    ]
    assert LOST_SCORE == 0.5


def _vanishing_clip(n: int = 12, gone_from: int = 5):
    clip = make_sample_clip(width=128, height=96, num_frames=n)
    frames = [clip.frame(i)[0] for i in range(n)]
    for i in range(gone_from, n):
        # the same background, the object removed
        frames[i] = np.clip(clip._background(i) * 255 + 0.5, 0, 255).astype(np.uint8)
    return clip, frames


def test_api_gives_scores_and_warns_where_the_object_disappears(caplog) -> None:
    clip, frames = _vanishing_clip()
    seen = {}
    with caplog.at_level(logging.WARNING, logger="sam2matting"):
        out = matte_video(
            frames,
            [Box(*clip.box(0), frame=0, object_id=1)],
            None,
            tracker="builtin",
            head="guided",
            progress=False,
            on_frame=lambda r: seen.__setitem__(r.index, r.scores[1]),
        )
    assert all(seen[i] >= LOST_SCORE for i in range(5))
    assert all(seen[i] < LOST_SCORE for i in range(5, 12))
    assert out.warnings == ["object 1 lost from frame 5; add a prompt there"]
    assert "object 1 lost from frame 5; add a prompt there" in caplog.text


def test_no_warning_when_the_object_stays() -> None:
    clip = make_sample_clip(width=128, height=96, num_frames=10)
    frames = [clip.frame(i)[0] for i in range(10)]
    with MattingSession(frames, tracker="builtin", head="guided") as session:
        session.add_prompt(Box(*clip.box(0), frame=0, object_id=1))
        scores = [r.scores[1] for r in session.propagate()]
        assert session.lost_warnings == []
    assert min(scores) >= LOST_SCORE and max(scores) <= 1.0


@pytest.mark.parametrize("first", [0, 4])
def test_objects_before_their_first_prompt_have_no_score_when_not_tracked_back(first) -> None:
    clip = make_sample_clip(width=128, height=96, num_frames=8)
    frames = [clip.frame(i)[0] for i in range(8)]
    with MattingSession(frames, tracker="builtin", head="guided") as session:
        session.add_prompt(Box(*clip.box(first), frame=first, object_id=1))
        results = list(session.propagate(backward=False))
    assert all((1 in r.scores) == (r.index >= first) for r in results)


def test_a_frame_range_names_the_input_frames_too() -> None:
    # `--frames 2:` numbers the session from 0; the prompt there is given in input numbers
    clip, frames = _vanishing_clip(n=14, gone_from=7)
    out = matte_video(
        frames,
        [Box(*clip.box(2), frame=2, object_id=1)],
        None,
        tracker="builtin",
        head="guided",
        progress=False,
        frames=(2, None),
        pipeline=False,
    )
    assert out.warnings == ["object 1 lost from frame 5 (input frame 7); add a prompt there"]
    assert LostSpan(1, 3, 4).message(9, 10) == (
        "object 1 lost from frame 3 to 4 (input frame 13 to 14); add a prompt there"
    )


def test_preview_gives_the_frame_scores() -> None:
    clip, frames = _vanishing_clip()
    with MattingSession(frames, tracker="builtin", head="guided") as session:
        session.add_prompt(Box(*clip.box(0), frame=0, object_id=1))
        assert session.preview(0).scores[1] >= LOST_SCORE
        session.add_prompt(Box(*clip.box(3), frame=3, object_id=2))
        assert set(session.preview(1).scores) == {1}  # object 2 starts later
