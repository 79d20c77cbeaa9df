"""Training data for the matting heads: image composites with exact alpha, generated on the fly.

Each training sample is a square *native* crop (``crop × r`` pixels, ``r`` the native/working
ratio drawn per batch) and its *working* version (``crop`` pixels, area-downscaled), with:

- **foreground**: a cutout of the training split (every cutout in ``matting/`` except
  :data:`sam2matting.io.cutouts.DEV_FOREGROUNDS`), randomly scaled (whole subject or a close-up),
  rotated, flipped, colour-jittered, sometimes motion-blurred, and placed so that the crop is
  centred near its boundary; or a **synthetic foreground** drawn in code
  (:func:`synthetic_foreground`: hair-like strands, fur-like fringes, semi-transparent and
  motion-blurred shapes);
- **background**: procedural (noise, gradients, stripes, shapes, defocus) or a frame of the
  Apache-2.0 videos ``02_cups`` / ``03_blocks`` / ``04_coffee`` (never DAVIS), sometimes with a
  second cutout pasted in as a distractor;
- **composite** ``C = P + (1 − α)·B`` with premultiplied ``P`` (no halos), then blur / noise /
  JPEG augmentations;
- **tracker mask** simulated from the ground-truth alpha (:func:`simulate_tracker_mask`: a
  random threshold, then :func:`sam2matting.degrade.random_degradation` — erode/dilate, holes,
  blobs, blocky low-resolution logits, missed thin parts, jagged boundary, shift; sometimes the
  perfect ``α > 0.5`` mask as in the paper) at a ``heavy`` or ``mild`` level (:data:`MASK_NOISE`).

Everything is drawn from ``numpy.random.default_rng((seed, step))``, so a batch depends only on
the seed and the step: training is reproducible and resumes exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

__all__ = [
    "MASK_NOISE",
    "TRAIN_BACKGROUND_VIDEOS",
    "Batch",
    "CompositeSampler",
    "DataConfig",
    "describe_split",
    "procedural_background",
    "simulate_tracker_mask",
    "synthetic_foreground",
]

#: background videos training may use (Apache-2.0; the dev benchmark prefers the others)
TRAIN_BACKGROUND_VIDEOS = ("02_cups.mp4", "03_blocks.mp4", "04_coffee.mp4")


@dataclass(frozen=True)
class DataConfig:
    """``crop``: working crop side (multiple of 16); ``native_ratios``: native/working ratios
    drawn per batch; ``synthetic_share``: fraction of synthetic foregrounds; ``video_bg_share``:
    fraction of video-frame backgrounds (else procedural); ``video_stride``: decode every n-th
    frame of each background video; ``max_cutout_side``: cutouts are cached at most this big.
    ``use_cutouts=False`` trains on synthetic foregrounds only (tests, no shared data).
    ``mask_noise``: how wrong the simulated tracker masks are (:data:`MASK_NOISE`).
    ``textured_hard_share``: fraction of foregrounds that are hard-edged shapes filled with a
    crop of a real frame (:meth:`CompositeSampler._textured_hard`): real texture and interior
    edges inside an exact one-pixel outline, which the flat-coloured synthetic shapes lack."""

    data_root: str | None = None
    cache_dir: str = "runs/cache"
    crop: int = 192
    native_ratios: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0)
    synthetic_share: float = 0.35
    video_bg_share: float = 0.5
    distractor_share: float = 0.2
    video_stride: int = 10
    max_cutout_side: int = 1620
    use_cutouts: bool = True
    background_videos: tuple[str, ...] = TRAIN_BACKGROUND_VIDEOS
    exclude: tuple[str, ...] = field(default_factory=tuple)
    mask_noise: str = "heavy"
    textured_hard_share: float = 0.0


@dataclass
class Batch:
    """One batch, numpy, channel-last.

    ``native``: B×N×N×3 uint8; ``native_alpha``: B×N×N float32; ``image``: B×c×c×3 float32 in
    [0, 1] (working); ``alpha``: B×c×c float32; ``mask``: B×c×c float32 in {0, 1} (simulated
    tracker mask); ``kinds``: per-sample foreground name (``synthetic:<kind>`` or a cutout).
    """

    native: np.ndarray
    native_alpha: np.ndarray
    image: np.ndarray
    alpha: np.ndarray
    mask: np.ndarray
    kinds: list[str]
    #: B×c×c guided-filter prior and GT ROI, filled by the training loop's data workers
    prior: np.ndarray | None = None
    gt_roi: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# random fields and synthetic layers
# --------------------------------------------------------------------------------------------
def _noise(rng: np.random.Generator, n: int, cells: int, channels: int = 1) -> np.ndarray:
    """Smooth value noise n×n×channels in [0, 1] with about ``cells`` features across."""
    g = rng.random((cells + 1, cells + 1, channels)).astype(np.float32)
    out = cv2.resize(g, (n, n), interpolation=cv2.INTER_CUBIC)
    return np.clip(out.reshape(n, n, channels), 0, 1)


def _fbm(
    rng: np.random.Generator, n: int, channels: int = 1, octaves: int = 4, base: int = 3
) -> np.ndarray:
    acc = np.zeros((n, n, channels), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        acc += amp * _noise(rng, n, base * 2**o, channels).reshape(n, n, channels)
        total += amp
        amp *= 0.5
    return acc / total


def _palette_field(rng: np.random.Generator, n: int) -> np.ndarray:
    """A textured colour field n×n×3 in [0, 1] (a random base colour modulated by noise)."""
    base = rng.random(3).astype(np.float32)
    alt = np.clip(base + rng.normal(0, 0.25, 3), 0, 1).astype(np.float32)
    t = _fbm(rng, n, 1, octaves=5, base=int(rng.integers(2, 8)))
    col = base * (1 - t) + alt * t
    detail = (_noise(rng, n, max(4, n // 6), 1) - 0.5) * float(rng.uniform(0, 0.3))
    return np.clip(col + detail, 0, 1).astype(np.float32)


def procedural_background(rng: np.random.Generator, n: int) -> np.ndarray:
    """A procedural background n×n×3 float32 in [0, 1]: noise, gradients, stripes, shapes, blur."""
    kind = rng.integers(0, 4)
    if kind == 0:
        bg = _fbm(rng, n, 3, octaves=5, base=int(rng.integers(2, 6)))
    elif kind == 1:
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
        a, b = rng.normal(0, 1, 2)
        g = (a * xx + b * yy)[..., None]
        c0, c1 = rng.random(3).astype(np.float32), rng.random(3).astype(np.float32)
        bg = c0 + (c1 - c0) * (g - g.min()) / (np.ptp(g) + 1e-6)
        bg = bg + 0.15 * (_fbm(rng, n, 3) - 0.5)
    elif kind == 2:
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
        th = rng.uniform(0, np.pi)
        period = rng.uniform(4, 40)
        s = 0.5 + 0.5 * np.sin((xx * np.cos(th) + yy * np.sin(th)) * 2 * np.pi / period)
        c0, c1 = rng.random(3).astype(np.float32), rng.random(3).astype(np.float32)
        bg = c0 + (c1 - c0) * s[..., None]
    else:
        bg = _palette_field(rng, n)
    bg = np.ascontiguousarray(bg.astype(np.float32))
    for _ in range(int(rng.integers(0, 8))):  # hard-edged clutter (edges the head must ignore)
        col = tuple(float(v) for v in rng.random(3))
        c = (int(rng.integers(0, n)), int(rng.integers(0, n)))
        if rng.random() < 0.5:
            ax = (int(rng.integers(3, n // 3)), int(rng.integers(3, n // 3)))
            cv2.ellipse(bg, c, ax, float(rng.uniform(0, 180)), 0, 360, col, -1, cv2.LINE_AA)
        else:
            d = (int(rng.integers(3, n // 3)), int(rng.integers(3, n // 3)))
            cv2.rectangle(bg, c, (c[0] + d[0], c[1] + d[1]), col, -1, cv2.LINE_AA)
    if rng.random() < 0.4:  # defocus
        k = 2 * int(rng.integers(1, max(2, n // 64))) + 1
        bg = cv2.GaussianBlur(bg, (k, k), 0)
    return np.clip(bg, 0, 1).astype(np.float32)


def _blob_sdf(
    rng: np.random.Generator, n: int, radius: float, center: tuple[float, float]
) -> np.ndarray:
    """Signed distance (px, negative inside) to a smooth random star-shaped blob."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    dx, dy = xx - center[0], yy - center[1]
    ang = np.arctan2(dy, dx)
    r = np.full_like(ang, radius)
    for k in range(2, 6):
        r += (
            radius
            * float(rng.uniform(0, 0.12))
            * np.sin(k * ang + float(rng.uniform(0, 2 * np.pi)))
        )
    aspect = float(rng.uniform(0.6, 1.4))
    return np.sqrt(dx**2 + (dy * aspect) ** 2) - r


