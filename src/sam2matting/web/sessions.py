"""Per-browser sessions of the web app: one clip, its prompts, previews, results and jobs.

Everything here is plain Python (no web framework), so it is tested directly and the HTTP
layer (:mod:`.app`) only translates requests. Each browser session owns a private temporary
folder (uploads, propagated mattes, exports) that is deleted when the session ends or expires;
nothing is ever written anywhere else, and files are read only from that folder or from under
the configured root.

Matting, tracking and writing are :class:`~sam2matting.api.MattingSession` and
:class:`~sam2matting.api.ResultWriter`; this module only schedules them: interactive calls run
on the caller's thread (a worker thread of the server), propagation and export on a thread of
their own per job, so one session's long job never blocks another session's preview.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, OutputError, PromptError, Sam2MattingError

__all__ = [
    "VIDEO_EXTENSIONS",
    "BusyError",
    "ClipEntry",
    "ForbiddenPathError",
    "Job",
    "NoSessionError",
    "NotFoundError",
    "SessionStore",
    "TooLargeError",
    "UnsupportedMediaError",
    "WebConfig",
    "WebSession",
    "resolve_clip",
    "resolve_under_root",
]

log = logging.getLogger("sam2matting.web")

#: video containers the page offers to open or upload (anything PyAV reads works from --root)
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg"})
#: object colours in the page, by object id (cycled)
COLOURS = ("#ff4d4d", "#3fa7ff", "#ffd23f", "#4ddf7a", "#c77dff", "#ff9f40", "#40e0d0", "#ff6fb5")


# --------------------------------------------------------------------------------------------
# errors the HTTP layer maps to status codes (all are user errors: Sam2MattingError)
# --------------------------------------------------------------------------------------------
class BusyError(Sam2MattingError):
    """The session is running a job (propagation or export) that the request would disturb."""


class NoSessionError(Sam2MattingError):
    """The request carries no valid session cookie (expired, ended, or never set)."""


class NotFoundError(Sam2MattingError):
    """A clip, object, prompt, frame result or file the request names does not exist."""


class ForbiddenPathError(Sam2MattingError):
    """A path outside the root (``..``, an absolute path, a symlink leading out) or no root."""


class TooLargeError(Sam2MattingError):
    """An upload over the size limit."""


class UnsupportedMediaError(Sam2MattingError):
    """An upload or file that is not a video or image the app can open."""


@dataclass(frozen=True)
class WebConfig:
    """Server settings. ``root``: the only folder clips may be picked from (None: uploads
    only). ``max_upload_bytes``: per upload. ``session_ttl``: seconds of inactivity before a
    session and its files are removed. ``work_dir``: where session folders are created (the
    system temporary folder by default)."""

    root: Path | None = None
    tracker: str = "builtin"
    head: str | None = None
    device: str | None = None
    max_upload_bytes: int = 1 << 30
    session_ttl: float = 3600.0
    max_sessions: int = 32
    work_dir: Path | None = None

    def image_extensions(self) -> frozenset[str]:
        from ..io.readers import IMAGE_EXTENSIONS

        return IMAGE_EXTENSIONS

    def upload_extensions(self) -> list[str]:
        return sorted(VIDEO_EXTENSIONS | self.image_extensions())


# --------------------------------------------------------------------------------------------
# paths under the root
# --------------------------------------------------------------------------------------------
def resolve_under_root(root: Path | None, relative: str) -> Path:
    """The existing path ``relative`` names under ``root``, symlinks resolved.

    Raises ForbiddenPathError when there is no root, for absolute paths, and when the resolved
    path (after following every symlink) is not inside the resolved root; NotFoundError when it
    does not exist.
    """
    if root is None:
        raise ForbiddenPathError("no folder to pick from: start the server with --root DIR")
    text = relative.replace("\\", "/").strip()
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or "\x00" in text:
        raise ForbiddenPathError(f"path must be relative to the root folder: {relative!r}")
    base = root.resolve()
    candidate = base / text if text not in ("", ".") else base
    try:
        resolved = candidate.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        # say "outside" rather than "missing" for paths that escape, so nothing leaks either way
        if not candidate.resolve().is_relative_to(base):
            raise ForbiddenPathError(f"path is outside the root folder: {relative!r}") from None
        raise NotFoundError(f"no such file or folder under the root: {relative!r}") from None
    except (OSError, RuntimeError) as exc:  # symlink loops
        raise ForbiddenPathError(f"path cannot be resolved: {relative!r} ({exc})") from None
    if not resolved.is_relative_to(base):
        raise ForbiddenPathError(f"path is outside the root folder: {relative!r}")
    return resolved


def resolve_clip(config: WebConfig, relative: str) -> Path:
    """A clip under the root: a video or image file, or a folder of images every one of which
    resolves inside the root too (a frame linked from outside is refused like any other path)."""
    path = resolve_under_root(config.root, relative)
    image_ext = config.image_extensions()
    if path.is_dir():
        images = [p for p in path.iterdir() if p.suffix.lower() in image_ext]
        if not images:
            raise UnsupportedMediaError(f"{relative!r} is a folder without images")
        base = path.relative_to(resolve_under_root(config.root, ""))
        for image in images:
            resolve_under_root(config.root, (base / image.name).as_posix())
    elif path.suffix.lower() not in VIDEO_EXTENSIONS | image_ext:
        raise UnsupportedMediaError(f"{relative!r} is not a video or image")
    return path


@dataclass(frozen=True)
class ClipEntry:
    """One entry of a root folder listing: ``kind`` is dir / video / image / images (a folder
    of images, which opens as a clip)."""

    name: str
    path: str
    kind: str
    size: int


def _kind(path: Path, image_ext: frozenset[str]) -> str | None:
    if path.is_dir():
        return "dir"
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in image_ext:
        return "image"
    return None


# --------------------------------------------------------------------------------------------
# jobs
# --------------------------------------------------------------------------------------------
@dataclass
class Job:
    """A propagation or an export running on its own thread; read by the progress stream."""

    kind: str
    total: int
    id: str = field(default_factory=lambda: secrets.token_hex(4))
    state: str = "running"  # running / done / cancelled / failed
    done: int = 0
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    message: str = ""
    outputs: list[dict[str, Any]] = field(default_factory=list)
    #: propagation: "object 1 lost from frame 36; add a prompt there", one per lost span
    warnings: list[str] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def seconds(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    def fps(self) -> float:
        s = self.seconds()
        return self.done / s if s > 0 else 0.0

    def snapshot(self) -> dict[str, Any]:
        fps = self.fps()
        eta = (self.total - self.done) / fps if fps > 0 and self.state == "running" else None
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "fps": round(fps, 2),
            "eta": None if eta is None else round(eta, 1),
            "seconds": round(self.seconds(), 2),
            "message": self.message,
            "outputs": list(self.outputs),
            "warnings": list(self.warnings),
        }


def _write_alpha(path: Path, alpha: np.ndarray) -> None:
    """16-bit grey PNG, written under a temporary name then renamed (readers never see half)."""
    import cv2

    q = np.clip(alpha * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
    temp = path.with_name(f".{path.stem}.partial{path.suffix}")  # cv2 picks the codec by suffix
    if not cv2.imwrite(str(temp), q, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise OutputError(f"cannot write {temp}")
    os.replace(temp, path)


def _read_alpha(path: Path) -> np.ndarray:
    import cv2

    q = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if q is None:
        raise NotFoundError(f"stored matte {path.name} cannot be read")
    return q.astype(np.float32) / 65535.0


def encode_png(alpha: np.ndarray) -> bytes:
    """8-bit grey PNG bytes of a float alpha in [0, 1]."""
    import cv2

    q = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".png", q, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OutputError("cannot encode a PNG")
    return bytes(buf)


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an H×W×3 uint8 RGB frame."""
    import cv2

    ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OutputError("cannot encode a JPEG")
    return bytes(buf)


