"""Quality and speed of the learned matting heads (``sam2matting``) on the dev benchmark.

    python benchmarks/bench_heads.py quality            # 512×288, oracle tracker: learned vs baselines
    python benchmarks/bench_heads.py native             # 1920×1080: native refinement vs bilinear upsampling
    python benchmarks/bench_heads.py speed              # per-frame cost at 512×288 and 1920×1080 (+ builtin tracker)
    python benchmarks/bench_heads.py all

The dev benchmark is built by ``benchmarks/build_dev_benchmark.py`` (default
``~/.cache/sam2matting/devbench``); its foregrounds are held out of training. Metrics come from
:mod:`sam2matting.eval.metrics` through :func:`sam2matting.eval.bench.evaluate` (the one
implementation). Results go to ``benchmarks/results/heads_*.{json,md}`` with settings and
versions embedded. ``--frames N`` scores only the first N frames of each clip (quicker).
"""

from __future__ import annotations

import os

# OpenMP threads that sleep while they wait (set before torch loads): on a shared CPU the
# default spinning made 2-thread inference 4–10× slower in our measurements
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("mad", "mse", "grad", "dtssd")


def _devbench(
    resolution: str, root: Path | None, frames: int | None, clips: list[str] | None
) -> Any:
    from sam2matting.eval.datasets import open_benchmark
    from sam2matting.eval.synth import default_cache_dir

    folder = (root or default_cache_dir() / "devbench") / resolution
    if not folder.is_dir():
        sys.exit(
            f"dev benchmark not found at {folder}: run benchmarks/build_dev_benchmark.py first"
        )
    bench = open_benchmark(folder, layout="rvm")
    if clips:
        bench = bench.select(clips)
    if frames:
        bench.clips = [
            dataclasses.replace(c, image_paths=c.image_paths[:frames], gt_paths=c.gt_paths[:frames])
            for c in bench.clips
        ]
    return bench


def _method(label: str, head: str, **head_options: Any) -> Any:
    from sam2matting.eval.bench import Method

    return Method(label, head=head, tracker="oracle", head_options=head_options)


def _write(name: str, report: Any, title: str, extra: dict[str, Any] | None = None) -> None:
    from sam2matting.eval.bench import markdown_report

    RESULTS.mkdir(parents=True, exist_ok=True)
    data = report.to_json()
    # per-clip means only (per-frame records would make the committed JSON megabytes)
    data["results"] = {
        label: {clip: {k: v for k, v in r.items() if k != "frames"} for clip, r in clips.items()}
        for label, clips in data["results"].items()
    }
    data["command"] = "python " + " ".join(sys.argv)
    if extra:
        data.update(extra)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    md = markdown_report(report, per_clip=False, title=title)
    md += f"\nCommand: `{data['command']}`\n"
    (RESULTS / f"{name}.md").write_text(md)
    print(md)


def _weights_info(weights: str) -> dict[str, Any]:
    from sam2matting.matting.weights import DEFAULT_WEIGHTS, SHIPPED, read_manifest

    name = DEFAULT_WEIGHTS if weights == "default" else weights
    path = SHIPPED[name].manifest_path if name in SHIPPED else Path(weights).with_suffix(".json")
    m = read_manifest(path)
    return {
        "weights": weights,
        "sha256": m["sha256"],
        "trained_steps": m.get("trained_steps"),
        "commit": m.get("commit"),
    }


def quality(args: argparse.Namespace) -> None:
    """512×288 dev benchmark, oracle tracker: mask-only, trimap+closed-form, guided, learned
    (with and without the object window; ``--compare-weights``: another weights file too)."""
    from sam2matting.eval.bench import evaluate

    bench = _devbench("512x288", args.root, args.frames, args.clips)
    methods = [
        _method("mask-only/oracle", "mask"),
        _method("trimap+cf/oracle", "closed-form"),
        _method("guided/oracle", "guided"),
        _method("sam2matting/oracle", "sam2matting", weights=args.weights),
        _method(
            "sam2matting, whole frame (no object window)/oracle",
            "sam2matting",
            weights=args.weights,
            crop_margin=None,
        ),
    ]
    if args.compare_weights:
        methods.append(
            _method(
                f"sam2matting [{args.compare_weights}]/oracle",
                "sam2matting",
                weights=args.compare_weights,
            )
        )
    report = evaluate(bench, methods, metrics=METRICS, progress=print)
    _write(
        "heads_512x288",
        report,
        "Learned heads vs baselines, oracle tracker",
        {"weights": _weights_info(args.weights)},
    )


