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
import os
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

from .cancel import (
    check_cancelled,
    register_created,
    register_temporary,
    unregister_created,
    unregister_temporary,
)
from .engine import DEFAULT_DEPTH, Prefetch
from .errors import InputError, OutputError, PromptError, Sam2MattingError
from .io.readers import FrameRange, FrameSource, VideoInfo, open_source
from .lost import LossMonitor
from .matting.base import MattingStage
from .matting.registry import build_head
from .trackers.base import Tracker, TrackerSession
from .trackers.registry import build_tracker
from .types import FrameResult, Prompt, TextPrompt, TrackedFrame, validate_prompt

_PROMPT_NAMES = {"Points": "point", "Box": "box", "MaskPrompt": "mask", "TextPrompt": "text"}

__all__ = [
    "MatteOutput",
    "MattingSession",
    "ResultWriter",
    "StageTimes",
    "matte_image",
    "matte_video",
]

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
    """Wraps a FrameSource so the time spent decoding is counted separately from tracking.

    With ``prefetch`` > 0 the frame iterators decode in a background thread up to that many
    frames ahead (:class:`sam2matting.engine.Prefetch`); a lock keeps ``read_frame`` and the
    decoding thread from interleaving inside the source, which shares one decoder. ``waited``:
    seconds the tracker spent waiting for frames (what decoding did not overlap).
    """

    def __init__(self, inner: FrameSource, times: StageTimes, prefetch: int = 0) -> None:
        import threading

        self.inner = inner
        self.info = inner.info
        self.times = times
        self.prefetch = prefetch
        self.waited = 0.0
        self._lock = threading.Lock()

    def _ahead(
        self, make: Callable[[], Iterator[tuple[int, np.ndarray]]]
    ) -> Iterator[tuple[int, np.ndarray]]:
        if self.prefetch <= 0:
            it = make()
            while True:
                t0 = time.perf_counter()
                item = next(it, None)
                self.waited += time.perf_counter() - t0
                if item is None:
                    return
                yield item
        from .engine import Prefetch

        ahead = Prefetch(make, depth=self.prefetch, name="sam2matting-decode", lock=self._lock)
        try:
            while True:
                before = ahead.waited
                item = next(ahead, None)
                self.waited += ahead.waited - before
                if item is None:
                    return
                yield item
        finally:
            ahead.close()

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
        return self._ahead(lambda: self._timed(self.inner.iter_frames(start, stop)))

    def iter_frames_reverse(
        self, start: int, stop: int = 0, chunk: int = 32
    ) -> Iterator[tuple[int, np.ndarray]]:
        return self._ahead(lambda: self._timed(self.inner.iter_frames_reverse(start, stop, chunk)))

    def read_frame(self, index: int) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            with self._lock:
                frame = self.inner.read_frame(index)
            return frame
        finally:
            elapsed = time.perf_counter() - t0
            self.waited += elapsed
            self.times.add("decode", elapsed)

    def close(self) -> None:
        self.inner.close()


# --------------------------------------------------------------------------------------------
# spool for backward passes
# --------------------------------------------------------------------------------------------
_SPOOL_PREFIX = "sam2matting-spool-"


