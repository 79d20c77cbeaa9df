"""Issue 15: production exports (EXR, tags that match the pixels, stills, frame names, contact
sheet) and bad inputs that must end in one line with nothing left behind."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from sam2matting import Box, matte_video
from sam2matting.cli import _join_negative_values, build_parser, main, prompts_from_args
from sam2matting.errors import InputError, OutputError, PromptError, WeightsError
from sam2matting.io import writers as W
from sam2matting.io.readers import open_source
from sam2matting.samples import make_sample_clip, write_sample_video
from sam2matting.types import MaskPrompt

av = pytest.importorskip("av")
OpenEXR = pytest.importorskip("OpenEXR")


@pytest.fixture(scope="module")
def clip():
    return make_sample_clip(96, 64, 6)


@pytest.fixture(scope="module")
def video(clip, tmp_path_factory) -> Path:
    """A small H.264 clip *with an AAC audio stream* (written with PyAV)."""
    return write_sample_video(clip, tmp_path_factory.mktemp("v") / "clip.mp4", audio=True)


def _mask(clip) -> MaskPrompt:
    return MaskPrompt(clip.alpha(0) > 0.5)


def _stream_headers(path: Path) -> dict[str, object]:
    """What ffprobe shows for the first video stream (via PyAV: same libavformat)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {
            "codec": stream.codec_context.name,
            "codec_tag": stream.codec_tag,
            "profile": stream.codec_context.profile,
            "alpha_mode": stream.metadata.get("alpha_mode"),
            "audio": [a.codec_context.name for a in container.streams.audio],
        }


# --------------------------------------------------------------------------------------------
# outputs


@pytest.mark.parametrize("audio", [True, False])
def test_prores_and_webm_tags_match_alpha_with_and_without_audio(
    clip, video, tmp_path: Path, audio: bool
) -> None:
    source = open_source(video)
    assert source.info.has_audio
    info = source.info if audio else type(source.info)(**{**vars(source.info), "has_audio": False})
    for fmt in ("prores", "webm"):
        with W.open_writer(fmt, W.output_path(tmp_path, "c", fmt, 1), info) as writer:
            for index, image in source.iter_frames():
                writer.write(image, clip.alpha(index))
    source.close()
    prores = _stream_headers(tmp_path / "c.obj1.prores.mov")
    webm = _stream_headers(tmp_path / "c.obj1.webm")
    assert (prores["codec_tag"], prores["profile"]) == ("ap4h", "4444"), prores
    assert webm["alpha_mode"] == "1", webm
    assert bool(prores["audio"]) is audio and bool(webm["audio"]) is audio
    # and the pixels do carry the alpha
    for name in ("c.obj1.prores.mov", "c.obj1.webm"):
        alphas = list(W.read_alpha_frames(tmp_path / name))
        assert len(alphas) == clip.num_frames
        assert np.abs(alphas[2] - clip.alpha(2)).mean() < 0.01


def _exr_header(path: Path) -> dict:
    with OpenEXR.File(str(path)) as handle:
        return dict(handle.header())


@pytest.mark.parametrize("colour", ["linear", "display"])
def test_exr_half_float_premultiplied(clip, tmp_path: Path, colour: str) -> None:
    image, alpha = clip.frame(1)
    fg = clip.foreground(1)
    info = open_source([image]).info
    path = W.output_path(tmp_path, "c", "exr", 1)
    with W.open_writer("exr", path, info, exr_colour=colour, exr_compression="piz") as writer:
        writer.write(image, alpha, fg)
    files = sorted(path.iterdir())
    assert [f.suffix for f in files] == [".exr"]
    channels = W.read_exr(files[0])
    assert sorted(channels) == ["A", "B", "G", "R"]
    with OpenEXR.File(str(files[0]), separate_channels=True) as handle:
        assert handle.channels()["A"].pixels.dtype == np.float16  # half float
    assert "PIZ" in str(_exr_header(files[0])["compression"])
    np.testing.assert_allclose(channels["A"], alpha, atol=1e-3)
    expected = fg[..., 0] if colour == "display" else W.srgb_to_linear(fg[..., 0])
    np.testing.assert_allclose(channels["R"], expected * alpha, atol=2e-3)  # premultiplied
    assert next(iter(W.read_alpha_frames(path))).shape == alpha.shape


