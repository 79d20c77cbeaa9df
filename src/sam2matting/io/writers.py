"""Output writers for every matte format, plus helpers that read outputs back.

Formats (:data:`FORMATS`): ``alpha-png``, ``rgba-png``, ``premul-png`` (folders of PNGs),
``prores`` (.mov, ProRes 4444 with alpha), ``webm`` (VP9 with alpha), ``alpha-mp4`` (H.264, alpha
as grey) and ``composite`` (H.264, foreground over a colour, image or video background).

Naming (:func:`output_path`): ``<stem>.obj<id>.<format><ext>`` for one object and
``<stem>.<format><ext>`` for the combined matte (``clip.obj1.prores.mov``, ``clip.alpha-mp4.mp4``,
``clip.obj2.webm``: the extension is not repeated); folder formats have no extension and hold
``<stem>[.obj<id>]_000000.png``, ``…_000001.png``, … (numbered from 0).

Guarantees
    * Same frame size, frame count (as written) and rate as the input: video frames carry
      ``pts = i`` in a time base of ``1/fps`` (exact Fraction), so players and ffprobe agree.
    * Atomic: everything is written under ``.<name>.partial-<random>`` in the destination folder
      and renamed to the final name only by a successful :meth:`MatteWriter.close`; an
      exception inside ``with``, :meth:`MatteWriter.abort` or a failed close deletes the
      temporaries, and whatever was at the final name before is left untouched.
    * Streaming: a writer holds at most one frame (plus the encoder's own look-ahead).
    * Audio: formats that carry it get the first audio stream of ``info.path`` when
      ``info.has_audio``. The video is encoded to a temporary file first and remuxed with the
      audio at close: stream copy when the container accepts the codec (AAC/MP3/ALAC/AC-3…
      in mov/mp4, Opus/Vorbis in webm), otherwise transcoded (AAC; Opus, else Vorbis, for webm).
      Audio is aligned to the input's first video frame and trimmed to the written video's
      length, to the nearest audio packet (~21 ms for AAC).

Quantisation and measured precision of the alpha that reads back (:func:`read_alpha_frames`):
    * PNG 8-bit: ``round(alpha·255)``, exact; 16-bit: ``round(alpha·65535)``, exact.
    * ProRes 4444: ``round(alpha·1023)`` into ``yuva444p10le``; ProRes codes alpha losslessly
      (FFmpeg decodes it as 12-bit), so ``round(read·1023)`` equals the written 10-bit value
      and ``|Δ| ≤ 0.5/1023 + 0.5/4095 < 1/1023`` against the float alpha.
    * WebM VP9 ``yuva420p``: ``round(alpha·255)``; lossy at the default quality (crf 8; on
      the 512×288 sample clip mean error 0.04/255, 99.9 % within 4/255, worst pixel 27/255
      on hair strands), exact with ``lossless=True`` (VP9 lossless mode).
    * alpha-mp4: ``round(alpha·255)`` as full-range luma; lossy by default (crf 8, adaptive
      quantisation off: mean 0.02/255, 99.9 % within 2/255, worst 6/255 on the sample clip),
      exact with ``lossless=True`` (qp 0, 4:4:4).
    * Colour (rgba/premul PNG, ProRes, WebM) is straight foreground colour except premul-png.
      Video colour is BT.709 limited range, tagged so decoders convert back correctly.

Other choices
    * H.264 outputs are 4:2:0 for players, but 4:4:4 when ``lossless`` or when the frame has an
      odd width or height (4:2:0 needs even sizes, and outputs keep the input's size).
      ``composite`` uses crf 16; ``alpha-mp4`` crf 8 with adaptive quantisation off.
    * ``alpha_bits`` (8 or 16) applies to the PNG formats; ProRes always stores 10-bit alpha,
      VP9 and H.264 8-bit. ``background`` applies to ``composite`` only: a colour, or an image,
      image folder or video scaled to cover the frame and centre-cropped (videos loop).
    * Writers do not enforce ``info.num_frames``: the output has the frames written (at least
      one; closing an empty writer is an error and leaves nothing).
"""

from __future__ import annotations

import collections
import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..cancel import register_temporary, unregister_temporary
from ..errors import InputError, OutputError, Sam2MattingError
from .compose import BackgroundSource, composite
from .readers import VideoInfo, _image_extensions, list_images, open_source

__all__ = [
    "FORMATS",
    "FormatSpec",
    "MatteWriter",
    "open_writer",
    "output_path",
    "probe",
    "read_alpha_frames",
    "read_exr",
    "remove_stale_temporaries",
]


