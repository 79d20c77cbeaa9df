"""Region proposals at the frame's own resolution, and temporal stabilising of the ROI.

The matting heads run on a *working* image (long side ≈ 512 px). The paper stops there and
upsamples its alpha bilinearly; we go further: the ROI band, found at working resolution, is
covered by square tiles at the frame's native resolution, and the native refiner
(:mod:`sam2matting.matting.refine`) re-solves alpha only inside those tiles. The number of
tiles — hence the cost — grows with the ROI's area at native resolution, not with the frame.

- :func:`tile_grid` / :func:`select_tiles`: which native tiles the ROI touches;
- :func:`gather_patches` / :func:`scatter_patches`: crop padded patches out of a C×H×W tensor
  (edge-replicated at the frame border) and paste their cores back;
- :class:`RoiStabilizer`: per-object hysteresis on the ROI across consecutive frames, so the
  unknown band does not flicker where the detector's probability hovers at the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

__all__ = [
    "RoiStabilizer",
    "TileSet",
    "gather_patches",
    "gather_patches_numpy",
    "scatter_patches",
    "select_tiles",
    "tile_grid",
]


def tile_grid(height: int, width: int, tile: int) -> tuple[np.ndarray, np.ndarray]:
    """Origins (y0 per row, x0 per column) of a grid of ``tile``-pixel tiles covering H×W.

    The last row/column is shifted inward so every tile lies inside the frame (tiles may
    overlap there); a frame smaller than one tile gets a single origin 0.
    """

    def axis(n: int) -> np.ndarray:
        count = max(1, -(-n // tile))
        return np.minimum(np.arange(count) * tile, max(n - tile, 0)).astype(np.int64)

    return axis(height), axis(width)


@dataclass
class TileSet:
    """Selected native tiles: ``origins`` n×2 (y0, x0) int64, tile side ``tile``, frame size."""

    origins: np.ndarray
    tile: int
    height: int
    width: int

    def __len__(self) -> int:
        return int(self.origins.shape[0])

    @property
    def covered_fraction(self) -> float:
        """Share of the frame's pixels inside selected tiles (≈ the refiner's relative cost)."""
        return min(1.0, len(self) * self.tile * self.tile / float(self.height * self.width))


def select_tiles(roi: np.ndarray, height: int, width: int, tile: int, grow: int = 1) -> TileSet:
    """Tiles of a native H×W frame that the ROI touches.

    ``roi``: bool h×w at any (working) resolution covering the same field of view; it is
    projected onto the tile grid (a tile is selected when any ROI pixel falls in it), then the
    selection is grown by ``grow`` tiles so the band's edges are inside the refined area.
    """
    ys, xs = tile_grid(height, width, tile)
    r = np.asarray(roi, dtype=np.uint8)
    if not r.any():
        return TileSet(np.zeros((0, 2), np.int64), tile, height, width)
    # exact test per tile: does any ROI cell overlap the tile's native rectangle? (integral image)
    rh, rw = r.shape
    integral = cv2.integral(r)  # (rh+1)×(rw+1)
    y0 = np.floor(ys * rh / height).astype(np.int64)
    y1 = np.minimum(np.ceil((ys + tile) * rh / height).astype(np.int64), rh)
    x0 = np.floor(xs * rw / width).astype(np.int64)
    x1 = np.minimum(np.ceil((xs + tile) * rw / width).astype(np.int64), rw)
    counts = integral[y1][:, x1] - integral[y0][:, x1] - integral[y1][:, x0] + integral[y0][:, x0]
    sel: np.ndarray = (counts > 0).astype(np.uint8)
    if grow > 0:
        sel = cv2.dilate(sel, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    iy, ix = np.nonzero(sel)
    origins = np.stack([ys[iy], xs[ix]], axis=1).astype(np.int64)
    return TileSet(origins, tile, height, width)


def _window_index(origins: torch.Tensor, size: int, pad: int, limit: int) -> torch.Tensor:
    offs = torch.arange(-pad, size + pad, device=origins.device)
    return (origins[:, None] + offs[None, :]).clamp_(0, limit - 1)


def gather_patches(image: torch.Tensor, origins: torch.Tensor, size: int, pad: int) -> torch.Tensor:
    """Crop n patches of (size + 2·pad)² from a C×H×W tensor → n×C×(size+2pad)×(size+2pad).

    ``origins``: n×2 (y0, x0) of each patch's *core*; indices past the frame edge are clamped
    (edge replication), so patches at the border need no padded copy of the frame.
    """
    _, h, w = image.shape
    yi = _window_index(origins[:, 0], size, pad, h)  # n × P
    xi = _window_index(origins[:, 1], size, pad, w)
    patches = image[:, yi[:, :, None], xi[:, None, :]]  # C × n × P × P
    return patches.permute(1, 0, 2, 3)


def gather_patches_numpy(image: np.ndarray, origins: np.ndarray, size: int, pad: int) -> np.ndarray:
    """:func:`gather_patches` for an H×W×C numpy frame → n×(size+2pad)×(size+2pad)×C (a copy
    of just the patches; the frame itself is neither copied nor converted)."""
    h, w = image.shape[:2]
    offs = np.arange(-pad, size + pad)
    yi = np.clip(origins[:, 0:1] + offs[None], 0, h - 1)
    xi = np.clip(origins[:, 1:2] + offs[None], 0, w - 1)
    return image[yi[:, :, None], xi[:, None, :]]


def scatter_patches(
    target: np.ndarray,
    patches: np.ndarray,
    origins: np.ndarray,
    size: int,
    pad: int,
    where: np.ndarray | None = None,
) -> None:
    """Paste the cores of n×P×P ``patches`` (P = size + 2·pad) into H×W ``target`` in place.

    ``where`` (bool n×P×P, optional): paste only those pixels, keep ``target`` elsewhere.
    """
    h, w = target.shape
    for k, (y0, x0) in enumerate(np.asarray(origins)):
        y1, x1 = min(int(y0) + size, h), min(int(x0) + size, w)
        core = patches[k, pad : pad + y1 - y0, pad : pad + x1 - x0]
        if where is None:
            target[y0:y1, x0:x1] = core
        else:
            keep = where[k, pad : pad + y1 - y0, pad : pad + x1 - x0]
            target[y0:y1, x0:x1] = np.where(keep, core, target[y0:y1, x0:x1])


@dataclass
class RoiStabilizer:
    """Hysteresis on the ROI over consecutive frames, per object.

    A pixel enters the ROI when its probability exceeds ``high`` (the detector's threshold),
    and *stays* in it while it exceeds ``low`` and lay within ``reach`` pixels of last frame's
    ROI. Only applied when the previous call for that object was the adjacent frame (either
    direction) at the same size; otherwise the plain threshold is used — so out-of-order calls
    (corrections, backward passes) stay correct.
    """

    high: float = 0.65
    low: float = 0.5
    reach: int = 0
    _state: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict)

    def reset(self) -> None:
        self._state.clear()

    def __call__(self, object_id: int, frame_index: int, probability: np.ndarray) -> np.ndarray:
        """Bool ROI from an h×w ROI probability map of ``object_id`` on ``frame_index``."""
        roi = probability > self.high
        prev = self._state.get(object_id)
        if prev is not None and abs(prev[0] - frame_index) == 1 and prev[1].shape == roi.shape:
            near: np.ndarray = prev[1].astype(np.uint8)
            if self.reach > 0:
                k = 2 * self.reach + 1
                near = cv2.dilate(near, np.ones((k, k), np.uint8))
            roi |= (probability > self.low) & near.astype(bool)
        self._state[object_id] = (frame_index, roi)
        return roi
