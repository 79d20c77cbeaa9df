"""Training: synthetic data and mask simulation, losses, the tiny-run mode of ``sam2matting
train``, determinism and exact resume, export to loadable weights."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sam2matting.train.data import (
    CompositeSampler,
    DataConfig,
    procedural_background,
    simulate_tracker_mask,
    synthetic_foreground,
)
from sam2matting.train.loop import TrainConfig, ground_truth_roi_batch, train
from sam2matting.train.losses import (
    alpha_loss,
    consistency_loss,
    dice_loss,
    focal_loss,
    laplacian_loss,
    roi_loss,
)


def _tiny_data(tmp_path: Path) -> DataConfig:
    return DataConfig(
        cache_dir=str(tmp_path / "cache"),
        crop=64,
        native_ratios=(1.0, 2.0),
        use_cutouts=False,
        video_bg_share=0.0,
        distractor_share=0.0,
    )


def _tiny_train(tmp_path: Path, out: str, steps: int, **kw: object) -> TrainConfig:
    return TrainConfig(
        out_dir=str(tmp_path / out),
        model="tiny",
        steps=steps,
        batch_size=2,
        warmup=1,
        checkpoint_every=100,
        log_every=1,
        refine_tiles=8,
        progress=False,
        prefetch=False,
        data=_tiny_data(tmp_path),
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("kind", ["hair", "fur", "transparent", "motion", "hard", "wires"])
def test_synthetic_foregrounds_are_valid_layers(kind: str) -> None:
    rng = np.random.default_rng(0)
    premult, alpha, name = synthetic_foreground(rng, 96, kind)
    assert name == f"synthetic:{kind}"
    assert premult.shape == (96, 96, 3) and alpha.shape == (96, 96)
    assert alpha.min() >= 0 and alpha.max() <= 1
    assert (premult <= alpha[..., None] + 1e-6).all()  # premultiplied: colour ≤ alpha
    soft = ((alpha > 0.02) & (alpha < 0.98)).mean()
    assert soft > 0.005  # every kind has matting-critical (soft) pixels


def test_background_and_mask_simulation() -> None:
    rng = np.random.default_rng(1)
    bg = procedural_background(rng, 64)
    assert bg.shape == (64, 64, 3) and bg.min() >= 0 and bg.max() <= 1
    alpha = np.zeros((64, 64), np.float32)
    alpha[16:48, 16:48] = 1.0
    alpha[14:16, 16:48] = 0.4
    masks = [simulate_tracker_mask(alpha, np.random.default_rng(s)) for s in range(20)]
    assert all(set(np.unique(m)) <= {0.0, 1.0} and m.any() for m in masks)
    assert any(not np.array_equal(m, alpha > 0.5) for m in masks)  # most are imperfect


def test_sampler_is_deterministic_in_seed_and_step(tmp_path: Path) -> None:
    s1 = CompositeSampler(_tiny_data(tmp_path), seed=3)
    s2 = CompositeSampler(_tiny_data(tmp_path), seed=3)
    a, b = s1.batch(5, 2), s2.batch(5, 2)
    assert np.array_equal(a.native, b.native) and np.array_equal(a.mask, b.mask)
    c = s1.batch(6, 2)
    assert not np.array_equal(a.image, c.image) if a.image.shape == c.image.shape else True
    assert a.image.shape == (2, 64, 64, 3) and a.native.shape[1] in (64, 128)
    # the working image is the area-downscaled native composite
    assert a.native.dtype == np.uint8 and a.alpha.dtype == np.float32


def test_sampler_refuses_dev_cutouts_and_davis(tmp_path: Path) -> None:
    from sam2matting.errors import InputError

    cfg = DataConfig(
        data_root=str(tmp_path),
        cache_dir=str(tmp_path),
        use_cutouts=False,
        background_videos=("davis/dog",),
    )
    with pytest.raises(InputError, match="DAVIS"):
        CompositeSampler(cfg)


def test_losses_vanish_for_perfect_predictions() -> None:
    torch.manual_seed(0)
    t = (torch.rand(2, 1, 32, 32) > 0.5).float()
    assert float(focal_loss(t.clamp(1e-6, 1 - 1e-6), t)) < 1e-4
    assert float(dice_loss(t, t)) < 1e-2
    assert float(laplacian_loss(t, t)) == 0.0
    a = torch.rand(2, 1, 64, 64)
    alphas = tuple(torch.nn.functional.adaptive_avg_pool2d(a, s) for s in (8, 16, 32))
    total, parts = alpha_loss(alphas, a)
    assert float(total) < 1e-5 and len(parts) == 3
    assert float(consistency_loss(t, t)) < 0.05
    assert float(roi_loss(torch.where(t > 0.5, 20.0, -20.0), t)) < 1e-4
    assert float(roi_loss(torch.zeros_like(t), t)) > 0.1


def test_ground_truth_roi_covers_soft_pixels_and_mask_errors() -> None:
    alpha = np.zeros((1, 40, 40), np.float32)
    alpha[0, 10:30, 10:30] = 1.0
    alpha[0, 10:30, 30] = 0.3
    mask = (alpha > 0.5).astype(np.float32)
    mask[0, 0:4, 0:4] = 1.0  # a spurious blob far from the object
    roi = ground_truth_roi_batch(alpha, mask, radius=2)
    assert roi[0, 20, 30] == 1 and roi[0, 1, 1] == 1 and roi[0, 20, 20] == 0


def test_tiny_training_runs_resumes_exactly_and_exports(tmp_path: Path) -> None:
    straight = train(_tiny_train(tmp_path, "a", steps=3), resume=False)
    assert straight.step == 3
    log = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in log)
    # 2 steps, stop, resume for the 3rd: identical weights to the straight run
    first = train(_tiny_train(tmp_path, "b", steps=3, stop_after=2), resume=False)
    assert first.step == 2 and first.stopped_early
    resumed = train(_tiny_train(tmp_path, "b", steps=3), resume=True)
    assert resumed.step == 3
    sa = torch.load(straight.checkpoint, weights_only=False)["net"]
    sb = torch.load(resumed.checkpoint, weights_only=False)["net"]
    for k in sa:
        assert torch.allclose(sa[k].float(), sb[k].float(), atol=1e-6), k

    from sam2matting.matting.weights import load_network
    from sam2matting.train.loop import export_weights

    manifest = export_weights(straight.checkpoint, tmp_path / "tiny.safetensors", command="test")
    assert manifest["trained_steps"] == 3 and manifest["seed"] == 0
    assert load_network(str(tmp_path / "tiny.safetensors")).config.name == "tiny"


def test_train_cli_tiny_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sam2matting.train import cli

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli.add_parser(sub)
    out = tmp_path / "run"
    args = parser.parse_args(
        [
            "train",
            "--tiny",
            "--quiet",
            "--out",
            str(out),
            "--export",
            str(tmp_path / "w.safetensors"),
        ]
    )
    assert cli.run(args) == 0
    assert (out / "last.pt").is_file() and (tmp_path / "w.json").is_file()
    assert "exported" in capsys.readouterr().out
    assert (
        cli.main(["--tiny", "--quiet", "--out", str(out), "--time-schedule"]) == 2
    )  # needs --max-minutes


def test_mask_noise_levels_and_fine_tuning_from_a_checkpoint(tmp_path: Path) -> None:
    from sam2matting.errors import InputError

    alpha = np.zeros((64, 64), np.float32)
    alpha[16:48, 16:48] = 1.0
    mild = [simulate_tracker_mask(alpha, np.random.default_rng(s), "mild") for s in range(20)]
    heavy = [simulate_tracker_mask(alpha, np.random.default_rng(s), "heavy") for s in range(20)]
    err = lambda ms: np.mean([np.mean(m != (alpha > 0.5)) for m in ms])  # noqa: E731
    assert err(mild) < err(heavy)
    with pytest.raises(InputError, match="mask noise"):
        simulate_tracker_mask(alpha, np.random.default_rng(0), "extreme")
    first = train(_tiny_train(tmp_path, "a", steps=2), resume=False)
    tuned = train(
        _tiny_train(tmp_path, "b", steps=1, init_from=str(first.checkpoint)), resume=False
    )
    sa = torch.load(first.checkpoint, weights_only=False)["net"]
    sb = torch.load(tuned.checkpoint, weights_only=False)["net"]
    # one step away from the initial weights, not from a random init
    k = "predictor.stages.0.head.out.weight"
    assert torch.allclose(sa[k], sb[k], atol=0.05) and not torch.equal(sa[k], sb[k])


def test_hybrid_heads_train_from_a_plain_checkpoint(tmp_path: Path) -> None:
    """``--model compact-guided --init-from <plain run>``: the prior's new input channels start
    at zero (the widened layers keep the old weights), then training moves them."""
    plain = train(_tiny_train(tmp_path, "plain", steps=1), resume=False)
    hybrid = train(
        dataclasses.replace(
            _tiny_train(tmp_path, "hybrid", steps=2, init_from=str(plain.checkpoint)),
            model="tiny-guided",
        ),
        resume=False,
    )
    sa = torch.load(plain.checkpoint, weights_only=False)["net"]
    sb = torch.load(hybrid.checkpoint, weights_only=False)["net"]
    k = "predictor.stages.2.body.0.conv.weight"  # ConvTranspose: in-channels first
    assert sb[k].shape[0] == sa[k].shape[0] + 1
    assert torch.allclose(sa[k], sb[k][:-1], atol=0.05)
    assert float(sb[k][-1].abs().max()) > 0.0  # the prior's weights were trained
    log = [json.loads(x) for x in (tmp_path / "hybrid" / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in log)