def _remove_stale_spools() -> None:
    """Delete spool folders of runs whose process is gone (see writers.remove_stale_temporaries)."""
    from .io.writers import pid_alive

    for entry in Path(tempfile.gettempdir()).glob(f"{_SPOOL_PREFIX}*-*"):
        pid = entry.name[len(_SPOOL_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


class _AlphaSpool:
    """Mattes of backward-tracked frames, kept on disk as 16-bit PNG until emitted in order."""

    def __init__(self) -> None:
        _remove_stale_spools()
        try:
            # the pid lets a later run prove a SIGKILLed run's spool stale
            self.dir = Path(tempfile.mkdtemp(prefix=f"{_SPOOL_PREFIX}{os.getpid()}-"))
        except OSError as exc:
            raise OutputError(
                f"cannot create a temporary folder in {tempfile.gettempdir()}: "
                f"{exc.strerror or exc}"
            ) from exc
        register_temporary(self.dir)

    def _path(self, index: int, object_id: int) -> Path:
        return self.dir / f"{index:07d}_{object_id}.png"

    def put(self, index: int, object_id: int, alpha: np.ndarray) -> None:
        from .io.writers import write_png

        q = np.clip(alpha * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
        try:
            write_png(self._path(index, object_id), q)
        except OSError as exc:  # a full temp folder says so (errno text), not "read back"
            raise OutputError(
                f"cannot write to the temporary folder {self.dir}: {exc.strerror or exc}"
            ) from exc

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
        unregister_temporary(self.dir)


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


def _build_tracker(
    tracker: str | Tracker, options: dict[str, Any], device: str | None, dtype: str = "auto"
) -> Tracker:
    if not isinstance(tracker, str):
        return tracker
    if tracker == "auto":  # resolved here so the chosen tracker gets the session's device/dtype
        from .trackers.auto import build_auto

        return build_auto(lambda name: _build_tracker(name, options, device, dtype))
    from .trackers.registry import TRACKERS

    spec = TRACKERS.get(tracker)
    opts = dict(options)
    if spec is not None and spec.needs_weights:
        if device is not None:
            opts.setdefault("device", device)
        if dtype != "auto":
            opts.setdefault("dtype", dtype)
    return build_tracker(tracker, **opts)


def _build_head(
    head: str | MattingStage | None,
    options: dict[str, Any],
    device: str | None,
    dtype: str = "auto",
) -> MattingStage:
    """Build a registered head with the session's device (and dtype when not ``auto``): every
    builder that names a ``device`` / ``dtype`` parameter gets them (head options win)."""
    if head is not None and not isinstance(head, str):
        return head
    opts = dict(options)
    from .matting.registry import DEFAULT_HEAD, HEADS

    spec = HEADS.get(head or DEFAULT_HEAD)
    if spec is not None:
        module_name, func_name = spec.builder.split(":")
        import importlib

        builder = getattr(importlib.import_module(module_name), func_name)
        if device is not None and _accepts(builder, "device"):
            opts.setdefault("device", device)
        if dtype != "auto" and _accepts(builder, "dtype"):
            opts.setdefault("dtype", dtype)
    return build_head(head, **opts)


def _build_model(
    model: str,
    tracker: str | Tracker,
    head: str | MattingStage | None,
    device: str | None,
    dtype: str,
    tracker_options: dict[str, Any] | None,
    head_options: dict[str, Any] | None,
) -> tuple[Tracker, MattingStage]:
    # "auto" is the default: a model's own tracker is what auto means here
    if not (isinstance(tracker, str) and tracker == "auto") or head is not None:
        raise Sam2MattingError(
            "a model (official SAM2Matting checkpoint) brings its own tracker and heads: "
            "do not also give a tracker or a head"
        )
    from .models import build_official

    return build_official(
        model,
        device=device,
        dtype=dtype,
        tracker_options=tracker_options,
        head_options=head_options,
    )


class MattingSession:
    """Prompt a clip on any frame, propagate, and receive per-frame, per-object alpha mattes.

    ``source``: a video path, an image folder, an image path, an N×H×W×3 array, a list of
    H×W×3 arrays, or an open FrameSource. ``tracker``: ``auto`` (default: SAM 2.1-tiny when its
    weights are here or can be downloaded, else the built-in tracker, see
    :mod:`sam2matting.trackers.auto`), a registered name (``builtin``, ``oracle``,
    ``sam2.1-hiera-tiny``, …), a local model path, or a Tracker object. ``head``: a
    registered matting-head name (default: the shipped default) or a MattingStage object.
    ``device``: ``cpu`` / ``cuda`` / ``cuda:N`` / ``mps`` / ``auto`` (None): resolved and
    validated once here, then used by the tracker and the heads alike (:attr:`device`).
    ``dtype``: ``auto`` (None; each model's default: bf16 autocast for SAM trackers on CUDA,
    fp32 heads), ``fp32``, ``bf16`` or ``fp16``, validated against the device.
    ``frames``: ``(start, stop)`` to work on input frames ``start ≤ i < stop`` only (stop
    ``None``: to the end); the session then numbers them from 0 (prompts included).
    ``model``: an official SAM2Matting checkpoint — a preset (``sam2matting-sam2.1-tiny``, …)
    or a ``.pt`` path — giving both the tracker and the heads (instead of ``tracker``/``head``;
    see :mod:`sam2matting.models`); the session's device and dtype reach both.
    ``torch_compile``: ``torch.compile`` the tracker's image encoder and the learned head's
    networks (:mod:`sam2matting.compiling`; off by default: a warm-up of tens of seconds).
    """

    def __init__(
        self,
        source: SourceLike,
        *,
        tracker: str | Tracker = "auto",
        head: str | MattingStage | None = None,
        device: str | None = None,
        dtype: str | None = None,
        tracker_options: dict[str, Any] | None = None,
        head_options: dict[str, Any] | None = None,
        fps: float | None = None,
        frames: tuple[int, int | None] | None = None,
        prefetch: int = 0,
        model: str | None = None,
        torch_compile: bool = False,
    ) -> None:
        from .device import resolve_device, resolve_dtype

        #: the one device of the session (tracker, heads); foreground estimation is CPU code
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.times = StageTimes()
        self._owns_source = not isinstance(source, FrameSource)
        raw = open_source(source, fps=fps)
        if frames is not None:
            try:
                raw = FrameRange(raw, *frames)
            except BaseException:
                if self._owns_source:
                    raw.close()
                raise
        self._source = _TimedSource(raw, self.times, prefetch)
        self.info: VideoInfo = raw.info
        self._closed = False
        self._spool: _AlphaSpool | None = None
        try:
            dev = str(self.device)
            if model is not None:
                self.tracker, self.head = _build_model(
                    model, tracker, head, dev, self.dtype, tracker_options, head_options
                )
            else:
                self.tracker = _build_tracker(tracker, tracker_options or {}, dev, self.dtype)
                self.head = _build_head(head, head_options or {}, dev, self.dtype)
            if torch_compile:
                from .compiling import compile_models

                compile_models(self.tracker, self.head)
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
        object's confidence stayed below 0.5 in the last propagation (see :mod:`sam2matting.lost`).
        With ``frames``, the input's frame numbers follow the session's: ``(input frame 136)``."""
        return self.loss.warnings(self.info.num_frames - 1, self.info.first_frame)

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

    def remove_prompt(self, index: int) -> Prompt:
        """Remove the prompt at ``index`` of :attr:`prompts` and return it.

        Trackers fold prompts into their state as they arrive, so the tracker session is rebuilt
        from the remaining prompts (same order); on any failure the session is left unchanged.
        """
        if self._closed:
            raise Sam2MattingError("the session is closed")
        if not 0 <= index < len(self._prompts):
            raise PromptError(
                f"no prompt {index}: the session has {len(self._prompts)} prompt(s)"
                + (f" (0..{len(self._prompts) - 1})" if self._prompts else "")
            )
        removed = self._prompts[index]
        self._replace_prompts(self._prompts[:index] + self._prompts[index + 1 :])
        return removed

    def remove_object(self, object_id: int) -> int:
        """Remove every prompt of ``object_id``; returns how many were removed."""
        if self._closed:
            raise Sam2MattingError("the session is closed")
        keep = [p for p in self._prompts if p.object_id != object_id]
        removed = len(self._prompts) - len(keep)
        if removed == 0:
            raise PromptError(f"object {object_id} has no prompts")
        self._replace_prompts(keep)
        return removed

    def _replace_prompts(self, prompts: list[Prompt]) -> None:
        fresh = self.tracker.open(self._source)
        try:
            for prompt in prompts:
                fresh.add_prompt(prompt)
        except BaseException:
            fresh.close()
            raise
        old, self._session = self._session, fresh
        old.close()
        self._prompts = list(prompts)

    def preview(self, frame: int) -> FrameResult:
        """Mask and matte of one frame from the prompts so far, without propagating the clip.

        Objects whose first prompt is after ``frame`` get an all-zero alpha. Only ``frame`` is
        matted; a tracker may still re-track from the nearest prompt that fixes an object on its
        own (the built-in tracker does, for clicks that correct a tracked mask), so a preview on
        a prompted frame costs one frame. Meant for interactive use: the result equals the
        propagated one where the tracker is deterministic.
        """
        if self._closed:
            raise Sam2MattingError("the session is closed")
        n = self.info.num_frames
        if not 0 <= frame < n:
            raise InputError(f"frame {frame} is outside the clip: it has {n} frames (0..{n - 1})")
        h, w = self.info.height, self.info.width
        first = self.first_frames()
        live = [obj for obj, f in first.items() if f <= frame]
        alphas: dict[int, np.ndarray] = {}
        scores: dict[int, float] = {}
        if live:
            # a one-frame run; the last frame yielded is ``frame`` (a replay may yield more)
            tracked = None
            for item in self._tracked(self._session.propagate(frame, end_frame=frame)):
                tracked = item
            if tracked is None or tracked.index != frame:
                raise InputError(f"the tracker produced no result for frame {frame}")
            image = tracked.image
            self.head.reset()
            alphas = self._matte(tracked, live)
            scores = {o: t.score for o, t in sorted(tracked.objects.items()) if o in live}
        else:
            image = self._source.read_frame(frame)
        for obj in first:
            alphas.setdefault(obj, np.zeros((h, w), np.float32))
        alphas = dict(sorted(alphas.items()))
        return FrameResult(
            index=frame,
            image=image,
            alphas=alphas,
            masks={k: v > 0.5 for k, v in alphas.items()},
            scores=scores,
        )

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
            waited_before = self._source.waited
            t0 = time.perf_counter()
            try:
                tracked = next(it)
            except StopIteration:
                return
            elapsed = time.perf_counter() - t0
            self.times.add("track", elapsed - (self._source.waited - waited_before))
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

        if self._spool is not None:  # left by a propagation that was stopped early
            self._spool.close()
            self._spool = None
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


def _prepare_output_dir(output: str | Path) -> tuple[Path, list[Path]]:
    """Create the output folder; return it and the folders this call created (deepest first),
    so a failed run can remove them again. An empty name is refused: ``Path("")`` is the
    current folder, which nobody means by ``-o ''``."""
    if not str(output).strip():
        raise OutputError("output folder name is empty; give a folder, e.g. -o out")
    out = Path(output)
    created: list[Path] = []
    probe_dir = out
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        created.append(probe_dir)
        probe_dir = probe_dir.parent
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_created(created)
        raise OutputError(f"cannot create output folder {out}: {exc.strerror or exc}") from exc
    if not out.is_dir():
        raise OutputError(f"output path exists and is not a folder: {out}")
    register_created(created)  # a forced exit (second Ctrl-C) removes them too, when empty
    return out, created


def _remove_created(created: Sequence[Path]) -> None:
    """Remove folders a failed run created, deepest first, only while they are empty."""
    unregister_created(list(created))
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            return


def check_output_options(
    formats: Sequence[str],
    alpha_bits: int,
    *,
    exr_colour: str = "linear",
    exr_compression: str = "zip",
) -> list[str]:
    """Validate output formats, alpha bit depth and the EXR options; returns the formats
    without repeats. Lets callers refuse bad options before any folder or file is created."""
    from .io import writers as W

    fmts = list(dict.fromkeys(formats))
    for fmt in fmts:
        if fmt not in W.FORMATS:
            raise OutputError(f"unknown output format {fmt!r}; choose from: {', '.join(W.FORMATS)}")
    if alpha_bits not in (8, 16):
        raise OutputError(f"alpha bit depth must be 8 or 16, got {alpha_bits}")
    if exr_colour not in W.EXR_COLOURS:
        raise OutputError(
            f"unknown EXR colour {exr_colour!r}; choose from: {', '.join(W.EXR_COLOURS)}"
        )
    if exr_compression not in W.EXR_COMPRESSIONS:
        raise OutputError(
            f"unknown EXR compression {exr_compression!r}; choose from: "
            f"{', '.join(W.EXR_COMPRESSIONS)}"
        )
    return fmts


#: frames a contact sheet samples, evenly over the clip
CONTACT_FRAMES = 6
#: a first foreground estimate slower than this was pymatting compiling its kernels
_COMPILE_NOTICE_S = 5.0


class ResultWriter:
    """Writes FrameResults in every requested format: one output per object and format
    (``<stem>.obj<id>.<format>…``), plus one with every object merged by maximum when
    ``combined``; ``exr-layers`` is one output for the clip with a layer per object. A still
    image (``info.kind == "image"``) gives one file per object and image format; image folders
    keep their frame names (``info.frame_names``). ``exr_colour`` / ``exr_compression`` apply to
    the EXR formats; ``contact_sheet`` also writes ``<stem>.contact.png`` on :meth:`close`
    (sampled frames, their merged mattes and composites over ``background`` when it is a
    colour, chroma green otherwise).

    A context manager: leaving it by an exception aborts every output (nothing under a final
    name) and removes the output folders it created; :meth:`close` commits them all (temporary
    name → final name) and returns the paths, keyed ``(object_id or None for combined,
    format)`` (the sheet: ``(None, "contact-sheet")``). Used by :func:`matte_video` and by
    clients that write results they already have (the web app exports what the user reviewed).
    """

    def __init__(
        self,
        out_dir: str | Path,
        stem: str,
        info: VideoInfo,
        object_ids: Sequence[int],
        *,
        formats: Sequence[str] = ("alpha-png",),
        combined: bool = False,
        background: str | Path | tuple[int, int, int] | None = None,
        alpha_bits: int = 8,
        lossless: bool = False,
        exr_colour: str = "linear",
        exr_compression: str = "zip",
        contact_sheet: bool = False,
        times: StageTimes | None = None,
    ) -> None:
        from .io import writers as W

        fmts = check_output_options(
            formats, alpha_bits, exr_colour=exr_colour, exr_compression=exr_compression
        )
        if not fmts:
            raise OutputError(f"no output format given; choose from: {', '.join(W.FORMATS)}")
        if not object_ids:
            raise PromptError("no object to write: add a prompt first")
        self.object_ids = list(object_ids)
        targets: list[int | None] = list(object_ids)
        if combined:  # README: one output per object, and one more with every object merged
            targets.append(None)
        self.targets = targets
        self.info = info
        self.stem = stem
        self.background = background
        self.times = times if times is not None else StageTimes()
        self.needs_foreground = any(W.FORMATS[fmt].needs_foreground for fmt in fmts)
        self._formats = {fmt: W.FORMATS[fmt] for fmt in fmts}
        self._fg_calls = 0
        self._stack = ExitStack()
        self._writers: dict[tuple[int | None, str], Any] = {}
        self._sheet_picks: set[int] = set()
        if contact_sheet:
            count = min(CONTACT_FRAMES, info.num_frames)
            self._sheet_picks = set(
                int(i) for i in np.linspace(0, info.num_frames - 1, count).round().astype(int)
            )
        self._tiles: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.out_dir, self._created = _prepare_output_dir(out_dir)
        still = info.kind == "image"
        try:
            for fmt in fmts:
                for target in [None] if W.FORMATS[fmt].per_clip else targets:
                    path = W.output_path(self.out_dir, stem, fmt, target, still=still)
                    self._writers[(target, fmt)] = self._stack.enter_context(
                        W.open_writer(
                            fmt,
                            path,
                            info,
                            alpha_bits=alpha_bits,
                            background=background,
                            lossless=lossless,
                            still=still,
                            frame_names=info.frame_names,
                            exr_colour=exr_colour,
                            exr_compression=exr_compression,
                        )
                    )
        except BaseException:
            self.abort()
            raise

    def write(self, result: FrameResult) -> None:
        """Append one frame (its objects' alphas; a missing object is written as zero)."""
        from .io.compose import contact_tile
        from .matting.foreground import estimate_foreground

        h, w = result.image.shape[:2]
        alphas: dict[int, np.ndarray] = {}
        for obj in self.object_ids:
            alpha = result.alphas.get(obj)
            alphas[obj] = np.zeros((h, w), np.float32) if alpha is None else alpha
        merged = np.max(np.stack(list(alphas.values())), axis=0)
        if result.index in self._sheet_picks:
            label = self.info.first_frame + result.index  # the input's frame number
            self._tiles.append((label, *contact_tile(result.image, merged)))
        fg_cache: dict[int | None, np.ndarray] = {}
        for (target, fmt), writer in self._writers.items():
            alpha = merged if target is None else alphas[target]
            fg = None
            if self._formats[fmt].needs_foreground:
                if target not in fg_cache:
                    t0 = time.perf_counter()
                    fg_cache[target] = estimate_foreground(result.image, alpha)
                    elapsed = time.perf_counter() - t0
                    self.times.add("foreground", elapsed)
                    self._fg_calls += 1
                    if self._fg_calls == 1 and elapsed > _COMPILE_NOTICE_S:
                        log.info(
                            "the first foreground estimate took %.0f s: pymatting compiled "
                            "its kernels (once per install)",
                            elapsed,
                        )
                fg = fg_cache[target]
            t0 = time.perf_counter()
            if self._formats[fmt].per_clip:
                writer.write_layers(result.image, alphas, fg)
            else:
                writer.write(result.image, alpha, fg)
            self.times.add("encode", time.perf_counter() - t0)

    def close(self) -> dict[tuple[int | None, str], Path]:
        """Commit every output (in order; a failure aborts the rest), then write the contact
        sheet if asked for; returns the paths."""
        from .io.compose import contact_sheet as make_sheet

        t0 = time.perf_counter()
        try:
            for writer in self._writers.values():
                writer.close()
        except BaseException:
            self.abort()
            raise
        self._stack.pop_all()
        unregister_created(self._created)
        self.times.add("encode", time.perf_counter() - t0)
        paths = {key: Path(writer.path) for key, writer in self._writers.items()}
        if self._tiles:
            bg = self.background
            sheet_bg = bg if isinstance(bg, (str, tuple)) else None
            if isinstance(sheet_bg, str) and Path(sheet_bg).exists():
                sheet_bg = None  # an image/video background: the sheet uses chroma green
            sheet = make_sheet(self._tiles, sheet_bg)
            path = self.out_dir / f"{self.stem}.contact.png"
            paths[(None, "contact-sheet")] = _write_sheet(path, sheet)
        return paths

    def abort(self) -> None:
        """Discard every output not yet committed and remove the output folders this writer
        created (while empty). Idempotent."""
        for writer in self._writers.values():
            writer.abort()
        self._stack.pop_all()
        _remove_created(self._created)

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self._stack.close()


def matte_video(
    source: SourceLike,
    prompts: Sequence[Prompt],
    output: str | Path | None = None,
    *,
    formats: Sequence[str] = ("alpha-png",),
    tracker: str | Tracker = "auto",
    head: str | MattingStage | None = None,
    device: str | None = None,
    dtype: str | None = None,
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
    exr_colour: str = "linear",
    exr_compression: str = "zip",
    contact_sheet: bool = False,
    frames: tuple[int, int | None] | None = None,
    pipeline: bool = True,
    model: str | None = None,
    torch_compile: bool = False,
) -> MatteOutput:
    """Matte every frame of ``source`` for the prompted objects and write ``formats`` to ``output``.

    One output per object and format (``<stem>.obj<id>.<format>…``), plus a combined one (all
    objects' alpha merged by maximum) when ``combined``; ``exr-layers`` is one output for the
    clip with a layer per object. One image in gives one file per object and image format (no
    folder, no one-frame video for ``composite``); image folders keep their frame names.
    Outputs keep the input's frame count, size and rate, and its audio where the format can
    hold it. Every output is written under a temporary name and renamed only when complete; on
    any error or interruption nothing is left under a final name, and output folders this call
    created are removed again. ``exr_colour`` (``linear`` default, or ``display``) and
    ``exr_compression`` (default ``zip``) apply to the EXR formats. ``contact_sheet`` also
    writes ``<stem>.contact.png``: sampled frames, their mattes and composites over
    ``background`` (colours only; green otherwise). ``frames=(start, stop)``: only input
    frames ``start ≤ i < stop`` (stop ``None``: to the end); prompts keep the input's frame
    numbers, outputs hold the range (audio trimmed to match), and FrameResult indices given to
    ``on_frame`` count from the range start. ``on_frame`` sees each FrameResult. ``model``: an
    official SAM2Matting checkpoint (preset or path) instead of ``tracker`` and ``head``.

    ``device`` / ``dtype``: see :class:`MattingSession` (validated before anything is written).
    ``pipeline`` (default): decoding, tracking + matting, and foreground + encoding run in
    overlapping threads with bounded queues (:mod:`sam2matting.engine`); off → one thread.
    Stage times then add up to more than the wall time (they overlap). ``torch_compile``:
    see :class:`MattingSession`.
    """
    if not prompts:
        raise PromptError("no prompt given: add a point, box, mask or text prompt")
    if frames is not None:
        prompts = _shift_prompts(prompts, frames)
    from .device import resolve_device, resolve_dtype

    # bad devices / dtypes fail before any folder or file is created
    resolve_dtype(dtype, resolve_device(device))
    # so are bad output options
    check_output_options(
        formats, alpha_bits, exr_colour=exr_colour, exr_compression=exr_compression
    )
    created: list[Path] = []
    out_dir: Path | None = None
    if output is not None:
        out_dir, created = _prepare_output_dir(output)
    try:
        return _matte_video(
            source,
            prompts,
            out_dir,
            formats=formats,
            tracker=tracker,
            head=head,
            device=device,
            dtype=dtype,
            pipeline=pipeline,
            combined=combined,
            background=background,
            alpha_bits=alpha_bits,
            lossless=lossless,
            backward=backward,
            tracker_options=tracker_options,
            head_options=head_options,
            progress=progress,
            on_frame=on_frame,
            stem=stem,
            exr_colour=exr_colour,
            exr_compression=exr_compression,
            contact_sheet=contact_sheet,
            frames=frames,
            model=model,
            torch_compile=torch_compile,
        )
    except BaseException:
        _remove_created(created)
        raise
    finally:
        unregister_created(created)


def _shift_prompts(prompts: Sequence[Prompt], frames: tuple[int, int | None]) -> list[Prompt]:
    """Prompts in the input's frame numbers → numbers within the range ``frames``."""
    import dataclasses

    start, stop = frames
    shifted: list[Prompt] = []
    for prompt in prompts:
        if prompt.frame < start or (stop is not None and prompt.frame >= stop):
            end = "" if stop is None else str(stop)
            raise PromptError(
                f"prompt on frame {prompt.frame} is outside the frame range {start}:{end}"
            )
        shifted.append(dataclasses.replace(prompt, frame=prompt.frame - start))
    return shifted


def _matte_video(
    source: SourceLike,
    prompts: Sequence[Prompt],
    out_dir: Path | None,
    *,
    formats: Sequence[str],
    tracker: str | Tracker,
    head: str | MattingStage | None,
    device: str | None,
    dtype: str | None,
    pipeline: bool,
    combined: bool,
    background: str | Path | tuple[int, int, int] | None,
    alpha_bits: int,
    lossless: bool,
    backward: bool,
    tracker_options: dict[str, Any] | None,
    head_options: dict[str, Any] | None,
    progress: bool,
    on_frame: Callable[[FrameResult], None] | None,
    stem: str | None,
    exr_colour: str,
    exr_compression: str,
    contact_sheet: bool,
    frames: tuple[int, int | None] | None,
    model: str | None,
    torch_compile: bool = False,
) -> MatteOutput:
    stem = stem or _stem_for(source)
    t_start = time.perf_counter()
    with ExitStack() as stack:
        session = stack.enter_context(
            MattingSession(
                source,
                tracker=tracker,
                head=head,
                device=device,
                dtype=dtype,
                tracker_options=tracker_options,
                head_options=head_options,
                frames=frames,
                prefetch=DEFAULT_DEPTH if pipeline else 0,
                model=model,
                torch_compile=torch_compile,
            )
        )
        for prompt in prompts:
            session.add_prompt(prompt)
        info = session.info
        times = session.times
        writer: ResultWriter | None = None
        if out_dir is not None:
            writer = stack.enter_context(
                ResultWriter(
                    out_dir,
                    stem,
                    info,
                    session.object_ids,
                    formats=formats,
                    combined=combined,
                    background=background,
                    alpha_bits=alpha_bits,
                    lossless=lossless,
                    exr_colour=exr_colour,
                    exr_compression=exr_compression,
                    contact_sheet=contact_sheet,
                    times=times,
                )
            )
        bar = None
        if progress:
            from tqdm import tqdm

            bar = stack.enter_context(
                tqdm(
                    total=info.num_frames,
                    unit="frame",
                    desc=f"matting [{session.device}]",
                    dynamic_ncols=True,
                )
            )
        done = 0
        results: Iterator[FrameResult]
        if not pipeline:
            results = session.propagate(backward=backward)
        else:  # tracking + matting run ahead in their own thread (sam2matting.engine)
            results = stack.enter_context(
                Prefetch(
                    lambda: session.propagate(backward=backward),
                    depth=DEFAULT_DEPTH,
                    name="sam2matting-track-matte",
                )
            )
        for result in results:
            if on_frame is not None:
                on_frame(result)
            if writer is not None:
                writer.write(result)
            done += 1
            check_cancelled()
            if bar is not None:
                bar.update(1)
        if done != info.num_frames:
            raise InputError(f"expected {info.num_frames} frames but processed {done}")
        # a Ctrl-C during the last frame's encode counts: nothing is committed yet
        check_cancelled()
        # commit outputs (rename temp → final) in order; a failure aborts the rest
        paths = writer.close() if writer is not None else {}
        warnings = session.lost_warnings
    return MatteOutput(
        paths=paths,
        num_frames=done,
        seconds=time.perf_counter() - t_start,
        times=times,
        info=info,
        warnings=warnings,
    )


def _write_sheet(path: Path, sheet: np.ndarray) -> Path:
    """Write the contact sheet atomically (temporary name, then rename)."""
    from .io.writers import write_png

    temp = path.with_name(f".{path.name}.partial-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        write_png(temp, np.ascontiguousarray(sheet[..., ::-1]), compression=3)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise OutputError(f"could not write {path}: {exc.strerror or exc}") from exc
    return path


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
