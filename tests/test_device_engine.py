"""Issue 11: one device decision per session, validated devices and dtypes, the tensor-op
(GPU) paths of the heads run on the CPU against the numpy / OpenCV paths, the pipelined
engine (order, errors, early close, same outputs as one thread) and the PNG encoder pool."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from sam2matting import Box, MattingSession, matte_video
from sam2matting.cli import main
from sam2matting.device import resolve_device, resolve_dtype
from sam2matting.engine import Prefetch
from sam2matting.errors import Sam2MattingError
from sam2matting.matting import device_ops
from sam2matting.matting.classical import ClassicalMatting, band_alpha, guided_filter
from sam2matting.samples import SampleClip, make_sample_clip, write_sample_video
from sam2matting.types import ObjectTrack

pytestmark = pytest.mark.usefixtures("one_torch_thread")

W, H, N = 192, 108, 6


@pytest.fixture(scope="module")
def clip() -> SampleClip:
    return make_sample_clip(W, H, N, fps=24)


def _tracks(clip: SampleClip, t: int) -> tuple[np.ndarray, dict[int, ObjectTrack]]:
    """The frame and a soft mask track from the clip's known alpha (logits at quarter size)."""
    frame, alpha = clip.frame(t)
    small = cv2.resize(alpha.astype(np.float32), (W // 2, H // 2), interpolation=cv2.INTER_AREA)
    logits = (small - 0.5) * 12.0
    return frame, {1: ObjectTrack(logits=logits.astype(np.float32))}


# --------------------------------------------------------------------------------------------
# devices and dtypes
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("tpu9", "unknown device 'tpu9'"),
        ("xla", "unsupported device 'xla'"),
        ("cuda", "CUDA is not available"),
        ("cuda:1", "CUDA is not available"),
        ("mps", "MPS is not available"),
    ],
)
def test_bad_device_is_one_line_exit_2_no_output(
    tmp_path: Path, clip: SampleClip, capsys: pytest.CaptureFixture[str], device: str, message: str
) -> None:
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    video = write_sample_video(clip, tmp_path / "in.mp4")
    out = tmp_path / "out"
    code = main(["matte", str(video), "--box", "10,10,60,60", "-o", str(out), "--device", device])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert not out.exists(), "an output folder was created for a bad device"


@pytest.mark.parametrize(
    ("dtype", "message"),
    [("fp16", "fp16 is not supported on the CPU"), ("int8", "unknown dtype 'int8'")],
)
def test_bad_dtype_is_one_line_exit_2_no_output(
    tmp_path: Path, clip: SampleClip, capsys: pytest.CaptureFixture[str], dtype: str, message: str
) -> None:
    video = write_sample_video(clip, tmp_path / "in.mp4")
    out = tmp_path / "out"
    args = ["matte", str(video), "--box", "10,10,60,60", "-o", str(out), "--device", "cpu"]
    code = main([*args, "--dtype", dtype])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_resolve_dtype_names() -> None:
    cpu = torch.device("cpu")
    assert resolve_dtype(None, cpu) == "auto"
    assert resolve_dtype("BF16", cpu) == "bfloat16"
    assert resolve_dtype("fp32", cpu) == "float32"
    with pytest.raises(Sam2MattingError):
        resolve_dtype("fp16", cpu)
    assert resolve_device("cpu") == cpu


def test_session_device_reaches_every_head(clip: SampleClip) -> None:
    """One decision: the session's device is what the learned and guided heads run on."""
    frames = [clip.frame(t)[0] for t in range(2)]
    with MattingSession(frames, device="cpu", head_options={"weights": None}) as session:
        assert session.device == torch.device("cpu")
        assert session.head.device == torch.device("cpu")  # type: ignore[attr-defined]
        assert session.head.tensor_ops is False  # type: ignore[attr-defined]
    with MattingSession(frames, head="guided", device="cpu") as session:
        assert type(session.head) is ClassicalMatting  # OpenCV path on the CPU


