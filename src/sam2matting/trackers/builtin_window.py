"""The built-in tracker's step window: the rectangle of the frame around an object where a
propagation step's costliest whole-frame evidence is computed.

Kept apart from :mod:`sam2matting.trackers.builtin` (the session, the re-fit, confidence) so
the geometry is a small function with a known answer. Everything works at the tracker's
working resolution.

Why: a step's motion evidence (the background's fit in the ring around the object, the
motion layers, the photometric comparison of the object's and the background's motions) and
its edge-aware filter ran on the whole frame, although they decide only pixels near the
object: farther away the warped prior holds the log-odds at their floor, and nothing there
can become the object's. On 01_dog at 512×288 the dog covers ~5 % of the frame and those
stages were a third of the step. :func:`step_window` holds the object's previous mask and its
prediction on this frame, grown by :func:`step_window_margin` (beyond the background ring and
the motion layers' near zone); the tracker computes them on the window only and gives the rest
of the frame no motion evidence and no filtering (``BuiltinTrackerConfig.step_window``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .builtin_masks import mask_bounds

__all__ = ["StepWindow", "step_window", "step_window_margin", "step_window_share"]


@dataclass(frozen=True)
class StepWindow:
    """A rectangle [``x0``, ``x1``) × [``y0``, ``y1``) of the frame, ``x0`` and ``y0`` even
    (a grid every 2 px of the frame falls on one every 2 px of the window)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.x1 - self.x0, self.y1 - self.y0

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The window's part of a frame-sized array (a view)."""
        return image[self.y0 : self.y1, self.x0 : self.x1]

    def paste(self, part: np.ndarray, shape: tuple[int, int], fill: float | bool) -> np.ndarray:
        """A frame-sized (``shape`` = (h, w)) array of ``part``'s dtype: ``part`` on the window,
        ``fill`` elsewhere."""
        out = np.full(shape + part.shape[2:], fill, part.dtype)
        self.crop(out)[...] = part
        return out

    def into(self, motion: np.ndarray) -> np.ndarray:
        """An affine motion (2×3, frame pixels → frame pixels) in the window's coordinates."""
        return self._moved(motion, (float(self.x0), float(self.y0)))

    def onto(self, motion: np.ndarray) -> np.ndarray:
        """An affine motion from the frame's pixels onto the window's (what ``cv2.warpAffine``
        takes to move a whole frame onto the window only)."""
        out = np.array(motion, np.float64)
        out[:, 2] -= (self.x0, self.y0)
        return out

    def out_of(self, motion: np.ndarray) -> np.ndarray:
        """An affine motion in the window's coordinates back in the frame's."""
        return self._moved(motion, (-float(self.x0), -float(self.y0)))

    @staticmethod
    def _moved(motion: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
        # x_w' = A (x_w + o) + t − o: the same linear part, translation t + A o − o
        out = np.array(motion, np.float64)
        out[:, 2] += out[:, :2] @ np.array(origin) - np.array(origin)
        return out


def step_window_margin(sigma: float, work_w: int, work_h: int) -> int:
    """How far (px) :func:`step_window` reaches beyond the object: 10 % of the frame's long
    side (51 px at 512), and at least the background ring's outer edge (3 ``sigma`` + 24,
    ``builtin.background_ring``) plus the motion layers' near zone (4 ``sigma``,
    ``builtin_layers.find_layers``), so the ring's fit is the whole frame's and a layer has
    room beyond the near zone. ``sigma``: the object's boundary uncertainty (px). Not tuned
    on tracking results."""
    return int(np.ceil(max(0.1 * max(work_w, work_h), 7.0 * sigma + 24.0)))


def step_window_share() -> float:
    """Largest share of the frame :func:`step_window` covers: past it the whole frame is used
    (the saving would be small, and a large object's surroundings are most of the frame)."""
    return 0.6


def step_window(
    shape: tuple[int, int], masks: Sequence[np.ndarray], sigma: float
) -> StepWindow | None:
    """The window around the pixels of ``masks`` (bool, h×w each: the object's previous mask,
    its predictions on this frame), grown by :func:`step_window_margin`, its top-left corner
    rounded down to even coordinates, clipped to the frame. None (the whole frame) when the
    masks are empty or the window would cover over :func:`step_window_share` of the frame."""
    h, w = shape
    boxes = [b for b in (mask_bounds(m) for m in masks) if b is not None]
    if not boxes:
        return None
    grow = step_window_margin(sigma, w, h)
    x0 = max(0, min(b[0] for b in boxes) - grow) // 2 * 2
    y0 = max(0, min(b[1] for b in boxes) - grow) // 2 * 2
    x1 = min(w, max(b[2] for b in boxes) + grow)
    y1 = min(h, max(b[3] for b in boxes) + grow)
    if (x1 - x0) * (y1 - y0) > step_window_share() * h * w:
        return None
    return StepWindow(x0, y0, x1, y1)