@dataclass(frozen=True)
class FormatSpec:
    """One output format.

    ``extension``: file suffix, ``""`` for a folder of frames. ``lossless``: with default
    options the alpha reads back exactly as quantised (colour may still be lossy).
    ``carries_audio``: the input's audio goes into the output. ``needs_foreground``: the
    format stores colour, so writers use a foreground estimate (or the frame itself).
    ``has_alpha``: the output holds an alpha channel that :func:`read_alpha_frames` returns.
    ``per_clip``: one output holds all objects (written with :meth:`MatteWriter.write_layers`).
    """

    name: str
    extension: str
    description: str
    lossless: bool
    carries_audio: bool
    needs_foreground: bool
    has_alpha: bool = True
    #: one output for the whole clip holding every object (``exr-layers``), not one per object
    per_clip: bool = False


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec(
            "alpha-png",
            "",
            "folder of grey PNGs: the alpha matte (8-bit, or 16-bit)",
            True,
            False,
            False,
        ),
        FormatSpec(
            "rgba-png",
            "",
            "folder of RGBA PNGs: straight foreground colour + alpha",
            True,
            False,
            True,
        ),
        FormatSpec(
            "premul-png", "", "folder of RGBA PNGs: premultiplied colour + alpha", True, False, True
        ),
        FormatSpec(
            "prores",
            ".mov",
            "ProRes 4444 with 10-bit alpha, straight colour; keeps audio",
            True,
            True,
            True,
        ),
        FormatSpec(
            "webm",
            ".webm",
            "VP9 with alpha (yuva420p), straight colour; keeps audio",
            False,
            True,
            True,
        ),
        FormatSpec(
            "alpha-mp4",
            ".mp4",
            "H.264, the alpha matte as grey video; keeps audio",
            False,
            True,
            False,
        ),
        FormatSpec(
            "composite",
            ".mp4",
            "H.264 of the foreground over a colour, image or video; keeps audio",
            False,
            True,
            True,
            has_alpha=False,
        ),
        FormatSpec(
            "exr",
            "",
            "folder of OpenEXR files: half-float RGBA, premultiplied, linear (or display) colour",
            True,
            False,
            True,
        ),
        FormatSpec(
            "exr-layers",
            "",
            "folder of OpenEXR files, one per frame: merged RGBA plus an alpha layer per object "
            "(obj<ID>.A)",
            True,
            False,
            True,
            per_clip=True,
        ),
    )
}

#: Container comment tag that marks our H.264 outputs (read_alpha_frames tells them apart).
_TAG_PREFIX = "sam2matting:"
#: Audio codecs each container takes by stream copy; anything else is transcoded.
_AUDIO_COPY: dict[str, frozenset[str]] = {
    "mov": frozenset(
        {
            "aac",
            "mp3",
            "alac",
            "ac3",
            "eac3",
            "pcm_s16le",
            "pcm_s16be",
            "pcm_s24le",
            "pcm_s24be",
            "pcm_f32le",
        }
    ),
    "mp4": frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}),
    "webm": frozenset({"opus", "vorbis"}),
}
#: BT.709 luma coefficients (video colour is written as BT.709, limited range).
_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB


def _av() -> Any:
    from ..errors import require

    return require("av", "video")


def _check_format(fmt: str) -> FormatSpec:
    spec = FORMATS.get(fmt)
    if spec is None:
        raise OutputError(f"unknown output format {fmt!r}; choose from: {', '.join(FORMATS)}")
    return spec


def output_path(
    out_dir: str | Path,
    stem: str,
    fmt: str,
    object_id: int | None = None,
    *,
    still: bool = False,
) -> Path:
    """Where format ``fmt`` goes: ``out_dir/<stem>.obj<id>.<fmt><ext>`` (``object_id=None``:
    the combined matte, ``out_dir/<stem>.<fmt><ext>``). Folder formats have no extension, and
    the extension is not repeated when it equals the format name (``clip.obj1.webm``).

    ``still`` (one image in): the image formats and ``composite`` give one file, not a folder
    or a video: ``<stem>.obj<id>.alpha.png`` / ``.rgba.png`` / ``.premul.png`` /
    ``.composite.png``, ``<stem>.obj<id>.exr`` and ``<stem>.layers.exr``.
    """
    spec = _check_format(fmt)
    middle = "" if object_id is None else f".obj{int(object_id)}"
    if still and (spec.extension == "" or spec.name == "composite"):
        names = {"exr": "", "exr-layers": ".layers"}
        name = names.get(spec.name, "." + spec.name.removesuffix("-png"))
        suffix = ".exr" if spec.name.startswith("exr") else ".png"
        return Path(out_dir) / f"{stem}{middle}{name}{suffix}"
    extension = (
        "" if spec.extension == f".{spec.name}" else spec.extension
    )  # x.webm, not x.webm.webm
    return Path(out_dir) / f"{stem}{middle}.{spec.name}{extension}"


# --------------------------------------------------------------------------------------------
# file-system helpers


