"""Compositing: the project's only code that mixes a foreground over a background.

Conventions: colours are RGB. Float images are in [0, 1], ``alpha`` is H×W in [0, 1] (1 =
foreground). *Straight* colour is the object's own colour, *premultiplied* colour is
``foreground · alpha``. ``C = F·α + B·(1 − α)`` with straight ``F``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, OutputError

if TYPE_CHECKING:
    from .readers import FrameSource

log = logging.getLogger("sam2matting")

__all__ = [
    "DEFAULT_BACKGROUND",
    "NAMED_COLOURS",
    "BackgroundSource",
    "composite",
    "contact_sheet",
    "contact_tile",
    "fit_image",
    "parse_colour",
    "premultiply",
    "unpremultiply",
]

#: Chroma-key green (the default composite background).
DEFAULT_BACKGROUND: tuple[int, int, int] = (0, 177, 64)

Sequence3 = tuple[int, int, int] | list[int]

NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "green": DEFAULT_BACKGROUND,
    "blue": (0, 71, 187),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "red": (255, 0, 0),
    "magenta": (255, 0, 255),
}


def parse_colour(value: str | Sequence3) -> tuple[int, int, int]:
    """``"#00b140"`` / ``"#0b4"`` / ``"0,177,64"`` / ``"green"`` / ``(0, 177, 64)`` → (r, g, b) ints 0..255."""
    if not isinstance(value, str):
        try:
            rgb = tuple(int(v) for v in value)
        except (TypeError, ValueError) as exc:
            raise OutputError(f"not a colour: {value!r} (use #rrggbb, r,g,b or a name)") from exc
    else:
        text = value.strip().lower()
        rgb = ()
        if text in NAMED_COLOURS:
            return NAMED_COLOURS[text]
        try:
            if text.startswith("#") and len(text) in (4, 7):
                digits = text[1:]
                if len(digits) == 3:
                    digits = "".join(c * 2 for c in digits)
                rgb = tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))
            elif "," in text:
                rgb = tuple(int(v) for v in text.split(","))
        except ValueError:
            rgb = ()
    if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
        names = ", ".join(NAMED_COLOURS)
        raise OutputError(
            f"not a colour: {value!r} (use #rrggbb, r,g,b with 0..255, or one of {names})"
        )
    return (rgb[0], rgb[1], rgb[2])


def _as_float(image: np.ndarray) -> np.ndarray:
    """uint8 (0..255) or float (0..1) image → float32 in [0, 1]."""
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(1 / 255)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) * np.float32(1 / 65535)
    return np.clip(arr.astype(np.float32, copy=False), 0.0, 1.0)


def _alpha3(alpha: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    a = _as_float(alpha)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.shape != tuple(shape[:2]):
        raise ValueError(f"alpha is {a.shape} but the image is {shape[:2]}")
    return a[..., None]


def premultiply(foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Straight colour (H×W×3, float [0,1] or uint8) × alpha (H×W) → float32 H×W×3 premultiplied."""
    fg = _as_float(foreground)
    return fg * _alpha3(alpha, fg.shape)


def unpremultiply(
    rgb_premultiplied: np.ndarray, alpha: np.ndarray, eps: float = 1e-4
) -> np.ndarray:
    """Premultiplied colour ÷ alpha → straight float32 H×W×3 in [0, 1]; 0 where alpha ≤ ``eps``."""
    pm = _as_float(rgb_premultiplied)
    a = _alpha3(alpha, pm.shape)
    safe = np.where(a > eps, a, np.float32(1.0))
    out = np.where(a > eps, pm / safe, np.float32(0.0))
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def composite(
    foreground: np.ndarray,
    alpha: np.ndarray,
    background: np.ndarray | str | tuple[int, int, int] | None = None,
) -> np.ndarray:
    """``F·α + B·(1 − α)`` → H×W×3 uint8.

    ``foreground``: straight colour H×W×3 (float [0,1] or uint8). ``alpha``: H×W in [0, 1].
    ``background``: H×W×3 image (float [0,1] or uint8) or a colour (see :func:`parse_colour`);
    ``None`` = chroma green.
    """
    fg = _as_float(foreground)
    a = _alpha3(alpha, fg.shape)
    if background is None or isinstance(background, (str, tuple, list)):
        bg: np.ndarray = (
            np.asarray(parse_colour(background or DEFAULT_BACKGROUND), np.float32) / 255
        )
    else:
        bg = _as_float(background)
        if bg.shape != fg.shape:
            raise ValueError(f"background is {bg.shape} but the foreground is {fg.shape}")
    out = bg + (fg - bg) * a
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def contact_tile(
    image: np.ndarray, alpha: np.ndarray, width: int = 320
) -> tuple[np.ndarray, np.ndarray]:
    """A frame and its alpha scaled to ``width`` px wide (aspect kept) for :func:`contact_sheet`:
    (h×width×3 uint8, h×width float32). Small enough to keep a dozen while a clip streams."""
    import cv2

    h, w = image.shape[:2]
    th = max(1, round(h * width / max(w, 1)))
    interp = cv2.INTER_AREA if width < w else cv2.INTER_LINEAR
    small = cv2.resize(np.ascontiguousarray(image), (width, th), interpolation=interp)
    small_alpha = cv2.resize(np.asarray(alpha, np.float32), (width, th), interpolation=interp)
    return small, np.clip(small_alpha, 0.0, 1.0)


