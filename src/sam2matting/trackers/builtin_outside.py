"""Background attached to an object: what the anchor mask left out next to it stays out.

Kept apart from :mod:`sam2matting.trackers.builtin` (the session, prompts, confidence) so
it is a small piece with a known answer on synthetic frames. Everything works at the
tracker's working resolution.

Why: some background moves *with* the object: its cast shadow, its reflection in water, the
patch of road under a car. Such a region has the object's motion, so the motion evidence
calls it object; it is often dark, so the colour evidence (trained on the object's dark
parts: tyres, windows, a swan's black feathers) calls it object too; only the warped prior
says background, and that prior is soft at the boundary (``boundary_sigma``). Frame after
frame the mask creeps into it and never leaves: on DAVIS ``car-shadow`` the shadow under the
car costs about 0.13 of J from frame 4 on.

The anchor mask (the user's mask, or the first mask from a box or clicks) says where the
object ends. The band of background just outside it (:func:`band_reach`) is remembered with
its colours, in the object's own frame of reference: it moves with the object's affine
motion, composed frame after frame from the anchor (:meth:`AttachedBackground.moved`; one
warp from the anchor image per frame, so the colours do not blur). Where this frame shows
the same colours at the same place relative to the object
(:func:`match_tolerance`), the pixel is what the anchor called background, and gets
:func:`AttachedBackground.evidence` against the object: an attached shadow or reflection,
or the ground right next to the object. Anything else at those places — a part of the object
the anchor did not show, another object, background the object moved over — has other
colours and gets nothing.

An articulated object's parts move apart from its single affine motion (legs swing into
the band), so the tracker does not use the evidence on frames it finds the object
articulated (``articulation_sigma``); the band keeps moving with the object meanwhile. A
re-detection or an empty mask ends it (the composed motion no longer holds), until the next
anchor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from .builtin_masks import mask_bounds, mask_pixels

__all__ = ["AttachedBackground", "band_reach", "match_tolerance"]


def band_reach(sigma: float) -> float:
    """How far (px) outside the anchor mask the remembered band reaches: the boundary's
    expected error (``sigma``, px) three times over, where the warped prior is soft, and at
    least 2 px. Beyond it the prior already says background firmly (and the colour model's
    background ring starts there)."""
    return max(2.0, 3.0 * sigma)


def match_tolerance() -> float:
    """Colour distance (Euclidean, 8-bit RGB) at which a pixel no longer looks like what the
    anchor saw at its place: the evidence falls linearly from full at distance 0 to nothing
    here. A shadow on asphalt keeps within ~10 of itself frame to frame; an object's own part
    arriving where the anchor saw grass or water differs by far more."""
    return 25.0


@dataclass(frozen=True)
class AttachedBackground:
    """The background band next to an object on its anchor frame, with its colours.

    ``planes``: float32 h×w×4, the anchor frame's RGB (0–255) and the band (1 on anchor pixels
    outside the mask within :func:`band_reach`, 0 elsewhere), warped together;
    ``bounds``: (x0, y0, x1, y1) of the band on the anchor frame; ``centre``: the anchor
    mask's centroid (x, y px); ``at``: where the object's motions since have moved it;
    ``scale``: the object's size against the anchor's (see :meth:`moved`).
    """

    planes: np.ndarray
    bounds: tuple[int, int, int, int]
    centre: tuple[float, float]
    at: tuple[float, float]
    scale: float = 1.0

    @property
    def band(self) -> np.ndarray:
        """The band on the anchor frame (float32 h×w, 1 inside, 0 outside)."""
        return self.planes[..., 3]

    @classmethod
    def start(cls, mask: np.ndarray, rgb: np.ndarray, sigma: float) -> AttachedBackground | None:
        """The band outside ``mask`` (bool h×w, the anchor mask) on ``rgb`` (uint8 h×w×3,
        the anchor frame), ``sigma`` px the boundary's expected error; None for an empty or
        full mask."""
        if mask.shape != rgb.shape[:2]:
            raise ValueError(f"mask {mask.shape} and frame {rgb.shape[:2]} differ in size")
        if not mask.any() or mask.all():
            return None
        outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
        band = (outside > 0) & (outside <= band_reach(sigma))
        bounds = mask_bounds(band)
        if bounds is None:
            return None
        ys, xs = mask_pixels(mask)
        centre = (float(xs.mean()), float(ys.mean()))
        planes = np.dstack([rgb.astype(np.float32), band.astype(np.float32)])
        return cls(planes, bounds, centre, centre)

    def moved(self, motion: np.ndarray) -> AttachedBackground:
        """The band after the object moved by ``motion`` (2×3 affine, previous → current
        frame pixels), as a similarity: the object's centre moves by the affine motion, its
        scale by the square root of the motion's determinant.

        Why not the affine itself, composed: its shear and anisotropic scale are noise on
        objects of one colour (the flow there has an aperture problem), and composed frame
        after frame they tear the band from the object (a uniform synthetic body sheared by
        0.47 after 28 frames). A least-squares affine fit moves the centroid of what it was
        fitted on by the mean flow, so the centre's motion is the fit's most reliable part.
        (Moving the centre by the part memory's appearance match instead,
        :func:`~.builtin_memory.locate`, scored lower on DAVIS: blackswan from the mask
        0.914 → 0.883, the memory drifts onto the swan's reflection.)"""
        step = np.asarray(motion, np.float64)
        x, y = self.at
        at = (
            float(step[0, 0] * x + step[0, 1] * y + step[0, 2]),
            float(step[1, 0] * x + step[1, 1] * y + step[1, 2]),
        )
        scale = self.scale * float(np.sqrt(abs(np.linalg.det(step[:, :2]))))
        return dataclasses.replace(self, at=at, scale=scale)

    @property
    def motion(self) -> np.ndarray:
        """Anchor → current frame pixels (float64 3×3): scale about the anchor's centre,
        then its centre moved to where the object's is now."""
        (cx, cy), (ax, ay), sc = self.centre, self.at, self.scale
        return np.array([[sc, 0.0, ax - sc * cx], [0.0, sc, ay - sc * cy], [0.0, 0.0, 1.0]])

    def evidence(self, rgb: np.ndarray, strength: float) -> np.ndarray:
        """Log-odds against the object (float32 h×w, ≥ 0; ``strength`` at most) where this
        frame (``rgb``, uint8 h×w×3) shows, inside the moved band, the colours the anchor saw
        there: ``strength`` × (1 − distance / :func:`match_tolerance`), 0 beyond it."""
        h, w = rgb.shape[:2]
        out = np.zeros((h, w), np.float32)
        if strength <= 0:
            return out
        # only the band's box, moved, is warped: the rest of the frame gets nothing
        x0, y0, x1, y1 = self.bounds
        corners = np.array([[x0, y0, 1.0], [x1, y0, 1.0], [x0, y1, 1.0], [x1, y1, 1.0]])
        moved = corners @ self.motion[:2].T
        cx0 = max(0, int(np.floor(moved[:, 0].min())) - 1)
        cy0 = max(0, int(np.floor(moved[:, 1].min())) - 1)
        cx1 = min(w, int(np.ceil(moved[:, 0].max())) + 2)
        cy1 = min(h, int(np.ceil(moved[:, 1].max())) + 2)
        if cx1 <= cx0 or cy1 <= cy0:
            return out
        to_crop = np.array([[1.0, 0.0, -cx0], [0.0, 1.0, -cy0], [0.0, 0.0, 1.0]]) @ self.motion
        size = (cx1 - cx0, cy1 - cy0)
        # outside the anchor frame the band is 0, so the colours there do not matter
        seen = cv2.warpAffine(
            self.planes,
            to_crop[:2],
            size,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0.0, 0.0, 0.0, 0.0),
        )
        now = rgb[cy0:cy1, cx0:cx1].astype(np.float32)
        distance = np.sqrt(((now - seen[..., :3]) ** 2).sum(axis=-1))
        match = np.clip(1.0 - distance / match_tolerance(), 0.0, 1.0)
        out[cy0:cy1, cx0:cx1] = strength * match * seen[..., 3]
        return out
