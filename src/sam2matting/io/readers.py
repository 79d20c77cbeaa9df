"""Frame sources: videos (PyAV), image folders, single images and in-memory arrays.

Every source yields H×W×3 uint8 RGB frames and knows its exact frame count, size and rate.
Sources are context managers; iterating decodes lazily (memory does not grow with the clip).

Videos
    Anything FFmpeg demuxes and decodes (mp4/mov/mkv/webm/avi/ts…, H.264/HEVC/VP9/AV1/ProRes…).
    VP9 with alpha decodes as RGB: the alpha of an input is ignored.

    *Frame count.* At open the video stream is demuxed once **without decoding** (reading the
    file, about 25 ms for a 1.7 MB clip) and its packets are counted. This is exact for every
    container, unlike the header count ``stream.frames``, which is 0 for mkv/webm and which edit
    lists can inflate; the header count is still used to spot a truncated file (fewer packets
    than the header promises). The same pass records every frame's presentation timestamp and
    the keyframes, so seeking and frame indices stay exact for variable-rate videos too.

    *Colour.* Frames convert to RGB with the matrix the stream is tagged with (BT.709, BT.601,
    BT.2020…) and its range (limited/full, ``yuvj``); untagged YUV uses BT.709 from 720 lines up
    and BT.601 below (what players do). 10/12-bit sources convert from their full precision.
    Conversion uses swscale's accurate rounding and full chroma interpolation (±1 level).

    *Rotation.* The display-matrix rotation (``VideoFrame.rotation``, multiples of 90°) is
    applied, and ``VideoInfo.width/height`` are the displayed size. Mirroring flags in the
    display matrix are not exposed by PyAV and are ignored; non-square pixels are not resampled.

Image folders
    png/jpg/jpeg/tif/tiff/bmp/webp (and exr where Pillow reads it), natural order (``frame2``
    before ``frame10``); hidden files and other files are ignored. Sizes are checked at open from
    the file headers. EXIF orientation is applied to JPEG/TIFF/WebP. The rate is ``fps``
    (default 25).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..types import check_rgb_frame

__all__ = [
    "IMAGE_EXTENSIONS",
    "ArraySource",
    "FrameSource",
    "ImageFolderSource",
    "VideoInfo",
    "VideoSource",
    "list_images",
    "natural_key",
    "open_source",
]

#: Image file suffixes read as frames (lower case). ``.exr`` joins when Pillow has a reader.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".exr"}
)

#: How many decoded frames a video source keeps for repeated random access (read_frame).
_CACHE_FRAMES = 4
#: How many times a seek steps back one more keyframe when it lands past the wanted frame.
_SEEK_RETRIES = 3


@dataclass(frozen=True)
class VideoInfo:
    """What a source is: size in pixels, exact frame count, rate (frames/s) and origin.

    ``kind`` is ``"video"``, ``"images"`` (a folder or list of image files), ``"image"`` (one
    still) or ``"array"`` (frames given in memory). ``has_audio`` is true for videos with an
    audio stream that video outputs should carry.
    """

    width: int
    height: int
    num_frames: int
    fps: Fraction = Fraction(25)
    kind: str = "array"
    path: Path | None = None
    has_audio: bool = False
    codec: str | None = None
    #: image folders: each frame's file stem, so outputs can keep the frame names
    frame_names: tuple[str, ...] | None = None
    #: the input frame that frame 0 is (a :class:`FrameRange` of a longer clip); audio that
    #: outputs carry starts there too
    first_frame: int = 0


class FrameSource(ABC):
    """A clip of frames: sequential iteration, random access and bounded-memory reverse order."""

    info: VideoInfo

    def __len__(self) -> int:
        return self.info.num_frames

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release file handles. Idempotent."""

    def check_index(self, index: int) -> None:
        """Raise :class:`InputError` unless ``0 <= index < num_frames``."""
        if not 0 <= index < self.info.num_frames:
            raise InputError(
                f"frame {index} is past the clip: it has {self.info.num_frames} frames (0..{self.info.num_frames - 1})"
            )

    def _clip_range(self, start: int, stop: int | None) -> int:
        """Validate ``start`` (0..num_frames) and return ``stop`` clipped to the clip."""
        n = self.info.num_frames
        if not 0 <= start <= n:
            self.check_index(start)
        return n if stop is None else max(start, min(stop, n))

    @abstractmethod
    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for ``start <= index < stop`` in order (stop: end of clip)."""

    def read_frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (random access; videos seek, so prefer iter_frames for runs)."""
        self.check_index(index)
        for _, frame in self.iter_frames(index, index + 1):
            return frame
        raise InputError(f"could not read frame {index}")

    def iter_frames_reverse(
        self, start: int, stop: int = 0, chunk: int = 32
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` from ``start`` down to ``stop`` inclusive.

        Decodes ``chunk`` frames forward at a time and yields them reversed, so memory is bounded
        by ``chunk`` frames whatever the clip length.
        """
        self.check_index(start)
        hi = start + 1
        while hi > stop:
            lo = max(stop, hi - chunk)
            frames = list(self.iter_frames(lo, hi))
            yield from reversed(frames)
            hi = lo


def parse_frame_range(text: str) -> tuple[int, int | None]:
    """``"START:END"`` → (start, end) with END exclusive (Python slice style); either side may
    be empty (``"100:"``, ``":50"``). Raises InputError for anything else, and for a range
    that holds no frame (``"10:5"``, a negative START)."""
    parts = text.strip().split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        start = int(parts[0]) if parts[0].strip() else 0
        end = int(parts[1]) if parts[1].strip() else None
    except ValueError:
        raise InputError(
            f"bad frame range {text!r}: expected START:END (END exclusive), e.g. 100:250"
        ) from None
    if start < 0 or (end is not None and end <= start):
        raise InputError(f"bad frame range {text!r}: needs 0 <= START < END (END exclusive)")
    return start, end


class FrameRange(FrameSource):
    """Frames ``start ≤ i < stop`` of another source, renumbered from 0.

    ``info.first_frame`` records where the range starts in the input, so outputs that carry
    audio take it from that point; image-folder frame names are sliced with the frames.
    """

    def __init__(self, inner: FrameSource, start: int, stop: int | None = None) -> None:
        n = inner.info.num_frames
        stop = n if stop is None else stop
        if not 0 <= start < stop <= n:
            raise InputError(
                f"frame range {start}:{stop} is not inside the clip's {n} frames (0:{n})"
            )
        self.inner, self.start, self.stop = inner, start, stop
        names = inner.info.frame_names
        self.info = dataclasses.replace(
            inner.info,
            num_frames=stop - start,
            first_frame=inner.info.first_frame + start,
            frame_names=names[start:stop] if names is not None else None,
        )

    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        stop = self._clip_range(start, stop)
        for index, frame in self.inner.iter_frames(self.start + start, self.start + stop):
            yield index - self.start, frame

    def read_frame(self, index: int) -> np.ndarray:
        self.check_index(index)
        return self.inner.read_frame(self.start + index)

    def iter_frames_reverse(
        self, start: int, stop: int = 0, chunk: int = 32
    ) -> Iterator[tuple[int, np.ndarray]]:
        self.check_index(start)
        for index, frame in self.inner.iter_frames_reverse(
            self.start + start, self.start + stop, chunk
        ):
            yield index - self.start, frame

    def close(self) -> None:
        self.inner.close()


class ArraySource(FrameSource):
    """Frames held by the caller: a sequence of H×W×3 arrays or one N×H×W×3 array."""

    def __init__(
        self, frames: Sequence[np.ndarray] | np.ndarray, fps: float | Fraction = 25
    ) -> None:
        if len(frames) == 0:
            raise InputError("no frames given")
        self._frames = frames
        first = check_rgb_frame(frames[0])
        h, w = first.shape[:2]
        for i, f in enumerate(frames):
            if np.asarray(f).shape[:2] != (h, w):
                raise InputError(
                    f"frame {i} is {np.asarray(f).shape[1]}×{np.asarray(f).shape[0]} but frame 0 is {w}×{h}: all frames must share one size"
                )
        self.info = VideoInfo(
            width=w,
            height=h,
            num_frames=len(frames),
            fps=Fraction(fps).limit_denominator(1001000),
            kind="array",
        )

    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        stop = self._clip_range(start, stop)
        for i in range(start, stop):
            yield i, check_rgb_frame(self._frames[i])

    def read_frame(self, index: int) -> np.ndarray:
        self.check_index(index)
        return check_rgb_frame(self._frames[index])


# --------------------------------------------------------------------------------------------
# image folders and single images


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders digit runs by value: ``frame2`` < ``frame10`` (case-insensitive)."""
    parts = re.split(r"(\d+)", name.casefold())
    # even positions are text, odd positions digit runs, so tuples always compare like with like
    return (*((int(p) if i % 2 else p) for i, p in enumerate(parts)), name)


def _image_extensions() -> frozenset[str]:
    """IMAGE_EXTENSIONS without ``.exr`` unless Pillow registers a reader for it."""
    from PIL import Image

    if ".exr" in Image.registered_extensions():
        return IMAGE_EXTENSIONS
    return IMAGE_EXTENSIONS - {".exr"}


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder`` (not hidden), in natural order."""
    exts = _image_extensions()
    files = [
        p
        for p in Path(folder).iterdir()
        if p.suffix.lower() in exts and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


_EXIF_ORIENTATION = 0x0112
#: Formats whose EXIF orientation is honoured. Their EXIF is in the header; Pillow would decode
#: a whole PNG to look for it, which would make opening a folder as slow as reading it.
_ORIENTED_FORMATS = ("JPEG", "MPO", "TIFF", "WEBP")


def _bomb_message(path: Path, exc: Exception) -> str:
    """One line for Pillow's DecompressionBombError (a header claiming billions of pixels)."""
    import re

    from PIL import Image

    found = re.search(r"\((\d+) pixels\)", str(exc))
    claimed = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return (
        f"image is too large to decode safely: {path} claims {claimed} "
        f"(limit {limit:,}; a corrupt or malicious header?)"
    )


def check_regular_file(path: Path) -> None:
    """Refuse named pipes, sockets and devices: reading them can block forever.

    A FIFO given as input would hang in ``open``/``read`` until a writer appears, where no
    frame loop can notice a cancel request.
    """
    import stat

    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputError(f"input cannot be read: {path} ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
        return
    kind = (
        "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    raise InputError(f"input is {kind}, not a file: {path}; save the stream to a file first")


def _image_size(path: Path) -> tuple[int, int]:
    """Displayed (width, height) of an image from its header (EXIF rotation applied)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            w, h = im.size
            if im.format in _ORIENTED_FORMATS:
                orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
                if orientation in (5, 6, 7, 8):
                    w, h = h, w
            return w, h
    except Image.DecompressionBombError as exc:
        raise InputError(_bomb_message(path, exc)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"unreadable image: {path} ({exc.__class__.__name__}: {exc})") from exc


def _load_image(path: Path) -> np.ndarray:
    """Decode an image file to H×W×3 uint8 RGB (alpha dropped, 16-bit scaled, EXIF applied)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            im = ImageOps.exif_transpose(opened) if opened.format in _ORIENTED_FORMATS else opened
            if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
                arr = np.asarray(im).astype(np.float32)
                arr = np.clip(np.rint(arr / 257.0), 0, 255).astype(np.uint8)
            elif im.mode == "F":
                arr = np.asarray(im, dtype=np.float32)
                scale = 255.0 if float(np.nanmax(arr, initial=0.0)) <= 1.0 else 1.0
                arr = np.clip(np.rint(np.nan_to_num(arr) * scale), 0, 255).astype(np.uint8)
            else:
                arr = np.asarray(im.convert("RGB"))
    except Image.DecompressionBombError as exc:
        raise InputError(_bomb_message(path, exc)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"unreadable image: {path} ({exc.__class__.__name__}: {exc})") from exc
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr)


class ImageFolderSource(FrameSource):
    """A folder of image files (or an explicit list of files), one frame per file."""

    def __init__(
        self, path: str | Path | Sequence[str | Path], fps: float | Fraction | None = None
    ) -> None:
        if isinstance(path, (str, Path)):
            folder = Path(path)
            files = list_images(folder)
            if not files:
                exts = ", ".join(sorted(e.lstrip(".") for e in _image_extensions()))
                raise InputError(f"image folder has no images ({exts}): {folder}")
            kind = "images"
            origin = folder
        else:
            files = [Path(p) for p in path]
            if not files:
                raise InputError("no image files given")
            for p in files:
                if not p.exists():
                    raise InputError(f"input not found: {p}")
                check_regular_file(p)
            kind = "image" if len(files) == 1 else "images"
            origin = files[0] if len(files) == 1 else files[0].parent
        w0, h0 = _image_size(files[0])
        for p in files[1:]:
            w, h = _image_size(p)
            if (w, h) != (w0, h0):
                raise InputError(
                    f"image {p.name} is {w}×{h} but {files[0].name} is {w0}×{h0}: all frames must share one size ({origin})"
                )
        self.files = files
        rate = Fraction(25) if fps is None else Fraction(fps).limit_denominator(1001000)
        if rate <= 0:
            raise InputError(f"frame rate must be positive, got {fps}")
        self.info = VideoInfo(
            width=w0,
            height=h0,
            num_frames=len(files),
            fps=rate,
            kind=kind,
            path=origin,
            frame_names=tuple(p.stem for p in files),
        )

    def _frame(self, index: int) -> np.ndarray:
        arr = _load_image(self.files[index])
        if arr.shape[:2] != (self.info.height, self.info.width):
            raise InputError(
                f"image {self.files[index].name} decodes to {arr.shape[1]}×{arr.shape[0]}, expected {self.info.width}×{self.info.height}"
            )
        return arr

    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        stop = self._clip_range(start, stop)
        for i in range(start, stop):
            yield i, self._frame(i)

    def read_frame(self, index: int) -> np.ndarray:
        self.check_index(index)
        return self._frame(index)

    def iter_frames_reverse(
        self, start: int, stop: int = 0, chunk: int = 32
    ) -> Iterator[tuple[int, np.ndarray]]:
        self.check_index(start)
        for i in range(start, max(stop, 0) - 1, -1):
            yield i, self._frame(i)


# --------------------------------------------------------------------------------------------
# videos


def _declared_duration(container: Any, stream: Any) -> Fraction | None:
    """The video stream's duration (s) as its header declares it, or None when unknown."""
    if stream.duration and stream.time_base:
        return Fraction(stream.duration) * Fraction(stream.time_base)
    tag = {k.lower(): v for k, v in stream.metadata.items()}.get("duration")
    if tag:  # Matroska "HH:MM:SS.fffffffff"
        match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", tag.strip())
        if match:
            h, m, sec = match.groups()
            return int(h) * 3600 + int(m) * 60 + Fraction(sec)
    if len(container.streams) == 1 and container.duration:
        return Fraction(container.duration, 1_000_000)
    return None


def _av() -> Any:
    from ..errors import require

    return require("av", "video")


class VideoSource(FrameSource):
    """A video file decoded with PyAV; see the module docstring for counting, colour, rotation.

    Sequential reads continue the running decoder; a read that needs a frame before the decoder's
    position, or past a later keyframe, seeks to the keyframe at or before it and decodes forward.
    The last few frames read by :meth:`read_frame` are cached.
    """

    def __init__(self, path: str | Path) -> None:
        av = _av()
        self.path = Path(path)
        self._closed = False
        self._container: Any = None
        self._gen: Iterator[Any] | None = None
        self._next = 0  # index of the next frame the running decoder will produce
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._reformatter = av.video.reformatter.VideoReformatter()
        interp = av.video.reformatter.Interpolation
        # swscale's default YUV→RGB path is fast but off by 1–2 levels (chroma-green 177 reads
        # back as 175); accurate rounding with full chroma interpolation is exact to ±1 at
        # ~7 ms per 720p frame instead of ~3 ms.
        self._interpolation = interp.BILINEAR | interp.ACCURATE_RND | interp.FULL_CHR_H_INT
        try:
            container = self._open_container()
            try:
                stream = self._pick_stream(container)
                self._scan(container, stream)
            finally:
                container.close()
            # decode frame 0 now: proves the stream decodes and gives size and rotation
            first = self._decoded(0)
        except BaseException:
            self.close()
            raise
        self._rot = round(int(getattr(first, "rotation", 0) or 0) / 90) % 4
        w, h = first.width, first.height
        if self._rot % 2:
            w, h = h, w
        self.info = VideoInfo(
            width=w,
            height=h,
            num_frames=self._count,
            fps=self._fps,
            kind="video",
            path=self.path,
            has_audio=self._has_audio,
            codec=self._codec,
        )
        self._cache[0] = self._to_rgb(first)

    # -- opening ---------------------------------------------------------------------------
    def _open_container(self) -> Any:
        av = _av()
        try:
            return av.open(str(self.path), metadata_errors="ignore")
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            size = self.path.stat().st_size if self.path.is_file() else 0
            if isinstance(exc, av.error.EOFError) and size > 0:
                # a container header with nothing after it (e.g. Matroska with zero frames)
                raise InputError(f"video has no frames or is cut short: {self.path}") from exc
            reason = (
                "empty file"
                if size == 0
                else getattr(exc, "strerror", None) or exc.__class__.__name__
            )
            raise InputError(f"not a readable video or image: {self.path} ({reason})") from exc

    def _pick_stream(self, container: Any) -> Any:
        av = _av()
        streams = [
            s
            for s in container.streams.video
            if not (int(s.disposition) & int(av.stream.Disposition.attached_pic))
        ]
        if not streams:
            raise InputError(f"not a readable video or image (no video stream): {self.path}")
        stream = streams[0]
        if stream.codec_context is None:  # FFmpeg has no decoder for it, or the header is cut
            raise InputError(
                f"not a readable video or image (no decoder for its video): {self.path}"
            )
        self._stream_index = stream.index
        self._codec = stream.codec_context.name
        self._has_audio = len(container.streams.audio) > 0
        return stream

    def _scan(self, container: Any, stream: Any) -> None:
        """Demux (no decoding) to count frames and record timestamps and keyframes."""
        av = _av()
        pts: list[int | None] = []
        key_ts: list[tuple[int | None, int | None]] = []  # (pts, dts) of keyframes
        total = 0
        last: tuple[int, int] | None = None  # (pts, duration) of the last frame shown
        try:
            for pkt in container.demux(stream):
                if pkt.size == 0:  # the flush packet PyAV yields at the end
                    continue
                total += 1
                if pkt.is_discard:  # dropped by an edit list: never displayed
                    continue
                pts.append(pkt.pts)
                if pkt.is_keyframe:
                    key_ts.append((pkt.pts, pkt.dts))
                if pkt.pts is not None and stream.time_base and (last is None or pkt.pts > last[0]):
                    last = (pkt.pts, pkt.duration or 0)
        except av.error.FFmpegError as exc:
            raise InputError(
                f"video is truncated or corrupt: read {total} frames then {exc.strerror or exc}: {self.path}"
            ) from exc
        self._fps = self._rate(stream)
        header = int(stream.frames or 0)
        if header > 0 and total < header:
            raise InputError(
                f"video is truncated or corrupt: found {total} of {header} frames: {self.path}"
            )
        if header == 0:
            self._check_duration(container, stream, len(pts), last)
        if not pts:
            raise InputError(f"video has no frames: {self.path}")
        self._count = len(pts)
        valid = [p for p in pts if p is not None]
        self._timed = len(valid) == len(pts) and len(set(valid)) == len(valid)
        if self._timed:
            order = sorted(valid)
            self._pts = order
            self._index_of = {p: i for i, p in enumerate(order)}
            # seek by the earlier of pts/dts: MPEG-TS and MP4 seek on decode timestamps, and
            # with backward seeking an earlier time can only land on this keyframe or before
            self._seek_ts = {
                self._index_of[p]: p if d is None else min(p, d) for p, d in key_ts if p is not None
            }
            self._keys = sorted(self._seek_ts) or [0]
        else:  # no usable timestamps: frames are numbered in decode order, seeking restarts
            self._pts = []
            self._index_of = {}
            self._keys = [0]
            self._seek_ts = {}

    def _check_duration(
        self, container: Any, stream: Any, found: int, last: tuple[int, int] | None
    ) -> None:
        """Containers without a frame count (mkv/webm/ts…): compare the declared duration.

        Matroska keeps the stream duration in its header (written when the file is finished),
        so a file cut short declares more time than its packets cover. More than half a frame
        period missing means at least one frame is missing.
        """
        declared = _declared_duration(container, stream)
        if declared is None or declared <= 0:
            return
        period = 1 / self._fps
        covered = Fraction(0)
        if last is not None:
            tb = Fraction(stream.time_base)
            start = Fraction(stream.start_time or 0) * tb
            # the last frame lasts its packet duration, or one frame period when unrecorded
            covered = last[0] * tb + (last[1] * tb if last[1] else period) - start
        if declared - covered > period / 2 + Fraction(1, 500):
            expected = round(declared * self._fps)
            raise InputError(
                f"video is truncated or corrupt: found {found} of about {expected} frames: {self.path}"
            )

    @staticmethod
    def _rate(stream: Any) -> Fraction:
        """Average rate; FFmpeg's nominal rate when within 0.1 % of it (exact 30000/1001 etc.)."""
        avg = Fraction(stream.average_rate) if stream.average_rate else None
        guess = Fraction(stream.guessed_rate) if stream.guessed_rate else None
        if avg and guess and abs(avg - guess) <= guess / 1000:
            return guess
        return avg or guess or Fraction(25)

    # -- decoding --------------------------------------------------------------------------
    def _start(self, key_pos: int) -> None:
        """Position the decoder at keyframe ``self._keys[key_pos]`` (seek or reopen)."""
        if self._closed:
            raise InputError(f"video source is closed: {self.path}")
        key = self._keys[max(key_pos, 0)]
        if self._container is None or key == 0 or not self._timed:
            if self._container is not None:
                self._container.close()
                self._container = None
            self._gen = None
            self._container = self._open_container()
            stream = self._container.streams[self._stream_index]
            stream.thread_type = "AUTO"
        else:
            stream = self._container.streams[self._stream_index]
            self._container.seek(self._seek_ts[key], stream=stream, backward=True, any_frame=False)
        self._next = key
        self._gen = self._decode(self._container, stream)

    @staticmethod
    def _decode(container: Any, stream: Any) -> Iterator[Any]:
        for pkt in container.demux(stream):
            yield from pkt.decode()

    def _decoded(self, index: int) -> Any:
        """The av.VideoFrame at ``index``, decoding forward from the current position or a seek."""
        av = _av()
        key_pos = bisect.bisect_right(self._keys, index) - 1
        if self._gen is None or index < self._next or self._keys[key_pos] > self._next:
            self._start(key_pos)
        attempts = 0
        while True:
            try:
                frame = next(self._gen)  # type: ignore[arg-type]
            except StopIteration:
                frame = None
            except av.error.FFmpegError as exc:
                self._gen = None
                raise InputError(
                    f"video is truncated or corrupt: decoded {self._next} of {self._count} frames ({exc.strerror or exc}): {self.path}"
                ) from exc
            if frame is not None:
                i = self._index_of.get(frame.pts, self._next) if self._timed else self._next
                if i < index:
                    self._next = i + 1
                    continue
                if i == index:
                    self._next = i + 1
                    return frame
            # the end came before `index`, or decoding resumed past it: either a seek landed
            # late (some demuxers seek imprecisely), so step back a keyframe (last try: from
            # the start), or the frames are really missing
            if key_pos > 0:
                attempts += 1
                key_pos = key_pos - 1 if attempts <= _SEEK_RETRIES else 0
                self._start(key_pos)
                continue
            self._gen = None
            decoded = self._next if frame is None else index
            raise InputError(
                f"video is truncated or corrupt: decoded {decoded} of {self._count} frames: {self.path}"
            )

    def _to_rgb(self, frame: Any) -> np.ndarray:
        src_cs = None
        if int(frame.colorspace) == 2 and not frame.format.is_rgb:  # unspecified YUV
            src_cs = "ITU709" if frame.height >= 720 else "ITU601"
        rgb = self._reformatter.reformat(
            frame, format="rgb24", src_colorspace=src_cs, interpolation=self._interpolation
        )
        arr = rgb.to_ndarray()
        if self._rot:
            arr = np.ascontiguousarray(np.rot90(arr, self._rot))
        return arr

    # -- public ----------------------------------------------------------------------------
    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        stop = self._clip_range(start, stop)
        for i in range(start, stop):
            cached = self._cache.get(i)
            if cached is not None:
                yield i, cached.copy()
            else:
                yield i, self._to_rgb(self._decoded(i))

    def read_frame(self, index: int) -> np.ndarray:
        self.check_index(index)
        cached = self._cache.get(index)
        if cached is None:
            cached = self._to_rgb(self._decoded(index))
            self._cache[index] = cached
            while len(self._cache) > _CACHE_FRAMES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return cached.copy()

    def close(self) -> None:
        self._closed = True
        self._gen = None
        if self._container is not None:
            self._container.close()
            self._container = None
        self._cache.clear()


# --------------------------------------------------------------------------------------------


def open_source(
    source: str | Path | np.ndarray | Sequence[np.ndarray] | FrameSource, fps: float | None = None
) -> FrameSource:
    """Open a video file, an image folder, a single image, or in-memory frames as a FrameSource.

    ``fps`` sets the rate of image folders, single images and arrays (default 25); videos keep
    their own. Raises :class:`InputError` with a one-line reason for anything unreadable.
    """
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise InputError(f"input not found: {path}")
        check_regular_file(path)
        if path.is_dir():
            return ImageFolderSource(path, fps=fps)
        if path.suffix.lower() in _image_extensions():
            return ImageFolderSource([path], fps=fps)
        try:
            return VideoSource(path)
        except InputError as exc:
            if not str(exc).startswith("not a readable video"):
                raise
            # an image with an unusual suffix still opens; anything else keeps the video error
            try:
                _image_size(path)
            except InputError:
                raise exc from None
            return ImageFolderSource([path], fps=fps)
    arr = source
    if isinstance(arr, np.ndarray) and arr.ndim == 3:
        arr = arr[None]
    return ArraySource(arr, fps=fps or 25)
