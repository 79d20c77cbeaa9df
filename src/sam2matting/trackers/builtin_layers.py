"""Motion layers of the built-in tracker: things that move neither with the object nor with the
camera, such as a pole in front of it.

Kept apart from :mod:`sam2matting.trackers.builtin` (the session, the re-fit, confidence) so
each piece is a small function with a known answer on synthetic frames. Everything works at
the tracker's working resolution.

Why: the motion evidence of :mod:`~sam2matting.trackers.builtin` asks, for every pixel,
whether the previous frame moved by the object's motion or by the background's explains it
better. A thin occluder nearer to the camera than the background (a pole or a trunk the camera
pans past while following a dog: DAVIS ``libby``, ``bmx-trees``) moves with a third motion of
its own, so neither explains it; where its colours are the object's (a concrete pole before a
grey cat) nothing says it is not the object. It is taken in on first contact and carried along
its whole height (``benchmarks/bench_builtin.py --only occluders``: mean J 0.771 with the
poles against 0.967 without them).

:func:`find_layers` finds such layers on the previous frame from the forward flow: pixels
outside the object whose flow fits neither the object's affine motion nor the camera's (fitted
over the frame away from the objects) by more than the boundary's uncertainty, in connected
pieces that reach well away from the object (the part near it is where flow smoothing across
the object's outline is least reliable), each with its own affine motion fitted there and
kept when it explains its pixels (:func:`layer_coherence`). :func:`continued` keeps only
layers that continue one found on the previous step (:func:`layer_tolerance`): a real occluder
moves steadily, the flow's failures on fast motion or blur do not. The tracker then lets a
layer compete with the background's motion where the layer moves to (:func:`layer_region`):
there, the background's photometric error is the smaller of the two, so the pole's pixels are
explained as the pole and not given to the object. Elsewhere nothing changes: more hypotheses
everywhere would explain a textureless part of the object by chance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .builtin_masks import mask_centre, mask_pixels

__all__ = [
    "LayerTrace",
    "MotionLayer",
    "continued",
    "find_layers",
    "layer_coherence",
    "layer_min_pixels",
    "layer_overlap",
    "layer_reach",
    "layer_region",
    "layer_tolerance",
]

#: a robust affine fit of a forward flow on selected pixels (``builtin._fit_affine``)
AffineFit = Callable[[np.ndarray, np.ndarray], "np.ndarray | None"]


@dataclass(frozen=True, eq=False)
class MotionLayer:
    """A layer found on the previous frame: its pixels ``region`` (bool h×w, previous frame),
    its affine ``motion`` (2×3, previous → current pixels), and the displacement (dx, dy) it
    gives the centre of its pixels away from the object, which :func:`continued` compares
    across steps."""

    region: np.ndarray
    motion: np.ndarray
    shift: tuple[float, float]


@dataclass(frozen=True, eq=False)
class LayerTrace:
    """What a step keeps of its layers for the next step's :func:`continued`: their regions
    as one label map (uint8 h×w, 0 = none, k = the k-th layer) and their motions (2×3, as
    plain numbers) and displacements. One map whatever the number of layers, so an object's
    state has the same size on every frame."""

    labels: np.ndarray
    motions: tuple[tuple[float, ...], ...]
    shifts: tuple[tuple[float, float], ...]

    @classmethod
    def of(cls, layers: Sequence[MotionLayer], shape: tuple[int, int]) -> LayerTrace:
        labels = np.zeros(shape, np.uint8)
        for k, layer in enumerate(layers, start=1):
            labels[layer.region] = k
        return cls(
            labels,
            tuple(tuple(float(v) for v in layer.motion.ravel()) for layer in layers),
            tuple(layer.shift for layer in layers),
        )


def layer_min_pixels(object_area: float) -> float:
    """Pixels a layer needs away from the object to be fitted: 2 % of the object's area, at
    least 60 (a few flow errors in a row are not a layer)."""
    return max(60.0, 0.02 * object_area)


def layer_coherence() -> float:
    """Largest median deviation (px) of a layer's own flow from its fitted motion: a pole or a
    trunk moves as one; a patch of failed flow does not."""
    return 1.0


def layer_tolerance() -> float:
    """How far (px, in x and in y) a layer's displacement may differ from that of the layer it
    continues, found on the previous step."""
    return 2.0


def layer_overlap() -> float:
    """Share of the smaller of two regions (the previous step's layer moved on, and this
    step's) they must have in common for one layer to continue the other."""
    return 0.3


def layer_reach() -> int:
    """Margin (px) around where a layer moves to within which it competes with the background:
    the flow near the object's outline follows the object (flow smoothing), so the layer's
    part there is missing from its region and must be covered by the margin."""
    return 12


def _deviation(flow: np.ndarray, motion: np.ndarray, select: np.ndarray) -> np.ndarray:
    """|flow − the displacement ``motion`` gives| (px, float32) at the pixels of ``select``
    (bool), in row-major order."""
    a = np.asarray(motion, np.float32)
    ys, xs = mask_pixels(select)
    x, y = xs.astype(np.float32), ys.astype(np.float32)
    f = flow[ys, xs]
    dx = (a[0, 0] - 1.0) * x + a[0, 1] * y + a[0, 2]
    dy = a[1, 0] * x + (a[1, 1] - 1.0) * y + a[1, 2]
    return np.asarray(np.hypot(f[:, 0] - dx, f[:, 1] - dy), np.float32)


def _deviates(flow: np.ndarray, motion: np.ndarray, tolerance: float, step: int) -> np.ndarray:
    """bool, per pixel of the flow's grid (``flow`` sampled every ``step`` px of the frame):
    |flow − the displacement ``motion`` gives| > ``tolerance`` px (compared squared: no root
    to take)."""
    a = np.asarray(motion, np.float32)
    h, w = flow.shape[:2]
    x = step * np.arange(w, dtype=np.float32)[None, :]
    y = step * np.arange(h, dtype=np.float32)[:, None]
    ex = flow[..., 0] - ((a[0, 0] - 1.0) * x + a[0, 1] * y + a[0, 2])
    ey = flow[..., 1] - (a[1, 0] * x + (a[1, 1] - 1.0) * y + a[1, 2])
    ex *= ex
    ey *= ey
    ex += ey
    return np.asarray(ex > np.float32(tolerance) ** 2)


def find_layers(
    fwd: np.ndarray,
    prev_mask: np.ndarray,
    obj_motion: np.ndarray,
    sigma: float,
    count: int,
    fit: AffineFit,
) -> list[MotionLayer]:
    """Up to ``count`` motion layers around an object on the previous frame (see the module
    docstring). ``fwd``: forward flow (h×w×2, previous → current); ``prev_mask``: the object's
    previous mask (bool); ``obj_motion``: its affine motion; ``sigma``: its boundary's
    uncertainty (px); ``fit``: the robust affine fit. Layers are ranked by their pixels away
    from the object (beyond 4 ``sigma``), where their motions are fitted."""
    if count <= 0 or not prev_mask.any():
        return []
    radius = max(1, round(4 * sigma))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near = cv2.dilate(prev_mask.astype(np.uint8), kernel).astype(bool)
    camera = fit(fwd, ~near)
    if camera is None:
        return []
    tolerance = max(2.0, sigma)
    # on every 2nd pixel (4× cheaper; a layer is tens of pixels wide), then back to full size
    step = 2
    coarse = fwd[::step, ::step]
    other = (
        _deviates(coarse, obj_motion, tolerance, step)
        & _deviates(coarse, camera, tolerance, step)
        & ~prev_mask[::step, ::step]
    )
    n, labels = cv2.connectedComponents(other.astype(np.uint8), connectivity=8)
    away = np.bincount(labels[other & ~near[::step, ::step]], minlength=n) * step * step
    away[0] = 0
    needed = layer_min_pixels(float(np.count_nonzero(prev_mask)))
    h, w = prev_mask.shape
    layers: list[MotionLayer] = []
    for label in np.argsort(-away)[:count]:
        if away[label] < needed:
            break
        piece = (labels == label).astype(np.uint8)
        region = cv2.resize(  # every grid pixel repeated step × step times
            piece, (piece.shape[1] * step, piece.shape[0] * step), interpolation=cv2.INTER_NEAREST
        )[:h, :w].astype(bool)
        region &= ~prev_mask
        away_part = region & ~near
        motion = fit(fwd, away_part)
        if motion is None:
            continue
        if float(np.median(_deviation(fwd, motion, away_part))) > layer_coherence():
            continue
        cx, cy = mask_centre(away_part) or (0.0, 0.0)
        shift = (
            float(motion[0, 0] * cx + motion[0, 1] * cy + motion[0, 2] - cx),
            float(motion[1, 0] * cx + motion[1, 1] * cy + motion[1, 2] - cy),
        )
        layers.append(MotionLayer(region, motion, shift))
    return layers


def continued(found: Sequence[MotionLayer], previous: LayerTrace | None) -> list[MotionLayer]:
    """The layers of ``found`` that continue one of ``previous`` (the step before's, see
    :class:`LayerTrace`): that one's region, moved by its motion, overlaps this one's
    (:func:`layer_overlap` of the smaller), and the two move alike (:func:`layer_tolerance`).
    Regions, not centres: a pole's pieces above and below an object change their lengths from
    one frame to the next."""
    if previous is None or not previous.shifts:
        return []
    out = []
    tol = layer_tolerance()
    for layer in found:
        h, w = layer.region.shape
        for k, (shift, motion) in enumerate(zip(previous.shifts, previous.motions, strict=True)):
            alike = abs(layer.shift[0] - shift[0]) < tol and abs(layer.shift[1] - shift[1]) < tol
            if not alike:
                continue
            moved = _moved(previous.labels == k + 1, np.reshape(motion, (2, 3)), (w, h))
            common = np.count_nonzero(moved & layer.region)
            smaller = min(np.count_nonzero(moved), np.count_nonzero(layer.region))
            if smaller and common >= layer_overlap() * smaller:
                out.append(layer)
                break
    return out


def _moved(region: np.ndarray, motion: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``region`` (bool) moved by the affine ``motion`` onto a frame of ``size`` (w, h)."""
    out = cv2.warpAffine(
        region.astype(np.float32),
        motion,
        size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    return np.asarray(out > 0.5)


def layer_region(layer: MotionLayer, size: tuple[int, int]) -> np.ndarray:
    """Where ``layer`` competes with the background on the current frame (bool, ``size`` =
    (w, h)): its region moved by its motion, widened by :func:`layer_reach` px."""
    reach = layer_reach()
    kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    moved = _moved(layer.region, layer.motion, size).astype(np.uint8)
    return np.asarray(cv2.dilate(moved, kernel), bool)
