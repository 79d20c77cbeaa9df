"""The built-in tracker beyond the shared contract: prompts, semantics, quality and speed.

Quality on DAVIS and the speed figures are ``slow`` tests (run with ``-m slow -s`` to print them).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from sam2matting.errors import InputError, PromptError, Sam2MattingError
from sam2matting.eval.metrics import jaccard
from sam2matting.io.readers import ArraySource
from sam2matting.samples import make_sample_clip
from sam2matting.trackers.builtin import (
    BuiltinTracker,
    BuiltinTrackerConfig,
    _ColourModel,
    _make_flow,
    _signed_distance,
    background_ring,
    boundary_sigma,
    build,
    enclosed_background,
    finest_flow_level,
    working_size,
)
from sam2matting.trackers.registry import build_tracker
from sam2matting.types import Box, MaskPrompt, Points, TextPrompt
from tracker_factories import make_sample_contract_clip, make_two_disc_clip, prompt_of_kind


@pytest.fixture(scope="module")
def sample():
    """The synthetic sample clip at 256×144, 24 frames (masks = alpha > 0.5)."""
    return make_sample_contract_clip(256, 144, 24)


def _bounds(mask):
    ys, xs = np.nonzero(mask)
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _track(clip, prompts, start=0, reverse=False, **options):
    session = build(**options).open(ArraySource(clip.frames))
    for p in prompts:
        session.add_prompt(p)
    frames = list(session.propagate(start, reverse=reverse))
    session.close()
    return frames


def _ious(frames, clip, obj=1, truth_obj=None):
    truth_obj = truth_obj or obj
    return [
        jaccard(f.objects[obj].mask(clip.height, clip.width), clip.masks[truth_obj][f.index])
        for f in frames
    ]


def test_registry_builds_it_and_options_are_checked() -> None:
    tracker = build_tracker("builtin", max_side=256, flow_preset="ultrafast")
    assert isinstance(tracker, BuiltinTracker)
    assert tracker.config.max_side == 256
    assert tracker.name == "builtin" and tracker.provides_features is False
    assert tracker.prompt_types == (Points, Box, MaskPrompt)
    with pytest.raises(Sam2MattingError, match="unknown option"):
        build(max_sid=3)
    with pytest.raises(Sam2MattingError, match="flow_preset"):
        BuiltinTrackerConfig(flow_preset="warp9")
    with pytest.raises(Sam2MattingError):
        BuiltinTrackerConfig(max_side=8)


def test_working_size_and_flow_level() -> None:
    assert working_size(1920, 1080, 512) == (512, 288)
    assert working_size(1080, 1920, 512) == (288, 512)
    assert working_size(320, 180, 512) == (320, 180)  # never upscaled
    assert finest_flow_level(512, 288, 2) == 2
    assert finest_flow_level(128, 72, 2) == 0
    assert finest_flow_level(256, 144, 2) == 1


def test_text_prompt_is_refused_with_a_pointer_to_sam3() -> None:
    clip = make_two_disc_clip()
    session = build().open(ArraySource(clip.frames))
    with pytest.raises(
        PromptError, match=r"^the builtin tracker cannot use text prompts; use --tracker sam3$"
    ):
        session.add_prompt(TextPrompt("orange disc"))


def test_logits_are_at_the_working_resolution() -> None:
    clip = make_sample_contract_clip(320, 180, 16)
    session = build(max_side=160).open(ArraySource(clip.frames))
    assert session.working_size == (160, 90)
    session.add_prompt(MaskPrompt(clip.masks[1][0]))
    frames = list(session.propagate(0))
    assert frames[0].objects[1].logits.shape == (90, 160)
    assert frames[0].objects[1].logits.dtype == np.float32
    assert frames[0].objects[1].mask(180, 320).shape == (180, 320)
    assert min(_ious(frames, clip)) > 0.85


def test_mask_thinner_than_a_working_pixel_is_kept() -> None:
    frames = [np.full((400, 800, 3), 100, np.uint8)] * 2
    mask = np.zeros((400, 800), bool)
    mask[200, 400] = True  # one full-resolution pixel, 1/16 of a working pixel at max_side 200
    session = build(max_side=200).open(ArraySource(frames))
    session.add_prompt(MaskPrompt(mask))
    first = next(iter(session.propagate(0)))
    assert (first.objects[1].logits > 0).sum() == 1


def test_box_and_mask_prompts_follow_the_sample_clip(sample) -> None:
    for prompt in (MaskPrompt(sample.masks[1][0]), Box(*sample.box(1, 0, margin=6).xyxy)):
        ious = _ious(_track(sample, [prompt]), sample)
        assert np.mean(ious) > 0.85, f"{type(prompt).__name__}: mean IoU {np.mean(ious):.3f}"
        assert min(ious) > 0.75, f"{type(prompt).__name__}: min IoU {min(ious):.3f}"


def test_points_prompt_segments_the_object(sample) -> None:
    frames = _track(sample, [prompt_of_kind(Points, sample, 1, 0)])
    assert _ious(frames[:1], sample)[0] > 0.7


def test_backward_propagation_reaches_frame_zero(sample) -> None:
    mid = sample.num_frames // 2
    frames = _track(sample, [MaskPrompt(sample.masks[1][mid], frame=mid)], start=mid, reverse=True)
    assert [f.index for f in frames] == list(range(mid, -1, -1))
    assert min(_ious(frames, sample)) > 0.75


def test_objects_never_share_a_pixel() -> None:
    clip = make_two_disc_clip()
    grown = np.zeros_like(clip.masks[1][0])
    ys, xs = np.nonzero(clip.masks[1][0])
    grown[ys.min() - 4 : ys.max() + 5, xs.min() - 4 : xs.max() + 30] = (
        True  # overlaps nothing of 2 yet
    )
    both = grown | clip.masks[2][0]
    frames = _track(
        clip, [MaskPrompt(clip.masks[1][0], object_id=1), MaskPrompt(both, object_id=2)]
    )
    for f in frames:
        positive = np.stack([t.logits > 0 for t in f.objects.values()])
        assert positive.sum(axis=0).max() <= 1, f"frame {f.index}: a pixel has two objects"
    # object 2's anchor on frame 0 includes object 1's disc: the later prompt did not steal it
    # (ties on an anchor frame go to the largest logit, both are anchors here)
    assert (frames[0].objects[1].logits > 0).any()


def test_clicks_correct_masks_near_the_clicks() -> None:
    clip = make_two_disc_clip()
    too_big = clip.masks[1][0] | clip.masks[2][0]
    pos = clip.centre(1, 0)
    neg = clip.centre(2, 0)
    frames = _track(clip, [MaskPrompt(too_big), Points((pos, neg), (1, 0), frame=0)])
    assert jaccard(frames[0].objects[1].mask(72, 128), clip.masks[1][0]) > 0.9
    # a positive click on a second region adds it to a propagated mask (correction on frame 3)
    frames = _track(
        clip,
        [
            MaskPrompt(clip.masks[1][0]),
            Points((clip.centre(1, 3), clip.centre(2, 3)), (1, 1), frame=3),
        ],
    )
    union = [m1 | m2 for m1, m2 in zip(clip.masks[1], clip.masks[2])]
    assert jaccard(frames[2].objects[1].mask(72, 128), clip.masks[1][2]) > 0.9
    assert jaccard(frames[3].objects[1].mask(72, 128), union[3]) > 0.8


def test_empty_result_is_a_prompt_error() -> None:
    flat = [np.full((72, 128, 3), 90, np.uint8)] * 3
    session = build().open(ArraySource(flat))
    with pytest.raises(PromptError, match=r"^prompt selected nothing on frame 1$"):
        session.add_prompt(Box(40, 30, 41, 31, frame=1))


def test_continuing_or_restarting_gives_the_same_frames(sample) -> None:
    """A run split in two, or started late (silent catch-up), equals one full run."""
    prompts = [MaskPrompt(sample.masks[1][0]), Points((sample.centre(1, 6),), (1,), frame=6)]
    full = _track(sample, prompts)
    session = build().open(ArraySource(sample.frames))
    for p in prompts:
        session.add_prompt(p)
    head = list(session.propagate(0, end_frame=9))
    tail = list(session.propagate(10))
    late = list(session.propagate(15))  # not adjacent to the last run: catches up silently
    session.close()
    assert [f.index for f in head + tail] == list(range(sample.num_frames))
    for a, b in zip(full, head + tail):
        assert np.array_equal(a.objects[1].logits, b.objects[1].logits), f"frame {a.index}"
    for a, b in zip(full[15:], late):
        assert np.array_equal(a.objects[1].logits, b.objects[1].logits), f"frame {a.index}"


def test_a_run_left_mid_way_continues_or_restarts_as_one_full_run(sample) -> None:
    """The next frame's flow starts in a worker before a frame is handed out: a consumer that
    stops there and comes back (where it stopped, elsewhere, or after a new prompt earlier
    on) gets the frames of one run."""
    first = MaskPrompt(sample.masks[1][0])
    later = Points((sample.centre(1, 4),), (1,), frame=4)
    session = build().open(ArraySource(sample.frames))
    session.add_prompt(first)
    for f in session.propagate(0):
        if f.index == 9:
            break  # the flow 9 → 10 is under way
    rest = list(session.propagate(10))
    full = _track(sample, [first])
    for a, b in zip(full[10:], rest, strict=True):
        assert np.array_equal(a.objects[1].logits, b.objects[1].logits), f"frame {a.index}"
    for f in session.propagate(0):
        if f.index == 9:
            break
    again = list(session.propagate(5))  # from elsewhere: replayed, that flow is not used
    for a, b in zip(full[5:], again, strict=True):
        assert np.array_equal(a.objects[1].logits, b.objects[1].logits), f"frame {a.index}"
    for f in session.propagate(0):
        if f.index == 9:
            break
    session.add_prompt(later)  # earlier than the stop: what was under way is stale
    rest = list(session.propagate(10))
    session.close()
    full = _track(sample, [first, later])
    for a, b in zip(full[10:], rest, strict=True):
        assert np.array_equal(a.objects[1].logits, b.objects[1].logits), f"frame {a.index}"


def test_a_frame_that_cannot_be_read_fails_where_it_is_due(sample) -> None:
    """The next frame is read before this one is handed out (to start its flow): when it
    cannot be read, every frame before it is still handed out, and then the error comes."""

    class Broken(ArraySource):
        def iter_frames(self, start=0, stop=None):
            for index, image in super().iter_frames(start, stop):
                if index == 6:
                    raise InputError("frame 6 is corrupt")
                yield index, image

    session = build().open(Broken(sample.frames))
    session.add_prompt(MaskPrompt(sample.masks[1][0]))
    seen = []
    with pytest.raises(InputError, match="frame 6 is corrupt"):
        for f in session.propagate(0):
            seen.append(f.index)
    session.close()
    assert seen == [0, 1, 2, 3, 4, 5]


def test_a_prompt_added_while_the_next_flow_is_under_way_changes_nothing_else() -> None:
    """A box added between two frames computes flows on the caller's thread (its motion cue)
    while the look-ahead computes the next frame's in a worker: each has its own DIS objects,
    so both come out as in a run given every prompt from the start."""
    clip = make_two_disc_clip(num_frames=16)
    first = MaskPrompt(clip.masks[1][0])
    box = Box(*_bounds(clip.masks[2][8]), frame=8, object_id=2)
    session = build().open(ArraySource(clip.frames))
    threads: dict[str, set[str]] = {"caller": set(), "ahead": set()}

    class Recorded:  # a DIS object that notes the threads it runs on
        def __init__(self, dis, name):
            self.dis, self.name = dis, name

        def calc(self, *args):
            threads[self.name].add(threading.current_thread().name)
            return self.dis.calc(*args)

    # four distinct DIS objects
    assert len({id(d) for d in (*session._dis, *session._dis_ahead)}) == 4
    session._dis = (Recorded(session._dis[0], "caller"), session._dis[1])
    session._dis_ahead = (Recorded(session._dis_ahead[0], "ahead"), session._dis_ahead[1])
    session.add_prompt(first)
    for f in session.propagate(0):
        if f.index == 4:
            break  # the flow 4 → 5 is under way
    session.add_prompt(box)
    rest = list(session.propagate(5))
    session.close()
    # the caller's pair only ever on the caller's thread, the look-ahead's only in its worker
    assert threads["caller"] == {threading.current_thread().name}
    assert len(threads["ahead"]) == 1 and threads["ahead"] != threads["caller"]
    full = _track(clip, [first, box])
    for a, b in zip(full[5:], rest, strict=True):
        assert sorted(a.objects) == sorted(b.objects), f"frame {a.index}"
        for obj in a.objects:
            assert np.array_equal(a.objects[obj].logits, b.objects[obj].logits), f"frame {a.index}"


def test_object_prompted_only_later_is_absent_when_going_backward_past_nothing() -> None:
    clip = make_two_disc_clip()
    frames = _track(
        clip,
        [MaskPrompt(clip.masks[1][0]), MaskPrompt(clip.masks[2][5], frame=5, object_id=2)],
        start=5,
        reverse=True,
    )
    # backward from 5: object 2 is tracked from its prompt; object 1 appears at its prompt (0)
    assert [sorted(f.objects) for f in frames] == [[2]] * 5 + [[1, 2]]
    assert min(_ious(frames, clip, obj=2)) > 0.8


def _array_bytes(obj, seen=None) -> int:
    """Bytes of every numpy array reachable from ``obj`` through attributes and containers."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, ArraySource):
        return 0  # the caller's frames
    if isinstance(obj, dict):
        return sum(_array_bytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple, set)):
        return sum(_array_bytes(v, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        return _array_bytes(vars(obj), seen)
    return 0


def test_session_memory_does_not_grow_with_the_clip() -> None:
    held = []
    for n in (6, 30):
        clip = make_sample_contract_clip(128, 72, n)
        session = build().open(ArraySource(clip.frames))
        session.add_prompt(MaskPrompt(clip.masks[1][0]))
        for _ in session.propagate(0):
            pass
        held.append(_array_bytes(session))
        session.close()
        session.close()
        with pytest.raises(Sam2MattingError, match="closed"):
            session.add_prompt(MaskPrompt(clip.masks[1][0]))
    assert held[0] == held[1], f"session state grew from {held[0]} to {held[1]} bytes"


# -- figures (slow) ------------------------------------------------------------------------------


def _load_davis(root: Path, name: str):
    from PIL import Image

    images = sorted((root / "JPEGImages" / name).glob("*.jpg"))
    masks = sorted((root / "Annotations" / name).glob("*.png"))
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in images]
    truth = [np.asarray(Image.open(p).convert("L")) > 127 for p in masks]
    return frames, truth


DAVIS_SEQUENCES = ("blackswan", "car-shadow", "dog", "horsejump-high", "kite-surf", "libby")


@pytest.mark.slow
@pytest.mark.shared_data
def test_davis_quality(shared_data: Path) -> None:
    """Mean J over frames 1…N of the six DAVIS-2016 sequences, from the first-frame mask."""
    import cv2

    cv2.setNumThreads(1)
    scores = {}
    for name in DAVIS_SEQUENCES:
        frames, truth = _load_davis(shared_data / "davis", name)
        session = build().open(ArraySource(frames))
        session.add_prompt(MaskPrompt(truth[0]))
        h, w = truth[0].shape
        ious = [
            jaccard(f.objects[1].mask(h, w), truth[f.index])
            for f in session.propagate(0)
            if f.index > 0
        ]
        scores[name] = float(np.mean(ious))
        print(f"DAVIS {name:16s} J = {scores[name]:.3f}")
    mean = float(np.mean(list(scores.values())))
    print(f"DAVIS mean J = {mean:.3f}")
    assert mean > 0.6


@pytest.mark.slow
def test_sample_clip_quality_and_speed() -> None:
    """J on the 48-frame sample clip (box and mask prompts) and single-thread ms/frame.

    Speed: CPU time of the calling thread (``time.thread_time``; OpenCV limited to that one
    thread) for each frame's propagation step (flow, warp, re-fit, cleanup; not the prompt
    frame), per-frame minimum over 3 runs, median over frames. CPU time, not wall time, so the
    figure is the cost on one core even when other processes share the machine.
    """
    import cv2

    cv2.setNumThreads(1)
    for width, height, max_side in ((512, 288, 512), (1280, 720, 720), (1280, 720, 512)):
        clip = make_sample_clip(width, height, 48)
        frames, masks = [], []
        for image, alpha in clip:
            frames.append(image)
            masks.append(alpha > 0.5)
        source = ArraySource(frames)
        for label, prompt in (("mask", MaskPrompt(masks[0])), ("box", Box(*clip.box(0)))):
            runs = []
            for _ in range(3 if label == "mask" else 1):
                session = build(max_side=max_side).open(source)
                session.add_prompt(prompt)
                times, ious = [], []
                tick = time.thread_time()
                for f in session.propagate(0):
                    times.append(time.thread_time() - tick)
                    ious.append(jaccard(f.objects[1].mask(height, width), masks[f.index]))
                    tick = time.thread_time()
                runs.append(times[1:])
            step = float(np.median(np.min(np.array(runs), axis=0))) * 1000
            print(
                f"sample {width}×{height} (work {max_side}) {label}: mean J {np.mean(ious[1:]):.3f}, "
                f"min J {min(ious):.3f}, step {step:.1f} ms/frame"
            )
            assert np.mean(ious[1:]) > 0.9


# -- first mask from a box, confidence, re-detection (issue 14) -------------------------------


def _textured_background(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Grey-green noise, smoothed: texture for the flow, colours unlike the test objects."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.integers(60, 140, (h // 4, w // 4, 3)).astype(np.uint8)
    noise[..., 0] //= 2  # little red
    return cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)


def test_box_finds_an_object_that_does_not_fill_its_box() -> None:
    """A 'C'-shaped object: its box holds a large background notch whose colour is common
    outside the box too. The first mask must follow the object, not the box."""
    h, w = 144, 256
    image = _textured_background(h, w)
    truth = np.zeros((h, w), bool)
    truth[30:110, 80:170] = True
    truth[50:90, 110:170] = False  # the notch, open to the right
    image[truth] = (200, 40, 40)
    session = build().open(ArraySource([image]))
    session.add_prompt(Box(80, 30, 170, 110))
    mask = next(session.propagate(0)).objects[1].mask(h, w)
    assert jaccard(mask, truth) > 0.85
    box_area = 90 * 80
    assert mask.sum() < 0.85 * box_area  # the notch is not taken in


def test_box_fit_score_prefers_the_object_to_the_box() -> None:
    from sam2matting.trackers.builtin_init import (
        box_fit_score,
    )
    from sam2matting.trackers.builtin_init import (
        gradient_magnitude as _gradient_magnitude,
    )

    h, w = 100, 100
    gray = np.full((h, w), 100, np.uint8)
    obj = np.zeros((h, w), bool)
    obj[20:80, 20:80] = True
    obj[40:60, 50:80] = False
    gray[obj] = 220
    grad = _gradient_magnitude(gray)
    box = (20, 20, 80, 80)
    filled = np.zeros((h, w), bool)
    filled[20:80, 20:80] = True
    shrunk = np.zeros((h, w), bool)
    shrunk[35:65, 35:65] = True
    assert box_fit_score(obj, box, grad) > box_fit_score(filled, box, grad)
    assert box_fit_score(obj, box, grad) > box_fit_score(shrunk, box, grad)
    assert box_fit_score(np.zeros((h, w), bool), box, grad) == -np.inf


def _teleport_clip(n: int = 12, jump_at: int = 6):
    """A red square drifting on a textured background, jumping across the frame at ``jump_at``
    (farther than any flow or local search reaches)."""
    h, w = 144, 256
    frames, masks = [], []
    for i in range(n):
        image = _textured_background(h, w, seed=1)
        x = 20 + i if i < jump_at else 190 + (i - jump_at)
        mask = np.zeros((h, w), bool)
        mask[50:90, x : x + 40] = True
        image[mask] = (210, 30, 30)
        frames.append(image)
        masks.append(mask)
    return frames, masks


def test_lost_object_is_found_again_after_a_jump() -> None:
    frames, masks = _teleport_clip(n=14)
    session = build().open(ArraySource(frames))
    session.add_prompt(MaskPrompt(masks[0]))
    out = list(session.propagate(0))
    scores = [f.objects[1].score for f in out]
    ious = [jaccard(f.objects[1].mask(144, 256), masks[f.index]) for f in out]
    assert min(ious[:6]) > 0.8 and min(scores[:6]) >= 0.5
    assert min(ious[6:]) > 0.7  # re-detected on the frame of the jump
    # the jump is flagged (a re-detection may find a look-alike), then trusted again
    assert max(scores[6:9]) < 0.5 and min(scores[12:]) >= 0.5
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_confidence_drops_when_the_object_leaves() -> None:
    frames, masks = _teleport_clip(n=10, jump_at=4)
    # from frame 4 on the object is gone (background only)
    for i in range(4, 10):
        frames[i] = _textured_background(144, 256, seed=1)
    session = build().open(ArraySource(frames))
    session.add_prompt(MaskPrompt(masks[0]))
    scores = [f.objects[1].score for f in session.propagate(0)]
    assert min(scores[:4]) >= 0.5
    assert max(scores[5:]) < 0.5


def _patched_animal(h: int = 144, w: int = 256):
    """A large orange-brown ellipse with a lighter patch at its centre (a cat's pale chest) on
    the textured background: the click lands on the patch, the object is the whole ellipse.
    The patch is wider than the single seed disc of the old click path (8 % of 256 px)."""
    import cv2

    image = _textured_background(h, w, seed=2)
    body = np.zeros((h, w), np.uint8)
    cv2.ellipse(body, (128, 72), (95, 58), 0, 0, 360, 1, thickness=-1)
    truth = body.astype(bool)
    image[truth] = (200, 120, 50)
    patch = np.zeros((h, w), np.uint8)
    cv2.circle(patch, (128, 72), 25, 1, thickness=-1)
    image[patch.astype(bool)] = (235, 175, 110)
    return image, truth


def test_a_click_grows_to_the_whole_object_under_it(monkeypatch) -> None:
    """Several seed sizes are tried and scored: a click on a lighter patch selects the object
    the patch belongs to. One seed of the old single size keeps only the patch, so the
    hypotheses are what finds the object. (A patch contrasting far more with the object than
    the object with its background still wins: a limit of the score.)"""
    from sam2matting.trackers import builtin_init

    image, truth = _patched_animal()

    def first_mask() -> np.ndarray:
        session = build().open(ArraySource([image]))
        session.add_prompt(Points(((128.0, 72.0),), (1,)))
        return next(session.propagate(0)).objects[1].mask(*truth.shape)

    assert jaccard(first_mask(), truth) > 0.85
    monkeypatch.setattr(builtin_init, "click_seed_fractions", lambda: (0.08,))
    assert jaccard(first_mask(), truth) < 0.3


def test_click_fit_score_prefers_the_whole_object() -> None:
    from sam2matting.trackers.builtin_init import (
        click_fit_score,
    )
    from sam2matting.trackers.builtin_init import (
        gradient_magnitude as _gradient_magnitude,
    )

    image, truth = _patched_animal()
    import cv2

    grad = _gradient_magnitude(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    click = [(128, 72)]
    patch = np.zeros_like(truth)
    cv2.circle(patch.view(np.uint8), (128, 72), 25, 1, thickness=-1)
    background = ~truth | patch
    assert click_fit_score(truth, grad, click) > click_fit_score(patch, grad, click)
    assert click_fit_score(truth, grad, click) > click_fit_score(background, grad, click)
    assert click_fit_score(np.zeros_like(truth), grad, click) == -np.inf


def _occlusion_clip(n: int = 20):
    """A red square moving right behind a grey bar (in front of it) wide enough to hide it
    completely for three frames; masks are the visible parts."""
    h, w = 144, 256
    frames, masks = [], []
    for i in range(n):
        image = _textured_background(h, w, seed=3)
        x = 20 + 9 * i
        mask = np.zeros((h, w), bool)
        mask[50:90, x : x + 36] = True
        image[mask] = (210, 40, 40)
        image[:, 110:170] = (150, 150, 150)
        mask[:, 110:170] = False
        frames.append(image)
        masks.append(mask)
    return frames, masks


def test_an_occluded_object_is_found_again_when_it_reappears(monkeypatch) -> None:
    """Hidden behind the bar the object is reported lost; when it comes out on the other side
    re-detection finds it. Without re-detection it would stay lost."""
    import dataclasses

    from sam2matting.trackers.builtin import BuiltinSession

    frames, masks = _occlusion_clip()
    hidden = [i for i, m in enumerate(masks) if not m.any()]
    assert hidden == [10, 11, 12]

    def run():
        session = build().open(ArraySource(frames))
        session.add_prompt(MaskPrompt(masks[0]))
        out = list(session.propagate(0))
        ious = [jaccard(f.objects[1].mask(144, 256), masks[f.index]) for f in out]
        return ious, [f.objects[1].score for f in out]

    ious, scores = run()
    assert min(ious[:7]) > 0.9
    assert max(scores[i] for i in hidden) < 0.5
    assert min(ious[16:]) > 0.85  # found again once it is out

    def no_redetection(self, state, frame, colour=None):
        empty = np.full_like(state.logits, -12.0)
        return dataclasses.replace(state, prob=np.zeros_like(state.prob), logits=empty)

    monkeypatch.setattr(BuiltinSession, "_redetect", no_redetection)
    ious_without, _ = run()
    assert max(ious_without[16:]) < 0.5


def _look_alike_clip(n: int = 20, gone_at: int = 6):
    """A red square (40×40) drifting right that vanishes at ``gone_at``; from then on a red
    bar of the very same colour but 2.5 times its size and 2.5 times as long as it is wide
    (40×100) stands elsewhere: whole-frame colour re-detection lands on it."""
    h, w = 144, 256
    frames, masks, other = [], [], []
    for i in range(n):
        image = _textured_background(h, w, seed=4)
        mask = np.zeros((h, w), bool)
        bar = np.zeros((h, w), bool)
        if i < gone_at:
            mask[50:90, 20 + 6 * i : 60 + 6 * i] = True
        else:
            bar[40:140, 170:210] = True
        image[mask | bar] = (210, 30, 30)
        frames.append(image)
        masks.append(mask)
        other.append(bar)
    return frames, masks, other


def test_a_look_alike_of_another_size_and_shape_is_reported_lost() -> None:
    """Re-detection on colour alone finds the look-alike (the mask ends up on it), but its size
    and shape are not the object's: every frame from the loss stays below 0.5 confidence and
    the lost warning covers them all (before this check, 1.0 once a 5-frame probation ended)."""
    from sam2matting.lost import LossMonitor, LostSpan

    frames, masks, other = _look_alike_clip()
    session = build(hide_unconfirmed=False).open(ArraySource(frames))
    session.add_prompt(MaskPrompt(masks[0]))
    out = list(session.propagate(0))
    scores = [f.objects[1].score for f in out]
    assert min(scores[:6]) >= 0.5
    # the tracker did jump to the look-alike: the case the confidence has to catch (how much
    # of the bar the mask covers depends on float roundings that differ between CPUs: J 0.94
    # on one machine, 0.56 on another; that it sits on the bar does not)
    last = out[-1].objects[1].mask(144, 256)
    assert last.sum() > 1000 and (last & other[-1]).sum() >= 0.95 * last.sum()
    assert max(scores[6:]) < 0.5
    # by default (hide_unconfirmed) the look-alike is not reported on the frames where it is
    # inconsistent with the object (an empty mask instead); the scores are the same. Which
    # frames those are depends on where on the bar re-detection lands (float roundings that
    # differ between CPUs: the whole bar, never consistent, on one machine; an object-sized
    # part of it, consistent for a few frames while it grows along the bar, on another)
    hidden = build().open(ArraySource(frames))
    hidden.add_prompt(MaskPrompt(masks[0]))
    out_hidden = list(hidden.propagate(0))
    assert [f.objects[1].score for f in out_hidden] == scores
    shown = [f.objects[1].mask(144, 256) for f in out_hidden]
    assert any(not m.any() for m in shown[6:])
    for m, f in zip(shown, out, strict=True):  # hiding blanks a frame, it never alters one
        assert not m.any() or np.array_equal(m, f.objects[1].mask(144, 256))
    monitor = LossMonitor()
    for f in out:
        monitor.update(f.index, {1: f.objects[1].score})
    assert monitor.spans() == [LostSpan(1, 6, 19)]


def test_the_object_itself_reappearing_is_trusted_again() -> None:
    """The occlusion clip: after the object comes out from behind the bar and has been
    consistent for the probation frames, it is reported with high confidence again."""
    frames, masks = _occlusion_clip()
    session = build().open(ArraySource(frames))
    session.add_prompt(MaskPrompt(masks[0]))
    scores = [f.objects[1].score for f in session.propagate(0)]
    assert max(scores[10:13]) < 0.5  # hidden
    assert scores[-1] >= 0.9


def test_redetect_consistency_needs_more_than_colour() -> None:
    from sam2matting.trackers.builtin import redetect_consistency

    same = redetect_consistency(1000, 1000, 1000, (1.0, 1.0), 0.95, 10.0, 1)
    assert same == 1.0
    # each cue alone can sink a look-alike whose colours match perfectly
    assert redetect_consistency(3500, 1000, 1000, (1.0, 1.0), 0.95, 10.0, 1) < 0.5  # size
    assert redetect_consistency(1000, 1000, 1000, (3.5, 1.0), 0.95, 10.0, 1) < 0.5  # shape
    assert redetect_consistency(1000, 1000, 1000, (1.0, 1.0), 0.55, 10.0, 1) < 0.5  # colours
    # a far jump only discounts, but tips a doubtful size over
    far = redetect_consistency(1000, 1000, 1000, (1.0, 1.0), 0.95, 200.0, 1)
    assert 0.5 <= far < 1.0
    assert redetect_consistency(2000, 1000, 1000, (1.0, 1.0), 0.95, 200.0, 1) < 0.5
    # given time, the object may have gone anywhere
    assert redetect_consistency(1000, 1000, 1000, (1.0, 1.0), 0.95, 200.0, 20) == 1.0
    assert redetect_consistency(0, 1000, 1000, (1.0, 1.0), 0.95, 0.0, 1) == 0.0
    # lost while an occluder hid most of it (a 400 px sliver, elongation 3.5), it comes back
    # whole: its first-frame size and shape speak for it ...
    whole = (1000, 400, 1000, (1.1, 3.5, 1.1), 0.95, 10.0, 5)
    assert redetect_consistency(*whole) == 1.0
    # ... which the last view alone would not
    assert redetect_consistency(1000, 400, 0, (1.1, 3.5), 0.95, 10.0, 5) < 0.5
    # and a look-alike 3.5× the first-frame size is still doubtful
    assert redetect_consistency(3500, 400, 1000, (1.1, 3.5, 1.1), 0.95, 10.0, 5) < 0.5


def test_touching_objects_of_one_colour_do_not_swallow_each_other() -> None:
    """Two red squares close in on each other and touch. Tracked alone, the first one's mask
    spreads over the second (its colours are the object's); tracked together, each pixel has
    one owner and the second keeps its own."""
    h, w = 144, 256
    frames, first, second = [], [], []
    for i in range(16):
        image = _textured_background(h, w, seed=4)
        gap = max(0, 40 - 5 * i)
        x = 60 + 2 * i
        m1 = np.zeros((h, w), bool)
        m1[50:90, x : x + 40] = True
        m2 = np.zeros((h, w), bool)
        m2[50:90, x + 40 + gap : x + 80 + gap] = True
        image[m1 | m2] = (200, 50, 40)
        frames.append(image)
        first.append(m1)
        second.append(m2)

    def taken(with_second: bool) -> float:
        session = build().open(ArraySource(frames))
        session.add_prompt(MaskPrompt(first[0], object_id=1))
        if with_second:
            session.add_prompt(MaskPrompt(second[0], object_id=2))
        last = list(session.propagate(0))[-1]
        if with_second:
            assert jaccard(last.objects[2].mask(h, w), second[-1]) > 0.7
        return float((last.objects[1].mask(h, w) & second[-1]).sum() / second[-1].sum())

    assert taken(with_second=False) > 0.3
    assert taken(with_second=True) < 0.05


def test_a_part_emerging_from_behind_an_occluder_is_taken_in() -> None:
    """A red bar slides out from behind a grey occluder: each frame a strip of it appears at
    the occluder's edge where the warped mask (moved with the bar) leaves a gap. Re-growing
    into clearly object-coloured pixels next to the mask keeps it whole; without it the gap
    accumulates."""
    h, w = 144, 256
    frames, masks = [], []
    for i in range(14):
        image = _textured_background(h, w, seed=5)
        mask = np.zeros((h, w), bool)
        mask[50:90, 10 + 6 * i : 130 + 6 * i] = True
        image[mask] = (210, 40, 40)
        image[:, :100] = (150, 150, 150)
        mask[:, :100] = False
        frames.append(image)
        masks.append(mask)

    def ious(regrow: bool) -> list[float]:
        # the graph cut takes the strip in too (tests/test_trackers_builtin_refine.py): off,
        # to see what re-growing alone does
        session = build(regrow=regrow, graph_cut_band=0).open(ArraySource(frames))
        session.add_prompt(MaskPrompt(masks[0]))
        return [jaccard(f.objects[1].mask(h, w), masks[f.index]) for f in session.propagate(0)]

    assert min(ious(regrow=True)) > 0.95
    assert min(ious(regrow=False)[4:]) < 0.85


# -- honest confidence when a mask balloons (issue 14: one pixel, one owner) -------------------


def _growth_clip(n: int, radius_at) -> tuple[list[np.ndarray], list[np.ndarray]]:  # type: ignore[no-untyped-def]
    """A red disc drifting right on the textured background, radius ``radius_at(i)``."""
    h, w = 144, 256
    yy, xx = np.mgrid[0:h, 0:w]
    frames, masks = [], []
    for i in range(n):
        image = _textured_background(h, w, seed=6)
        mask = (xx - (90 + i)) ** 2 + (yy - 72) ** 2 <= radius_at(i) ** 2
        image[mask] = (210, 40, 40)
        frames.append(image)
        masks.append(mask)
    return frames, masks


def test_an_object_approaching_the_camera_keeps_its_confidence() -> None:
    """Area ×2 over 20 frames (radius ×√2), then steady: plausible growth, never flagged."""
    frames, masks = _growth_clip(26, lambda i: 22 * 2 ** (min(i, 20) / 40))
    session = build().open(ArraySource(frames))
    session.add_prompt(MaskPrompt(masks[0]))
    out = list(session.propagate(0))
    ious = [jaccard(f.objects[1].mask(144, 256), masks[f.index]) for f in out]
    scores = [f.objects[1].score for f in out]
    assert min(ious) > 0.85  # the mask does follow the growth
    assert masks[-1].sum() > 1.9 * masks[0].sum()
    assert min(scores) >= 0.8


def _balloon_scores(frames: list[np.ndarray], prompts: list[MaskPrompt], obj: int, **options):  # type: ignore[no-untyped-def]
    from sam2matting.lost import LossMonitor

    session = build(**options).open(ArraySource(frames))
    for p in prompts:
        session.add_prompt(p)
    out = list(session.propagate(0))
    monitor = LossMonitor()
    for f in out:
        monitor.update(f.index, {k: t.score for k, t in f.objects.items()})
    spans = [s for s in monitor.spans() if s.object_id == obj]
    return out, [f.objects[obj].score for f in out], spans


def test_a_mask_ballooning_into_a_region_of_its_colour_is_reported_lost() -> None:
    """From frame 6 a large red region touches the red square: the mask grows into it (its
    colours are the object's) far faster than an object approaches the camera, and the
    frames where it holds more than twice the object are reported lost."""
    h, w = 144, 256
    frames, masks = [], []
    for i in range(24):
        image = _textured_background(h, w, seed=7)
        mask = np.zeros((h, w), bool)
        mask[52:92, 40 + i : 80 + i] = True
        image[mask] = (210, 40, 40)
        if i >= 6:
            image[20:130, 80 + i : 220] = (210, 40, 40)
        frames.append(image)
        masks.append(mask)
    out, scores, spans = _balloon_scores(frames, [MaskPrompt(masks[0])], 1)
    assert min(scores[:6]) >= 0.8
    areas = [int((f.objects[1].mask(h, w)).sum()) for f in out]
    ballooned = [i for i, a in enumerate(areas) if a > 2 * masks[i].sum()]
    assert len(ballooned) >= 6  # the mask did balloon: the case the confidence has to catch
    assert max(scores[i] for i in ballooned) < 0.5
    covered = {i for s in spans for i in range(s.start, s.end + 1)}
    assert set(ballooned) <= covered


def test_a_mask_that_swallows_a_lost_neighbour_is_reported_lost() -> None:
    """Object 1 (blue) turns red, the colour of its neighbour object 2, on frame 6: object 1 is
    lost and object 2's mask takes over its place. Object 2 was at 1.00 before this check;
    now the frames where it covers much of object 1's last trusted mask are in its lost
    warning."""
    h, w = 144, 256
    frames, first, second = [], [], []
    for i in range(20):
        image = _textured_background(h, w, seed=8)
        m1 = np.zeros((h, w), bool)
        m1[50:94, 60:104] = True
        m2 = np.zeros((h, w), bool)
        m2[50:94, 106:150] = True
        image[m1] = (40, 60, 210) if i < 6 else (210, 40, 40)
        image[m2] = (210, 40, 40)
        frames.append(image)
        first.append(m1)
        second.append(m2)
    prompts = [MaskPrompt(first[0], object_id=1), MaskPrompt(second[0], object_id=2)]
    # without the graph cut: the cut learns this frame's colours and keeps object 1's mask on
    # the recoloured square, so object 2 cannot swallow it and the cue has nothing to see
    # (without object competition, which keeps object 2 off object 1's place: see below)
    out, scores, spans = _balloon_scores(
        frames, prompts, 2, graph_cut_band=0, object_competition=False
    )
    assert min(scores[:6]) >= 0.8
    taken = [float((f.objects[2].mask(h, w) & first[0]).sum() / first[0].sum()) for f in out]
    swallowed = [i for i, t in enumerate(taken) if t > 0.5]
    assert len(swallowed) >= 5  # it did swallow object 1
    assert max(scores[i] for i in swallowed) < 0.5
    covered = {i for s in spans for i in range(s.start, s.end + 1)}
    assert set(swallowed) <= covered
    # with it (the default), object 2 does not swallow lost object 1 and stays confident
    out, scores, _ = _balloon_scores(frames, prompts, 2, graph_cut_band=0)
    taken = [float((f.objects[2].mask(h, w) & first[0]).sum() / first[0].sum()) for f in out]
    assert max(taken) < 0.2
    assert min(scores) >= 0.8


def _red_texture(h: int, w: int, seed: int) -> np.ndarray:
    """Red noise, smoothed: an object's texture (the flow follows it)."""
    import cv2

    rng = np.random.default_rng(seed)
    t = rng.integers(0, 255, (h // 4 + 1, w // 4 + 1, 3)).astype(np.uint8)
    t[..., 0] = np.maximum(t[..., 0], 200)
    t[..., 1] //= 3
    t[..., 2] //= 3
    return cv2.resize(t, (4 * (w // 4 + 1), 4 * (h // 4 + 1)), interpolation=cv2.INTER_CUBIC)[
        :h, :w
    ]


def _textured_disc_clip(n: int, radius_at, lost_share: float = 0.0):  # type: ignore[no-untyped-def]
    """A textured red disc drifting right over the textured background, radius
    ``radius_at(i)``; with ``lost_share`` > 0, from frame 8 the disc's left ``lost_share`` of
    its diameter shows the background's texture (the tracker loses that part; the truth is
    still the whole disc). Returns (frames, masks)."""
    import cv2

    h, w = 144, 256
    texture = _red_texture(96, 96, seed=3)
    behind = _textured_background(h, w, seed=11)
    yy, xx = np.mgrid[0:h, 0:w]
    frames, masks = [], []
    for i in range(n):
        r = radius_at(i)
        cx, cy = 70 + 1.5 * i, 72
        image = _textured_background(h, w, seed=8)
        d = int(np.ceil(2 * r))
        t = cv2.resize(texture, (d, d), interpolation=cv2.INTER_LINEAR)
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        ys, xs = np.nonzero(mask)
        image[ys, xs] = t[
            np.clip((ys - (cy - r)).astype(int), 0, d - 1),
            np.clip((xs - (cx - r)).astype(int), 0, d - 1),
        ]
        if lost_share > 0 and i >= 8:
            gone = mask & (xx < cx - r + 2 * r * lost_share)
            image[gone] = behind[gone]
        frames.append(image)
        masks.append(mask)
    return frames, masks


def _assert_found_again(frames: list[np.ndarray], masks: list[np.ndarray], case: str) -> None:
    """Track a disc clip from its first mask: the mask follows the disc on every frame, some
    frames are reported lost (``case``: the size change outpaced the reference), and the
    object is found again within the re-basing delay and confident to the last frame."""
    from sam2matting.trackers.builtin import regrown_frames

    out, scores, spans = _balloon_scores(frames, [MaskPrompt(masks[0])], 1)
    assert min(jaccard(f.objects[1].mask(144, 256), masks[f.index]) for f in out) > 0.9
    lost = [i for i, sc in enumerate(scores) if sc < 0.5]
    assert lost, f"{case}: the case this test is about"
    assert len(lost) <= regrown_frames()
    assert min(scores[max(lost) + 1 :]) >= 0.8
    assert all(s.end < len(out) - 1 for s in spans)


def test_an_object_approaching_faster_than_the_reference_follows_is_found_again() -> None:
    """A textured disc approaching the camera fast (area ×1.1 a frame for 14 frames, ×3.8 in
    all; the reference size follows at most ×1.04 a frame), then steady. The mask follows it
    exactly; the confidence may dip while the growth outpaces the reference, but the
    reference is re-based once the mask has been steady, the object's colours and moving as
    the object for :func:`regrown_frames` frames: before, every frame from the dip to the
    last read as lost (a frozen reference: DAVIS libby backwards)."""
    frames, masks = _textured_disc_clip(30, lambda i: 14 * 1.1 ** (min(i, 14) / 2))
    assert masks[-1].sum() > 3.5 * masks[0].sum()
    _assert_found_again(frames, masks, "the growth outpaced the reference")


def test_an_object_receding_faster_than_the_reference_follows_is_found_again() -> None:
    """The receding twin of the approaching disc: area ×0.85 a frame for 14 frames (×0.1 in
    all), then steady. Before, the reference (an average over confident frames) lagged, the
    mask fell below half of it, and every frame from there to the last read as lost at
    J 1.00; now the mask, shrinking steadily in the shape of the last confident mask, re-bases
    it after :func:`regrown_frames` frames."""
    frames, masks = _textured_disc_clip(30, lambda i: 45 * 0.85 ** (min(i, 14) / 2))
    assert masks[-1].sum() < 0.15 * masks[0].sum()
    _assert_found_again(frames, masks, "the shrinking outpaced the reference")


def test_a_mask_that_lost_most_of_its_object_is_not_re_based() -> None:
    """What the receding rule must not excuse: from frame 8 three quarters of the disc show
    the background's texture; the mask drops to the quarter left (a part, not the disc made
    smaller, and a sudden drop), which then moves as the object with its colours. It stays
    reported lost to the last frame."""
    from sam2matting.trackers.builtin import scaled_shape_iou

    frames, masks = _textured_disc_clip(26, lambda i: 36.0, lost_share=0.75)
    out, scores, spans = _balloon_scores(frames, [MaskPrompt(masks[0])], 1)
    assert min(scores[:8]) >= 0.8
    last = out[-1].objects[1].mask(144, 256)
    assert last.sum() < 0.3 * masks[-1].sum()  # the mask holds the part left
    assert scaled_shape_iou(masks[-1], last) < 0.7
    first_lost = min(i for i, sc in enumerate(scores) if sc < 0.5)
    assert first_lost <= 10
    assert max(scores[first_lost:]) < 0.5
    covered = {i for s in spans for i in range(s.start, s.end + 1)}
    assert set(range(first_lost, len(out))) <= covered


def test_scaled_shape_iou() -> None:
    from sam2matting.trackers.builtin import scaled_shape_iou

    yy, xx = np.mgrid[0:100, 0:160]
    big = (xx - 50) ** 2 + (yy - 50) ** 2 <= 30**2
    small = (xx - 110) ** 2 + (yy - 40) ** 2 <= 12**2
    assert scaled_shape_iou(big, small) > 0.9  # the same shape, smaller, elsewhere
    half = big & (xx < 50)
    assert scaled_shape_iou(big, half) < 0.7  # a part of it
    assert scaled_shape_iou(big, np.zeros_like(big)) == 0.0


def test_a_textured_mask_ballooning_into_a_still_region_of_its_colours_stays_lost() -> None:
    """The case the re-basing must not excuse: a textured red square moving right meets, on
    frame 6, a still region of the same red texture; the mask balloons into it and then holds
    steady. The region does not move as the object, so the grown mask is never re-based and
    every frame it holds more than twice the object stays reported lost."""
    h, w = 144, 256
    square = _red_texture(40, 40, seed=1)
    region = _red_texture(110, w, seed=2)
    frames, masks = [], []
    for i in range(26):
        image = _textured_background(h, w, seed=7)
        x0 = 40 + int(1.5 * i)
        if i >= 6:
            image[20:130, x0 + 40 : 220] = region[:, x0 + 40 : 220]
        image[52:92, x0 : x0 + 40] = square
        mask = np.zeros((h, w), bool)
        mask[52:92, x0 : x0 + 40] = True
        frames.append(image)
        masks.append(mask)
    out, scores, spans = _balloon_scores(frames, [MaskPrompt(masks[0])], 1)
    assert min(scores[:6]) >= 0.8
    areas = [int(f.objects[1].mask(h, w).sum()) for f in out]
    ballooned = [i for i, a in enumerate(areas) if a > 2 * masks[i].sum()]
    assert len(ballooned) >= 10  # it did balloon, and held the region to the end
    assert ballooned[-1] == len(out) - 1
    # reported lost from the growth on, to the last frame: never re-based
    first_lost = min(i for i, sc in enumerate(scores) if sc < 0.5)
    assert first_lost <= ballooned[1]
    assert max(scores[first_lost:]) < 0.5
    covered = {i for s in spans for i in range(s.start, s.end + 1)}
    assert set(range(first_lost, len(out))) <= covered


def test_growth_and_swallow_cues() -> None:
    from sam2matting.trackers.builtin import confidence, swallow_cue

    assert confidence(1400, 1000, 1.0, 1.0) == 1.0  # ×1.4: free
    assert confidence(2000, 1000, 1.0, 1.0) < 0.5  # ×2 of the reference: lost
    # a mask that shrank (reference followed it down) and recovers its first-frame size
    assert confidence(1000, 500, 1.0, 1.0, anchor_area=1000) == 1.0
    assert confidence(400, 1000, 1.0, 1.0) < 1.0  # shrinking as before
    assert swallow_cue(0.05) == 1.0 and swallow_cue(0.25) < 0.5 and swallow_cue(0.5) == 0.0


def _translating_clip(n: int = 10, width: int = 427, height: int = 240):
    """A hard-edged, textured warm ellipse moving 2.1 px right and 1.3 px down a frame over
    textured background that pans 1 px a frame; frames of a size the working resolution
    scales by a non-integer factor. Returns (frames, masks)."""
    pan = _textured_background(height + 40, width + 40, seed=3)
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:height, 0:width]
    frames, masks = [], []
    for t in range(n):
        image = pan[10 : 10 + height, 10 + t : 10 + t + width].copy()
        cx, cy = 140 + 2.1 * t, 110 + 1.3 * t
        mask = ((xx - cx) / 60) ** 2 + ((yy - cy) / 42) ** 2 <= 1
        body = np.array([205, 125, 60]) + rng.integers(-20, 20, (height, width, 1))
        image[mask] = np.clip(body, 0, 255).astype(np.uint8)[mask]
        frames.append(image)
        masks.append(mask)
    return frames, masks


def test_a_translating_object_neither_grows_nor_shrinks_nor_slides() -> None:
    """The error anatomy's bias check (benchmarks/bench_builtin_anatomy.py): on a clean
    translating object the mask keeps its size and place frame after frame — no boundary bias
    (a pixel of growth or shrinkage a frame) and no offset between the working resolution
    (here ×0.6) and the frame's (a half-pixel slip compounds into a slide)."""
    frames, masks = _translating_clip()
    session = build(max_side=256).open(ArraySource(frames))
    assert session.working_size == (256, 144)
    session.add_prompt(MaskPrompt(masks[0]))
    for f in session.propagate(0):
        pred, truth = f.objects[1].mask(240, 427), masks[f.index]
        ys, xs = np.nonzero(pred)
        ty, tx = np.nonzero(truth)
        assert abs(pred.sum() / truth.sum() - 1) < 0.03, f.index
        assert abs(xs.mean() - tx.mean()) < 0.4 and abs(ys.mean() - ty.mean()) < 0.4, f.index
        assert jaccard(pred, truth) > 0.96, f.index


def test_a_mask_prompt_round_trips_through_the_working_resolution() -> None:
    """Down to the working resolution (area) and back (bilinear on logits): the prompt's own
    frame returns the prompt, with no half-pixel shift."""
    frames, masks = _translating_clip(n=1)
    session = build(max_side=256).open(ArraySource(frames))
    session.add_prompt(MaskPrompt(masks[0]))
    first = next(iter(session.propagate(0)))
    pred = first.objects[1].mask(240, 427)
    ys, xs = np.nonzero(pred)
    ty, tx = np.nonzero(masks[0])
    assert jaccard(pred, masks[0]) > 0.985
    assert abs(xs.mean() - tx.mean()) < 0.1 and abs(ys.mean() - ty.mean()) < 0.1


def test_trace_reports_every_stage_of_each_step() -> None:
    """The stage observer that benchmarks/bench_builtin_anatomy.py scores: every propagated
    frame reports each stage once, in order, as a working-resolution bool mask."""
    clip = make_two_disc_clip()
    session = build().open(ArraySource(clip.frames))
    seen: list[tuple[int, int, str]] = []

    def trace(index: int, obj: int, stage: str, mask: np.ndarray) -> None:
        assert mask.dtype == bool and mask.shape == session.working_size[::-1]
        seen.append((index, obj, stage))

    session.trace = trace
    session.add_prompt(MaskPrompt(clip.masks[1][0]))
    n = sum(1 for _ in session.propagate(0, end_frame=3))
    stages = ["warp", "prior", "refit", "edge", "regrow", "graphcut", "components"]
    assert n == 4
    assert seen == [(i, 1, s) for i in range(1, 4) for s in stages]


def test_both_flow_directions_at_once_equal_one_after_the_other(sample) -> None:
    """The forward flow runs in a worker thread beside the backward one (speed only): the
    flows are those of one DIS object computing both in turn, and closing ends the worker."""
    session = build().open(ArraySource(sample.frames))
    session.add_prompt(MaskPrompt(sample.masks[1][0]))
    list(session.propagate(0, end_frame=3))  # the worker has run
    first = cv2.cvtColor(sample.frames[3], cv2.COLOR_RGB2GRAY)
    second = cv2.cvtColor(sample.frames[4], cv2.COLOR_RGB2GRAY)
    h, w = first.shape
    init = np.full((h, w, 2), 1.5, np.float32)
    fwd, back = session._flows(first, second, init.copy(), -init)
    one = _make_flow("fine", w, h)
    assert np.array_equal(fwd, one.calc(first, second, init.copy()))
    assert np.array_equal(back, one.calc(second, first, -init))
    worker = session._flow_worker
    assert worker is not None
    session.close()
    assert session._flow_worker is None and worker._shutdown


def test_predicted_search_objects_move_each_mask_to_the_next_frame() -> None:
    """The early flow's motion search starts from each object's mask moved by its last
    displacement, or by its motion on the frame's own flow where the two differ by more than
    a tenth of the object's size (it sped up or turned), and searches around its last
    displacement."""
    from sam2matting.trackers.builtin import _Flow, _ObjectState, _predicted_search_objects

    mask = np.zeros((40, 60), bool)
    mask[10:20, 5:15] = True  # 10 px: a tenth is 1 px
    prob = mask.astype(np.float32)

    def state(velocity):
        return _ObjectState(prob=prob, model=None, logits=prob, velocity=velocity)  # type: ignore[arg-type]

    def moved(dx, dy):
        out = np.zeros_like(mask)
        out[10 + dy : 20 + dy, 5 + dx : 15 + dx] = True
        return out

    # without a flow: the last displacement
    (m1, v1), (m2, v2) = _predicted_search_objects(
        {1: state((0.0, 0.0)), 2: state((7.0, -3.0))}, None, 0.03
    )[0]
    assert np.array_equal(m1, mask) and v1 == (0.0, 0.0)
    assert np.array_equal(m2, moved(7, -3)) and v2 == (7.0, -3.0)
    # the flow moves the mask by (4, 2): 7 px from (7, -3), 0.5 px from (4.5, 2)
    fwd = np.zeros((40, 60, 2), np.float32)
    fwd[..., 0], fwd[..., 1] = 4.0, 2.0
    flow = _Flow(back=fwd, fwd=fwd, unreliable=np.zeros((40, 60), bool))
    (m3, v3), (m4, v4) = _predicted_search_objects(
        {1: state((7.0, -3.0)), 2: state((4.4, 2.0))}, flow, 0.03
    )[0]
    assert np.array_equal(m3, moved(4, 2)) and v3 == (7.0, -3.0)
    assert np.array_equal(m4, moved(4, 2)) and v4 == (4.4, 2.0)
    (_, _), (m5, _) = _predicted_search_objects(
        {1: state((0.0, 0.0)), 2: state((4.8, 2.0))}, flow, 0.03
    )[0]
    assert np.array_equal(m5, moved(5, 2))  # within a tenth: the last displacement


@pytest.mark.parametrize("early", [True, False])
def test_early_flow_starts_beside_the_step_and_searches_from_the_prediction(
    sample, early, monkeypatch
) -> None:
    """With ``early_flow`` each frame's flow is started before the frame before it is
    stepped, its search from that frame's predicted masks (the masks of the frame before
    moved by the motion of their flow); off (and on the frame after a prompt) once the masks
    are final, from them. Either way the sample is tracked."""
    from sam2matting.trackers import builtin as B

    events: list[tuple[str, int]] = []
    searched: dict[int, list[np.ndarray]] = {}
    look_ahead, step = B.BuiltinSession._look_ahead, B.BuiltinSession._step

    def recorded_look_ahead(self, frame, search, tracked, upcoming, beside_step=False):
        events.append(("flow", frame.index))
        searched[frame.index] = [m.copy() for m, _ in search] + [search[0][1]]
        return look_ahead(self, frame, search, tracked, upcoming, beside_step)

    def recorded_step(self, state, frame, previous, flow, fit=None):
        events.append(("step", frame.index))
        return step(self, state, frame, previous, flow, fit)

    monkeypatch.setattr(B.BuiltinSession, "_look_ahead", recorded_look_ahead)
    monkeypatch.setattr(B.BuiltinSession, "_step", recorded_step)
    session = build(early_flow=early).open(ArraySource(sample.frames))
    session.add_prompt(MaskPrompt(sample.masks[1][0]))
    frames, masks, velocities = [], {}, {}
    for f in session.propagate(0):
        frames.append(f)
        state = session._cursor.states[1]  # type: ignore[union-attr]
        masks[f.index], velocities[f.index] = state.prob > 0.5, state.velocity
    session.close()
    # the prompted frame has no step and starts the next flow from its final mask
    assert events[0] == ("flow", 0)
    for k in range(1, sample.num_frames - 1):
        i_flow, i_step = events.index(("flow", k)), events.index(("step", k))
        assert (i_flow < i_step) == early, f"frame {k}"
    assert velocities[1] != (0.0, 0.0)
    if not early:
        assert np.array_equal(searched[2][0], masks[2]) and searched[2][1] == velocities[2]
    else:
        # the mask of frame 1 moved (by its last displacement or by its flow's motion, which
        # the step then finds too), searched around its last displacement
        assert searched[2][1] == velocities[1] and not np.array_equal(searched[2][0], masks[2])
        ys, xs = np.nonzero(masks[1])
        ys2, xs2 = np.nonzero(searched[2][0])
        shift = (xs2.mean() - xs.mean(), ys2.mean() - ys.mean())
        assert any(np.allclose(shift, v, atol=1.0) for v in (velocities[1], velocities[2]))
    assert min(_ious(frames, sample)) > 0.8


def _textured(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random grey texture (uint8): what a photometric check can tell apart."""
    noise = np.random.default_rng(seed).random((h, w)).astype(np.float32)
    return np.asarray(np.clip(cv2.GaussianBlur(noise, (0, 0), 1.5) * 600 - 170, 0, 255), np.uint8)


def test_inverted_flow_of_a_smooth_motion_is_its_forward_flow() -> None:
    """A smooth backward flow (a slight zoom and a shift) inverts to the analytic forward
    flow, on the frame's grid and on DIS's coarser one (level 1)."""
    from sam2matting.trackers.builtin import invert_flow

    h, w = 96, 128
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy, s, tx, ty = 64.0, 48.0, 1.05, 3.0, -2.0
    # forward: p -> c + s (p - c) + t; backward: q -> c + (q - c - t) / s
    fwd_true = np.dstack([(s - 1) * (xs - cx) + tx, (s - 1) * (ys - cy) + ty])
    back = np.dstack([cx + (xs - cx - tx) / s - xs, cy + (ys - cy - ty) / s - ys])
    grey = _textured(h, w, 0)
    for level in (0, 1):
        fwd = invert_flow(back.astype(np.float32), (), grey, grey, level)
        inner = (slice(8, h - 8), slice(8, w - 8))  # away from where p + f leaves the frame
        err = np.abs(fwd - fwd_true)[inner].max()
        assert err < (0.02 if level == 0 else 0.1), (level, err)


def test_inverted_flow_keeps_a_fast_object_found_by_the_motion_search() -> None:
    """A textured square jumps 30 px on a still textured background. Started from −back
    alone, the inversion at the square's old place finds the background's (zero) motion; from
    the motion search's start it finds the jump there, and the photometric check keeps that
    on the square and zero on the background around it."""
    from sam2matting.trackers.builtin import invert_flow

    h, w, jump = 80, 120, 30
    background = _textured(h, w, 1)
    square = _textured(20, 20, 2)
    previous = background.copy()
    previous[30:50, 20:40] = square
    current = background.copy()
    current[30:50, 20 + jump : 40 + jump] = square
    back = np.zeros((h, w, 2), np.float32)
    back[30:50, 20 + jump : 40 + jump, 0] = -jump
    start = np.zeros((h, w, 2), np.float32)
    start[27:53, 17:43, 0] = jump  # the search's shift on the square dilated by 3 px
    alone = invert_flow(back, (), previous, current, 0)
    assert np.abs(alone[32:48, 22:38, 0]).max() < 1.0  # the background's motion
    fwd = invert_flow(back, (start,), previous, current, 0)
    assert np.allclose(fwd[32:48, 22:38, 0], jump, atol=0.5)  # the square's jump
    ring = np.zeros((h, w), bool)
    ring[27:53, 17:43] = True
    ring[29:51, 19:41] = False  # the dilated margin, background, 2 px from the square
    assert np.abs(fwd[ring, 0]).mean() < 0.25 * jump


def test_the_forward_flow_is_inverted_or_computed_by_dis(sample) -> None:
    """With ``inverted_forward`` one DIS run a frame pair, the backward one, its inverse the
    forward flow; off (the default), both directions by DIS (no motion search here: the flows start from
    zero)."""
    from sam2matting.trackers import builtin as B

    for inverted, runs in ((True, 1), (False, 2)):
        options = {"inverted_forward": inverted, "early_flow": False, "motion_search": False}
        session = build(**options).open(ArraySource(sample.frames))
        session.add_prompt(MaskPrompt(sample.masks[1][0]))
        list(session.propagate(0, end_frame=1))
        calls: list[int] = []

        class Counting:
            def __init__(self, dis, calls):
                self.dis, self.calls = dis, calls

            def calc(self, *args):
                self.calls.append(1)
                return self.dis.calc(*args)

        previous = session._prepare(1, sample.frames[1])
        frame = session._prepare(2, sample.frames[2])
        pair = tuple(Counting(d, calls) for d in session._dis)
        flow = session._flow_map(frame, previous, (), pair)  # type: ignore[arg-type]
        assert len(calls) == runs
        assert flow.fwd.shape == flow.back.shape and np.isfinite(flow.fwd).all()
        if inverted:
            back = session._dis[0].calc(frame.gray, previous.gray, None)
            expected = B.invert_flow(back, (), previous.gray, frame.gray, session._flow_level)
            assert np.array_equal(flow.fwd, expected)
        session.close()


def test_the_flow_window_pairs_each_tracking_dis_object_with_a_coarser_twin() -> None:
    """With ``flow_window`` (the default) each of the four tracking DIS objects has a twin one
    pyramid level coarser with its refinement iterations (``forward_refinement`` included);
    the first masks' motion cue and frames too small for a coarser level have none, and
    neither has anything with the option off. On a small object the flow outside the window
    is the coarse twin's and inside it stays close to the whole frame's fine flow."""
    from sam2matting.eval.motion_clips import textured_background

    big = textured_background(288 + 20, 512 + 20, seed=5)
    frames = [big[:288, :512].copy(), big[6:294, 9:521].copy()]
    for options, refinement in (({}, 5), ({"forward_refinement": 0}, 0)):
        session = build(**options).open(ArraySource(frames))
        tracking = (*session._dis, *session._dis_ahead)
        twins = [session._coarse[id(d)] for d in tracking]
        assert len({id(t) for t in twins}) == 4
        for dis, twin in zip(tracking, twins, strict=True):
            assert twin.getFinestScale() == dis.getFinestScale() + 1
            assert twin.getVariationalRefinementIterations() == (
                dis.getVariationalRefinementIterations()
            )
        assert twins[1].getVariationalRefinementIterations() == refinement
        if options:
            assert not any(id(d) in session._coarse for d in session._init_dis())
        session.close()
    small = [cv2.resize(f, (256, 144)) for f in frames]
    session = build().open(ArraySource(small))
    assert session._coarse == {}
    session.close()
    mask = np.zeros((288, 512), bool)
    mask[120:170, 200:280] = True
    flows = {}
    for window in (True, False):
        session = build(flow_window=window).open(ArraySource(frames))
        assert bool(session._coarse) is window
        previous, frame = (session._prepare(i, f) for i, f in enumerate(frames))
        flows[window] = session._flow_map(frame, previous, [(mask, (0.0, 0.0))], one_thread=True)
        session.close()
    near = flows[True].fwd[100:190, 180:300] - flows[False].fwd[100:190, 180:300]
    assert np.abs(near).mean() < 0.5
    assert np.abs(flows[True].fwd[0:60] - flows[False].fwd[0:60]).max() > 0  # coarse there
    for flow in flows.values():  # the whole frame moves by (−9, −6)
        assert np.abs(np.median(flow.fwd.reshape(-1, 2), axis=0) - (-9.0, -6.0)).max() < 0.5


def test_the_forward_flow_refinement_is_set_for_tracking_only(sample) -> None:
    """``forward_refinement`` sets the forward DIS flow's variational refinement iterations
    (default null: the preset's 5), in both the step's and the look-ahead worker's pairs; the
    backward flow, which moves the masks, always keeps the preset's, and so do both
    directions of the first masks' motion cue. A negative count is refused."""
    for value, expected in ((None, 5), (0, 0), (2, 2)):
        options = {} if value is None else {"forward_refinement": value}
        session = build(**options).open(ArraySource(sample.frames))
        for back, fwd in (session._dis, session._dis_ahead):
            assert back.getVariationalRefinementIterations() == 5
            assert fwd.getVariationalRefinementIterations() == expected
            assert fwd.getFinestScale() == back.getFinestScale()
        # the first masks' motion cue reads the forward flow itself: the preset's refinement
        assert [d.getVariationalRefinementIterations() for d in session._init_dis()] == [5, 5]
        session.close()
    with pytest.raises(Sam2MattingError, match="forward_refinement"):
        build(forward_refinement=-1)


def _parked_car() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(frame, mask, its wheels, the shadow under it): a light body on two dark wheels over a
    grey road, a shallow dark shadow under the body between the wheels (not the object's),
    all of it within a few pixels of the mask."""
    h, w = 288, 512
    rng = np.random.default_rng(3)
    frame = np.clip(105 + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)
    frame[:120] = (200, 190, 170)
    body = np.zeros((h, w), bool)
    body[130:170, 200:320] = True
    wheels = np.zeros((h, w), np.uint8)
    for cx in (222, 298):
        cv2.circle(wheels, (cx, 172), 12, 1, -1)
    shadow = np.zeros((h, w), bool)
    shadow[170:176, 236:284] = True
    shadow &= wheels == 0
    frame[shadow] = (42, 42, 44)
    frame[wheels > 0] = (36, 36, 38)
    frame[body] = (170, 172, 180)
    mask = body | (wheels > 0)
    return frame, mask, wheels > 0, shadow


def test_enclosed_background_lies_in_the_hull_away_from_the_mask() -> None:
    _, mask, _, shadow = _parked_car()
    signed = _signed_distance(mask)
    enclosed = enclosed_background(mask, signed)
    assert enclosed[shadow & (signed < -1.0)].all()  # under the body, between the wheels
    assert not (enclosed & mask).any()
    assert not enclosed[:, :195].any() and not enclosed[:, 325:].any()  # beyond the hull
    assert not enclosed[100:128].any()  # above a straight roof: nothing enclosed
    empty = np.zeros_like(mask)
    assert not enclosed_background(empty, _signed_distance(empty)).any()


def test_the_anchor_learns_the_background_its_mask_encloses_as_background() -> None:
    # the shadow under the car lies closer to the mask than the background ring starts, and is
    # dark like the wheels: a model learnt on the ring alone calls it the object
    frame, mask, wheels, shadow = _parked_car()
    session = build().open(ArraySource([frame, frame]))
    work = session._prepare(0, frame)
    state = session._anchor_state(mask.astype(np.float32), work)
    llr = state.model.llr(work.bins)
    assert llr[shadow].mean() < -0.5
    assert llr[wheels].mean() > 1.0 and llr[mask & ~wheels].mean() > 1.0
    signed = _signed_distance(mask)
    sigma = boundary_sigma(float(mask.sum()), BuiltinTrackerConfig().boundary_uncertainty)
    inner, outer = background_ring(sigma)
    ring_only = _ColourModel.learn(
        work.bins, signed > sigma, (signed < -inner) & (signed > -outer), 32
    )
    assert ring_only.llr(work.bins)[shadow].mean() > 1.0
    session.close()
