"""The built-in tracker on real footage: DAVIS J&F from the mask and from its box, first-frame J
from a box and from one click on DAVIS and on the shared matting cutouts, J on synthetic fast
motion under a panning camera and on synthetic appearance changes, and tracking speed at
512×288.

    python benchmarks/bench_builtin.py                    # everything, writes results/builtin_tracker.{json,md}
    python benchmarks/bench_builtin.py --only davis --seq dog,libby --opt model_update_rate=0.1
    python benchmarks/bench_builtin.py --only speed
    python benchmarks/bench_builtin.py --only motion    # synthetic, no data needed beyond the check
    python benchmarks/bench_builtin.py --only light     # synthetic light / exposure / turning clips
    python benchmarks/bench_builtin.py --only texture --opt embed_strength=1   # synthetic, same colours
    python benchmarks/bench_builtin.py --only still     # still cameras: the clean plate off / on
    python benchmarks/bench_builtin.py --only occluders # thin poles sweeping across a cutout, and without

DAVIS is evaluation-only. Settings are chosen on the *tuning* sequences (``TUNE``) and on the
synthetic checks in the tests; the other DAVIS sequences are reported as held-out, separately.
J = IoU, F = DAVIS boundary F; first and last frames excluded from the sequence means (DAVIS
protocol). The box prompt is the bounding box of the true first-frame mask.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
#: the DAVIS sequences settings were tuned on; the rest are held out (fixed before tuning).
#: car-shadow moved from held-out to tuning in issue 14's fifth session (studied frame by
#: frame there; its figures from then on are tuned figures): blackswan and horsejump-high
#: stay held out.
TUNE = ("dog", "kite-surf", "libby", "car-shadow")


def tuning_image(name: str) -> bool:
    """Whether a first-frame benchmark image belongs to the tuning split: the DAVIS tuning
    sequences' first frames and the training-split matting cutouts (with their small-object
    composites, ``small/<cutout>``); the other DAVIS sequences and the cutouts the dev benchmark
    keeps (``DEV_FOREGROUNDS``) are held out. (Before issue 14's first-mask round the click
    score was tuned on the AM-2k and GFM cutouts and held out P3M: see CHANGELOG.)"""
    from sam2matting.io.cutouts import DEV_FOREGROUNDS

    if name.startswith("davis/"):
        return name.removeprefix("davis/") in TUNE
    return name.removeprefix("small/") not in DEV_FOREGROUNDS


def small_objects(
    data: Path, height_share: float = 0.3, size: tuple[int, int] = (854, 480)
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Small objects in wide frames: each matting cutout, scaled so its subject is
    ``height_share`` of the frame's height, pasted (alpha-blended) into a ``size`` frame made
    from the photo of the next cutout of the same split (tuning / held-out), at a position drawn
    from a generator seeded by its index (on the bottom edge when the subject is cut off at its
    photo's bottom). Returns (``small/<cutout>``, RGB uint8, truth = alpha > 0.5)."""
    import cv2

    from sam2matting.eval.datasets import read_alpha
    from sam2matting.io.readers import _load_image

    width, height = size
    names = sorted(p.name for p in (data / "matting").iterdir() if (p / "alpha.png").is_file())
    out: list[tuple[str, np.ndarray, np.ndarray]] = []
    for split in (True, False):
        group = [n for n in names if tuning_image(n) == split]
        photos = {
            n: _load_image(next(p for p in (data / "matting" / n).iterdir() if p.stem == "image"))
            for n in group
        }
        for i, name in enumerate(group):
            photo = photos[name].astype(np.float32)
            alpha = read_alpha(data / "matting" / name / "alpha.png")
            if alpha.shape != photo.shape[:2]:
                continue
            bg = photos[group[(i + 1) % len(group)]]
            k = max(width / bg.shape[1], height / bg.shape[0])
            bg_size = (int(np.ceil(bg.shape[1] * k)), int(np.ceil(bg.shape[0] * k)))
            frame = cv2.resize(bg, bg_size, interpolation=cv2.INTER_AREA)[:height, :width]
            frame = frame.astype(np.float32)
            ys = np.flatnonzero((alpha > 0.05).any(axis=1))
            xs = np.flatnonzero((alpha > 0.05).any(axis=0))
            y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
            k = height_share * height / (y1 - y0)
            k = min(k, 0.9 * width / (x1 - x0))
            tw, th = max(1, round((x1 - x0) * k)), max(1, round((y1 - y0) * k))
            fg = cv2.resize(photo[y0:y1, x0:x1], (tw, th), interpolation=cv2.INTER_AREA)
            al = cv2.resize(alpha[y0:y1, x0:x1], (tw, th), interpolation=cv2.INTER_AREA)[..., None]
            rng = np.random.default_rng(i)
            px = int(rng.integers(0, width - tw + 1))
            py = height - th if y1 >= alpha.shape[0] - 1 else int(rng.integers(0, height - th + 1))
            region = frame[py : py + th, px : px + tw]
            frame[py : py + th, px : px + tw] = fg * al + region * (1 - al)
            truth = np.zeros((height, width), bool)
            truth[py : py + th, px : px + tw] = al[..., 0] > 0.5
            image = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
            out.append((f"small/{name}", image, truth))
    return out


def run_small(data: Path, options: dict[str, Any]) -> dict[str, dict[str, float]]:
    """First-frame J from a box and from one click on :func:`small_objects`."""
    from sam2matting.eval.metrics import jaccard
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import build
    from sam2matting.types import Box, Points

    out: dict[str, dict[str, float]] = {"box": {}, "click": {}}
    for name, image, truth in small_objects(data):
        for mode, prompt in (
            ("box", Box(*_box_of(truth), frame=0, object_id=1)),
            ("click", Points((interior_point(truth),), (1,), frame=0, object_id=1)),
        ):
            session = build(**options).open(ArraySource([image]))
            session.add_prompt(prompt)
            tf = next(session.propagate(0))
            out[mode][name] = jaccard(tf.objects[1].mask(*truth.shape), truth)
            session.close()
        print(
            f"{name:24s} first-frame J from box {out['box'][name]:.3f}, one click {out['click'][name]:.3f}",
            flush=True,
        )
    return out


