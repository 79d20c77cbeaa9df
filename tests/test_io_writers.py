"""Output writers: every format's rate, count, size, alpha precision, audio, atomicity, errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from sam2matting.errors import InputError, OutputError
from sam2matting.io import compose
from sam2matting.io.readers import VideoInfo, open_source
from sam2matting.io.writers import (
    FORMATS,
    open_writer,
    output_path,
    probe,
    read_alpha_frames,
)

av = pytest.importorskip("av")
W, H, N = 64, 48, 10
FPS = Fraction(30000, 1001)
VIDEO_FORMATS = ["prores", "webm", "alpha-mp4", "composite"]
PNG_FORMATS = ["alpha-png", "rgba-png", "premul-png"]


def make_input(
    path: Path,
    *,
    audio: str | None = None,
    fps: Fraction = FPS,
    n: int = N,
    size: tuple[int, int] = (W, H),
    fmt: str | None = None,
    codec: str = "libx264",
) -> Path:
    """A small clip; ``audio``: an audio codec for a 440 Hz sine track slightly longer than the video."""
    w, h = size
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        a = None
        if audio:
            a = c.add_stream(audio, rate=48000)
            a.codec_context.layout = "stereo"
        for i in range(n):
            img = np.zeros((h, w, 3), np.uint8)
            img[..., 0] = i * 20
            img[:, : w // 2, 1] = 180
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
        if a is not None:
            total = int(48000 * (n / fps + Fraction(1, 5)))
            wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(total) / 48000)).astype(np.float32)
            for pos in range(0, total, 960):
                chunk = np.stack([wave[pos : pos + 960]] * 2)
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = 48000, pos
                for p in a.encode(frame):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    return {
        "audio": make_input(d / "with_audio.mp4", audio="aac"),
        "silent": make_input(d / "silent.mp4"),
        "opus": make_input(d / "opus.webm", audio="libopus", fmt="webm", codec="libvpx-vp9"),
    }


def frames_for(
    info: VideoInfo, smooth: bool
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(image, alpha, foreground) per frame, different every frame.

    smooth=False: random alpha (every float value, for exactness checks); smooth=True: a
    moving soft disc (what lossy codecs are made for).
    """
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0 : info.height, 0 : info.width].astype(np.float32)
    for i in range(info.num_frames):
        image = np.zeros((info.height, info.width, 3), np.uint8)
        image[..., 0] = 10 * i
        image[..., 1] = np.arange(info.width, dtype=np.uint8)[None, :] * 3
        if smooth:
            r = np.hypot(xx - 20 - 2 * i, yy - 24)
            alpha = np.clip((18 - r) / 8, 0, 1).astype(np.float32)
        else:
            alpha = rng.random((info.height, info.width), dtype=np.float32)
            alpha[0, :4] = (0.0, 1.0, 0.5, 1 / 255)
        if smooth:
            fg = np.dstack(
                [xx / info.width, yy / info.height, np.full_like(xx, i / info.num_frames)]
            )
        else:
            fg = rng.random((info.height, info.width, 3), dtype=np.float32)
        yield image, alpha, fg.astype(np.float32)


def write_all(fmt: str, path: Path, info: VideoInfo, smooth: bool = False, **kw: object) -> list:
    written = []
    with open_writer(fmt, path, info, **kw) as w:  # type: ignore[arg-type]
        for image, alpha, fg in frames_for(info, smooth):
            w.write(image, alpha, fg)
            written.append((image, alpha, fg))
        assert w.frames_written == info.num_frames
    return written


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


# -- registry and naming ----------------------------------------------------------------------


def test_registry_and_names(tmp_path: Path) -> None:
    assert list(FORMATS) == [
        "alpha-png",
        "rgba-png",
        "premul-png",
        "prores",
        "webm",
        "alpha-mp4",
        "composite",
        "exr",
        "exr-layers",
    ]
    assert {f for f, s in FORMATS.items() if s.carries_audio} == set(VIDEO_FORMATS)
    assert {f for f, s in FORMATS.items() if not s.needs_foreground} == {"alpha-png", "alpha-mp4"}
    assert output_path(tmp_path, "clip", "prores", 2) == tmp_path / "clip.obj2.prores.mov"
    assert output_path(tmp_path, "clip", "alpha-png", None) == tmp_path / "clip.alpha-png"
    assert output_path(tmp_path, "clip", "webm", 1) == tmp_path / "clip.obj1.webm"
    assert output_path(tmp_path, "clip", "composite", None) == tmp_path / "clip.composite.mp4"
    with pytest.raises(OutputError, match="unknown output format 'gif'; choose from: alpha-png"):
        output_path(tmp_path, "clip", "gif", 1)