def test_exr_layers_one_file_per_frame_with_an_alpha_per_object(clip, tmp_path: Path) -> None:
    frames = np.stack([clip.frame(i)[0] for i in range(3)])
    left = MaskPrompt(np.pad(np.ones((20, 20), bool), ((10, 34), (5, 71))), object_id=1)
    right = MaskPrompt(np.pad(np.ones((20, 20), bool), ((30, 14), (60, 16))), object_id=2)
    result = matte_video(
        frames, [left, right], tmp_path, formats=["exr-layers"], head="mask", progress=False
    )
    folder = result.paths[(None, "exr-layers")]
    files = sorted(folder.iterdir())
    assert len(files) == 3
    channels = W.read_exr(files[0])
    assert sorted(channels) == ["A", "B", "G", "R", "obj1.A", "obj2.A"]
    assert channels["obj1.A"][20, 15] == 1.0 and channels["obj1.A"][40, 70] == 0.0
    assert channels["obj2.A"][40, 70] == 1.0 and channels["obj2.A"][20, 15] == 0.0
    np.testing.assert_array_equal(channels["A"], np.maximum(channels["obj1.A"], channels["obj2.A"]))


def test_still_image_gives_one_file_per_object_and_format(clip, tmp_path: Path) -> None:
    image, _ = clip.frame(0)
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), image[..., ::-1])
    out = tmp_path / "out"
    result = matte_video(
        photo,
        [_mask(clip)],
        out,
        formats=["alpha-png", "composite", "exr"],
        head="mask",
        progress=False,
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == ["photo.obj1.alpha.png", "photo.obj1.composite.png", "photo.obj1.exr"]
    assert all(p.is_file() for p in result.paths.values())
    alpha = cv2.imread(str(out / "photo.obj1.alpha.png"), cv2.IMREAD_UNCHANGED)
    assert alpha.shape == image.shape[:2]
    assert cv2.imread(str(out / "photo.obj1.composite.png")).shape == image.shape


def test_frame_folder_keeps_frame_names_and_combined_with_one_object(clip, tmp_path: Path) -> None:
    frames = tmp_path / "shot"
    frames.mkdir()
    names = ["plate.0998", "plate.0999", "plate.1000"]
    for i, name in enumerate(names):
        cv2.imwrite(str(frames / f"{name}.png"), clip.frame(i)[0][..., ::-1])
    out = tmp_path / "out"
    result = matte_video(
        frames,
        [_mask(clip)],
        out,
        formats=["alpha-png"],
        combined=True,
        head="mask",
        progress=False,
    )
    assert set(result.paths) == {(1, "alpha-png"), (None, "alpha-png")}  # README: obj1 + merged
    for path in result.paths.values():
        assert sorted(p.name for p in path.iterdir()) == [f"{n}.png" for n in names]


def test_contact_sheet(clip, video, tmp_path: Path) -> None:
    result = matte_video(
        video, [_mask(clip)], tmp_path, head="mask", contact_sheet=True, progress=False
    )
    sheet = cv2.imread(str(result.paths[(None, "contact-sheet")]))
    assert sheet is not None
    # six sampled frames at 320 px, three rows (frame, matte, composite)
    assert sheet.shape[1] == 6 * 320 + 5 * 4
    assert sheet.shape[0] > 3 * round(64 * 320 / 96)


# --------------------------------------------------------------------------------------------
# bad input


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR claims width×height pixels (with a valid CRC) and holds almost nothing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 16)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def _one_line_failure(capsys, argv: list[str], fragment: str, code: int = 2) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and fragment in err, err
    return err


def test_decompression_bomb_png(tmp_path: Path, capsys) -> None:
    bomb = _png_claiming(tmp_path / "bomb.png", 100000, 100000)
    with pytest.raises(InputError, match="too large to decode safely"):
        open_source(bomb)
    _one_line_failure(
        capsys, ["matte", str(bomb), "-o", str(tmp_path / "o"), "--box", "1,1,5,5"], "too large"
    )
    assert not (tmp_path / "o").exists()


