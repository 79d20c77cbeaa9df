"""Composite benchmark builder: exact ground truth, determinism, the train/eval split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sam2matting.eval import synth
from sam2matting.eval.datasets import read_rvm


def test_dev_split_is_in_one_place(shared_data: Path) -> None:
    train = synth.training_foregrounds(shared_data / "matting")
    everything = sorted(p.name for p in (shared_data / "matting").iterdir() if p.is_dir())
    assert not set(train) & set(synth.DEV_FOREGROUNDS)
    assert sorted([*train, *synth.DEV_FOREGROUNDS]) == everything
    specs = synth.dev_benchmark_specs(0)
    used = {s.foreground for ss in specs.values() for s in ss}
    assert used <= set(synth.DEV_FOREGROUNDS)
    assert {s.foreground for s in specs["512x288"]} == set(synth.DEV_FOREGROUNDS)
    assert [(len(v), v[0].num_frames, v[0].width) for v in specs.values()] == [
        (10, 100, 512),
        (3, 30, 1920),
    ]


def test_line_kernel() -> None:
    assert synth._line_kernel(0.3, 0.2) is None
    k = synth._line_kernel(6.0, 0.0)
    assert k is not None and k.sum() == pytest.approx(1.0)
    assert np.allclose(k, k[::-1, ::-1], atol=1e-6)  # symmetric about the centre
    assert k[k.shape[0] // 2, :].sum() > 0.5  # a horizontal displacement blurs along the row
    assert (k.sum(axis=0) > 0).sum() >= 6  # over about 6 px


def test_premultiplied_cutouts_and_cut_edges(shared_data: Path) -> None:
    c = synth.load_cutout(shared_data / "matting" / "gfm_2")
    assert c.premultiplied.shape[:2] == c.alpha.shape
    assert (c.premultiplied <= c.alpha[..., None] + 1e-6).all()
    assert "bottom" in c.cut_edges
    photo = synth.load_cutout(
        shared_data / "matting" / "am2k_sample11"
    )  # straight photo → estimated F
    assert (photo.premultiplied[photo.alpha == 0] == 0).all()


@pytest.mark.parametrize("difficulty", ["easy", "hard"])
def test_render_is_exact_and_deterministic(
    shared_data: Path, tmp_path: Path, difficulty: str
) -> None:
    spec = synth.ClipSpec(
        "c", "gfm_2", "davis/blackswan", 128, 72, 4, difficulty, seed=3, bg_start=48
    )
    frames = list(synth.render_frames(spec, shared_data))
    again = list(synth.render_frames(spec, shared_data))
    assert len(frames) == 4  # 48, 49 then ping-pong back: 48, 47
    for (comp, a8, fgr, bgr), (comp2, a82, _, _) in zip(frames, again, strict=True):
        assert np.array_equal(comp, comp2) and np.array_equal(a8, a82)
        assert a8.dtype == np.uint8 and comp.shape == (72, 128, 3)
        a = a8.astype(np.float32)[..., None] / 255
        # the composite is F·α + (1 − α)·B with the written α (up to 8-bit rounding of F and B)
        recon = fgr.astype(np.float32) * a + (1 - a) * bgr.astype(np.float32)
        assert np.abs(recon - comp.astype(np.float32)).max() <= 1.6
        assert 0 < (a8 > 127).mean() < 1
    other = list(synth.render_frames(synth.scaled_spec(spec, seed=4), shared_data))
    assert not np.array_equal(other[0][1], frames[0][1])


def test_build_and_manifest(shared_data: Path, tmp_path: Path) -> None:
    specs = [
        synth.ClipSpec(
            "a", "p3m_p_07141906", "videos/bedroom.mp4", 96, 54, 3, "medium", seed=0, bg_start=10
        ),
        synth.ClipSpec("b", "gfm_1", "davis/dog", 96, 54, 2, "hard", seed=0),
    ]
    out = synth.build_benchmark(specs, shared_data, tmp_path / "b1")
    out2 = synth.build_benchmark(specs, shared_data, tmp_path / "b2")
    assert (out / "SHA256SUMS").read_text() == (out2 / "SHA256SUMS").read_text()
    assert synth.verify_manifest(out) == []
    bench = read_rvm(out)
    assert [c.name for c in bench] == ["a", "b"]
    clip = bench.clips[0]
    assert len(clip) == 3
    first = clip.first_frame_masks()[1]
    assert np.array_equal(first, next(clip.iter_frames()).masks[1])  # mask/ = α > 0.5 on frame 0
    (out / "a" / "pha" / "0001.png").write_bytes(b"broken")
    assert synth.verify_manifest(out) == ["a/pha/0001.png"]
