"""Competition between the built-in tracker's objects: one pixel, one owner, also while an
owner is lost.

Overlap resolution (the largest logit wins) keeps two *tracked* masks apart, but a lost object
claims nothing: its pixels are free, and a neighbour of the same colours (two children on a
bed, two animals of one kind) grows over them, frame by frame, and keeps them after the lost
object comes back. So each object keeps a *territory*: its last trusted mask (the template
re-detection searches for), moved with the camera since (the median of the frame's optical
flow: the scene, not the object, which is lost), for :func:`territory_frames` frames after it
was last trusted. Another object's mask may not take pixels of a lost object's territory
beyond its own territory widened by :func:`territory_tolerance` (the boundary's motion between
trusted frames): those pixels go back to being background for it (:func:`veto`), and the lost
object's re-detection finds them free. The swallow check (``taken`` in the tracker's
confidence) measures against the same moved territory, not the stale template.

Only several objects are affected: a single object's run is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "Territory",
    "camera_shift",
    "follow_territory",
    "territory_frames",
    "territory_tolerance",
    "veto",
]


def territory_frames() -> int:
    """Frames after an object was last trusted during which its moved last trusted mask stays
    reserved for it (about a second at 25 fps): long enough to come back from a short
    occlusion or a lost stretch, short enough that a neighbour walking into where the object
    once stood is not blocked for the rest of the clip."""
    return 25


def territory_tolerance(work_w: int, work_h: int) -> int:
    """Pixels by which an object's own territory is widened when another object's territory is
    reserved against it: its boundary moves a few px between trusted frames (3 px at a
    512-px working resolution, scaled with it)."""
    return max(1, round(3 * max(work_w, work_h) / 512))


@dataclass(frozen=True)
class Territory:
    """Where an object was last trusted: ``mask`` (bool, working resolution) as it was on
    frame ``seen_at``, and ``offset`` (dx, dy px, float) by which the camera has moved the
    scene since."""

    mask: np.ndarray
    seen_at: int
    offset: tuple[float, float] = (0.0, 0.0)

    def moved(self) -> np.ndarray:
        """The mask shifted by the rounded offset (pixels shifted in from outside are empty)."""
        dx, dy = round(self.offset[0]), round(self.offset[1])
        if dx == 0 and dy == 0:
            return self.mask
        h, w = self.mask.shape
        out = np.zeros_like(self.mask)
        if abs(dx) >= w or abs(dy) >= h:
            return out
        src = self.mask[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
        out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
        return out


def camera_shift(fwd: np.ndarray) -> tuple[float, float]:
    """(dx, dy) px: the camera's translation between two frames, the median of the forward
    flow ``fwd`` (h×w×2) on a grid of every 4th pixel (the scene outweighs the objects)."""
    sample = fwd[::4, ::4].reshape(-1, 2)
    return float(np.median(sample[:, 0])), float(np.median(sample[:, 1]))


def follow_territory(
    territory: Territory | None,
    template: np.ndarray | None,
    seen_at: int,
    shift: tuple[float, float],
) -> Territory | None:
    """This frame's territory from the previous frame's: a fresh one when the object was
    trusted on ``seen_at`` after the old one's (``template``: its mask then), else the old one;
    either moved by the camera's ``shift`` since the previous frame."""
    if template is None:
        return None
    if territory is None or seen_at != territory.seen_at:
        return Territory(template, seen_at, shift)
    ox, oy = territory.offset
    return Territory(territory.mask, territory.seen_at, (ox + shift[0], oy + shift[1]))


def veto(
    mask: np.ndarray,
    own: np.ndarray | None,
    reserved: list[np.ndarray],
    tolerance: int,
) -> np.ndarray:
    """bool: the pixels of ``mask`` that lie in one of the ``reserved`` territories (of other,
    lost objects) and outside this object's ``own`` territory widened by ``tolerance`` px
    (None: no territory of its own, nothing is reserved against it)."""
    if own is None or not reserved:
        return np.zeros_like(mask)
    taken = np.zeros_like(mask)
    for other in reserved:
        taken |= mask & other
    if not taken.any():
        return taken
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
    near = cv2.dilate(own.astype(np.uint8), disc) > 0
    return taken & ~near


def contested(
    masks: dict[int, np.ndarray],
    claims: dict[int, np.ndarray],
    own: dict[int, np.ndarray | None],
    tolerance: int,
) -> dict[int, float]:
    """Object → the largest fraction of another, lost or unconfirmed object's own claim
    (``claims``: its mask before overlap resolution) that the object's final mask (``masks``)
    holds outside its ``own`` territory widened by ``tolerance`` px. A lost object re-found
    beyond where a neighbour was last trusted, under the neighbour's mask, has most likely been
    swallowed by it (the neighbour grew over it while it was lost, and wins the pixels on its
    larger logits): the neighbour's confidence pays for it, like the swallow of a lost
    object's territory (the tracker's ``swallow_cue``). A claim inside the neighbour's own
    territory is a re-detection on a look-alike part of the neighbour and costs nothing; one
    inside the claimant's own territory is settled by :func:`veto` instead."""
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
    out: dict[int, float] = {}
    for obj, mask in masks.items():
        territory = own.get(obj)
        if territory is None:
            out[obj] = 0.0
            continue
        beyond = mask & ~(cv2.dilate(territory.astype(np.uint8), disc) > 0)
        fractions = [
            float(np.count_nonzero(beyond & claim & ~_or_empty(own.get(other), claim)))
            / float(np.count_nonzero(claim))
            for other, claim in claims.items()
            if other != obj and claim.any()
        ]
        out[obj] = max(fractions, default=0.0)
    return out


def _or_empty(mask: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    return np.zeros_like(like) if mask is None else mask
