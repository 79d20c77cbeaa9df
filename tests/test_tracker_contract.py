"""The tracker contract: every tracker in tracker_factories.FACTORIES must pass these.

Shape, id, propagation-order and determinism checks apply to all trackers; accuracy checks
only to factories marked ``accurate`` (random-weight foundation trackers cannot be accurate),
prompt-content checks only to ``follows_prompts`` ones, "earlier frames unchanged" only to
``causal`` ones (see tracker_factories.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from sam2matting.errors import PromptError, Sam2MattingError
from sam2matting.eval.metrics import jaccard
from sam2matting.io.readers import ArraySource
from sam2matting.trackers.base import Tracker, TrackerSession
from sam2matting.types import Box, MaskPrompt, Points, Prompt, TextPrompt, TrackedFrame
from tracker_factories import (
    FACTORIES,
    ContractClip,
    TrackerFactory,
    make_two_disc_clip,
    prompt_of_kind,
)

NAMES = sorted(FACTORIES)
ALL_PROMPT_TYPES = (Points, Box, MaskPrompt, TextPrompt)


@pytest.fixture(scope="module")
def clip() -> ContractClip:
    return make_two_disc_clip()


def _open(name: str, clip: ContractClip) -> tuple[TrackerFactory, Tracker, TrackerSession]:
    factory = FACTORIES[name]
    tracker = factory.make(clip)
    return factory, tracker, tracker.open(ArraySource(clip.frames))


def _run(
    name: str,
    clip: ContractClip,
    prompts: list[Prompt],
    start: int = 0,
    reverse: bool = False,
    end: int | None = None,
) -> list[TrackedFrame]:
    _, _, session = _open(name, clip)
    try:
        for p in prompts:
            session.add_prompt(p)
        return list(session.propagate(start, reverse=reverse, end_frame=end))
    finally:
        session.close()


def _mask(frame: TrackedFrame, obj: int, clip: ContractClip) -> np.ndarray:
    return frame.objects[obj].mask(clip.height, clip.width)


def _editing_prompt_type(tracker: Tracker) -> type:
    """The prompt class used to set or correct a mask: mask, else box, else points."""
    for kind in (MaskPrompt, Box, Points):
        if kind in tracker.prompt_types:
            return kind
    pytest.skip(f"{tracker.name} takes none of mask / box / points prompts")


@pytest.mark.parametrize("name", NAMES)
def test_protocol_and_attributes(name: str, clip: ContractClip) -> None:
    _, tracker, session = _open(name, clip)
    assert isinstance(tracker, Tracker)
    assert isinstance(session, TrackerSession)
    assert isinstance(tracker.name, str) and tracker.name
    assert isinstance(tracker.provides_features, bool)
    assert tracker.prompt_types, "a tracker must accept at least one prompt type"
    assert set(tracker.prompt_types) <= set(ALL_PROMPT_TYPES)
    assert session.object_ids == []
    session.close()


@pytest.mark.parametrize("kind", [Points, Box, MaskPrompt, TextPrompt], ids=lambda k: k.__name__)
@pytest.mark.parametrize("name", NAMES)
def test_each_declared_prompt_type_tracks_the_object(
    name: str, kind: type, clip: ContractClip
) -> None:
    factory, tracker, session = _open(name, clip)
    session.close()
    if kind not in tracker.prompt_types:
        pytest.skip(f"{name} does not take {kind.__name__} prompts")
    t = 2
    frames = _run(name, clip, [prompt_of_kind(kind, clip, 2, t)], start=t, end=t + 1)
    assert [f.index for f in frames] == [t, t + 1]
    if kind is TextPrompt:
        # a concept may match several instances: at least one object, any positive ids
        assert frames[0].objects, "a text prompt found nothing on its frame"
        assert all(isinstance(i, int) and i >= 1 for f in frames for i in f.objects)
        best = max(jaccard(_mask(frames[0], i, clip), clip.masks[2][t]) for i in frames[0].objects)
    else:
        for f in frames:
            assert set(f.objects) == {2}
        best = jaccard(_mask(frames[0], 2, clip), clip.masks[2][t])
    if factory.accurate:
        assert best >= factory.min_iou, (
            f"{kind.__name__} prompt: IoU {best:.2f} on the prompt frame"
        )


@pytest.mark.parametrize("name", NAMES)
def test_output_types_shapes_and_images(name: str, clip: ContractClip) -> None:
    factory, tracker, _ = _open(name, clip)
    kind = _editing_prompt_type(tracker)
    frames = _run(name, clip, [prompt_of_kind(kind, clip, 1, 0)])
    assert [f.index for f in frames] == list(range(clip.num_frames))
    for f in frames:
        assert isinstance(f, TrackedFrame)
        assert np.array_equal(f.image, clip.frames[f.index]), (
            "TrackedFrame.image must be the source frame"
        )
        assert f.image.dtype == np.uint8 and f.image.shape == clip.frames[0].shape
        assert set(f.objects) == {1}
        track = f.objects[1]
        logits = np.asarray(track.logits)
        assert logits.dtype == np.float32 and logits.ndim == 2
        assert np.isfinite(logits).all()
        prob = track.probability(clip.height, clip.width)
        assert prob.shape == (clip.height, clip.width) and prob.dtype == np.float32
        assert float(prob.min()) >= 0.0 and float(prob.max()) <= 1.0
        mask = track.mask(clip.height, clip.width)
        assert mask.dtype == bool and mask.shape == (clip.height, clip.width)
        assert 0.0 <= track.score <= 1.0
        if tracker.provides_features:
            assert isinstance(track.features, dict) and track.features
        if factory.accurate:
            iou = jaccard(mask, clip.masks[1][f.index])
            assert iou >= factory.min_iou, f"frame {f.index}: IoU {iou:.2f}"


@pytest.mark.parametrize("name", NAMES)
def test_several_objects_keep_their_ids(name: str, clip: ContractClip) -> None:
    factory, tracker, session = _open(name, clip)
    kind = _editing_prompt_type(tracker)
    session.add_prompt(prompt_of_kind(kind, clip, 2, 0))
    session.add_prompt(prompt_of_kind(kind, clip, 1, 0))
    assert session.object_ids == [1, 2]
    frames = list(session.propagate(0))
    session.close()
    assert len(frames) == clip.num_frames
    for f in frames:
        assert set(f.objects) == {1, 2}
        if factory.accurate:
            for obj, other in ((1, 2), (2, 1)):
                mask = _mask(f, obj, clip)
                own = jaccard(mask, clip.masks[obj][f.index])
                assert own >= factory.min_iou, f"object {obj}, frame {f.index}: IoU {own:.2f}"
                assert own > jaccard(mask, clip.masks[other][f.index]), "object ids swapped"


@pytest.mark.parametrize("name", NAMES)
def test_object_added_on_a_later_frame(name: str, clip: ContractClip) -> None:
    factory, tracker, _ = _open(name, clip)
    kind = _editing_prompt_type(tracker)
    later = 3
    frames = _run(
        name, clip, [prompt_of_kind(kind, clip, 1, 0), prompt_of_kind(kind, clip, 2, later)]
    )
    for f in frames:
        expected = {1} if f.index < later else {1, 2}
        assert set(f.objects) == expected, f"frame {f.index}: objects {sorted(f.objects)}"
    if factory.accurate:
        for f in frames[later:]:
            iou = jaccard(_mask(f, 2, clip), clip.masks[2][f.index])
            assert iou >= factory.min_iou, f"late object, frame {f.index}: IoU {iou:.2f}"


@pytest.mark.parametrize("name", NAMES)
def test_correction_on_a_later_frame(name: str, clip: ContractClip) -> None:
    """Object 1 is re-prompted on frame k with the *other* disc: from k on it follows that."""
    factory, tracker, _ = _open(name, clip)
    if not factory.follows_prompts:
        pytest.skip(f"{name} ignores prompt content (its ground truth defines the objects)")
    kind = _editing_prompt_type(tracker)
    k = 3
    first = prompt_of_kind(kind, clip, 1, 0)
    other = prompt_of_kind(kind, clip, 2, k)
    # the same target region, re-labelled as object 1
    correction: Prompt
    if isinstance(other, MaskPrompt):
        correction = MaskPrompt(other.mask, frame=k, object_id=1)
    elif isinstance(other, Box):
        correction = Box(*other.xyxy, frame=k, object_id=1)
    else:
        assert isinstance(other, Points)
        correction = Points(other.coords, other.labels, frame=k, object_id=1)
    plain = _run(name, clip, [first])
    corrected = _run(name, clip, [first, correction])
    assert [f.index for f in corrected] == list(range(clip.num_frames))
    changed = [
        not np.array_equal(a.objects[1].logits, b.objects[1].logits)
        for a, b in zip(plain, corrected)
    ]
    assert changed[k], "a correction must change the result on its frame"
    if factory.causal:
        assert not any(changed[:k]), "a correction must not change earlier frames (forward run)"
    if factory.accurate:
        for f in corrected[k:]:
            iou = jaccard(_mask(f, 1, clip), clip.masks[2][f.index])
            assert iou >= factory.min_iou, f"corrected object, frame {f.index}: IoU {iou:.2f}"


@pytest.mark.parametrize("name", NAMES)
def test_backward_from_a_middle_frame(name: str, clip: ContractClip) -> None:
    factory, tracker, _ = _open(name, clip)
    kind = _editing_prompt_type(tracker)
    mid = clip.num_frames // 2
    prompt = prompt_of_kind(kind, clip, 1, mid)
    backward = _run(name, clip, [prompt], start=mid, reverse=True)
    assert [f.index for f in backward] == list(range(mid, -1, -1))
    assert all(set(f.objects) == {1} for f in backward)
    forward = _run(name, clip, [prompt], start=mid)
    assert [f.index for f in forward] == list(range(mid, clip.num_frames))
    assert np.array_equal(backward[0].objects[1].logits, forward[0].objects[1].logits), (
        "the prompt frame must give the same result in both directions"
    )
    for f in backward:
        assert np.array_equal(f.image, clip.frames[f.index])
    if factory.accurate:
        iou = jaccard(_mask(backward[-1], 1, clip), clip.masks[1][0])
        assert iou >= factory.min_iou, f"frame 0 reached backward: IoU {iou:.2f}"


@pytest.mark.parametrize("name", NAMES)
def test_end_frame_limits_the_run(name: str, clip: ContractClip) -> None:
    _, tracker, _ = _open(name, clip)
    kind = _editing_prompt_type(tracker)
    prompt = prompt_of_kind(kind, clip, 1, 1)
    assert [f.index for f in _run(name, clip, [prompt], start=1, end=3)] == [1, 2, 3]
    assert [f.index for f in _run(name, clip, [prompt], start=1, reverse=True, end=0)] == [1, 0]
    with pytest.raises(Sam2MattingError):
        _run(name, clip, [prompt], start=clip.num_frames)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic(name: str, clip: ContractClip) -> None:
    _, tracker, _ = _open(name, clip)
    kind = _editing_prompt_type(tracker)
    prompts = [prompt_of_kind(kind, clip, 1, 0), prompt_of_kind(kind, clip, 2, 2)]
    first = _run(name, clip, prompts)
    second = _run(name, clip, prompts)
    for a, b in zip(first, second):
        assert a.index == b.index and set(a.objects) == set(b.objects)
        for obj in a.objects:
            assert np.array_equal(a.objects[obj].logits, b.objects[obj].logits), (
                f"frame {a.index}, object {obj}: two identical runs differ"
            )


@pytest.mark.parametrize("name", NAMES)
def test_unsupported_and_invalid_prompts_raise_prompt_error(name: str, clip: ContractClip) -> None:
    _, tracker, session = _open(name, clip)
    for kind in ALL_PROMPT_TYPES:
        if kind not in tracker.prompt_types:
            with pytest.raises(PromptError):
                session.add_prompt(prompt_of_kind(kind, clip, 1, 0))
    if Points in tracker.prompt_types:
        with pytest.raises(PromptError):
            session.add_prompt(Points(((clip.width + 5.0, 1.0),), (1,)))
    kind = _editing_prompt_type(tracker)
    past_end = prompt_of_kind(kind, clip, 1, 0)
    with pytest.raises(PromptError):
        session.add_prompt(_on_frame(past_end, clip.num_frames))
    session.close()


def _on_frame(prompt: Prompt, frame: int) -> Prompt:
    if isinstance(prompt, MaskPrompt):
        return MaskPrompt(prompt.mask, frame=frame, object_id=prompt.object_id)
    if isinstance(prompt, Box):
        return Box(*prompt.xyxy, frame=frame, object_id=prompt.object_id)
    if isinstance(prompt, Points):
        return Points(prompt.coords, prompt.labels, frame=frame, object_id=prompt.object_id)
    assert isinstance(prompt, TextPrompt)
    return TextPrompt(prompt.text, frame=frame, object_id=prompt.object_id)


@pytest.mark.parametrize("name", NAMES)
def test_close_is_idempotent(name: str, clip: ContractClip) -> None:
    _, tracker, session = _open(name, clip)
    session.add_prompt(prompt_of_kind(_editing_prompt_type(tracker), clip, 1, 0))
    next(iter(session.propagate(0)))
    session.close()
    session.close()