def test_progress_line_names_the_device(
    tmp_path: Path, clip: SampleClip, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tqdm

    seen: list[str] = []
    real = tqdm.tqdm

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(str(kwargs.get("desc")))
        return real(*args, **{**kwargs, "disable": True})

    monkeypatch.setattr(tqdm, "tqdm", spy)
    matte_video(
        [clip.frame(t)[0] for t in range(2)],
        [Box(*clip.box(0))],
        tmp_path / "o",
        head="guided",
        device="cpu",
    )
    assert seen == ["matting [cpu]"]


# --------------------------------------------------------------------------------------------
# tensor ops against numpy / OpenCV
# --------------------------------------------------------------------------------------------
def test_box_filter_matches_opencv() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((37, 53), dtype=np.float32)
    for r in (1, 4, 20):
        want = cv2.boxFilter(x, -1, (2 * r + 1,) * 2, normalize=True, borderType=cv2.BORDER_REFLECT)
        got = device_ops.box_filter(torch.from_numpy(x)[None, None], r)[0, 0].numpy()
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_morphology_matches_opencv() -> None:
    rng = np.random.default_rng(1)
    m = (cv2.GaussianBlur(rng.random((60, 80), dtype=np.float32), (0, 0), 4) > 0.5).astype(np.uint8)
    for r in (1, 3, 7):
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)
        t = torch.from_numpy(m.astype(np.float32))[None, None]
        assert np.array_equal(device_ops.dilate(t, r)[0, 0].numpy(), cv2.dilate(m, disc) > 0)
        assert np.array_equal(device_ops.erode(t, r)[0, 0].numpy(), cv2.erode(m, disc) > 0)


def test_guided_filter_matches_opencv(clip: SampleClip) -> None:
    frame, alpha = clip.frame(0)
    g = frame.astype(np.float32) / 255.0
    p = (alpha > 0.5).astype(np.float32)
    gt = torch.from_numpy(g).permute(2, 0, 1)[None]
    pt = torch.from_numpy(p)[None, None]
    # exact filter: same up to float rounding
    want = guided_filter(g, p, 4, 1e-3, 1)
    got = device_ops.guided_filter(gt, pt, 4, 1e-3, 1)[0, 0].numpy()
    np.testing.assert_allclose(got, want, atol=2e-4)
    # subsampled ("fast") filter: area resizes differ at fractional cells; bounded difference
    want = guided_filter(g, p, 9, 1e-3, 3)
    got = device_ops.guided_filter(gt, pt, 9, 1e-3, 3)[0, 0].numpy()
    assert np.abs(got - want).mean() < 0.01


def test_band_alpha_matches_opencv(clip: SampleClip) -> None:
    frame, alpha = clip.frame(1)
    g = frame.astype(np.float32) / 255.0
    mask = alpha > 0.5
    for r in (3, 5):
        want = band_alpha(g, mask.astype(np.float32), mask, r, "guided")
        got = device_ops.band_alpha(
            torch.from_numpy(g).permute(2, 0, 1)[None],
            torch.from_numpy(mask.astype(np.float32))[None, None],
            torch.from_numpy(mask.astype(np.float32))[None, None],
            r,
        )[0, 0].numpy()
        diff = np.abs(got - want)
        assert diff.mean() < 0.005 and np.quantile(diff, 0.99) < 0.1, (diff.mean(), diff.max())


def test_tensor_guided_head_matches_opencv_head(clip: SampleClip) -> None:
    from sam2matting.matting.classical import ClassicalConfig

    cpu_head = ClassicalMatting(ClassicalConfig())
    tensor_head = device_ops.TensorGuidedMatting(ClassicalConfig(), torch.device("cpu"))
    for t in range(2):
        frame, tracks = _tracks(clip, t)
        a = cpu_head.matte(frame, tracks)[1]
        b = tensor_head.matte(frame, tracks)[1]
        assert b.dtype == np.float32 and b.shape == a.shape
        diff = np.abs(a - b)
        assert diff.mean() < 0.005 and np.quantile(diff, 0.99) < 0.1


@pytest.mark.parametrize("weights", ["default", None])
def test_learned_tensor_ops_on_cpu_match_numpy_path(clip: SampleClip, weights: str | None) -> None:
    """The GPU code path of the learned head (resizes, prior, tiles, paste as tensor ops), run
    on the CPU, against the numpy / OpenCV path: mean |Δα| ≤ 0.01, 99th pct ≤ 0.1."""
    from sam2matting.matting.weights import build_learned_head as build

    opts: dict[str, object] = {"weights": weights}
    if weights is None:
        opts["model"] = "tiny-guided"
    numpy_head = build(device="cpu", tensor_ops=False, **opts)
    tensor_head = build(device="cpu", tensor_ops=True, **opts)
    assert tensor_head.tensor_ops and not numpy_head.tensor_ops
    for t in range(3):
        frame, tracks = _tracks(clip, t)
        a = numpy_head.matte(frame, tracks, t)[1]
        b = tensor_head.matte(frame, tracks, t)[1]
        assert b.dtype == np.float32 and b.shape == (H, W)
        diff = np.abs(a - b)
        assert diff.mean() < 0.01 and np.quantile(diff, 0.99) < 0.1, (diff.mean(), diff.max())
    assert set(tensor_head.last_timings) >= {"prepare", "heads", "upsample", "refine", "paste"}


