"""Matting cutouts (``../shared/data/matting/<name>/``: foreground colour + alpha) and their
train / evaluation split.

Below both :mod:`sam2matting.train` (which composites the training split) and
:mod:`sam2matting.eval` (which renders benchmark clips from the held-out ones), so neither imports
the other for them. Formats: ``image.png`` RGBA (GFM) and ``foreground.png`` (P3M) are already
premultiplied; straight photos (``image.jpg``, AM-2k) get their foreground colour from
``pymatting.estimate_foreground_ml`` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

__all__ = [
    "DEV_FOREGROUNDS",
    "Cutout",
    "load_cutout",
    "smooth_silhouette",
    "training_foregrounds",
]


#: Cutouts reserved for evaluation: the dev benchmark uses only these, training none of them.
DEV_FOREGROUNDS: tuple[str, ...] = (
    "am2k_sample1",
    "am2k_sample10",
    "am2k_sample11",
    "gfm_1",
    "gfm_2",
    "p3m_p_07141906",
    "p3m_p_09ba26b4",
    "p3m_p_22fc0130",
)


def training_foregrounds(matting_root: str | Path) -> list[str]:
    """Names of the cutouts under ``matting_root`` that training may use (all but :data:`DEV_FOREGROUNDS`)."""
    root = Path(matting_root)
    if not root.is_dir():
        raise InputError(f"matting folder not found: {root}")
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "alpha.png").is_file())
    return [n for n in names if n not in DEV_FOREGROUNDS]


@dataclass
class Cutout:
    """A foreground layer: ``premultiplied`` F·α (float32 H×W×3 in [0, 1]) and ``alpha`` (float32 H×W).

    ``cut_edges``: which image borders the subject is cut off at (``"bottom"``, ``"left"``,
    ``"right"``, ``"top"``) mapped to the (start, end) pixel span of the cut along that border;
    rendering keeps those spans outside the frame.
    """

    name: str
    premultiplied: np.ndarray
    alpha: np.ndarray
    cut_edges: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.alpha.shape[1], self.alpha.shape[0]

    def subject_box(self, threshold: float = 0.05) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of pixels with α > ``threshold`` (inclusive-exclusive)."""
        ys = np.flatnonzero((self.alpha > threshold).any(axis=1))
        xs = np.flatnonzero((self.alpha > threshold).any(axis=0))
        if ys.size == 0:
            raise InputError(f"cutout {self.name!r} has an empty alpha")
        return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def _cut_edges(alpha: np.ndarray, min_share: float = 0.02) -> dict[str, tuple[int, int]]:
    """Borders where more than ``min_share`` of the pixels are opaque (α > 0.5): the subject is cut there."""
    out: dict[str, tuple[int, int]] = {}
    for edge, line in (
        ("top", alpha[0]),
        ("bottom", alpha[-1]),
        ("left", alpha[:, 0]),
        ("right", alpha[:, -1]),
    ):
        on = np.flatnonzero(line > 0.5)
        if on.size > min_share * line.size:
            out[edge] = (int(on[0]), int(on[-1]) + 1)
    return out


def _read_rgba(path: Path) -> np.ndarray:
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise InputError(f"cannot read {path}")
    if arr.ndim == 2:
        arr = cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    code = cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(arr, code)


def load_cutout(folder: str | Path) -> Cutout:
    """Load ``<folder>/{image.*, alpha.png[, foreground.png]}`` as a premultiplied layer.

    Premultiplied sources (``foreground.png``, an RGBA ``image.png``) are used as they are
    (clipped to P ≤ α); a straight photo's foreground colour is estimated with
    ``pymatting.estimate_foreground_ml`` (deterministic) and multiplied by α.
    """
    d = Path(folder)
    alpha_path = d / "alpha.png"
    if not alpha_path.is_file():
        raise InputError(f"{d}: no alpha.png")
    a8 = cv2.imread(str(alpha_path), cv2.IMREAD_GRAYSCALE)
    if a8 is None:
        raise InputError(f"cannot read {alpha_path}")
    alpha = a8.astype(np.float32) / 255.0
    images = sorted(d.glob("image.*"))
    if (d / "foreground.png").is_file():
        premult = _read_rgba(d / "foreground.png")[..., :3].astype(np.float32) / 255.0
    elif images and images[0].suffix.lower() == ".png" and _read_rgba(images[0]).shape[2] == 4:
        premult = _read_rgba(images[0])[..., :3].astype(np.float32) / 255.0
    elif images:
        from pymatting import estimate_foreground_ml

        photo = _read_rgba(images[0])[..., :3].astype(np.float64) / 255.0
        fg = estimate_foreground_ml(photo, alpha.astype(np.float64))
        premult = np.clip(np.asarray(fg, np.float32), 0.0, 1.0) * alpha[..., None]
    else:
        raise InputError(f"{d}: no image.* file")
    if premult.shape[:2] != alpha.shape:
        raise InputError(
            f"{d}: image is {premult.shape[1]}×{premult.shape[0]} but alpha is {alpha.shape[1]}×{alpha.shape[0]}"
        )
    premult = np.minimum(premult, alpha[..., None]).astype(np.float32)
    return Cutout(d.name, np.ascontiguousarray(premult), alpha, _cut_edges(alpha))


def smooth_silhouette(mask: np.ndarray, supersample: int = 4, sigma: float = 1.2) -> np.ndarray:
    """Exact anti-aliased alpha of a binary silhouette: smoothed (sigma in pixels) at
    ``supersample``× to remove the annotation's staircase, thresholded, area-averaged back."""
    h, w = mask.shape
    s = supersample
    big = cv2.resize(mask.astype(np.float32), (w * s, h * s), interpolation=cv2.INTER_LINEAR)
    big = cv2.GaussianBlur(big, (0, 0), sigma * s)
    hard = (big > 0.5).astype(np.float32)
    return cv2.resize(hard, (w, h), interpolation=cv2.INTER_AREA)