def native(args: argparse.Namespace) -> None:
    """1920×1080 dev benchmark: native-resolution refinement vs bilinear upsampling of the coarse alpha."""
    from sam2matting.eval.bench import evaluate

    bench = _devbench("1920x1080", args.root, args.frames, args.clips)
    methods = [
        _method(
            "sam2matting+native-refine/oracle", "sam2matting", weights=args.weights, refine=True
        ),
        _method("sam2matting+bilinear/oracle", "sam2matting", weights=args.weights, refine=False),
        _method("guided/oracle", "guided"),
    ]
    report = evaluate(
        bench, methods, metrics=("mad", "mse", "grad", "grad_hr", "dtssd"), progress=print
    )
    _write(
        "heads_1920x1080",
        report,
        "Native-resolution refinement vs bilinear upsampling (1920×1080)",
        {"weights": _weights_info(args.weights)},
    )


def _time_stage(stage: Any, frames: list[np.ndarray], masks: list[np.ndarray]) -> dict[str, float]:
    from sam2matting.types import ObjectTrack

    totals: list[float] = []
    parts: dict[str, list[float]] = {}
    stage.reset()
    for i, (img, m) in enumerate(zip(frames, masks)):
        tr = {1: ObjectTrack(logits=np.where(m, 10.0, -10.0).astype(np.float32))}
        t0 = time.perf_counter()
        stage.matte(img, tr, i)
        dt = time.perf_counter() - t0
        if i >= 2:  # skip warm-up frames (oneDNN primitive creation)
            totals.append(dt)
            for k, v in getattr(stage, "last_timings", {}).items():
                parts.setdefault(k, []).append(v)
    out = {"median_ms": 1e3 * statistics.median(totals), "min_ms": 1e3 * min(totals)}
    out |= {f"{k}_median_ms": 1e3 * statistics.median(v) for k, v in parts.items()}
    return out


