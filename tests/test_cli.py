"""The command line: help, demo, and a clear one-line error for every kind of bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sam2matting.cli import main
from sam2matting.samples import make_sample_clip, write_sample_video

W, H = 128, 72


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_video(make_sample_clip(W, H, 6), tmp_path_factory.mktemp("in") / "clip.mp4")


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], match: str) -> None:
    status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status != 0
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("sam2matting: error:"), err
    assert match in last, last


def _no_outputs(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())


def test_help_and_info(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["matte", "--help"])
    assert exc.value.code == 0
    assert "--box" in capsys.readouterr().out
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "builtin" in out and "guided" in out and "device" in out


def test_matte_cli_box(video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matte", str(video), "-o", str(tmp_path), "--box", "20,10,110,70", "-q"]) == 0
    pngs = sorted((tmp_path / "clip.obj1.alpha-png").iterdir())
    assert len(pngs) == 6


def test_missing_file(tmp_path: Path, capsys) -> None:
    _fails(
        capsys,
        ["matte", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "o"), "--box", "1,1,5,5"],
        "not found",
    )


def test_not_a_video(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_text("this is not a video\n")
    _fails(capsys, ["matte", str(bad), "-o", str(tmp_path / "o"), "--box", "1,1,5,5"], str(bad))
    assert bad.read_text() == "this is not a video\n"


def test_zero_frame_video(tmp_path: Path, capsys) -> None:
    import av

    path = tmp_path / "empty.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
    out = tmp_path / "o"
    _fails(capsys, ["matte", str(path), "-o", str(out), "--box", "1,1,5,5"], "")
    _no_outputs(out)


def test_truncated_video(video: Path, tmp_path: Path, capsys) -> None:
    data = video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "o"
    _fails(capsys, ["matte", str(cut), "-o", str(out), "--box", "20,10,110,70"], "")
    _no_outputs(out)


def test_mixed_frame_sizes(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(folder / "f1.png")
    Image.fromarray(np.zeros((H + 2, W, 3), np.uint8)).save(folder / "f2.png")
    _fails(capsys, ["matte", str(folder), "-o", str(tmp_path / "o"), "--box", "1,1,5,5"], "f2.png")


def test_prompt_outside_frame(video: Path, tmp_path: Path, capsys) -> None:
    _fails(capsys, ["matte", str(video), "-o", str(tmp_path / "o"), "--point", "500,20"], "outside")
    _fails(
        capsys,
        ["matte", str(video), "-o", str(tmp_path / "o"), "--box", "200,100,300,200"],
        "outside",
    )


def test_empty_mask(video: Path, tmp_path: Path, capsys) -> None:
    mask = tmp_path / "m.png"
    Image.fromarray(np.zeros((H, W), np.uint8)).save(mask)
    _fails(capsys, ["matte", str(video), "-o", str(tmp_path / "o"), "--mask", str(mask)], "empty")


def test_frame_past_clip(video: Path, tmp_path: Path, capsys) -> None:
    _fails(
        capsys,
        ["matte", str(video), "-o", str(tmp_path / "o"), "--frame", "99", "--box", "20,10,110,70"],
        "frame 99",
    )


def test_unknown_format(video: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    _fails(
        capsys,
        ["matte", str(video), "-o", str(out), "--box", "20,10,110,70", "-f", "gif"],
        "unknown output format",
    )
    _no_outputs(out)


def test_unwritable_output(video: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    _fails(
        capsys, ["matte", str(video), "-o", str(blocker / "sub"), "--box", "20,10,110,70"], "output"
    )


def test_no_prompt(video: Path, tmp_path: Path, capsys) -> None:
    _fails(capsys, ["matte", str(video), "-o", str(tmp_path / "o")], "no prompt")


def test_bad_prompt_syntax(video: Path, tmp_path: Path, capsys) -> None:
    _fails(capsys, ["matte", str(video), "-o", str(tmp_path / "o"), "--box", "1,2,3"], "4 numbers")
    _fails(
        capsys, ["matte", str(video), "-o", str(tmp_path / "o"), "--point", "1,2,maybe"], "label"
    )


def test_text_prompt_on_builtin(video: Path, tmp_path: Path, capsys) -> None:
    _fails(capsys, ["matte", str(video), "-o", str(tmp_path / "o"), "--text", "a blob"], "text")


@pytest.mark.parametrize(
    "sig,code,times",
    [(signal.SIGTERM, 143, 1), (signal.SIGINT, 130, 1), (signal.SIGINT, 130, 2)],
    ids=["sigterm", "ctrl-c", "ctrl-c-twice"],
)
def test_interrupted_run_leaves_nothing(
    tmp_path: Path, sig: signal.Signals, code: int, times: int
) -> None:
    clip = make_sample_clip(256, 144, 200)
    src = write_sample_video(clip, tmp_path / "long.mp4", audio=False)
    before = src.read_bytes()
    out = tmp_path / "o"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sam2matting.cli",
            "matte",
            str(src),
            "-o",
            str(out),
            "--box",
            ",".join(f"{v:.0f}" for v in clip.box(0)),
            "-f",
            "alpha-png",
            "-f",
            "prores",
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    # wait until it is writing (temporary outputs exist), then interrupt
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and any(out.iterdir()):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    for _ in range(times):  # a second Ctrl-C must still end in 130, not a death by SIGINT
        proc.send_signal(sig)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert "interrupted" in err
    # nothing under a final name, and the output folder the run created is gone again
    assert not out.exists(), sorted(p.name for p in out.iterdir())
    assert src.read_bytes() == before


def test_demo(tmp_path: Path, capsys) -> None:
    assert main(["demo", "-o", str(tmp_path), "--frames", "6", "--size", "160x96", "-q"]) == 0
    out = capsys.readouterr().out
    assert "MAD" in out
    assert (tmp_path / "sample.mp4").exists()
    assert (tmp_path / "sample.obj1.prores.mov").exists() or any(
        p.suffix == ".mov" for p in tmp_path.iterdir()
    )


def test_matte_cli_warns_where_the_object_is_lost(tmp_path: Path, caplog) -> None:
    import logging

    clip = make_sample_clip(W, H, 10)
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(10):
        image = clip.frame(i)[0]
        if i >= 4:  # the object leaves: background only
            image = np.clip(clip._background(i) * 255 + 0.5, 0, 255).astype(np.uint8)
        Image.fromarray(image).save(frames / f"{i:03d}.png")
    box = ",".join(f"{v:.0f}" for v in clip.box(0))
    with caplog.at_level(logging.WARNING, logger="sam2matting"):
        status = main(
            ["matte", str(frames), "-o", str(tmp_path / "o"), "--box", box, "--head", "guided"]
        )
    assert status == 0
    assert "object 1 lost from frame 4; add a prompt there" in caplog.text


def test_head_options_reach_the_head_and_bad_ones_are_one_line_errors(
    video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sam2matting.io.writers import read_alpha_frames

    base = ["matte", str(video), "--box", "20,10,110,70", "--tracker", "builtin", "-q"]
    plain, off = tmp_path / "plain", tmp_path / "off"
    assert main([*base, "-o", str(plain)]) == 0
    assert main([*base, "-o", str(off), "--head-option", "edge_radius=0"]) == 0
    a = list(read_alpha_frames(next(plain.glob("*.alpha-png"))))
    b = list(read_alpha_frames(next(off.glob("*.alpha-png"))))
    assert len(a) == len(b) == 6
    assert any(not np.array_equal(x, y) for x, y in zip(a, b, strict=True))  # it reached the head
    for option, match in [
        ("bogus=1", "unknown option(s) for head 'sam2matting': bogus; allowed:"),
        ('temporal="fast"', "option temporal='fast': expected float"),
        ("refine=1", "option refine=1: expected bool"),
        ("roi_mode=foo", "expected one of 'learned', 'morphological', 'mask'"),
        ("temporal", "--head-option wants KEY=VALUE"),
    ]:
        out = tmp_path / "bad"
        _fails(capsys, [*base, "-o", str(out), "--head-option", option], match)
        _no_outputs(out)
    out = tmp_path / "bad-guided"
    _fails(
        capsys,
        [*base, "-o", str(out), "--head", "guided", "--head-option", "radius=3"],
        "unknown option(s) for head 'guided': radius; allowed: band_fraction, guided_eps",
    )
    _no_outputs(out)


def test_tracker_options_reach_the_tracker_and_bad_ones_are_one_line_errors(
    video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sam2matting.io.writers import read_alpha_frames

    base = ["matte", str(video), "--box", "20,10,110,70", "--tracker", "builtin", "-q"]
    plain, coarse = tmp_path / "plain", tmp_path / "coarse"
    assert main([*base, "-o", str(plain)]) == 0
    assert main([*base, "-o", str(coarse), "--tracker-option", "max_side=40"]) == 0
    a = list(read_alpha_frames(next(plain.glob("*.alpha-png"))))
    b = list(read_alpha_frames(next(coarse.glob("*.alpha-png"))))
    assert len(a) == len(b) == 6
    assert any(not np.array_equal(x, y) for x, y in zip(a, b, strict=True))  # it reached it
    for option, match in [
        ("bogus=1", "unknown option(s) for the builtin tracker: bogus; allowed: "),
        ('max_side="big"', "the builtin tracker option max_side='big': expected int"),
        ("max_side=8", "max_side must be >= 32"),
        ("thin_structures", "--tracker-option wants KEY=VALUE"),
    ]:
        out = tmp_path / "bad"
        _fails(capsys, [*base, "-o", str(out), "--tracker-option", option], match)
        _no_outputs(out)


def test_second_interrupt_in_a_finalizer_prints_no_traceback(capsys, monkeypatch) -> None:
    """A Ctrl-C that lands inside a ``__del__`` is dropped quietly (the first one is already
    stopping the run); other unraisable errors still reach the default hook."""
    from sam2matting.cli import _quiet_interrupts_in_finalizers

    class Interrupted:
        def __del__(self) -> None:
            raise KeyboardInterrupt("interrupted")

    class Broken:
        def __del__(self) -> None:
            raise ValueError("boom")

    monkeypatch.setattr(sys, "unraisablehook", _quiet_interrupts_in_finalizers)
    Interrupted()
    assert capsys.readouterr().err == ""
    Broken()
    err = capsys.readouterr().err
    assert "ValueError: boom" in err
