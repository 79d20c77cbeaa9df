"""The built-in tracker's learned refiner (trackers.builtin_learned, train.propagation_refiner)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2matting.errors import Sam2MattingError
from sam2matting.io.readers import ArraySource
from sam2matting.trackers.builtin import build
from sam2matting.trackers.builtin_learned import (
    PropagationRefiner,
    load_refiner,
    refine_band_pixels,
    refine_logits,
    refiner_band,
)
from sam2matting.types import MaskPrompt


def _random_net(seed: int = 0) -> PropagationRefiner:
    torch.manual_seed(seed)
    net = PropagationRefiner()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.3)
    return net.eval()


def _square_scene(h: int = 96, w: int = 160, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured background with an orange square (hard edges); its exact mask shifted."""
    rng = np.random.default_rng(3)
    img = (rng.normal(0, 8, (h, w, 3)) + np.array([60, 110, 150])).clip(0, 255).astype(np.uint8)
    img[30:70, 50:100] = (230, 120, 30)
    mask = np.zeros((h, w), np.float32)
    mask[30:70, 50 + shift : 100 + shift] = 1.0
    return img, mask


def test_blocks_equal_the_whole_frame_and_only_the_band_changes() -> None:
    net = _random_net()
    rng = np.random.default_rng(0)
    h, w = 150, 211  # odd sides: the crops' half-resolution grid must still line up
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    prev = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    prob = (((yy - 70) ** 2 + (xx - 100) ** 2) < 45**2).astype(np.float32)
    logits = np.where(prob > 0.5, 12.0, -12.0).astype(np.float32)
    blocks = refine_logits(net, rgb, prob, prev, prob, logits, 6, block=32)
    whole = refine_logits(net, rgb, prob, prev, prob, logits, 6, block=1024)
    assert np.abs(blocks - whole).max() < 1e-4
    band = refiner_band(prob, 6)
    assert not np.array_equal(blocks[band], logits[band])
    np.testing.assert_array_equal(blocks[~band], logits[~band])


def test_the_refiner_only_adds_to_the_mask() -> None:
    """Grow-only (the default): the tracker's logits are raised, never lowered; two-sided, the
    same net lowers some (what made every two-sided variant shrink the mask on DAVIS)."""
    net = _random_net(1)
    rng = np.random.default_rng(1)
    h, w = 96, 128
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    prob = (((yy - 48) ** 2 + (xx - 64) ** 2) < 30**2).astype(np.float32)
    logits = np.where(prob > 0.5, 3.0, -3.0).astype(np.float32)
    grown = refine_logits(net, rgb, prob, rgb, prob, logits, 4)
    both = refine_logits(net, rgb, prob, rgb, prob, logits, 4, grow_only=False)
    assert (grown >= logits).all() and (grown > logits).any()
    assert (both < logits).any()
    np.testing.assert_array_equal(grown, np.maximum(both, logits))


def test_shipped_weights_load_and_pull_a_shifted_mask_onto_the_edge() -> None:
    """The tracker's re-fit drifted 2 px off a hard edge (its usual soft ramp) while the mask
    the flow moved from the previous frame is right: the refiner pulls it back."""
    import cv2

    net = load_refiner()
    img, truth = _square_scene()
    for shift in (-2, 2):
        _, shifted = _square_scene(shift=shift)
        prob = cv2.GaussianBlur(shifted, (0, 0), 1.5)
        logits = np.log(np.clip(prob, 1e-5, 1 - 1e-5) / np.clip(1 - prob, 1e-5, 1)).astype(
            np.float32
        )
        out = refine_logits(net, img, prob, img, truth, logits, refine_band_pixels(160, 96))

        def iou(m: np.ndarray) -> float:
            return float((m & (truth > 0.5)).sum() / (m | (truth > 0.5)).sum())

        assert iou(out > 0) > iou(prob > 0.5) + 0.015


def _clip(n: int = 5) -> np.ndarray:
    frames = []
    for t in range(n):
        img, _ = _square_scene()
        frames.append(np.roll(img, 2 * t, axis=1))
    return np.stack(frames)


def test_tracker_option_on_and_off() -> None:
    frames = _clip()
    _, first = _square_scene()
    outs = {}
    for on in (False, True):
        tracker = build(learned_refine=on)
        with tracker.open(ArraySource(frames)) as session:
            session.add_prompt(MaskPrompt(first > 0.5))
            outs[on] = [tf.objects[1].logits.copy() for tf in session.propagate(0)]
    np.testing.assert_array_equal(outs[False][0], outs[True][0])  # the anchor is untouched
    assert any(not np.array_equal(a, b) for a, b in zip(outs[False][1:], outs[True][1:]))
    # with the refiner the square is still tracked (it moves 2 px a frame)
    last = outs[True][-1] > 0
    assert abs(int(np.nonzero(last.any(0))[0].min()) - 58) <= 2


def test_missing_weights_is_a_one_line_error(tmp_path) -> None:
    with pytest.raises(Sam2MattingError) as err:
        build(learned_refine=True, refiner_weights=str(tmp_path / "none.safetensors")).open(
            ArraySource(_clip(2))
        )
    assert "refiner weights not found" in str(err.value) and "\n" not in str(err.value)


def test_training_steps_lower_the_loss() -> None:
    from sam2matting.train.data import CompositeSampler, DataConfig
    from sam2matting.train.propagation_refiner import (
        RefinerConfig,
        _windows,
        make_clips,
        refiner_loss,
        train_refiner,
    )

    torch.set_num_threads(1)
    cfg = RefinerConfig(
        frames=3, width=128, height=96, steps=40, batch=8, crop=32, lr=1e-2, cutout_share=0
    )
    sampler = CompositeSampler(DataConfig(use_cutouts=False, video_bg_share=0), seed=0)
    clips = make_clips(sampler, cfg, 3, 0, progress=False)
    x, gt, w = _windows(clips, np.random.default_rng(5), 16, cfg.crop, refine_band_pixels(128, 96))
    net = PropagationRefiner()
    with torch.no_grad():
        before = float(refiner_loss(net, x, gt, w))
    net, curve = train_refiner(clips, cfg, net=net, progress=False)
    with torch.no_grad():
        after = float(refiner_loss(net, x, gt, w))
    assert after < before and len(curve) == 1


def test_thin_lines_stay_out_of_the_refined_body() -> None:
    """With ``thin_structures`` the refiner corrects the body only and the lines are drawn after
    it: refining the output (lines included) made its answer the mask the next frame warps, so
    the lines leaked into the body (or were cut: DAVIS kite-surf 0.784 -> 0.631)."""
    import cv2

    from sam2matting.eval.thin_clips import HEIGHT, WIDTH, thin_line_clip

    clip = thin_line_clip(n=6, seed=0)
    session = build(learned_refine=True).open(ArraySource(clip.frames))
    session.add_prompt(MaskPrompt(clip.masks[0]))
    masks = [f.objects[1].mask(HEIGHT, WIDTH) for f in session.propagate(0)]
    prob = session._cursor.states[1].prob  # what the next frame would warp
    size = (prob.shape[1], prob.shape[0])
    body = clip.masks[-1] & ~clip.thin[-1]
    body = cv2.resize(body.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    body = cv2.dilate(body, np.ones((7, 7), np.uint8)) > 0
    lines = (
        cv2.resize(clip.thin[-1].astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.3
    ) & ~body
    assert lines.sum() > 50
    # the lines are in the output, not in the state
    assert (masks[-1] & clip.thin[-1]).sum() > 0.6 * clip.thin[-1].sum()
    assert (prob[lines] > 0.5).mean() < 0.2, (prob[lines] > 0.5).mean()
