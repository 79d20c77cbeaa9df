"""End to end: a generated clip with known alpha → matte_video → every output format, read back."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from sam2matting import Box, MaskPrompt, MattingSession, Points, matte_image, matte_video
from sam2matting.samples import SampleClip, make_sample_clip, write_sample_video

W, H, N, FPS = 192, 108, 10, 24
#: MAD (×1e-3) of the built-in tracker + default head against the known matte, from a box prompt
MAD_BOUND = 25.0
ALL_FORMATS = ("alpha-png", "rgba-png", "premul-png", "prores", "webm", "alpha-mp4", "composite")


@pytest.fixture(scope="module")
def clip() -> SampleClip:
    return make_sample_clip(W, H, N, fps=FPS)


@pytest.fixture(scope="module")
def video(clip: SampleClip, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_video(clip, tmp_path_factory.mktemp("in") / "sample.mp4")


@pytest.fixture(scope="module")
def run_all(clip: SampleClip, video: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("out")
    seen: dict[int, np.ndarray] = {}
    before = video.read_bytes()
    result = matte_video(
        video,
        [Box(*clip.box(0))],
        out,
        formats=ALL_FORMATS,
        progress=False,
        on_frame=lambda r: seen.__setitem__(r.index, r.alphas[1].copy()),
    )
    assert video.read_bytes() == before, "the input was modified"
    return result, seen, out


def test_outputs_keep_rate_count_size_and_audio(run_all) -> None:
    from sam2matting.io.writers import probe

    result, _, out = run_all
    assert result.num_frames == N
    for (obj, fmt), path in result.paths.items():
        assert obj == 1 and path.exists()
        info = probe(path)
        assert (info.width, info.height) == (W, H), fmt
        assert info.num_frames == N, fmt
        if info.kind == "video":  # PNG sequences carry no rate
            assert Fraction(info.fps) == FPS, fmt
        if fmt in ("prores", "webm", "composite"):
            assert info.has_audio, f"{fmt} lost the audio"
    # nothing but the final outputs is left in the folder
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert not leftovers


@pytest.mark.parametrize(
    "fmt,tolerance",
    [
        ("alpha-png", 0.0),
        ("rgba-png", 0.0),
        ("premul-png", 0.0),
        ("prores", 1.0 / 1023 + 1e-6),  # 10-bit alpha
        ("webm", 6.0 / 255),  # lossy VP9 alpha plane: bound on the mean error
        ("alpha-mp4", 6.0 / 255),  # lossy H.264 luma: bound on the mean error
    ],
)
def test_alpha_reads_back(run_all, fmt: str, tolerance: float) -> None:
    from sam2matting.io.writers import read_alpha_frames

    result, seen, _ = run_all
    frames = list(read_alpha_frames(result.paths[(1, fmt)]))
    assert len(frames) == N
    for i, back in enumerate(frames):
        written = np.round(seen[i] * 255) / 255
        if fmt == "prores":
            assert np.abs(back - seen[i]).max() <= tolerance
        elif tolerance == 0.0:
            np.testing.assert_array_equal(np.round(back * 255), np.round(written * 255))
        else:
            assert np.abs(back - written).mean() <= tolerance


def test_matte_is_close_to_known_alpha(clip: SampleClip, run_all) -> None:
    _, seen, _ = run_all
    mad = 1e3 * np.mean([np.abs(seen[i] - clip.alpha(i)).mean() for i in range(N)])
    assert mad < MAD_BOUND, f"MAD {mad:.2f} ≥ {MAD_BOUND}"


def test_prompt_on_later_frame_tracks_backward(clip: SampleClip) -> None:
    frames = [clip.frame(t)[0] for t in range(N)]
    with MattingSession(frames) as session:
        session.add_prompt(MaskPrompt(clip.alpha(6) > 0.5, frame=6))
        results = list(session.propagate())
    assert [r.index for r in results] == list(range(N))
    for r in results:
        truth = clip.alpha(r.index) > 0.5
        pred = r.alphas[1] > 0.5
        iou = (truth & pred).sum() / max((truth | pred).sum(), 1)
        assert iou > 0.7, f"frame {r.index}: IoU {iou:.2f}"


def test_no_backward_leaves_earlier_frames_empty(clip: SampleClip) -> None:
    frames = [clip.frame(t)[0] for t in range(4)]
    with MattingSession(frames) as session:
        session.add_prompt(MaskPrompt(clip.alpha(2) > 0.5, frame=2))
        results = list(session.propagate(backward=False))
    assert not results[0].alphas[1].any() and results[2].alphas[1].any()


def test_two_objects_and_combined(tmp_path: Path) -> None:
    # two discs of different colours moving apart
    h, w, n = 96, 160, 6
    yy, xx = np.mgrid[0:h, 0:w]
    frames, truths = [], []
    for t in range(n):
        img = np.full((h, w, 3), 40, np.uint8)
        a = (xx - (40 - 2 * t)) ** 2 + (yy - 48) ** 2 < 15**2
        b = (xx - (110 + 2 * t)) ** 2 + (yy - 48) ** 2 < 15**2
        img[a] = (230, 60, 40)
        img[b] = (40, 200, 230)
        frames.append(img)
        truths.append((a, b))
    result = matte_video(
        np.stack(frames),
        [Box(20, 28, 60, 68, object_id=1), Points(((110.0, 48.0),), (1,), object_id=2)],
        tmp_path,
        formats=["alpha-png"],
        combined=True,
        progress=False,
    )
    assert set(result.paths) == {(1, "alpha-png"), (2, "alpha-png"), (None, "alpha-png")}
    from sam2matting.io.writers import read_alpha_frames

    last_1 = list(read_alpha_frames(result.paths[(1, "alpha-png")]))[-1] > 0.5
    last_2 = list(read_alpha_frames(result.paths[(2, "alpha-png")]))[-1] > 0.5
    both = list(read_alpha_frames(result.paths[(None, "alpha-png")]))[-1] > 0.5
    a, b = truths[-1]
    assert (last_1 & a).sum() / (last_1 | a).sum() > 0.8
    assert (last_2 & b).sum() / (last_2 | b).sum() > 0.8
    assert not (last_1 & last_2).any()
    np.testing.assert_array_equal(both, last_1 | last_2)


def test_matte_image(clip: SampleClip, tmp_path: Path) -> None:
    from PIL import Image

    image, truth = clip.frame(0)
    path = tmp_path / "still.png"
    Image.fromarray(image).save(path)
    alphas = matte_image(path, [Box(*clip.box(0))])
    assert alphas[1].shape == truth.shape
    assert 1e3 * np.abs(alphas[1] - truth).mean() < MAD_BOUND


def test_device_option_reaches_only_heads_that_take_it(clip: SampleClip) -> None:
    frames = [clip.frame(t)[0] for t in range(2)]
    for head in ("guided", "mask"):
        with MattingSession(frames, head=head, device="cpu") as session:
            session.add_prompt(Box(*clip.box(0)))
            assert len(list(session.propagate())) == 2