# --------------------------------------------------------------------------------------------
# one browser session
# --------------------------------------------------------------------------------------------
class WebSession:
    """One browser's clip, objects, prompts, preview, propagated results and jobs."""

    def __init__(self, config: WebConfig, token: str) -> None:
        self.config = config
        self.token = token
        parent = config.work_dir
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="sam2matting-web-", dir=parent))
        self.last_seen = time.monotonic()
        #: requests in progress (counted on the server's event loop); such sessions never expire
        self.requests = 0
        #: guards the MattingSession (tracker state): prompts, previews and propagation
        self._matting_lock = threading.Lock()
        #: guards this object's bookkeeping (objects, results index, job)
        self._state_lock = threading.RLock()
        self._display_lock = threading.Lock()
        self.matting: Any = None  # MattingSession
        self._display: Any = None  # FrameSource for page frames, separate from the tracker's
        self.clip: dict[str, Any] | None = None
        self.objects: dict[int, dict[str, str]] = {}
        self._next_object = 1
        self.preview: tuple[int, dict[int, np.ndarray], float] | None = None
        self.results_frames: set[int] = set()
        self.results_objects: list[int] = []
        self.results_stale = False
        #: the tracker's confidence per frame and object in the last propagation
        self.results_scores: dict[int, dict[int, float]] = {}
        self.results_warnings: list[str] = []
        self.job: Job | None = None
        self.exports: dict[str, Path] = {}
        self.closed = False

    # -- bookkeeping -----------------------------------------------------------------------------
    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def busy(self) -> bool:
        job = self.job
        return job is not None and job.state == "running"

    def _require_clip(self) -> Any:
        if self.closed:
            raise NotFoundError("this session has ended; reload the page")
        if self.matting is None:
            raise NotFoundError("no clip is open: pick a file or upload one first")
        return self.matting

    def _require_idle(self, what: str) -> None:
        job = self.job
        if job is not None and job.state == "running":
            raise BusyError(f"cannot {what} while the {job.kind} runs: cancel it or wait")

    @contextlib.contextmanager
    def _matting(self, what: str) -> Iterator[Any]:
        """The MattingSession, exclusively; BusyError at once when a job or request holds it."""
        self._require_idle(what)
        if not self._matting_lock.acquire(timeout=30.0):
            raise BusyError(f"cannot {what}: the session is busy with another request")
        try:
            yield self._require_clip()
        finally:
            self._matting_lock.release()

    # -- clips -----------------------------------------------------------------------------------
    def upload_folder(self) -> Path:
        folder = self.folder / "uploads"
        folder.mkdir(exist_ok=True)
        return folder

    def save_upload(self, name: str, chunks: Iterator[bytes], declared: int | None) -> Path:
        """Stream an upload into the session folder, enforcing the size and type limits."""
        limit = self.config.max_upload_bytes
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name.replace("\\", "/")).name)[:100]
        suffix = Path(safe).suffix.lower()
        allowed = self.config.upload_extensions()
        if not safe or suffix not in allowed:
            raise UnsupportedMediaError(
                f"{name!r} is not a video or image file the app opens; allowed: {', '.join(allowed)}"
            )
        if declared is not None and declared > limit:
            raise TooLargeError(
                f"upload is {declared / 2**20:.1f} MiB; the limit is {limit / 2**20:.1f} MiB"
            )
        path = self.upload_folder() / f"{secrets.token_hex(4)}-{safe}"
        size = 0
        try:
            with open(path, "xb") as f:
                for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise TooLargeError(
                            f"upload is over the limit of {limit / 2**20:.1f} MiB; nothing was kept"
                        )
                    f.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if size == 0:
            path.unlink(missing_ok=True)
            raise UnsupportedMediaError("the uploaded file is empty")
        return path

    def open_clip(self, path: Path, name: str, *, uploaded: bool = False) -> dict[str, Any]:
        """Open ``path`` (a video, an image folder or one image) as this session's clip."""
        from ..api import MattingSession
        from ..io.readers import open_source

        self._require_idle("open another clip")
        if self.closed:
            raise NotFoundError("this session has ended; reload the page")
        try:
            display = open_source(path)
        except InputError as exc:
            if uploaded:
                path.unlink(missing_ok=True)
            raise UnsupportedMediaError(f"{name} cannot be opened: {exc}") from exc
        try:
            matting = MattingSession(
                path,
                tracker=self.config.tracker,
                head=self.config.head,
                device=self.config.device,
            )
        except BaseException:
            display.close()
            if uploaded:
                path.unlink(missing_ok=True)
            raise
        with self._matting_lock, self._state_lock:
            self._close_clip()
            self.matting, self._display = matting, display
            info = matting.info
            self.clip = {
                "name": name,
                "kind": info.kind,
                "width": info.width,
                "height": info.height,
                "frames": info.num_frames,
                "fps": float(info.fps),
                "duration": round(info.num_frames / float(info.fps), 3) if info.fps else None,
                "has_audio": info.has_audio,
                "tracker": matting.tracker.name,
                "prompt_types": [t.__name__ for t in matting.tracker.prompt_types],
            }
            self.objects = {}
            self._next_object = 1
            self.add_object()
        return self.clip

    def _close_clip(self) -> None:
        if self.matting is not None:
            self.matting.close()
        if self._display is not None:
            self._display.close()
        self.matting = self._display = None
        self.clip = None
        self.preview = None
        self.results_frames = set()
        self.results_objects = []
        self.results_stale = False
        self.results_scores, self.results_warnings = {}, []
        shutil.rmtree(self.folder / "results", ignore_errors=True)
        shutil.rmtree(self.folder / "exports", ignore_errors=True)
        self.exports = {}

    def frame_jpeg(self, index: int) -> bytes:
        self._require_clip()
        n = self.clip["frames"] if self.clip else 0
        if not 0 <= index < n:
            raise NotFoundError(
                f"frame {index} is outside the clip: it has {n} frames (0..{n - 1})"
            )
        with self._display_lock:
            image = self._display.read_frame(index)
        return encode_jpeg(image)

    # -- objects ---------------------------------------------------------------------------------
    def add_object(self, name: str | None = None) -> dict[str, Any]:
        self._require_clip()
        with self._state_lock:
            obj = self._next_object
            self._next_object += 1
            self.objects[obj] = {
                "name": (name or f"object {obj}")[:60],
                "colour": COLOURS[(obj - 1) % len(COLOURS)],
            }
            return {"id": obj, **self.objects[obj]}

    def rename_object(self, obj: int, name: str) -> dict[str, Any]:
        self._require_clip()
        if obj not in self.objects:
            raise NotFoundError(f"no object {obj}")
        if not name.strip():
            raise PromptError("an object name cannot be empty")
        self.objects[obj]["name"] = name.strip()[:60]
        return {"id": obj, **self.objects[obj]}

    def remove_object(self, obj: int) -> None:
        if obj not in self.objects:
            self._require_clip()
            raise NotFoundError(f"no object {obj}")
        with self._matting("remove an object") as matting:
            if obj in matting.object_ids:
                matting.remove_object(obj)
                self._prompts_changed()
            with self._state_lock:
                del self.objects[obj]
                if self.preview is not None:
                    self.preview[1].pop(obj, None)

    # -- prompts and preview -------------------------------------------------------------------
    def _prompts_changed(self) -> None:
        if self.results_frames:
            self.results_stale = True

    def add_prompt(self, prompt: Any) -> dict[str, Any]:
        """Add a prompt and preview its frame; returns the preview description."""
        if prompt.object_id not in self.objects:
            self._require_clip()
            raise NotFoundError(f"no object {prompt.object_id}: add the object first")
        with self._matting("add a prompt") as matting:
            matting.add_prompt(prompt)
            self._prompts_changed()
            return self._preview_locked(matting, prompt.frame)

    def add_click(self, x: float, y: float, label: int, frame: int, obj: int) -> dict[str, Any]:
        """A click as its own points prompt, so each click can be removed on its own.

        A points prompt needs a positive point, so a negative click travels with the object's
        latest positive click on that frame (trackers combine the clicks of a frame; the repeat
        changes nothing). Adding it costs one prompt, not a rebuild of the tracker.
        """
        from ..types import Points

        if label not in (0, 1):
            raise PromptError("a click label is 1 (positive) or 0 (negative)")
        if label == 1:
            return self.add_prompt(Points(((x, y),), (1,), frame=frame, object_id=obj))
        matting = self._require_clip()
        positives = [
            xy
            for p in matting.prompts
            if isinstance(p, Points) and p.frame == frame and p.object_id == obj
            for xy, lab in zip(p.coords, p.labels)
            if lab == 1
        ]
        if not positives:
            raise PromptError(
                "a negative click refines positive ones: click on the object first (on this frame)"
            )
        return self.add_prompt(Points((positives[-1], (x, y)), (1, 0), frame=frame, object_id=obj))

    def remove_prompt(self, index: int) -> dict[str, Any]:
        with self._matting("remove a prompt") as matting:
            removed = matting.remove_prompt(index)
            self._prompts_changed()
            if not matting.prompts:
                self.preview = None
                return {"frame": removed.frame, "objects": [], "ms": 0.0}
            return self._preview_locked(matting, removed.frame)

    def preview_frame(self, frame: int) -> dict[str, Any]:
        with self._matting("preview") as matting:
            if not matting.prompts:
                raise PromptError("no prompt yet: click on the frame or drag a box first")
            return self._preview_locked(matting, frame)

    def _preview_locked(self, matting: Any, frame: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        result = matting.preview(frame)
        ms = 1e3 * (time.perf_counter() - t0)
        self.preview = (frame, result.alphas, ms)
        return {
            "frame": frame,
            "objects": sorted(result.alphas),
            "ms": round(ms, 1),
            "coverage": {
                str(k): round(float((v > 0.5).mean()), 5) for k, v in result.alphas.items()
            },
        }

    def prompts(self) -> list[dict[str, Any]]:
        if self.matting is None:
            return []
        out = []
        for i, p in enumerate(self.matting.prompts):
            kind = type(p).__name__
            entry: dict[str, Any] = {"index": i, "object_id": p.object_id, "frame": p.frame}
            if kind == "Points":
                entry.update(
                    kind="point",
                    points=[[x, y, lab] for (x, y), lab in zip(p.coords, p.labels)],
                )
            elif kind == "Box":
                entry.update(kind="box", box=list(p.xyxy))
            elif kind == "MaskPrompt":
                entry.update(kind="mask", pixels=int(p.mask.sum()))
            else:
                entry.update(kind="text", text=p.text)
            out.append(entry)
        return out

    def alpha(self, frame: int, obj: int) -> tuple[np.ndarray, str]:
        """The matte shown for (frame, object): the preview of that frame, else the propagated
        result. Returns (alpha, "preview" | "result")."""
        self._require_clip()
        n = self.clip["frames"] if self.clip else 0
        if not 0 <= frame < n:
            raise NotFoundError(
                f"frame {frame} is outside the clip: it has {n} frames (0..{n - 1})"
            )
        if obj not in self.objects:
            raise NotFoundError(f"no object {obj}")
        preview = self.preview
        if preview is not None and preview[0] == frame and obj in preview[1]:
            return preview[1][obj], "preview"
        path = self._result_path(frame, obj)
        if frame in self.results_frames and path.exists():
            return _read_alpha(path), "result"
        raise NotFoundError(f"no matte yet for object {obj} on frame {frame}")

    def confidence(self, frame: int, obj: int) -> float | None:
        """The tracker's confidence for ``obj`` on ``frame`` in the last propagation (below 0.5:
        lost), or None when there is no result there."""
        return self.results_scores.get(frame, {}).get(obj)

    # -- propagation -----------------------------------------------------------------------------
    def _result_path(self, frame: int, obj: int) -> Path:
        return self.folder / "results" / f"{frame:07d}_{obj}.png"

    def start_propagation(self, backward: bool = True) -> Job:
        matting = self._require_clip()
        with self._state_lock:
            self._require_idle("propagate")
            if not matting.prompts:
                raise PromptError("no prompt yet: click on the frame or drag a box first")
            if not self._matting_lock.acquire(timeout=30.0):
                raise BusyError("cannot propagate: the session is busy with another request")
            job = Job("propagation", total=matting.info.num_frames)
            self.job = job
            self.preview = None
            self.results_frames = set()
            self.results_objects = list(matting.object_ids)
            self.results_stale = False
            self.results_scores, self.results_warnings = {}, []
            (self.folder / "results").mkdir(exist_ok=True)
        job.thread = threading.Thread(
            target=self._propagate, args=(job, matting, backward), daemon=True
        )
        job.thread.start()
        return job

    def _propagate(self, job: Job, matting: Any, backward: bool) -> None:
        try:
            frames = matting.propagate(backward=backward)
            try:
                for result in frames:
                    for obj, alpha in result.alphas.items():
                        _write_alpha(self._result_path(result.index, obj), alpha)
                    self.results_scores[result.index] = {
                        int(o): float(v) for o, v in result.scores.items()
                    }
                    self.results_frames.add(result.index)
                    job.done += 1
                    self.touch()
                    if job.cancel.is_set():
                        break
            finally:
                frames.close()
            job.state = "cancelled" if job.cancel.is_set() else "done"
            if job.state == "cancelled":
                job.message = f"cancelled after {job.done} of {job.total} frames"
            else:  # where an object was lost: the user should add a prompt there
                self.results_warnings = list(matting.lost_warnings)
                job.warnings = list(self.results_warnings)
        except Sam2MattingError as exc:
            job.state, job.message = "failed", str(exc)
        except Exception as exc:  # a bug: keep the server alive and say so
            log.exception("propagation failed")
            job.state, job.message = "failed", f"internal error: {exc}"
        finally:
            job.finished = time.perf_counter()
            self._matting_lock.release()

    def cancel(self) -> dict[str, Any]:
        job = self.job
        if job is None or job.state != "running":
            raise NotFoundError("nothing is running")
        job.cancel.set()
        return job.snapshot()

    # -- export ----------------------------------------------------------------------------------
    def start_export(
        self,
        formats: list[str],
        *,
        combined: bool = False,
        background: str | None = None,
        alpha_bits: int = 8,
        lossless: bool = False,
        exr_colour: str = "linear",
        exr_compression: str = "zip",
        contact_sheet: bool = False,
    ) -> Job:
        from ..api import check_output_options

        matting = self._require_clip()
        if not check_output_options(
            formats, alpha_bits, exr_colour=exr_colour, exr_compression=exr_compression
        ):
            raise OutputError("no output format given: tick at least one")
        if background is not None and not re.fullmatch(r"#[0-9A-Fa-f]{6}", background):
            raise OutputError(f"background must be a colour like #00b140, got {background!r}")
        with self._state_lock:
            self._require_idle("export")
            n = matting.info.num_frames
            if len(self.results_frames) != n:
                raise PromptError(
                    f"propagate the whole clip before exporting ({len(self.results_frames)} of {n} frames have mattes)"
                )
            if self.results_stale:
                raise PromptError("the prompts changed since the last propagation: propagate again")
            objects = [o for o in self.results_objects if o in self.objects]
            if not objects:
                raise PromptError("no object to export")
            job = Job("export", total=n)
            self.job = job
        options = {
            "formats": formats,
            "combined": combined,
            "background": background,
            "alpha_bits": alpha_bits,
            "lossless": lossless,
            "exr_colour": exr_colour,
            "exr_compression": exr_compression,
            "contact_sheet": contact_sheet,
        }
        job.thread = threading.Thread(
            target=self._export, args=(job, matting.info, objects, options), daemon=True
        )
        job.thread.start()
        return job

    def _export(self, job: Job, info: Any, objects: list[int], options: dict[str, Any]) -> None:
        from ..api import ResultWriter
        from ..io.readers import open_source
        from ..types import FrameResult

        out_dir = self.folder / "exports" / job.id
        stem = re.sub(
            r"[^A-Za-z0-9._-]", "_", Path(self.clip["name"] if self.clip else "clip").stem
        )
        stem = re.sub(r"^[0-9a-f]{8}-", "", stem) or "clip"
        try:
            with (
                open_source(info.path) as source,
                ResultWriter(out_dir, stem, info, objects, **options) as writer,
            ):
                for index, image in source.iter_frames():
                    if job.cancel.is_set():
                        raise KeyboardInterrupt("cancelled")
                    alphas = {o: _read_alpha(self._result_path(index, o)) for o in objects}
                    writer.write(FrameResult(index=index, image=image, alphas=alphas))
                    job.done += 1
                    self.touch()
                paths = writer.close()
            outputs = []
            for (obj, fmt), path in paths.items():
                download = path
                if path.is_dir():  # PNG sequences travel as one zip
                    download = path.with_name(path.name + ".zip")
                    _zip_folder(path, download)
                name = download.name
                self.exports[f"{job.id}/{name}"] = download
                outputs.append(
                    {
                        "object": obj,
                        "format": fmt,
                        "name": name,
                        "url": f"/api/exports/{job.id}/{name}",
                        "bytes": download.stat().st_size,
                    }
                )
            job.outputs = outputs
            job.state = "done"
        except KeyboardInterrupt:
            job.state, job.message = "cancelled", "export cancelled; no file was kept"
            shutil.rmtree(out_dir, ignore_errors=True)
        except Sam2MattingError as exc:
            job.state, job.message = "failed", str(exc)
            shutil.rmtree(out_dir, ignore_errors=True)
        except Exception as exc:
            log.exception("export failed")
            job.state, job.message = "failed", f"internal error: {exc}"
            shutil.rmtree(out_dir, ignore_errors=True)
        finally:
            job.finished = time.perf_counter()

    def export_file(self, job_id: str, name: str) -> Path:
        path = self.exports.get(f"{job_id}/{name}")
        if path is None or not path.is_file():
            raise NotFoundError(f"no exported file {name!r} in this session")
        return path

    # -- state -----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        with self._state_lock:
            preview = self.preview
            return {
                "clip": self.clip,
                "objects": [{"id": k, **v} for k, v in sorted(self.objects.items())],
                "prompts": self.prompts(),
                "prompted_frames": sorted({p.frame for p in self.matting.prompts})
                if self.matting is not None
                else [],
                "preview": None
                if preview is None
                else {
                    "frame": preview[0],
                    "objects": sorted(preview[1]),
                    "ms": round(preview[2], 1),
                },
                "results": {
                    "frames": len(self.results_frames),
                    "objects": list(self.results_objects),
                    "stale": self.results_stale,
                    "warnings": list(self.results_warnings),
                },
                "job": None if self.job is None else self.job.snapshot(),
            }

    def close(self) -> None:
        """Stop any job, release the clip and delete the session folder. Idempotent."""
        if self.closed:
            return
        self.closed = True
        job = self.job
        if job is not None and job.state == "running":
            job.cancel.set()
            if job.thread is not None:
                job.thread.join(timeout=60.0)
        with self._state_lock:
            got = self._matting_lock.acquire(timeout=60.0)
            try:
                self._close_clip()
            finally:
                if got:
                    self._matting_lock.release()
        shutil.rmtree(self.folder, ignore_errors=True)


def _zip_folder(folder: Path, target: Path) -> None:
    temp = target.with_name(f".{target.name}.partial")
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED) as zf:
        for item in sorted(folder.iterdir()):
            zf.write(item, f"{folder.name}/{item.name}")
    os.replace(temp, target)


