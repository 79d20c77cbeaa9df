"""The public API: a matting session over a clip, and one-call helpers for videos and images.

The CLI (and any UI) is a thin client of :class:`MattingSession`::

    with MattingSession("clip.mp4", tracker="builtin") as session:
        session.add_prompt(Box(100, 50, 300, 280, frame=0, object_id=1))
        for result in session.propagate():
            ...  # result.alphas[1] is the float32 H×W matte of frame result.index

Frames stream: they are decoded, tracked, matted and handed out one at a time, so memory is
bounded by the tracker's window and a few frames, not by the clip length. Frames before the
earliest prompt of an object are tracked *backward* first; their mattes are spooled to a
temporary folder on disk (16-bit PNG), so the results still come out in frame order.
"""

from __future__ import annotations

import inspect
import logging
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cancel import check_cancelled
from .errors import InputError, OutputError, PromptError, Sam2MattingError
from .io.readers import FrameSource, VideoInfo, open_source
from .lost import LossMonitor
from .matting.base import MattingStage
from .matting.registry import build_head
from .trackers.base import Tracker, TrackerSession
from .trackers.registry import build_tracker
from .types import FrameResult, Prompt, TextPrompt, TrackedFrame, validate_prompt

_PROMPT_NAMES = {"Points": "point", "Box": "box", "MaskPrompt": "mask", "TextPrompt": "text"}

__all__ = ["MatteOutput", "MattingSession", "StageTimes", "matte_image", "matte_video"]

log = logging.getLogger("sam2matting")