def contact_sheet(
    tiles: list[tuple[int, np.ndarray, np.ndarray]],
    background: str | tuple[int, int, int] | None = None,
) -> np.ndarray:
    """One image to judge a run at a glance: a column per sampled frame, rows = the frame, its
    alpha (grey) and the frame composited over ``background`` (default chroma green), with the
    frame index above each column. ``tiles``: (frame index, image, alpha) from
    :func:`contact_tile`, all the same size. Returns H×W×3 uint8 RGB."""
    import cv2

    if not tiles:
        raise OutputError("a contact sheet needs at least one frame")
    th, tw = tiles[0][1].shape[:2]
    label, gap = 22, 4
    sheet = np.full(
        (label + 3 * th + 2 * gap, len(tiles) * tw + (len(tiles) - 1) * gap, 3), 255, np.uint8
    )
    for column, (index, image, alpha) in enumerate(tiles):
        x = column * (tw + gap)
        grey = np.repeat(np.rint(alpha * 255).astype(np.uint8)[..., None], 3, axis=2)
        rows = (image, grey, composite(image, alpha, background))
        for row, tile in enumerate(rows):
            y = label + row * (th + gap)
            sheet[y : y + th, x : x + tw] = tile
        cv2.putText(
            sheet, f"frame {index}", (x + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1
        )
    return sheet


def fit_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``image`` to cover width×height (aspect kept) and crop the centre: H×W×3 uint8."""
    import cv2

    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = max(width / w, height / h)
    nw, nh = max(width, round(w * scale)), max(height, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    x0, y0 = (nw - width) // 2, (nh - height) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


class BackgroundSource:
    """Background frames of a fixed size: a colour, an image, or a video / image folder that loops.

    ``background``: ``None`` (chroma green), a colour (tuple or string, see :func:`parse_colour`),
    or a path to an image, image folder or video. Images and video frames are scaled to cover
    the frame and centre-cropped. ``frame(i)`` gives H×W×3 uint8; reading i = 0, 1, 2… streams.
    ``clip_frames``: the clip's length; a shorter background video is logged as a warning (it
    loops) rather than accepted silently.
    """

    def __init__(
        self,
        background: str | Path | tuple[int, int, int] | None,
        width: int,
        height: int,
        clip_frames: int | None = None,
    ) -> None:
        self.width, self.height = int(width), int(height)
        self._source: FrameSource | None = None
        self._still: np.ndarray | None = None
        self._iter: Any = None
        self._next = -1
        if background is None or isinstance(background, (tuple, list)):
            self._still = self._solid(parse_colour(background or DEFAULT_BACKGROUND))
            return
        text = str(background)
        path = Path(text)
        if not path.exists():
            try:
                colour = parse_colour(text)
            except OutputError:
                raise InputError(
                    f"background not found and not a colour: {text} (give a file, a folder, #rrggbb or r,g,b)"
                ) from None
            self._still = self._solid(colour)
            return
        from .readers import open_source

        source = open_source(path)
        if source.info.num_frames == 1:
            self._still = fit_image(source.read_frame(0), self.width, self.height)
            source.close()
        else:
            self._source = source
            n = source.info.num_frames
            if clip_frames is not None and n < clip_frames:
                log.warning(
                    "background %s has %d frames but the clip %d: it loops from frame %d on",
                    path,
                    n,
                    clip_frames,
                    n,
                )

    def _solid(self, colour: tuple[int, int, int]) -> np.ndarray:
        frame = np.empty((self.height, self.width, 3), np.uint8)
        frame[:] = colour
        return frame

    @property
    def is_static(self) -> bool:
        """True for a colour or a still image (every frame is the same)."""
        return self._still is not None

    def frame(self, index: int) -> np.ndarray:
        """Background for output frame ``index`` (videos loop: frame ``index mod length``)."""
        if self._still is not None:
            return self._still
        if self._source is None:
            raise OutputError("background source is closed")
        n = self._source.info.num_frames
        j = index % n
        if self._iter is None or j != self._next:
            self._iter = self._source.iter_frames(j)
        _, img = next(self._iter)
        self._next = (j + 1) % n
        if self._next == 0:
            self._iter = None
        return fit_image(img, self.width, self.height)

    def close(self) -> None:
        """Release the background video, if any. Idempotent."""
        self._iter = None
        if self._source is not None:
            self._source.close()
            self._source = None

    def __enter__(self) -> BackgroundSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
