"""The clean plate: what a still camera sees behind a moving object.

Kept apart from :mod:`sam2matting.trackers.builtin` so each piece is a small function with a
known answer on synthetic frames (``tests/test_builtin_plate.py``). Everything works at the
tracker's working resolution.

Why: on ``01_dog.mp4`` (a white dog with tan patches on a light-grey pavement, a tripod) the
dog's whites are the pavement's greys, so the colour model keeps only the tan patches, and the
dog's cast shadow moves with it, so the motion evidence takes the shadow in; from a box the
first mask was a blob over the dog's rear and the pavement between its legs, and the dog was
reported lost on 104 of 289 frames while in full view. But the camera saw that pavement empty
a second later: the per-pixel median of frames spread over the clip, each aligned to one
reference frame by a similarity (:func:`align`), is the empty scene — the *clean plate*
(:func:`build_plate`) — wherever the object moved on within the sampled frames.

A pixel that differs from the plate in chroma, in local texture, or by being brighter, is
something that was not there (:func:`change_evidence`); one that is only darker with the same
chroma and texture is the same ground in a shadow, which is background. The tracker turns
this into log-odds (:func:`plate_llr`): "the plate" pushes towards background firmly (the
pavement between the dog's legs, its shadow), "changed" does not pull towards the object at
all (another person walking by is changed too). It is used only where it holds:

- the camera must be still or shaking (one similarity explains the scene): on a frame where
  more than :func:`max_background_change` of the pixels away from every object differ from
  the plate (a panning camera with parallax, water, leaves, a lighting change) the cue is
  silent for that frame;
- the plate must not hold the object itself (an object that stayed where it is for most of
  the sampled frames): when less than :func:`min_object_change` of the pixels the object is
  predicted on differ from the plate, the cue is silent for that object on that frame.

On the DAVIS sequences (panning cameras) it stays silent: their figures are unchanged.

The tracker uses it only with ``plate_frames`` > 0 (off by default): on ``01_dog.mp4`` itself
the woman playing with the dog moved too, her hand and the ball are in the dog's box, and the
tracker ended on her (see :class:`~sam2matting.trackers.builtin.BuiltinTrackerConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .builtin_masks import mask_pixels

__all__ = [
    "Plate",
    "align",
    "background_change_share",
    "build_plate",
    "camera_still",
    "change_evidence",
    "max_background_change",
    "max_scene_change",
    "min_box_fit",
    "min_object_change",
    "object_change_share",
    "plate_agreement",
    "plate_features",
    "plate_llr",
    "plate_samples",
    "region_in_box",
]

#: ORB features of a frame: (positions N×2 float32, descriptors)
Features = tuple[np.ndarray, np.ndarray | None]


def max_background_change() -> float:
    """Share of the pixels away from every object that may differ from the plate before the
    plate is not trusted on a frame. A still scene with someone else walking through it stays
    well below (``01_dog``: 0.04–0.07, with the woman in the frame); a panning camera with
    parallax is far above (DAVIS ``car-shadow`` 0.25–0.75)."""
    return 0.15


def min_object_change() -> float:
    """Share of an object's predicted pixels that must differ from the plate for the plate to
    be its background there: below it, the object stayed put for most of the sampled frames
    and the plate holds it (``01_dog``'s dog: 0.85–0.95 where it walks)."""
    return 0.5


def plate_samples(ref: int, num_frames: int, horizon: int, count: int) -> list[int]:
    """Indices of the frames the plate is the median of: ``count`` spread evenly over
    ``ref`` ± ``horizon`` within the clip (``ref`` itself included)."""
    lo, hi = max(0, ref - horizon), min(num_frames - 1, ref + horizon)
    if hi <= lo or count < 2:
        return [ref]
    picks = {round(float(v)) for v in np.linspace(lo, hi, count)}
    picks.add(ref)
    return sorted(picks)


def _orb(count: int) -> Any:
    return cv2.ORB_create(nfeatures=count)  # type: ignore[attr-defined]


def _features(gray: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(keypoint positions N×2 float32, descriptors) of up to ``count`` ORB features of a
    grey uint8 frame. (Found at half size they were 4× cheaper, but the hand-held synthetic
    clips lost 0.03 mean J to the coarser alignment.)"""
    keypoints, descriptors = _orb(count).detectAndCompute(gray, None)
    points = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2)
    return points, descriptors


def plate_features(gray: np.ndarray) -> Features:
    """ORB feature positions and descriptors of a grey uint8 frame (for :func:`align`)."""
    return _features(gray, 800)


def align(reference: Features, gray: np.ndarray) -> np.ndarray | None:
    """The motion (3×3 float64, a similarity: shift, rotation, zoom) taking ``gray`` (uint8
    h×w) onto the reference frame whose :func:`plate_features` are ``reference``, or None when
    too few features match (a textureless frame, a cut). A still or shaking camera moves by
    a similarity; a full homography, fitted on features that cluster on the one textured part
    of a frame (a wall above a smooth pavement), tilts the rest of it. Moving objects are
    RANSAC's outliers."""
    ref_points, ref_desc = reference
    points, descriptors = _features(gray, 800)
    if ref_desc is None or descriptors is None or len(ref_points) < 20 or len(points) < 20:
        return None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(ref_desc, descriptors)
    if len(matches) < 20:
        return None
    ref_pts = ref_points[[m.queryIdx for m in matches]]
    pts = points[[m.trainIdx for m in matches]]
    motion, inliers = cv2.estimateAffinePartial2D(
        pts, ref_pts, method=cv2.RANSAC, ransacReprojThreshold=1.5
    )
    if motion is None or inliers is None or int(inliers.sum()) < 15:
        return None
    return np.vstack([np.asarray(motion, np.float64), [0.0, 0.0, 1.0]])


def camera_still(flow: np.ndarray) -> bool:
    """Whether the forward optical flow (h×w×2 float32, px) between two consecutive frames
    says the camera did not move: the median flow of each quarter of the frame (where the
    background is the majority) under 0.1 px. A camera that did not move keeps the previous
    frame's alignment with the plate, so the feature match (:func:`align`, ~6 ms at 512×288)
    is only needed where it moved."""
    h, w = flow.shape[:2]
    for ys in (slice(0, h // 2), slice(h // 2, h)):
        for xs in (slice(0, w // 2), slice(w // 2, w)):
            quarter = flow[ys, xs][::4, ::4].reshape(-1, 2)
            if float(np.abs(np.median(quarter, axis=0)).max()) >= 0.1:
                return False
    return True


def _texture(lightness: np.ndarray) -> np.ndarray:
    """Local contrast of fine detail: the RMS (5×5) of the lightness minus its blur (σ 2 px),
    over the local mean lightness (float32 h×w). Smooth shading — a shadow's soft edge — has
    no fine detail, and a shadow darkens the detail it falls on as much as its mean, so the
    ground's texture reads the same in and out of a shadow."""
    detail = lightness - cv2.GaussianBlur(lightness, (0, 0), 1.0)
    rms = np.sqrt(np.maximum(cv2.blur(detail * detail, (5, 5)), 0.0))
    return np.asarray(rms / (cv2.blur(lightness, (5, 5)) + 10.0), np.float32)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)


def _smooth(lab: np.ndarray) -> np.ndarray:
    """``lab`` blurred (σ 1 px): the plate is a median of resampled frames, a little softer
    than any one frame, and fine texture must not read as a colour change."""
    return np.asarray(cv2.GaussianBlur(lab, (0, 0), 1.0), np.float32)


@dataclass(frozen=True)
class Plate:
    """The clean plate in the reference frame's pixels: ``image`` (h×w×3 uint8 RGB),
    ``valid`` (h×w bool: enough aligned samples), and what :func:`change_evidence` compares
    against (``lab``, ``texture``), with the reference frame's ``features`` for
    :func:`align`. ``ref``: the reference frame's index."""

    ref: int
    image: np.ndarray
    valid: np.ndarray
    lab: np.ndarray
    texture: np.ndarray
    features: Features

    def at(self, homography: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lab, texture, valid) of the plate seen from a frame whose :func:`align`
        homography onto the reference is ``homography``. Without a real move (every corner
        within 0.25 px) the plate's own arrays are returned, unwarped."""
        h, w = self.valid.shape
        corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float32).reshape(-1, 1, 2)
        moved = cv2.perspectiveTransform(corners, homography)
        if float(np.abs(moved - corners).max()) < 0.25:
            return self.lab, self.texture, self.valid
        inverse = np.linalg.inv(homography)
        image = cv2.warpPerspective(
            self.image, inverse, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        valid = (
            cv2.warpPerspective(
                self.valid.astype(np.uint8), inverse, (w, h), flags=cv2.INTER_NEAREST
            )
            > 0
        )
        lab = _lab(image)
        return lab, _texture(lab[..., 0]), valid


def build_plate(ref: int, frames: dict[int, np.ndarray], min_samples: int = 5) -> Plate | None:
    """The clean plate of ``frames`` (index → RGB uint8 h×w×3, ``ref`` among them): each
    aligned onto ``ref`` (:func:`align`) and the per-pixel median taken over those that
    cover the pixel. None with fewer than ``min_samples`` aligned frames; pixels covered by
    fewer are not ``valid``."""
    reference = frames[ref]
    h, w = reference.shape[:2]
    features = plate_features(cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY))
    stack = [reference.astype(np.float32)]
    aligned = [(reference, np.ones((h, w), bool))]
    for index, rgb in frames.items():
        if index == ref:
            continue
        homography = align(features, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        if homography is None:
            continue
        warped = cv2.warpPerspective(rgb, homography, (w, h), flags=cv2.INTER_LINEAR)
        covered = (
            cv2.warpPerspective(
                np.ones((h, w), np.uint8), homography, (w, h), flags=cv2.INTER_NEAREST
            )
            > 0
        )
        aligned.append((warped, covered))
        sample = warped.astype(np.float32)
        sample[~covered] = np.nan
        stack.append(sample)
    if len(stack) < min_samples:
        return None
    samples = np.stack(stack)
    count = np.isfinite(samples[..., 0]).sum(axis=0)
    image = np.nan_to_num(np.nanmedian(samples, axis=0)).astype(np.uint8)
    lab = _lab(image)
    plate = Plate(ref, image, count >= min_samples, lab, _texture(lab[..., 0]), features)
    # a scene one similarity does not explain (a panning camera with parallax, waves, leaves)
    # has no plate: most of every sample differs from the median
    shares = []
    for warped, covered in aligned:
        region = covered & plate.valid
        if region.any():
            changed = change_evidence(warped, plate.lab, plate.texture)[region] > 0
            shares.append(float(changed.mean()))
    if not shares or float(np.median(shares)) > max_scene_change():
        return None
    return plate


def max_scene_change() -> float:
    """Median share of a plate's sample frames that may differ from it (moving objects
    included) for the plate to be kept (:func:`build_plate`); the per-frame check, away from
    the objects, is :func:`max_background_change`."""
    return 0.3


def change_evidence(
    rgb: np.ndarray, plate_lab: np.ndarray, plate_texture: np.ndarray
) -> np.ndarray:
    """How clearly each pixel of ``rgb`` (h×w×3 uint8) is *not* the plate (float32 h×w; > 0:
    changed, ≤ 0: the plate's).

    The largest of: the chroma difference over 8 (Lab a/b units), the fine-detail contrast
    difference over 0.006 plus half the smaller of the two contrasts (a pavement's grain
    differs from its plate by under 0.0015 in 95 % of pixels on ``01_dog``; fur by
    0.013–0.044), how much brighter it is over 15, and 30 where it is under 0.35 of
    the plate's lightness; minus 1. A cast shadow — darker by up to ~2/3, chroma and texture
    kept — stays ≤ 0: the shadow is the ground, not the object (the object's own shading is
    not told apart this way either, but its texture and chroma usually are)."""
    lab = _lab(rgb)
    texture = _texture(lab[..., 0])
    lab, plate_lab = _smooth(lab), _smooth(plate_lab)
    d_light = lab[..., 0] - plate_lab[..., 0]
    d_chroma = np.hypot(lab[..., 1] - plate_lab[..., 1], lab[..., 2] - plate_lab[..., 2])
    # texture differences count less where both are textured (resampling softens texture)
    d_texture = np.abs(texture - plate_texture) / (0.006 + 0.5 * np.minimum(texture, plate_texture))
    ratio = (lab[..., 0] + 10.0) / (plate_lab[..., 0] + 10.0)
    very_dark = np.where(ratio < 0.35, 30.0, 0.0).astype(np.float32)
    evidence = np.maximum.reduce(
        [d_chroma / 8.0, d_texture, np.maximum(d_light, 0.0) / 15.0, very_dark]
    )
    return (evidence - 1.0).astype(np.float32)


def background_change_share(evidence: np.ndarray, valid: np.ndarray, objects: np.ndarray) -> float:
    """Share of the valid pixels away from every object (``objects``: h×w bool, their
    predicted masks; a margin of 1/40 of the frame's longest side is left around them) that
    differ from the plate; 1.0 when fewer than 500 such pixels."""
    h, w = objects.shape
    r = max(2, round(max(h, w) / 40))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    away = valid & ~(cv2.dilate(objects.astype(np.uint8), kernel) > 0)
    count = int(np.count_nonzero(away))
    if count < 500:
        return 1.0
    return float(np.count_nonzero(evidence[away] > 0)) / count


def object_change_share(evidence: np.ndarray, valid: np.ndarray, predicted: np.ndarray) -> float:
    """Share of an object's predicted pixels (valid ones) that differ from the plate; 0.0
    with fewer than 20 of them."""
    region = predicted & valid
    count = int(np.count_nonzero(region))
    if count < 20:
        return 0.0
    return float(np.count_nonzero(evidence[region] > 0)) / count


def min_box_fit() -> float:
    """IoU between a box prompt and the bounding box of what differs from the plate in it,
    from which that region is taken as the object's first mask (:func:`region_in_box`): a box
    drawn around an object touches it on all four sides, so a region that fills the box is
    the whole object; one that does not is a moving part of it (an arm, a tail) or another
    thing in the box."""
    return 0.7


def plate_agreement() -> float:
    """IoU with the region that differs from the plate (:func:`region_in_box`) below which a
    box's first mask from colours (the GrabCut hypotheses) is replaced by that region: above
    it the two agree on the object and GrabCut's outline, which follows the image's edges, is
    kept."""
    return 0.5


def region_in_box(changed: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """The object's first mask from ``changed`` (h×w bool: the box's pixels that differ from
    the plate): gaps of a few px closed, holes under 1 % of the box filled, specks under 5 %
    of the largest part dropped; None when it does not fill the box (:func:`min_box_fit`)."""
    x0, y0, x1, y1 = box
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    closed = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    closed[:y0] = 0
    closed[y1:] = 0
    closed[:, :x0] = 0
    closed[:, x1:] = 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    if count < 2:
        return None
    largest = int(stats[1:, cv2.CC_STAT_AREA].max())
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= 0.05 * largest
    mask = keep[labels]
    holes = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    box_area = (x1 - x0) * (y1 - y0)
    h, w = mask.shape
    for k in range(1, holes[0]):
        hx, hy, hw, hh, area = holes[2][k]
        inner = hx > 0 and hy > 0 and hx + hw < w and hy + hh < h
        if inner and area < 0.01 * box_area:
            mask |= holes[1] == k
    ys, xs = mask_pixels(mask)
    mx0, my0, mx1, my1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    inter = max(0, min(x1, mx1) - max(x0, mx0)) * max(0, min(y1, my1) - max(y0, my0))
    union = box_area + (mx1 - mx0) * (my1 - my0) - inter
    if inter / max(union, 1) < min_box_fit():
        return None
    return mask


def plate_llr(
    evidence: np.ndarray,
    valid: np.ndarray,
    strength: float,
    towards: float = 0.0,
    away: float = 2.0,
) -> np.ndarray:
    """Log-odds (float32 h×w) for the object from :func:`change_evidence`: ``strength`` ×
    evidence, capped at ``away`` against the object (the plate is firmly background) and at
    ``towards`` for it; 0 where the plate is not ``valid``.

    ``towards`` is 0: what differs from the plate is *something* that was not there, not
    this object. With 0.3 or 3 (3 only where the colours could be the object's), the dog of
    ``01_dog.mp4`` spread over the woman's arm and shirt as she handed it its ball, and a
    walker composited over a still background took in the person passing behind it.
    """
    llr = np.clip(strength * evidence, -away, towards).astype(np.float32)
    llr[~valid] = 0.0
    return llr