def test_video_smaller_than_flow_minimum(tmp_path: Path) -> None:
    frames = np.zeros((3, 8, 10, 3), np.uint8)
    frames[:, 2:6, 3:7] = 255
    with pytest.raises(InputError, match="at least 12 px"):
        matte_video(frames, [MaskPrompt(frames[0, ..., 0] > 0)], None, head="mask", progress=False)
    # one still of that size needs no flow: it still works
    alphas = matte_video(
        frames[:1], [MaskPrompt(frames[0, ..., 0] > 0)], None, head="mask", progress=False
    )
    assert alphas.num_frames == 1


def test_closed_form_on_a_thin_object_falls_back(tmp_path: Path) -> None:
    from sam2matting.matting.classical import band_alpha, closed_form_solvable

    image = np.full((48, 64, 3), 0.2, np.float32)
    image[:, 30] = 0.9  # a 1-px strand: the trimap's erosion leaves no foreground
    mask = np.zeros((48, 64), bool)
    mask[:, 30] = True
    from sam2matting.bridge.trimap import morphological_trimap

    assert not closed_form_solvable(morphological_trimap(mask, 3))
    alpha = band_alpha(image, mask.astype(np.float32), mask, 3, solver="closed-form")
    assert alpha.shape == mask.shape and np.isfinite(alpha).all()
    # the whole pipeline (eval's trimap+cf baseline is this head) runs on and writes results
    frames = np.repeat((image * 255).astype(np.uint8)[None], 3, axis=0)
    out = matte_video(
        frames, [MaskPrompt(mask)], tmp_path, head="closed-form", tracker="builtin", progress=False
    )
    assert len(list(out.paths[(1, "alpha-png")].iterdir())) == 3


def test_garbage_checkpoints_are_one_line(video: Path, tmp_path: Path, capsys) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(300))
    err = _one_line_failure(
        capsys,
        [
            "matte",
            str(video),
            "-o",
            str(tmp_path / "o"),
            "--box",
            "5,5,40,40",
            "--tracker",
            str(garbage),
        ],
        "not a readable PyTorch checkpoint",
    )
    assert "weights_only" not in err
    with pytest.raises(WeightsError) as info:
        matte_video(
            video, [Box(5, 5, 40, 40)], None, head_options={"weights": str(garbage)}, progress=False
        )
    assert len(str(info.value).splitlines()) == 1 and "weights_only" not in str(info.value)


def test_empty_output_name(video: Path, clip, capsys) -> None:
    _one_line_failure(capsys, ["matte", str(video), "-o", "", "--box", "5,5,40,40"], "empty")
    with pytest.raises(OutputError, match="empty"):
        matte_video(video, [_mask(clip)], "", head="mask", progress=False)
    _one_line_failure(capsys, ["demo", "-o", " "], "empty")


def test_failed_run_removes_the_folders_it_created(video: Path, tmp_path: Path) -> None:
    existing = tmp_path / "kept"
    existing.mkdir()
    for output in (tmp_path / "a" / "b" / "c", existing):
        with pytest.raises(PromptError):
            matte_video(video, [Box(5, 5, 40, 40, frame=99)], output, head="mask", progress=False)
    assert not (tmp_path / "a").exists()
    assert existing.is_dir() and not any(existing.iterdir())


