"""MattingSession's interactive calls (preview, removing prompts and objects) and ResultWriter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sam2matting.api import MattingSession, ResultWriter, matte_video
from sam2matting.errors import InputError, OutputError, PromptError
from sam2matting.samples import make_sample_clip
from sam2matting.types import Box, FrameResult, Points

pytestmark = pytest.mark.usefixtures("one_torch_thread")

W, H, N = 160, 96, 6


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return [image for image, _ in make_sample_clip(W, H, N)]


def centre_click(frame: int = 0, obj: int = 1) -> Points:
    cx, cy = make_sample_clip(W, H, N).center(frame)
    return Points(((cx, cy),), (1,), frame=frame, object_id=obj)


def test_preview_equals_the_propagated_frame(frames: list[np.ndarray]) -> None:
    with MattingSession(frames, head="guided") as session:
        session.add_prompt(centre_click(2))
        preview = session.preview(2)
        assert preview.index == 2 and set(preview.alphas) == {1}
        early = session.preview(0)  # object 1 starts on frame 2
        assert not early.alphas[1].any()
        propagated = {r.index: r for r in session.propagate()}
    np.testing.assert_allclose(preview.alphas[1], propagated[2].alphas[1], atol=1e-6)
    assert preview.masks[1].mean() > 0.02


def test_preview_checks_the_frame(frames: list[np.ndarray]) -> None:
    with MattingSession(frames, head="guided") as session:
        session.add_prompt(centre_click())
        with pytest.raises(InputError, match="outside the clip"):
            session.preview(N)
        with pytest.raises(InputError, match="outside the clip"):
            session.preview(-1)


def test_removing_prompts_and_objects_rebuilds_the_tracker(frames: list[np.ndarray]) -> None:
    x0, y0, x1, y1 = make_sample_clip(W, H, N).box(0)
    with MattingSession(frames, head="guided") as session:
        session.add_prompt(centre_click())
        session.add_prompt(Box(x0, y0, x1, y1, frame=0, object_id=2))
        assert session.object_ids == [1, 2]
        removed = session.remove_object(2)
        assert removed == 1 and session.object_ids == [1]
        only_click = session.preview(0).alphas
        assert set(only_click) == {1}
        session.add_prompt(Box(x0, y0, x1, y1, frame=0, object_id=2))
        session.add_prompt(Points(((x0 + 2, y0 + 2),), (1,), frame=0, object_id=1))
        assert [type(p).__name__ for p in session.prompts] == ["Points", "Box", "Points"]
        session.remove_prompt(2)
        np.testing.assert_allclose(session.preview(0).alphas[1], only_click[1], atol=1e-6)
        got = session.remove_prompt(1)
        assert isinstance(got, Box) and len(session.prompts) == 1
        with pytest.raises(PromptError, match="no prompt 3"):
            session.remove_prompt(3)
        with pytest.raises(PromptError, match="object 7 has no prompts"):
            session.remove_object(7)
        results = list(session.propagate())
    assert len(results) == N and set(results[0].alphas) == {1}


def test_result_writer_writes_what_it_is_given(tmp_path: Path, frames: list[np.ndarray]) -> None:
    from sam2matting.io.readers import open_source
    from sam2matting.io.writers import read_alpha_frames

    info = open_source(frames).info
    alpha = np.zeros((H, W), np.float32)
    alpha[10:50, 20:90] = 1.0
    with ResultWriter(tmp_path, "clip", info, [1, 2], formats=["alpha-png"], combined=True) as w:
        for i, image in enumerate(frames):
            w.write(FrameResult(index=i, image=image, alphas={1: alpha * (i % 2)}))
        paths = w.close()
    assert set(paths) == {(1, "alpha-png"), (2, "alpha-png"), (None, "alpha-png")}
    ones = list(read_alpha_frames(paths[(1, "alpha-png")]))
    assert len(ones) == N and ones[1].max() == 1.0 and ones[0].max() == 0.0
    assert max(a.max() for a in read_alpha_frames(paths[(2, "alpha-png")])) == 0.0  # missing = 0
    with pytest.raises(OutputError, match="unknown output format"):
        ResultWriter(tmp_path, "x", info, [1], formats=["gif"])
    with pytest.raises(PromptError, match="no object"):
        ResultWriter(tmp_path, "x", info, [], formats=["alpha-png"])


def test_result_writer_aborts_on_error(tmp_path: Path, frames: list[np.ndarray]) -> None:
    from sam2matting.io.readers import open_source

    info = open_source(frames).info
    with pytest.raises(RuntimeError), ResultWriter(tmp_path, "clip", info, [1]) as w:
        w.write(FrameResult(index=0, image=frames[0], alphas={1: np.ones((H, W), np.float32)}))
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []  # nothing under a final or temporary name


def test_matte_video_still_writes_through_result_writer(
    tmp_path: Path, frames: list[np.ndarray]
) -> None:
    out = matte_video(frames, [centre_click()], tmp_path, head="guided", progress=False)
    assert set(out.paths) == {(1, "alpha-png")} and out.num_frames == N


def test_result_writer_keeps_the_exr_options_and_writes_a_contact_sheet(
    tmp_path: Path, frames: list[np.ndarray]
) -> None:
    OpenEXR = pytest.importorskip("OpenEXR")
    import cv2

    from sam2matting.io.readers import open_source
    from sam2matting.io.writers import read_exr

    info = open_source(frames).info
    alpha = np.zeros((H, W), np.float32)
    alpha[10:50, 20:90] = 1.0
    with ResultWriter(
        tmp_path,
        "clip",
        info,
        [1, 2],
        formats=["exr", "exr-layers"],
        exr_colour="display",
        exr_compression="piz",
        contact_sheet=True,
    ) as w:
        for i, image in enumerate(frames):
            w.write(FrameResult(index=i, image=image, alphas={1: alpha, 2: alpha[::-1].copy()}))
        paths = w.close()
    assert set(paths) == {(1, "exr"), (2, "exr"), (None, "exr-layers"), (None, "contact-sheet")}
    first = sorted(paths[(1, "exr")].iterdir())[0]
    with OpenEXR.File(str(first)) as handle:
        assert "PIZ" in str(dict(handle.header())["compression"])
    channels = read_exr(first)
    # display colour: R where alpha is 1 is the frame's own value (≈ the foreground estimate),
    # not linearised (which would be far below it for mid-grey values)
    display = frames[0][30, 50, 0] / 255.0
    assert 0.2 < display < 0.9
    assert abs(float(channels["R"][30, 50]) - display) < 0.02
    layers = read_exr(sorted(paths[(None, "exr-layers")].iterdir())[0])
    assert layers["obj1.A"][30, 50] == 1.0 and layers["obj2.A"][30, 50] == 0.0
    sheet = cv2.imread(str(paths[(None, "contact-sheet")]))
    assert sheet is not None and sheet.shape[1] == N * 320 + (N - 1) * 4


def test_result_writer_refuses_bad_exr_options_and_removes_folders_it_created(
    tmp_path: Path, frames: list[np.ndarray]
) -> None:
    from sam2matting.io.readers import open_source

    info = open_source(frames).info
    with pytest.raises(OutputError, match="unknown EXR compression"):
        ResultWriter(tmp_path / "a", "clip", info, [1], formats=["exr"], exr_compression="lzma")
    with pytest.raises(OutputError, match="unknown EXR colour"):
        matte_video(frames, [centre_click()], tmp_path / "b", exr_colour="srgb", progress=False)
    assert list(tmp_path.iterdir()) == []  # refused before any folder was created
    with pytest.raises(RuntimeError), ResultWriter(tmp_path / "c" / "d", "clip", info, [1]) as w:
        w.write(FrameResult(index=0, image=frames[0], alphas={1: np.ones((H, W), np.float32)}))
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []  # c/d were created by the writer, and removed again
