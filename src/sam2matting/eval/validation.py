"""The validation benchmark: composites from sources the heads never train on, by category.

The dev benchmark (:mod:`.synth`) was used to choose stages and settings, so its figures
overstate; this set is the judge. It is built from sources that training never touches and is
never used to choose a setting (thresholds and training choices are picked on training-split
composites, :mod:`benchmarks.tune_roi_threshold`; this set only reports):

- **hair** / **fur**: the held-out real cutouts (:data:`.synth.DEV_FOREGROUNDS`: P3M portraits,
  AM-2k / GFM animals) over backgrounds training never sees (``01_dog``, ``05_default_juggle``,
  ``bedroom``, DAVIS) with new motions. These subjects are also the dev benchmark's: the only
  real soft cutouts that training never used.
- **hard** edges: real object silhouettes from DAVIS annotations (car, swan, horse and rider,
  dog), with the DAVIS frame's own colour, made into an exact anti-aliased alpha (smoothed at
  4× and area-averaged: a one-pixel ramp, as a camera sees a hard edge). DAVIS is
  evaluation-only, and training never touches it.
- **transparent**: DAVIS silhouettes as glass / veils (a varying opacity of 0.25–0.8 inside an
  opaque rim), a construction training does not use.
- **thin**: dew-covered spider webs (radial spokes, a spiral, sub-pixel threads, dew drops, an
  opaque body), drawn here only.
- **motion**: DAVIS silhouettes smeared along a straight path (exact: P and α blurred alike)
  and moved with a full-interval shutter.

Every alpha is exact for its composite (premultiplied layers, :func:`.synth.render_frames`).
``benchmark.json`` records each clip's category; ``sam2matting eval`` prints a per-category
table when it finds one.

Two mask conditions are scored separately with the same folder: *clean* (``--tracker oracle``:
α > 0.5 on every frame) and *tracker-like* (``--tracker oracle --perturbation sam2:0.5``: the
mask as SAM 2 hands it over, 256² logits upsampled and thresholded, plus thin parts missed and a
boundary offset; see :mod:`sam2matting.degrade`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..io.cutouts import _cut_edges, smooth_silhouette
from .synth import (
    DEV_FOREGROUNDS,
    DIFFICULTIES,
    ClipSpec,
    Cutout,
    _versions,
    load_cutout,
    render_clip,
    write_manifest,
)

__all__ = [
    "CATEGORIES",
    "ValidationClip",
    "build_validation",
    "davis_silhouette_cutout",
    "make_cutout",
    "spider_web_cutout",
    "tuning_clips",
    "validation_clips",
]

#: the categories of the per-category breakdown
CATEGORIES = ("hard", "hair", "fur", "transparent", "thin", "motion")

#: backgrounds training never sees (training: 02_cups, 03_blocks, 04_coffee, procedural)
VALIDATION_BACKGROUNDS = (
    "videos/01_dog.mp4",
    "videos/05_default_juggle.mp4",
    "videos/bedroom.mp4",
    "davis/dog",
    "davis/kite-surf",
    "davis/libby",
)


@dataclass(frozen=True)
class ValidationClip:
    """One validation clip: its render spec, its category and how its foreground is made.

    ``source``: ``"cutout:<name>"`` (a real cutout), ``"davis:<seq>:<frame>:<variant>"``
    (variant ``hard``, ``glass`` or ``smear``) or ``"web:<seed>"``.
    """

    spec: ClipSpec
    category: str
    source: str


def _fbm(rng: np.random.Generator, h: int, w: int, base: int) -> np.ndarray:
    """Smooth noise in [0, 1] (a few octaves of upsampled uniform noise)."""
    out = np.zeros((h, w), np.float32)
    total = 0.0
    for octave in range(4):
        cells = base * 2**octave
        small = rng.random((cells, cells)).astype(np.float32)
        out += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) / 2**octave
        total += 1 / 2**octave
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def davis_silhouette_cutout(
    data_root: str | Path, sequence: str, frame: int, variant: str, seed: int = 0
) -> Cutout:
    """A foreground from a DAVIS annotation (evaluation only) with the frame's own colour.

    ``variant``: ``hard`` (opaque, a one-pixel anti-aliased edge), ``glass`` (opacity varying in
    0.25–0.8 inside an opaque rim) or ``smear`` (the hard layer blurred along a straight path of
    12–28 px, colour and alpha alike). Cropped to the object plus a margin.
    """
    root = Path(data_root) / "davis"
    img_path = root / "JPEGImages" / sequence / f"{frame:05d}.jpg"
    ann_path = root / "Annotations" / sequence / f"{frame:05d}.png"
    image = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
    ann = cv2.imread(str(ann_path), cv2.IMREAD_GRAYSCALE)
    if image is None or ann is None:
        raise InputError(f"cannot read DAVIS frame {sequence}/{frame:05d} under {root}")
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    mask = ann > 127
    # keep the largest component: stray annotation specks are not part of the object
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    if count <= 1:
        raise InputError(f"DAVIS frame {sequence}/{frame:05d} has an empty annotation")
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = labels == biggest
    rng = np.random.default_rng([seed, frame, len(sequence)])
    alpha = smooth_silhouette(mask)
    premult = rgb * alpha[..., None]
    if variant == "glass":
        inner = cv2.erode(
            (alpha > 0.5).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
        )
        inner_soft = cv2.GaussianBlur(inner.astype(np.float32), (0, 0), 1.0)
        opacity = 0.25 + 0.55 * _fbm(rng, alpha.shape[0], alpha.shape[1], base=3)
        alpha = alpha * (1.0 - inner_soft * (1.0 - opacity))
        tint = np.array(rng.uniform(0.6, 1.0, 3), np.float32)
        premult = np.clip(rgb * 0.5 + 0.5 * tint, 0, 1) * alpha[..., None]
    elif variant == "smear":
        length = float(rng.uniform(12, 28))
        angle = float(rng.uniform(0, 180))
        k = math.ceil(length) | 1
        line = np.zeros((k, k), np.float32)
        line[k // 2, :] = 1.0
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), angle, 1.0)
        kernel = cv2.warpAffine(line, rot, (k, k)).astype(np.float32)
        kernel = kernel / max(float(kernel.sum()), 1e-6)
        pad = k
        alpha = cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        premult = cv2.copyMakeBorder(premult, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        alpha = cv2.filter2D(alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        premult = cv2.filter2D(premult, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    elif variant != "hard":
        raise InputError(f"unknown silhouette variant {variant!r}; choose hard, glass or smear")
    return make_cutout(f"davis-{sequence}-{variant}", premult, alpha, margin=12)


def opaque_cutout(cutout: Cutout) -> Cutout:
    """``cutout`` made a hard-edged object: its alpha > 0.5 as an exact anti-aliased silhouette
    (:func:`smooth_silhouette`), its own colours (premultiplied by the new alpha)."""
    alpha = np.asarray(cutout.alpha, np.float32)
    fg = np.clip(cutout.premultiplied / np.maximum(alpha, 1e-3)[..., None], 0.0, 1.0)
    hard = smooth_silhouette(alpha > 0.5)
    return Cutout(f"{cutout.name}-opaque", fg * hard[..., None], hard, dict(cutout.cut_edges))


def make_cutout(name: str, premult: np.ndarray, alpha: np.ndarray, margin: int = 8) -> Cutout:
    """A :class:`.synth.Cutout` cropped to ``alpha > 0`` plus ``margin`` (clipped to the image)."""
    a = np.clip(alpha.astype(np.float32), 0, 1)
    ys = np.flatnonzero((a > 1e-3).any(axis=1))
    xs = np.flatnonzero((a > 1e-3).any(axis=0))
    if ys.size == 0:
        raise InputError(f"cutout {name!r} has an empty alpha")
    y0, y1 = max(0, ys[0] - margin), min(a.shape[0], ys[-1] + 1 + margin)
    x0, x1 = max(0, xs[0] - margin), min(a.shape[1], xs[-1] + 1 + margin)
    a = np.ascontiguousarray(a[y0:y1, x0:x1])
    p = np.minimum(np.clip(premult[y0:y1, x0:x1].astype(np.float32), 0, 1), a[..., None])
    return Cutout(name, np.ascontiguousarray(p), a, _cut_edges(a))


def spider_web_cutout(seed: int, size: int = 420) -> Cutout:
    """A dew-covered spider web on a ``size``² canvas: spokes, a spiral of sub-pixel threads,
    dew drops along them and an opaque body at the hub (so a tracker mask is not empty)."""
    rng = np.random.default_rng([seed, 4242])
    s = 4  # supersampling
    n = size * s
    canvas = np.zeros((n, n), np.float32)
    c = n / 2.0
    radius = 0.46 * n
    spokes = int(rng.integers(14, 24))
    angles = np.sort(rng.uniform(0, 2 * np.pi, spokes))
    for a in angles:
        end = (c + radius * math.cos(a) * rng.uniform(0.8, 1.0), c + radius * math.sin(a))
        width = int(rng.integers(2, 5))  # 0.5–1.25 px at the output size
        cv2.line(
            canvas,
            (round(c), round(c)),
            (round(end[0]), round(end[1])),
            float(rng.uniform(0.6, 0.95)),
            width,
            cv2.LINE_AA,
        )
    turns = int(rng.integers(10, 18))
    pts = []
    for i in range(turns * 64):
        t = i / 64.0
        r = 0.08 * n + (radius * 0.92 - 0.08 * n) * t / turns
        a = 2 * np.pi * t
        pts.append((c + r * math.cos(a), c + r * math.sin(a)))
    poly = np.round(np.array(pts)).astype(np.int32)
    cv2.polylines(canvas, [poly], False, float(rng.uniform(0.5, 0.85)), 2, cv2.LINE_AA)
    # dew: small bright drops on the threads
    on = np.argwhere(canvas > 0.3)
    for y, x in on[rng.choice(len(on), size=min(len(on), 260), replace=False)]:
        cv2.circle(canvas, (int(x), int(y)), int(rng.integers(3, 8)), 1.0, -1, cv2.LINE_AA)
    # the spider at the hub
    cv2.ellipse(canvas, (round(c), round(c)), (int(0.05 * n), int(0.035 * n)), 30, 0, 360, 1.0, -1)
    alpha = np.clip(cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA), 0, 1)
    silver = np.array([0.86, 0.88, 0.92], np.float32)
    colour = np.broadcast_to(silver, (size, size, 3)).copy()
    hub = np.hypot(*np.mgrid[-size / 2 : size / 2, -size / 2 : size / 2]) < 0.06 * size
    colour[hub] = (0.18, 0.12, 0.08)
    return make_cutout(f"web-{seed}", colour * alpha[..., None], alpha, margin=6)


def validation_clips(seed: int = 0, frames: int = 30) -> list[ValidationClip]:
    """The validation clips (512×288, ``frames`` each): 3 hair, 4 fur, 3 hard, 2 transparent,
    2 thin, 2 motion. Backgrounds from :data:`VALIDATION_BACKGROUNDS` only."""
    rows: list[tuple[str, str, str, str]] = [
        # (category, source, background, difficulty)
        ("hair", "cutout:p3m_p_07141906", "videos/05_default_juggle.mp4", "medium"),
        ("hair", "cutout:p3m_p_09ba26b4", "davis/libby", "easy"),
        ("hair", "cutout:p3m_p_22fc0130", "videos/bedroom.mp4", "hard"),
        ("fur", "cutout:am2k_sample1", "videos/01_dog.mp4", "easy"),
        ("fur", "cutout:am2k_sample11", "davis/kite-surf", "medium"),
        ("fur", "cutout:gfm_1", "videos/bedroom.mp4", "medium"),
        ("fur", "cutout:gfm_2", "davis/dog", "hard"),
        ("hard", "davis:car-shadow:20:hard", "videos/05_default_juggle.mp4", "easy"),
        ("hard", "davis:blackswan:10:hard", "videos/bedroom.mp4", "easy"),
        ("hard", "davis:horsejump-high:0:hard", "davis/kite-surf", "medium"),
        ("transparent", "davis:blackswan:30:glass", "videos/01_dog.mp4", "easy"),
        ("transparent", "davis:car-shadow:5:glass", "davis/libby", "medium"),
        ("thin", "web:1", "videos/bedroom.mp4", "easy"),
        ("thin", "web:2", "davis/dog", "medium"),
        ("motion", "davis:dog:30:smear", "videos/01_dog.mp4", "hard"),
        ("motion", "davis:horsejump-high:25:smear", "videos/bedroom.mp4", "hard"),
    ]
    out: list[ValidationClip] = []
    rng = np.random.default_rng(np.random.SeedSequence([seed, 31337]))
    for i, (category, source, background, difficulty) in enumerate(rows):
        if difficulty not in DIFFICULTIES:  # pragma: no cover - static table
            raise InputError(f"unknown difficulty {difficulty}")
        label = source.split(":")[1]
        name = f"{i:02d}_{category}_{label}"
        start = int(rng.integers(0, 60)) if background.startswith("videos/") else 0
        spec = ClipSpec(name, source, background, 512, 288, frames, difficulty, seed, start)
        out.append(ValidationClip(spec, category, source))
    return out


def tuning_clips(seed: int = 0, frames: int = 20) -> list[ValidationClip]:
    """Clips for *choosing* settings (never the validation set): training-split cutouts and the
    training generator's synthetic foregrounds (hard, wires, transparent, motion) over the
    training background videos, 512×288."""
    rows: list[tuple[str, str, str, str]] = [
        ("hair", "train:p3m_p_514ca06a", "videos/02_cups.mp4", "medium"),
        ("hair", "train:p3m_p_71bcce3a", "videos/03_blocks.mp4", "hard"),
        ("fur", "train:am2k_sample12", "videos/04_coffee.mp4", "medium"),
        ("fur", "train:am2k_sample3", "videos/02_cups.mp4", "easy"),
        ("fur", "train:gfm_3", "videos/03_blocks.mp4", "medium"),
        ("fur", "train:gfm_4", "videos/04_coffee.mp4", "hard"),
        ("hard", "synth:hard:1", "videos/02_cups.mp4", "easy"),
        ("hard", "synth:hard:2", "videos/03_blocks.mp4", "medium"),
        ("thin", "synth:wires:3", "videos/04_coffee.mp4", "easy"),
        ("transparent", "synth:transparent:4", "videos/02_cups.mp4", "medium"),
        ("motion", "synth:motion:5", "videos/03_blocks.mp4", "hard"),
        # real, textured hard-edged objects: training cutouts made opaque (as the validation
        # set's DAVIS silhouettes, from sources training may use)
        ("hard", "trainhard:p3m_p_818e689d", "videos/04_coffee.mp4", "medium"),
        ("hard", "trainhard:am2k_sample13", "videos/02_cups.mp4", "easy"),
        ("hard", "trainhard:p3m_p_bac3c1ff", "videos/03_blocks.mp4", "medium"),
        # DAVIS silhouettes as validation's hard edges are made (the frame's own colour at the
        # edge), from the tuning-split sequences only (validation's come from the others)
        ("hard", "davis:libby:10:hard", "videos/02_cups.mp4", "medium"),
        ("hard", "davis:kite-surf:0:hard", "videos/04_coffee.mp4", "easy"),
    ]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4711]))
    out = []
    for i, (category, source, background, difficulty) in enumerate(rows):
        name = f"t{i:02d}_{category}_{source.split(':')[1]}"
        start = int(rng.integers(0, 100))
        spec = ClipSpec(name, source, background, 512, 288, frames, difficulty, seed, start)
        out.append(ValidationClip(spec, category, source))
    return out


def _cutout_for(source: str, data_root: Path) -> Cutout:
    kind, _, rest = source.partition(":")
    if kind == "cutout":
        if rest not in DEV_FOREGROUNDS:
            raise InputError(f"validation cutout {rest!r} is not held out from training")
        return load_cutout(data_root / "matting" / rest)
    if kind == "train":
        if rest in DEV_FOREGROUNDS:
            raise InputError(f"tuning cutout {rest!r} is held out: it may not be tuned on")
        return load_cutout(data_root / "matting" / rest)
    if kind == "trainhard":
        if rest in DEV_FOREGROUNDS:
            raise InputError(f"tuning cutout {rest!r} is held out: it may not be tuned on")
        return opaque_cutout(load_cutout(data_root / "matting" / rest))
    if kind == "davis":
        seq, frame, variant = rest.split(":")
        return davis_silhouette_cutout(data_root, seq, int(frame), variant)
    if kind == "web":
        return spider_web_cutout(int(rest))
    if kind == "synth":  # the training generator's foregrounds (tuning clips only)
        from ..train.data import synthetic_foreground

        name, _, number = rest.partition(":")
        premult, alpha, _ = synthetic_foreground(
            np.random.default_rng([int(number), 777]), 384, name
        )
        return make_cutout(f"synth-{name}-{number}", premult, alpha)
    raise InputError(f"unknown validation source {source!r}")


def build_validation(
    data_root: str | Path,
    out_dir: str | Path,
    *,
    seed: int = 0,
    frames: int = 30,
    clips: Sequence[ValidationClip] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Render the validation set into ``out_dir`` (RVM layout + ``benchmark.json`` with
    ``categories`` + ``SHA256SUMS``). Needs ``../shared/data`` (DAVIS, cutouts, videos)."""
    root = Path(data_root)
    for sub in ("matting", "davis", "videos"):
        if not (root / sub).is_dir():
            raise InputError(f"{root}: no {sub}/ folder (expected ../shared/data)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    todo = list(clips) if clips is not None else validation_clips(seed, frames)
    for clip in todo:
        if progress is not None:
            progress(f"{clip.spec.name}: {clip.source} over {clip.spec.background}")
        render_clip(clip.spec, root, out, _cutout_for(clip.source, root))
    write_manifest(out)
    meta = {
        "format": "rvm: <clip>/{com,pha,fgr,bgr}/NNNN.png, <clip>/mask/0000.png = first-frame alpha > 0.5",
        "purpose": "validation: sources training never touches; report only, never tune",
        "clips": [asdict(c.spec) for c in todo],
        "sources": {c.spec.name: c.source for c in todo},
        "categories": {c.spec.name: c.category for c in todo},
        "difficulties": {k: asdict(v) for k, v in DIFFICULTIES.items()},
        "versions": _versions(),
    }
    (out / "benchmark.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out