# -- PNG folders ------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("fmt", PNG_FORMATS)
def test_png_formats_exact(tmp_path: Path, fmt: str, bits: int) -> None:
    import cv2

    info = VideoInfo(width=W, height=H, num_frames=4, fps=FPS)
    path = output_path(tmp_path, "clip", fmt, 1)
    written = write_all(fmt, path, info, alpha_bits=bits)
    files = sorted(p.name for p in path.iterdir())
    assert files == [f"clip.obj1_{i:06d}.png" for i in range(4)]
    peak = (1 << bits) - 1
    for got, (_, alpha, _) in zip(read_alpha_frames(path), written):
        assert got.dtype == np.float32 and got.shape == (H, W)
        assert np.array_equal(got, np.round(alpha * np.float32(peak)) / np.float32(peak))
    raw = cv2.imread(str(path / files[1]), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == (np.uint8 if bits == 8 else np.uint16)
    _, alpha, fg = written[1]
    if fmt == "alpha-png":
        assert raw.shape == (H, W)
    else:
        rgb = raw[..., 2::-1]
        colour = fg * alpha[..., None] if fmt == "premul-png" else fg
        assert np.array_equal(rgb, np.rint(colour * np.float32(peak)).astype(raw.dtype))
    info_out = probe(path)
    assert (info_out.num_frames, info_out.width, info_out.height) == (4, W, H)
    assert leftovers(tmp_path) == []


# -- videos -----------------------------------------------------------------------------------


def stream_facts(path: Path) -> dict[str, object]:
    """What a player/ffprobe sees: video rate, frame count (header and demuxed), size, audio."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        packets = sum(1 for p in c.demux(v) if p.size)
        return {
            "fps": v.average_rate,
            "guessed": v.guessed_rate,
            "packets": packets,
            "size": (v.width, v.height),
            "audio": [a.codec_context.name for a in c.streams.audio],
        }


@pytest.mark.parametrize("fmt", VIDEO_FORMATS)
def test_video_formats_keep_rate_count_size_and_audio(
    tmp_path: Path, inputs: dict[str, Path], fmt: str
) -> None:
    with open_source(inputs["audio"]) as src:
        info = src.info
    assert info.has_audio and info.fps == FPS
    path = output_path(tmp_path, "clip", fmt, 1)
    written = write_all(fmt, path, info, smooth=True)
    facts = stream_facts(path)
    assert facts["fps"] == FPS and facts["guessed"] == FPS
    assert facts["packets"] == N and facts["size"] == (W, H)
    assert facts["audio"] == (["opus"] if fmt == "webm" else ["aac"])
    out = probe(path)
    assert (out.num_frames, out.fps, out.width, out.height, out.has_audio) == (N, FPS, W, H, True)
    assert leftovers(tmp_path) == []
    # audio trimmed to the video (to within one audio packet), starting with it
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        samples = sum(f.samples for f in c.decode(a))
    assert abs(samples / 48000 - N / FPS) < 0.05
    if fmt == "composite":
        with pytest.raises(InputError, match="composite: it has no alpha"):
            next(iter(read_alpha_frames(path)))
        with open_source(path) as src:
            first = src.read_frame(0)
        _, alpha, fg = written[0]
        want = compose.composite(fg, alpha, compose.DEFAULT_BACKGROUND)
        assert np.abs(first.astype(int) - want).mean() < 3
        return
    got = list(read_alpha_frames(path))
    assert len(got) == N
    err = np.stack([np.abs(g - a) for g, (_, a, _) in zip(got, written)])
    if fmt == "prores":
        assert err.max() <= 1 / 1023 + 1e-6
    else:  # lossy VP9 / H.264 at their default quality on a soft disc
        assert err.mean() < 1.5 / 255 and err.max() < 24 / 255, (err.mean() * 255, err.max() * 255)


def test_prores_alpha_is_exact_10_bit(tmp_path: Path) -> None:
    info = VideoInfo(width=W, height=H, num_frames=3, fps=Fraction(24))
    path = output_path(tmp_path, "c", "prores", None)
    written = write_all("prores", path, info)
    for got, (_, alpha, _) in zip(read_alpha_frames(path), written):
        assert np.array_equal(np.rint(got * 1023), np.rint(alpha * np.float32(1023)))
    facts = stream_facts(path)
    assert facts["fps"] == 24 and facts["packets"] == 3 and facts["audio"] == []
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        assert v.codec_context.name == "prores" and v.codec_context.profile == "4444"
        frame = next(c.decode(v))
        assert frame.format.name.startswith("yuva444p")


@pytest.mark.parametrize("fmt", ["webm", "alpha-mp4"])
def test_lossless_option_is_exact(tmp_path: Path, fmt: str) -> None:
    info = VideoInfo(width=W, height=H, num_frames=4, fps=Fraction(25))
    path = output_path(tmp_path, "c", fmt, None)
    written = write_all(fmt, path, info, lossless=True)
    for got, (_, alpha, _) in zip(read_alpha_frames(path), written):
        assert np.array_equal(got, np.round(alpha * np.float32(255)) / np.float32(255))


@pytest.mark.parametrize("fmt", VIDEO_FORMATS)
def test_no_audio_when_input_has_none(tmp_path: Path, inputs: dict[str, Path], fmt: str) -> None:
    with open_source(inputs["silent"]) as src:
        info = src.info
    path = output_path(tmp_path, "s", fmt, None)
    write_all(fmt, path, info, smooth=True)
    assert stream_facts(path)["audio"] == []
    assert not probe(path).has_audio


@pytest.mark.parametrize(("fmt", "codec"), [("prores", "aac"), ("alpha-mp4", "opus")])
def test_audio_from_webm_input(
    tmp_path: Path, inputs: dict[str, Path], fmt: str, codec: str
) -> None:
    """Opus cannot go into .mov, so it is transcoded to AAC; .mp4 takes it as a stream copy."""
    with open_source(inputs["opus"]) as src:
        info = src.info
    assert info.has_audio
    path = output_path(tmp_path, "o", fmt, None)
    write_all(fmt, path, info, smooth=True)
    assert stream_facts(path)["audio"] == [codec]


def test_odd_size_and_24fps(tmp_path: Path) -> None:
    info = VideoInfo(width=W + 1, height=H + 1, num_frames=3, fps=Fraction(24))
    for fmt in ("composite", "alpha-mp4", "webm"):
        path = output_path(tmp_path, "odd", fmt, None)
        write_all(fmt, path, info, smooth=True)
        facts = stream_facts(path)
        assert facts["size"] == (W + 1, H + 1) and facts["packets"] == 3 and facts["fps"] == 24


# -- composites -------------------------------------------------------------------------------


def test_composite_backgrounds(tmp_path: Path, inputs: dict[str, Path]) -> None:
    from PIL import Image

    info = VideoInfo(width=W, height=H, num_frames=4, fps=Fraction(25))
    alpha = np.zeros((H, W), np.float32)  # all background: the output shows the background
    image = np.zeros((H, W, 3), np.uint8)

    def first_frame(background: object) -> np.ndarray:
        path = tmp_path / "bg.composite.mp4"
        with open_writer("composite", path, info, background=background, lossless=True) as w:  # type: ignore[arg-type]
            for _ in range(info.num_frames):
                w.write(image, alpha)
        with open_source(path) as src:
            return src.read_frame(0)

    assert np.abs(first_frame(None).astype(int) - (0, 177, 64)).max() <= 1
    assert np.abs(first_frame("#ff0000").astype(int) - (255, 0, 0)).max() <= 1
    assert np.abs(first_frame((10, 20, 200)).astype(int) - (10, 20, 200)).max() <= 1
    still = np.zeros((H * 2, W * 2, 3), np.uint8)
    still[..., 2] = 255
    Image.fromarray(still).save(tmp_path / "blue.png")
    assert np.abs(first_frame(tmp_path / "blue.png").astype(int) - (0, 0, 255)).max() <= 2
    # a 10-frame background video under a 4-frame clip, and a 2-frame one that loops
    with open_source(inputs["silent"]) as bg:
        want = compose.fit_image(bg.read_frame(0), W, H)
    assert np.abs(first_frame(inputs["silent"]).astype(int) - want).mean() < 3
    with pytest.raises(InputError, match="background not found and not a colour"):
        open_writer("composite", tmp_path / "x.mp4", info, background="no-such-file.png")
    assert leftovers(tmp_path) == []


# -- atomicity and errors ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["alpha-png", "prores", "composite"])
def test_exception_inside_with_leaves_nothing(
    tmp_path: Path, inputs: dict[str, Path], fmt: str
) -> None:
    with open_source(inputs["audio"]) as src:
        info = src.info
    path = output_path(tmp_path, "clip", fmt, 1)
    with pytest.raises(KeyboardInterrupt), open_writer(fmt, path, info) as w:
        for k, (image, alpha, fg) in enumerate(frames_for(info, True)):
            w.write(image, alpha, fg)
            if k == 3:
                raise KeyboardInterrupt
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_abort_and_existing_output(tmp_path: Path) -> None:
    info = VideoInfo(width=W, height=H, num_frames=2, fps=Fraction(25))
    for fmt in ("alpha-png", "alpha-mp4"):
        path = output_path(tmp_path, "c", fmt, None)
        write_all(fmt, path, info)
        before = sorted(p.name for p in path.iterdir()) if path.is_dir() else path.read_bytes()
        # a failed rerun leaves the previous complete output alone
        w = open_writer(fmt, path, info)
        w.write(np.zeros((H, W, 3), np.uint8), np.ones((H, W), np.float32))
        w.abort()
        w.abort()
        after = sorted(p.name for p in path.iterdir()) if path.is_dir() else path.read_bytes()
        assert before == after
        # a successful rerun replaces it
        info3 = VideoInfo(width=W, height=H, num_frames=3, fps=Fraction(25))
        write_all(fmt, path, info3)
        assert probe(path).num_frames == 3
    assert leftovers(tmp_path) == []


def test_write_errors(tmp_path: Path) -> None:
    info = VideoInfo(width=W, height=H, num_frames=2, fps=Fraction(25))
    with pytest.raises(OutputError, match="unknown output format 'mov'; choose from"):
        open_writer("mov", tmp_path / "x", info)
    for fmt in ("rgba-png", "webm"):
        path = output_path(tmp_path, "c", fmt, None)
        w = open_writer(fmt, path, info)
        with pytest.raises(OutputError, match="is 32×48 but the output is 64×48"):
            w.write(np.zeros((H, W // 2, 3), np.uint8), np.zeros((H, W // 2), np.float32))
        with pytest.raises(OutputError, match=r"alpha of frame 0 has shape \(48, 63\)"):
            w.write(np.zeros((H, W, 3), np.uint8), np.zeros((H, W - 1), np.float32))
        w.write(np.zeros((H, W, 3), np.uint8), np.zeros((H, W), np.float32))  # still usable
        w.abort()
        with pytest.raises(OutputError, match="already aborted"):
            w.write(np.zeros((H, W, 3), np.uint8), np.zeros((H, W), np.float32))
        assert not path.exists()
        w2 = open_writer(fmt, path, info)
        with pytest.raises(OutputError, match="no frames were written"):
            w2.close()
        assert not path.exists()
    with pytest.raises(OutputError, match="alpha bit depth"):
        open_writer("alpha-png", tmp_path / "y", info, alpha_bits=12)
    assert list(tmp_path.iterdir()) == []


def test_destination_under_a_file(tmp_path: Path) -> None:
    info = VideoInfo(width=W, height=H, num_frames=2, fps=Fraction(25))
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for fmt in ("alpha-png", "prores"):
        with pytest.raises(OutputError, match="cannot create output folder"):
            open_writer(fmt, output_path(blocker / "sub", "c", fmt, None), info)
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]


def test_unwritable_folder(tmp_path: Path) -> None:
    info = VideoInfo(width=W, height=H, num_frames=2, fps=Fraction(25))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: chmod cannot make a folder unwritable")
        with pytest.raises(OutputError, match="cannot write to"):
            open_writer("webm", locked / "c.webm", info)
    finally:
        locked.chmod(0o755)


def test_encoder_failure_is_an_output_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sam2matting.io import writers

    info = VideoInfo(width=W, height=H, num_frames=2, fps=Fraction(25))

    def bad_setup(self: object, cc: object) -> None:
        cc.pix_fmt = "yuva444p10le"  # type: ignore[attr-defined]
        cc.options = {"profile": "no-such-profile"}  # type: ignore[attr-defined]

    monkeypatch.setattr(writers._ProresWriter, "_setup", bad_setup)
    with pytest.raises(OutputError, match=r"cannot start the prores encoder \(prores_ks\)"):
        open_writer("prores", tmp_path / "c.mov", info)
    assert list(tmp_path.iterdir()) == []