def _strands(
    rng: np.random.Generator,
    n: int,
    sdf: np.ndarray,
    count: int,
    length: tuple[float, float],
    thickness: tuple[float, float],
    opacity: tuple[float, float],
    supersample: int = 3,
) -> np.ndarray:
    """Alpha n×n of thin curved strands growing outward from the blob's boundary."""
    s = supersample
    canvas = np.zeros((n * s, n * s), np.float32)
    edge = np.argwhere(np.abs(sdf) < 1.0)
    if edge.size == 0:
        return np.zeros((n, n), np.float32)
    gy, gx = np.gradient(sdf)
    for _ in range(count):
        y, x = edge[int(rng.integers(0, len(edge)))]
        nx, ny = float(gx[y, x]), float(gy[y, x])
        norm = math.hypot(nx, ny) + 1e-6
        ang = math.atan2(ny / norm, nx / norm) + float(rng.normal(0, 0.5))
        ln = float(rng.uniform(*length))
        curve = float(rng.normal(0, 1.2))
        steps = 10
        pts = []
        px, py = float(x) - 2 * nx / norm, float(y) - 2 * ny / norm  # start slightly inside
        for i in range(steps + 1):
            pts.append((px * s, py * s))
            a = ang + curve * i / steps
            px += math.cos(a) * ln / steps
            py += math.sin(a) * ln / steps
        poly = np.round(np.array(pts)).astype(np.int32)
        th = max(1, round(float(rng.uniform(*thickness)) * s))
        cv2.polylines(canvas, [poly], False, float(rng.uniform(*opacity)), th, cv2.LINE_AA)
    return np.clip(cv2.resize(canvas, (n, n), interpolation=cv2.INTER_AREA), 0, 1)


