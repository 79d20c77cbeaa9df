"""The built-in tracker's large-displacement motion (:mod:`sam2matting.trackers.builtin_motion`):
the camera's and the objects' displacements as functions on synthetic frames, and fast
objects under a panning camera through the tracker."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.eval.metrics import jaccard
from sam2matting.eval.motion_clips import fast_motion_clip, textured_background
from sam2matting.io.readers import ArraySource
from sam2matting.trackers.builtin import build
from sam2matting.trackers.builtin_motion import (
    ObjectMotion,
    camera_shift,
    flow_window,
    flow_window_grid,
    flow_window_margin,
    initial_flows,
    object_shift,
    search_motion,
    search_reach,
    windowed_flow,
)
from sam2matting.types import MaskPrompt

H, W = 288, 512


def _track(frames, masks, **options):  # type: ignore[no-untyped-def]
    session = build(**options).open(ArraySource(frames))
    session.add_prompt(MaskPrompt(masks[0]))
    out = list(session.propagate(0))
    ious = [jaccard(f.objects[1].mask(H, W), masks[f.index]) for f in out]
    return ious, [f.objects[1].score for f in out]


# -- functions --------------------------------------------------------------------------------


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def test_camera_shift_is_the_background_translation() -> None:
    big = _grey(textured_background(H + 80, W + 80, seed=3))
    previous = big[40 : 40 + H, 40 : 40 + W].copy()
    current = big[40 + 7 : 47 + H, 40 + 33 : 73 + W].copy()  # content moves by (−33, −7)
    shift = camera_shift(previous, current)
    assert shift is not None
    assert abs(shift[0] + 33) < 1.5 and abs(shift[1] + 7) < 1.5
    # a flat frame has nothing to correlate
    flat = np.full((H, W), 120, np.uint8)
    assert camera_shift(flat, flat) is None


def test_camera_shift_ignores_the_excluded_object() -> None:
    """A large object moving the other way would pull a plain correlation towards it."""
    big = _grey(textured_background(H + 80, W + 80, seed=4))
    obj = _grey(textured_background(150, 200, seed=9, cell=4))
    previous = big[40 : 40 + H, 40 : 40 + W].copy()
    current = big[40 : 40 + H, 60 : 60 + W].copy()  # background moves by (−20, 0)
    previous[60:210, 100:300] = obj
    current[60:210, 150:350] = obj  # the object moves by (+50, 0)
    exclude = np.zeros((H, W), bool)
    exclude[50:220, 90:360] = True
    shift = camera_shift(previous, current, exclude)
    assert shift is not None
    assert abs(shift[0] + 20) < 2.0 and abs(shift[1]) < 2.0


def test_object_shift_finds_a_large_displacement_or_says_it_moves_with_the_camera() -> None:
    frames, masks = fast_motion_clip(n=16, seed=1)
    truth = [np.argwhere(m).mean(axis=0)[::-1] for m in masks]
    found = 0
    for i in range(1, 16):
        prev, cur = _grey(frames[i - 1]), _grey(frames[i])
        move = truth[i] - truth[i - 1]
        camera = (-14.0, -3.0)
        shift = object_shift(prev, cur, masks[i - 1], (0.0, 0.0), camera)
        assert np.hypot(*move) >= 29  # 30–50 px a frame
        if shift is not None:
            found += 1
            assert np.hypot(shift[0] - move[0], shift[1] - move[1]) < 4.0
    assert found >= 14
    # a textured patch that stands still in the scene moves with the camera: not an object shift
    big = _grey(textured_background(H + 80, W + 80, seed=5))
    previous = big[40 : 40 + H, 40 : 40 + W].copy()
    current = big[40 : 40 + H, 70 : 70 + W].copy()
    patch = np.zeros((H, W), bool)
    patch[100:160, 200:280] = True
    assert object_shift(previous, current, patch, (0.0, 0.0), (-30.0, 0.0)) == (-30.0, 0.0)
    # nothing to match (a flat object): None, the caller falls back on constant velocity
    flat_prev = previous.copy()
    flat_prev[patch] = 128
    assert object_shift(flat_prev, current, patch, (5.0, 0.0), (-30.0, 0.0)) is None


def test_object_shift_prefers_the_near_placement_of_two_that_match_about_equally() -> None:
    """A look-alike far away (an exact copy of the object's texture) against the object itself
    where constant velocity puts it, a little changed (noise): the near one is where it went,
    unless the far one matches clearly better."""
    rng = np.random.default_rng(0)
    obj = _grey(textured_background(40, 60, seed=11, cell=4)).astype(np.float32)
    scene = np.full((H, W), 128.0, np.float32) + rng.normal(0.0, 1.0, (H, W)).astype(np.float32)
    previous = scene.copy()
    previous[120:160, 200:260] = obj
    mask = np.zeros((H, W), bool)
    mask[120:160, 200:260] = True

    def current_with(noise: float) -> np.ndarray:
        current = scene.copy()
        near = obj + np.random.default_rng(1).normal(0.0, noise, obj.shape).astype(np.float32)
        current[124:164, 210:270] = near  # moved by (+10, +4), as predicted
        current[60:100, 270:330] = obj  # the exact copy: (+70, −60) away
        return np.clip(current, 0, 255).astype(np.uint8)

    prev8 = np.clip(previous, 0, 255).astype(np.uint8)
    slight = object_shift(prev8, current_with(12.0), mask, (10.0, 4.0), (0.0, 0.0))
    assert slight is not None and np.hypot(slight[0] - 10, slight[1] - 4) < 3.0
    # the near copy ruined (it no longer looks like the object): the far one wins
    ruined = object_shift(prev8, current_with(80.0), mask, (10.0, 4.0), (0.0, 0.0))
    assert ruined is not None and np.hypot(ruined[0] - 70, ruined[1] + 60) < 3.0


def test_object_shift_does_not_trust_a_best_match_on_the_edge_its_reach_sets() -> None:
    """Stripes whose correlation keeps rising towards a displacement beyond the search's reach
    (100 px, reach 61): the best placement inside the window is on its edge, which is not
    where the object went (the search used to return (0, 62)); None, and the caller falls
    back on constant velocity. The same stripes moved within the reach are found."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0 : H + 100, 0:W].astype(np.float32)
    bump = np.exp(-(((xx - 240) / 30) ** 2))
    scene = 128 + 60 * np.sin(2 * np.pi * yy / 400) * bump + rng.normal(0, 1, yy.shape)
    scene = np.clip(scene, 0, 255).astype(np.uint8)
    mask = np.zeros((H, W), bool)
    mask[120:160, 200:280] = True
    previous = scene[100 : 100 + H].copy()
    assert object_shift(previous, scene[:H].copy(), mask, (0.0, 0.0), (0.0, 0.0)) is None
    found = object_shift(previous, scene[60 : 60 + H].copy(), mask, (0.0, 0.0), (0.0, 0.0))
    assert found is not None and np.hypot(found[0], found[1] - 40) < 3.0


def test_search_reach_covers_fast_objects_at_512_px() -> None:
    assert search_reach(512, 288, 40.0) >= 40
    assert search_reach(512, 288, 300.0) >= 150  # a large object: half its size


def test_initial_flows_paint_the_camera_and_the_objects() -> None:
    assert initial_flows((20, 30), None, []) is None
    mask = np.zeros((20, 30), bool)
    mask[5:10, 5:10] = True
    assert initial_flows((20, 30), None, [ObjectMotion(mask, None)]) is None
    flows = initial_flows((20, 30), (2.0, -1.0), [ObjectMotion(mask, (12.0, 3.0))])
    assert flows is not None
    fwd, back = flows
    assert fwd.shape == back.shape == (20, 30, 2) and fwd.dtype == np.float32
    assert tuple(fwd[7, 7]) == (12.0, 3.0) and tuple(fwd[18, 28]) == (2.0, -1.0)
    assert tuple(back[10, 19]) == (-12.0, -3.0)  # where the object landed
    assert tuple(back[1, 1]) == (-2.0, 1.0)


def test_the_flow_window_holds_each_object_where_it_was_and_where_it_goes() -> None:
    """The window covers every object's previous box and that box moved by its displacement,
    grown by the margin and by the camera's translation, its edges rounded out to the grid and
    clipped to the frame; None with no object, or when it would cover most of the frame."""
    grow = flow_window_margin() * W  # 25.6 px
    grid = flow_window_grid()

    def out(lo: float, hi: float, side: int) -> tuple[int, int]:
        return max(0, int(np.floor(lo / grid)) * grid), min(side, int(np.ceil(hi / grid)) * grid)

    mask = np.zeros((H, W), bool)
    mask[100:140, 200:260] = True
    assert flow_window((H, W), None, []) is None
    assert flow_window((H, W), None, [ObjectMotion(np.zeros((H, W), bool), (5.0, 0.0))]) is None
    y0, y1, x0, x1 = flow_window((H, W), None, [ObjectMotion(mask, (30.0, -10.0))]) or (0,) * 4
    assert (y0, y1) == out(90 - grow, 140 + grow, H) == (64, 192)
    assert (x0, x1) == out(200 - grow, 290 + grow, W) == (160, 320)
    # the camera's translation grows it both ways (an object without a shift moves with it)
    y0, y1, x0, x1 = flow_window((H, W), (-40.0, 0.0), [ObjectMotion(mask, None)]) or (0,) * 4
    assert (x0, x1) == out(200 - 40 - grow - 40, 260 + grow + 40, W) == (64, 352)
    assert (y0, y1) == out(100 - grow, 140 + grow, H)
    # the frame's edges clip it
    edge = np.zeros((H, W), bool)
    edge[H - 30 :, W - 40 :] = True
    assert flow_window((H, W), None, [ObjectMotion(edge, (0.0, 0.0))])[1::2] == (H, W)  # type: ignore[index]
    # two objects: one window over both; too large a share of the frame: None
    other = np.zeros((H, W), bool)
    other[200:230, 20:50] = True
    both = flow_window((H, W), None, [ObjectMotion(mask, (0.0, 0.0)), ObjectMotion(other, None)])
    assert both is not None and both[0] < 100 and both[1] > 230 and both[2] < 20 and both[3] > 260
    huge = np.zeros((H, W), bool)
    huge[20:270, 40:470] = True
    assert flow_window((H, W), None, [ObjectMotion(huge, (0.0, 0.0))]) is None


def test_the_windowed_flow_is_the_fine_flow_on_the_window_and_the_coarse_one_elsewhere() -> None:
    """A textured object moving 45 px under a panning camera: inside the window the flow is
    what the fine DIS finds on the whole frame (the object's displacement to within a pixel),
    outside it the coarse DIS's, and without a window it is the fine one's exactly."""
    import sam2matting.trackers.builtin as B

    frames, masks = fast_motion_clip(seed=0, same_colours=True)
    previous, current = (_grey(f) for f in frames[14:16])
    mask = masks[14]
    fine = B._make_flow("fine", W, H)
    coarse = B._make_flow("fine", W, H)
    coarse.setFinestScale(fine.getFinestScale() + 1)
    objects = [(mask, (44.0, -15.0))]
    camera, motions = search_motion(previous, current, objects)
    window = flow_window((H, W), camera, motions)
    assert window is not None
    y0, y1, x0, x1 = window
    assert (y1 - y0) * (x1 - x0) < 0.4 * H * W
    init = initial_flows((H, W), camera, motions)
    assert init is not None
    whole = fine.calc(previous, current, init[0].copy())
    flow = windowed_flow(fine, coarse, previous, current, init[0].copy(), window)
    ys, xs = np.nonzero(mask)
    truth = np.subtract(_centre(masks[15]), _centre(mask))
    assert np.abs(flow[ys, xs].mean(0) - whole[ys, xs].mean(0)).max() < 1.5
    assert np.abs(flow[ys, xs].mean(0) - truth).max() < 10.0
    outside = np.ones((H, W), bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(flow[outside], coarse.calc(previous, current, init[0].copy())[outside])
    assert np.array_equal(
        windowed_flow(fine, coarse, previous, current, init[0].copy(), None), whole
    )
    # without an initial flow the window starts from the coarse flow
    started = windowed_flow(fine, coarse, previous, current, None, window)
    assert started.shape == (H, W, 2) and np.isfinite(started).all()


def _centre(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.mean()), float(ys.mean())


# -- through the tracker ----------------------------------------------------------------------


@pytest.mark.parametrize("same_colours", [False, True])
def test_a_fast_object_under_a_panning_camera_is_followed(same_colours: bool) -> None:
    """30–50 px a frame in the image (up to 64 px against the panning background), 30 frames:
    without the search the flow falls behind on the fastest stretch (J < 0.8, and the
    tracker reports the object lost while its colour search catches up)."""
    frames, masks = fast_motion_clip(seed=0, same_colours=same_colours)
    ious, scores = _track(frames, masks)
    assert min(ious) >= 0.8, [round(j, 2) for j in ious]
    assert min(scores) >= 0.5  # never reported lost
    before, _ = _track(frames, masks, motion_search=False)
    assert min(before) < 0.8


def test_an_object_turning_back_is_followed() -> None:
    """40 px a frame, reversing every 6 frames: on the turns constant velocity predicts 80 px
    off; the search window around the prediction still holds the object."""
    frames, masks = fast_motion_clip(seed=1, path="zigzag", same_colours=True)
    ious, scores = _track(frames, masks)
    assert min(ious) >= 0.8, [round(j, 2) for j in ious]
    assert min(scores) >= 0.5
    before, _ = _track(frames, masks, motion_search=False)
    assert min(before) < 0.8


def test_a_mask_the_flow_lost_gives_way_to_the_object_found_again_next_to_it() -> None:
    """Without the search (the flow from zero) the flow loses the zigzagging object on its
    turns, and the whole-frame search finds it next to the lost mask. The object found again
    is explained by neither the lost motion model nor the background's, so it is no still
    look-alike (``_holds_on_motion``); a first version that took "not moving as the object"
    for still held the lost mask against it (J 0 on this seed from the turn on)."""
    frames, masks = fast_motion_clip(seed=1, path="zigzag", same_colours=True)
    ious, _ = _track(frames, masks, motion_search=False)
    assert min(ious) > 0.3, [round(j, 2) for j in ious]


def test_a_fast_pan_following_the_object_keeps_it() -> None:
    """The camera follows the object at 40 px a frame: the object barely moves in the image
    while the background races past it."""
    frames, masks = fast_motion_clip(seed=2, path="follow", pan=(40.0, 6.0), same_colours=True)
    ious, scores = _track(frames, masks)
    assert min(ious) >= 0.85, [round(j, 2) for j in ious]
    assert min(scores) >= 0.5


def test_an_object_the_search_cannot_place_keeps_its_own_motion(monkeypatch) -> None:
    """When the object's appearance matches nowhere well (blur, turning, occlusion), its flow
    starts from its constant-velocity prediction, not from the camera's motion: an object the
    camera follows at 40 px a frame would otherwise be sent off with the background (DAVIS
    libby with every third frame kept did exactly that)."""
    import sam2matting.trackers.builtin_motion as motion

    frames, masks = fast_motion_clip(seed=0, path="follow", pan=(40.0, 6.0), same_colours=True)
    monkeypatch.setattr(motion, "object_shift", lambda *args: None)
    ious, scores = _track(frames, masks)
    assert min(ious) >= 0.85 and min(scores) >= 0.5
    # what the camera's motion as the fallback does (without the shape memory, whose
    # appearance match pulls a dragged mask part of the way back: min J 0.76 with it); 0.61
    # (0.57 with the whole frame's flow fine, ``flow_window`` off)
    monkeypatch.setattr(motion, "object_shift", lambda prev, cur, mask, predicted, camera: camera)
    dragged, _ = _track(frames, masks, part_memory=0.0, early_flow=False)
    assert min(dragged) < 0.65
    # with the early flow the search starts from the mask moved by its own flow's motion,
    # which pulls a dragged mask part of the way back here or not (0.61; 0.69 with
    # ``flow_window`` off)
    dragged, _ = _track(frames, masks, part_memory=0.0)
    assert min(dragged) < 0.75


# -- the boundary's uncertainty from how far the object departs from one affine motion -------


def test_articulation_sigma_is_zero_for_one_affine_motion_and_grows_with_deformation() -> None:
    from sam2matting.trackers.builtin import articulation_sigma

    h, w = 120, 160
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    motion = np.array([[1.02, 0.01, 5.0], [-0.01, 0.98, -3.0]])
    affine = np.stack(
        [
            motion[0, 0] * xs + motion[0, 1] * ys + motion[0, 2] - xs,
            motion[1, 0] * xs + motion[1, 1] * ys + motion[1, 2] - ys,
        ],
        axis=-1,
    )
    select = np.zeros((h, w), bool)
    select[30:90, 40:120] = True
    assert articulation_sigma(affine, select, motion, 2.0) < 1e-3
    # every pixel of the object 3 px off the affine motion, in varying directions
    angle = 0.1 * xs + 0.07 * ys
    bent = affine + 3.0 * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    assert articulation_sigma(bent, select, motion, 2.0) == pytest.approx(6.0, abs=0.05)
    assert articulation_sigma(bent, select, motion, 1.0) == pytest.approx(3.0, abs=0.03)
    # a subsample gives the same median, an empty selection nothing
    assert articulation_sigma(bent, select, motion, 2.0, max_points=300) == pytest.approx(
        6.0, abs=0.05
    )
    assert articulation_sigma(bent, np.zeros((h, w), bool), motion, 2.0) == 0.0


def _assert_rigid_track_unchanged(name: str, on: float, off: float) -> None:
    """A rigid object under a panning camera is tracked to the same masks with option
    ``name`` at ``on`` and at ``off``."""
    frames, masks = fast_motion_clip(n=10, seed=1, path="follow")
    first = build(**{name: on}).open(ArraySource(frames))
    second = build(**{name: off}).open(ArraySource(frames))
    for session in (first, second):
        session.add_prompt(MaskPrompt(masks[0]))
    for a, b in zip(first.propagate(0), second.propagate(0), strict=True):
        assert np.array_equal(a.objects[1].mask(H, W), b.objects[1].mask(H, W))


def test_a_rigid_object_is_tracked_the_same_with_or_without_articulation_uncertainty() -> None:
    """A rigid object's flow is one affine motion: its boundary keeps the size-based error."""
    _assert_rigid_track_unchanged("articulation_uncertainty", 2.0, 0.0)


def _limbed_mean_j(**options: float | bool) -> float:
    """Mean J over the synthetic limbed walker's seeds 0–3 with these tracker options."""
    from sam2matting.eval.motion_clips import limbed_clip

    scores = []
    for seed in (0, 1, 2, 3):
        frames, masks = limbed_clip(seed=seed)
        session = build(**options).open(ArraySource(frames))
        session.add_prompt(MaskPrompt(masks[0]))
        h, w = masks[0].shape
        scores += [jaccard(f.objects[1].mask(h, w), masks[f.index]) for f in session.propagate(0)]
    return float(np.mean(scores))


def test_an_articulated_object_keeps_more_of_its_limbs_with_articulation_uncertainty() -> None:
    """As the setting was chosen (before ``early_flow``): 0.849 against 0.841; with the early
    flow on (the default) the walker scores the same (0.849) and the gain is smaller (0.845
    without)."""
    on = _limbed_mean_j(articulation_uncertainty=2.0, early_flow=False)
    off = _limbed_mean_j(articulation_uncertainty=0.0, early_flow=False)
    assert on > off + 0.004, (on, off)
    on_early = _limbed_mean_j(articulation_uncertainty=2.0)
    assert on_early > _limbed_mean_j(articulation_uncertainty=0.0) and on_early > 0.845


def test_articulation_trust_follows_how_well_the_anchor_colours_separate_the_object() -> None:
    from sam2matting.trackers.builtin import articulation_trust

    assert articulation_trust(0.2) == 0.0
    assert articulation_trust(1.0) == 0.0
    assert articulation_trust(1.5) == pytest.approx(0.5)
    assert articulation_trust(2.0) == 1.0
    assert articulation_trust(3.2) == 1.0


def test_without_colour_trust_an_articulated_object_keeps_its_size_based_uncertainty(
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    """The gain reaches the boundary only through ``articulation_trust``: with no trust the
    track is the one without ``articulation_uncertainty``."""
    import sam2matting.trackers.builtin as builtin
    from sam2matting.eval.motion_clips import limbed_clip

    frames, masks = limbed_clip(seed=0)
    h, w = masks[0].shape

    def track(value: float) -> list[np.ndarray]:
        session = build(articulation_uncertainty=value).open(ArraySource(frames))
        session.add_prompt(MaskPrompt(masks[0]))
        return [f.objects[1].mask(h, w) for f in session.propagate(0)]

    trusted = track(2.0)
    monkeypatch.setattr(builtin, "articulation_trust", lambda ref_colour: 0.0)
    untrusted, off = track(2.0), track(0.0)
    assert all(np.array_equal(a, b) for a, b in zip(untrusted, off, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(trusted, off, strict=True))


# -- the colour cap raised on articulated frames ---------------------------------------------


def test_the_raised_colour_cap_lifts_only_the_object_side() -> None:
    from sam2matting.trackers.builtin import _ColourModel, colour_llr_limit

    bins = 8
    index = np.arange(bins**3).reshape(8, 64)
    fg = np.zeros((8, 64), bool)
    fg[:, :3] = True  # a few colours only the object has
    bg = np.zeros((8, 64), bool)
    bg[:, 40:] = True  # and many only the background has
    model = _ColourModel.learn(index, fg, bg, bins)
    capped = model.llr(index)
    raised = model.llr(index, 6.0)
    limit = colour_llr_limit()
    assert capped.max() == pytest.approx(limit)
    assert raised.max() > limit and raised.max() <= 6.0
    # the background side keeps its cap; below the cap nothing moves
    assert raised.min() == pytest.approx(-limit)
    below = capped < limit
    assert np.array_equal(raised[below], capped[below])
    # the raised table is built once per cap and reused
    table = model._raised[6.0]
    assert np.array_equal(model.llr(index, 6.0), raised)
    assert model._raised[6.0] is table and list(model._raised) == [6.0]


def test_a_rigid_object_is_tracked_the_same_with_or_without_the_raised_colour_cap() -> None:
    """The cap is raised only where the articulation error exceeds the size-based one."""
    _assert_rigid_track_unchanged("articulated_colour_limit", 6.0, 0.0)


def test_an_articulated_object_keeps_more_of_its_limbs_with_the_raised_colour_cap() -> None:
    """The synthetic limbed walker (never tuned on): mean J 0.849 → 0.860 over six seeds at 6
    (off by default: see ``BuiltinTrackerConfig``)."""
    on = _limbed_mean_j(articulated_colour_limit=6.0)
    off = _limbed_mean_j(articulated_colour_limit=0.0)
    assert on > off + 0.005, (on, off)


def test_the_raised_colour_cap_must_be_off_or_above_the_cap() -> None:
    from sam2matting.errors import Sam2MattingError
    from sam2matting.trackers.builtin import BuiltinTrackerConfig

    BuiltinTrackerConfig(articulated_colour_limit=0.0)
    BuiltinTrackerConfig(articulated_colour_limit=4.0)
    with pytest.raises(Sam2MattingError, match="articulated_colour_limit"):
        BuiltinTrackerConfig(articulated_colour_limit=2.0)