def test_named_pipe_is_refused_not_read(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    with pytest.raises(InputError, match="named pipe"):
        open_source(fifo)
    _one_line_failure(
        capsys, ["matte", str(fifo), "-o", str(tmp_path / "o"), "--box", "1,1,5,5"], "named pipe"
    )
    assert time.monotonic() - t0 < 30


def test_sigterm_during_a_blocking_read_exits_and_cleans_up(tmp_path: Path) -> None:
    """The watchdog: a cancel no frame loop takes (blocked in a read) still ends the process
    (143) and removes the registered temporaries."""
    fifo = tmp_path / "stalled"
    os.mkfifo(fifo)
    temp = tmp_path / ".out.png.partial-1-deadbeef"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        from sam2matting.cli import _install_signal_handlers, TERM_GRACE_S
        import sam2matting.cli as cli
        cli.TERM_GRACE_S = 0.5
        from sam2matting.cancel import register_temporary
        _install_signal_handlers()
        temp = Path({str(temp)!r}); temp.write_bytes(b"x"); register_temporary(temp)
        print("ready", flush=True)
        open({str(fifo)!r}, "rb").read()  # blocks forever: no writer
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, proc.stderr.read() if proc.stderr else ""
    assert not temp.exists()


def test_second_ctrl_c_anywhere_exits_130_and_cleans_up(tmp_path: Path) -> None:
    """A second Ctrl-C while the first is still pending stops at once, wherever the main thread
    is — here between numba calls (pymatting's foreground estimation), where an exception raised
    from the handler used to surface as a ``SystemError`` traceback: exit 130 with one line,
    the registered temporaries and the output folders the run created are gone."""
    temp = tmp_path / ".out.png.partial-1-deadbeef"
    made = tmp_path / "made" / "out"
    script = textwrap.dedent(
        f"""
        import numpy as np
        from pathlib import Path
        from pymatting import estimate_foreground_ml
        from sam2matting.cli import _install_signal_handlers
        from sam2matting.cancel import register_created, register_temporary
        _install_signal_handlers()
        temp = Path({str(temp)!r}); temp.write_bytes(b"x"); register_temporary(temp)
        made = Path({str(made)!r}); made.mkdir(parents=True)
        register_created([made, made.parent])
        rng = np.random.default_rng(0)
        image, alpha = rng.random((48, 48, 3)), rng.random((48, 48))
        estimate_foreground_ml(image, alpha)  # compiled before the signals come
        print("ready", flush=True)
        while True:  # never checks for a cancel, like a long step between frame boundaries
            estimate_foreground_ml(image, alpha)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines() == [
        "sam2matting: interrupted; no partial output was kept"
    ], err
    assert not temp.exists() and not (tmp_path / "made").exists()


def test_one_ctrl_c_in_process_still_returns_130(monkeypatch, capsys) -> None:
    """In-process (embedded) use: a cancel taken at a frame boundary returns 130 with one
    line, and the handlers are put back after each call."""
    import sam2matting.cli as cli
    from sam2matting.cancel import check_cancelled, clear_cancel, request_cancel

    def interrupted_parser() -> None:
        assert request_cancel() is False  # the first request: nothing was pending
        check_cancelled()  # a frame boundary takes it: KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted_parser)
    previous = signal.getsignal(signal.SIGINT)
    assert main(["info"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is previous
    assert request_cancel() is False  # the request was cleared when the call ended
    clear_cancel()


def test_stale_temporaries_of_dead_runs_are_removed(clip, tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale_file = tmp_path / f".c.obj1.prores.mov.partial-{dead.pid}-0badcafe"
    stale_dir = tmp_path / f".c.obj1.alpha-png.partial-{dead.pid}-0badcafe"
    live = tmp_path / f".other.mov.partial-{os.getppid()}-0badcafe"  # a live process's
    mine = tmp_path / f".x.partial-{os.getpid()}-12345678"
    stale_file.write_bytes(b"x")
    stale_dir.mkdir()
    (stale_dir / "c_000000.png").write_bytes(b"x")
    live.write_bytes(b"x")
    mine.write_bytes(b"x")
    user_file = tmp_path / "notes.partial-1-abcdefgh.txt"
    user_file.write_bytes(b"x")
    info = open_source([clip.frame(0)[0]]).info
    with W.open_writer("alpha-png", W.output_path(tmp_path, "c", "alpha-png", 1), info) as writer:
        writer.write(clip.frame(0)[0], clip.alpha(0))
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists() and mine.exists() and user_file.exists()


def test_stale_spool_folders_of_dead_runs_are_removed(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    from sam2matting.api import _AlphaSpool

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"sam2matting-spool-{dead.pid}-abc123"
    live = tmp_path / f"sam2matting-spool-{os.getppid()}-abc123"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "0000001_1.png").write_bytes(b"x")
    spool = _AlphaSpool()
    try:
        assert not stale.exists() and live.exists()
        assert spool.dir.name.startswith(f"sam2matting-spool-{os.getpid()}-")
    finally:
        spool.close()
    assert not spool.dir.exists()


def test_mask_prompt_files_that_would_block_or_explode(tmp_path: Path) -> None:
    fifo = tmp_path / "mask.png"
    os.mkfifo(fifo)
    with pytest.raises(PromptError, match="not a regular file"):
        MaskPrompt.from_file(fifo)
    bomb = _png_claiming(tmp_path / "bomb.png", 100000, 100000)
    with pytest.raises(PromptError, match="too large"):
        MaskPrompt.from_file(bomb)


def _fill_disk(monkeypatch) -> None:
    """Every write the writers and the spool make goes to /dev/full (ENOSPC)."""

    def full(path: Path, data: bytes) -> None:
        with open("/dev/full", "wb") as handle:
            handle.write(data)

    monkeypatch.setattr(W, "write_file", full)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_disk_names_the_cause(clip, tmp_path: Path, monkeypatch) -> None:
    from sam2matting.api import _AlphaSpool

    _fill_disk(monkeypatch)
    info = open_source([clip.frame(0)[0]]).info
    path = W.output_path(tmp_path, "c", "alpha-png", 1)
    writer = W.open_writer("alpha-png", path, info)
    with pytest.raises(OutputError, match="No space left on device"):
        writer.write(clip.frame(0)[0], clip.alpha(0))
        writer.close()  # the PNG encoder pool reports a failed file on close at the latest
    assert list(tmp_path.iterdir()) == []
    spool = _AlphaSpool()
    try:
        with pytest.raises(OutputError, match=r"temporary folder .*No space left on device"):
            spool.put(0, 1, clip.alpha(0))
    finally:
        spool.close()


def test_negative_and_nan_boxes() -> None:
    argv = _join_negative_values(["matte", "in.mp4", "-o", "o", "--box", "-50,10,200,300"])
    args = build_parser().parse_args(argv)
    (box,) = prompts_from_args(args.prompt_items)
    assert (box.x0, box.y0, box.x1, box.y1) == (-50, 10, 200, 300)
    args = build_parser().parse_args(["matte", "in.mp4", "-o", "o", "--box", "nan,1,2,3"])
    with pytest.raises(PromptError, match="finite"):
        prompts_from_args(args.prompt_items)


# --------------------------------------------------------------------------------------------
# friction


def test_frame_range_outputs_cover_it_and_audio_is_trimmed(clip, video, tmp_path: Path) -> None:
    mask = MaskPrompt(clip.alpha(2) > 0.5, frame=2)
    result = matte_video(
        video,
        [mask],
        tmp_path,
        formats=["prores", "alpha-png"],
        head="mask",
        frames=(2, 5),
        progress=False,
    )
    assert result.num_frames == 3
    assert len(list(result.paths[(1, "alpha-png")].iterdir())) == 3
    mov = result.paths[(1, "prores")]
    with av.open(str(mov)) as container:
        v, a = container.streams.video[0], container.streams.audio[0]
        assert v.frames == 3
        audio_s = float(a.duration * a.time_base)
    assert abs(audio_s - 3 / clip.fps) < 0.03  # to the nearest AAC packet (21 ms)
    # prompts keep the input's numbering: frame 1 is outside 2:5
    with pytest.raises(PromptError, match="outside the frame range 2:5"):
        matte_video(video, [MaskPrompt(mask.mask, frame=1)], None, frames=(2, 5), progress=False)
    with pytest.raises(InputError, match="not inside the clip"):
        matte_video(video, [mask], None, frames=(2, 99), head="mask", progress=False)


def test_frame_range_option_parses(tmp_path: Path, capsys) -> None:
    from sam2matting.io.readers import parse_frame_range

    assert parse_frame_range("100:250") == (100, 250)
    assert parse_frame_range("100:") == (100, None)
    assert parse_frame_range(":50") == (0, 50)
    with pytest.raises(InputError, match="START:END"):
        parse_frame_range("10-20")
    # a range that holds no frame is refused as such, not as "the prompt is outside 10:5"
    for empty in ("10:5", "5:5", "-3:10"):
        with pytest.raises(InputError, match=r"needs 0 <= START < END"):
            parse_frame_range(empty)
    from sam2matting.cli import main

    frames = tmp_path / "frames"
    frames.mkdir()
    for t in range(3):
        cv2.imwrite(str(frames / f"{t:03d}.png"), np.full((16, 16, 3), 40 * t, np.uint8))
    capsys.readouterr()
    code = main(
        ["matte", str(frames), "-o", str(tmp_path / "out"), "--box", "2,2,9,9", "--frames", "2:1"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "bad frame range '2:1': needs 0 <= START < END" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_named_tracker_fails_fast_when_the_hub_is_unreachable(monkeypatch) -> None:
    pytest.importorskip("transformers")
    from sam2matting.trackers.registry import build_tracker
    from sam2matting.trackers.weights import weights_status

    if weights_status("sam2.1-hiera-tiny").startswith("present"):
        pytest.skip("sam2.1-hiera-tiny weights are cached on this machine")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError):  # warm-up: importing transformers takes seconds here
        build_tracker("sam2.1-hiera-tiny")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # closed local port: refused at once
    t0 = time.monotonic()
    with pytest.raises(WeightsError, match="hub is unreachable") as info:
        build_tracker("sam2.1-hiera-tiny")
    assert time.monotonic() - t0 < 10
    assert "\n" not in str(info.value) and "--tracker PATH" in str(info.value)


def test_short_background_video_is_reported(clip, tmp_path: Path, caplog) -> None:
    from sam2matting.io.compose import BackgroundSource

    short = write_sample_video(make_sample_clip(96, 64, 3), tmp_path / "bg.mp4", audio=False)
    with caplog.at_level("WARNING", logger="sam2matting"):
        BackgroundSource(str(short), 96, 64, clip_frames=6).close()
    assert "has 3 frames but the clip 6: it loops" in caplog.text


def test_demo_paths_are_relative_to_where_the_user_stands(tmp_path: Path, monkeypatch) -> None:
    from sam2matting.demo import shown_path

    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "demo" / "x.mov") == str(Path("demo") / "x.mov")
    elsewhere = tmp_path.parent / "elsewhere.mov"
    assert shown_path(elsewhere) == str(elsewhere.resolve())


def test_log_lines_go_above_the_progress_bar(monkeypatch) -> None:
    import logging

    from tqdm import tqdm

    from sam2matting.cli import _BarSafeHandler

    written: list[str] = []
    monkeypatch.setattr(tqdm, "write", staticmethod(lambda text, file=None: written.append(text)))
    handler = _BarSafeHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.emit(logging.LogRecord("sam2matting", logging.INFO, __file__, 1, "hello", None, None))
    assert written == ["hello"]


def test_train_defaults_to_the_shipped_model() -> None:
    import json

    import sam2matting.weights
    from sam2matting.train.loop import TrainConfig

    folder = Path(sam2matting.weights.__file__).parent
    manifest = folder / "sam2matting-compact-guided-v3.json"
    shipped = json.loads(manifest.read_text())["config"]["name"]
    assert TrainConfig().model == shipped == "compact-guided"


def test_eval_marks_a_method_that_fails_on_a_clip_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``eval``: one method failing on one clip (here: a head raising on the second clip, as
    pymatting did on a trimap with no foreground) is recorded for that clip; the other clips
    and methods are still scored and the report is written. The failed clip's frames count as
    empty mattes, so the failing method is averaged over the same frames as the others and
    pays for them (leaving the clip out gave a method that fails on the hardest clip the
    best mean)."""
    from sam2matting.eval import bench
    from sam2matting.eval.datasets import read_rvm
    from sam2matting.matting import classical

    root = tmp_path / "bench"
    for seed, name in enumerate(("s0", "s1")):
        sample = make_sample_clip(96, 64, 3, seed=seed)
        for d in ("com", "pha", "mask"):
            (root / name / d).mkdir(parents=True)
        for t in range(3):
            image, alpha = sample.frame(t)
            a8 = np.rint(alpha * 255).astype(np.uint8)
            cv2.imwrite(str(root / name / "com" / f"{t:04d}.png"), image[..., ::-1])
            cv2.imwrite(str(root / name / "pha" / f"{t:04d}.png"), a8)
            if t == 0:
                cv2.imwrite(
                    str(root / name / "mask" / "0000.png"), (a8 > 127).astype(np.uint8) * 255
                )
    original = classical.ClassicalMatting.matte
    calls = {"n": 0}

    def flaky(self, image, tracks, index):  # type: ignore[no-untyped-def]
        if self.config.solver == "closed-form":
            calls["n"] += 1
            if calls["n"] > 3:  # every frame of the second clip
                raise ValueError("Trimap did not contain foreground values\nmore text")
        return original(self, image, tracks, index)

    monkeypatch.setattr(classical.ClassicalMatting, "matte", flaky)
    report = bench.evaluate(
        read_rvm(root),
        bench.make_methods(["trimap+cf", "mask-only"], ["oracle"]),
        metrics=("mad",),
    )
    cf = next(label for label in report.means if "cf" in label)
    assert list(report.failed) == [cf]
    assert report.failed[cf] == {
        "s1": "frame 0: ValueError: Trimap did not contain foreground values"
    }
    assert "mad" in report.results[cf]["s0"]["mean"]
    other = next(iter(set(report.means) - {cf}))
    assert all("mad" in c["mean"] for c in report.results[other].values())
    # s1 is scored for the failed method too: three empty mattes against the truth
    failed_clip = report.results[cf]["s1"]
    assert failed_clip["failed"].startswith("frame 0: ValueError")
    assert [f["frame"] for f in failed_clip["frames"]] == [0, 1, 2]
    assert all(f.get("empty") for f in failed_clip["frames"])
    truth_mean = float(
        np.mean(
            [cv2.imread(str(root / "s1" / "pha" / f"{t:04d}.png"), 0) / 255.0 for t in range(3)]
        )
    )
    assert failed_clip["mean"]["mad"] == pytest.approx(truth_mean * 1e3, rel=0.02)
    pooled = [f["objects"]["1"]["mad"] for c in report.results[cf].values() for f in c["frames"]]
    assert report.means[cf]["mad"] == pytest.approx(float(np.mean(pooled)))
    assert report.means[cf]["mad"] > report.results[cf]["s0"]["mean"]["mad"]
    assert "failed on s1" in bench.markdown_report(report)
    assert "scored as empty mattes" in bench.markdown_report(report)
    report.write_json(tmp_path / "r.json")

    # the command line: the table is printed, then one error line and status 1
    from sam2matting.cli import main

    calls["n"] = 0
    capsys.readouterr()
    code = main(
        ["eval", str(root), "--method", "trimap+cf", "--tracker", "oracle", "--no-conn", "-q"]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert "failed on s1" in out and "| trimap+cf" in out
    assert err.strip().count("\n") == 0 and "matting failed (trimap+cf/oracle on s1)" in err
    assert "Traceback" not in out + err


def test_nested_cancel_requests_never_block() -> None:
    """Python runs a signal handler between any two bytecodes of the main thread, so a second
    Ctrl-C can run its handler inside the first one's. Simulated here: at every line the first
    :func:`request_cancel` reaches (its callees included), a nested request is made. Each must
    return at once; a lock in the path (``threading.Event.set`` had one) made the nested call
    wait on its own thread for good. Once the first request is recorded, the nested one must
    see it (the handler's cue to force the exit)."""
    import threading

    from sam2matting import cancel

    def run_with_nested_at(position: int) -> str:
        seen = [0]
        outcome: list[str] = []

        def tracer(frame, event, arg):
            if event == "line":
                seen[0] += 1
                if seen[0] == position:
                    sys.settrace(None)
                    pending = cancel.request_cancel()
                    outcome.append("saw the first" if pending else "came first")
            return tracer

        def first() -> None:
            cancel.clear_cancel()
            sys.settrace(tracer)
            try:
                cancel.request_cancel()
            finally:
                sys.settrace(None)
                cancel.clear_cancel()

        worker = threading.Thread(target=first, daemon=True)
        worker.start()
        worker.join(timeout=5)
        assert not worker.is_alive(), f"a nested request at line {position} blocked"
        return outcome[0] if outcome else "not reached"

    results = [run_with_nested_at(k) for k in range(1, 8)]
    assert results[0] == "came first"  # nested before anything was recorded
    assert "saw the first" in results  # nested after the first request was recorded