def _remove(path: Path) -> None:
    """Delete a file or folder if present; never raises."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except OSError:
        pass


#: temporaries: ``.<final name>.partial-<pid>-<hex>[suffix]`` (and ``.old-`` during a commit)
_TEMP_RE = __import__("re").compile(r"^\..+\.(?:partial|old)-(\d+)-[0-9a-f]{8}(?:\..*)?$")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists here (another user's counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists
        return True
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete temporaries a killed run left in ``folder`` and return them.

    Only provably stale ones: names in our temporary pattern whose embedded process id is no
    longer alive on this machine (a SIGKILLed run cannot clean up after itself; a live run's
    temporaries, including this process's, are never touched).
    """
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        found = _TEMP_RE.match(entry.name)
        if found and int(found.group(1)) != os.getpid() and not pid_alive(int(found.group(1))):
            _remove(entry)
            removed.append(entry)
    return removed


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``; OSError (with its errno text: "No space left on device")
    propagates, unlike ``cv2.imwrite`` which only returns False."""
    with open(path, "wb") as handle:
        handle.write(data)


def write_png(path: Path, array: np.ndarray, compression: int = 1) -> None:
    """Encode ``array`` (grey, BGR or BGRA; uint8/uint16) as PNG at ``path`` (errors raise)."""
    import cv2

    ok, encoded = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise OutputError(f"could not encode {path.name} as PNG")
    write_file(path, encoded.tobytes())


def _commit(temp: Path, final: Path, token: str) -> None:
    """Rename ``temp`` to ``final``, replacing whatever is there (files atomically)."""
    exists = final.exists() or final.is_symlink()
    if exists and (temp.is_dir() or (final.is_dir() and not final.is_symlink())):
        old = final.with_name(f".{final.name}.old-{token}")
        os.replace(final, old)
        try:
            os.replace(temp, final)
        except OSError:
            os.replace(old, final)  # put the previous output back
            raise
        _remove(old)
    else:
        os.replace(temp, final)


def _plane(plane: Any, dtype: type) -> np.ndarray:
    """Writable H×W numpy view of one av.VideoPlane (skips the row padding)."""
    itemsize = np.dtype(dtype).itemsize
    flat: np.ndarray = np.frombuffer(plane, dtype=dtype)
    return flat.reshape(plane.height, plane.line_size // itemsize)[:, : plane.width]


def _quantise(values: np.ndarray, bits: int) -> np.ndarray:
    """Float in [0, 1] → round(values · (2^bits − 1)) as uint8 / uint16."""
    peak = (1 << bits) - 1
    dtype = np.uint8 if bits <= 8 else np.uint16
    return np.rint(values * np.float32(peak)).astype(dtype)


def _ycbcr(rgb: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight RGB float H×W×3 → BT.709 limited-range Y, Cb, Cr planes (float, code values)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = _KR * r + _KG * g + _KB * b
    cb = (b - y) * np.float32(0.5 / (1 - _KB))
    cr = (r - y) * np.float32(0.5 / (1 - _KR))
    s = np.float32(1 << (bits - 8))
    return (16 + 219 * y) * s, (128 + 224 * cb) * s, (128 + 224 * cr) * s


def _half(plane: np.ndarray) -> np.ndarray:
    """2×2 box average (odd sizes: the last row/column is repeated)."""
    h, w = plane.shape
    if h % 2 or w % 2:
        plane = np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge")
    return 0.25 * (plane[0::2, 0::2] + plane[1::2, 0::2] + plane[0::2, 1::2] + plane[1::2, 1::2])


def _code(values: np.ndarray, bits: int) -> np.ndarray:
    dtype = np.uint8 if bits <= 8 else np.uint16
    return np.clip(np.rint(values), 0, (1 << bits) - 1).astype(dtype)


# --------------------------------------------------------------------------------------------
# writers


class MatteWriter:
    """Base writer: validates frames, keeps the output under a temporary name until close.

    Use as a context manager. ``write(image, alpha, foreground)`` takes the source frame
    (H×W×3 uint8 RGB), the alpha (H×W float32 in [0, 1]) and optionally the straight foreground
    colour (H×W×3 float32 in [0, 1]; ``None``: the frame is used where colour is needed).
    """

    spec: FormatSpec

    def __init__(
        self,
        spec: FormatSpec,
        path: str | Path,
        info: VideoInfo,
        *,
        alpha_bits: int,
        lossless: bool,
        still: bool = False,
        frame_names: Sequence[str] | None = None,
        exr_colour: str = "linear",
        exr_compression: str = "zip",
    ) -> None:
        if alpha_bits not in (8, 16):
            raise OutputError(f"alpha bit depth must be 8 or 16, got {alpha_bits}")
        if info.width < 1 or info.height < 1:
            raise OutputError(f"cannot write a {info.width}×{info.height} video")
        self.spec = spec
        self.path = Path(path)
        self.info = info
        self.alpha_bits = alpha_bits
        self.lossless = lossless
        self.frames_written = 0
        self.still = still
        self.frame_names = list(frame_names) if frame_names is not None else None
        if exr_colour not in EXR_COLOURS:
            raise OutputError(
                f"unknown EXR colour {exr_colour!r}; choose from: {', '.join(EXR_COLOURS)}"
            )
        if exr_compression not in EXR_COMPRESSIONS:
            raise OutputError(
                f"unknown EXR compression {exr_compression!r}; choose from: "
                f"{', '.join(EXR_COMPRESSIONS)}"
            )
        self.exr_colour = exr_colour
        self.exr_compression = exr_compression
        self._state = "open"
        # the pid lets a later run prove these temporaries stale after a SIGKILL
        self._token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._temps: list[Path] = []
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create output folder {parent}: {exc.strerror or exc}"
            ) from exc
        if not parent.is_dir():
            raise OutputError(f"output folder is not a folder: {parent}")
        remove_stale_temporaries(parent)

    # -- temporaries -----------------------------------------------------------------------
    def _temp(self, suffix: str = "", folder: bool = False) -> Path:
        """Create and register ``.<name>.partial-<token><suffix>`` next to the final path."""
        temp = self.path.with_name(f".{self.path.name}.partial-{self._token}{suffix}")
        try:
            if folder:
                temp.mkdir()
            else:
                with open(temp, "xb"):
                    pass
        except OSError as exc:
            raise OutputError(f"cannot write to {self.path.parent}: {exc.strerror or exc}") from exc
        self._temps.append(temp)
        register_temporary(temp)
        return temp

    # -- public ----------------------------------------------------------------------------
    def write(
        self, image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None = None
    ) -> None:
        """Append one frame. Raises OutputError on a wrong size or an encoder failure."""
        if self._state != "open":
            raise OutputError(f"writer for {self.path} is already {self._state}")
        img, a, fg = self._check(image, alpha, foreground)
        with self._aborting(f"write {self.spec.name} frame {self.frames_written} to {self.path}"):
            self._write(img, a, fg)
        self.frames_written += 1

    def write_layers(
        self,
        image: np.ndarray,
        alphas: dict[int, np.ndarray],
        foreground: np.ndarray | None = None,
    ) -> None:
        """Append one frame of a per-clip format (``exr-layers``): ``alphas`` maps object id →
        H×W float32 alpha; ``foreground`` is the straight colour for the merged alpha."""
        if not self.spec.per_clip:
            raise OutputError(f"{self.spec.name} holds one object: use write()")
        if not alphas:
            raise OutputError("write_layers needs at least one object's alpha")
        merged = np.max(np.stack([np.asarray(a, np.float32) for a in alphas.values()]), axis=0)
        self._layers = {obj: self._check(image, a, None)[1] for obj, a in sorted(alphas.items())}
        self.write(image, merged, foreground)

    def close(self) -> None:
        """Finish the output and rename it to :attr:`path`. Idempotent; aborts on failure."""
        if self._state != "open":
            return
        with self._aborting(f"finish {self.spec.name} output {self.path}"):
            if self.frames_written == 0:
                raise OutputError(f"no frames were written to {self.path}")
            temp = self._finish()
            _commit(temp, self.path, self._token)
        self._state = "closed"
        self._cleanup()

    @contextlib.contextmanager
    def _aborting(self, what: str) -> Iterator[None]:
        """Any failure inside discards the output; file and encoder errors become OutputError."""
        try:
            yield
        except Sam2MattingError:
            self.abort()
            raise
        except (OSError, ValueError, RuntimeError, _av().error.FFmpegError) as exc:
            self.abort()
            raise OutputError(f"could not {what}: {exc}") from exc
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Discard the output: delete every temporary. Idempotent; the final path is untouched."""
        if self._state == "open":
            self._state = "aborted"
        self._release()
        self._cleanup()

    def __enter__(self) -> MatteWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # -- for subclasses ----------------------------------------------------------------------
    def _write(self, image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None) -> None:
        raise NotImplementedError

    def _finish(self) -> Path:
        """Flush and return the completed temporary to rename."""
        raise NotImplementedError

    def _release(self) -> None:
        """Close open handles (called on abort)."""

    def _cleanup(self) -> None:
        for temp in self._temps:
            _remove(temp)
            unregister_temporary(temp)
        self._temps.clear()

    def _check(
        self, image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        from ..types import check_rgb_frame

        w, h = self.info.width, self.info.height
        img = np.asarray(image)
        if img.shape[:2] != (h, w):
            raise OutputError(
                f"frame {self.frames_written} is {img.shape[1] if img.ndim > 1 else '?'}×{img.shape[0]} but the output is {w}×{h}"
            )
        try:
            img = check_rgb_frame(img)
        except InputError as exc:
            raise OutputError(str(exc)) from None
        a = np.asarray(alpha)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[..., 0]
        if a.shape != (h, w):
            raise OutputError(
                f"alpha of frame {self.frames_written} has shape {a.shape}, expected ({h}, {w})"
            )
        if a.dtype == np.uint8:
            a = a.astype(np.float32) * np.float32(1 / 255)
        a = np.clip(np.nan_to_num(a.astype(np.float32, copy=False)), 0.0, 1.0)
        fg: np.ndarray | None = None
        if self.spec.needs_foreground:
            if foreground is None:
                fg = img.astype(np.float32) * np.float32(1 / 255)
            else:
                fg = np.asarray(foreground)
                if fg.shape != (h, w, 3):
                    raise OutputError(
                        f"foreground of frame {self.frames_written} has shape {fg.shape}, expected ({h}, {w}, 3)"
                    )
                if fg.dtype == np.uint8:
                    fg = fg.astype(np.float32) * np.float32(1 / 255)
                fg = np.clip(np.nan_to_num(fg.astype(np.float32, copy=False)), 0.0, 1.0)
        return img, a, fg


def png_threads() -> int:
    """Threads that compress PNGs in parallel per writer: OpenCV's encoder releases the GIL, and
    at 1080p one PNG takes ~60-80 ms on one core, more than the GPU needs per frame (see
    ``benchmarks/bench_gpu.py``); at most 8, at least 1."""
    return max(1, min(8, os.cpu_count() or 1))


class _PngWriter(MatteWriter):
    """alpha-png / rgba-png / premul-png: a folder of numbered PNGs (OpenCV encoder).

    Frames are compressed by a small thread pool (:func:`png_threads`), at most twice as many
    frames in flight as threads, so memory stays flat; a failed file fails the next ``write``
    or ``close``, which discards the whole output as before."""

    suffix = ".png"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from concurrent.futures import ThreadPoolExecutor

        self._threads = png_threads()
        self._pool: ThreadPoolExecutor | None = (
            ThreadPoolExecutor(self._threads, thread_name_prefix="sam2matting-png")
            if self._threads > 1
            else None
        )
        self._pending: collections.deque[Any] = collections.deque()
        # a still: one file written straight to a temporary; a clip: a folder of frames
        self._dir = self._temp(self.suffix) if self.still else self._temp(folder=True)
        name = self.path.name
        suffix = f".{self.spec.name}"
        self._stem = (
            name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name
        )

    def _frame_file(self) -> Path:
        """Where the next frame goes: the still's temporary, the input frame's own name (image
        folders keep their names), or ``<stem>_<index>``."""
        if self.still:
            if self.frames_written:
                raise OutputError(f"{self.path} holds one image; a second frame was written")
            return self._dir
        index = self.frames_written
        if self.frame_names is not None and index < len(self.frame_names):
            return self._dir / f"{self.frame_names[index]}{self.suffix}"
        return self._dir / f"{self._stem}_{index:06d}{self.suffix}"

    def _write(self, image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None) -> None:
        bits = self.alpha_bits
        a = _quantise(alpha, bits)
        if self.spec.name == "alpha-png":
            arr = a
        else:
            if foreground is None:  # pragma: no cover - _check fills it for colour formats
                raise OutputError("foreground missing")
            colour = foreground * alpha[..., None] if self.spec.name == "premul-png" else foreground
            rgb = _quantise(colour, bits)
            arr = np.dstack((rgb[..., 2], rgb[..., 1], rgb[..., 0], a))  # OpenCV wants BGRA
        file = self._frame_file()
        if self._pool is None:
            write_png(file, arr)
            return
        self._pending.append(self._pool.submit(write_png, file, arr))
        while len(self._pending) > 2 * self._threads:
            self._pending.popleft().result()

    def _drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def _finish(self) -> Path:
        self._drain()
        if self._pool is not None:
            self._pool.shutdown()
        return self._dir

    def _release(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


#: EXR colour encodings: ``linear`` (scene-linear, the sRGB transfer undone: what compositors
#: expect from EXR) and ``display`` (the frame's display-referred sRGB values, unchanged)
EXR_COLOURS = ("linear", "display")
#: EXR compressions offered (lossless ones first; ``dwaa``/``dwab``/``b44`` are lossy on colour)
EXR_COMPRESSIONS = ("zip", "zips", "piz", "rle", "none", "pxr24", "dwaa", "dwab", "b44")


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding of values in [0, 1] (float32)."""
    v = np.asarray(values, np.float32)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


class _ExrWriter(_PngWriter):
    """exr / exr-layers: one OpenEXR file per frame (the OpenEXR library writes the format).

    Half-float, scanline, RGBA with colour *premultiplied* by alpha (the EXR convention), colour
    linear by default (``exr_colour``), compression ``exr_compression`` (default zip, lossless).
    ``exr-layers`` adds one ``obj<ID>.A`` channel per object next to the merged RGBA.
    """

    suffix = ".exr"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from ..errors import require

        self._exr: Any = require("OpenEXR", "exr")
        self._layers: dict[int, np.ndarray] = {}
        super().__init__(*args, **kwargs)

    def _write(self, image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None) -> None:
        exr = self._exr
        colour = foreground if foreground is not None else image.astype(np.float32) / 255.0
        if self.exr_colour == "linear":
            colour = srgb_to_linear(colour)
        rgba = np.dstack((colour * alpha[..., None], alpha)).astype(np.float16)
        channels: dict[str, np.ndarray] = {"RGBA": rgba}
        if self.spec.per_clip:
            for obj, layer in self._layers.items():
                channels[f"obj{obj}.A"] = np.ascontiguousarray(layer.astype(np.float16))
        compression = getattr(exr, f"{self.exr_compression.upper()}_COMPRESSION")
        header = {"compression": compression, "type": exr.scanlineimage}
        file = self._frame_file()
        with exr.File(header, channels) as handle:
            handle.write(str(file))


class _VideoWriter(MatteWriter):
    """Common part of the PyAV writers: temp video file, pts = frame index, audio remux."""

    container_format = "mp4"
    codec = "libx264"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        av = _av()
        self._video_temp = self._temp()
        self._container: Any = None
        try:
            self._container = av.open(str(self._video_temp), "w", format=self.container_format)
            self._container.metadata["comment"] = _TAG_PREFIX + self.spec.name
            self._stream = self._container.add_stream(self.codec, rate=self.info.fps)
            self._stream.width = self.info.width
            self._stream.height = self.info.height
            self._setup(self._stream.codec_context)
            self._stream.codec_context.open()  # fail now, not on the first frame
        except Sam2MattingError:
            self.abort()
            raise
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            self.abort()
            raise OutputError(
                f"cannot start the {self.spec.name} encoder ({self.codec}): {exc}"
            ) from exc

    def _setup(self, cc: Any) -> None:
        raise NotImplementedError

    @staticmethod
    def _tag_bt709(cc: Any, full_range: bool = False) -> None:
        cc.colorspace = 1  # BT.709 matrix
        cc.color_primaries = 1
        cc.color_trc = 1
        cc.color_range = 2 if full_range else 1

    def _encode(self, frame: Any) -> None:
        frame.pts = self.frames_written
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def _finish(self) -> Path:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._container = None
        if self.spec.carries_audio and self.info.has_audio and self.info.path is not None:
            muxed = self._temp(".mux")
            _mux_audio(
                self._video_temp,
                Path(self.info.path),
                muxed,
                self.container_format,
                Fraction(self.frames_written) / self.info.fps,
                self.spec.name,
                offset=Fraction(self.info.first_frame) / self.info.fps,
            )
            return muxed
        return self._video_temp

    def _release(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):  # closing a broken encoder on abort
                self._container.close()
            self._container = None


class _ProresWriter(_VideoWriter):
    container_format = "mov"
    codec = "prores_ks"

    def _setup(self, cc: Any) -> None:
        cc.pix_fmt = "yuva444p10le"
        cc.options = {"profile": "4444", "vendor": "apl0", "alpha_bits": "16"}
        self._tag_bt709(cc)

    def _write(self, image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None) -> None:
        av = _av()
        frame = av.VideoFrame(self.info.width, self.info.height, "yuva444p10le")
        y, cb, cr = _ycbcr(foreground if foreground is not None else image / 255.0, 10)
        for plane, values in zip(frame.planes, (y, cb, cr)):
            _plane(plane, np.uint16)[:] = _code(values, 10)
        _plane(frame.planes[3], np.uint16)[:] = _quantise(alpha, 10)
        frame.colorspace, frame.color_range = 1, 1
        self._encode(frame)


class _WebmWriter(_VideoWriter):
    container_format = "webm"
    codec = "libvpx-vp9"

    def _setup(self, cc: Any) -> None:
        cc.pix_fmt = "yuva420p"
        # realtime/cpu-used 6 at crf 8 measured better and ~2x faster than good/cpu-used 4 at
        # crf 15 on the sample clip (alpha max error 27 vs 47 grey levels, mean 0.04 vs 0.06)
        options = {"deadline": "realtime", "cpu-used": "6", "row-mt": "1", "auto-alt-ref": "0"}
        if self.lossless:
            options["lossless"] = "1"
        else:
            options.update({"crf": "8", "b": "0"})
        cc.options = options
        cc.thread_count = 0  # libvpx: one thread per core
        self._tag_bt709(cc)

    def _write(self, image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None) -> None:
        av = _av()
        frame = av.VideoFrame(self.info.width, self.info.height, "yuva420p")
        y, cb, cr = _ycbcr(foreground if foreground is not None else image / 255.0, 8)
        _plane(frame.planes[0], np.uint8)[:] = _code(y, 8)
        _plane(frame.planes[1], np.uint8)[:] = _code(_half(cb), 8)
        _plane(frame.planes[2], np.uint8)[:] = _code(_half(cr), 8)
        _plane(frame.planes[3], np.uint8)[:] = _quantise(alpha, 8)
        frame.colorspace, frame.color_range = 1, 1
        self._encode(frame)


class _H264Writer(_VideoWriter):
    """H.264 in mp4: 4:2:0 for players; 4:4:4 when lossless or when the size is odd."""

    container_format = "mp4"
    codec = "libx264"
    crf = "16"
    #: extra x264 options; alpha turns adaptive quantisation off (it starves thin strands)
    x264_options: ClassVar[dict[str, str]] = {}
    full_range = False

    def _setup(self, cc: Any) -> None:
        odd = self.info.width % 2 or self.info.height % 2
        self._pix_fmt = "yuv444p" if (self.lossless or odd) else "yuv420p"
        cc.pix_fmt = self._pix_fmt
        quality = {"qp": "0"} if self.lossless else {"crf": self.crf, **self.x264_options}
        cc.options = {"preset": "medium", **quality}
        self._tag_bt709(cc, full_range=self.full_range)


class _AlphaMp4Writer(_H264Writer):
    # crf 8 with aq-mode 0 on the sample clip: alpha max error 6/255, 99.9 % within 2/255
    # (crf 10 with default AQ: max 54/255 on hair strands)
    crf = "8"
    x264_options: ClassVar[dict[str, str]] = {"aq-mode": "0"}
    full_range = True  # alpha 0..1 → luma 0..255, so lossless mode is exact

    def _write(self, image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None) -> None:
        av = _av()
        frame = av.VideoFrame(self.info.width, self.info.height, self._pix_fmt)
        _plane(frame.planes[0], np.uint8)[:] = _quantise(alpha, 8)
        for plane in frame.planes[1:]:
            _plane(plane, np.uint8)[:] = 128
        frame.colorspace, frame.color_range = 1, 2
        self._encode(frame)


class _CompositeWriter(_H264Writer):
    def __init__(self, *args: Any, background: Any = None, **kwargs: Any) -> None:
        info: VideoInfo = args[2]
        # open the background first: a bad one fails before any file is created
        self._background = BackgroundSource(
            background, info.width, info.height, clip_frames=info.num_frames
        )
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            self._background.close()
            raise
        self._reformatter = _av().video.reformatter.VideoReformatter()

    def _write(self, image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None) -> None:
        av = _av()
        fg = foreground if foreground is not None else image
        rgb = composite(fg, alpha, self._background.frame(self.frames_written))
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        interp = av.video.reformatter.Interpolation
        frame = self._reformatter.reformat(
            frame,
            format=self._pix_fmt,
            dst_colorspace="ITU709",
            dst_color_range="MPEG",
            interpolation=interp.BILINEAR | interp.ACCURATE_RND,
        )
        self._encode(frame)

    def _finish(self) -> Path:
        self._background.close()
        return super()._finish()

    def _release(self) -> None:
        self._background.close()
        super()._release()


class _StillCompositeWriter(MatteWriter):
    """``composite`` of a still image: one RGB PNG, not a one-frame video."""

    def __init__(self, *args: Any, background: Any = None, **kwargs: Any) -> None:
        info: VideoInfo = args[2]
        self._background = BackgroundSource(background, info.width, info.height)
        try:
            super().__init__(*args, **kwargs)
            self._file = self._temp(".png")
        except BaseException:
            self._background.close()
            raise

    def _write(self, image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None) -> None:
        if self.frames_written:
            raise OutputError(f"{self.path} holds one image; a second frame was written")
        fg = foreground if foreground is not None else image
        rgb = composite(fg, alpha, self._background.frame(0))
        write_png(self._file, np.ascontiguousarray(rgb[..., ::-1]), compression=3)

    def _finish(self) -> Path:
        self._background.close()
        return self._file

    def _release(self) -> None:
        self._background.close()


_WRITERS: dict[str, type[MatteWriter]] = {
    "alpha-png": _PngWriter,
    "rgba-png": _PngWriter,
    "premul-png": _PngWriter,
    "exr": _ExrWriter,
    "exr-layers": _ExrWriter,
    "prores": _ProresWriter,
    "webm": _WebmWriter,
    "alpha-mp4": _AlphaMp4Writer,
    "composite": _CompositeWriter,
}


def open_writer(
    fmt: str,
    path: str | Path,
    info: VideoInfo,
    *,
    alpha_bits: int = 8,
    background: str | Path | tuple[int, int, int] | None = None,
    lossless: bool = False,
    still: bool = False,
    frame_names: Sequence[str] | None = None,
    exr_colour: str = "linear",
    exr_compression: str = "zip",
) -> MatteWriter:
    """Open a writer for format ``fmt`` at ``path`` (see :func:`output_path` for names).

    ``info``: the input's VideoInfo (size, rate, frame count, audio source). ``alpha_bits``:
    8 or 16, for the PNG formats (others ignore it: ProRes always stores 10-bit alpha, VP9 and
    H.264 8-bit). ``background``: composite only, a colour, image, image folder or video (loops).
    ``lossless``: VP9 lossless for webm, qp 0 4:4:4 for the H.264 formats; PNG always lossless.
    ``still``: the input is one image, so image formats and ``composite`` write one file (see
    :func:`output_path`). ``frame_names``: file stems for the frames of folder formats (image
    folders keep their frame names). ``exr_colour``: ``linear`` (default) or ``display``;
    ``exr_compression``: one of :data:`EXR_COMPRESSIONS` (default ``zip``).
    Raises OutputError for an unknown format or a folder that cannot be written.
    """
    spec = _check_format(fmt)
    cls = _WRITERS[spec.name]
    options: dict[str, Any] = {
        "alpha_bits": alpha_bits,
        "lossless": lossless,
        "still": still,
        "frame_names": frame_names,
        "exr_colour": exr_colour,
        "exr_compression": exr_compression,
    }
    if cls is _CompositeWriter:
        if still:
            return _StillCompositeWriter(spec, path, info, background=background, **options)
        return _CompositeWriter(spec, path, info, background=background, **options)
    return cls(spec, path, info, **options)


# --------------------------------------------------------------------------------------------
# audio


def _first_video_time(container: Any) -> Fraction:
    """Presentation time (s) of the first video frame of ``container`` (0 when unknown)."""
    for stream in container.streams.video:
        if stream.start_time is not None and stream.time_base is not None:
            return Fraction(stream.start_time) * stream.time_base
        break
    return Fraction(0)


def _packet_time(packet: Any) -> float:
    ts = packet.dts if packet.dts is not None else packet.pts
    return float(ts * packet.time_base) if ts is not None and packet.time_base else 0.0


def _mux_audio(
    video: Path,
    source: Path,
    out: Path,
    fmt: str,
    duration: Fraction,
    tag: str,
    offset: Fraction = Fraction(0),
) -> None:
    """Remux ``video``'s stream with ``source``'s first audio stream into ``out`` (see module
    doc); the audio starts ``offset`` seconds after the input's first video frame (a frame
    range) and lasts ``duration``."""
    av = _av()
    with (
        av.open(str(source), metadata_errors="ignore") as src,
        av.open(str(video)) as vin,
        av.open(str(out), "w", format=fmt) as dst,
    ):
        dst.metadata["comment"] = _TAG_PREFIX + tag
        vstream = vin.streams.video[0]
        ov = dst.add_stream_from_template(vstream)
        _keep_video_tags(vstream, ov, fmt)
        astream = src.streams.audio[0]
        t0 = _first_video_time(src) + offset
        if astream.codec_context.name in _AUDIO_COPY[fmt]:
            oa = dst.add_stream_from_template(astream)
            audio = _copied_audio(src, astream, oa, t0, duration)
        else:
            audio = _transcoded_audio(src, astream, dst, fmt, t0, duration)

        def video_packets() -> Iterator[Any]:
            for packet in vin.demux(vstream):
                if packet.size:
                    packet.stream = ov
                    yield packet

        # interleave by time so players do not have to seek back and forth
        vp, ap = video_packets(), audio
        v_next, a_next = next(vp, None), next(ap, None)
        while v_next is not None or a_next is not None:
            if a_next is None or (
                v_next is not None and _packet_time(v_next) <= _packet_time(a_next)
            ):
                dst.mux(v_next)
                v_next = next(vp, None)
            else:
                dst.mux(a_next)
                a_next = next(ap, None)


def _keep_video_tags(template: Any, stream: Any, fmt: str) -> None:
    """Carry what a template stream loses: the codec tag and the alpha flag.

    ``add_stream_from_template`` copies the codec parameters but not the sample-entry tag, so
    the mov muxer would pick ProRes 422 HQ's ``apch`` for a ProRes 4444 stream (and players
    that trust the tag ignore its alpha); and the demuxer reports VP9-with-alpha as plain
    ``yuv420p``, so the Matroska muxer would drop ``AlphaMode`` unless the stream says it.
    """
    tag = template.codec_tag
    if tag and tag.strip("\x00"):
        stream.codec_tag = tag
    if fmt == "webm":
        stream.codec_context.pix_fmt = "yuva420p"


def _copied_audio(
    src: Any, astream: Any, oa: Any, t0: Fraction, duration: Fraction
) -> Iterator[Any]:
    tb = astream.time_base
    shift = round(t0 / tb)
    end = duration / tb
    for packet in src.demux(astream):
        if not packet.size or packet.pts is None:
            continue
        pts = packet.pts - shift
        if pts >= end:
            break
        if pts + (packet.duration or 0) < 0:
            continue
        packet.pts = pts
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = oa
        yield packet


def _transcoded_audio(
    src: Any, astream: Any, dst: Any, fmt: str, t0: Fraction, duration: Fraction
) -> Iterator[Any]:
    av = _av()
    if fmt == "webm":
        codec = (
            "libopus"
            if _has_encoder("libopus")
            else "libvorbis"
            if _has_encoder("libvorbis")
            else "vorbis"
        )
        rate = 48000 if codec == "libopus" else astream.codec_context.sample_rate
    else:
        codec, rate = "aac", astream.codec_context.sample_rate
    oa = dst.add_stream(codec, rate=rate)
    channels = astream.codec_context.channels
    oa.codec_context.layout = "mono" if channels == 1 else "stereo"
    if codec == "vorbis":
        oa.codec_context.options = {"strict": "experimental"}
    resampler = av.AudioResampler(
        format=oa.codec_context.format.name, layout=oa.codec_context.layout, rate=rate
    )
    limit = int(duration * rate)

    # a plain function that returns a generator: the stream above exists before muxing starts
    def packets() -> Iterator[Any]:
        written = 0
        for frame in src.decode(astream):
            if frame.time is not None and frame.time + frame.samples / frame.sample_rate <= t0:
                continue
            for chunk in resampler.resample(frame):
                if written >= limit:
                    break
                chunk.pts = written
                chunk.time_base = Fraction(1, rate)
                written += chunk.samples
                yield from oa.encode(chunk)
            if written >= limit:
                break
        yield from oa.encode(None)

    return packets()


def _has_encoder(name: str) -> bool:
    av = _av()
    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------------------------
# reading outputs back


def probe(path: str | Path) -> VideoInfo:
    """Size, frame count, rate and audio of an output (file or PNG folder) as a VideoInfo.

    PNG folders have no rate: they report 25 fps.
    """
    with open_source(Path(path)) as source:
        return source.info


def _image_alpha(path: Path) -> np.ndarray:
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise InputError(f"unreadable image: {path}")
    if arr.ndim == 3:
        if arr.shape[2] != 4:
            raise InputError(f"image has no alpha channel: {path}")
        arr = arr[..., 3]
    peak = 65535.0 if arr.dtype == np.uint16 else 255.0
    return arr.astype(np.float32) / np.float32(peak)


def read_exr(path: str | Path) -> dict[str, np.ndarray]:
    """Every channel of an OpenEXR file by name (``R``, ``G``, ``B``, ``A``, ``obj1.A`` …) as
    float32 H×W arrays, read with the OpenEXR library."""
    from ..errors import require

    exr: Any = require("OpenEXR", "exr")
    try:
        with exr.File(str(path), separate_channels=True) as handle:
            return {
                name: np.asarray(channel.pixels, dtype=np.float32)
                for name, channel in handle.channels().items()
            }
    except Exception as exc:  # the bindings raise plain Exceptions for corrupt files
        raise InputError(f"unreadable EXR file: {path} ({exc})") from exc


def _exr_files(folder: Path) -> list[Path]:
    from .readers import natural_key

    files = [p for p in folder.iterdir() if p.suffix.lower() == ".exr" and p.is_file()]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_alpha_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield the alpha of every frame of an output as float32 H×W in [0, 1].

    PNG folders/files: the grey value or the RGBA alpha channel. EXR folders/files: ``A``. ProRes / VP9 (decoded with
    libvpx-vp9, which reads the alpha side channel) / any codec with an alpha plane: that plane.
    Other video (alpha-mp4): the luma, full or limited range as tagged. A ``composite`` has no
    alpha and raises InputError.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"input not found: {p}")
    if p.is_dir() and _exr_files(p):
        for file in _exr_files(p):
            yield read_exr(file)["A"]
        return
    if p.suffix.lower() == ".exr":
        yield read_exr(p)["A"]
        return
    if p.is_dir():
        files = list_images(p)
        if not files:
            raise InputError(f"image folder has no images: {p}")
        for file in files:
            yield _image_alpha(file)
        return
    if p.suffix.lower() in _image_extensions():
        yield _image_alpha(p)
        return
    yield from _video_alpha(p)


def _video_alpha(path: Path) -> Iterator[np.ndarray]:
    av = _av()
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise InputError(f"not a readable video or image: {path} ({exc.strerror or exc})") from exc
    with container:
        if not container.streams.video:
            raise InputError(f"not a readable video or image (no video stream): {path}")
        comment = str(container.metadata.get("comment", ""))
        if comment == _TAG_PREFIX + "composite":
            raise InputError(f"{path} is a composite: it has no alpha channel")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        frames: Iterator[Any]
        if codec in ("vp8", "vp9"):
            # FFmpeg's native VP8/VP9 decoders drop the alpha side channel; libvpx keeps it
            decoder = av.codec.CodecContext.create(
                "libvpx-vp9" if codec == "vp9" else "libvpx", "r"
            )

            def vpx_frames() -> Iterator[Any]:
                for packet in container.demux(stream):
                    if packet.size:
                        yield from decoder.decode(packet)
                yield from decoder.decode(None)

            frames = vpx_frames()
        else:
            frames = container.decode(stream)
        for frame in frames:
            fmt = frame.format
            if any(c.is_alpha for c in fmt.components):
                if fmt.name.startswith("yuva") or fmt.name.startswith("gbrap"):
                    plane = 3
                    bits = fmt.components[3].bits
                    dtype = np.uint8 if bits <= 8 else np.uint16
                    values = _plane(frame.planes[plane], dtype).astype(np.float32)
                    yield values / np.float32((1 << bits) - 1)
                else:
                    rgba = frame.to_ndarray(format="rgba64le")
                    yield rgba[..., 3].astype(np.float32) / np.float32(65535)
                continue
            if codec in ("prores", "vp8", "vp9", "png", "qtrle") or fmt.is_rgb:
                raise InputError(f"video has no alpha channel: {path}")
            bits = fmt.components[0].bits
            dtype = np.uint8 if bits <= 8 else np.uint16
            luma = _plane(frame.planes[0], dtype).astype(np.float32)
            scale = np.float32(1 << (bits - 8))
            if int(frame.color_range) == 2 or fmt.name.startswith("yuvj"):
                yield luma / np.float32((1 << bits) - 1)
            else:
                yield np.clip((luma - 16 * scale) / (219 * scale), 0.0, 1.0)
