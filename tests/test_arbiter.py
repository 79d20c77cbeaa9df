"""The edge arbiter (matting/arbiter.py) and its training (train/arbiter.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from sam2matting.eval import metrics as M
from sam2matting.matting.arbiter import EdgeArbiter, arbiter_inputs, arbitrate, load_arbiter
from sam2matting.matting.edge_refine import colour_line_refine, outline_crops


def _disc(h: int = 120, w: int = 160, r: float = 36.0) -> tuple[np.ndarray, np.ndarray]:
    """An anti-aliased textured disc over a textured background: uint8 RGB image, alpha."""
    s = 4
    yy, xx = np.mgrid[0 : h * s, 0 : w * s]
    big = ((yy - h * s / 2) ** 2 + (xx - w * s / 2) ** 2 < (r * s) ** 2).astype(np.float32)
    alpha = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(3)
    bg = np.stack(
        [0.2 + 0.1 * rng.random((h, w)), 0.5 + 0.1 * rng.random((h, w)), 0.8 * np.ones((h, w))], -1
    )
    fg = np.stack(
        [0.9 * np.ones((h, w)), 0.4 + 0.1 * rng.random((h, w)), 0.1 * np.ones((h, w))], -1
    )
    img = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return (img * 255).round().astype(np.uint8), alpha


def test_outline_crops_cover_every_marked_pixel_once() -> None:
    rng = np.random.default_rng(0)
    mark = rng.random((150, 230)) > 0.995
    seen = np.zeros(mark.shape, int)
    for (y0, y1, x0, x1), (cy0, cy1, cx0, cx1) in outline_crops(mark, 32, 5):
        assert cy0 == max(0, y0 - 5) and cy1 == min(150, y1 + 5)
        assert cx0 == max(0, x0 - 5) and cx1 == min(230, x1 + 5)
        seen[y0:y1, x0:x1] += 1
    assert seen.max() == 1  # cores never overlap
    assert np.all(seen[mark] == 1)


def test_blockwise_equals_whole_frame_and_keeps_agreeing_pixels() -> None:
    torch.manual_seed(0)
    net = EdgeArbiter(8).eval()
    for p in net.parameters():  # a random, non-trivial weight map
        torch.nn.init.normal_(p, std=0.3)
    image, alpha = _disc(200, 260)
    mask = (alpha > 0.5).astype(np.float32)
    crisp = colour_line_refine(image, mask, 2, 1e-4)
    learned = cv2.GaussianBlur(alpha, (0, 0), 1.5)
    learned[:, :40] = crisp[:, :40]  # a region where the two agree
    out = arbitrate(net, image, learned, crisp, mask, block=32)
    with torch.inference_mode():
        rgb = torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None]
        maps = [torch.from_numpy(m)[None, None] for m in (learned, crisp, mask)]
        whole = net.blend(arbiter_inputs(rgb, *maps))[0, 0].clamp(0, 1).numpy()
    differ = np.abs(learned - crisp) > 1e-4
    assert differ.sum() > 500
    assert np.abs(out - whole)[differ].max() < 1e-5
    agree = ~differ
    assert np.abs(out - learned)[agree].max() < 1e-4


def test_shipped_arbiter_keeps_a_right_hard_edge_hard() -> None:
    """Exact mask + a head answer with a 2 px halo: the arbiter's output has a far lower
    gradient error than the head's and stays close to the truth."""
    net = load_arbiter()
    image, alpha = _disc()
    mask = (alpha > 0.5).astype(np.float32)
    crisp = colour_line_refine(image, mask, 2, 1e-4)
    learned = colour_line_refine(
        image, np.clip(cv2.GaussianBlur(alpha, (0, 0), 1.6), 0, 1), 2, 1e-4
    )
    out = arbitrate(net, image, learned, crisp, mask)
    assert M.grad(out, alpha) < 0.6 * M.grad(learned, alpha)
    assert M.mad(out, alpha) < M.mad(learned, alpha)