def _motion_kernel(rng: np.random.Generator, length: float) -> np.ndarray:
    k = max(3, int(length) | 1)
    line: np.ndarray = np.zeros((k, k), np.float32)
    line[k // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
    ker: np.ndarray = cv2.warpAffine(line, rot, (k, k))
    return ker / max(float(ker.sum()), 1e-6)


SYNTHETIC_KINDS = ("hair", "fur", "transparent", "motion", "hard", "wires")

#: how often each synthetic kind is drawn: hard-edged objects are common in footage, and a head
#: that never sees one learns to soften every outline (the 1–2 px halo of compact-guided-v2)
SYNTHETIC_WEIGHTS = (0.15, 0.15, 0.15, 0.1, 0.3, 0.15)


def _hard_shape(rng: np.random.Generator, n: int, supersample: int = 4) -> np.ndarray:
    """Alpha n×n of an opaque object with *hard* edges: a union of polygons, rounded boxes and
    ellipses drawn at ``supersample``× and area-averaged, i.e. the ≈1 px ramp a camera records
    at a sharp edge (straight edges, corners, concavities)."""
    s = supersample
    m = n * s
    canvas = np.zeros((m, m), np.uint8)
    cx, cy = m * float(rng.uniform(0.35, 0.65)), m * float(rng.uniform(0.35, 0.65))
    for _ in range(int(rng.integers(1, 4))):
        size = m * float(rng.uniform(0.12, 0.3))
        ox, oy = cx + rng.normal(0, size * 0.5), cy + rng.normal(0, size * 0.5)
        kind = int(rng.integers(0, 3))
        if kind == 0:  # polygon
            k = int(rng.integers(3, 9))
            ang = np.sort(rng.uniform(0, 2 * np.pi, k))
            rad = size * rng.uniform(0.5, 1.2, k)
            pts = np.stack([ox + rad * np.cos(ang), oy + rad * np.sin(ang)], 1)
            cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], 255)
        elif kind == 1:  # (rotated) box
            w, h = size * rng.uniform(0.5, 1.6), size * rng.uniform(0.3, 1.2)
            box = cv2.boxPoints(((ox, oy), (w * 2, h * 2), float(rng.uniform(0, 180))))
            cv2.fillPoly(canvas, [np.round(box).astype(np.int32)], 255)
        else:
            ax = (int(size * rng.uniform(0.4, 1.2)), int(size * rng.uniform(0.4, 1.2)))
            cv2.ellipse(canvas, (int(ox), int(oy)), ax, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    if rng.random() < 0.3:  # a hole (handle, gap between arm and body)
        r = int(m * float(rng.uniform(0.02, 0.06)))
        cv2.circle(canvas, (int(cx + rng.normal(0, r)), int(cy + rng.normal(0, r))), r, 0, -1)
    small = cv2.resize(canvas.astype(np.float32) / 255.0, (n, n), interpolation=cv2.INTER_AREA)
    return np.clip(small, 0, 1).astype(np.float32)


def _wires(rng: np.random.Generator, n: int, count: int, supersample: int = 4) -> np.ndarray:
    """Alpha n×n of long thin wires / threads crossing the canvas (0.25–1.5 px wide, opacity
    0.4–1): thin structures a tracker mask misses."""
    s = supersample
    canvas = np.zeros((n * s, n * s), np.float32)
    for _ in range(count):
        p0 = rng.uniform(0, n * s, 2)
        ang = float(rng.uniform(0, 2 * np.pi))
        length = n * s * float(rng.uniform(0.3, 1.0))
        bend = float(rng.normal(0, 0.4))
        pts = []
        for i in range(17):
            t = i / 16
            a = ang + bend * t
            pts.append(p0 + length * t * np.array([math.cos(a), math.sin(a)]))
        poly = np.round(np.array(pts)).astype(np.int32)
        width = max(1, round(float(rng.uniform(0.25, 1.5)) * s))
        cv2.polylines(canvas, [poly], False, float(rng.uniform(0.4, 1.0)), width, cv2.LINE_AA)
    return np.clip(cv2.resize(canvas, (n, n), interpolation=cv2.INTER_AREA), 0, 1)


def synthetic_foreground(
    rng: np.random.Generator, n: int, kind: str | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """A synthetic foreground layer on an n×n canvas: (premultiplied n×n×3, alpha n×n, kind).

    Kinds: ``hair`` (body + long thin strands), ``fur`` (a fringe of short strands and a noisy
    boundary), ``transparent`` (a semi-transparent or smoke-like body, its outline soft or
    hard), ``motion`` (a shape motion-blurred along a random direction), ``hard`` (an opaque
    object with sharp, ≈1 px anti-aliased edges: the alpha must stay a step there), ``wires``
    (a hard object with thin threads / cables across it). Drawn with
    :data:`SYNTHETIC_WEIGHTS`. All alphas are exact for the composite.
    """
    if kind is None:
        kind = SYNTHETIC_KINDS[int(rng.choice(len(SYNTHETIC_KINDS), p=SYNTHETIC_WEIGHTS))]
    if kind in ("hard", "wires"):
        alpha = _hard_shape(rng, n)
        if kind == "wires" or rng.random() < 0.15:
            wires = _wires(rng, n, int(rng.integers(1, 8)))
            alpha = 1 - (1 - alpha) * (1 - wires)
        colour = _palette_field(rng, n)
        if rng.random() < 0.5:  # sharp interior detail (print, seams): edges that stay inside
            detail = _hard_shape(rng, n)
            colour = (
                colour * (1 - detail[..., None])
                + rng.random(3).astype(np.float32) * detail[..., None]
            )
        alpha = np.clip(alpha, 0, 1).astype(np.float32)
        return (colour * alpha[..., None]).astype(np.float32), alpha, f"synthetic:{kind}"
    radius = n * float(rng.uniform(0.18, 0.4))
    center = (n * float(rng.uniform(0.3, 0.7)), n * float(rng.uniform(0.3, 0.7)))
    sdf = _blob_sdf(rng, n, radius, center)
    soft = float(rng.uniform(0.5, 2.0))
    body = np.clip(0.5 - sdf / (2 * soft), 0, 1).astype(np.float32)
    colour = _palette_field(rng, n)
    if kind == "hair":
        strands = _strands(
            rng,
            n,
            sdf,
            int(rng.integers(30, 160)),
            (0.1 * radius, 0.9 * radius),
            (0.3, 1.8),
            (0.4, 1.0),
        )
        alpha = 1 - (1 - body) * (1 - strands)
    elif kind == "fur":
        ang_noise = _noise(rng, n, int(rng.integers(20, 60)), 1)[..., 0]
        amp = float(rng.uniform(2, 8))
        fringe = np.clip(0.5 - (sdf - amp * (ang_noise - 0.5) * 2) / (2 * soft), 0, 1)
        strands = _strands(
            rng, n, sdf, int(rng.integers(150, 500)), (2, 0.25 * radius), (0.3, 1.0), (0.3, 0.9)
        )
        alpha = 1 - (1 - fringe) * (1 - strands)
    elif kind == "transparent":
        level = float(rng.uniform(0.15, 0.85))
        if rng.random() < 0.5:  # glass, plastic: a hard outline around the transparency
            outline = _hard_shape(rng, n)
            inner = cv2.erode((outline > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8))
            smoke = _fbm(rng, n, 1, octaves=3, base=int(rng.integers(2, 5)))[..., 0]
            opacity = np.clip(level + 0.6 * (smoke - 0.5), 0.05, 1)
            rim = float(rng.uniform(0.7, 1.0))  # glass edges are denser than the pane
            alpha = outline * np.where(inner > 0, opacity, rim)
        elif rng.random() < 0.5:
            alpha = body * level
        else:  # smoke / glass: a smooth varying transparency inside a soft blob
            smoke = _fbm(rng, n, 1, octaves=4, base=int(rng.integers(2, 6)))[..., 0]
            fade = np.clip(0.5 - sdf / (2 * max(soft, radius * 0.15)), 0, 1)
            alpha = np.clip(fade * (level + (smoke - 0.5)), 0, 1)
        if rng.random() < 0.5:  # an opaque core so the tracker mask is not empty
            core = np.clip(0.5 - (sdf + radius * 0.5) / (2 * soft), 0, 1)
            alpha = np.maximum(alpha, core)
    else:  # motion
        if rng.random() < 0.5:
            strands = _strands(
                rng,
                n,
                sdf,
                int(rng.integers(10, 80)),
                (0.1 * radius, 0.6 * radius),
                (0.5, 2.0),
                (0.5, 1.0),
            )
            body = 1 - (1 - body) * (1 - strands)
        ker = _motion_kernel(rng, float(rng.uniform(5, max(6.0, 0.15 * n))))
        premult = cv2.filter2D(colour * body[..., None], -1, ker, borderType=cv2.BORDER_CONSTANT)
        alpha = cv2.filter2D(body, -1, ker, borderType=cv2.BORDER_CONSTANT)
        alpha = np.clip(alpha, 0, 1).astype(np.float32)
        return np.minimum(premult, alpha[..., None]).astype(np.float32), alpha, f"synthetic:{kind}"
    alpha = np.clip(alpha, 0, 1).astype(np.float32)
    return (colour * alpha[..., None]).astype(np.float32), alpha, f"synthetic:{kind}"


# --------------------------------------------------------------------------------------------
# tracker-mask simulation
# --------------------------------------------------------------------------------------------
#: tracker-mask noise levels: (perfect-mask share, threshold range, max kinds, strength range)
MASK_NOISE: dict[str, tuple[float, tuple[float, float], int, tuple[float, float]]] = {
    # weak trackers: the built-in one, fast motion, low-res logits
    "heavy": (0.15, (0.2, 0.8), 3, (0.1, 0.7)),
    # good trackers (SAM2-class): mostly right, errors of a few pixels
    "mild": (0.4, (0.35, 0.65), 2, (0.05, 0.35)),
}


def simulate_tracker_mask(
    alpha: np.ndarray, rng: np.random.Generator, noise: str = "heavy"
) -> np.ndarray:
    """A plausible tracker mask (float32 {0, 1}, H×W) for a ground-truth alpha (H×W in [0, 1]).

    ``noise`` picks a level of :data:`MASK_NOISE`: with its perfect-mask share the paper's
    training mask (``α > 0.5``); otherwise the alpha thresholded at a random level in its range
    (trackers disagree on where a soft edge ends) followed by a random chain of
    :mod:`sam2matting.degrade`'s tracker errors (erode/dilate, holes, blobs, blocky
    low-resolution logits, thin parts missed, jagged boundary, shift) — the same degradations
    the oracle tracker applies in evaluation.
    """
    from ..degrade import random_degradation

    if noise not in MASK_NOISE:
        raise InputError(f"unknown mask noise {noise!r}; choose from {', '.join(MASK_NOISE)}")
    perfect_share, (lo, hi), kinds, strengths = MASK_NOISE[noise]
    a = np.asarray(alpha, np.float32)
    if rng.random() < perfect_share:
        return (a > 0.5).astype(np.float32)
    m = a > float(rng.uniform(lo, hi))
    m = random_degradation(m, rng, max_kinds=kinds, strength_range=strengths)
    if not m.any():
        m = a > 0.5
    return m.astype(np.float32)


# --------------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------------
@dataclass
class _Layer:
    name: str
    premult: np.ndarray  # uint8 h×w×3
    alpha: np.ndarray  # uint8 h×w
    band: np.ndarray  # k×2 (y, x) boundary points


def _load_training_cutouts(cfg: DataConfig) -> list[_Layer]:
    """Training-split cutouts, premultiplied, cached as uint8 under ``cache_dir/cutouts``."""
    from ..io.cutouts import DEV_FOREGROUNDS, load_cutout, training_foregrounds

    if cfg.data_root is None:
        raise InputError("training on cutouts needs data_root (../shared/data)")
    root = Path(cfg.data_root) / "matting"
    names = [n for n in training_foregrounds(root) if n not in cfg.exclude]
    leaked = sorted(set(names) & set(DEV_FOREGROUNDS))
    if leaked:  # belt and braces: the dev benchmark's cutouts never reach training
        raise InputError(f"dev-benchmark cutouts in the training split: {leaked}")
    cache = Path(cfg.cache_dir) / "cutouts"
    cache.mkdir(parents=True, exist_ok=True)
    layers = []
    for name in names:
        f = cache / f"{name}.npz"
        if f.is_file():
            d = np.load(f)
            premult, alpha = d["premult"], d["alpha"]
        else:
            c = load_cutout(root / name)
            s = min(1.0, cfg.max_cutout_side / max(c.alpha.shape))
            p, a = c.premultiplied, c.alpha
            if s < 1.0:
                size = (round(a.shape[1] * s), round(a.shape[0] * s))
                p = cv2.resize(p, size, interpolation=cv2.INTER_AREA)
                a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
            premult = np.clip(p * 255 + 0.5, 0, 255).astype(np.uint8)
            alpha = np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)
            np.savez(f, premult=premult, alpha=alpha)
        soft = (alpha > 12) & (alpha < 243)
        band = np.argwhere(soft)
        if len(band) > 20000:
            band = band[:: len(band) // 20000]
        layers.append(_Layer(name, premult, alpha, band))
    return layers


def _load_background_frames(cfg: DataConfig) -> list[np.ndarray]:
    """Every ``video_stride``-th frame of the training background videos (uint8, cached)."""
    if cfg.data_root is None or cfg.video_bg_share <= 0:
        return []
    cache = Path(cfg.cache_dir) / "backgrounds"
    cache.mkdir(parents=True, exist_ok=True)
    frames: list[np.ndarray] = []
    for video in cfg.background_videos:
        if "davis" in video.lower():
            raise InputError("DAVIS is evaluation-only: never a training background")
        f = cache / f"{Path(video).stem}_s{cfg.video_stride}.npy"
        if f.is_file():
            frames.extend(np.load(f))
            continue
        import av

        path = Path(cfg.data_root) / "videos" / video
        if not path.is_file():
            raise InputError(f"background video not found: {path}")
        got = []
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % cfg.video_stride == 0:
                    got.append(frame.to_ndarray(format="rgb24"))
        arr = np.stack(got)
        np.save(f, arr)
        frames.extend(arr)
    return frames


def _jitter_colour(rng: np.random.Generator, premult: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Brightness / contrast / saturation / hue jitter of a premultiplied float layer."""
    a = alpha[..., None]
    straight_raw = np.where(a > 1e-3, premult / np.maximum(a, 1e-3), 0).astype(np.float32)
    straight: np.ndarray = np.clip(straight_raw, 0, 1)
    if rng.random() < 0.3:
        hsv = cv2.cvtColor(straight, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0] + float(rng.uniform(-20, 20))) % 360
        hsv[..., 1] = np.clip(hsv[..., 1] * float(rng.uniform(0.7, 1.3)), 0, 1)
        straight = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    gain = float(rng.uniform(0.75, 1.25))
    contrast = float(rng.uniform(0.8, 1.2))
    straight = np.clip((straight - 0.5) * contrast + 0.5, 0, 1) * gain
    return (np.clip(straight, 0, 1) * a).astype(np.float32)


class CompositeSampler:
    """Deterministic batches of composites: ``sampler.batch(step, size)`` (see module docstring)."""

    def __init__(self, config: DataConfig, seed: int = 0) -> None:
        self.config = config
        self.seed = seed
        if config.crop % 16:
            raise ValueError("crop must be a multiple of 16")
        self.cutouts = _load_training_cutouts(config) if config.use_cutouts else []
        self.backgrounds = _load_background_frames(config)

    @property
    def sources(self) -> list[str]:
        return [c.name for c in self.cutouts]

    # -- pieces -----------------------------------------------------------------------------
    def _background(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.backgrounds and rng.random() < self.config.video_bg_share:
            fr = self.backgrounds[int(rng.integers(0, len(self.backgrounds)))]
            h, w = fr.shape[:2]
            side = int(min(h, w) * rng.uniform(0.35, 1.0))
            y = int(rng.integers(0, h - side + 1))
            x = int(rng.integers(0, w - side + 1))
            crop = fr[y : y + side, x : x + side]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            interp = cv2.INTER_AREA if side > n else cv2.INTER_LINEAR
            bg = (
                cv2.resize(np.ascontiguousarray(crop), (n, n), interpolation=interp).astype(
                    np.float32
                )
                / 255
            )
        else:
            bg = procedural_background(rng, n)
        if self.cutouts and rng.random() < self.config.distractor_share:
            p, a = self._place_cutout(
                rng, n, self.cutouts[int(rng.integers(0, len(self.cutouts)))], far=True
            )
            bg = p + (1 - a[..., None]) * bg
        return bg

    def _place_cutout(
        self, rng: np.random.Generator, n: int, layer: _Layer, far: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Warp a cutout onto an n×n canvas, the crop centred near a boundary point."""
        ah, aw = layer.alpha.shape
        ys, _xs = np.nonzero(layer.alpha[::8, ::8] > 128)
        subj_h = (ys.max() - ys.min() + 1) * 8 if ys.size else ah
        if far:
            rel = float(rng.uniform(0.3, 0.8))
        elif rng.random() < 0.6:
            rel = float(rng.uniform(0.5, 1.3))  # whole subject in view (as in videos)
        else:
            rel = float(rng.uniform(1.3, 3.0))  # close-up on the boundary
        k = rel * n / max(subj_h, 1)
        src_p, src_a = layer.premult, layer.alpha
        if k < 0.5:  # pre-shrink with area averaging so thin hair does not alias
            size = (max(8, round(aw * k * 1.5)), max(8, round(ah * k * 1.5)))
            pre = size[0] / aw
            src_p = cv2.resize(src_p, size, interpolation=cv2.INTER_AREA)
            src_a = cv2.resize(src_a, size, interpolation=cv2.INTER_AREA)
            k_rest = k / pre
        else:
            pre, k_rest = 1.0, k
        if far:
            py, px = float(rng.uniform(0, ah)), float(rng.uniform(0, aw))
            target = (float(rng.choice([-0.2, 1.2])) * n, float(rng.uniform(0, n)))
        else:
            by, bx = (
                layer.band[int(rng.integers(0, len(layer.band)))]
                if len(layer.band)
                else (ah / 2, aw / 2)
            )
            py, px = float(by), float(bx)
            target = (n * float(rng.uniform(0.3, 0.7)), n * float(rng.uniform(0.3, 0.7)))
        th = math.radians(float(rng.uniform(-15, 15)))
        flip = -1.0 if rng.random() < 0.5 else 1.0
        c, s = k_rest * math.cos(th), k_rest * math.sin(th)
        m = np.array([[c * flip, -s, 0.0], [s * flip, c, 0.0]])
        sx, sy = px * pre, py * pre
        m[0, 2] = target[0] - (m[0, 0] * sx + m[0, 1] * sy)
        m[1, 2] = target[1] - (m[1, 0] * sx + m[1, 1] * sy)
        p = (
            cv2.warpAffine(src_p, m, (n, n), flags=cv2.INTER_LINEAR, borderValue=0).astype(
                np.float32
            )
            / 255
        )
        a = (
            cv2.warpAffine(src_a, m, (n, n), flags=cv2.INTER_LINEAR, borderValue=0).astype(
                np.float32
            )
            / 255
        )
        p = np.minimum(p, a[..., None])
        if not far:
            p = _jitter_colour(rng, p, a)
        return p, a

    def _textured_hard(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """A hard-edged shape (:func:`_hard_shape`) filled with a real frame crop (or, without
        background videos, a procedural texture); its alpha is exact for the composite."""
        alpha = _hard_shape(rng, n)
        if self.backgrounds:
            fr = self.backgrounds[int(rng.integers(0, len(self.backgrounds)))]
            h, w = fr.shape[:2]
            side = int(min(h, w) * rng.uniform(0.2, 0.8))
            y = int(rng.integers(0, h - side + 1))
            x = int(rng.integers(0, w - side + 1))
            crop = np.ascontiguousarray(fr[y : y + side, x : x + side])
            interp = cv2.INTER_AREA if side > n else cv2.INTER_LINEAR
            texture = cv2.resize(crop, (n, n), interpolation=interp).astype(np.float32) / 255
        else:
            texture = procedural_background(rng, n)
        return (texture * alpha[..., None]).astype(np.float32), alpha.astype(np.float32)

    def _foreground(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, str]:
        share = self.config.textured_hard_share
        if share > 0 and rng.random() < share:  # (no draw at 0: older runs stay reproducible)
            p, a = self._textured_hard(rng, n)
            return p, a, "synthetic:textured-hard"
        if not self.cutouts or rng.random() < self.config.synthetic_share:
            return synthetic_foreground(rng, n)
        layer = self.cutouts[int(rng.integers(0, len(self.cutouts)))]
        p, a = self._place_cutout(rng, n, layer)
        if rng.random() < 0.2:  # motion blur
            ker = _motion_kernel(rng, float(rng.uniform(3, max(4.0, 0.06 * n))))
            p = cv2.filter2D(p, -1, ker, borderType=cv2.BORDER_CONSTANT)
            a = np.clip(cv2.filter2D(a, -1, ker, borderType=cv2.BORDER_CONSTANT), 0, 1)
            p = np.minimum(p, a[..., None])
        return p, a, layer.name

    def sample(
        self, rng: np.random.Generator, native: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
        """One composite: (native uint8 N×N×3, native α, working RGB c×c×3 float, working α, mask, name)."""
        c = self.config.crop
        for _ in range(8):
            p, a, name = self._foreground(rng, native)
            if (a > 0.5).mean() > 0.01 and ((a > 0.02) & (a < 0.98)).any():
                break
        bg = self._background(rng, native)
        comp = p + (1 - a[..., None]) * bg
        if rng.random() < 0.15:
            comp = cv2.GaussianBlur(comp, (3, 3), float(rng.uniform(0.3, 1.0)))
        if rng.random() < 0.3:
            comp = comp + rng.normal(0, float(rng.uniform(0.005, 0.03)), comp.shape).astype(
                np.float32
            )
        img8 = np.clip(comp * 255 + 0.5, 0, 255).astype(np.uint8)
        if rng.random() < 0.2:
            ok, enc = cv2.imencode(
                ".jpg", img8, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 95))]
            )
            if ok:
                img8 = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
        if native != c:
            work = cv2.resize(img8, (c, c), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
            a_work = cv2.resize(a, (c, c), interpolation=cv2.INTER_AREA)
        else:
            work, a_work = img8.astype(np.float32) / 255, a.copy()
        mask = simulate_tracker_mask(a_work, rng, self.config.mask_noise)
        return img8, a.astype(np.float32), work, a_work.astype(np.float32), mask, name

    def batch(self, step: int, size: int) -> Batch:
        """Batch number ``step`` (deterministic in seed and step); one native ratio per batch."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, int(step)]))
        ratio = float(rng.choice(np.asarray(self.config.native_ratios)))
        native = round(self.config.crop * ratio / 16) * 16
        parts = [self.sample(rng, native) for _ in range(size)]
        return Batch(
            native=np.stack([q[0] for q in parts]),
            native_alpha=np.stack([q[1] for q in parts]),
            image=np.stack([q[2] for q in parts]),
            alpha=np.stack([q[3] for q in parts]),
            mask=np.stack([q[4] for q in parts]),
            kinds=[q[5] for q in parts],
        )


def describe_split(config: DataConfig, sources: Sequence[str]) -> dict[str, object]:
    """The data section of a weights manifest: which cutouts/videos were used, which held out."""
    from ..io.cutouts import DEV_FOREGROUNDS

    return {
        "cutouts_train": list(sources),
        "cutouts_held_out_for_dev_benchmark": list(DEV_FOREGROUNDS),
        "synthetic_foregrounds": list(SYNTHETIC_KINDS),
        "synthetic_share": config.synthetic_share,
        "background_videos": [f"videos/{v}" for v in config.background_videos]
        if config.video_bg_share > 0
        else [],
        "procedural_backgrounds_share": 1 - config.video_bg_share,
        "davis": "not used (evaluation only)",
        "crop": config.crop,
        "native_ratios": list(config.native_ratios),
    }