def test_session_device_and_dtype_reach_the_learned_builder(clip: SampleClip) -> None:
    """The registry builder of the learned head (``weights.build_learned_head`` since issue 9
    moved it out of ``learned``) names ``device`` / ``dtype``, so a session forwards both."""
    from sam2matting.api import MattingSession

    frames = [clip.frame(t)[0] for t in range(2)]
    with MattingSession(frames, head="sam2matting", device="cpu", dtype="bf16") as s:
        assert s.head.device.type == "cpu" and s.head.config.dtype == "bfloat16"
    with MattingSession(frames, head="sam2matting", device="cpu") as s:
        assert s.head.config.dtype is None


def test_learned_head_bf16_autocast_runs_and_stays_close(clip: SampleClip) -> None:
    """bf16 autocast (CPU here) no longer breaks the head (.numpy() of a bf16 tensor)."""
    from sam2matting.matting.weights import build_learned_head as build

    fp32 = build(device="cpu")
    bf16 = build(device="cpu", dtype="bf16")
    assert bf16.config.dtype == "bfloat16"
    frame, tracks = _tracks(clip, 0)
    a = fp32.matte(frame, tracks)[1]
    b = bf16.matte(frame, tracks)[1]
    assert b.dtype == np.float32
    assert np.abs(a - b).mean() < 0.02


# --------------------------------------------------------------------------------------------
# engine
# --------------------------------------------------------------------------------------------
def test_prefetch_keeps_order_and_bounds_lead() -> None:
    produced: list[int] = []

    def make():
        for i in range(50):
            produced.append(i)
            yield i

    got = []
    with Prefetch(make, depth=2) as p:
        for item in p:
            time.sleep(0.001)
            # the producer is at most depth (queued) + 1 (being put) ahead
            assert len(produced) - item <= 4
            got.append(item)
    assert got == list(range(50))


def test_prefetch_forwards_errors_and_closes_early() -> None:
    closed = threading.Event()

    def failing():
        yield 1
        raise ValueError("boom")

    p = Prefetch(failing)
    assert next(p) == 1
    with pytest.raises(ValueError, match="boom"):
        next(p)

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    q = Prefetch(endless, depth=1)
    assert next(q) == 0
    q.close()
    assert closed.wait(2.0), "the producer's generator was not closed"


def test_pipeline_gives_the_same_outputs_as_one_thread(tmp_path: Path, clip: SampleClip) -> None:
    video = write_sample_video(clip, tmp_path / "in.mp4")
    outs = {}
    for pipeline in (True, False):
        out = tmp_path / f"p{pipeline}"
        res = matte_video(
            video,
            [Box(*clip.box(0))],
            out,
            formats=("alpha-png",),
            progress=False,
            pipeline=pipeline,
        )
        folder = res.paths[(1, "alpha-png")]
        files = sorted(folder.iterdir())
        assert len(files) == N
        outs[pipeline] = [cv2.imread(str(f), cv2.IMREAD_UNCHANGED) for f in files]
    for a, b in zip(outs[True], outs[False], strict=True):
        assert np.array_equal(a, b)


def test_pipeline_error_leaves_nothing(tmp_path: Path, clip: SampleClip) -> None:
    out = tmp_path / "out"

    def boom(result):
        if result.index == 3:
            raise KeyboardInterrupt("interrupted")

    with pytest.raises(KeyboardInterrupt):
        matte_video(
            [clip.frame(t)[0] for t in range(N)],
            [Box(*clip.box(0))],
            out,
            formats=("alpha-png", "rgba-png"),
            head="guided",
            progress=False,
            on_frame=boom,
        )
    # the run created the folder, so a failed run removes it again (issue 15)
    assert not out.exists() or list(out.iterdir()) == [], "partial outputs were left behind"
    alive = [t.name for t in threading.enumerate() if t.name.startswith("sam2matting")]
    assert not [n for n in alive if "png" not in n], alive


def test_png_pool_failure_discards_the_output(
    tmp_path: Path, clip: SampleClip, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PNG that fails in the encoder pool fails the run and leaves no output behind."""
    from sam2matting.errors import OutputError
    from sam2matting.io import writers

    real = writers.write_png
    calls = []

    def flaky(file: Path, arr: np.ndarray, compression: int = 1) -> None:
        calls.append(file)
        if len(calls) == 3:
            raise OutputError(f"could not write {file}")
        real(file, arr, compression)

    monkeypatch.setattr(writers, "write_png", flaky)
    monkeypatch.setattr(writers, "png_threads", lambda: 2)
    out = tmp_path / "out"
    with pytest.raises(OutputError, match="could not write"):
        matte_video(
            [clip.frame(t)[0] for t in range(N)],
            [Box(*clip.box(0))],
            out,
            head="guided",
            progress=False,
        )
    assert not out.exists() or list(out.iterdir()) == []
