"""The built-in tracker's step window (``step_window``): its geometry, and that what the step
computes on it is what it computed on the whole frame there (exactly where that is promised:
the ring's motion fit, the signed distance near the object, the motion evidence away from the
window's edges)."""

from __future__ import annotations

import cv2
import numpy as np

from sam2matting.eval.metrics import jaccard
from sam2matting.eval.motion_clips import fast_motion_clip
from sam2matting.io.readers import ArraySource
from sam2matting.trackers.builtin import (
    _fit_affine,
    _motion_llr,
    _signed_distance,
    background_ring,
    build,
    fit_distance_reach,
)
from sam2matting.trackers.builtin_window import StepWindow, step_window, step_window_margin
from sam2matting.types import MaskPrompt

H, W = 288, 512


def _disc(cx: int, cy: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def test_the_window_holds_the_masks_and_the_margin_with_an_even_corner() -> None:
    a, b = _disc(200, 140, 20), _disc(231, 150, 15)
    win = step_window((H, W), (a, b), 3.0)
    assert win is not None
    grow = step_window_margin(3.0, W, H)
    assert grow == 52  # 10 % of 512, rounded up; 7·3 + 24 = 45 is less
    assert win.x0 % 2 == 0 and win.y0 % 2 == 0
    assert (win.x0, win.y0) == ((180 - grow) // 2 * 2, (120 - grow) // 2 * 2)
    assert (win.x1, win.y1) == (247 + grow, 166 + grow)
    assert step_window_margin(6.0, 512, 288) == 66  # the ring and the layers' near zone
    # clipped to the frame
    edge = step_window((H, W), (_disc(5, 5, 4),), 2.0)
    assert edge is not None and (edge.x0, edge.y0) == (0, 0)
    # nothing to hold, or most of the frame: the whole frame
    assert step_window((H, W), (np.zeros((H, W), bool),), 2.0) is None
    assert step_window((H, W), (_disc(256, 144, 120),), 2.0) is None


def test_motions_move_between_the_frame_and_the_window() -> None:
    win = StepWindow(40, 22, 300, 200)
    motion = np.array([[1.05, 0.02, 7.5], [-0.03, 0.97, -3.0]])
    point = np.array([150.0, 90.0, 1.0])
    moved = motion @ point
    inside = win.into(motion) @ (point - [40, 22, 0])
    assert np.allclose(inside, moved - [40, 22])
    assert np.allclose(win.out_of(win.into(motion)), motion)
    assert np.allclose(win.onto(motion) @ point, moved - [40, 22])
    frame = np.arange(H * W, dtype=np.float32).reshape(H, W)
    assert np.array_equal(win.crop(frame), frame[22:200, 40:300])
    pasted = win.paste(win.crop(frame), (H, W), -1.0)
    assert np.array_equal(pasted[22:200, 40:300], frame[22:200, 40:300])
    assert (pasted[:22] == -1).all() and (pasted[:, 300:] == -1).all()


def test_the_signed_distance_near_the_object_is_the_whole_frames() -> None:
    mask = _disc(200, 140, 30) | _disc(250, 120, 12)
    mask[130:150, 60:90] = True  # a second piece
    full = _signed_distance(mask)
    reach = fit_distance_reach()
    assert reach >= background_ring(6.0)[1]
    near = _signed_distance(mask, reach)
    ys, xs = np.nonzero(mask)
    box = (
        slice(max(0, ys.min() - reach), ys.max() + 1 + reach),
        slice(max(0, xs.min() - reach), xs.max() + 1 + reach),
    )
    # the same up to float rounding (the chamfer's sums are taken in another order at the
    # box's edges)
    assert np.abs(near[box] - full[box]).max() < 1e-4
    outside = np.ones((H, W), bool)
    outside[box] = False
    # beyond the box the whole frame's (chamfer) distance is past the widest ring too
    assert (near[outside] == -reach).all() and (full[outside] < -background_ring(6.0)[1]).all()
    # every reading the step makes of it agrees on the whole frame
    for t in (2.0, 6.0, 12.0, background_ring(6.0)[1]):
        assert np.array_equal(near > t, full > t)
        assert np.array_equal(near < -t, full < -t)
    assert np.array_equal(
        _signed_distance(np.zeros((H, W), bool), reach), _signed_distance(np.zeros((H, W), bool))
    )


def test_the_fit_on_a_window_holding_the_pixels_is_the_whole_frames_bit_for_bit() -> None:
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    flow = np.stack([0.02 * xx - 0.01 * yy + 3, 0.01 * xx + 0.03 * yy - 2], -1)
    flow += rng.normal(0, 0.5, flow.shape).astype(np.float32)
    signed = _signed_distance(_disc(230, 150, 40))
    ring = (signed < -9) & (signed > -33)
    for x0, y0 in ((150, 70), (151, 73), (155, 75)):  # whatever the subsample's stride
        win = StepWindow(x0, y0, 320, 240)
        got = _fit_affine(win.crop(flow), win.crop(ring), offset=(x0, y0))
        want = _fit_affine(flow, ring)
        assert got is not None and want is not None and np.array_equal(got, want)
    # a window that cuts the ring off is not the whole frame's fit
    cut = _fit_affine(flow[75:, 157:], ring[75:, 157:], offset=(157, 75))
    assert cut is not None and not np.array_equal(cut, _fit_affine(flow, ring))


def test_the_motion_evidence_on_a_window_is_the_whole_frames_away_from_its_edges() -> None:
    rng = np.random.default_rng(5)
    previous = cv2.GaussianBlur(rng.integers(0, 256, (H, W), dtype=np.uint8), (0, 0), 1.5)
    obj = np.array([[1.0, 0.0, 12.0], [0.0, 1.0, -5.0]])
    bg = np.array([[1.0, 0.0, -3.0], [0.0, 1.0, 1.0]])
    current = cv2.warpAffine(previous, bg, (W, H), borderMode=cv2.BORDER_REPLICATE)
    moved = cv2.warpAffine(previous, obj, (W, H), borderMode=cv2.BORDER_REPLICATE)
    body = _disc(250, 140, 35)
    current[body] = moved[body]
    full = _motion_llr(current, previous, obj, bg, (1.0, 0.9))
    win = StepWindow(160, 60, 350, 230)
    part = _motion_llr(current, previous, obj, bg, (1.0, 0.9), window=win)
    assert part.shape == (170, 190)
    # the 5×5 blur reflects at the window's edges: 2 px there differ
    assert np.array_equal(part[2:-2, 2:-2], win.crop(full)[2:-2, 2:-2])
    assert part[body[60:230, 160:350]].mean() > 2.0  # the object's pixels say "object"


def test_tracking_with_the_step_window_follows_the_whole_frames_masks() -> None:
    """On the synthetic fast object (an orbit at 30–50 px a frame under a panning camera, and
    one the camera follows) the window is used on every step, and the masks are those of the
    whole frame's steps (per-frame IoU between the two ≥ 0.97, mean J alike)."""
    import sam2matting.trackers.builtin as builtin

    used: list[StepWindow | None] = []
    original = builtin.step_window

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        win = original(*args, **kwargs)
        used.append(win)
        return win

    for path in ("ellipse", "follow"):
        frames, masks = fast_motion_clip(n=14, seed=3, path=path)
        runs = {}
        for on in (True, False):
            used.clear()
            builtin.step_window = spy
            try:
                session = build(step_window=on).open(ArraySource(frames))
                session.add_prompt(MaskPrompt(masks[0]))
                runs[on] = [f.objects[1].mask(H, W) for f in session.propagate(0)]
            finally:
                builtin.step_window = original
            if on:
                assert len(used) == len(frames) - 1 and all(w is not None for w in used)
            else:
                assert used == []
        agree = [jaccard(a, b) for a, b in zip(runs[True], runs[False], strict=True)]
        assert min(agree) >= 0.97, (path, agree)
        j_on = np.mean([jaccard(m, t) for m, t in zip(runs[True], masks, strict=True)])
        j_off = np.mean([jaccard(m, t) for m, t in zip(runs[False], masks, strict=True)])
        assert j_on > 0.85 and abs(j_on - j_off) < 0.02, (path, j_on, j_off)


def test_the_prior_blurred_on_the_window_is_the_whole_frames() -> None:
    """The step blurs the motion hypotheses' votes on the window only (``step_window``): the
    votes lie ``step_window_margin`` inside it, beyond the blur's reach (6.4 sigma), so the
    window's prior is the whole frame's bit for bit (to float rounding where the window meets
    the frame's right or bottom edge), and 0 beyond it."""
    for sigma, centre in ((1.0, (250, 140)), (6.0, (60, 50)), (3.5, (470, 250))):
        votes = 0.5 * (_disc(*centre, 30).astype(np.float32) + _disc(centre[0] + 9, centre[1], 30))
        win = step_window((H, W), (votes > 0,), sigma)
        assert win is not None
        full = cv2.GaussianBlur(votes, (0, 0), 1.6 * sigma)
        part = cv2.GaussianBlur(win.crop(votes), (0, 0), 1.6 * sigma)
        if win.x1 < W and win.y1 < H:
            assert np.array_equal(part, win.crop(full))
        else:  # OpenCV's border columns take another path: float rounding only
            assert np.abs(part - win.crop(full)).max() < 1e-6
        assert not win.paste(np.zeros(part.shape, bool), (H, W), True)[full > 0].any()