SourceLike = str | Path | np.ndarray | Sequence[np.ndarray] | FrameSource


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------
@dataclass
class StageTimes:
    """Seconds spent per stage over a run: decode, track, matte, foreground, encode."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    frames: int = 0

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds

    def fps(self) -> dict[str, float]:
        """Frames per second each stage alone would sustain (inf for a stage that took no time)."""
        return {k: (self.frames / v if v > 0 else float("inf")) for k, v in self.seconds.items()}

    def summary(self) -> str:
        parts = [f"{k} {1e3 * v / max(self.frames, 1):.1f} ms" for k, v in self.seconds.items()]
        return ", ".join(parts) + " per frame"


class _TimedSource(FrameSource):
    """Wraps a FrameSource so the time spent decoding is counted separately from tracking."""

    def __init__(self, inner: FrameSource, times: StageTimes) -> None:
        self.inner = inner
        self.info = inner.info
        self.times = times

    def _timed(self, it: Iterator[tuple[int, np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
        while True:
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                return
            finally:
                self.times.add("decode", time.perf_counter() - t0)
            yield item

    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        return self._timed(self.inner.iter_frames(start, stop))

    def iter_frames_reverse(
        self, start: int, stop: int = 0, chunk: int = 32
    ) -> Iterator[tuple[int, np.ndarray]]:
        return self._timed(self.inner.iter_frames_reverse(start, stop, chunk))

    def read_frame(self, index: int) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return self.inner.read_frame(index)
        finally:
            self.times.add("decode", time.perf_counter() - t0)

    def close(self) -> None:
        self.inner.close()


# --------------------------------------------------------------------------------------------
# spool for backward passes
# --------------------------------------------------------------------------------------------
class _AlphaSpool:
    """Mattes of backward-tracked frames, kept on disk as 16-bit PNG until emitted in order."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sam2matting-spool-"))

    def _path(self, index: int, object_id: int) -> Path:
        return self.dir / f"{index:07d}_{object_id}.png"

    def put(self, index: int, object_id: int, alpha: np.ndarray) -> None:
        import cv2

        q = np.clip(alpha * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
        if not cv2.imwrite(str(self._path(index, object_id)), q):
            raise OutputError(f"cannot write to the temporary folder {self.dir}")

    def get(self, index: int, object_id: int) -> np.ndarray | None:
        import cv2

        path = self._path(index, object_id)
        if not path.exists():
            return None
        q = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        path.unlink()
        if q is None:
            raise OutputError(f"temporary matte {path} could not be read back")
        return q.astype(np.float32) / 65535.0

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# session
# --------------------------------------------------------------------------------------------
def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    # only a named parameter counts: builders taking **options forward them into typed configs
    return name in params


def _build_tracker(tracker: str | Tracker, options: dict[str, Any], device: str | None) -> Tracker:
    if not isinstance(tracker, str):
        return tracker
    if tracker == "auto":
        from .trackers.auto import choose_tracker

        choice = choose_tracker()
        if choice.notice:
            log.info("%s", choice.notice)
        if choice.name != "builtin":
            try:
                return _build_tracker(choice.name, options, device)
            except Sam2MattingError as exc:
                log.info("tracker auto: %s; using the built-in tracker", exc)
        tracker = "builtin"
    from .trackers.registry import TRACKERS

    spec = TRACKERS.get(tracker)
    opts = dict(options)
    if device is not None and spec is not None and spec.needs_weights:
        opts.setdefault("device", device)
    return build_tracker(tracker, **opts)


def _build_head(
    head: str | MattingStage | None, options: dict[str, Any], device: str | None
) -> MattingStage:
    if head is not None and not isinstance(head, str):
        return head
    opts = dict(options)
    if device is not None:
        from .matting.registry import DEFAULT_HEAD, HEADS

        spec = HEADS.get(head or DEFAULT_HEAD)
        if spec is not None:
            module_name, func_name = spec.builder.split(":")
            import importlib

            builder = getattr(importlib.import_module(module_name), func_name)
            if _accepts(builder, "device"):
                opts.setdefault("device", device)
    return build_head(head, **opts)


class MattingSession:
    """Prompt a clip on any frame, propagate, and receive per-frame, per-object alpha mattes.

    ``source``: a video path, an image folder, an image path, an N×H×W×3 array, a list of
    H×W×3 arrays, or an open FrameSource. ``tracker``: ``auto`` (default: SAM 2.1-tiny when its
    weights are here or can be downloaded, else the built-in tracker, see
    :mod:`sam2matting.trackers.auto`), a registered name (``builtin``, ``oracle``,
    ``sam2.1-hiera-tiny``, …), a local model path, or a Tracker object. ``head``: a
    registered matting-head name (default: the shipped default) or a MattingStage object.
    ``device``: ``cpu`` / ``cuda`` / ``mps`` / ``auto`` for the models that use one.
    """

    def __init__(
        self,
        source: SourceLike,
        *,
        tracker: str | Tracker = "auto",
        head: str | MattingStage | None = None,
        device: str | None = None,
        tracker_options: dict[str, Any] | None = None,
        head_options: dict[str, Any] | None = None,
        fps: float | None = None,
    ) -> None:
        self.times = StageTimes()
        self._owns_source = not isinstance(source, FrameSource)
        raw = open_source(source, fps=fps)
        self._source = _TimedSource(raw, self.times)
        self.info: VideoInfo = raw.info
        self._closed = False
        self._spool: _AlphaSpool | None = None
        try:
            self.tracker = _build_tracker(tracker, tracker_options or {}, device)
            self.head = _build_head(head, head_options or {}, device)
            self._session: TrackerSession = self.tracker.open(self._source)
        except BaseException:
            if self._owns_source:
                raw.close()
            raise
        self._prompts: list[Prompt] = []
        #: per-frame confidences of the last propagation, and where objects were lost
        self.loss = LossMonitor()

    @property
    def lost_warnings(self) -> list[str]:
        """``object 1 lost from frame 36; add a prompt there``, one per span of frames where an
        object's confidence stayed below 0.5 in the last propagation (see :mod:`sam2matting.lost`)."""
        return self.loss.warnings(self.info.num_frames - 1)

    # -- context manager ---------------------------------------------------------------------
    def __enter__(self) -> MattingSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the tracker session, temporary files and the source. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._session.close()
        finally:
            if self._spool is not None:
                self._spool.close()
            if self._owns_source:
                self._source.close()

    # -- prompts -----------------------------------------------------------------------------
    @property
    def prompts(self) -> list[Prompt]:
        return list(self._prompts)

    @property
    def object_ids(self) -> list[int]:
        return sorted({p.object_id for p in self._prompts})

    def add_prompt(self, prompt: Prompt) -> None:
        """Add a prompt on any frame for any object id (validated against the clip)."""
        if self._closed:
            raise Sam2MattingError("the session is closed")
        validate_prompt(prompt, self.info.width, self.info.height, self.info.num_frames)
        if not isinstance(prompt, self.tracker.prompt_types):
            allowed = ", ".join(
                _PROMPT_NAMES.get(t.__name__, t.__name__) for t in self.tracker.prompt_types
            )
            hint = (
                "; text needs a tracker with a detector (--tracker sam3)"
                if isinstance(prompt, TextPrompt)
                else ""
            )
            raise PromptError(
                f"the {self.tracker.name} tracker cannot use {_PROMPT_NAMES[type(prompt).__name__]} prompts "
                f"(it takes {allowed}){hint}"
            )
        self._session.add_prompt(prompt)
        self._prompts.append(prompt)

    def first_frames(self) -> dict[int, int]:
        """The first prompted frame of each object."""
        first: dict[int, int] = {}
        for p in self._prompts:
            first[p.object_id] = min(p.frame, first.get(p.object_id, p.frame))
        return first

    # -- propagation -------------------------------------------------------------------------
    def _matte(self, tracked: TrackedFrame, wanted: Iterable[int]) -> dict[int, np.ndarray]:
        keep = set(wanted)
        tracks = {k: v for k, v in tracked.objects.items() if k in keep}
        t0 = time.perf_counter()
        alphas = self.head.matte(tracked.image, tracks, tracked.index) if tracks else {}
        self.times.add("matte", time.perf_counter() - t0)
        return alphas

    def _tracked(self, it: Iterator[TrackedFrame]) -> Iterator[TrackedFrame]:
        """Time the tracker (its own decoding is counted under 'decode', not 'track')."""
        while True:
            decode_before = self.times.seconds["decode"]
            t0 = time.perf_counter()
            try:
                tracked = next(it)
            except StopIteration:
                return
            elapsed = time.perf_counter() - t0
            self.times.add("track", elapsed - (self.times.seconds["decode"] - decode_before))
            yield tracked

    def propagate(self, *, backward: bool = True) -> Iterator[FrameResult]:
        """Yield one FrameResult per frame, in order 0..N-1.

        Each object is tracked forward from its first prompt; with ``backward`` (default) it is
        also tracked backward from its first prompt to frame 0, otherwise its alpha is 0 before
        its first prompt. Objects absent on a frame get an all-zero alpha.
        """
        if self._closed:
            raise Sam2MattingError("the session is closed")
        if not self._prompts:
            raise PromptError("no prompt given: add a point, box, mask or text prompt first")
        first = self.first_frames()
        ids = sorted(first)
        h, w = self.info.height, self.info.width
        start = min(first.values())
        self.loss = LossMonitor()

        if backward:
            by_frame: dict[int, list[int]] = defaultdict(list)
            for obj, f in first.items():
                if f > 0:
                    by_frame[f].append(obj)
            if by_frame:
                self._spool = _AlphaSpool()
                for f, objs in sorted(by_frame.items()):
                    log.info("tracking objects %s backward from frame %d", objs, f)
                    self.head.reset()
                    for tracked in self._tracked(
                        self._session.propagate(f, reverse=True, end_frame=0)
                    ):
                        check_cancelled()
                        if tracked.index == f:
                            continue
                        self.loss.update(
                            tracked.index,
                            {o: t.score for o, t in tracked.objects.items() if o in objs},
                        )
                        alphas = self._matte(tracked, objs)
                        for obj, alpha in alphas.items():
                            self._spool.put(tracked.index, obj, alpha)

        def finish(index: int, image: np.ndarray, alphas: dict[int, np.ndarray]) -> FrameResult:
            for obj in ids:
                if obj not in alphas and first[obj] > index and self._spool is not None:
                    spooled = self._spool.get(index, obj)
                    if spooled is not None:
                        alphas[obj] = spooled
                alphas.setdefault(obj, np.zeros((h, w), np.float32))
            masks = {k: v > 0.5 for k, v in alphas.items()}
            self.times.frames += 1
            return FrameResult(
                index=index,
                image=image,
                alphas=dict(sorted(alphas.items())),
                masks=masks,
                scores=self.loss.frame_scores(index),
            )

        # frames before any object's first prompt: only spooled (backward) mattes
        for index, image in self._source.iter_frames(0, start):
            check_cancelled()
            yield finish(index, image, {})
        self.head.reset()
        for tracked in self._tracked(self._session.propagate(start)):
            check_cancelled()
            live = [obj for obj in tracked.objects if first.get(obj, 0) <= tracked.index]
            self.loss.update(tracked.index, {o: tracked.objects[o].score for o in live})
            alphas = self._matte(tracked, live)
            yield finish(tracked.index, tracked.image, alphas)
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        for line in self.lost_warnings:
            log.warning("%s", line)


# --------------------------------------------------------------------------------------------
# one-call helpers
# --------------------------------------------------------------------------------------------
@dataclass
class MatteOutput:
    """What :func:`matte_video` wrote: ``paths[(object_id or None for combined, format)]``."""

    paths: dict[tuple[int | None, str], Path]
    num_frames: int
    seconds: float
    times: StageTimes
    info: VideoInfo
    #: ``object 1 lost from frame 36; add a prompt there``, one per span where a track was lost
    warnings: list[str] = field(default_factory=list)


def _stem_for(source: SourceLike) -> str:
    if isinstance(source, (str, Path)):
        p = Path(source)
        return p.stem if p.suffix else p.name
    if isinstance(source, FrameSource) and source.info.path is not None:
        return source.info.path.stem
    return "matte"


def _prepare_output_dir(output: str | Path) -> Path:
    out = Path(output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out}: {exc.strerror or exc}") from exc
    if not out.is_dir():
        raise OutputError(f"output path exists and is not a folder: {out}")
    return out


def matte_video(
    source: SourceLike,
    prompts: Sequence[Prompt],
    output: str | Path | None = None,
    *,
    formats: Sequence[str] = ("alpha-png",),
    tracker: str | Tracker = "auto",
    head: str | MattingStage | None = None,
    device: str | None = None,
    combined: bool = False,
    background: str | Path | tuple[int, int, int] | None = None,
    alpha_bits: int = 8,
    lossless: bool = False,
    backward: bool = True,
    tracker_options: dict[str, Any] | None = None,
    head_options: dict[str, Any] | None = None,
    progress: bool = True,
    on_frame: Callable[[FrameResult], None] | None = None,
    stem: str | None = None,
) -> MatteOutput:
    """Matte every frame of ``source`` for the prompted objects and write ``formats`` to ``output``.

    One output per object and format (``<stem>.obj<id>.<format>…``), plus a combined one (all
    objects' alpha merged by maximum) when ``combined``. Outputs keep the input's frame count,
    size and rate, and its audio where the format can hold it. Every output is written under a
    temporary name and renamed only when complete; on any error or interruption nothing is left
    under a final name. ``on_frame`` sees each FrameResult (e.g. for previews).
    """
    from .io import writers as W
    from .matting.foreground import estimate_foreground

    if not prompts:
        raise PromptError("no prompt given: add a point, box, mask or text prompt")
    fmts = list(dict.fromkeys(formats))
    for fmt in fmts:
        if fmt not in W.FORMATS:
            raise OutputError(f"unknown output format {fmt!r}; choose from: {', '.join(W.FORMATS)}")
    if alpha_bits not in (8, 16):
        raise OutputError(f"alpha bit depth must be 8 or 16, got {alpha_bits}")
    out_dir = _prepare_output_dir(output) if output is not None else None
    stem = stem or _stem_for(source)
    t_start = time.perf_counter()
    with ExitStack() as stack:
        session = stack.enter_context(
            MattingSession(
                source,
                tracker=tracker,
                head=head,
                device=device,
                tracker_options=tracker_options,
                head_options=head_options,
            )
        )
        for prompt in prompts:
            session.add_prompt(prompt)
        info = session.info
        targets: list[int | None] = list(session.object_ids)
        if combined and len(targets) > 1:
            targets.append(None)
        elif combined:
            targets = [None]
        writers: dict[tuple[int | None, str], Any] = {}
        if out_dir is not None:
            for target in targets:
                for fmt in fmts:
                    path = W.output_path(out_dir, stem, fmt, target)
                    writers[(target, fmt)] = stack.enter_context(
                        W.open_writer(
                            fmt,
                            path,
                            info,
                            alpha_bits=alpha_bits,
                            background=background,
                            lossless=lossless,
                        )
                    )
        needs_fg = bool(writers) and any(W.FORMATS[fmt].needs_foreground for fmt in fmts)
        if needs_fg:
            log.info(
                "estimating foreground colours with pymatting (a new install compiles it once, ~30 s)"
            )
        bar = None
        if progress:
            from tqdm import tqdm

            bar = stack.enter_context(
                tqdm(total=info.num_frames, unit="frame", desc="matting", dynamic_ncols=True)
            )
        frames = 0
        times = session.times
        for result in session.propagate(backward=backward):
            if on_frame is not None:
                on_frame(result)
            if writers:
                for target in targets:
                    if target is None:
                        alpha = np.max(np.stack(list(result.alphas.values())), axis=0)
                    else:
                        alpha = result.alphas[target]
                    fg = None
                    if needs_fg:
                        t0 = time.perf_counter()
                        fg = estimate_foreground(result.image, alpha)
                        times.add("foreground", time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    for fmt in fmts:
                        writers[(target, fmt)].write(result.image, alpha, fg)
                    times.add("encode", time.perf_counter() - t0)
            frames += 1
            check_cancelled()
            if bar is not None:
                bar.update(1)
        if frames != info.num_frames:
            raise InputError(f"expected {info.num_frames} frames but processed {frames}")
        # commit outputs (rename temp → final) in order; any failure aborts the rest via ExitStack
        t0 = time.perf_counter()
        for writer in writers.values():
            writer.close()
        times.add("encode", time.perf_counter() - t0)
        paths = {key: Path(writer.path) for key, writer in writers.items()}
        warnings = session.lost_warnings
    return MatteOutput(
        paths=paths,
        num_frames=frames,
        seconds=time.perf_counter() - t_start,
        times=times,
        info=info,
        warnings=warnings,
    )


def matte_image(
    image: str | Path | np.ndarray,
    prompts: Sequence[Prompt],
    *,
    tracker: str | Tracker = "auto",
    head: str | MattingStage | None = None,
    device: str | None = None,
    tracker_options: dict[str, Any] | None = None,
    head_options: dict[str, Any] | None = None,
) -> dict[int, np.ndarray]:
    """Alpha per object (float32 H×W in [0, 1]) for one still image (path or H×W×3 array)."""
    source = image if isinstance(image, (str, Path)) else [np.asarray(image)]
    with MattingSession(
        source,
        tracker=tracker,
        head=head,
        device=device,
        tracker_options=tracker_options,
        head_options=head_options,
    ) as session:
        if session.info.num_frames != 1:
            raise InputError(f"matte_image takes one image, got {session.info.num_frames} frames")
        for prompt in prompts:
            session.add_prompt(prompt)
        for result in session.propagate():
            return result.alphas
    raise InputError("no frame was produced")
