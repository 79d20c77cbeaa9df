"""The built-in tracker's graph cut in a band around the propagated mask
(:mod:`sam2matting.trackers.builtin_refine`), as functions on synthetic frames and through
the tracker."""

from __future__ import annotations

import numpy as np
import pytest

from sam2matting.errors import Sam2MattingError
from sam2matting.eval.metrics import jaccard
from sam2matting.io.readers import ArraySource
from sam2matting.trackers.builtin import build
from sam2matting.trackers.builtin_refine import (
    band_pixels,
    cut_addition_floor,
    graph_cut_band,
    merge_cut,
    refine_band,
)
from sam2matting.types import MaskPrompt


def _noisy(image: np.ndarray, seed: int, sd: float = 5.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image + rng.normal(0, sd, image.shape), 0, 255).astype(np.uint8)


def _disc(h: int, w: int, cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def _red_disc_on_green(h: int = 80, w: int = 100) -> tuple[np.ndarray, np.ndarray]:
    truth = _disc(h, w, 50, 40, 20)
    image = np.empty((h, w, 3), np.float64)
    image[:] = (40, 150, 60)
    image[truth] = (200, 40, 40)
    return _noisy(image, 0), truth


def test_graph_cut_moves_a_boundary_that_is_off_by_two_pixels_onto_the_edge() -> None:
    image, truth = _red_disc_on_green()
    h, w = truth.shape
    for wrong in (_disc(h, w, 50, 40, 18), _disc(h, w, 50, 40, 22), _disc(h, w, 52, 40, 20)):
        cut = graph_cut_band(image, wrong, band=3)
        assert cut is not None
        assert jaccard(wrong, truth) < 0.93
        assert jaccard(cut, truth) > 0.98


def test_graph_cut_changes_nothing_outside_its_band() -> None:
    image, truth = _red_disc_on_green()
    h, w = truth.shape
    wrong = _disc(h, w, 50, 40, 12)  # 8 px short of the edge: beyond a 3-px band
    cut = graph_cut_band(image, wrong, band=3)
    assert cut is not None
    ring = _disc(h, w, 50, 40, 16) & ~_disc(h, w, 50, 40, 8)
    assert not (cut ^ wrong)[~ring].any()
    assert not cut[~_disc(h, w, 50, 40, 15)].any()  # it cannot reach the real edge


def test_graph_cut_needs_a_mask_and_sure_pixels_on_both_sides() -> None:
    image, truth = _red_disc_on_green()
    assert graph_cut_band(image, np.zeros_like(truth), band=3) is None
    assert graph_cut_band(image, np.ones_like(truth), band=3) is None  # no background
    speck = np.zeros_like(truth)
    speck[40, 50] = True  # one pixel: no sure object pixels after the erosion
    assert graph_cut_band(image, speck, band=1) is None
    with pytest.raises(ValueError, match="band"):
        graph_cut_band(image, truth, band=0)


def test_merge_cut_keeps_additions_and_confirms_removals_by_colour() -> None:
    before = np.array([[1, 1, 1, 0, 0, 0]], bool)
    cut = np.array([[1, 0, 0, 1, 1, 0]], bool)
    floor = cut_addition_floor()
    colour = np.array([[0.0, -1.0, 2.0, -1.0, -floor, -4.0]], np.float32)
    merged = merge_cut(before, cut, colour)
    # kept; removed (background colours); kept (object colours outvote the cut); added
    # (colours merely disfavoured); refused (colours certainly background); untouched
    assert merged.tolist() == [[True, False, True, True, False, False]]


def test_refine_band_gives_decided_pixels_clear_log_odds() -> None:
    image, truth = _red_disc_on_green()
    h, w = truth.shape
    wrong = _disc(h, w, 50, 40, 18)
    logits = np.where(wrong, 3.0, -3.0).astype(np.float32)
    logits[0, 0] = -0.2  # far from the object: sure background, now decided
    colour = np.where(truth, 3.0, -3.0).astype(np.float32)
    out = refine_band(image, logits, colour, band=3)
    assert out.dtype == np.float32 and out.shape == logits.shape
    assert jaccard(out > 0, truth) > 0.98
    added = (out > 0) & ~wrong
    assert added.any() and (out[added] >= 1.0).all()
    assert out[0, 0] == -1.0
    assert (out[~(out > 0)] <= -1.0).all()
    empty = np.full_like(logits, -5.0)
    assert refine_band(image, empty, colour, band=3) is empty


def _growing_object_clip(n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A red block whose right end comes into view 2 px a frame in a dark red the first
    frame never showed (a turning object's shadowed side); 512 px wide, the working
    resolution the band is set for."""
    h, w = 192, 512
    frames, truths = [], []
    for t in range(n):
        image = np.empty((h, w, 3), np.float64)
        image[:] = (40, 140, 60)
        truth = np.zeros((h, w), bool)
        truth[60:130, 100 : 180 + 2 * t] = True
        image[60:130, 100:180] = (200, 40, 40)
        image[60:130, 180 : 180 + 2 * t] = (110, 20, 20)
        frames.append(_noisy(image, t))
        truths.append(truth)
    return frames, truths


def _track_j(frames: list[np.ndarray], truths: list[np.ndarray], **options: object) -> list[float]:
    session = build(**options).open(ArraySource(frames))
    session.add_prompt(MaskPrompt(truths[0], frame=0, object_id=1))
    out = [jaccard(f.objects[1].logits > 0, truths[f.index]) for f in session.propagate(0)]
    session.close()
    return out


def test_a_part_in_colours_the_anchor_never_saw_is_kept_by_the_cut() -> None:
    frames, truths = _growing_object_clip(16)
    without = _track_j(frames, truths, graph_cut_band=0)
    with_cut = _track_j(frames, truths)  # on by default
    assert without[-1] < 0.8  # the anchor's colours and the warp alone leave the new part out
    assert min(with_cut) > 0.95 and with_cut[-1] > 0.98


def test_band_scales_with_the_working_resolution() -> None:
    assert band_pixels(3, 512, 288) == 3
    assert band_pixels(3, 1024, 576) == 6
    assert band_pixels(3, 100, 80) == 1  # never below a pixel
    assert band_pixels(0, 1024, 576) == 0  # off stays off


def test_graph_cut_band_option_is_checked() -> None:
    with pytest.raises(Sam2MattingError, match="graph_cut_band"):
        build(graph_cut_band=-1)


def test_cut_band_grows_with_the_object() -> None:
    from sam2matting.trackers.builtin import cut_band

    assert cut_band(3, 1.0, 2.0) == 3  # small object: the configured band
    assert cut_band(3, 4.0, 2.0) == 8  # large object: two boundary sigmas
    assert cut_band(3, 4.0, 0.0) == 3  # size-relative part off
    assert cut_band(0, 4.0, 2.0) == 0  # graph cut off stays off


@pytest.mark.shared_data
def test_a_large_object_gets_back_parts_missed_far_inside(shared_data) -> None:
    """DAVIS ``dog`` (a tuning sequence) from its true first mask: the chained losses the
    error anatomy found are parts missed more than a 3-px band from the boundary (its shadowed
    side); a band of two boundary sigmas (~8 px on the dog) takes them back, on every stretch
    of the clip."""
    from sam2matting.eval.datasets import read_davis

    (clip,) = read_davis(shared_data / "davis", ["dog"])
    with clip.source() as src:
        frames = [im for _, im in src.iter_frames(0, None)]
    truth = [clip.read_ground_truth(i)[1][1] for i in range(len(frames))]
    means = {}
    for sigmas in (0.0, 2.0):
        session = build(graph_cut_sigmas=sigmas).open(ArraySource(frames))
        session.add_prompt(MaskPrompt(truth[0]))
        js = [
            jaccard(f.objects[1].mask(*truth[0].shape), truth[f.index])
            for f in session.propagate(0)
        ]
        means[sigmas] = [float(np.mean(js[a : a + 20])) for a in (1, 21, 41)]
    assert all(w > n + 0.005 for w, n in zip(means[2.0], means[0.0])), means
    assert np.mean(means[2.0]) > 0.83, means
