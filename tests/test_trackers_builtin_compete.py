"""Competition between the built-in tracker's objects (:mod:`sam2matting.trackers.builtin_compete`):
its functions on synthetic masks, and one object that must not swallow another, lost one of
the same colours (:func:`sam2matting.eval.compete_clips.swallow_clip`)."""

from __future__ import annotations

import numpy as np

from sam2matting.eval.compete_clips import swallow_clip
from sam2matting.io.readers import ArraySource
from sam2matting.trackers.builtin import build
from sam2matting.trackers.builtin_compete import (
    Territory,
    camera_shift,
    contested,
    follow_territory,
    veto,
)
from sam2matting.types import MaskPrompt

H, W = 60, 80


def _square(x0: int, y0: int, side: int = 10) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y0 : y0 + side, x0 : x0 + side] = True
    return m


def test_territory_moves_with_the_camera_and_renews_when_trusted() -> None:
    first = _square(20, 20)
    t = follow_territory(None, first, 3, (2.0, -1.0))
    assert t is not None and t.seen_at == 3
    t = follow_territory(t, first, 3, (1.4, 0.0))  # not trusted again: moved further
    assert t is not None and (t.moved() == _square(23, 19)).all()
    fresh = follow_territory(t, _square(40, 30), 5, (0.0, 0.0))
    assert fresh is not None and (fresh.moved() == _square(40, 30)).all()
    assert follow_territory(t, None, 5, (0.0, 0.0)) is None
    # moved out of the frame: empty
    assert not Territory(first, 0, (500.0, 0.0)).moved().any()


def test_camera_shift_is_the_scene_motion_not_the_object() -> None:
    fwd = np.zeros((H, W, 2), np.float32)
    fwd[..., 0], fwd[..., 1] = 3.0, -2.0
    fwd[10:30, 10:30] = (-9.0, 9.0)  # an object moving against the pan
    assert camera_shift(fwd) == (3.0, -2.0)


def test_veto_keeps_the_own_territory_and_takes_the_rest_of_a_lost_neighbours() -> None:
    own = _square(10, 10, 20)
    lost = _square(28, 10, 20)
    mask = own | lost
    out = veto(mask, own, [lost], tolerance=1)
    assert out.any() and not (out & own).any()
    assert not out[:, :31].any()  # within the tolerance of its own territory: kept
    assert out[15, 40] and not out[15, 29]
    assert not veto(mask, None, [lost], 1).any()
    assert not veto(mask, own, [], 1).any()


def _run(frames: list[np.ndarray], masks: dict[int, list[np.ndarray]], objects, **options):  # type: ignore[no-untyped-def]
    tracker = build(**options)
    out = []
    with tracker.open(ArraySource(frames)) as session:
        for obj in objects:
            session.add_prompt(MaskPrompt(frame=0, object_id=obj, mask=masks[obj][0]))
        for result in session.propagate(0):
            out.append({o: (t.logits.copy(), t.score) for o, t in result.objects.items()})
    return out


def _covered(run, masks, frames_range):  # type: ignore[no-untyped-def]
    """Largest fraction of object 2's true pixels inside object 1's mask over the frames."""
    return max(
        float(((run[i][1][0] > 0) & masks[2][i]).sum()) / max(int(masks[2][i].sum()), 1)
        for i in frames_range
    )


def _mean_j(run, masks, obj: int, frames_range) -> float:  # type: ignore[no-untyped-def]
    return float(
        np.mean(
            [
                ((run[i][obj][0] > 0) & masks[obj][i]).sum()
                / max(((run[i][obj][0] > 0) | masks[obj][i]).sum(), 1)
                for i in frames_range
            ]
        )
    )


def test_a_lost_neighbour_of_the_same_colours_is_not_swallowed() -> None:
    """Object 2 is hidden on frames 12–16 next to object 1, comes out on 17 still touching it
    and walks away from 24 on. Without competition object 1 grows over all of it and object 2
    is never found again (it is searched for on object 1's colours, inside object 1); with it
    object 1 keeps to its own place and object 2 is re-found on the frame it comes out."""
    frames, masks = swallow_clip(n=32)
    after = range(17, 32)
    without = _run(frames, masks, (1, 2), object_competition=False)
    with_ = _run(frames, masks, (1, 2))
    assert _covered(without, masks, after) > 0.9
    assert _covered(with_, masks, after) < 0.2
    assert _mean_j(with_, masks, 1, after) > _mean_j(without, masks, 1, after) + 0.1
    assert _mean_j(without, masks, 2, after) < 0.1
    assert _mean_j(with_, masks, 2, after) > 0.85
    # trusted again once it has been consistent for the probation
    assert all(with_[i][2][1] >= 0.5 for i in range(23, 32))


def test_contested_counts_a_claim_held_beyond_the_holders_territory() -> None:
    own1 = _square(10, 10, 20)
    grown = own1 | _square(30, 10, 20)  # object 1 grew over where object 2 is re-found
    claim = _square(32, 12, 16)
    out = contested({1: grown, 2: claim}, {2: claim}, {1: own1, 2: None}, tolerance=1)
    assert out[1] == 1.0 and out[2] == 0.0
    # a claim inside object 1's own territory (a look-alike part of it) costs nothing
    inside = _square(12, 12, 10)
    assert contested({1: grown, 2: inside}, {2: inside}, {1: own1, 2: None}, 1)[1] == 0.0
    # nor one inside the claimant's own territory (the veto settles those)
    out = contested({1: grown, 2: claim}, {2: claim}, {1: own1, 2: claim}, 1)
    assert out[1] == 0.0


def test_one_object_runs_exactly_as_without_competition() -> None:
    frames, masks = swallow_clip(n=8)
    a = _run(frames, masks, (1,))
    b = _run(frames, masks, (1,), object_competition=False)
    for x, y in zip(a, b, strict=True):
        assert (x[1][0] == y[1][0]).all() and x[1][1] == y[1][1]