def _box_of(mask: np.ndarray) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _jittered(frames: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """The frames with −1, 0 or +1 added to every channel of every pixel (clipped to 0–255),
    drawn from ``seed`` and the frame's position: an invisible change, as re-encoding or
    another decoder would make."""
    out = []
    for i, im in enumerate(frames):
        rng = np.random.default_rng([seed, i])
        noise = rng.integers(-1, 2, im.shape, dtype=np.int16)
        out.append(np.clip(im.astype(np.int16) + noise, 0, 255).astype(np.uint8))
    return out


def _track_davis(
    frames: list[np.ndarray], gts: list[np.ndarray], mode: str, options: dict[str, Any]
) -> dict[str, Any]:
    """One DAVIS run from the first frame's mask or its box: J, F, confidence per frame."""
    from sam2matting.eval.metrics import boundary_f, jaccard
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import build
    from sam2matting.types import Box, MaskPrompt

    tracker = build(**options)
    session = tracker.open(ArraySource(frames))
    prompt = (
        MaskPrompt(gts[0], frame=0, object_id=1)
        if mode == "mask"
        else Box(*_box_of(gts[0]), frame=0, object_id=1)
    )
    session.add_prompt(prompt)
    js, fs, scores, lost = [], [], [], []
    seconds = 0.0
    it = session.propagate(0)
    while True:
        t1 = time.perf_counter()
        tf = next(it, None)
        seconds += time.perf_counter() - t1
        if tf is None:
            break
        h, w = gts[tf.index].shape
        track = tf.objects.get(1)
        pred = track.mask(h, w) if track is not None else np.zeros((h, w), bool)
        js.append(jaccard(pred, gts[tf.index]))
        fs.append(boundary_f(pred, gts[tf.index]))
        scores.append(track.score if track is not None else 0.0)
        if scores[-1] < 0.5:
            lost.append(tf.index)
    session.close()
    inner_j, inner_f = (js[1:-1], fs[1:-1]) if len(js) > 2 else (js, fs)
    return {
        "first_j": js[0],
        "j": float(np.mean(inner_j)),
        "f": float(np.mean(inner_f)),
        "jf": float((np.mean(inner_j) + np.mean(inner_f)) / 2),
        "ms_per_frame": 1000 * seconds / len(frames),
        "min_score": float(np.min(scores)),
        "j_curve": [round(float(v), 3) for v in js],
        "score_curve": [round(float(v), 2) for v in scores],
        "lost_frames": lost,
    }


def run_davis(
    data: Path,
    sequences: list[str] | None,
    options: dict[str, Any],
    modes: list[str],
    max_frames: int | None = None,
    stride: int = 1,
    reverse: bool = False,
    jitter: int = 0,
) -> dict[str, Any]:
    """``stride``: keep every ``stride``-th frame (displacements × ``stride``: DAVIS made
    fast). ``reverse``: play each sequence backwards, prompted on its last frame (after
    ``max_frames``, before ``stride``): the same scenes with other motion, occlusions and
    first masks, on which no setting was chosen. ``jitter``: also run each sequence that many
    times on frames changed by at most one grey level (:func:`_jittered`), to show how much
    of a figure is luck (``jitter_jf``: their J&F)."""
    from sam2matting.eval.datasets import read_davis

    davis = read_davis(data / "davis", sequences)
    out: dict[str, Any] = {}
    for clip in davis:
        with clip.source() as src:
            frames = [im for _, im in src.iter_frames(0, max_frames)]
        order = list(range(len(frames)))[::-1] if reverse else list(range(len(frames)))
        order = order[::stride]
        gts = [clip.read_ground_truth(i)[1][1] for i in order]
        frames = [frames[i] for i in order]
        row: dict[str, Any] = {"frames": len(frames)}
        for mode in modes:
            row[mode] = _track_davis(frames, gts, mode, options)
            if jitter > 0:
                # the same run on frames changed by at most one grey level (seeds 1..jitter)
                row[mode]["jitter_jf"] = [
                    _track_davis(_jittered(frames, seed), gts, mode, options)["jf"]
                    for seed in range(1, jitter + 1)
                ]
        out[clip.name] = row
        print(
            f"{clip.name:15s} "
            + "  ".join(
                f"{m}: J&F {row[m]['jf']:.3f} (J {row[m]['j']:.3f} F {row[m]['f']:.3f}, first J {row[m]['first_j']:.3f})"
                for m in modes
            ),
            flush=True,
        )
    return out


def run_cutouts(data: Path, options: dict[str, Any]) -> dict[str, float]:
    """First-frame J from the bounding box of alpha > 0.5 on each matting cutout photo."""
    from sam2matting.eval.datasets import read_alpha
    from sam2matting.eval.metrics import jaccard
    from sam2matting.io.readers import ArraySource, _load_image
    from sam2matting.trackers.builtin import build
    from sam2matting.types import Box

    out: dict[str, float] = {}
    for folder in sorted((data / "matting").iterdir()):
        image_path = next(p for p in folder.iterdir() if p.stem == "image")
        image = _load_image(image_path)
        truth = read_alpha(folder / "alpha.png") > 0.5
        if truth.shape != image.shape[:2]:
            continue
        session = build(**options).open(ArraySource([image]))
        session.add_prompt(Box(*_box_of(truth), frame=0, object_id=1))
        tf = next(session.propagate(0))
        pred = tf.objects[1].mask(*truth.shape)
        out[folder.name] = jaccard(pred, truth)
        session.close()
        print(f"{folder.name:18s} first-frame J from box {out[folder.name]:.3f}", flush=True)
    return out


def interior_point(mask: np.ndarray) -> tuple[float, float]:
    """The click a user would give: the mask's most interior pixel (maximum of its distance
    transform, the frame's edge counting as boundary), as (x, y) pixel-centre coordinates."""
    import cv2

    padded = np.pad(mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(x) + 0.5, float(y) + 0.5


def run_clicks(data: Path, options: dict[str, Any]) -> dict[str, float]:
    """First-frame J from one click at the object's most interior point, on the matting cutouts
    and the DAVIS first frames (the same 29 images as the box figure)."""
    from sam2matting.eval.datasets import read_alpha, read_davis
    from sam2matting.eval.metrics import jaccard
    from sam2matting.io.readers import ArraySource, _load_image
    from sam2matting.trackers.builtin import build
    from sam2matting.types import Points

    items: list[tuple[str, np.ndarray, np.ndarray]] = []
    for folder in sorted((data / "matting").iterdir()):
        image_path = next(p for p in folder.iterdir() if p.stem == "image")
        image = _load_image(image_path)
        truth = read_alpha(folder / "alpha.png") > 0.5
        if truth.shape == image.shape[:2]:
            items.append((folder.name, image, truth))
    for clip in read_davis(data / "davis", None):
        with clip.source() as src:
            image = next(im for _, im in src.iter_frames(0, 1))
        items.append((f"davis/{clip.name}", image, clip.read_ground_truth(0)[1][1]))
    out: dict[str, float] = {}
    for name, image, truth in items:
        session = build(**options).open(ArraySource([image]))
        session.add_prompt(Points((interior_point(truth),), (1,), frame=0, object_id=1))
        tf = next(session.propagate(0))
        out[name] = jaccard(tf.objects[1].mask(*truth.shape), truth)
        session.close()
        print(f"{name:18s} first-frame J from one click {out[name]:.3f}", flush=True)
    return out


def run_speed(data: Path, options: dict[str, Any], frames: int = 120) -> dict[str, Any]:
    """Tracking alone at 512×288: 01_dog decoded and resized beforehand, one box prompt."""
    import cv2

    from sam2matting.io.readers import ArraySource, open_source
    from sam2matting.trackers.builtin import build
    from sam2matting.types import Box

    with open_source(data / "videos" / "01_dog.mp4") as src:
        clip = [
            cv2.resize(im, (512, 288), interpolation=cv2.INTER_AREA)
            for _, im in src.iter_frames(0, frames)
        ]
    session = build(**options).open(ArraySource(clip))
    session.add_prompt(Box(444 * 0.4, 376 * 0.4, 704 * 0.4, 552 * 0.4, frame=0, object_id=1))
    w0, c0 = time.perf_counter(), time.process_time()
    n = sum(1 for _ in session.propagate(0))
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    session.close()
    res = {
        "frames": n,
        "fps_wall": n / wall,
        "fps_cpu": n / cpu,
        "load_average": os.getloadavg()[0],
    }
    print(
        f"speed 512x288: {res['fps_wall']:.1f} frames/s wall, {res['fps_cpu']:.1f} frames/s of CPU time "
        f"(load average {res['load_average']:.1f})",
        flush=True,
    )
    return res


def run_speed_against(
    data: Path,
    options: dict[str, Any],
    base: Path,
    repeats: int = 3,
    base_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`run_speed` for this checkout and for the ``src`` folder ``base`` of another,
    alternated ``repeats`` times in fresh processes (a shared CPU's load drifts; alternating
    spreads it over both); medians and their ratio (this / base). ``base_options``: the
    base's tracker options (default ``options``; ``{}`` for its defaults, e.g. when
    ``options`` names one it does not have)."""
    import re
    import subprocess

    here = HERE.parent / "src"
    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "base": []}

    def opts(chosen: dict[str, Any]) -> list[str]:
        # values as --opt parses them back (JSON: true, not Python's True)
        return [
            a
            for k, v in chosen.items()
            for a in ("--opt", f"{k}={v if isinstance(v, str) else json.dumps(v)}")
        ]

    args = {"ours": opts(options), "base": opts(options if base_options is None else base_options)}
    for _ in range(repeats):
        for name, src in (("base", base), ("ours", here)):
            env = {**os.environ, "PYTHONPATH": str(src)}
            out = subprocess.run(
                [sys.executable, __file__, "--data", str(data), "--only", "speed", *args[name]],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            found = re.search(r"speed 512x288: ([0-9.]+) frames/s wall, ([0-9.]+) frames/s", out)
            if found is None:
                raise RuntimeError(f"no speed line from the {name} run:\n{out[-2000:]}")
            runs[name].append((float(found.group(1)), float(found.group(2))))
            print(f"  {name}: {runs[name][-1][0]:.1f} frames/s wall", flush=True)
    med = {
        name: (
            float(np.median([r[0] for r in rs])),
            float(np.median([r[1] for r in rs])),
        )
        for name, rs in runs.items()
    }
    res = {
        "base": str(base),
        "repeats": repeats,
        "runs": runs,
        "fps_wall": med["ours"][0],
        "fps_cpu": med["ours"][1],
        "base_fps_wall": med["base"][0],
        "base_fps_cpu": med["base"][1],
        "ratio_wall": med["ours"][0] / med["base"][0],
        "ratio_cpu": med["ours"][1] / med["base"][1],
        "base_options": options if base_options is None else base_options,
    }
    print(
        f"speed against {base}: {res['fps_wall']:.1f} vs {res['base_fps_wall']:.1f} frames/s wall "
        f"(×{res['ratio_wall']:.2f}), {res['fps_cpu']:.1f} vs {res['base_fps_cpu']:.1f} per "
        f"CPU-second (×{res['ratio_cpu']:.2f}), medians of {repeats} alternated runs",
        flush=True,
    )
    return res


#: synthetic fast-motion cases (``--only motion``): name → fast_motion_clip arguments
MOTION_CASES: dict[str, dict[str, Any]] = {
    "orbit 30-50 px, warm colours": {"path": "ellipse"},
    "orbit 30-50 px, background colours": {"path": "ellipse", "same_colours": True},
    "zigzag 40 px, background colours": {"path": "zigzag", "same_colours": True},
    "pan 40 px following it, background colours": {
        "path": "follow",
        "pan": (40.0, 6.0),
        "same_colours": True,
    },
}


def run_motion(options: dict[str, Any], seeds: tuple[int, ...] = (0, 1, 2)) -> dict[str, Any]:
    """Synthetic fast motion under a panning camera (``eval.motion_clips``), 30 frames a clip,
    from the true first mask: minimum and mean J and the lowest confidence per case, with
    ``options`` and with ``options`` + ``motion_search=False`` (the flow from zero)."""
    from sam2matting.eval.metrics import jaccard
    from sam2matting.eval.motion_clips import fast_motion_clip
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import build
    from sam2matting.types import MaskPrompt

    out: dict[str, Any] = {}
    for name, kwargs in MOTION_CASES.items():
        row: dict[str, Any] = {}
        for label, opts in (("on", options), ("off", {**options, "motion_search": False})):
            js, scores = [], []
            for seed in seeds:
                frames, masks = fast_motion_clip(seed=seed, **kwargs)
                session = build(**opts).open(ArraySource(frames))
                session.add_prompt(MaskPrompt(masks[0]))
                for f in session.propagate(0):
                    js.append(jaccard(f.objects[1].mask(*masks[0].shape), masks[f.index]))
                    scores.append(f.objects[1].score)
            row[label] = {
                "min_j": float(min(js)),
                "mean_j": float(np.mean(js)),
                "min_score": float(min(scores)),
            }
        out[name] = row
        print(
            f"{name:45s} min J {row['off']['min_j']:.3f} -> {row['on']['min_j']:.3f}, "
            f"mean J {row['off']['mean_j']:.3f} -> {row['on']['mean_j']:.3f}",
            flush=True,
        )
    return out


def run_reappear(options: dict[str, Any], seeds: tuple[int, ...] = (0, 1, 2)) -> dict[str, Any]:
    """An object that vanishes for 10 frames and reappears elsewhere beside a larger look-alike
    (``eval.motion_clips.reappear_clip``, 36 frames a clip, from the true first mask), with
    ``options`` and with ``hide_unconfirmed=False``: mean J over all frames (an empty mask on
    an empty frame scores 1), frames whose reported mask touches the look-alike, and J on the
    last 10 frames (after the reappearance and the probation)."""
    from sam2matting.eval.metrics import jaccard
    from sam2matting.eval.motion_clips import reappear_clip
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import build
    from sam2matting.types import MaskPrompt

    out: dict[str, Any] = {}
    for label, opts in (("default", options), ("shown", {**options, "hide_unconfirmed": False})):
        js, tail, on_look_alike = [], [], 0
        for seed in seeds:
            frames, masks, distractor = reappear_clip(seed=seed)
            session = build(**opts).open(ArraySource(frames))
            session.add_prompt(MaskPrompt(masks[0]))
            for f in session.propagate(0):
                pred = f.objects[1].mask(*masks[0].shape)
                j = jaccard(pred, masks[f.index])
                js.append(j)
                if f.index >= len(frames) - 10:
                    tail.append(j)
                on_look_alike += int((pred & distractor).any())
        out[label] = {
            "mean_j": float(np.mean(js)),
            "last10_j": float(np.mean(tail)),
            "look_alike_frames": on_look_alike,
        }
        print(
            f"reappear ({label}): mean J {out[label]['mean_j']:.3f}, last 10 frames J "
            f"{out[label]['last10_j']:.3f}, frames on the look-alike {on_look_alike}",
            flush=True,
        )
    return out


#: appearance stages off: the colour model stays the anchor's (the tracker before issue 14's
#: appearance round)
ANCHOR_ONLY = {"appearance_alignment": False, "appearance_memory": 0.0}


def run_light(options: dict[str, Any], seeds: tuple[int, ...] = (0, 1, 2)) -> dict[str, Any]:
    """Synthetic appearance changes (``eval.light_clips``: shade into sun, exposure and white
    balance drift, an object turning to show another colour, an object driving out of a
    shadow whose front turns as white as the wall; 40 frames a clip, from the true first
    mask): mean and minimum J and the lowest confidence per case, with ``options`` and
    with the colour model kept at the anchor's (:data:`ANCHOR_ONLY`, model_update_rate 0)."""
    from sam2matting.eval.light_clips import LIGHT_CASES, UNEVEN_LIGHT_CASES, light_clip
    from sam2matting.eval.metrics import jaccard
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import build
    from sam2matting.types import MaskPrompt

    out: dict[str, Any] = {}
    anchor_only = {**options, **ANCHOR_ONLY, "model_update_rate": 0.0}
    for name in LIGHT_CASES + UNEVEN_LIGHT_CASES:
        row: dict[str, Any] = {}
        for label, opts in (("on", options), ("off", anchor_only)):
            js, scores = [], []
            for seed in seeds:
                frames, masks = light_clip(name, seed=seed)
                session = build(**opts).open(ArraySource(frames))
                session.add_prompt(MaskPrompt(masks[0]))
                for f in session.propagate(0):
                    js.append(jaccard(f.objects[1].mask(*masks[0].shape), masks[f.index]))
                    scores.append(f.objects[1].score)
            row[label] = {
                "min_j": float(min(js)),
                "mean_j": float(np.mean(js)),
                "min_score": float(min(scores)),
                "lost_frames": sum(1 for v in scores if v < 0.5),
            }
        out[name] = row
        print(
            f"{name:17s} mean J {row['off']['mean_j']:.3f} -> {row['on']['mean_j']:.3f}, "
            f"min J {row['off']['min_j']:.3f} -> {row['on']['min_j']:.3f}, lowest confidence "
            f"{row['off']['min_score']:.2f} -> {row['on']['min_score']:.2f}",
            flush=True,
        )
    return out


def run_texture(options: dict[str, Any], seeds: tuple[int, ...] = (0, 1, 2)) -> dict[str, Any]:
    """An object moving into a patch of its own colours in another texture
    (``eval.texture_clips.same_colour_clip``, 24 frames a clip, from the true first mask):
    minimum and mean J with ``options`` and with ``options`` + ``embed_strength=0`` (no
    learned appearance cue)."""
    from sam2matting.eval.metrics import jaccard
    from sam2matting.eval.texture_clips import same_colour_clip
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import build
    from sam2matting.types import MaskPrompt

    out: dict[str, Any] = {}
    for label, opts in (("options", options), ("no cue", {**options, "embed_strength": 0.0})):
        js = []
        for seed in seeds:
            frames, masks = same_colour_clip(seed=seed)
            session = build(**opts).open(ArraySource(frames))
            session.add_prompt(MaskPrompt(masks[0]))
            for f in session.propagate(0):
                js.append(jaccard(f.objects[1].mask(*masks[0].shape), masks[f.index]))
        out[label] = {"min_j": float(min(js)), "mean_j": float(np.mean(js))}
        print(
            f"same colours, other texture ({label}): min J {out[label]['min_j']:.3f}, "
            f"mean J {out[label]['mean_j']:.3f}",
            flush=True,
        )
    return out


#: ``--only still``: composite walkers (AM-2k animals) and passers-by (P3M people), split
#: into those the clean plate's settings were chosen on and those never looked at
STILL_WALKERS = {
    "tuning": ("am2k_sample1", "am2k_sample2", "am2k_sample3", "am2k_sample4", "am2k_sample5"),
    "held-out": (
        "am2k_sample10",
        "am2k_sample11",
        "am2k_sample12",
        "am2k_sample13",
        "am2k_sample14",
    ),
}
STILL_PASSERS = {
    "tuning": ("p3m_p_07141906", "p3m_p_09ba26b4"),
    "held-out": ("p3m_p_818e689d", "p3m_p_a09f6d7a"),
}
#: synthetic still-camera clips: seeds the settings were chosen on, and seeds never looked at
STILL_SEEDS = {"tuning": (0, 1), "held-out": (3, 4, 5)}


def _mean_j_run(
    frames: list[Any], masks: list[Any], prompt: Any, options: dict[str, Any]
) -> tuple[float, float]:
    """(mean J over the clip, first-frame J) of one built-in tracker run."""
    js = _j_curve(frames, masks, options, prompt)
    return float(np.mean(js)), float(js[0])


def _j_curve(
    frames: list[Any], masks: list[Any], options: dict[str, Any], prompt: Any = None
) -> list[float]:
    """J of every frame of one built-in tracker run from ``prompt`` (default: the true first
    mask) on frame 0."""
    from sam2matting.eval.metrics import jaccard
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import build
    from sam2matting.types import MaskPrompt

    session = build(**options).open(ArraySource(frames))
    session.add_prompt(MaskPrompt(masks[0], frame=0, object_id=1) if prompt is None else prompt)
    return [
        jaccard(f.objects[1].mask(*masks[0].shape), masks[f.index]) for f in session.propagate(0)
    ]


def _cutout(data: Path, name: str) -> tuple[Any, Any]:
    """(RGB uint8, alpha uint8) of the shared matting cutout ``name``."""
    import cv2

    folder = data / "matting" / name
    image = next(iter(sorted(folder.glob("image.*"))))
    rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
    return rgb, cv2.imread(str(folder / "alpha.png"), cv2.IMREAD_GRAYSCALE)


def _still_prompts(mask: Any) -> dict[str, Any]:
    from sam2matting.types import Box, MaskPrompt

    ys, xs = np.nonzero(mask)
    box = Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1, frame=0)
    return {"mask": MaskPrompt(mask, frame=0), "box": box}


def run_still(data: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Still cameras, the clean plate off (``plate_frames=0``) and on (``options``): the
    synthetic white animal on a light pavement (``eval.static_clips.still_camera_clip``, four
    cases) and matting cutouts walking over the clean plate of ``01_dog.mp4``, alone and with
    a person passing behind (``composite_still_clip``); mean J over 48 / 40 frames and
    first-frame J, from the true first mask and from its box."""
    import cv2

    from sam2matting.eval.static_clips import STILL_CASES, composite_still_clip, still_camera_clip
    from sam2matting.io.readers import open_source
    from sam2matting.trackers.builtin_plate import build_plate

    variants = {"off": {**options, "plate_frames": 0}, "on": options}
    rows: list[dict[str, Any]] = []

    def record(kind: str, split: str, name: str, frames: list[Any], masks: list[Any]) -> None:
        for mode, prompt in _still_prompts(masks[0]).items():
            row: dict[str, Any] = {"kind": kind, "split": split, "clip": name, "mode": mode}
            for label, opts in variants.items():
                row[f"{label}_j"], row[f"{label}_first_j"] = _mean_j_run(
                    frames, masks, prompt, opts
                )
            rows.append(row)
            print(
                f"{kind:9s} {split:8s} {name:28s} {mode:4s} mean J {row['off_j']:.3f} -> "
                f"{row['on_j']:.3f}, first J {row['off_first_j']:.3f} -> {row['on_first_j']:.3f}",
                flush=True,
            )

    for split, seeds in STILL_SEEDS.items():
        for case in STILL_CASES:
            for seed in seeds:
                frames, masks = still_camera_clip(case, n=48, seed=seed)
                record("synthetic", split, f"{case} (seed {seed})", frames, masks)
    with open_source(data / "videos" / "01_dog.mp4") as src:
        samples = {
            i: cv2.resize(im, (512, 288), interpolation=cv2.INTER_AREA)
            for i, im in src.iter_frames(0, None)
            if i % 18 == 0
        }
    plate = build_plate(0, samples)
    if plate is None:
        raise RuntimeError("no clean plate of 01_dog.mp4")

    for split, walkers in STILL_WALKERS.items():
        passers = STILL_PASSERS[split]
        for k, walker in enumerate(walkers):
            for passer in (None, passers[k % len(passers)]):
                frames, masks = composite_still_clip(
                    plate.image,
                    _cutout(data, walker),
                    None if passer is None else _cutout(data, passer),
                    n=40,
                    seed=k,
                )
                name = walker if passer is None else f"{walker} + passer-by"
                record("composite", split, name, frames, masks)
    return {"rows": rows}


def park_panorama(data: Path) -> Any:
    """A 288-px-high background for :func:`~sam2matting.eval.occluder_clips.cutout_pole_clip`:
    the lawn and trees of ``05_default_juggle.mp4``'s first frame, without the man juggling in
    its middle (its left and right thirds, mirrored into a strip 2048 px wide)."""
    import cv2

    from sam2matting.io.readers import open_source

    with open_source(data / "videos" / "05_default_juggle.mp4") as src:
        _, first = next(iter(src.iter_frames(0, 1)))
    image = cv2.resize(first, (512, 288), interpolation=cv2.INTER_AREA)
    left, right = image[:, :190], image[:, 330:]
    strip = np.hstack([left, right, left[:, ::-1], right[:, ::-1]])
    return np.hstack([strip, strip[:, ::-1]])


def run_occluders(data: Path, options: dict[str, Any], jitter: int = 0) -> dict[str, Any]:
    """Thin foreground poles sweeping across a matting cutout the camera pans with
    (``eval.occluder_clips.cutout_pole_clip``, 48 frames, the walkers of ``--only still``),
    from the true first mask; and the same clips without the poles (the control): mean J
    (first frame excluded) and lowest J of each. ``jitter``: also run each clip with the
    poles that many times on frames changed by at most one grey level (:func:`_jittered`;
    ``poles_jitter_j``: their mean J)."""

    from sam2matting.eval.occluder_clips import cutout_pole_clip

    panorama = park_panorama(data)
    rows: list[dict[str, Any]] = []
    for split, walkers in STILL_WALKERS.items():
        for seed, walker in enumerate(walkers):
            cutout = _cutout(data, walker)
            row: dict[str, Any] = {"split": split, "clip": walker, "seed": seed}
            for label, poles in (("poles", 3), ("control", 0)):
                frames, masks = cutout_pole_clip(panorama, cutout, n=48, seed=seed, poles=poles)
                js = _j_curve(frames, masks, options)
                row[f"{label}_j"], row[f"{label}_min_j"] = float(np.mean(js[1:])), min(js[1:])
                if poles and jitter > 0:
                    row["poles_jitter_j"] = [
                        float(np.mean(_j_curve(_jittered(frames, k), masks, options)[1:]))
                        for k in range(1, jitter + 1)
                    ]
            rows.append(row)
            print(
                f"occluders {split:8s} {walker:16s} mean J {row['poles_j']:.3f} "
                f"(without the poles {row['control_j']:.3f}), lowest {row['poles_min_j']:.3f}",
                flush=True,
            )
    return {"rows": rows}


def _occluders_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The ``--only occluders`` tables: means by split, then every clip."""
    lines = [
        "### Thin occluders: poles sweeping across a cutout the camera pans with (mean J; lowest J)",
        "",
        "| split | clips | with the poles | without (control) | lost to the poles | lowest J with the poles |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for split in ("tuning", "held-out"):
        sel = [r for r in rows if r["split"] == split]
        if not sel:
            continue
        with_poles, control = (
            _mean([r["poles_j"] for r in sel]),
            _mean([r["control_j"] for r in sel]),
        )
        lines.append(
            f"| {split} | {len(sel)} | **{with_poles:.3f}** | {control:.3f} | "
            f"{control - with_poles:.3f} | {_mean([r['poles_min_j'] for r in sel]):.3f} |"
        )
    jittered = [r for r in rows if r.get("poles_jitter_j")]
    if jittered:
        lines += [
            "",
            "With the poles, on frames changed by at most one grey level "
            f"({len(jittered[0]['poles_jitter_j'])} seeds; mean J over the clean run and them):",
            "",
            "| split | with the poles, clean | with the poles, clean and jittered |",
            "|---|---:|---:|",
        ]
        for split in ("tuning", "held-out"):
            sel = [r for r in jittered if r["split"] == split]
            if sel:
                every = [j for r in sel for j in (r["poles_j"], *r["poles_jitter_j"])]
                lines.append(
                    f"| {split} | {_mean([r['poles_j'] for r in sel]):.3f} | {_mean(every):.3f} |"
                )
    lines += ["", "| clip | split | with the poles | without | lowest J with the poles |"]
    lines.append("|---|---|---:|---:|---:|")
    for r in rows:
        runs = r.get("poles_jitter_j")
        spread = "" if not runs else f" (jittered {', '.join(f'{j:.3f}' for j in runs)})"
        lines.append(
            f"| {r['clip']} (seed {r['seed']}) | {r['split']} | {r['poles_j']:.3f}{spread} | "
            f"{r['control_j']:.3f} | {r['poles_min_j']:.3f} |"
        )
    return [*lines, ""]


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _fmt(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.3f}"


def _cell(row: dict[str, Any], key: str, digits: int = 3) -> str:
    """A table cell: the value, or "–" for a prompt mode that was not run."""
    return f"{row[key]:.{digits}f}" if key in row else "–"


def _still_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The ``--only still`` tables: means by kind, split and prompt, then every clip."""
    lines = [
        "### Still cameras: the clean plate off → on (mean J over the clip; first-frame J)",
        "",
        "| clips | split | prompt | clips | mean J | first-frame J |",
        "|---|---|---|---:|---:|---:|",
    ]
    for kind in ("synthetic", "composite"):
        for split in ("tuning", "held-out"):
            for mode in ("mask", "box"):
                sel = [r for r in rows if (r["kind"], r["split"], r["mode"]) == (kind, split, mode)]
                if not sel:
                    continue
                lines.append(
                    f"| {kind} | {split} | {mode} | {len(sel)} | "
                    f"{_mean([r['off_j'] for r in sel]):.3f} → **{_mean([r['on_j'] for r in sel]):.3f}** | "
                    f"{_mean([r['off_first_j'] for r in sel]):.3f} → "
                    f"{_mean([r['on_first_j'] for r in sel]):.3f} |"
                )
    lines += ["", "| clip | split | prompt | mean J | first-frame J |", "|---|---|---|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['clip']} | {r['split']} | {r['mode']} | {r['off_j']:.3f} → {r['on_j']:.3f} | "
            f"{r['off_first_j']:.3f} → {r['on_first_j']:.3f} |"
        )
    return [*lines, ""]


def warning_honesty(runs: dict[str, Any]) -> dict[str, int]:
    """How honest the lost warning is over DAVIS runs (``run_davis``'s result): frames after
    the first with J < 0.5 that were reported lost (confidence < 0.5, ``caught``) or not
    (``missed``), and frames with J ≥ 0.5 reported lost (``false``) or not (``kept``)."""
    out = {"caught": 0, "missed": 0, "false": 0, "kept": 0}
    for row in runs.values():
        for mode in ("mask", "box"):
            if mode not in row:
                continue
            for j, score in zip(
                row[mode]["j_curve"][1:], row[mode]["score_curve"][1:], strict=True
            ):
                bad, warned = j < 0.5, score < 0.5
                out[
                    "caught"
                    if bad and warned
                    else "missed"
                    if bad
                    else "false"
                    if warned
                    else "kept"
                ] += 1
    return out


def warning_honesty_lines(runs: dict[str, Any]) -> list[str]:
    h = warning_honesty(runs)
    bad, good = h["caught"] + h["missed"], h["false"] + h["kept"]
    return [
        f"Lost warning (confidence < 0.5) over these runs, frames after the first: J < 0.5 and "
        f"reported lost {h['caught']} of {bad}; J ≥ 0.5 and reported lost {h['false']} of {good}.",
        "",
    ]


def jitter_lines(davis: dict[str, Any]) -> list[str]:
    """The table of ``--jitter``: each sequence's J&F on its frames as they are and the
    mean, lowest and highest over the runs on frames changed by at most one grey level."""
    modes = [m for m in ("mask", "box") if any("jitter_jf" in r.get(m, {}) for r in davis.values())]
    if not modes:
        return []
    runs = max(len(r[m]["jitter_jf"]) for r in davis.values() for m in modes if m in r)
    lines = [
        f"### The same on frames changed by at most one grey level ({runs} seeds)",
        "",
        "| sequence | "
        + " | ".join(f"{m} J&F | {m}: mean [lowest, highest]" for m in modes)
        + " |",
        "|---|" + "---:|---:|" * len(modes),
    ]
    means: dict[str, tuple[list[float], list[float]]] = {m: ([], []) for m in modes}
    for name, r in davis.items():
        cells = []
        for m in modes:
            runs_m = r.get(m, {}).get("jitter_jf", [])
            if not runs_m:
                cells += ["", ""]
                continue
            means[m][0].append(r[m]["jf"])
            means[m][1].append(float(np.mean(runs_m)))
            cells += [
                f"{r[m]['jf']:.3f}",
                f"{np.mean(runs_m):.3f} [{min(runs_m):.3f}, {max(runs_m):.3f}]",
            ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(
        "| **mean** | "
        + " | ".join(f"**{_mean(means[m][0]):.3f}** | **{_mean(means[m][1]):.3f}**" for m in modes)
        + " |"
    )
    return [*lines, ""]


def markdown(result: dict[str, Any]) -> str:
    lines = ["## Built-in tracker on real footage", ""]
    davis = result.get("davis")
    if davis:
        lines += [
            "### DAVIS: J&F from the true first-frame mask and from its bounding box",
            "",
            "| sequence | split | mask J&F | mask J | mask F | box J&F | box first-frame J | lowest confidence (mask) |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        if result.get("reverse"):
            lines += [
                "Played backwards: each sequence starts from its last frame's mask / box.",
                "",
            ]
        for name, r in davis.items():
            split = "tuning" if name in TUNE else "held-out"
            m, b = r.get("mask", {}), r.get("box", {})
            lines.append(
                f"| {name} | {split} | {_cell(m, 'jf')} | {_cell(m, 'j')} | {_cell(m, 'f')} | "
                f"{_cell(b, 'jf')} | {_cell(b, 'first_j')} | {_cell(m, 'min_score', 2)} |"
            )
        for label, names in (
            ("tuning", [n for n in davis if n in TUNE]),
            ("held-out", [n for n in davis if n not in TUNE]),
            ("all", list(davis)),
        ):
            if not names:
                continue
            lines.append(
                f"| **mean {label}** | | **{_fmt(_mean([davis[n]['mask']['jf'] for n in names if 'mask' in davis[n]]))}** | "
                f"{_fmt(_mean([davis[n]['mask']['j'] for n in names if 'mask' in davis[n]]))} | "
                f"{_fmt(_mean([davis[n]['mask']['f'] for n in names if 'mask' in davis[n]]))} | "
                f"**{_fmt(_mean([davis[n]['box']['jf'] for n in names if 'box' in davis[n]]))}** | "
                f"{_fmt(_mean([davis[n]['box']['first_j'] for n in names if 'box' in davis[n]]))} | |"
            )
        lines.append("")
        lines += jitter_lines(davis)
        lines += warning_honesty_lines(davis)
    cut = result.get("cutouts")
    if cut:
        lines += [
            "### First-frame J from a box (bounding box of alpha > 0.5)",
            "",
            "| set | images | mean J |",
            "|---|---:|---:|",
            f"| matting cutouts | {len(cut)} | {_mean(list(cut.values())):.3f} |",
        ]
        if davis:
            firsts = {f"davis/{n}": r["box"]["first_j"] for n, r in davis.items() if "box" in r}
            lines.append(
                f"| DAVIS first frames | {len(firsts)} | {_mean(list(firsts.values())):.3f} |"
            )
            both = {**cut, **firsts}
            for label, split in (("tuning", True), ("held-out", False)):
                ks = [k for k in both if tuning_image(k) == split]
                lines.append(
                    f"| {label} (cutouts + DAVIS) | {len(ks)} | {_mean([both[k] for k in ks]):.3f} |"
                )
            lines.append(f"| **all** | {len(both)} | **{_mean(list(both.values())):.3f}** |")
        lines += ["", "Per image: " + ", ".join(f"{k} {v:.2f}" for k, v in cut.items()), ""]
    clicks = result.get("clicks")
    if clicks:
        groups = (
            (
                "tuning (training-split cutouts, DAVIS tuning)",
                [k for k in clicks if tuning_image(k)],
            ),
            ("held-out (dev cutouts, DAVIS held-out)", [k for k in clicks if not tuning_image(k)]),
            ("matting cutouts", [k for k in clicks if not k.startswith("davis/")]),
            ("DAVIS first frames", [k for k in clicks if k.startswith("davis/")]),
        )
        lines += [
            "### First-frame J from one click (at the mask's most interior point)",
            "",
            "| set | images | mean J |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {label} | {len(ks)} | {_mean([clicks[k] for k in ks]):.3f} |"
            for label, ks in groups
        ]
        lines += [
            f"| **all** | {len(clicks)} | **{_mean(list(clicks.values())):.3f}** |",
            "",
            "Per image: " + ", ".join(f"{k} {v:.2f}" for k, v in clicks.items()),
            "",
        ]
    small = result.get("small")
    if small:
        lines += [
            "### First-frame J on small objects in wide frames (cutouts pasted at 30 % of the height into 854×480 frames)",
            "",
            "| set | images | box | one click |",
            "|---|---:|---:|---:|",
        ]
        for label, split in (("tuning", True), ("held-out", False)):
            ks = [k for k in small["box"] if tuning_image(k) == split]
            lines.append(
                f"| {label} | {len(ks)} | {_mean([small['box'][k] for k in ks]):.3f} | "
                f"{_mean([small['click'][k] for k in ks]):.3f} |"
            )
        lines += [
            f"| **all** | {len(small['box'])} | **{_mean(list(small['box'].values())):.3f}** | "
            f"**{_mean(list(small['click'].values())):.3f}** |",
            "",
            "Per image (box / click): "
            + ", ".join(
                f"{k.removeprefix('small/')} {small['box'][k]:.2f} / {small['click'][k]:.2f}"
                for k in small["box"]
            ),
            "",
        ]
    motion = result.get("motion")
    if motion:
        lines += [
            "### Synthetic fast motion under a panning camera (30 frames × 3 seeds a case)",
            "",
            "| case | min J (flow from zero) | min J | mean J (flow from zero) | mean J | lowest confidence (flow from zero) | lowest confidence |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, r in motion.items():
            a, b = r["off"], r["on"]
            lines.append(
                f"| {name} | {a['min_j']:.3f} | **{b['min_j']:.3f}** | {a['mean_j']:.3f} | "
                f"{b['mean_j']:.3f} | {a['min_score']:.2f} | {b['min_score']:.2f} |"
            )
        lines.append("")
    reappear = result.get("reappear")
    if reappear:
        lines += [
            "### Synthetic loss and reappearance beside a look-alike (36 frames × 3 seeds)",
            "",
            "| reported while unconfirmed | mean J | J, last 10 frames | frames on the look-alike |",
            "|---|---:|---:|---:|",
        ]
        for label, r in reappear.items():
            lines.append(
                f"| {'empty' if label == 'default' else 'candidate'} | {r['mean_j']:.3f} | "
                f"{r['last10_j']:.3f} | {r['look_alike_frames']} |"
            )
        lines.append("")
    texture = result.get("texture")
    if texture:
        lines += [
            "### Synthetic: into a patch of the object's colours in another texture (24 frames × 3 seeds)",
            "",
            "| | min J | mean J |",
            "|---|---:|---:|",
        ]
        for label, r in texture.items():
            lines.append(f"| {label} | {r['min_j']:.3f} | {r['mean_j']:.3f} |")
    still = result.get("still")
    if still:
        lines += _still_markdown(still["rows"])
    occluders = result.get("occluders")
    if occluders:
        lines += _occluders_markdown(occluders["rows"])
    light = result.get("light")
    if light:
        lines += [
            "### Synthetic appearance changes (40 frames × 3 seeds a case; anchor colours only → following the appearance)",
            "",
            "| case | mean J | min J | lowest confidence | frames reported lost (of 120) |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, r in light.items():
            a, b = r["off"], r["on"]
            lines.append(
                f"| {name} | {a['mean_j']:.3f} → **{b['mean_j']:.3f}** | {a['min_j']:.3f} → "
                f"{b['min_j']:.3f} | {a['min_score']:.2f} → {b['min_score']:.2f} | "
                f"{a['lost_frames']} → {b['lost_frames']} |"
            )
        lines.append("")
    against = result.get("speed_against")
    if against:
        lines += [
            f"### Speed against another checkout: ×{against['ratio_wall']:.2f} wall, "
            f"×{against['ratio_cpu']:.2f} per CPU-second",
            "",
            f"Tracking alone, 512×288, 120 frames of 01_dog, one object; medians of "
            f"{against['repeats']} runs each, alternated in fresh processes, base "
            f"`{against['base']}` (its options: `{against.get('base_options', result.get('options'))}`).",
            "",
            "| checkout | frames/s wall | frames/s of CPU time |",
            "|---|---:|---:|",
            f"| this one | {against['fps_wall']:.1f} | {against['fps_cpu']:.1f} |",
            f"| base | {against['base_fps_wall']:.1f} | {against['base_fps_cpu']:.1f} |",
            "",
        ]
    speed = result.get("speed")
    if speed:
        lines += [
            f"### Speed: {speed['fps_wall']:.1f} frames/s wall, {speed['fps_cpu']:.1f} frames/s of CPU time "
            f"(tracking alone, 512×288, {speed['frames']} frames of 01_dog, one object; shared CPU, "
            f"load average {speed['load_average']:.1f})",
            "",
        ]
    lines += run_footer(result)
    return "\n".join(lines) + "\n"


def run_header(script: str, argv: list[str], **fields: Any) -> dict[str, Any]:
    """The fields every built-in tracker benchmark's result starts with: when, on what machine,
    ``fields`` (options, …) and the command that reproduces it."""
    return {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": f"{platform.machine()} ({os.cpu_count()} CPUs, shared)",
        **fields,
        "command": f"python benchmarks/{script} " + " ".join(argv),
    }


def run_footer(result: dict[str, Any]) -> list[str]:
    """The markdown lines every built-in tracker benchmark's table ends with: the options (when
    the result has them), when and where it ran, and the command that reproduces it."""
    options = f"Options: `{result['options']}`. " if "options" in result else ""
    return [
        f"{options}Run {result['when']} on {result['machine']}.",
        "",
        f"Command: `{result['command']}`",
    ]


def write_results(out: Path, result: dict[str, Any], md: str) -> None:
    """``out``.json and ``out``.md, each written under a temporary name and renamed (an
    interrupted run leaves no half-written file); a stem like ``x_0.5`` keeps its dot
    (``Path.with_suffix`` would write ``x_0.json``)."""
    stem = out.with_suffix("") if out.suffix in (".json", ".md") else out
    stem.parent.mkdir(parents=True, exist_ok=True)
    for suffix, body in ((".json", json.dumps(result, indent=1) + "\n"), (".md", md)):
        tmp = Path(f"{stem}{suffix}.tmp")
        tmp.write_text(body)
        os.replace(tmp, Path(f"{stem}{suffix}"))


def davis_data_root(data: Path | None) -> Path | None:
    """The shared data folder holding ``davis/`` (``data``, else the default, else the shared
    folder of a worktree's main checkout); None, after saying so, when there is none."""
    from sam2matting.eval.datasets import default_data_root

    root = data or default_data_root()
    fallback = Path("/work/shared/data")
    if not (root / "davis").is_dir() and (fallback / "davis").is_dir():
        root = fallback
    if not (root / "davis").is_dir():
        print(f"skipped: {root / 'davis'} not found (needs ../shared/data)")
        return None
    return root


#: the benchmark's parts (``--only``), in the order a full run takes them
PARTS = (
    "davis",
    "cutouts",
    "clicks",
    "small",
    "motion",
    "light",
    "texture",
    "still",
    "occluders",
    "speed",
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="shared data folder (default: ../shared/data)")
    ap.add_argument(
        "--only",
        choices=PARTS,
        action="append",
    )
    ap.add_argument("--seq", help="comma-separated DAVIS sequences (default: all)")
    ap.add_argument("--modes", default="mask,box", help="DAVIS prompt modes: mask, box")
    ap.add_argument("--frames", type=int, help="only the first N frames of each sequence")
    ap.add_argument(
        "--stride", type=int, default=1, help="DAVIS: every Nth frame only (faster motion)"
    )
    ap.add_argument(
        "--reverse",
        action="store_true",
        help="DAVIS: play every sequence backwards from its last frame's mask / box "
        "(a check no setting was chosen on)",
    )
    ap.add_argument("--opt", action="append", default=[], help="tracker option NAME=VALUE")
    ap.add_argument(
        "--base",
        type=Path,
        help="with --only speed: the src folder of another checkout (e.g. a git worktree of "
        "main) to time side by side, alternated in fresh processes; reports the ratio",
    )
    ap.add_argument(
        "--base-defaults",
        action="store_true",
        help="with --base: run the other checkout with its default options, not the --opt ones "
        "(to time an option this checkout has and the other has not)",
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="with --base: how many alternated runs of each checkout (medians are reported)",
    )
    ap.add_argument(
        "--jitter",
        type=int,
        default=0,
        metavar="N",
        help="DAVIS and occluders: also run each sequence or clip N times on frames changed by at most one grey "
        "level (seeds 1..N) and report the spread of J&F: how much of a figure is luck",
    )
    ap.add_argument(
        "--out", type=Path, help="write <out>.json/.md (default: results/builtin_tracker)"
    )
    args = ap.parse_args(argv)
    data = davis_data_root(args.data)
    if data is None:
        return 0
    from sam2matting.cli import parse_key_values

    options = parse_key_values(args.opt, "--opt")
    parts = args.only or list(PARTS)
    result = run_header("bench_builtin.py", argv, options=options)
    if "davis" in parts:
        seqs = args.seq.split(",") if args.seq else None
        result["davis"] = run_davis(
            data,
            seqs,
            options,
            args.modes.split(","),
            args.frames,
            args.stride,
            args.reverse,
            args.jitter,
        )
        result["stride"] = args.stride
        result["reverse"] = args.reverse
        result["jitter"] = args.jitter
    if "cutouts" in parts:
        result["cutouts"] = run_cutouts(data, options)
    if "clicks" in parts:
        result["clicks"] = run_clicks(data, options)
    if "small" in parts:
        result["small"] = run_small(data, options)
    if "motion" in parts:
        result["motion"] = run_motion(options)
        result["reappear"] = run_reappear(options)
    if "light" in parts:
        result["light"] = run_light(options)
    if "texture" in parts:
        result["texture"] = run_texture(options)
    if "still" in parts:
        result["still"] = run_still(data, options)
    if "occluders" in parts:
        result["occluders"] = run_occluders(data, options, jitter=args.jitter)
    if "speed" in parts:
        if args.base is not None:
            result["speed_against"] = run_speed_against(
                data,
                options,
                args.base,
                repeats=args.repeats,
                base_options={} if args.base_defaults else None,
            )
        else:
            result["speed"] = run_speed(data, options)
    md = markdown(result)
    print(md)
    out = args.out or (HERE / "results" / "builtin_tracker" if args.only is None else None)
    if out is not None:
        write_results(out, result, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
