"""Frame sources: videos, image folders, single images; exact counts, seeking, bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from sam2matting.errors import InputError
from sam2matting.io.readers import (
    ArraySource,
    ImageFolderSource,
    VideoSource,
    natural_key,
    open_source,
)

av = pytest.importorskip("av")
W, H, N = 64, 48, 12


def pattern(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A frame that differs per index and survives lossy coding (big flat blocks)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (i * 20) % 256
    img[:, : (i * 5) % w + 1, 1] = 200
    img[h // 2 :, :, 2] = 100
    return img


def make_video(
    path: Path,
    n: int = N,
    fps: Fraction = Fraction(25),
    codec: str = "libx264",
    fmt: str | None = None,
    pix_fmt: str = "yuv420p",
    size: tuple[int, int] = (W, H),
    gop: int | None = None,
    rotation: int | None = None,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> list[np.ndarray]:
    """Encode n pattern frames; returns the frames given to the encoder."""
    w, h = size
    frames = [pattern(i, w, h) for i in range(n)]
    with av.open(str(path), "w", format=fmt, options=container_options or {}) as c:
        s = c.add_stream(codec, rate=fps, options=options or {})
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if gop:
            s.codec_context.gop_size = gop
        if rotation is not None:
            s.set_display_rotation(rotation)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12-frame H.264 mp4 with a keyframe every 4 frames and B-frames (so seeks matter)."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    make_video(path, fps=Fraction(30000, 1001), gop=4, options={"bf": "2"})
    return path


def close_to(a: np.ndarray, b: np.ndarray, tol: float = 6.0) -> bool:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean()) < tol


# -- videos -----------------------------------------------------------------------------------


def test_video_info_exact(clip: Path) -> None:
    with open_source(clip) as src:
        info = src.info
        assert isinstance(src, VideoSource)
        assert (info.width, info.height, info.num_frames) == (W, H, N)
        assert info.fps == Fraction(30000, 1001)
        assert info.kind == "video" and info.codec == "h264" and not info.has_audio
        assert info.path == clip
        frames = list(src.iter_frames())
    assert [i for i, _ in frames] == list(range(N))
    for i, f in frames:
        assert f.shape == (H, W, 3) and f.dtype == np.uint8
        assert close_to(f, pattern(i))


def test_random_access_and_ranges_match_sequential(clip: Path) -> None:
    with open_source(clip) as src:
        seq = [f for _, f in src.iter_frames()]
        for i in (7, 3, 3, 4, 11, 0, 5, 10):  # backward jumps, repeats, across keyframes
            assert np.array_equal(src.read_frame(i), seq[i]), i
        for start, stop in ((5, 9), (0, 2), (10, None), (4, 4)):
            got = list(src.iter_frames(start, stop))
            want = list(range(start, N if stop is None else stop))
            assert [i for i, _ in got] == want
            assert all(np.array_equal(f, seq[i]) for i, f in got)
        # interleaving a generator with random reads stays correct
        gen = src.iter_frames(2, 8)
        first = next(gen)
        src.read_frame(10)
        rest = list(gen)
        assert [first[0]] + [i for i, _ in rest] == list(range(2, 8))
        assert all(np.array_equal(f, seq[i]) for i, f in [first, *rest])
        # the returned arrays are copies: mutating one does not corrupt later reads
        f = src.read_frame(6)
        f[:] = 0
        assert np.array_equal(src.read_frame(6), seq[6])


def test_reverse_equals_forward_reversed(clip: Path) -> None:
    with open_source(clip) as src:
        seq = [f for _, f in src.iter_frames()]
        rev = list(src.iter_frames_reverse(N - 1, 0, chunk=5))
        assert [i for i, _ in rev] == list(range(N - 1, -1, -1))
        assert all(np.array_equal(f, seq[i]) for i, f in rev)
        part = list(src.iter_frames_reverse(8, 3, chunk=2))
        assert [i for i, _ in part] == [8, 7, 6, 5, 4, 3]


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("t.ts", {"fmt": "mpegts", "options": {"bf": "3"}}),  # seeks on dts, imprecisely
        ("t.webm", {"codec": "libvpx-vp9", "options": {"deadline": "realtime"}}),
        ("t.264", {"fmt": "h264"}),  # raw stream: no timestamps, seeking restarts
    ],
)
def test_seeking_in_other_containers(tmp_path: Path, name: str, kw: dict) -> None:
    make_video(tmp_path / name, n=20, gop=5, **kw)
    with open_source(tmp_path / name) as src:
        assert src.info.num_frames == 20
        seq = [f for _, f in src.iter_frames()]
        for i in (13, 2, 19, 0, 5, 9, 10, 18):
            assert np.array_equal(src.read_frame(i), seq[i]), i
        rev = list(src.iter_frames_reverse(19, chunk=4))
        assert [i for i, _ in rev] == list(range(19, -1, -1))
        assert all(np.array_equal(f, seq[i]) for i, f in rev)


def test_index_errors(clip: Path) -> None:
    with open_source(clip) as src:
        with pytest.raises(InputError, match="past the clip"):
            src.read_frame(N)
        with pytest.raises(InputError, match="past the clip"):
            list(src.iter_frames(-1))
        assert list(src.iter_frames(N)) == []


@pytest.mark.parametrize(
    ("codec", "fmt", "pix_fmt", "suffix"),
    [
        ("libvpx-vp9", "webm", "yuva420p", ".webm"),  # VP9 with alpha: read as RGB
        ("libx264", "matroska", "yuv420p10le", ".mkv"),  # 10-bit, no header frame count
        ("prores_ks", "mov", "yuva444p10le", ".mov"),
        ("mjpeg", "avi", "yuvj420p", ".avi"),  # full-range JPEG YUV
    ],
)
def test_containers_and_pixel_formats(
    tmp_path: Path, codec: str, fmt: str, pix_fmt: str, suffix: str
) -> None:
    path = tmp_path / f"v{suffix}"
    frames = make_video(path, n=8, codec=codec, fmt=fmt, pix_fmt=pix_fmt)
    with open_source(path) as src:
        assert (src.info.width, src.info.height, src.info.num_frames) == (W, H, 8)
        assert src.info.fps == 25
        got = list(src.iter_frames())
        assert len(got) == 8
        for i, f in got:
            assert close_to(f, frames[i]), (i, np.abs(f.astype(int) - frames[i]).mean())


def test_rotation_metadata_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rot.mp4"
    frames = make_video(path, n=3, rotation=90)
    with open_source(path) as src:
        assert (src.info.width, src.info.height) == (H, W)
        f = src.read_frame(2)
    assert f.shape == (W, H, 3)
    assert close_to(f, np.rot90(frames[2]))  # counter-clockwise, as players show it


def test_variable_frame_rate_indices(tmp_path: Path) -> None:
    """Irregular timestamps: frames are numbered by presentation order, not by pts × fps."""
    path = tmp_path / "vfr.mkv"
    frames = [pattern(i) for i in range(6)]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for i, (img, t) in enumerate(zip(frames, (0, 40, 200, 240, 600, 640))):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            for p in s.encode(frame):
                c.mux(p)
            del i
        for p in s.encode():
            c.mux(p)
    with open_source(path) as src:
        assert src.info.num_frames == 6
        assert close_to(src.read_frame(4), frames[4])
        assert close_to(src.read_frame(2), frames[2])


# -- bad input --------------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input not found"):
        open_source(tmp_path / "nope.mp4")


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(InputError, match="not a readable video or image") as err:
        open_source(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_zero_frame_video(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        c.start_encoding()
    with pytest.raises(InputError, match=r"no frames|no video stream"):
        open_source(path)
    (tmp_path / "zero.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        open_source(tmp_path / "zero.mp4")


def test_truncated_faststart_mp4(tmp_path: Path) -> None:
    path = tmp_path / "full.mp4"
    make_video(path, container_options={"movflags": "faststart"})
    cut = tmp_path / "cut.mp4"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError, match=r"truncated or corrupt: found \d+ of 12 frames"):
        open_source(cut)
    assert path.read_bytes() == data  # input untouched


def test_truncated_webm(tmp_path: Path) -> None:
    path = tmp_path / "full.webm"
    make_video(path, codec="libvpx-vp9", fmt="webm", options={"deadline": "realtime"})
    cut = tmp_path / "cut.webm"
    data = path.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.8)])
    with pytest.raises(InputError, match="truncated or corrupt"):
        open_source(cut)


def test_corrupt_frame_detected_while_decoding(tmp_path: Path) -> None:
    path = tmp_path / "png.mov"
    make_video(path, codec="png", fmt="mov", pix_fmt="rgb24")
    with av.open(str(path)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
    data = bytearray(path.read_bytes())
    pos, size = packets[5]
    data[pos : pos + size] = bytes(size)
    bad = tmp_path / "bad.mov"
    bad.write_bytes(bytes(data))
    with open_source(bad) as src:
        assert src.info.num_frames == N
        with pytest.raises(InputError, match="truncated or corrupt: decoded 5 of 12 frames"):
            list(src.iter_frames())


# -- image folders ----------------------------------------------------------------------------


def save(path: Path, img: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(img).save(path)


def test_natural_sort_and_folder_source(tmp_path: Path) -> None:
    names = ["frame10.png", "frame2.png", "frame1.png", "Frame3.jpg", "frame20.bmp"]
    for k, name in enumerate(names):
        save(tmp_path / name, np.full((H, W, 3), k * 40, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / ".hidden.png").write_bytes(b"junk")
    with open_source(tmp_path, fps=12) as src:
        assert isinstance(src, ImageFolderSource)
        assert [p.name for p in src.files] == [
            "frame1.png",
            "frame2.png",
            "Frame3.jpg",
            "frame10.png",
            "frame20.bmp",
        ]
        assert src.info.num_frames == 5 and src.info.fps == 12 and src.info.kind == "images"
        assert (src.info.width, src.info.height) == (W, H)
        fwd = [f for _, f in src.iter_frames()]
        rev = [f for _, f in src.iter_frames_reverse(4)]
        assert all(np.array_equal(a, b) for a, b in zip(fwd, reversed(rev)))
        assert int(src.read_frame(3)[0, 0, 0]) == 0  # frame10.png was written first (k=0)
    assert sorted(["a10", "a2", "a1"], key=natural_key) == ["a1", "a2", "a10"]
    with open_source(tmp_path) as src:
        assert src.info.fps == 25


def test_single_image_and_modes(tmp_path: Path) -> None:
    from PIL import Image

    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 10  # alpha is ignored
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    with open_source(tmp_path / "a.png") as src:
        assert src.info.kind == "image" and src.info.num_frames == 1
        assert src.read_frame(0)[0, 0].tolist() == [200, 0, 0]
    grey16 = np.full((H, W), 65535, np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    assert open_source(tmp_path / "g16.png").read_frame(0)[0, 0].tolist() == [255, 255, 255]


def test_exif_orientation(tmp_path: Path) -> None:
    from PIL import Image

    img = Image.fromarray(pattern(3))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(tmp_path / "o.jpg", exif=exif)
    with open_source(tmp_path / "o.jpg") as src:
        assert (src.info.width, src.info.height) == (H, W)
        assert src.read_frame(0).shape == (W, H, 3)


def test_folder_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(InputError, match="has no images"):
        open_source(empty)

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    save(mixed / "f1.png", np.zeros((H, W, 3), np.uint8))
    save(mixed / "f2.png", np.zeros((H, W, 3), np.uint8))
    save(mixed / "f3.png", np.zeros((H + 2, W, 3), np.uint8))
    with pytest.raises(InputError, match=r"f3\.png is 64×50 but f1\.png is 64×48"):
        open_source(mixed)

    broken = tmp_path / "broken"
    broken.mkdir()
    save(broken / "f1.png", np.zeros((H, W, 3), np.uint8))
    (broken / "f2.png").write_bytes(b"not a png at all")
    with pytest.raises(InputError, match=r"unreadable image: .*f2\.png"):
        open_source(broken)

    # pixel data cut: detected at open (PNG chunk scan) or at the latest when the frame is read
    cut = tmp_path / "cut"
    cut.mkdir()
    save(cut / "f1.png", np.zeros((H, W, 3), np.uint8))
    save(cut / "f2.png", np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8))
    data = (cut / "f2.png").read_bytes()
    (cut / "f2.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"unreadable image: .*f2\.png"):
        open_source(cut).read_frame(1)


def test_array_source_passthrough() -> None:
    frames = np.stack([pattern(i) for i in range(3)])
    src = open_source(frames, fps=10)
    assert isinstance(src, ArraySource) and src.info.fps == 10 and len(src) == 3
    assert open_source(src) is src


# -- shared data (exact counts on real clips) -------------------------------------------------


def test_shared_videos(shared_data: Path) -> None:
    with open_source(shared_data / "videos" / "01_dog.mp4") as src:
        info = src.info
        assert (info.width, info.height, info.num_frames) == (1280, 720, 289)
        assert info.fps == Fraction(30000, 1001) and info.has_audio
        assert src.read_frame(288).shape == (720, 1280, 3)
    with open_source(shared_data / "videos" / "05_default_juggle.mp4") as src:
        info = src.info
        assert (info.num_frames, info.fps, info.has_audio) == (247, Fraction(24), False)
        assert sum(1 for _ in src.iter_frames()) == 247