# --------------------------------------------------------------------------------------------
# all sessions
# --------------------------------------------------------------------------------------------
class SessionStore:
    """Sessions by cookie token; idle ones (no request, no running job) expire after the TTL."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self._sessions: dict[str, WebSession] = {}
        self._lock = threading.Lock()

    def create(self) -> WebSession:
        self.reap()
        with self._lock:
            if len(self._sessions) >= self.config.max_sessions:
                raise BusyError(
                    f"the server already holds {self.config.max_sessions} sessions; try again later"
                )
            token = secrets.token_urlsafe(32)
            session = WebSession(self.config, token)
            self._sessions[token] = session
        return session

    def get(self, token: str | None) -> WebSession | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
        if session is not None:
            session.touch()
        return session

    def end(self, token: str) -> None:
        with self._lock:
            session = self._sessions.pop(token, None)
        if session is not None:
            session.close()

    def reap(self) -> int:
        """Close sessions idle longer than the TTL; returns how many."""
        now = time.monotonic()
        with self._lock:
            expired = [
                t
                for t, s in self._sessions.items()
                if now - s.last_seen > self.config.session_ttl and not s.busy() and not s.requests
            ]
            sessions = [self._sessions.pop(t) for t in expired]
        for s in sessions:
            log.info("session expired; removing %s", s.folder)
            s.close()
        return len(sessions)

    def close_all(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for s in sessions:
            s.close()

    def __len__(self) -> int:
        return len(self._sessions)

    def list_root(self, relative: str) -> list[ClipEntry]:
        """Entries of a folder under the root: sub-folders, videos, images (symlinks leading
        out of the root are left out)."""
        folder = resolve_under_root(self.config.root, relative)
        if not folder.is_dir():
            raise NotFoundError(f"not a folder: {relative!r}")
        base = self.config.root.resolve() if self.config.root else folder
        image_ext = self.config.image_extensions()
        entries: list[ClipEntry] = []
        for item in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
            if item.name.startswith("."):
                continue
            try:
                real = item.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            if not real.is_relative_to(base):
                continue
            kind = _kind(real, image_ext)
            if kind is None:
                continue
            if kind == "dir" and any(
                p.suffix.lower() in image_ext for p in list(real.iterdir())[:200]
            ):
                kind = "images"
            rel = item.relative_to(base).as_posix() if item.is_relative_to(base) else item.name
            size = real.stat().st_size if real.is_file() else 0
            entries.append(ClipEntry(item.name, rel, kind, size))
        return entries