def _time_tracker(frames: list[np.ndarray], mask0: np.ndarray) -> dict[str, float]:
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers import build_tracker
    from sam2matting.types import MaskPrompt

    tracker = build_tracker("builtin")
    src = ArraySource(np.stack(frames))
    session = tracker.open(src)
    session.add_prompt(MaskPrompt(mask0, frame=0, object_id=1))
    times = []
    t0 = time.perf_counter()
    for k, _ in enumerate(session.propagate(0)):
        t1 = time.perf_counter()
        if k >= 2:
            times.append(t1 - t0)
        t0 = t1
    session.close()
    return {"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times)}


def speed(args: argparse.Namespace) -> None:
    """Per-frame cost of bridge + heads + refinement (one object) at 512×288 and 1920×1080."""
    import torch

    from sam2matting.matting import build_head
    from sam2matting.matting.learned import count_parameters

    rows: dict[str, Any] = {}
    n = args.speed_frames
    import cv2

    for res in ("512x288", "1920x1080", "3840x2160"):
        # 4K: the 1080p clip upscaled ×2 (no 4K ground truth needed for timing)
        bench = _devbench("1920x1080" if res == "3840x2160" else res, args.root, n, None)
        clip = bench.clips[0]
        frames, masks = [], []
        for gt in clip.iter_frames(0, n):
            image, mask = gt.image, gt.masks[clip.object_ids[0]]
            if res == "3840x2160":
                image = cv2.resize(image, (3840, 2160), interpolation=cv2.INTER_LINEAR)
                mask = (
                    cv2.resize(mask.astype(np.uint8), (3840, 2160), interpolation=cv2.INTER_NEAREST)
                    > 0
                )
            frames.append(image)
            masks.append(mask)
        entry: dict[str, Any] = {
            "clip": clip.name + (" (upscaled ×2)" if res == "3840x2160" else ""),
            "frames": len(frames),
        }
        for label, opts in (
            ("bridge+heads+refine", {"refine": True}),
            ("bridge+heads+refine, whole frame", {"refine": True, "crop_margin": None}),
            ("bridge+heads (bilinear)", {"refine": False}),
        ):
            stage = build_head("sam2matting", weights=args.weights, device="cpu", **opts)
            entry[label] = _time_stage(stage, frames, masks)
        # share of the frame the refiner's tiles cover: its cost grows with this, not the frame
        stage = build_head("sam2matting", weights=args.weights, device="cpu")
        _time_stage(stage, frames, masks)
        entry["refined_tile_share"] = round(float(stage.last_coverage), 4)  # type: ignore[attr-defined]
        entry["guided"] = _time_stage(build_head("guided"), frames, masks)
        if res != "3840x2160":
            entry["builtin tracker"] = _time_tracker(frames, masks[0])
        rows[res] = entry
    params = count_parameters(build_head("sam2matting", weights=args.weights, device="cpu").net)  # type: ignore[attr-defined]
    info = {
        "command": "python " + " ".join(sys.argv),
        "torch_threads": torch.get_num_threads(),
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "platform": platform.platform(),
        },
        "parameters": params,
        "weights": _weights_info(args.weights),
        "results": rows,
        "note": "median over frames after 2 warm-up frames; one object; CPU shared with other jobs, so min_ms is the less disturbed figure",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "heads_speed.json").write_text(json.dumps(info, indent=1) + "\n")
    lines = [
        "## Per-frame cost of the learned matting stage (CPU, one object)",
        "",
        f"torch threads {info['torch_threads']}, {info['machine']['processor']}; {params:,} parameters (encoder + bridge + heads + refiner).",
        "",
        "| resolution | stage | median ms | min ms | breakdown (median ms) |",
        "|---|---|---:|---:|---|",
    ]
    notes: list[str] = []
    for res, entry in rows.items():
        lines_note = f"{res}: refiner tiles cover {100 * entry['refined_tile_share']:.1f} % of the frame (last frame)"
        notes.append(lines_note)
        for label in (
            "bridge+heads+refine",
            "bridge+heads+refine, whole frame",
            "bridge+heads (bilinear)",
            "guided",
            "builtin tracker",
        ):
            if label not in entry:
                continue
            r = entry[label]
            parts = ", ".join(
                f"{k[:-10]} {v:.1f}" for k, v in r.items() if k.endswith("_median_ms")
            )
            lines.append(
                f"| {res} | {label} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | {parts} |"
            )
    lines += ["", *notes, "", info["note"] + ".", "", f"Command: `{info['command']}`", ""]
    (RESULTS / "heads_speed.md").write_text("\n".join(lines))
    print("\n".join(lines))


def add_benchmark_arguments(p: argparse.ArgumentParser) -> None:
    """--root, --weights, --frames, --clips (shared with ablations.py)."""
    p.add_argument(
        "--root",
        type=Path,
        default=None,
        help="dev benchmark folder (default ~/.cache/sam2matting/devbench)",
    )
    p.add_argument(
        "--weights", default="default", help="weights of the sam2matting head (default: shipped)"
    )
    p.add_argument(
        "--frames", type=int, default=None, help="score only the first N frames of each clip"
    )
    p.add_argument("--clips", nargs="*", default=None, help="only clips whose names contain these")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("what", choices=["quality", "native", "speed", "all"])
    add_benchmark_arguments(p)
    p.add_argument(
        "--speed-frames", type=int, default=12, help="frames timed per resolution (speed)"
    )
    p.add_argument(
        "--compare-weights",
        default=None,
        help="quality: also score the learned head with these weights (e.g. compact-v1)",
    )
    args = p.parse_args(argv)
    todo = ["quality", "native", "speed"] if args.what == "all" else [args.what]
    for what in todo:
        {"quality": quality, "native": native, "speed": speed}[what](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