def test_shipped_arbiter_keeps_soft_detail_the_mask_lacks() -> None:
    """A wide soft fringe (fur, blur) the binary mask cannot hold: the arbiter keeps the head's
    matte there, not the crisp mask."""
    net = load_arbiter()
    h, w = 120, 160
    xx = np.tile(np.arange(w, dtype=np.float32), (h, 1))
    alpha = np.clip((100 - xx) / 30.0, 0, 1)  # a 30 px linear fringe
    rng = np.random.default_rng(1)
    bg = np.stack([np.full((h, w), 0.1), np.full((h, w), 0.3), 0.7 + 0.05 * rng.random((h, w))], -1)
    fg = np.stack([np.full((h, w), 0.9), 0.6 + 0.05 * rng.random((h, w)), np.full((h, w), 0.2)], -1)
    image = ((alpha[..., None] * fg + (1 - alpha[..., None]) * bg) * 255).round().astype(np.uint8)
    mask = (alpha > 0.5).astype(np.float32)
    crisp = colour_line_refine(image, mask, 2, 1e-4)
    out = arbitrate(net, image, alpha.copy(), crisp, mask)
    fringe = (alpha > 0.1) & (alpha < 0.9)
    assert np.abs(out - alpha)[fringe].mean() < 0.5 * np.abs(crisp - alpha)[fringe].mean()


def test_missing_weights_is_a_clear_error(tmp_path) -> None:
    from sam2matting.errors import InputError

    with pytest.raises(InputError, match="arbiter weights not found"):
        load_arbiter(tmp_path / "none.safetensors")


def test_training_reduces_the_loss_on_synthetic_composites() -> None:
    from sam2matting.matting.registry import build_head
    from sam2matting.train.arbiter import ArbiterConfig, ArbiterSampler, make_samples, train_arbiter
    from sam2matting.train.data import DataConfig

    cfg = ArbiterConfig(samples=4, sizes=(96,), steps=200, batch=4, crop=40, width=8)
    sampler = ArbiterSampler(DataConfig(use_cutouts=False, video_bg_share=0.0), cfg)
    stage = build_head("sam2matting", temporal=0.0, edge_radius=0, arbiter=False)
    samples = make_samples(sampler, stage, cfg, progress=False)
    assert len(samples) == 4 and samples[0]["image"].shape == (96, 96, 3)
    net, curve = train_arbiter(samples, cfg, progress=False)
    assert len(curve) == 2 and curve[1] < curve[0]
    assert not any(p.requires_grad and p.grad is None for p in net.parameters())


def test_default_head_arbitrates_and_the_option_turns_it_off() -> None:
    from sam2matting.matting.registry import build_head
    from sam2matting.types import ObjectTrack

    on = build_head("sam2matting", temporal=0.0)
    off = build_head("sam2matting", temporal=0.0, arbiter=False)
    assert on.arbiter is not None and off.arbiter is None  # type: ignore[attr-defined]
    assert build_head("sam2matting", edge_radius=0).arbiter is None  # type: ignore[attr-defined]
    assert build_head("sam2matting", arbiter_strength=0.0).arbiter is None  # type: ignore[attr-defined]
    from sam2matting.errors import InputError

    with pytest.raises(InputError, match="arbiter_strength"):
        build_head("sam2matting", arbiter_strength=1.5)
    full = build_head("sam2matting", temporal=0.0, arbiter_strength=1.0)
    image, alpha = _disc(144, 256)
    track = {1: ObjectTrack(np.where(alpha > 0.5, 10.0, -10.0).astype(np.float32))}
    a_on, a_off = on.matte(image, track)[1], off.matte(image, track)[1]
    assert on.last_timings["arbiter"] >= 0  # type: ignore[attr-defined]
    # it acts only where the head's matte and the crisp mask differ
    mask = (alpha > 0.5).astype(np.float32)
    differ = np.abs(a_off - colour_line_refine(image, mask, 2, 1e-4)) > 1e-4
    assert differ.any() and not differ.all()
    assert np.abs(a_on - a_off)[~differ].max() <= 1e-4
    assert not np.array_equal(a_on[differ], a_off[differ])
    # the default strength goes half way from the head's matte to the arbiter's answer
    a_full = full.matte(image, track)[1]
    assert np.abs(a_on - (a_off + 0.5 * (a_full - a_off))).max() < 1e-5
    assert M.mad(a_on, alpha) <= 1.5 * M.mad(a_off, alpha)
